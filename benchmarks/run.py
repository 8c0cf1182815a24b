"""Benchmark constrain against uv and pip side by side, in one command.

    python benchmarks/run.py [--workload NAME]... [--repeat N] [--json out.json] [--quick]

See benchmarks/README.md for what each workload is and how to read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import report, runner, tools as toolmod  # noqa: E402
from harness.workloads import EXCLUDE_NEWER, WORKLOADS, Context  # noqa: E402

STARTUP = "startup"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description="constrain vs uv vs pip, side by side.")
    parser.add_argument(
        "--workload", action="append", choices=[*WORKLOADS, STARTUP], metavar="NAME",
        help=f"run only this workload (repeatable): {', '.join([*WORKLOADS, STARTUP])}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode; the median counts")
    parser.add_argument("--quick", action="store_true", help="one run per mode (--repeat 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write all figures here")
    parser.add_argument("--tool", action="append", choices=toolmod.TOOLS,
                        help="run only this tool (repeatable; default: all three)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds per run for constrain and uv (default 120)")
    parser.add_argument("--pip-timeout", type=float, default=600.0,
                        help="seconds per run for pip (default 600)")
    parser.add_argument("--force", action="store_true",
                        help="run uv and pip even in workloads whose constrain command is not "
                             "built yet")
    parser.add_argument("--refresh-peers", action="store_true",
                        help="recreate the peers venv with the newest pip and uv")
    parser.add_argument("--plain", action="store_true", help="plain text tables, no rich")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # so that the run in progress ends its process tree


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = toolmod.isolated_env()
    index_url = toolmod.default_index_url()
    peers_python = toolmod.ensure_peers(work, env, index_url, args.refresh_peers)
    toolset = toolmod.discover(work, env, peers_python)
    ctx = Context(root=HERE, work=work, index_url=index_url, tools=toolset, env=env)
    chosen_tools = tuple(args.tool or toolmod.TOOLS)
    names = args.workload or [*WORKLOADS, STARTUP]
    timeouts = {"constrain": args.timeout, "uv": args.timeout, "pip": args.pip_timeout}

    for tool, reason in toolset.unavailable.items():
        print(f"{tool}: unavailable ({reason})", file=sys.stderr)
    results = []
    for name in names:
        if name == STARTUP:
            results.append(runner.startup(ctx, chosen_tools, 3 if args.quick else 10))
        else:
            results.append(runner.run_workload(ctx, WORKLOADS[name], chosen_tools, args.repeat,
                                               timeouts, args.force))
    meta = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": toolset.versions,
        "unavailable": toolset.unavailable,
        "constrain_commands": sorted(toolset.constrain_commands),
        "pip_uploaded_prior_to": toolset.pip_has_uploaded_prior_to,
        "index_url": index_url,
        "exclude_newer": EXCLUDE_NEWER,
        "repeat": args.repeat,
        "timeouts_s": timeouts,
    }
    report.print_tables(results, plain=args.plain)
    report.write_json(work.parent / "results" / "last.json", meta, results)
    if args.json:
        report.write_json(args.json, meta, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

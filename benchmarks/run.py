"""Benchmark constrain against uv and pip side by side, in one command.

    python benchmarks/run.py [--workload NAME]... [--repeat N] [--pip-repeat N] [--json out.json]

See benchmarks/README.md for what each workload is and how to read the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import signal
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import report, runner, trash
from harness import tools as toolmod
from harness.workloads import (
    EXCLUDE_NEWER,
    OLD_AIRFLOW,
    OLD_CONSTRAINTS_ENV,
    OLD_REQUIREMENT_ENV,
    WORKLOADS,
    Context,
)

STARTUP = "startup"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py", description="constrain vs uv vs pip, side by side.")
    parser.add_argument(
        "--workload", action="append", choices=[*WORKLOADS, STARTUP], metavar="NAME",
        help=f"run only this workload (repeatable): {', '.join([*WORKLOADS, STARTUP])}")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs per mode for constrain and uv; the median counts (default 5)")
    parser.add_argument("--cold-repeat", type=int, default=None, metavar="N",
                        help="runs of each cold mode (the long, network-bound ones) for "
                             "constrain and uv, fewer or more than --repeat (default: --repeat); "
                             "pip's are at most --pip-repeat")
    parser.add_argument("--pip-repeat", type=int, default=1,
                        help="runs per mode for pip, whose runs are the slow ones (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="one run per mode for every tool (--repeat 1 --pip-repeat 1)")
    parser.add_argument(
        "--old-constraints", type=Path, metavar="PATH",
        default=Path(os.environ[OLD_CONSTRAINTS_ENV]) if os.environ.get(OLD_CONSTRAINTS_ENV)
        else None,
        help=f"workload 2's published Airflow constraint file for Python 3.7 (default: "
             f"${OLD_CONSTRAINTS_ENV}; without one, workload 2 is skipped)")
    parser.add_argument(
        "--old-requirement", metavar="REQ",
        default=os.environ.get(OLD_REQUIREMENT_ENV) or OLD_AIRFLOW,
        help=f"what workload 2 resolves under that file (default: ${OLD_REQUIREMENT_ENV} or "
             f"{OLD_AIRFLOW!r})")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write all figures here")
    parser.add_argument("--tool", action="append", choices=toolmod.TOOLS,
                        help="run only this tool (repeatable; default: all three)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per run for constrain and uv (default 300)")
    parser.add_argument("--pip-timeout", type=float, default=600.0,
                        help="seconds per run for pip (default 600)")
    parser.add_argument("--force", action="store_true",
                        help="run uv and pip even in workloads whose constrain command is not "
                             "built yet")
    parser.add_argument("--refresh-peers", action="store_true",
                        help="recreate the peers venv with the newest pip and uv")
    parser.add_argument("--plain", action="store_true", help="plain text tables, no rich")
    parser.add_argument(
        "--baseline", action="append", default=[], metavar="REF",
        help="also run constrain as of git REF (a commit, branch or tag of this repository), "
             "built into a venv of its own, as the tool 'constrain@REF' (repeatable): "
             "before/after in one run")
    parser.add_argument("--work-dir", type=Path, default=HERE / ".work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = args.pip_repeat = 1
    if args.repeat < 1 or args.pip_repeat < 1 or (args.cold_repeat or 1) < 1:
        parser.error("--repeat, --cold-repeat and --pip-repeat must be at least 1")
    return args


def _load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (other work skews the times)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _file_creation_ms(work: Path, files: int = 1000) -> float | None:
    """Milliseconds to create ``files`` small files (4 KiB, 100 to a directory) in ``work``,
    then removed: a cold install writes about 9,000 files per tool, and on this machine's ext4
    the same creation has cost 0.03 to 0.9 ms a file, by directory and by the hour
    (benchmarks/README.md), which moves every cold figure."""
    probe = work / ".probe"
    shutil.rmtree(probe, ignore_errors=True)
    data = b"x" * 4096
    try:
        start = time.perf_counter()
        for n in range(files):
            if n % 100 == 0:
                folder = probe / f"d{n // 100}"
                folder.mkdir(parents=True)
            (folder / f"f{n}.py").write_bytes(data)
        return round((time.perf_counter() - start) * 1000, 1)
    except OSError:
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _interrupted(signum, frame):
    raise KeyboardInterrupt  # so that the run in progress ends its process tree


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    trash.empty_trash(work)  # left by an interrupted run
    env = toolmod.isolated_env()
    index_url = toolmod.default_index_url()
    peers_python = toolmod.ensure_peers(work, env, index_url, args.refresh_peers)
    toolset = toolmod.discover(work, env, peers_python)
    for ref in args.baseline:
        name, argv = toolmod.build_baseline(HERE, work, ref, env, index_url)
        toolset.baselines[name] = argv
        toolset.versions[name] = ref
    toolmod.precompile(env)
    ctx = Context(root=HERE, work=work, index_url=index_url, tools=toolset, env=env,
                  old_constraints=args.old_constraints.resolve() if args.old_constraints
                  else None, old_requirement=args.old_requirement)
    chosen = set(args.tool or toolmod.TOOLS)
    chosen_tools = tuple(t for t in toolset.names if t in chosen or t in toolset.baselines)
    names = args.workload or [*WORKLOADS, STARTUP]
    timeouts = {"constrain": args.timeout, "uv": args.timeout, "pip": args.pip_timeout}
    repeats = {"constrain": args.repeat, "uv": args.repeat, "pip": args.pip_repeat}

    load_start = _load_average()
    files_start = _file_creation_ms(work)
    print(f"load average (1, 5, 15 min): {load_start}", file=sys.stderr)
    print(f"1,000 files created in the work directory: {files_start} ms", file=sys.stderr)
    for tool, reason in toolset.unavailable.items():
        print(f"{tool}: unavailable ({reason})", file=sys.stderr)
    results = []
    try:
        for name in names:
            if name == STARTUP:
                results.append(runner.startup(ctx, chosen_tools, 3 if args.quick else 10))
            else:
                results.append(runner.run_workload(ctx, WORKLOADS[name], chosen_tools, repeats,
                                                   timeouts, args.force,
                                                   cold_repeat=args.cold_repeat))
    finally:
        trash.empty_trash(work)  # old caches and venvs, set aside during the runs
    meta = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "versions": toolset.versions,
        "unavailable": toolset.unavailable,
        "constrain_commands": sorted(toolset.constrain_commands),
        "pip_uploaded_prior_to": toolset.pip_has_uploaded_prior_to,
        "index_url": index_url,
        "exclude_newer": EXCLUDE_NEWER,
        "repeat": repeats,
        "cold_repeat": args.cold_repeat,
        "baselines": {name: argv for name, argv in toolset.baselines.items()},
        "load_average": {"start": load_start, "end": _load_average()},
        "file_creation_ms": {"start": files_start, "end": _file_creation_ms(work)},
        "old_constraints": str(ctx.old_constraints) if ctx.old_constraints else None,
        "old_requirement": ctx.old_requirement,
        "timeouts_s": timeouts,
    }
    report.print_tables(results, plain=args.plain)
    for line in report.summary_lines(results):
        print(line)
    print(f"load average (1, 5, 15 min): start {load_start}, end {meta['load_average']['end']}")
    print(f"1,000 files created in the work directory (ms): start {files_start}, "
          f"end {meta['file_creation_ms']['end']}")
    report.write_json(work.parent / "results" / "last.json", meta, results)
    if args.json:
        report.write_json(args.json, meta, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line: parse arguments, run one command through ``app``, render results and errors.

This is the only module that prints. Data (a constraints file, a lock, a report) goes to stdout or
``-o FILE``; messages, warnings and progress go to stderr. Heavy imports happen only after
argument parsing so ``constrain --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import __version__

#: Commands beyond ``resolve`` live in ``constrain/commands/<name>.py``. Each module defines
#: ``register(subparsers, add_resolve_options)`` (argparse only: keep it light, --help imports it)
#: and ``run(args, argv, console) -> int``; it prints only through ``console``.
EXTRA_COMMANDS = ("install", "download", "refresh", "policy")

PRERELEASE_CHOICES = ("allow", "if-necessary", "disallow", "if-necessary-or-explicit")
FORMAT_CHOICES = ("constraints", "requirements", "pylock", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: exit 2 with a hint, like other errors
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\nhint: run '{self.prog} --help' for the options\n")
        raise SystemExit(2)


def _add_resolve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("requirements", nargs="*", metavar="REQUIREMENT",
                   help="what to resolve, e.g. 'apache-airflow[postgres]==2.10.5'")
    p.add_argument("-r", "--requirement", dest="requirement_files", action="append", default=[],
                   metavar="FILE", help="read requirements from a file (pip format)")
    p.add_argument("-c", "--constraint", dest="constraint_files", action="append", default=[],
                   metavar="FILE_OR_URL", help="constrain versions with a constraints file or URL")
    tgt = p.add_argument_group("target")
    tgt.add_argument("--python", metavar="X.Y[.Z]",
                     help="target Python version (default: the running interpreter)")
    tgt.add_argument("--platform", dest="platforms", action="append", default=[], metavar="TAG",
                     help="target wheel platform tag, e.g. manylinux_2_28_x86_64, "
                     "macosx_11_0_arm64, win_amd64 (repeatable)")
    pol = p.add_argument_group("policies")
    pol.add_argument("--exclude-newer", metavar="DATE",
                     help="ignore files uploaded after DATE (YYYY-MM-DD or RFC 3339 timestamp)")
    pol.add_argument("--prerelease", choices=PRERELEASE_CHOICES,
                     default="if-necessary-or-explicit",
                     help="when pre-releases may be chosen (default: only when a requirement "
                     "names one, or when nothing else matches)")
    pol.add_argument("--no-build", action="store_true",
                     help="never run a build backend to learn an sdist's metadata")
    pol.add_argument("--only-binary", action="store_true", help="never use sdists")
    bld = p.add_argument_group("builds of sdists")
    bld.add_argument("--build-constraint", dest="build_constraints", action="append",
                     default=[], metavar="FILE",
                     help="constrain the build requirements of sdists with this file (the "
                     "projects it names are exempt from the cut-off); repeatable")
    bld.add_argument("--build-exclude-newer-exempt", dest="build_exclude_newer_exempt",
                     action="append", default=[], metavar="PROJECT",
                     help="let this build requirement be newer than the cut-off "
                     "(--exclude-newer, a reconstruction's date); ':all:' for every one; "
                     "repeatable")
    pol.add_argument("--policies", dest="policies", action="append", default=None,
                     metavar="FILE", help="upper-bound policy TOML file ('airflow': the packaged "
                     "Airflow bounds); repeatable")
    pol.add_argument("--policy-reference", metavar="FILE",
                     help="constraints file whose pins are the reference for minor/major bounds "
                     "(read, not enforced; default: the pins of the constraints in force)")
    pol.add_argument("--override", dest="overrides", action="append", default=None,
                     metavar="PACKAGE=SOURCE[:LINE]", help="when constraint sources pin PACKAGE "
                     "differently, SOURCE (a -c file or 'airflow') wins; reported")
    af = p.add_argument_group("Airflow constraints (also CONSTRAIN_AIRFLOW_CONSTRAINTS* and "
                              "constrain.toml)")
    af.add_argument("--airflow-constraints", choices=("auto", "published", "reconstructed", "off"),
                    default=None, help="constraints for a pinned apache-airflow==X.Y.Z: auto "
                    "(default: published when reachable or cached, else reconstructed; only "
                    "without -c), published, reconstructed or off")
    af.add_argument("--airflow-constraints-mode", metavar="MODE",
                    help="constraints (default), constraints-no-providers or "
                    "constraints-source-providers")
    af.add_argument("--airflow-constraints-ref", metavar="REF",
                    help="the ref to read (default: constraints-<pinned version>)")
    af.add_argument("--airflow-constraints-url", metavar="TEMPLATE",
                    help="location template with {ref}, {mode}, {python} (forks, mirrors)")
    idx = p.add_argument_group("indexes (default: pip's configuration)")
    idx.add_argument("--index-url", "-i", metavar="URL", help="the index searched first")
    idx.add_argument("--extra-index-url", dest="extra_index_urls", action="append", default=None,
                     metavar="URL", help="further indexes, searched in order after --index-url")
    idx.add_argument("--find-links", "-f", dest="find_links", action="append", default=None,
                     metavar="PATH_OR_URL", help="directories or pages of files to consider too")
    idx.add_argument("--no-index", action="store_true",
                     help="use no index, only --find-links locations")
    cache = p.add_argument_group("cache and network")
    cache.add_argument("--offline", action="store_true",
                       help="make no network request; use only what is cached")
    cache.add_argument("--refresh", action="store_true",
                       help="revalidate cached index pages with the index")
    cache.add_argument("--cache-dir", metavar="DIR",
                       help="cache location (default: $CONSTRAIN_CACHE_DIR or the user cache)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="constrain",
        description="Resolve, install and download dependency sets fast, under constraints "
        "and upper-bound policies. Built for large projects such as Apache Airflow.",
    )
    parser.add_argument("--version", action="version", version=f"constrain {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    res = sub.add_parser("resolve", help="resolve requirements to pinned versions for a target",
                         description="Resolve requirements to one version of every needed "
                         "project, for a target Python and platform, and write the result.")
    _add_resolve_options(res)
    out = res.add_argument_group("output")
    out.add_argument("--format", choices=FORMAT_CHOICES, default="constraints",
                     help="constraints (default), requirements with hashes, pylock "
                     "(PEP 751 pylock.toml) or json (pip --report shape)")
    out.add_argument("--annotate", action="store_true",
                     help="say under each pin which requirements pulled it in")
    out.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    res.set_defaults(_run=_run_resolve)

    import importlib

    for name in EXTRA_COMMANDS:
        try:
            module = importlib.import_module(f"constrain.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"constrain.commands.{name}" or exc.name == "constrain.commands":
                continue  # not built yet
            raise
        module.register(sub, _add_resolve_options)
    for command_parser in sub.choices.values():  # -q/-v also after the command name
        for flags, dest in ((("-q", "--quiet"), "quiet"), (("-v", "--verbose"), "verbose")):
            try:
                command_parser.add_argument(*flags, dest=dest, action="store_true",
                                            default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            except argparse.ArgumentError:
                pass  # the command defines it itself
    return parser


def entry() -> None:
    """The ``constrain`` command (console script and ``python -m constrain``): :func:`main`,
    then a quick exit. Exit handlers run (``atexit``: temporary directories, worker pools)
    and the standard streams are flushed, but the interpreter does not tear down every
    object a large resolve left behind one by one (0.15-0.25 s after a cold Airflow install,
    for nothing)."""
    import atexit

    code = main()
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 -- what interpreter exit would run first
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 1)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    from .errors import ConstrainError

    console = _Console(quiet=args.quiet, verbose=args.verbose)
    try:
        run = getattr(args, "_run", None)
        if run is not None:
            return run(args, args_list, console)
    except ConstrainError as exc:
        console.error(exc.render())
        return exc.exit_code
    except KeyboardInterrupt:
        console.error(["error: interrupted; nothing was written"])
        return 130
    except Exception as exc:  # noqa: BLE001 -- a bug: say so plainly, details with -v
        if args.verbose:
            import traceback

            console.error(traceback.format_exc().rstrip().splitlines())
        console.error([
            f"error: internal error: {type(exc).__name__}: {exc}",
            "hint: this is a bug in constrain; rerun with -v to see where, and report it",
        ])
        return 70
    finally:
        console.close()
    parser.error(f"unknown command {args.command!r}")
    return 2


def _run_resolve(args: argparse.Namespace, argv: list[str], console: _Console) -> int:
    from . import app

    if not args.requirements and not args.requirement_files:
        from .errors import UsageError

        raise UsageError("nothing to resolve",
                         hint="name requirements, e.g. constrain resolve 'flask>=3', or use -r FILE")
    result = app.resolve_command(app.ResolveRequest.from_args(args, argv),
                                 reporter=console.reporter)
    if args.output:
        console.info(f"wrote {len(result.install_set.pins)} pins to {args.output}")
    else:
        console.out(result.text)
    write_stats(result.stats)
    return 0


def write_stats(stats: dict) -> None:
    """``CONSTRAIN_STATS_FILE=path`` receives the run's work counters (for benchmarks)."""
    path = os.environ.get("CONSTRAIN_STATS_FILE")
    if path:
        import json

        with open(path, "w", encoding="utf-8") as fh:
            json.dump(stats, fh, indent=2, sort_keys=True)


class _Console:
    """stderr output: errors always, warnings unless quiet, progress on a terminal only."""

    def __init__(self, *, quiet: bool, verbose: bool) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.reporter = _CliReporter(self)

    def _emit(self, lines: list[str]) -> None:
        sys.stderr.write("\n".join(lines) + "\n")
        sys.stderr.flush()

    def error(self, lines: list[str]) -> None:
        self._emit(lines)

    def out(self, text: str) -> None:
        """Data for stdout (a constraints file, a report)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def warning(self, message: str) -> None:
        if not self.quiet:
            self._emit([f"warning: {message}"])

    def info(self, message: str) -> None:
        if self.verbose or (not self.quiet and not sys.stderr.isatty()):
            self._emit([message])

    def close(self) -> None:
        self.reporter.close()


def _make_reporter_base():
    from .reporting import Reporter

    return Reporter


class _CliReporter(_make_reporter_base()):  # type: ignore[misc]
    """Turns core progress into stderr lines (and a live status on a terminal)."""

    def __init__(self, console: _Console) -> None:
        self.console = console
        self._seen: set[str] = set()

    def warning(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self.console.warning(message)

    def info(self, message: str) -> None:
        if self.console.verbose:
            self.console._emit([message])

    def close(self) -> None:
        pass


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

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
EXTRA_COMMANDS = ("install", "download", "refresh", "policy", "audit", "cache")

PRERELEASE_CHOICES = ("allow", "if-necessary", "disallow", "if-necessary-or-explicit")
FORMAT_CHOICES = ("constraints", "requirements", "pylock", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors: exit 2 with a hint, like other errors
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\nhint: run '{self.prog} --help' for the options\n")
        raise SystemExit(2)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, and the namespace remembers the innermost (sub)command parser that
        read it (``_parser``), so that what none of them knows is reported with the usage of
        the command it was given to, not the top-level one."""
        ns, extra = super().parse_known_args(args, namespace)
        if not hasattr(ns, "_parser"):  # a subcommand's parser finished first and set it
            ns._parser = self
        return ns, extra


def _add_resolve_options(p: argparse.ArgumentParser, *, target: bool = True) -> None:
    """The options of every resolve-style command. ``target=False`` (install, which resolves
    for its environment's interpreter) keeps ``--python``/``--platform`` out of the help; they
    are still read so that the command can refuse them with a hint."""
    p.add_argument("requirements", nargs="*", metavar="REQUIREMENT",
                   help="what to resolve, e.g. 'apache-airflow[postgres]==2.10.5'")
    p.add_argument("-r", "--requirement", dest="requirement_files", action="append", default=[],
                   metavar="FILE", help="read requirements from a file (pip format)")
    p.add_argument("-c", "--constraint", dest="constraint_files", action="append", default=[],
                   metavar="FILE_OR_URL", help="constrain versions with a constraints file or URL")
    tgt = p.add_argument_group("target") if target else p
    tgt.add_argument("--python", metavar="X.Y[.Z]",
                     help="target Python version (default: the running interpreter)"
                     if target else argparse.SUPPRESS)
    tgt.add_argument("--platform", dest="platforms", action="append", default=[], metavar="TAG",
                     help="target wheel platform tag, e.g. manylinux_2_28_x86_64, "
                     "macosx_11_0_arm64, win_amd64 (repeatable)" if target else argparse.SUPPRESS)
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
    cache.add_argument("--cache-dir", metavar="DIR", type=os.path.expanduser,
                       help="cache location (default: $CONSTRAIN_CACHE_DIR or the user cache)")
    cache.add_argument("--timeout", metavar="SECONDS", type=float, default=None,
                       help="give up on a connection or a stalled answer after this long "
                       "(default: $CONSTRAIN_TIMEOUT, constrain.toml, pip's timeout)")
    cache.add_argument("--deadline", metavar="SECONDS", type=float, default=None,
                       help="give up on one page or file after this long in all, retries "
                       "included; 0: never (default: $CONSTRAIN_DEADLINE, constrain.toml, 1800)")


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
    for nothing). SIGINT and SIGTERM are handled as :class:`_Interrupts` says."""
    import atexit

    interrupts = _Interrupts()
    interrupts.install()
    code = main(interrupts=interrupts)
    interrupts.finished(code)
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 -- what interpreter exit would run first
    finally:
        from .processes import kill_descendants

        kill_descendants()  # a build still running for a prefetch nobody waits for
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 1)


def main(argv: Sequence[str] | None = None, *, interrupts: _Interrupts | None = None) -> int:
    """Run one command; its exit code. ``interrupts`` (from :func:`entry`) turns a Ctrl-C
    into one line saying what was and was not done."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, unknown = parser.parse_known_args(args_list)
    if unknown:
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    from .errors import ConstrainError

    console = _Console(quiet=args.quiet, verbose=args.verbose)
    if interrupts is not None:
        interrupts.attach(console, args)
    try:
        run = getattr(args, "_run", None)
        if run is not None:
            return run(args, args_list, console)
    except ConstrainError as exc:
        if interrupts is not None and interrupts.signalled:  # a failure of the clean-up
            return interrupts.report()
        console.error(exc.render())
        return exc.exit_code
    except KeyboardInterrupt:
        if interrupts is None:
            console.error([interrupted_line(args, console.reporter)])
            return 130
        return interrupts.report()
    except Exception as exc:  # noqa: BLE001 -- a bug: say so plainly, details with -v
        if interrupts is not None and interrupts.signalled:  # a failure of the clean-up
            return interrupts.report()
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
    console.reporter.show_status("resolving")
    result = app.resolve_command(app.ResolveRequest.from_args(args, argv),
                                 reporter=console.reporter)
    console.reporter.close()  # the progress line goes before anything else is printed
    if args.output:
        console.summary(written_line(result.install_set, args.output))
    else:
        console.out(result.text)
    emit_moves(console, [result.install_set])
    write_stats(result.stats)
    return 0


def written_line(install_set, where: str) -> str:
    """The one line a command ends with after writing a file: how many pins, where, for which
    target, and which Airflow constraints (for a reconstruction: as of which date, and why)."""
    n = len(install_set.pins)
    line = f"wrote {n} pin{'s' if n != 1 else ''} to {where} for {install_set.target.describe()}"
    if install_set.airflow:
        line += f"; Airflow's constraints: {install_set.airflow}"
    return line


def emit_moves(console, install_sets) -> None:
    """On stderr (unless quiet), every package a reconstruction moved past the release date,
    per target: the summary resolve, install, download and refresh end with."""
    if console.quiet:
        return
    for install_set in install_sets:
        if install_set.moved:
            console._emit(moved_lines(install_set))


def moved_lines(install_set) -> list[str]:
    """The summary of what a reconstruction of Airflow's constraints moved past the release
    date (from, to, when, why), for stderr."""
    moves = install_set.moved
    noun = "package" if len(moves) == 1 else "packages"
    return [f"reconstruction for Python {install_set.target.python_short}: {len(moves)} {noun} "
            "moved past the release date (everything else is as of the release):",
            *(f"  {m.line()}" for m in moves)]


def write_stats(stats: dict) -> None:
    """``CONSTRAIN_STATS_FILE=path`` receives the run's work counters (for benchmarks)."""
    path = os.environ.get("CONSTRAIN_STATS_FILE")
    if path:
        import json

        with open(path, "w", encoding="utf-8") as fh:
            json.dump(stats, fh, indent=2, sort_keys=True)


#: seconds an interrupted command has to clean up before it is ended outright
INTERRUPT_GRACE = 2.0


class _Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM, for the ``constrain`` command.

    The first signal raises ``KeyboardInterrupt`` in the main thread, so the command's own
    clean-up runs (temporary files removed, locks released, a half-done install journalled
    for the next run), and :func:`main` prints one line, :func:`interrupted_line`. Threads
    still busy (a download, a page parse) are not waited for: if the command has not ended
    :data:`INTERRUPT_GRACE` seconds later, or at a second signal, the line is printed and the
    process ends at once. Either way helper processes are killed first, and the exit code is
    128 + the signal (130 for SIGINT, 143 for SIGTERM). Whatever is on disk then was published
    whole by a rename (outputs, cache entries, wheelhouse files) or is rolled back by the next
    install (its journal)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.signalled = 0  # the first signal's number
        self._count = 0
        self._reported = False
        self._done = False
        self._console: _Console | None = None
        self._args: argparse.Namespace | None = None

    def install(self) -> None:
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(signum, self._handle)
            except (ValueError, OSError):  # not the main thread, or not allowed here
                pass

    def attach(self, console: _Console, args: argparse.Namespace) -> None:
        self._console, self._args = console, args

    def finished(self, code: int) -> None:
        """The command is over: a signal from now on ends the process at once, quietly
        (exit handlers are running)."""
        with self._lock:
            self._done = True

    @property
    def code(self) -> int:
        return 128 + self.signalled if self.signalled else 130

    def report(self) -> int:
        """Print the interrupted line (once); the exit code."""
        with self._lock:
            first, self._reported = not self._reported, True
        if first:
            line = interrupted_line(self._args, self._console.reporter if self._console else None)
            try:
                if self._console is not None:
                    self._console.close()
                if sys.stderr.isatty():
                    sys.stderr.write("\x1b[?25h")  # the cursor a progress bar may have hidden
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
        return self.code

    def _handle(self, signum: int, frame: object) -> None:
        import threading

        with self._lock:
            self._count += 1
            first = self._count == 1
            if first:
                self.signalled = signum
            done = self._done
        if done:
            self._exit_now(report=False)
        if not first:
            self._exit_now(report=True)
        # threads failing now fail because of the interrupt (a wait the main thread's
        # clean-up cut short): their tracebacks would bury the one line that matters
        threading.excepthook = lambda args: None
        threading.Thread(target=self._deadline, name="constrain-interrupt", daemon=True).start()
        raise KeyboardInterrupt

    def _deadline(self) -> None:
        import time

        time.sleep(INTERRUPT_GRACE)
        self._exit_now(report=True)

    def _exit_now(self, *, report: bool) -> None:
        code = self.report() if report else self.code
        try:
            from .processes import kill_descendants, stop_all

            stop_all()
            kill_descendants()
        finally:
            os._exit(code)


def interrupted_line(args: argparse.Namespace | None, reporter: object) -> str:
    """The one line an interrupted command ends with: what was and was not done."""
    command = getattr(args, "command", None)
    tasks = getattr(reporter, "tasks", {})

    def count(task: str) -> tuple[int, int | None] | None:
        return tasks.get(task)

    if command == "install":
        installed = count("install")
        if installed is not None:
            done, total = installed
            return (f"interrupted: {done} of {total} distributions were installed, the others "
                    "were not; the next install rolls back the one under way and finishes")
        return ("interrupted: the environment was not changed (files fetched so far stay in "
                "the cache)")
    if command == "download":
        files = count("files")
        dest = getattr(args, "dest", None) or "the wheelhouse"
        if files is not None:
            done, total = files
            return (f"interrupted: {done} of {total} files were downloaded into {dest}, the "
                    "others were not; a rerun downloads only what is missing")
        return f"interrupted: nothing was written to {dest}"
    if command == "refresh":
        return ("interrupted: no constraints file was half-written; files not yet written "
                "were left as they were")
    if command == "cache":
        return ("interrupted: each cache entry removed so far went whole, the others stay; "
                "a rerun goes on")
    output = getattr(args, "output", None)
    if command == "resolve":
        written = f"{output} was not written" if output else "no pins were printed"
        return f"interrupted: the resolve was stopped; {written}"
    return "interrupted: the command was stopped; nothing was written"


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

    def summary(self, message: str) -> None:
        """The line a command ends with, on a terminal too (not with -q)."""
        if not self.quiet:
            self._emit([message])

    def close(self) -> None:
        self.reporter.close()


def _make_reporter_base():
    from .reporting import Reporter

    return Reporter


class _CliReporter(_make_reporter_base()):  # type: ignore[misc]
    """Turns core progress into stderr lines (and a live status on a terminal)."""

    def __init__(self, console: _Console) -> None:
        import threading

        self.console = console
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        #: task -> (done, total) of every countable task begun (for the interrupted line)
        self.tasks: dict[str, tuple[int, int | None]] = {}
        self._status = None  # rich's transient status line, while one is shown

    def show_status(self, doing: str) -> None:
        """On a terminal (not with -q), one transient line on stderr until :meth:`close`:
        ``doing`` and the index pages and metadata files fetched and the pins chosen so far.
        Nothing in a pipe. Lines printed meanwhile (warnings) appear above it."""
        if self.console.quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.status import Status

        reporter = self

        class _Counts:  # rendered at each refresh, so counting stays a dict update
            def __rich__(self) -> str:
                def n(task: str, noun: str) -> str:
                    count = reporter.tasks.get(task, (0, None))[0]
                    return f"{count} {noun}{'s' if count != 1 else ''}"

                return (f"{doing}: {n('pages', 'index page')}, "
                        f"{n('metadata', 'metadata file')}, {n('resolve', 'pin')}")

        self._status = Status(_Counts(), console=Console(file=sys.stderr), spinner="dots")
        self._status.start()

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            self.tasks[task] = (0, total)

    def advance(self, task: str, amount: int = 1) -> None:
        with self._lock:
            done, total = self.tasks.get(task, (0, None))
            self.tasks[task] = (done + amount, total)

    def warning(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self.console.warning(message)

    def info(self, message: str) -> None:
        if self.console.verbose:
            self.console._emit([message])

    def close(self) -> None:
        status, self._status = self._status, None
        if status is not None:
            status.stop()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

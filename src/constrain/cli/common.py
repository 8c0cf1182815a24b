"""What every command of the CLI shares: the resolve options, the stderr console and its reporter,
the moves summary and the stats file.

Only ``cli`` prints: data (a constraints file, a report) goes to stdout through
:meth:`Console.out`, messages, warnings and progress to stderr. Argument parsing stays light
(argparse only) so ``constrain --help`` is fast; the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..reporting import Reporter

TYPE_CHECKING = False  # typing's, without importing typing (see cli/__init__.py)
if TYPE_CHECKING:
    from rich.live import Live

    from ..app.requests import ResolveRequest


def _columns() -> int:
    """The terminal's width as ``shutil.get_terminal_size`` finds it (``$COLUMNS``, then
    stdout's terminal, else 80), without importing :mod:`shutil`: argparse imports it for this
    alone in every parser it builds, and it brings bz2, lzma and fnmatch, a fixed cost of
    every command (``--help``, a remembered resolve) that needs none of them."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, its width found by :func:`_columns` (argparse's own rule:
    the terminal's width less 2)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _columns() - 2 if width is None else width)


PRERELEASE_CHOICES = ("allow", "if-necessary", "disallow", "if-necessary-or-explicit")
FORMAT_CHOICES = ("constraints", "requirements", "pylock", "json")


def add_resolve_options(p: argparse.ArgumentParser, *, target: bool = True) -> None:
    """The options every resolving command takes (requirements, target, policies, indexes,
    cache and network). ``target=False`` (install, which resolves for its environment's
    interpreter) keeps ``--python``/``--platform`` out of the help; they are still read so
    that the command can refuse them with a hint."""
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
                     help="never run a build backend: not to learn an sdist's metadata, "
                     "nor (install) to build its wheel; a wheel built earlier is used")
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


def resolve_request(args: argparse.Namespace, argv: Sequence[str]) -> ResolveRequest:
    """The :class:`~constrain.app.requests.ResolveRequest` of parsed resolve options
    (``argv``, credentials redacted, is the command line headers record)."""
    from ..app.requests import ResolveRequest, command_line

    return ResolveRequest(
        requirements=tuple(args.requirements),
        requirement_files=tuple(args.requirement_files),
        constraint_files=tuple(args.constraint_files),
        python=args.python,
        platforms=tuple(args.platforms),
        exclude_newer=args.exclude_newer,
        prerelease=args.prerelease,
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_urls)
        if args.extra_index_urls is not None
        else None,
        find_links=tuple(args.find_links) if args.find_links is not None else None,
        no_index=args.no_index,
        offline=args.offline,
        refresh=args.refresh,
        cache_dir=args.cache_dir,
        timeout=getattr(args, "timeout", None),
        deadline=getattr(args, "deadline", None),
        no_build=args.no_build,
        only_binary=args.only_binary,
        format=getattr(args, "format", "constraints"),
        annotate=getattr(args, "annotate", False),
        output=getattr(args, "output", None),
        command=command_line(argv),
        airflow_constraints=getattr(args, "airflow_constraints", None),
        airflow_constraints_mode=getattr(args, "airflow_constraints_mode", None),
        airflow_constraints_ref=getattr(args, "airflow_constraints_ref", None),
        airflow_constraints_url=getattr(args, "airflow_constraints_url", None),
        policies=tuple(getattr(args, "policies", None) or ()),
        policy_reference=getattr(args, "policy_reference", None),
        overrides=tuple(getattr(args, "overrides", None) or ()),
        build_constraints=tuple(getattr(args, "build_constraints", None) or ()),
        build_exclude_newer_exempt=tuple(
            getattr(args, "build_exclude_newer_exempt", None) or ()),
    )


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
            console._emit(moved_lines(install_set))  # noqa: SLF001 -- the CLI's own


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


def open_stdout():
    """``sys.stdout``, or an :class:`~constrain.errors.OutputError` when the command was
    started with it closed (``>&-``): a command asks before its work, not after."""
    if sys.stdout is None:
        from ..errors import OutputError

        raise OutputError("cannot write the result to stdout: it is closed",
                          hint="give -o FILE, or run the command with stdout open")
    return sys.stdout


def stdout_is_terminal() -> bool:
    """Is stdout open and a terminal (tables for people, plain text for pipes)?"""
    return sys.stdout is not None and sys.stdout.isatty()


class Console:
    """stderr output: errors always, warnings unless quiet, progress on a terminal only."""

    def __init__(self, *, quiet: bool, verbose: bool) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.reporter = CliReporter(self)
        self._stderr_gone = False

    def _emit(self, lines: list[str]) -> None:
        """Lines on stderr. When their reader has gone (``constrain install ... 2>&1 | head``)
        they have nowhere to go, and the command carries on without them: an install does
        not stop halfway, nor end in an error, because nobody reads its progress."""
        if self._stderr_gone or not lines:
            return
        try:
            sys.stderr.write("\n".join(lines) + "\n")
            sys.stderr.flush()
        except BrokenPipeError:
            self._stderr_gone = True

    def error(self, lines: list[str]) -> None:
        self._emit(lines)

    def out(self, text: str) -> None:
        """Data for stdout (a constraints file, a report). A reader that went away (``|
        head -1``) ends the command quietly (:class:`~constrain.errors.OutputGone`); a stdout
        that is closed or cannot take the text (a full disk) is an error saying so."""
        from ..errors import OutputError, OutputGone

        stream = open_stdout()
        try:
            try:
                fd = stream.fileno()
            except (OSError, ValueError, AttributeError):  # not a file (a test's capture)
                stream.write(text)
                stream.flush()
            else:  # the bytes to the descriptor, to the last one: io's buffered writer
                stream.flush()  # takes a short write to a pipe whose reader left as done
                data = memoryview(text.encode(stream.encoding or "utf-8",
                                              stream.errors or "strict"))
                while data:
                    data = data[os.write(fd, data):]
        except BrokenPipeError:
            raise OutputGone from None
        except OSError as exc:
            raise OutputError(f"cannot write the result to stdout: {exc.strerror or exc}",
                              hint="give -o FILE, or check where stdout goes") from None

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


#: the tasks the status line counts; the first step of one of them puts the line up
STATUS_TASKS = frozenset({"pages", "metadata", "resolve"})


class CliReporter(Reporter):
    """Turns core progress into stderr lines (and a live status on a terminal)."""

    def __init__(self, console: Console) -> None:
        import threading

        self.console = console
        self._seen: set[str] = set()
        # reentrant: an interrupt's handler runs in the main thread, maybe inside advance(),
        # and closes the status line
        self._lock = threading.RLock()
        #: task -> (done, total) of every countable task begun (for the interrupted line)
        self.tasks: dict[str, tuple[int, int | None]] = {}
        self._doing: str | None = None  # the status line asked for and not yet shown
        self._status: Live | None = None  # rich's transient status line, while one is shown

    def show_status(self, doing: str) -> None:
        """On a terminal (not with -q), one transient line on stderr until :meth:`close`:
        ``doing`` and the index pages and metadata files fetched and the pins chosen so far.
        Nothing in a pipe. Lines printed on stderr meanwhile (warnings) appear above it;
        stdout is left alone (data written there never goes through the display).

        The line goes up with the first page, metadata file or resolve (:data:`STATUS_TASKS`):
        a command that has none of them to count (a remembered resolve) shows none, and does
        not load the display (rich) at all."""
        if self.console.quiet or not sys.stderr.isatty():
            return
        with self._lock:
            if self._status is None:
                self._doing = doing

    def _show(self) -> None:
        """Put the status line up (``self._lock`` held; :meth:`show_status` asked for it)."""
        from rich.console import Console
        from rich.live import Live
        from rich.spinner import Spinner

        reporter, doing, self._doing = self, self._doing, None

        class _Counts:  # rendered at each refresh, so counting stays a dict update
            def __rich__(self) -> str:
                def n(task: str, noun: str) -> str:
                    count = reporter.tasks.get(task, (0, None))[0]
                    return f"{count} {noun}{'s' if count != 1 else ''}"

                return (f"{doing}: {n('pages', 'index page')}, "
                        f"{n('metadata', 'metadata file')}, {n('resolve', 'pin')}")

        self._status = Live(Spinner("dots", text=_Counts(), style="green"),
                            console=Console(file=sys.stderr), transient=True,
                            redirect_stdout=False, refresh_per_second=12.5)
        self._status.start()

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        with self._lock:
            self.tasks[task] = (0, total)
            if self._doing is not None and task in STATUS_TASKS:
                self._show()

    def advance(self, task: str, amount: int = 1) -> None:
        with self._lock:
            done, total = self.tasks.get(task, (0, None))
            self.tasks[task] = (done + amount, total)
            if self._doing is not None and task in STATUS_TASKS:
                self._show()

    def warning(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self.console.warning(message)

    def info(self, message: str) -> None:
        if self.console.verbose:
            self.console._emit([message])  # noqa: SLF001 -- the CLI's own

    def close(self) -> None:
        with self._lock:
            self._doing = None
            status, self._status = self._status, None
        if status is not None:
            status.stop()

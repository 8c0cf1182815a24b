"""The command line: assemble the parser, run one command, render errors, handle Ctrl-C and SIGTERM.

``cli`` is the only package that prints. Each command has its module here (:mod:`.resolve`,
:mod:`.install`, :mod:`.download`, :mod:`.refresh`, :mod:`.policy`,
:mod:`.audit`, :mod:`.cache`) with ``register(subparsers)``
(argparse only: ``--help`` imports it) and ``run(args, argv, console) -> int``, which turns the
parsed options into a request, calls its pipeline in ``app`` and prints the result through the
:class:`~.common.Console`. Data goes to stdout or ``-o FILE``; messages, warnings and progress go
to stderr. Heavy imports happen only after argument parsing so ``constrain --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .. import __version__
from .common import HelpFormatter

#: ``typing.TYPE_CHECKING`` without importing :mod:`typing` (a few ms that ``constrain --help``
#: would pay for nothing; the modules of ``cli`` that ``--help`` imports do the same): type
#: checkers take any ``TYPE_CHECKING`` as true
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import NoReturn

    from .common import Console


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)  # subcommands' parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # usage errors: exit 2 with a hint, like other errors
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\nhint: run '{self.prog} --help' for the options\n")
        raise SystemExit(2)

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        """As argparse's, and the namespace remembers the innermost (sub)command parser that
        read it (``command_parser``), so that what none of them knows is reported with the
        usage of the command it was given to, not the top-level one.

        A command's own parser (one with no actions below it) reads its positionals wherever
        they stand, as pip and uv do: ``resolve six --python 3.11 attrs`` names two
        requirements (argparse alone takes only the first run of positionals)."""
        ns, extra = super().parse_known_args(args, namespace)
        if (self._subparsers is None and not self._intermixing and namespace is None
                and any(not word.startswith("-") for word in extra)):
            self._intermixing = True  # argparse's intermixed parsing calls this method again
            try:  # (only then: it parses twice, a quarter of a millisecond more)
                ns, extra = self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False
        if not hasattr(ns, "command_parser"):  # a subcommand's parser finished first
            ns.command_parser = self
        return ns, extra

#: the commands, in ``constrain --help`` order (each a module here)
COMMANDS = ("resolve", "install", "download", "refresh", "policy", "audit", "cache")


def command_named(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word after the top-level flags), or ``None``
    (none, ``--help``/``--version`` first, or a word that is no command)."""
    for word in argv:
        if word in ("-q", "--quiet", "-v", "--verbose"):
            continue
        return word if word in COMMANDS else None
    return None


def asks_top_help(argv: Sequence[str]) -> bool:
    """Does ``argv`` ask for the top-level help (``-h``/``--help`` before any command)?"""
    for word in argv:
        if word in ("-q", "--quiet", "-v", "--verbose"):
            continue
        return word in ("-h", "--help")
    return False


def build_parser(only: str | None = None, *, options: bool = True) -> argparse.ArgumentParser:
    """The whole parser; with ``only`` (a command the argv names), that command alone, with
    its options: the others would parse nothing, and importing their modules and building
    their parsers costs more than the rest of a remembered resolve's argument handling.
    ``options=False``: no command gets its options (the top-level ``--help`` shows only
    their names and help lines)."""
    parser = _Parser(
        prog="constrain",
        description="Resolve, install and download dependency sets fast, under constraints "
        "and upper-bound policies. Built for large projects such as Apache Airflow.",
    )
    parser.add_argument("--version", action="version", version=f"constrain {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # with ``only``, the one command argv names: only its module is imported
    for name in (only,) if options and only is not None else COMMANDS:
        module = _command_module(name)
        if options:
            module.register(sub)
        else:
            sub.add_parser(name, help=module.HELP)
    for command_parser in sub.choices.values():  # -q/-v also after the command name
        for flags, dest in ((("-q", "--quiet"), "quiet"), (("-v", "--verbose"), "verbose")):
            try:
                command_parser.add_argument(*flags, dest=dest, action="store_true",
                                            default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            except argparse.ArgumentError:
                pass  # the command defines it itself
    return parser


def _command_module(name: str) -> ModuleType:
    """The module of command ``name`` (one of :data:`COMMANDS`), and no other command's."""
    if name == "resolve":
        from . import resolve
        return resolve
    if name == "install":
        from . import install
        return install
    if name == "download":
        from . import download
        return download
    if name == "refresh":
        from . import refresh
        return refresh
    if name == "policy":
        from . import policy
        return policy
    if name == "audit":
        from . import audit
        return audit
    if name == "cache":
        from . import cache
        return cache
    raise ValueError(f"no command {name!r}")


def entry() -> None:
    """The ``constrain`` command (console script and ``python -m constrain``): :func:`main`,
    then a quick exit. Exit handlers run (``atexit``: temporary directories, worker pools)
    and the standard streams are flushed, but the interpreter does not tear down every
    object a large resolve left behind one by one (a measurable pause, for nothing). SIGINT and SIGTERM are handled as :class:`_Interrupts` says."""
    import atexit

    interrupts = _Interrupts()
    interrupts.install()
    code = main(interrupts=interrupts)
    interrupts.finished(code)
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 -- what interpreter exit would run first
    finally:
        from ..processes import kill_descendants, remove_scratch

        kill_descendants()  # a build still running for a prefetch nobody waits for
        remove_scratch()  # and the directory it built in
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:  # None: closed when the command started
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 1)


def main(argv: Sequence[str] | None = None, *, interrupts: _Interrupts | None = None) -> int:
    """Run one command; its exit code. ``interrupts`` (from :func:`entry`) turns a Ctrl-C
    into one line saying what was and was not done."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere, the
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 -- command runs as it would
    parser = build_parser(only=command_named(args_list), options=not asks_top_help(args_list))
    args, unknown = parser.parse_known_args(args_list)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2

    from ..heap import long_lived

    with long_lived():  # dataclasses, typing, inspect
        from ..errors import ConstrainError
    from .common import Console

    console = Console(quiet=args.quiet, verbose=args.verbose)
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
        self._console: Console | None = None
        self._args: argparse.Namespace | None = None

    def install(self) -> None:
        """Handle SIGINT and SIGTERM, except one the process was started with ignored
        (``nohup``, ``cmd &`` in a non-interactive shell): that one stays ignored, as Python
        itself leaves an ignored SIGINT and as shells leave a signal ignored on entry."""
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue
                signal.signal(signum, self._handle)
            except (ValueError, OSError):  # not the main thread, or not allowed here
                pass

    def attach(self, console: Console, args: argparse.Namespace) -> None:
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
        try:  # the clean-up first: the line says what is left (a new venv removed by it)
            from ..processes import kill_descendants, remove_scratch, stop_all

            stop_all()
            kill_descendants()
            remove_scratch()
        finally:
            os._exit(self.report() if report else self.code)


def _install_interrupted(args: argparse.Namespace | None,
                         installed: tuple[int, int | None] | None,
                         removed: tuple[int, int | None] | None = None) -> str:
    """The interrupted line of ``constrain install``. ``installed`` and ``removed`` are the
    link step's progress: installs and removals finished of all planned (none is started
    after the interrupt and the ones under way finish, unless the grace time ends the process
    first: their journals roll them back at the next install)."""
    venv = getattr(args, "venv", None)
    if venv and not os.path.exists(venv):  # a venv this run created was removed whole
        return (f"interrupted: nothing was installed and there is no environment at {venv} "
                "(one this install had begun to create was removed; files fetched so far "
                "stay in the cache)")
    counted = [(c, verb) for c, verb in ((installed, "installed"), (removed, "removed"))
               if c is not None]
    if not counted:
        return ("interrupted: the environment was not changed (files fetched so far stay in "
                "the cache)")
    parts, whole = [], True
    for (done, total), verb in counted:
        if total is not None and done >= total:
            parts.append(f"all {total} distributions were {verb}" if total != 1
                         else f"the one distribution to be {verb} was")
            continue
        whole = False
        left = f", {total - done} were not" if total is not None else ""
        parts.append(f"{done} of {total} distributions were {verb}{left}")
    said = "; ".join(parts)
    if whole:
        return (f"interrupted: {said}; the environment's requirements were not checked "
                "afterwards")
    rest = "installs the rest" if removed is None else "makes the rest of the changes"
    return (f"interrupted: {said}; one cut short midway is rolled back by the next install, "
            f"which {rest}")


def interrupted_line(args: argparse.Namespace | None, reporter: object) -> str:
    """The one line an interrupted command ends with: what was and was not done."""
    command = getattr(args, "command", None)
    tasks = getattr(reporter, "tasks", {})

    def count(task: str) -> tuple[int, int | None] | None:
        return tasks.get(task)

    if command == "install":
        return _install_interrupted(args, count("install"), count("remove"))
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

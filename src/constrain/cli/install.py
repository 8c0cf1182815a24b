"""The ``constrain install`` subcommand: its arguments, progress display and result lines."""

from __future__ import annotations

import argparse
import sys
import threading

from ..reporting import Reporter
from .common import Console, add_resolve_options, emit_moves, resolve_request, write_stats

TYPE_CHECKING = False  # typing's, without importing typing (see cli/__init__.py)
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


#: the one line ``constrain --help`` shows for this command
HELP = "resolve and install into a virtual environment"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "install",
        help=HELP,
        description="Resolve requirements for an environment's own interpreter and install the "
        "result into it: plan first, fetch and verify everything, then link from the cache.",
    )
    add_resolve_options(p, target=False)  # the environment's interpreter is the target
    env = p.add_argument_group("environment")
    env.add_argument("--venv", metavar="PATH",
                     help="the virtual environment to install into (created when missing)")
    env.add_argument("--python-executable", metavar="PATH",
                     help="install into the environment of this interpreter")
    env.add_argument("--system", action="store_true",
                     help="allow installing into an interpreter that is not a virtual env")
    env.add_argument("--break-system-packages", action="store_true",
                     help="with --system: install even into an interpreter its distribution "
                     "manages (PEP 668)")
    env.add_argument("--without-pip", dest="seed", action="store_false",
                     help="do not put pip into a virtual environment constrain creates")
    act = p.add_argument_group("install")
    act.add_argument("--exact", action="store_true",
                     help="also remove installed distributions the install set does not name "
                     "(pip itself is kept)")
    act.add_argument("--dry-run", action="store_true",
                     help="show the plan and change nothing")
    act.add_argument("--reinstall", action="store_true",
                     help="install every pin again even when its version is installed")
    act.add_argument("--verify", action="store_true",
                     help="re-hash every cached file before linking it (by default a cached "
                     "tree is checked by size, mtime and inode); a changed one is unpacked "
                     "again from its verified wheel")
    act.add_argument("--wheelhouse", metavar="DIR",
                     help="install only from this directory of files (from constrain "
                     "download); with --offline no request is made at all")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
    from ..heap import long_lived

    with long_lived():  # the pipeline's modules
        from ..app.install import InstallRequest, install_command

    resolve = resolve_request(args, argv)  # its command is argv, "install" included
    request = InstallRequest(
        resolve=resolve,
        venv=args.venv,
        python_executable=args.python_executable,
        system=args.system,
        break_system_packages=args.break_system_packages,
        exact=args.exact,
        dry_run=args.dry_run,
        reinstall=args.reinstall,
        wheelhouse=args.wheelhouse,
        seed=args.seed,
        verify=args.verify,
    )
    reporter = _Progress(console)
    console.reporter.show_status("resolving")  # until the first bar
    try:
        result = install_command(request, reporter)
    finally:
        reporter.close()
        console.reporter.close()
    where = result.location or result.interpreter.prefix
    if result.created:
        console.info(f"created a virtual environment at {where}")
    for name in result.recovered:
        console.warning(f"{name}: an interrupted install was rolled back")
    if args.dry_run:
        console.out(result.plan.render())
        if result.plan.to_install or result.plan.to_remove:
            console.info(f"would change {where}: {result.plan.summary()} (dry run)")
        else:
            console.info(f"nothing would change in {where}: {result.plan.summary()} (dry run)")
    else:
        text = result.plan.render()
        if text:
            console.summary(text.rstrip("\n"))
        console.summary(f"{where}: {result.plan.summary()}")
    emit_moves(console, [result.install_set])
    write_stats(result.stats)
    return 0


class _Progress(Reporter):
    """Download and install bars on a terminal (rich), one quiet line per task in CI."""

    def __init__(self, console) -> None:
        self.console = console
        self.base = console.reporter
        self.tty = sys.stderr.isatty() and not console.quiet
        self._lock = threading.Lock()
        self._totals: dict[str, tuple[int | None, int]] = {}
        self._progress: Progress | None = None
        self._ids: dict[str, TaskID] = {}

    def warning(self, message: str) -> None:
        self.base.warning(message)

    def info(self, message: str) -> None:
        self.base.info(message)

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        self.base.start(task, total, unit)  # counted for the interrupted line
        with self._lock:
            self._totals[task] = (total, 0)
            if self.tty and total:
                if self._progress is None:
                    from rich.console import Console
                    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                    self.base.close()  # the resolve's progress line: one live display at a time
                    self._progress = Progress(
                        TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(),
                        console=Console(file=sys.stderr), transient=True)
                    self._progress.start()
                self._ids[task] = self._progress.add_task(task, total=total)

    def advance(self, task: str, amount: int = 1) -> None:
        self.base.advance(task, amount)
        with self._lock:
            total, done = self._totals.get(task, (None, 0))
            self._totals[task] = (total, done + amount)
            if self._progress is not None and task in self._ids:
                self._progress.advance(self._ids[task], amount)

    def finish(self, task: str) -> None:
        with self._lock:
            total, done = self._totals.pop(task, (None, 0))
            if self._progress is not None and task in self._ids:
                self._progress.remove_task(self._ids.pop(task))
        if total and not self.tty:
            self.console.info(f"{task}: {done}/{total}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

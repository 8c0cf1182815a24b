"""The ``constrain download`` subcommand: its options, a progress bar, and the summary table.

The work is :func:`constrain.app.download.download_command`; this module turns argv into a
:class:`~constrain.app.download.DownloadRequest` and renders the result (rich progress on a
terminal, plain lines otherwise; the summary table on stdout).
"""

from __future__ import annotations

import argparse

from ..reporting import Reporter
from .common import (
    Console,
    add_resolve_options,
    emit_moves,
    resolve_request,
    stdout_is_terminal,
    write_stats,
)

TYPE_CHECKING = False  # typing's, without importing typing (see cli/__init__.py)
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


#: the one line ``constrain --help`` shows for this command
HELP = "download a vetted wheelhouse for one or more targets (air-gapped installs)"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "download",
        help=HELP,
        description="Resolve every --python x --platform target in parallel and download the "
        "union of the files they need into one directory, with a constraints file, "
        "requirements with hashes and a pylock file per target, and manifest.json. "
        "Resumable; a rerun downloads only what is new.",
        conflict_handler="resolve",
    )
    add_resolve_options(p)
    # repeatable here: every python x platform pair is a target
    p.add_argument("--python", dest="pythons", action="append", default=[], metavar="X.Y",
                   help="target Python version (repeatable; default: the running interpreter)")
    out = p.add_argument_group("wheelhouse")
    out.add_argument("--dest", "-d", required=True, metavar="DIR",
                     help="the wheelhouse directory (created; reruns continue in it)")
    out.add_argument("--layout", choices=("flat", "simple"), default="flat",
                     help="simple: also write a PEP 503 index tree under DIR/simple/")
    out.add_argument("--vetted", action="append", default=[], metavar="MANIFEST",
                     help="manifest.json of a wheelhouse vetted before: its files count as "
                     "vetted (repeatable)")
    out.add_argument("--only-vetted", action="store_true",
                     help="refuse to add any file that --vetted does not list")
    out.add_argument("--fail-on-inconsistency", action="store_true",
                     help="a package needed by some targets and not others, or pinned "
                     "differently, with no reason found (a marker, requires-python, no file "
                     "for that target, a requirement) is an error, before anything is "
                     "downloaded")
    out.add_argument("--jobs", "-j", type=_at_least_one, default=8, metavar="N",
                     help="parallel downloads (default 8)")
    out.add_argument("--audit", metavar="OSV_DB",
                     help="then check the wheelhouse against this OSV database (directory or "
                     "zip, read offline; see 'constrain audit'): exit 3 on findings")
    out.add_argument("--audit-report-only", action="store_true",
                     help="with --audit: report findings but exit 0")
    p.set_defaults(_run=run, python=None)


def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
    import dataclasses

    from ..heap import long_lived

    with long_lived():  # the pipeline's modules
        from ..app.download import DownloadRequest, download_command
    from ..app.requests import command_line
    from ..errors import UsageError

    if not args.requirements and not args.requirement_files:
        raise UsageError("nothing to download",
                         hint="name requirements, e.g. constrain download 'flask>=3' --dest "
                         "wheelhouse, or use -r FILE")
    resolve = dataclasses.replace(
        resolve_request(args, argv), python=None, platforms=(),
        command=command_line(argv),
    )
    request = DownloadRequest(
        resolve=resolve,
        dest=args.dest,
        pythons=tuple(args.pythons),
        platforms=tuple(args.platforms),
        layout=args.layout,
        vetted=tuple(args.vetted),
        only_vetted=args.only_vetted,
        workers=max(1, args.jobs),
        fail_on_inconsistency=args.fail_on_inconsistency,
    )
    osv = None
    if args.audit:  # read (and refused when malformed) before a long download, not after
        from ..app.audit import open_database

        osv = open_database(args.audit)
    reporter = _ProgressReporter(console)
    console.reporter.show_status("resolving")  # until the download's bar
    try:
        result = download_command(request, reporter)
    finally:
        reporter.close()
        console.reporter.close()
    console.out(render_summary(result, table=stdout_is_terminal()))
    emit_moves(console, [t.install_set for t in result.targets])
    for name in result.stale:
        console.warning(f"{name} is in {result.dest} but no target needs it any more")
    write_stats(result.stats)
    if osv is not None:
        from ..app.audit import audit_manifest
        from ..review.audit import FOUND_EXIT_CODE
        from .audit import emit

        found = audit_manifest(osv, result.manifest)
        emit(console, found, as_json=False)
        if found.findings and not args.audit_report_only:
            return FOUND_EXIT_CODE
    return 0


def render_summary(result, *, table: bool = True) -> str:
    """The summary (per target: files, size, new and unvetted, sdists to build) and the list of
    files to review, as plain text: a table for a terminal (``table``), else one line per
    target (a pipe or a CI log gets no box drawing)."""
    by_name = {f.filename: f for f in result.manifest.files}
    new_now = set(result.downloaded)
    files = result.manifest.files
    rows = []
    for t in result.targets:
        entries = [by_name[n] for n in dict.fromkeys(t.entry.files + t.entry.build_files)]
        # the id names the platform when one was given; otherwise say it is this host's
        shown = t.entry.id if t.entry.platforms else f"{t.entry.id} ({t.entry.description})"
        rows.append((shown, entries))
    lines = (_summary_table(result, rows, new_now) if table
             else _summary_lines(result, rows, new_now))
    if not new_now:
        lines.append(f"nothing new: all {len(files)} files were already in {result.dest} "
                     "(every sha256 checked); nothing downloaded")
    else:
        moved = result.fetched.bytes_transferred
        lines.append(f"downloaded {len(new_now)} files ({_size(moved)} over the network)")
    if result.written:
        n = len(result.written)
        lines.append(f"wrote {n} file{'s' if n != 1 else ''}: " + ", ".join(result.written[:8])
                     + (" ..." if len(result.written) > 8 else ""))
    else:
        lines.append("no output file changed")
    lines += _review_lines(result.manifest)
    if result.consistency is not None and len(result.consistency.targets) > 1:
        lines += result.consistency.lines()
    to_vet = [f for f in files if not f.vetted]
    if to_vet and len(to_vet) < len(files):
        lines.append(f"new files to review ({len(to_vet)}):")
        lines += [f"  {f.filename}  sha256:{f.sha256}" for f in to_vet]
    return "\n".join(lines) + "\n"


def _review_lines(manifest) -> list[str]:
    """Licences not known (each listed), files with PEP 740 attestations, the SBOM."""
    files, unknown = manifest.files, manifest.licences_unknown
    attested = sum(1 for f in files if f.provenance)
    lines = [f"licences: {len(files) - len(unknown)} of {len(files)} files as SPDX, "
             f"{len(unknown)} unknown" + (":" if unknown else "")]
    lines += [f"  {name}  ({manifest.file(name).license_declared or 'nothing declared'})"
              for name in unknown]
    lines.append(f"provenance: {attested} of {len(files)} files with PEP 740 attestations "
                 f"on the index; SBOM: {manifest.sbom} (CycloneDX 1.6)")
    return lines


_COLUMNS = ("files", "size", "downloaded now", "to vet", "sdists to build")


def _counts(entries, new_now: set[str]) -> tuple[str, ...]:
    return (str(len(entries)), _size(sum(e.size for e in entries)),
            str(sum(1 for e in entries if e.filename in new_now)),
            str(sum(1 for e in entries if not e.vetted)),
            str(sum(1 for e in entries if e.needs_build)))


def _summary_lines(result, rows, new_now: set[str]) -> list[str]:
    lines = [f"wheelhouse {result.dest}:"]
    for shown, entries in [*rows, ("all targets", result.manifest.files)]:
        n, size, now, vet, build = _counts(entries, new_now)
        lines.append(f"  {shown}: {n} files ({size}), {now} downloaded now, {vet} to vet, "
                     f"{build} sdists to build")
    return lines


def _summary_table(result, rows, new_now: set[str]) -> list[str]:
    import io

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"wheelhouse {result.dest}", title_justify="left")
    for col in ("target", *_COLUMNS):
        table.add_column(col, justify="left" if col == "target" else "right")
    for shown, entries in rows:
        table.add_row(shown, *_counts(entries, new_now))
    table.add_row("all targets", *_counts(result.manifest.files, new_now), style="bold")
    buf = io.StringIO()
    Console(file=buf, width=110, color_system=None, force_terminal=False).print(table)
    return [buf.getvalue().rstrip("\n")]


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


class _ProgressReporter(Reporter):
    """Forwards messages to the CLI's reporter and draws the download as one rich progress bar
    (files done / total in its label, bytes, speed) on a terminal; nothing when stderr is not a
    terminal or under -q."""

    def __init__(self, console) -> None:
        import sys
        import threading

        self.base = console.reporter
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._files = [0, 0]
        self._live = sys.stderr.isatty() and not console.quiet

    def warning(self, message: str) -> None:
        self.base.warning(message)

    def info(self, message: str) -> None:
        self.base.info(message)

    def _label(self) -> str:
        return f"downloading {self._files[0]}/{self._files[1]} files"

    def start(self, task: str, total: int | None = None, unit: str = "") -> None:
        self.base.start(task, total, unit)  # counted for the interrupted line
        if not self._live:
            return
        with self._lock:
            if task == "files":
                self._files = [0, total or 0]
            elif task == "bytes" and self._progress is None:
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TransferSpeedColumn,
                )

                self.base.close()  # the resolve's progress line: one live display at a time
                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), transient=True,
                )
                self._progress.start()
                self._task = self._progress.add_task(self._label(), total=total)

    def advance(self, task: str, amount: int = 1) -> None:
        self.base.advance(task, amount)
        if self._progress is None or self._task is None:
            return
        with self._lock:
            if task == "files":
                self._files[0] += amount
                self._progress.update(self._task, description=self._label())
            elif task == "bytes":
                self._progress.advance(self._task, amount)

    def finish(self, task: str) -> None:
        if task == "bytes":
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None


def _at_least_one(text: str) -> int:
    """``--jobs``: a whole number, 1 or more (argparse says so as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs, 1 or more")
    return value

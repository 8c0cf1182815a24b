"""The ``constrain audit`` subcommand: known vulnerabilities of a wheelhouse or constraints file.

The work is :mod:`constrain.app.audit` (an offline OSV dump against what the paths pin); this
module parses the options and renders the findings: a table when stdout is a terminal,
one line per finding otherwise, JSON with ``--json``; a summary line on stderr. Exit code
:data:`~constrain.review.audit.FOUND_EXIT_CODE` (3) when something is found, unless
``--report-only``. ``render_findings`` is also what ``download --audit`` prints.
"""

from __future__ import annotations

import argparse


#: the one line ``constrain --help`` shows for this command
HELP = "check a wheelhouse or constraints file against an offline OSV database"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audit", help=HELP,
        description="Match every release of a wheelhouse (its manifest.json) or every "
        "name==version pin of constraints files against an OSV database (a directory or zip "
        "of OSV JSON records, as OSV publishes PyPI/all.zip). Makes no network request. "
        "Exits 3 when a known vulnerability is found (0 with --report-only).")
    p.add_argument("paths", nargs="*", metavar="WHEELHOUSE_OR_FILE",
                   help="a wheelhouse directory, its manifest.json, a pylock.toml, or a "
                   "constraints file")
    p.add_argument("-c", "--constraint", dest="constraint_files", action="append", default=[],
                   metavar="FILE", help="a constraints or requirements file to check "
                   "(name==version lines; repeatable)")
    p.add_argument("--db", metavar="PATH", help="the OSV database: a directory or zip of OSV "
                   "JSON records (default: $CONSTRAIN_OSV_DB)")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--report-only", action="store_true",
                   help="exit 0 even when vulnerabilities are found")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace, argv: list[str], console) -> int:
    from ..app.audit import AuditRequest, audit_command
    from ..review.audit import FOUND_EXIT_CODE

    result = audit_command(AuditRequest(args.db, (*args.paths, *args.constraint_files)))
    emit(console, result, as_json=args.json)
    if result.findings and not args.report_only:
        return FOUND_EXIT_CODE
    return 0


def emit(console, result, *, as_json: bool) -> None:
    """Findings on stdout (JSON, a table on a terminal, or lines), the summary on stderr."""
    from .common import stdout_is_terminal

    if as_json:
        import json

        console.out(json.dumps(result.to_json(), indent=2) + "\n")
    elif result.findings:
        console.out(render_findings(result.findings, table=stdout_is_terminal()))
    for line in result.not_pinned[:5]:
        console.warning(f"not checked (not a name==version pin): {line}")
    if len(result.not_pinned) > 5:
        console.warning(f"... and {len(result.not_pinned) - 5} more lines that are not pins")
    if not console.quiet:
        console.error([summary_line(result)])


def summary_line(result) -> str:
    db = result.database
    basis = (f"{db.source}: {db.records} PyPI records"
             + (f", newest modified {db.modified[:10]}" if db.modified else "")
             # a range set aside holds no release: an affected one could be among them
             + (f"; {db.unreadable} affected range{'s' if db.unreadable != 1 else ''} not "
                "read (a version packaging cannot parse), their releases not checked"
                if db.unreadable else ""))
    n = len(result.findings)
    if not n:
        return f"audit: no known vulnerability in {result.checked} releases ({basis})"
    return (f"audit: {n} known vulnerabilit{'ies' if n != 1 else 'y'} in "
            f"{result.vulnerable_packages} of {result.checked} releases ({basis})")


def render_findings(findings, *, table: bool) -> str:
    """The findings as a rich table (a terminal) or one plain line each (a pipe)."""
    def fixed(f) -> str:
        if f.fixed:
            return ", ".join(f.fixed)
        if f.last_affected:
            return f"none known (last affected {', '.join(f.last_affected)})"
        return "none known"

    if not table:
        lines = []
        for f in findings:
            aka = f" ({', '.join(f.aliases)})" if f.aliases else ""
            lines.append(f"{f.id}{aka} {f.package} {f.version} fixed in: {fixed(f)} "
                         f"[{', '.join(f.where)}]")
        return "\n".join(lines) + "\n"
    import io

    from rich.console import Console
    from rich.table import Table

    t = Table(title="known vulnerabilities", title_justify="left")
    for col in ("id", "aliases", "package", "version", "fixed in", "where"):
        # ids, names and versions whole (what a reader searches for); the rest folds
        t.add_column(col, no_wrap=col in ("id", "aliases", "package", "version"), overflow="fold")
    for f in findings:
        t.add_row(f.id, "\n".join(f.aliases), f.package, f.version, fixed(f), "\n".join(f.where))
    import shutil

    buf = io.StringIO()
    Console(file=buf, width=shutil.get_terminal_size().columns, force_terminal=True).print(t)
    return buf.getvalue()

"""The ``constrain resolve`` subcommand: its options, and the pins on stdout or in ``-o FILE``."""

from __future__ import annotations

import argparse

from .common import (
    FORMAT_CHOICES,
    Console,
    add_resolve_options,
    emit_moves,
    open_stdout,
    write_stats,
    written_line,
)


#: the one line ``constrain --help`` shows for this command
HELP = "resolve requirements to pinned versions for a target"


def register(subparsers) -> None:
    res = subparsers.add_parser(
        "resolve", help=HELP,
        description="Resolve requirements to one version of every needed project, for a "
        "target Python and platform, and write the result.")
    add_resolve_options(res)
    out = res.add_argument_group("output")
    out.add_argument("--format", choices=FORMAT_CHOICES, default="constraints",
                     help="constraints (default), requirements with hashes, pylock "
                     "(PEP 751 pylock.toml) or json (pip --report shape)")
    out.add_argument("--annotate", action="store_true",
                     help="say under each pin which requirements pulled it in")
    out.add_argument("-o", "--output", metavar="FILE",
                     help="write here instead of stdout (- is stdout)")
    res.set_defaults(_run=run)


def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
    from ..heap import long_lived

    with long_lived():  # the pipeline's modules
        from ..app.resolve import resolve_command
    from ..errors import UsageError
    from .common import resolve_request

    if not args.requirements and not args.requirement_files:
        raise UsageError("nothing to resolve",
                         hint="name requirements, e.g. constrain resolve 'flask>=3', or use -r FILE")
    if args.output == "-":  # as pip-compile reads it: stdout
        args.output = None
    if args.output is None:
        open_stdout()  # closed (>&-): said before the work
    console.reporter.show_status("resolving")
    result = resolve_command(resolve_request(args, argv), reporter=console.reporter)
    console.reporter.close()  # the progress line goes before anything else is printed
    if args.output:
        console.summary(written_line(result.install_set, args.output))
    else:
        console.out(result.text)
    emit_moves(console, [result.install_set])
    write_stats(result.stats)
    return 0

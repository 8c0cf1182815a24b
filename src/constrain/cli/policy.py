"""The ``constrain policy check [FILE]`` subcommand: its options, one line per bound on stdout.

The check itself is :func:`constrain.app.policy.policy_check`. Exit 2 when it finds problems
(listed with file:line).
"""

from __future__ import annotations

import argparse

from .common import Console


#: the one line ``constrain --help`` shows for this command
HELP = "check upper-bound policy files"


def register(subparsers) -> None:
    p = subparsers.add_parser("policy", help=HELP,
                              description="Work with upper-bound policy files (TOML).")
    actions = p.add_subparsers(dest="policy_action", metavar="ACTION")
    c = actions.add_parser(
        "check", help="check a policy file (default: the packaged Airflow policies)",
        description="Check an upper-bound policy file: every entry needs a reason and a "
        "removal condition, every package must exist on the configured indexes; reports what "
        "each bound holds back and the bounds that no longer hold anything back.")
    c.add_argument("file", nargs="?", default="airflow", metavar="FILE",
                   help="policy file or URL (default: 'airflow', the packaged policies)")
    c.add_argument("--reference", metavar="FILE",
                   help="constraints file whose pins are the reference for minor/major bounds")
    c.add_argument("--no-lookup", action="store_true",
                   help="check the file only; do not ask the index about the packages")
    c.add_argument("--python", metavar="X.Y", help="target Python for 'newest release'")
    c.add_argument("--exclude-newer", metavar="DATE", help="ignore files uploaded after DATE")
    c.add_argument("--index-url", "-i", metavar="URL")
    c.add_argument("--extra-index-url", dest="extra_index_urls", action="append", default=None,
                   metavar="URL")
    c.add_argument("--find-links", "-f", dest="find_links", action="append", default=None,
                   metavar="PATH_OR_URL")
    c.add_argument("--no-index", action="store_true")
    c.add_argument("--offline", action="store_true")
    c.add_argument("--cache-dir", metavar="DIR")
    c.set_defaults(_run=run)
    p.set_defaults(_run=_no_action(p))


def _no_action(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
        if getattr(args, "policy_action", None) is None:
            parser.print_usage()
            console.error(["error: name an action, e.g. 'constrain policy check'"])
            return 2
        return 0

    return run


def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
    from ..app.policy import PolicyCheckRequest, policy_check

    request = PolicyCheckRequest(
        file=args.file, reference=args.reference, lookup=not args.no_lookup,
        python=args.python, exclude_newer=args.exclude_newer, index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_urls) if args.extra_index_urls else None,
        find_links=tuple(args.find_links) if args.find_links else None,
        no_index=args.no_index, offline=args.offline, cache_dir=args.cache_dir,
    )
    result = policy_check(request, console.reporter)
    if result.lines:
        console.out("\n".join(result.lines) + "\n")
    if result.problems:
        raise result.error()
    console.info(f"{result.source}: {result.policies} policies OK")
    return 0

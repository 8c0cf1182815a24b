"""The ``constrain cache`` subcommand: ``info`` (where the cache is, what it holds) and ``prune``.

The work is :mod:`constrain.cache.usage` (what is there) and :mod:`constrain.cache.prune` (what
goes, and removing it safely beside running commands); this module parses the options and
prints a table of kinds, or what a prune removed (``--dry-run``: would remove).
"""

from __future__ import annotations

import argparse
import os

from .common import HelpFormatter


#: the one line ``constrain --help`` shows for this command
HELP = "show or shrink constrain's cache"


def register(subparsers) -> None:
    p = subparsers.add_parser("cache", help=HELP,
                              description="Show where constrain's cache is and what it holds "
                              "(info), or remove what was not used for a while (prune).")
    actions = p.add_subparsers(dest="cache_action", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument("--cache-dir", metavar="DIR", type=os.path.expanduser,
                        help="the cache (default: $CONSTRAIN_CACHE_DIR or the user cache)")
    common.add_argument("--json", action="store_true", help="print the figures as JSON")
    info = actions.add_parser(
        "info", parents=[common], help="the cache's location and size per kind",
        description="Print the cache's location, and per kind of entry (index pages, "
        "metadata, downloaded files, unpacked wheels, builds, build environments, remembered "
        "resolutions, reconstructions ...) how many entries and bytes it holds.")
    info.set_defaults(_run=run_info)
    prune = actions.add_parser(
        "prune", parents=[common], help="remove entries unused for a while, or down to a size",
        description="Remove cache entries last used longer ago than --older-than, then the "
        "least recently used until the cache is no larger than --max-size. Old cache formats "
        "and leftovers of interrupted runs always go; entries used in the last day, and "
        "entries a running constrain is writing, never do.")
    prune.add_argument("--older-than", metavar="AGE",
                       help="remove entries unused for this long: 30d, 12h, 2w")
    prune.add_argument("--max-size", metavar="SIZE",
                       help="then remove the least recently used until at most this: 2G, 500M")
    prune.add_argument("--dry-run", action="store_true",
                       help="say what would be removed; remove nothing")
    prune.set_defaults(_run=run_prune)
    p.set_defaults(_run=_no_action(p))


def _no_action(parser: argparse.ArgumentParser):
    def run(args, argv, console) -> int:
        from ..errors import UsageError

        raise UsageError("name an action: 'constrain cache info' or 'constrain cache prune'",
                         hint="run 'constrain cache --help' for both")

    return run


def run_info(args, argv, console) -> int:
    from ..app.cache import cache_info

    usage = cache_info(args.cache_dir)
    kinds = usage.by_kind()
    if args.json:
        import json

        console.out(json.dumps({
            "location": str(usage.root), "exists": usage.root.is_dir(), "size": usage.size,
            "kinds": {k: {"entries": n, "size": size} for k, (n, size) in kinds.items()},
        }, indent=2) + "\n")
        return 0
    lines = [f"cache: {usage.root}" + ("" if usage.root.is_dir() else " (does not exist yet)")]
    for kind, (n, size) in kinds.items():
        noun = ("file" if n == 1 else "files") if kind == "other" else (
            "entry" if n == 1 else "entries")
        lines.append(f"  {kind:<16} {n:>8} {noun:<7} {size_text(size):>10}")
    lines.append(f"  {'total':<16} {'':>8} {'':<7} {size_text(usage.size):>10}")
    console.out("\n".join(lines) + "\n")
    return 0


def run_prune(args, argv, console) -> int:
    from ..app.cache import PruneRequest, cache_prune

    result = cache_prune(PruneRequest(cache_dir=args.cache_dir, older_than=args.older_than,
                                      max_size=args.max_size, dry_run=args.dry_run))
    if args.json:
        import json

        console.out(json.dumps({
            "location": str(result.root), "dry_run": result.dry_run,
            "size_before": result.size_before, "size_after": result.size_after,
            "freed": result.freed, "removed": result.per_kind(), "busy": len(result.busy),
            "kept_recent": result.kept_recent}, indent=2) + "\n")
        return 0
    kinds = ", ".join(f"{k} {n} ({size_text(s)})" for k, (n, s) in result.per_kind().items())
    verb = "would remove" if result.dry_run else "removed"
    head = f"{verb} {entries(len(result.removed))}, {size_text(result.freed)}"
    sizes = f"{size_text(result.size_before)} -> {size_text(result.size_after)}"
    lines = [head + (f": {kinds}" if kinds else ""), f"cache {result.root}: {sizes}"]
    if result.kept_recent:
        lines.append(f"kept {entries(result.kept_recent)} used in the last day (a run under "
                     "way may be reading them)")
    if result.busy:
        lines.append(f"skipped {entries(len(result.busy))} a running constrain is writing or "
                     "began to use during the prune")
    if result.max_size is not None and result.size_after > result.max_size:
        lines.append(f"the cache is still above --max-size {args.max_size}: what is left was "
                     "used in the last day or is being written")
    console.out("\n".join(lines) + "\n")
    return 0


def entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def size_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover

"""``constrain policy check [FILE]``: vet an upper-bound policy file against the index.

Fails (exit 2) on entries without a reason or removal condition and on packages no configured
index knows, every one listed with file:line; reports for each bound what it holds back
(the newest release beyond it) or that it no longer holds anything back. Bounds are computed
relative to ``--reference FILE`` (a constraints file); ``minor``/``major`` bounds without a
reference pin are only checked for their package's existence.
"""

from __future__ import annotations

import argparse


def register(subparsers, add_resolve_options) -> None:  # noqa: ARG001 (own options)
    p = subparsers.add_parser("policy", help="check upper-bound policy files",
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
    def run(args, argv, console) -> int:
        if getattr(args, "policy_action", None) is None:
            parser.print_usage()
            console.error(["error: name an action, e.g. 'constrain policy check'"])
            return 2
        return 0

    return run


def run(args, argv, console) -> int:
    from ..app import ResolveRequest, Session, parse_exclude_newer
    from ..errors import InputError, ProjectNotFound, SourceLocation
    from ..layers import exact_pins, load_policy_file, newest_release
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment

    request = ResolveRequest(
        python=args.python, exclude_newer=args.exclude_newer, index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_urls) if args.extra_index_urls else None,
        find_links=tuple(args.find_links) if args.find_links else None,
        no_index=args.no_index, offline=args.offline, cache_dir=args.cache_dir,
    )
    target = TargetEnvironment.from_options(args.python, ())
    options = ResolveOptions(exclude_newer=parse_exclude_newer(args.exclude_newer))
    session = Session(request, console.reporter)
    try:
        pf = load_policy_file(args.file, session)
        problems: list[SourceLocation] = list(pf.lint())
        reference = {}
        if args.reference:
            from ..constraints.sources import load_inputs

            ref_inputs = load_inputs((), (), [args.reference], fetch=session.fetch_text)
            reference = exact_pins(ref_inputs.constraints)
        lines: list[str] = []
        for policy in pf.policies:
            if args.no_lookup:
                continue
            try:
                session.repository.files(policy.name)
            except ProjectNotFound:
                problems.append(SourceLocation(
                    policy.origin.source, policy.origin.line, policy.origin.text, None,
                    f"unknown package {policy.display_name}: no configured index has it"))
                continue
            newest = newest_release(session.repository, policy.name, target, options)
            ref = reference.get(policy.name)
            spec = policy.specifier(ref)
            label = f"{policy.display_name} ({policy.bound}" + (f" of {ref})" if ref else ")")
            if spec is None:
                lines.append(f"{label}: no reference pin; newest release {newest}")
            elif newest is None:
                lines.append(f"{label}: no release for {target.describe()}")
            elif spec.contains(newest, prereleases=True):
                lines.append(f"{label}: bound {spec} no longer holds anything back "
                             f"(newest release {newest} is within it) - consider removing it")
            else:
                lines.append(f"{label}: bound {spec} holds back {newest}")
        if lines:
            console.out("\n".join(lines) + "\n")
        if problems:
            n = len(problems)
            raise InputError(
                f"{n} problem{'s' if n != 1 else ''} in policy file {pf.source}",
                locations=sorted(problems, key=lambda p: p.line or 0),
                hint="every entry needs bound, reason and remove-when, for a package the "
                "index has",
            )
        console.info(f"{pf.source}: {len(pf.policies)} policies OK")
        return 0
    finally:
        session.close()

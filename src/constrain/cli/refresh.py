"""The ``constrain refresh`` subcommand: options, merged over ``[tool.constrain.refresh]``.

The work is :func:`constrain.app.refresh.refresh_command`. The markdown report goes to stdout;
exit 0 when done (files written or already current), 1 when ``--check`` finds the committed
files out of date or a ``--fail-on-downgrade`` package would move down (nothing written then).
"""

from __future__ import annotations

import argparse

from .common import Console, add_resolve_options, emit_moves, resolve_request, write_stats


#: the one line ``constrain --help`` shows for this command
HELP = "regenerate constraint files per mode and Python, with a reviewable diff"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "refresh",
        help=HELP,
        description="Resolve highest versions within the upper-bound policies for every mode x "
        "Python, using each committed <mode>-<python>.txt as the reference of the policies' "
        "bounds, rewrite the files whose pins moved, and report what moved and what the "
        "policies held back (markdown on stdout, JSON with --json-report, and "
        "$GITHUB_STEP_SUMMARY when set). Settings may live in [tool.constrain.refresh] of "
        "pyproject.toml or [refresh] of constrain.toml; the command line wins. Airflow's "
        "published constraints are off unless --airflow-constraints asks for them.",
        conflict_handler="resolve",
    )
    add_resolve_options(p)
    p.add_argument("--python", dest="pythons", action="append", default=[], metavar="X.Y",
                   help="target Python (repeatable; replaces the configured list, so "
                   "'--python 3.11' alone refreshes one file per mode)")
    r = p.add_argument_group("refresh")
    r.add_argument("--output-dir", metavar="DIR",
                   help="where the <mode>-<python>.txt files live (read, then rewritten)")
    r.add_argument("--mode", dest="modes", action="append", default=[],
                   metavar="NAME=REQUIREMENTS", help="another file set: its requirements, split "
                   "like a shell line ('-r FILE' allowed); positional requirements are the "
                   "mode 'constraints'")
    r.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the refreshed pins differ from the files")
    r.add_argument("--fail-on-downgrade", dest="fail_on_downgrade", action="append",
                   default=[], metavar="PKG_GLOB", help="a downgrade of a matching package "
                   "(e.g. 'apache-airflow-providers-*') is an error; repeatable or "
                   "comma-separated")
    r.add_argument("--fail-on-inconsistency", dest="fail_on_inconsistency",
                   action="store_true", default=None,
                   help="a package installed for some Pythons and not others, or pinned "
                   "differently, with no reason found (a marker, requires-python, no file for "
                   "that Python, a requirement) is an error: exit 1, nothing written")
    r.add_argument("--report", metavar="FILE", help="also write the markdown report here")
    r.add_argument("--json-report", metavar="FILE", help="write the JSON report here")
    p.set_defaults(_run=run, python=None)


def build_request(args: argparse.Namespace, argv: list[str], environ=None):
    """The :class:`~constrain.app.refresh.RefreshRequest` of ``args`` over the configuration of
    the working directory."""
    import dataclasses
    import os

    from ..app.refresh import RefreshRequest
    from ..app.requests import command_line
    from ..settings import constrain_config
    from ..errors import ConfigError, UsageError
    from ..refresh.settings import (
        DEFAULT_MODE,
        Mode,
        config_modes,
        config_strings,
        parse_mode,
        refresh_table,
    )

    config, source = constrain_config(None)
    table, where = refresh_table(config, source)

    def strings(key: str) -> tuple[str, ...]:
        return config_strings(table, key, where)

    def one(key: str) -> str | None:
        values = strings(key)
        if len(values) > 1:
            raise ConfigError(f"{key} in {where} must be one string")
        return values[0] if values else None

    cli_modes = [parse_mode(m) for m in args.modes]
    if args.requirements or args.requirement_files or cli_modes:
        reqs, req_files, extra = tuple(args.requirements), tuple(args.requirement_files), cli_modes
    else:
        reqs, req_files = strings("requirements"), strings("requirement-files")
        extra = list(config_modes(table, where))
    modes = [Mode(DEFAULT_MODE, reqs, req_files)] if (reqs or req_files) else []
    for m in extra:
        if any(m.name == x.name for x in modes):
            raise UsageError(f"mode {m.name!r} given twice",
                             hint="positional requirements are the mode 'constraints'")
        modes.append(m)

    output_dir = args.output_dir or one("output-dir")
    if not output_dir:
        raise UsageError("where are the constraint files?",
                         hint="give --output-dir DIR (or output-dir in [tool.constrain.refresh])")
    only_binary = table.get("only-binary", False)
    if not isinstance(only_binary, bool):
        raise ConfigError(f"only-binary in {where} must be true or false")
    prerelease = args.prerelease
    if prerelease == "if-necessary-or-explicit" and one("prerelease"):
        prerelease = one("prerelease")
    fail_inconsistent = table.get("fail-on-inconsistency", False)
    if not isinstance(fail_inconsistent, bool):
        raise ConfigError(f"fail-on-inconsistency in {where} must be true or false")
    globs = [g.strip() for raw in (args.fail_on_downgrade or strings("fail-on-downgrade"))
             for g in raw.split(",") if g.strip()]
    resolve = dataclasses.replace(
        resolve_request(args, argv),
        requirements=(), requirement_files=(), python=None, platforms=(),
        constraint_files=tuple(args.constraint_files) or strings("constraints"),
        policies=tuple(args.policies or ()) or strings("policies"),
        exclude_newer=args.exclude_newer or one("exclude-newer"),
        prerelease=prerelease,
        only_binary=args.only_binary or only_binary,
        # A published Airflow file would pin every package to the old release: refresh keeps
        # it off unless asked here (the environment/[tool.constrain] setting is for resolves).
        airflow_constraints=args.airflow_constraints or one("airflow-constraints") or "off",
        command=command_line(argv),
        environ=environ,
    )
    return RefreshRequest(
        resolve=resolve,
        output_dir=output_dir,
        modes=tuple(modes),
        pythons=tuple(args.pythons) or strings("python") or (None,),
        platforms=tuple(args.platforms) or strings("platforms"),
        check=args.check,
        fail_on_downgrade=tuple(globs),
        fail_on_inconsistency=bool(args.fail_on_inconsistency or fail_inconsistent),
        report=args.report if args.report is not None else one("report"),
        json_report=args.json_report if args.json_report is not None else one("json-report"),
        config_source=where,
        environ=environ if environ is not None else dict(os.environ),
    )


def run(args: argparse.Namespace, argv: list[str], console: Console) -> int:
    from ..heap import long_lived

    with long_lived():  # the pipeline's modules
        from ..app.refresh import refresh_command

    request = build_request(args, argv)
    if request.config_source:
        console.info(f"settings from {request.config_source}")
    console.reporter.show_status("refreshing")
    result = refresh_command(request, reporter=console.reporter)
    console.reporter.close()  # the progress line goes before the report is printed
    console.out(result.markdown)
    emit_moves(console, [t.install_set for t in result.targets])
    write_stats(result.stats)
    if result.forbidden:
        console.error([f"error: {len(result.forbidden)} forbidden downgrade"
                       f"{'s' if len(result.forbidden) != 1 else ''}; nothing was written"]
                      + [f"  {t.file}: {c.name} {c.old} -> {c.new}" for t, c in result.forbidden]
                      + ["hint: find what pulls the package down in the report, or drop the "
                         "package from --fail-on-downgrade"])
        return 1
    if request.fail_on_inconsistency and result.unexplained:
        n = len(result.unexplained)
        differ = "packages differ" if n != 1 else "package differs"
        console.error([(f"error: --fail-on-inconsistency: {n} {differ} across Pythons with "
                        "no reason found; nothing was written")]
                      + [f"  {m}: {f.name}: {f.versions_text()} -- {f.why_text()}"
                         for m, f in result.unexplained]
                      + [("hint: make the inputs agree (a constraint or committed file that "
                          "pins one Python differently), give the difference a marker, or drop "
                          "--fail-on-inconsistency to see it reported only")])
        return 1
    if request.check and result.changed:
        console.error([f"error: --check: {len(result.changed)} of {len(result.targets)} "
                       "constraint files are out of date"]
                      + [f"  {t.file}: {t.status}" for t in result.changed]
                      + ["hint: run the same command without --check and commit the files"])
        return 1
    if result.written:
        console.info(f"wrote {', '.join(result.written)}")
    else:
        console.info("no constraint file changed")
    return 0

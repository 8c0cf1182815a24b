"""``constrain install``: resolve for an environment's interpreter, plan, fetch, then change it.

Order matters for safety: the target interpreter is inspected, the install set resolved and every
needed wheel fetched, hash-checked and unpacked *before* the environment is locked and touched.
Under the lock, distributions an interrupted earlier run left half-done are rolled back, the plan
is made against what is really installed, and each distribution is replaced under its journal.
Afterwards the environment is checked the way ``pip check`` checks it.

The pipeline is here; the step under the lock that changes the environment, and the check
after it, are ``install_link.py``; their mechanics live in install/.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
from dataclasses import field
from pathlib import Path

from ..errors import (BuildError, ConstrainError, ProjectNotFound, ResolutionImpossible,
                      UsageError)
from ..heap import hold_frozen, release_frozen
from ..index.files import sha256_of
from ..install.plan import Plan, egg_infos, make_plan, read_installed
from ..install.venv import (
    Interpreter,
    choose,
    incomplete,
    inspect,
    locked,
    mark_complete,
    refuse_system,
    remove_unfinished,
)
from ..models import InstallSet
from ..processes import undo_if_ending
from ..records import record
from ..reporting import NULL_REPORTER, Reporter
from .install_early import EarlyDownloads, early_build, exact_pins
from .install_link import apply, check_linked, seed_pip
from .requests import ResolveRequest
from .resolve import prepare_resolve, resolve_target
from .session import WholeFiles, build_session


@record
class InstallRequest:
    """Everything ``constrain install`` takes beyond the resolve options."""

    resolve: ResolveRequest
    venv: str | None = None
    python_executable: str | None = None
    system: bool = False
    break_system_packages: bool = False
    exact: bool = False
    dry_run: bool = False
    reinstall: bool = False
    wheelhouse: str | None = None
    build_constraints: tuple[str, ...] = ()
    seed: bool = True
    verify: bool = False
    environ: dict[str, str] | None = field(default=None, compare=False)


@record(frozen=False)
class InstallResult:
    interpreter: Interpreter
    plan: Plan
    install_set: InstallSet | None
    created: bool = False
    recovered: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    location: str = ""  # the environment's directory (a --venv a dry run did not create)


class EnvironmentInconsistent(ConstrainError):
    """After the install, some installed distribution lacks what it requires."""


def _wheelhouse_files(house: Path, target) -> tuple[list[str], list[str]]:
    """The constraints and requirements files a wheelhouse carries for ``target``: those of
    the manifest's target whose Python and platform match (``constraints-<python>[-<platform>]
    .txt``, ``requirements-...``), else a plain ``constraints.txt`` and none."""
    try:
        data = json.loads((house / "manifest.json").read_text(encoding="utf-8"))
        entries = data.get("targets", []) if isinstance(data, dict) else []
    except (OSError, ValueError):
        entries = []
    tags = set(target.platform_tags) if target is not None else set()
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("constraints"):
            continue
        if target is not None and entry.get("python") != target.python_short:
            continue
        platforms = entry.get("platforms") or []
        if platforms and tags and not tags & set(platforms):
            continue
        path = house / str(entry["constraints"])
        if path.is_file():
            wanted = house / str(entry["requirements"]) if entry.get("requirements") else None
            return [str(path)], [str(wanted)] if wanted is not None and wanted.is_file() else []
    plain = house / "constraints.txt"
    return [str(plain)] if plain.is_file() else [], []


def _nothing_to_install(house: str | None) -> UsageError:
    listed = sorted(Path(house).glob("requirements-*.txt")) if house else []
    return UsageError("nothing to install", hint=(
        f"name requirements, or install what the wheelhouse was downloaded for: "
        f"-r {' or -r '.join(str(p) for p in listed[:3])}" if listed else
        "name requirements, e.g. constrain install 'flask>=3', or -r FILE"))


def _with_wheelhouse(
    request: ResolveRequest, wheelhouse: str, target=None
) -> ResolveRequest:
    """A wheelhouse is the only source: its files as find-links, no index, and the
    constraints file it carries for this interpreter (if any) applied; with no requirement
    named, what it was downloaded for this interpreter (its requirements file)."""
    house = Path(wheelhouse)
    if not house.is_dir():
        raise UsageError(
            f"--wheelhouse {wheelhouse}: "
            + ("not a directory" if house.exists() else "no such directory"),
            hint="give the directory 'constrain download --dest DIR' filled")
    constraint_files = list(request.constraint_files)
    carried, requirement_files = _wheelhouse_files(house, target)
    for path in carried:
        if path not in constraint_files:
            constraint_files.append(path)
    if request.requirements or request.requirement_files:
        requirement_files = list(request.requirement_files)
    elif not requirement_files:
        raise _nothing_to_install(wheelhouse)
    return dataclasses.replace(
        request,
        find_links=(str(house.resolve()),),
        index_url=None,
        extra_index_urls=(),
        no_index=True,
        constraint_files=tuple(constraint_files),
        requirement_files=tuple(requirement_files),
    )


def install_command(request: InstallRequest, reporter: Reporter = NULL_REPORTER) -> InstallResult:
    """Run ``constrain install``; see the module docstring for the order of the steps."""
    from ..cache import Cache, cache_root

    resolve_req = request.resolve
    if resolve_req.python or resolve_req.platforms:
        raise UsageError(
            "install targets an interpreter; --python and --platform do not apply",
            hint="choose the environment with --venv PATH or --python-executable PATH",
        )
    if not resolve_req.requirements and not resolve_req.requirement_files and not (
            request.wheelhouse and (Path(request.wheelhouse) / "manifest.json").is_file()):
        raise _nothing_to_install(request.wheelhouse)  # (a wheelhouse's: once the
        # interpreter is known, what it was downloaded for: _with_wheelhouse)
    if request.build_constraints:  # the library's older spelling of the resolve option
        resolve_req = dataclasses.replace(resolve_req, build_constraints=tuple(
            dict.fromkeys((*resolve_req.build_constraints, *request.build_constraints))))
    if resolve_req.cache_dir:  # builds run in other directories: paths must not be relative
        resolve_req = dataclasses.replace(resolve_req,
                                          cache_dir=os.path.abspath(resolve_req.cache_dir))
    environ = dict(os.environ if request.environ is None else request.environ)
    cache = Cache(cache_root(resolve_req.cache_dir, environ))
    chosen = choose(venv=request.venv, python_executable=request.python_executable,
                    system=request.system, environ=environ, cwd=Path.cwd(),
                    create=not request.dry_run, seed=request.seed)
    made = chosen.venv if chosen.created and not request.dry_run else None

    def undo() -> None:  # also when an interrupt's grace time ends the command at once
        if made is not None:
            remove_unfinished(made)

    try:
        with undo_if_ending(undo):
            return _install(request, resolve_req, cache, chosen, reporter)
    except BaseException:
        # A venv this command made is complete or gone: when its first install failed (or
        # was interrupted) it is removed -- unless that install got as far as completing it,
        # or another install that found it holds its lock (remove_unfinished).
        undo()
        raise


def _prepared(prepare, pins, install_set: InstallSet, *, session, target, offline: bool,
              reporter: Reporter):
    """``install.fetch.prepare`` of ``pins`` for ``session``; a build that fails names the
    chain of pins that needed it, as one failing while resolving does."""
    try:
        return prepare(pins, client=session.client, cache=session.cache, target=target,
                       build_index=session.settings, offline=offline, reporter=reporter,
                       build_source=lambda: session.build_source)
    except BuildError as exc:
        from ..install.build import explain_wheel_failure

        raise explain_wheel_failure(exc, install_set, target) from None


def _install(request: InstallRequest, resolve_req: ResolveRequest, cache, chosen,
             reporter: Reporter) -> InstallResult:
    whole = WholeFiles()  # bound below: its builder and downloads need the session
    # without a wheelhouse the session does not depend on the interpreter: made first, its
    # HTTP client can come up while the interpreter is asked for its facts (a subprocess)
    session = None if request.wheelhouse else _session_ahead(resolve_req, reporter, whole)
    try:
        interp = inspect(chosen.python, cache)
        if not chosen.missing:
            refuse_system(interp, request.system, request.break_system_packages)
        target = interp.target()
    except BaseException:
        if session is not None:
            session.close()
        raise
    if session is None:
        resolve_req = _with_wheelhouse(resolve_req, str(request.wheelhouse), target)
        session = build_session(resolve_req, reporter, whole=whole)
    collecting = gc.isenabled()
    try:
        clock = time.perf_counter()
        prepared = prepare_resolve(resolve_req, session)
        build = early_build(session, target, reporter)
        reporter.info(f"resolving for {target.describe()} ({interp.executable})")
        early = EarlyDownloads(session, {} if chosen.missing else read_installed(interp),
                                build=None if resolve_req.no_build else build)  # see below
        whole.bind(
            wanted=exact_pins(prepared),
            build=lambda file, path: build(path, file.sha256 or sha256_of(path), file.filename),
            fetched=early.submit,  # exact pins: unpacked as soon as they are here
            fetch=early.fetch_whole,  # their wheels downloaded by the unpacking workers
        )
        try:
            install_set = resolve_target(prepared, session, target, reporter,
                                         on_pin=early.submit)
        except BuildError as exc:
            early.finish(wait=False)
            from ..install.build import explain_build_failure

            raise explain_build_failure(exc, target) from None
        except ResolutionImpossible as exc:  # its hints name no --python/--platform here
            early.finish(wait=False)
            from ..resolver.explain import for_an_environment

            raise for_an_environment(exc) from None
        except ProjectNotFound as exc:
            early.finish(wait=False)
            if request.wheelhouse:  # the wheelhouse is the only source: say so, name the file
                from ..download.manifest import missing_project

                raise missing_project(Path(request.wheelhouse), exc.project,
                                      exc.details) from None
            raise
        except BaseException:
            early.finish(wait=False)
            raise
        early.finish(wait=True)
        stats: dict = {"pins": len(install_set.pins),
                       "resolve_seconds": round(time.perf_counter() - clock, 3)}
        clock = time.perf_counter()
        if request.dry_run:
            installed = {} if chosen.missing else read_installed(interp)
            from ..install.journal import recover as half_done

            half = [] if chosen.missing else half_done(interp, dry_run=True)
            if half:  # the real run recovers them first, and may plan otherwise
                reporter.warning(f"an interrupted install left {', '.join(half)} half-done: "
                                 "the real run finishes or rolls back "
                                 f"{'it' if len(half) == 1 else 'them'} first, so its plan "
                                 "may differ from this one")
            plan = make_plan(install_set, installed, exact=request.exact,
                             reinstall=_reinstall(request, install_set),
                             keep=_kept(request, interp, installed))
            _refuse_builds(resolve_req, plan, session, target)
            _refuse_eggs(interp, plan)
            for problem in _after(interp, installed, plan):  # what the real run would find
                reporter.warning(f"after this install: {problem}")
            return InstallResult(interp, plan, install_set, chosen.created, stats=stats,
                                 location=(request.venv or "") if chosen.missing else _where(interp))

        # No automatic collection from here on: the trees' manifests are tens of thousands of
        # small lists and dicts (no cycles), which collections kept walking while linking.
        gc.disable()
        # Everything the install set could need is made ready before the env is touched.
        installed = read_installed(interp)
        plan = make_plan(install_set, installed, exact=request.exact,
                         reinstall=_reinstall(request, install_set),
                         keep=_kept(request, interp, installed))
        from ..install.fetch import prepare

        _refuse_builds(resolve_req, plan, session, target)
        _refuse_eggs(interp, plan)
        wanted = [c.pin for c in plan.to_install if c.pin is not None]
        ready = _prepared(prepare, wanted, install_set, session=session, target=target,
                          offline=resolve_req.offline, reporter=reporter)
        ready = _trusted(ready, session, target, request, resolve_req, reporter, interp)
        by_name = {r.pin.name: r for r in ready}
        stats.update(downloaded=sum(r.downloaded for r in ready),
                     built=sum(r.built for r in ready),
                     fetch_seconds=round(time.perf_counter() - clock, 3))
        clock = time.perf_counter()

        with locked(interp, on_wait=reporter.warning):
            from ..install.journal import recover

            recovered = recover(interp, warn=reporter.warning)
            pending = incomplete(Path(interp.prefix))
            if pending is not None and pending.get("seed", True) and request.seed:
                # a venv constrain made gets pip, also when an earlier first install of it
                # was killed before pip was in
                seed_pip(interp, session.cache, install_set)
            installed = read_installed(interp)
            plan = make_plan(install_set, installed, exact=request.exact,
                             reinstall=_reinstall(request, install_set),
                             keep=_kept(request, interp, installed))
            missing = [c.pin for c in plan.to_install if c.pin is not None
                       and c.pin.name not in by_name]
            if missing:  # the environment changed while we fetched
                more = _prepared(prepare, missing, install_set, session=session,
                                 target=target, offline=resolve_req.offline, reporter=reporter)
                more = _trusted(more, session, target, request, resolve_req,
                                reporter, interp)
                by_name.update({r.pin.name: r for r in more})
            apply(interp, plan, by_name, reporter, session.cache)
            if pending is not None:
                mark_complete(Path(interp.prefix))
        stats["link_seconds"] = round(time.perf_counter() - clock, 3)
        problems = check_linked(interp, plan, by_name)
        stats.update(installed=len(plan.to_install), removed=len(plan.to_remove),
                     unchanged=len(plan.of("unchanged")), requests=session.client.counters.requests)
        result = InstallResult(interp, plan, install_set, chosen.created, recovered,
                               problems, stats, location=_where(interp))
        if problems:
            raise EnvironmentInconsistent(
                f"the environment at {interp.prefix} is inconsistent after the install",
                details=problems,
                hint="these requirements come from distributions the install set does not "
                "cover; add them to the command, or use --exact to remove strays",
            )
        return result
    finally:
        if collecting:  # what the install made joins the oldest generation without a walk
            if hold_frozen():
                release_frozen()
            gc.enable()
        session.close()


def _session_ahead(resolve_req: ResolveRequest, reporter: Reporter, whole: WholeFiles):
    """The install's session; its HTTP client (imports, TLS context: ~0.2 s of CPU) starts in
    the background when the run will surely ask an HTTP index for pages: no page cached yet,
    or ``--refresh``. A run answered from its cache starts none (nor one ``--offline``)."""
    session = build_session(resolve_req, reporter, whole=whole)
    settings = session.settings
    remote = (settings.index_url or "https:").startswith(("http:", "https:"))
    if remote and not settings.no_index and (
            resolve_req.refresh or not session.cache.bucket("listings").is_dir()):
        session.client.warm_up()
    return session


def _trusted(ready, session, target, request: InstallRequest, resolve_req, reporter,
             interp: Interpreter):
    """``ready`` once what it was built on is checked: with ``--verify`` each cached tree is
    re-hashed (a changed one is unpacked again from its wheel, whose hash is checked) and the
    scripts kept for it are made again, and every wheel's METADATA must agree with what the
    resolve used."""
    from ..install.trust import check_metadata

    if request.verify:
        from ..install.fetch import prepare
        from ..install.link import forget_launchers
        from ..install.unpack import discard, intact

        bad = []
        for r in ready:
            forget_launchers(interp, r.unpacked, session.cache)  # made again from the tree
            changed = intact(r.unpacked, rehash=True)
            if changed is not None:
                reporter.warning(f"{r.unpacked.manifest['wheel']}: {changed} changed in the "
                                 "cache since it was unpacked; unpacking it again")
                discard(r.unpacked.root)
                bad.append(r.pin)
        if bad:
            again = prepare(bad, client=session.client, cache=session.cache, target=target,
                            build_index=session.settings,
                            offline=resolve_req.offline, reporter=reporter,
                            build_source=lambda: session.build_source)
            redone = {r.pin.name: r for r in again}
            ready = [redone.get(r.pin.name, r) for r in ready]
    check_metadata(ready)
    return ready


def _after(interp, installed: dict, plan: Plan) -> list[str]:
    """What ``pip check`` would say of the environment once ``plan`` is carried out (the
    check the real run makes after linking), for a dry run."""
    from ..install.plan import Installed
    from ..install.verify import check_set

    removed = {c.name for c in plan.to_remove}
    after = {n: d for n, d in installed.items() if n not in removed}
    for c in plan.to_install:
        if c.pin is not None:
            after[c.name] = Installed(c.name, c.pin.display_name, c.pin.version,
                                      str(c.pin.version), Path(f"{c.name}.dist-info"),
                                      requires_dist=tuple(map(str, c.pin.metadata.requires_dist)))
    return check_set(interp, after)


def _refuse_eggs(interp, plan: Plan) -> None:
    """A distribution installed as ``.egg-info`` is refused for replacement: constrain would
    put the new version beside it (two versions of it, the old files left)."""
    eggs = egg_infos(interp)
    hit = sorted(eggs[c.name] for c in plan.to_install if c.name in eggs)
    if hit:
        names = " ".join(sorted({h.split("-", 1)[0] for h in hit}))
        raise ConstrainError(
            f"{', '.join(hit)} in {_where(interp)} {'is' if len(hit) == 1 else 'are'} "
            "installed as .egg-info (by setup.py install or an old pip), which constrain "
            "cannot replace exactly",
            hint=f"remove {'it' if len(hit) == 1 else 'them'} with pip first ({interp.executable}"
            f" -m pip uninstall {names}), then run this command again")


def _refuse_builds(resolve_req: ResolveRequest, plan, session, target) -> None:
    """``--no-build``: the plan may not need a wheel built from an sdist (one built earlier
    is used)."""
    if resolve_req.no_build:
        from ..install.build import refuse_unbuilt

        refuse_unbuilt([c.pin for c in plan.to_install if c.pin is not None], target,
                       session.cache, session.build_source.identity())


def _where(interp) -> str:
    """Where an install changes files, for its summary: a venv's directory; for a system
    interpreter its site-packages (Debian's is under /usr/local, not its prefix /usr)."""
    return interp.prefix if interp.is_venv else interp.paths["purelib"]


def _kept(request: InstallRequest, interp, installed: dict) -> frozenset:
    """What ``--exact`` must keep besides pip: constrain's own distributions, when the
    environment is the one it runs from (``install.plan.own_distributions``)."""
    if not request.exact:
        return frozenset()
    from ..install.plan import own_distributions

    return own_distributions(interp.prefix, installed)


def _reinstall(request: InstallRequest, install_set: InstallSet) -> frozenset:
    return frozenset(p.name for p in install_set.pins) if request.reinstall else frozenset()

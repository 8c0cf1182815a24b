"""``constrain download``: resolve every (python, platform) target and fill one vetted wheelhouse.

The targets are resolved in parallel, in threads sharing one :class:`~constrain.app.session.Session`
(cache, HTTP client, index repository). The union of the files they install is fetched into the
wheelhouse (:mod:`.wheelhouse`: each file once, resumable, hash-checked), then each target gets
its constraints file, requirements with hashes and ``pylock`` file, the constraint files the
resolve read are copied under ``sources/``, ``--layout simple`` adds a PEP 503 tree, and
``manifest.json`` lists every file. Outputs are only rewritten when their content changes, so a
rerun with nothing new touches nothing. Nothing here prints: results are data for ``cli``.
Over 400 lines: the pipeline has many steps (resolve, vet, fetch, build requirements, review
data, consistency, outputs), each a short function here; what they write is in
:mod:`constrain.download.outputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .requests import ResolveRequest
from .resolve import prepare_resolve, resolve_targets, with_hashes
from .session import Session, build_session
from ..errors import ConstrainError, UsageError
from ..models import DistFile, InstallSet, Pin
from ..output.header import format_utc
from ..output.urls import strip_userinfo
from ..reporting import NULL_REPORTER, Reporter
from ..review.consistency import Consistency, check_consistency
from ..target import TargetEnvironment
from ..download.manifest import (
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    TargetEntry,
    read_manifest,
    vetted_digests,
)
from .. import __version__
from ..download.reviewdata import (
    created_time,
    dependency_graph,
    sbom_of,
    why_chains,
    with_why_and_licence,
)
from ..download.outputs import (
    file_entry,
    previous_manifest,
    stale_files,
    write_if_changed,
    write_sources,
    write_target_outputs,
)
from ..download.simple import write_simple_index
from ..download.wheelhouse import FetchReport, Wheelhouse, locked
from ..review.sbom import SBOM_NAME

LAYOUTS = ("flat", "simple")


@dataclass(frozen=True)
class DownloadRequest:
    """Everything ``constrain download`` takes. ``resolve`` carries the shared resolve options
    (its ``python``/``platforms`` are ignored: ``pythons`` x ``platforms`` make the targets)."""

    resolve: ResolveRequest
    dest: str
    pythons: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    layout: str = "flat"
    vetted: tuple[str, ...] = ()
    only_vetted: bool = False
    workers: int = 8
    fail_on_inconsistency: bool = False


@dataclass
class TargetResult:
    """One target: its manifest entry, install set, and the files it needs."""

    entry: TargetEntry
    target: TargetEnvironment
    install_set: InstallSet
    files: tuple[DistFile, ...]
    #: per sdist, what building it needs: for the target's Python, and for this one's
    build_set: dict[str, list[InstallSet]] | None = None


@dataclass
class DownloadResult:
    """What a download did. ``fetched`` says how each file got there; ``written`` lists the
    output files (constraints, locks, manifest, index pages) whose content changed."""

    dest: Path
    manifest: Manifest
    targets: list[TargetResult]
    fetched: FetchReport
    written: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    #: packages that differ across the targets, with the reasons found
    consistency: Consistency | None = None

    @property
    def new_files(self) -> list[FileEntry]:
        """Files not vetted before (what a reviewer must look at)."""
        return [f for f in self.manifest.files if not f.vetted]

    @property
    def downloaded(self) -> list[str]:
        """Files that arrived in the wheelhouse during this run."""
        return sorted(f.file.filename for f in self.fetched.new)


# ---------------------------------------------------------------------- targets
def python_slug(python_short: str) -> str:
    """``3.11`` -> ``cp311`` (``3.13t`` -> ``cp313t``): a dot-free name for pylock files."""
    return "cp" + python_short.replace(".", "")


def make_targets(
    pythons: Sequence[str], platforms: Sequence[str]
) -> list[tuple[str, TargetEnvironment]]:
    """Every (python, platform) pair as ``(id, target)``; the id names the output files:
    ``3.11-manylinux_2_28_x86_64`` when a platform is given (one too: the files and the
    summary say which platform they are for), ``3.11`` for this host's platform."""
    out: dict[str, TargetEnvironment] = {}
    py_choices: Sequence[str | None] = pythons or [None]
    plat_choices: Sequence[str | None] = platforms or [None]
    for py in py_choices:
        for plat in plat_choices:
            target = TargetEnvironment.from_options(py, (plat,) if plat else ())
            tid = target.python_short + (f"-{plat}" if plat else "")
            out.setdefault(tid, target)
    return list(out.items())


def _target_entry(tid: str, target: TargetEnvironment, files: Sequence[DistFile]) -> TargetEntry:
    slug = python_slug(target.python_short) + tid[len(target.python_short):]
    return TargetEntry(
        id=tid,
        python=target.python_short,
        platforms=tuple(target.platforms),
        description=target.describe(),
        constraints=f"constraints-{tid}.txt",
        requirements=f"requirements-{tid}.txt",
        pylock=f"pylock.{slug}.toml",
        files=tuple(sorted(f.filename for f in files)),
    )


# ---------------------------------------------------------------------- the command
def download_command(
    request: DownloadRequest, reporter: Reporter = NULL_REPORTER
) -> DownloadResult:
    """Run ``constrain download`` (see the module docstring). Raises ``UsageError`` for bad
    options, the resolver's errors (naming the target), ``ConstrainError`` when
    ``--only-vetted`` meets unvetted files (before anything is downloaded), and
    ``HashMismatch`` for altered wheelhouse files."""
    if request.layout not in LAYOUTS:
        raise UsageError(f"unknown layout {request.layout!r}",
                         hint=f"choose one of: {', '.join(LAYOUTS)}")
    if request.only_vetted and not request.vetted:
        raise UsageError("--only-vetted needs --vetted PREVIOUS_MANIFEST",
                         hint="name the manifest.json of the wheelhouse that was vetted")
    if not request.dest:  # Path("") is the working directory, which it would fill
        raise UsageError("--dest is empty", hint="give the wheelhouse's directory (an unset "
                         "variable in --dest \"$WHEELHOUSE\" gives an empty one)")
    dest = Path(request.dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"--dest {dest} exists and is not a directory")
    targets = make_targets(request.pythons, request.platforms)
    vetted = vetted_digests(read_manifest(p) for p in request.vetted)
    session = build_session(request.resolve, reporter)
    try:
        prepared = prepare_resolve(request.resolve, session)
        sets = resolve_targets([(prepared, t) for _tid, t in targets], session, reporter)
        consistency = check_consistency(
            [(tid, s) for (tid, _t), s in zip(targets, sets, strict=True)],
            files_of=session.repository.files)
        if request.fail_on_inconsistency and consistency.unexplained:
            raise _inconsistent(consistency)
        # Resolves run side by side; filling the directory is one run at a time (a second
        # run then finds the first one's files present and hash-checks them).
        with locked(dest, on_wait=reporter.warning):
            result = _fill(request, dest, targets, sets, vetted, session, prepared, reporter)
        result.consistency = consistency
        return result
    finally:
        session.close()


def _inconsistent(consistency: Consistency) -> ConstrainError:
    n = len(consistency.unexplained)
    differ = "packages differ" if n != 1 else "package differs"
    return ConstrainError(
        f"--fail-on-inconsistency: {n} {differ} across the targets with no reason found; "
        "nothing was downloaded",
        details=[f"{f.name}: {f.versions_text()} -- {f.why_text()}"
                 for f in consistency.unexplained],
        hint="make the inputs agree (a constraint file that pins one target differently), give "
        "the difference a marker, or drop --fail-on-inconsistency to see it in the summary only",
    )


def _fill(request: DownloadRequest, dest: Path, targets, sets, vetted: frozenset[str],
          session: Session, prepared, reporter: Reporter) -> DownloadResult:
    """Fetch the union of the targets' files into ``dest`` and write every output (the
    caller holds the wheelhouse's lock)."""
    previous = previous_manifest(dest, reporter)
    results = []
    union: dict[str, DistFile] = {}
    pins_of: dict[str, Pin] = {}
    needed_by: dict[str, list[str]] = {}
    for (tid, target), install_set in zip(targets, sets, strict=True):
        files = tuple(p.file for p in install_set.pins)
        for pin in install_set.pins:
            union.setdefault(pin.file.filename, pin.file)
            pins_of.setdefault(pin.file.filename, pin)
            needed_by.setdefault(pin.file.filename, []).append(tid)
        results.append(TargetResult(_target_entry(tid, target, files), target,
                                    install_set, files))
    known = {f.filename: f.sha256 for f in previous.files} if previous else {}
    if request.only_vetted:
        _refuse_unvetted(union, known, vetted)
    house = Wheelhouse(
        dest, session.client, session.cache, reporter=reporter, known=known,
        workers=request.workers,
    )
    fetched = house.fetch(sorted(union.values(), key=lambda f: f.filename))
    build = _build_requirements(results, union, fetched, session, reporter)
    for_build: set[str] = set()
    serves: dict[str, set[str]] = {}  # build tool file -> the sdists it builds
    for t, per_sdist in build:
        t.build_set = per_sdist
        t.entry = dataclasses.replace(t.entry, build_files=tuple(sorted(
            {p.file.filename for sets in per_sdist.values() for s in sets for p in s.pins})))
        for sdist, sets in per_sdist.items():
            for pin in (p for s in sets for p in s.pins):
                name = pin.file.filename
                if name not in union:
                    for_build.add(name)
                union.setdefault(name, pin.file)
                pins_of.setdefault(name, pin)
                serves.setdefault(name, set()).add(sdist)
                if t.entry.id not in needed_by.setdefault(name, []):
                    needed_by[name].append(t.entry.id)
    if for_build:
        extra = [union[n] for n in sorted(for_build)]
        if request.only_vetted:
            _refuse_unvetted({f.filename: f for f in extra}, known, vetted)
        more = house.fetch(extra)
        fetched.files.update(more.files)
    entries = tuple(
        dataclasses.replace(
            file_entry(union[name], pins_of[name], fetched.files[name].sha256,
                        fetched.files[name].size, needed_by[name], vetted),
            for_build=name in for_build,
            builds=tuple(sorted(serves.get(name, ()))),
        )
        for name in sorted(union)
    )
    entries = _review(entries, results, fetched, pins_of, serves, session, previous, reporter)
    def learnt(f: DistFile) -> str | None:  # the sha256 of a file downloaded here
        got = fetched.files.get(f.filename)
        return got.sha256 if got is not None else None

    for t in results:  # hashes learnt by downloading go into the lock and requirements
        t.install_set = with_hashes(t.install_set, learnt)
    written: list[str] = []
    for t in results:
        written += write_target_outputs(dest, t.entry, t.install_set)
    sources = write_sources(dest, {t.entry.id: t.install_set for t in results},
                            session.fetched, written)
    manifest = Manifest(
        files=entries,
        targets=tuple(t.entry for t in results),
        sources=sources,
        requirements=tuple(str(r) for r, _ in prepared.requirements),
        command=request.resolve.command,
        build_exclude_newer=(format_utc(session.build_cutoff)
                             if session.build_cutoff and build else None),
        constrain_version=__version__,
        indexes=_indexes(session),
        sbom=SBOM_NAME,
    )
    manifest = _dated(manifest, prepared.exclude_newer, previous)
    if request.layout == "simple":
        written += [str(p.relative_to(dest)) for p in write_simple_index(dest, entries)]
    depends, roots = dependency_graph((t.install_set for t in results), serves)
    if write_if_changed(dest / SBOM_NAME, sbom_of(manifest, depends, roots)):
        written.append(SBOM_NAME)
    if write_if_changed(dest / MANIFEST_NAME, manifest.to_text()):
        written.append(MANIFEST_NAME)
    stale = stale_files(dest, set(union))
    outputs = {n for t in results for n in (t.entry.constraints, t.entry.requirements,
                                            t.entry.pylock)}
    stale += sorted(p.name for pattern in ("constraints-*.txt", "requirements-*.txt",
                                           "pylock.*.toml")  # a target this run does not have
                    for p in dest.glob(pattern) if p.name not in outputs and p.is_file())
    stats = {
        "targets": len(results),
        "files": len(entries),
        "files_downloaded": len(fetched.new),
        "bytes_downloaded": fetched.bytes_transferred,
        "requests": session.client.counters.requests,
        "bytes_received": session.client.counters.bytes_received,
    }
    return DownloadResult(dest, manifest, results, fetched, written, stale, stats)


def _review(entries: tuple[FileEntry, ...], results: list[TargetResult], fetched: FetchReport,
            pins_of: dict[str, Pin], serves: dict[str, set[str]], session: Session,
            previous: Manifest | None, reporter: Reporter) -> tuple[FileEntry, ...]:
    """``entries`` with why each file is there, its licence (read from the file) and its PEP
    740 provenance (kept from ``previous`` for a file of the same sha256, else asked of the
    index)."""
    from ..review.provenance import lookup

    why: dict[str, list[str]] = {}
    for t in results:
        for name, chain in why_chains(t.install_set).items():
            why.setdefault(name, chain)
    known = {f.filename: f for f in previous.files} if previous else {}
    kept = {n: f for n, f in known.items() if f.provenance_checked}
    ask = [pins_of[e.filename].file for e in entries
           if e.filename not in kept or kept[e.filename].sha256 != e.sha256]
    asked = lookup(session.client, ask, warn=reporter.warning)
    out = []
    for e in entries:
        got = fetched.files.get(e.filename)
        chain = why.get(e.filename) or [f"build tool for {s}" for s in e.builds]
        e = with_why_and_licence(e, chain, got.path if got else None,
                                 pins_of[e.filename].metadata.license)
        if e.filename in asked:
            e = dataclasses.replace(e, provenance=asked[e.filename])
        elif e.filename in kept and kept[e.filename].sha256 == e.sha256:
            e = dataclasses.replace(e, provenance=kept[e.filename].provenance)
        else:  # not asked (--offline): the next run with the network asks
            e = dataclasses.replace(e, provenance=None, provenance_checked=False)
        out.append(e)
    return tuple(out)


def _indexes(session: Session) -> tuple[str, ...]:
    """The index, extra indexes and find-links locations in force, credentials removed."""
    from ..config import default_index_url, find_links_locations

    s = session.settings
    urls = [] if s.no_index else [s.index_url or default_index_url(), *s.extra_index_urls]
    return tuple(strip_userinfo(u) for u in dict.fromkeys([*urls, *find_links_locations(s)]))


def _dated(manifest: Manifest, cutoff, previous: Manifest | None) -> Manifest:
    """``manifest`` with ``created``: the cut-off, or the previous run's time when this run
    changed nothing else (see :func:`.reviewdata.created_time`)."""
    unchanged = previous is not None and dataclasses.replace(
        manifest, created=previous.created, created_from=previous.created_from
    ).to_text() == previous.to_text()
    created, source = created_time(cutoff, previous, unchanged)
    return dataclasses.replace(manifest, created=created, created_from=source)


def _build_requirements(results: list[TargetResult], union: dict[str, DistFile],
                        fetched: FetchReport, session: Session, reporter: Reporter
                        ) -> list[tuple[TargetResult, dict[str, list[InstallSet]]]]:
    """For each target that installs sdists, the build requirements of each of its sdists
    (``[build-system]`` and what the backend adds), resolved under the command's rules for
    the Pythons that may build them on the far side (see :mod:`.buildreqs`); the sdists are
    in the wheelhouse by now."""
    from ..build.sdist import BuildEnvs
    from ..download.buildreqs import resolve_build_requirements, sdist_build_requires

    sdists = sorted(name for name, f in union.items() if not f.is_wheel)
    if not sdists:
        return []
    requires: dict[str, list[str]] = {}
    envs = BuildEnvs(session.cache, build_index=session.settings, reporter=reporter,
                     source=session.build_source)
    try:
        for name in sdists:
            got = fetched.files[name]
            requires[name] = sdist_build_requires(got.path, got.sha256, session, envs)
    finally:
        envs.close()
    out = []
    for t in results:
        mine = {f.filename: requires[f.filename] for f in t.files if f.filename in requires}
        if not mine:
            continue
        reporter.info(f"resolving build requirements of {', '.join(sorted(mine))} for "
                      f"{t.target.describe()}")
        out.append((t, resolve_build_requirements(mine, session, t.target)))
    return out


def _refuse_unvetted(union: dict[str, DistFile], known: dict[str, str],
                     vetted: frozenset[str]) -> None:
    new = []
    for name, f in sorted(union.items()):
        digest = (f.sha256 or known.get(name) or "").lower()
        if digest not in vetted:
            new.append(f"{name} ({'sha256:' + digest if digest else 'no sha256 known'})")
    if new:
        raise ConstrainError(
            f"--only-vetted: {len(new)} file{'s' if len(new) != 1 else ''} not vetted before; "
            "nothing was downloaded",
            details=new,
            hint="have these files vetted (drop --only-vetted to download them for review), "
            "or pin the versions the vetted manifest lists with -c",
        )

"""Reconstruct the constraints an Airflow release would have published for a target Python.

The release is resolved (with the user's extras) as of its own upload time, highest versions,
the policies' bounds and the user's own constraints and requirements in force. A target newer
than the release can meet pins that cannot be had for it: no wheel for its Python and an sdist
that does not build, or no release of a project as of that date with a file for it. Such a
package *moves*: to its earliest release that installs on the target (a wheel for it, or an
sdist that builds; requires-python honoured), no later than the user's ``--exclude-newer``;
a compiled release made for older Pythons moves unbuilt to a compatible successor with a wheel
(:mod:`.moves` decides which release and words why). Only what a move requires moves too (a moved release needing ``foo>=2`` moves ``foo``); the
rest stays at the release date, and the set is re-resolved after each move. Every move is
returned (from, to, why, the date of the release moved to) for the header and the summary.

When nothing can move (the release itself excludes the target, or a project has no release
that installs), :class:`UnsupportedTarget` says so in one line, names the Pythons the release
supports and the command that uses one of them.

What was learnt (moves, versions that do not build) is cached per release, date and target,
so a rerun re-resolves once instead of rebuilding what failed. Over 400 lines: the loop and
the state it learns are one class; the pure decisions are in :mod:`.moves`, the reads of the
release in :mod:`.probes`.

Over 400 lines: the reconstruction and its moves are one algorithm; release probes live in
probes.py and the choice of a move in moves.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import BuildError, ConstrainError, ResolutionImpossible
from ..models import DistFile, InstallSet, Origin
from ..output.header import format_utc
from ..reporting import Reporter
from . import published as af
from .probes import check_release_python, classifier_pythons, release_time, sdist_builder
from .moves import (
    Move,
    UnsupportedTarget,
    first_installable,
    foreign_wheels,
    required_of,
    spec_of,
    unsupported_error,
)

if TYPE_CHECKING:
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment
    from ..policies.bounds import BoundPolicy
    from .ports import Resolving

_BUCKET = "reconstructions"
_RULES = 2  # bump when what a move may choose changes: learnt moves of older rules are void
_ROUNDS = 40  # each round moves at least one package; a release has a few hundred pins


@dataclass(frozen=True)
class Reconstruction:
    """The reconstructed pins (as constraints), where they came from, the note for the
    header and the moves made."""

    pairs: list[tuple[Requirement, Origin]]
    source: str
    note: str
    moves: tuple[Move, ...] = ()
    #: the date the set is as of, and why that date ("the release's upload time", ...)
    basis: datetime | None = None
    why: str = ""
    #: identifies this reconstruction (release, date, target, inputs) in the cache
    key: str = ""
    #: the user's --exclude-newer, when given
    limit: datetime | None = None

    @property
    def summary(self) -> str:
        """For the command's summary line: as of which date, and why that one."""
        later = (f"; --exclude-newer {format_utc(self.limit)} limits only the packages moved "
                 "past it" if self.limit and self.basis and self.limit > self.basis else "")
        return f"{self.source} ({self.why}{later})" if self.why else self.source


class _Reconstructor:
    """One reconstruction: its inputs, what it learnt, and the loop that re-resolves."""

    def __init__(self, session: Resolving, target: TargetEnvironment, options: ResolveOptions,
                 reporter: Reporter, req: Requirement,
                 basis: datetime, limit: datetime | None, fixed: list, available,
                 user: Sequence[tuple[Requirement, Origin]] = ()) -> None:
        self.session, self.target, self.options, self.reporter = session, target, options, reporter
        self.req, self.basis, self.limit, self.fixed = req, basis, limit, fixed
        self.user = user  # the user's own (in ``fixed`` too): the pins premove() looks at
        self.available = available  # Pythons with published files, when known
        self.moves: dict[str, Move] = {}
        self.failed: dict[str, set[Version]] = {}  # versions whose sdist does not build
        self.built: set[tuple[str, Version]] = set()  # sdists that built for the target
        #: what the set requires of a project (its parents' specifiers): moves must fit them
        self.required: dict[str, list[SpecifierSet]] = {}
        #: compiled releases to build after all (no later wheel fits what the set requires)
        self.keep: set[tuple[str, Version]] = set()
        self.compiled: set[tuple[str, Version]] = set()  # moved on without being built
        self.untested: tuple[str, ...] = ()  # sdist pins no build here can check
        self.key = self._key()

    # ----------------------------------------------------------------- state and cache
    def _key(self) -> str:
        t = self.target
        payload = [_RULES, str(self.req), self.basis.isoformat(), str(self.limit),
                   list(t.python_version), list(t.platform_tags), sorted(t.markers.items()),
                   [str(r) for r, _ in self.fixed],
                   [self.session.settings.index_url, list(self.session.settings.extra_index_urls),
                    list(self.session.settings.find_links)]]
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:40]

    def load(self) -> None:
        raw = self.session.cache.get(_BUCKET, self.key)
        if raw is None:
            return
        try:
            data = json.loads(raw)
            self.moves = {m["name"]: Move.from_json(m) for m in data["moves"]}
            self.failed = {n: {Version(v) for v in vs} for n, vs in data["failed"].items()}
            self.compiled = {(n, Version(v)) for n, v in data["compiled"]}
            self.keep = {(n, Version(v)) for n, v in data["keep"]}
        except (ValueError, KeyError, TypeError, InvalidVersion):
            self.moves, self.failed, self.compiled, self.keep = {}, {}, set(), set()

    def save(self) -> None:
        data = {"moves": [m.to_json() for m in self.moves.values()],
                "failed": {n: sorted(str(v) for v in vs) for n, vs in self.failed.items()},
                "compiled": sorted([n, str(v)] for n, v in self.compiled),
                "keep": sorted([n, str(v)] for n, v in self.keep)}
        self.session.cache.put(_BUCKET, self.key, json.dumps(data, sort_keys=True).encode())

    # ----------------------------------------------------------------- resolving
    def constraints(self) -> list[tuple[Requirement, Origin]]:
        moved = Origin("reconstruction: moved past the release date")
        return [*self.fixed, *((Requirement(f"{m.name}=={m.to_version}"), moved)
                               for m in self.moves.values())]

    def resolve(self) -> InstallSet:
        opts = dataclasses.replace(
            self.options, exclude_newer=self.basis,
            exclude_newer_package=tuple(sorted((n, m.cutoff) for n, m in self.moves.items())))
        return self.session.resolve([(self.req, Origin("reconstruction"))], self.constraints(),
                                    self.target, opts, self.reporter)

    def run(self, builder: Callable[[DistFile], None] | None) -> InstallSet:
        """Resolve, move what cannot be had, re-resolve, until the set installs."""
        self.load()
        self.premove()
        for _ in range(_ROUNDS):
            try:
                install_set = self.resolve()
            except BuildError as exc:
                if exc.pin is None:
                    raise
                self.not_building(*exc.pin, exc)
                continue
            except ResolutionImpossible as exc:
                if not self.widen(exc):
                    raise
                continue
            broken = self.check_builds(install_set, builder)
            if not broken:
                pinned = {p.name for p in install_set.pins}  # a user pin off the set moved nothing
                self.moves = {n: m for n, m in self.moves.items() if n in pinned}
                self.save()
                return install_set
            for name, version, err in broken:
                self.not_building(name, version, err)
        raise ConstrainError(f"reconstructing {self.req} for {self.target.describe()} did not "
                             f"settle after {_ROUNDS} rounds of moves",
                             details=[m.line() for m in self.moves.values()],
                             hint="pin the moved packages with -c FILE and "
                             "--airflow-constraints reconstructed")

    def check_builds(self, install_set: InstallSet, builder):
        """Pins whose file for the target is an sdist, built for the target (cached, in
        parallel; each version once): the ones that fail, as ``(name, version, error)``."""
        from concurrent.futures import ThreadPoolExecutor

        sdists = [p for p in install_set.pins if not p.file.is_wheel and p.name != af.AIRFLOW]
        compiled = []
        for pin in sdists:
            # A compiled release made for older Pythons, with a later release that has a
            # wheel for the target and fits what the set requires of it: that release, not a
            # build of this one (a build from source would take long, depend on this
            # machine's compilers and headers, and often fail); the same answer everywhere.
            if (pin.name, pin.version) in self.keep or not foreign_wheels(
                    self._files(pin.name), pin.version, self.target):
                continue
            self.required.setdefault(pin.name, []).extend(required_of(install_set, pin.name,
                                                                       self.target))
            if self._later_wheel(pin.name, pin.version) is not None:
                compiled.append((pin.name, pin.version, None))
        if compiled:
            return compiled
        if builder is None:
            self.untested = tuple(f"{p.display_name}=={p.version}" for p in sdists)
            return []
        self.untested = ()
        todo = [p for p in sdists if (p.name, p.version) not in self.built]

        def one(pin):
            self.reporter.info(f"reconstruction: checking that {pin.display_name} "
                               f"{pin.version} builds for {self.target.describe()}")
            try:
                builder(pin.file)
            except BuildError as exc:
                return pin.name, pin.version, exc
            self.built.add((pin.name, pin.version))
            return None

        if not todo:
            return []
        ex = ThreadPoolExecutor(min(4, len(todo)), thread_name_prefix="constrain-recon")
        try:
            return [r for r in ex.map(one, todo) if r is not None]
        finally:  # interrupted: builds not started are dropped, not waited for
            ex.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- moving
    def _user_specs(self, name: str) -> list[SpecifierSet]:
        return [r.specifier for r, _ in self.fixed
                if canonicalize_name(r.name) == name and self.target.evaluate(r.marker)]

    def _files(self, name: str):
        return self.session.repository.files(NormalizedName(name))

    def _specs(self, name: str) -> list[SpecifierSet]:
        return [*self._user_specs(name), *self.required.get(name, ())]

    def _later_wheel(self, name: str, version: Version):
        """The first later release with a wheel for the target in the same series (same
        major version; same minor for 0.x): a compatible successor, not a new major line
        (pendulum 2 -> 3 broke Airflow 2.3 at run time, which metadata does not show)."""
        series = (SpecifierSet(f"=={version.major}.{version.minor}.*") if version.major == 0
                  else SpecifierSet(f"=={version.major}.*"))
        return first_installable(name, self._files(name), self.target, after=version,
                                 specifiers=[*self._specs(name), series], limit=self.limit,
                                 skip=frozenset(self.failed.get(name, ())), wheels_only=True)

    def not_building(self, name: str, version: Version, exc: BuildError | None) -> None:
        """``name`` ``version`` has no file for the target that installs (``exc``: its
        build failed; ``None``: a compiled release for other Pythons): move it on."""
        name = canonicalize_name(name)
        if name == af.AIRFLOW and exc is not None:
            raise exc
        tag = self.target.tags[0].interpreter if self.target.tags else self.target.python_short
        foreign = foreign_wheels(self._files(name), version, self.target)
        self.failed.setdefault(name, set()).add(version)
        was = self.moves.get(name)
        origin = was.from_version if was is not None else version
        found = self._later_wheel(name, version) if foreign else None
        if found is None:
            found = first_installable(name, self._files(name), self.target, after=version,
                                      specifiers=self._specs(name), limit=self.limit,
                                      skip=frozenset(self.failed[name]))
        if exc is None:
            self.compiled.add((name, version))
            why = (f"{self._miss(name, version, tag, foreign)}, and a compiled release is not "
                   "built from source when a later one has a wheel")
        else:
            why = f"no wheel for {tag} and the sdist does not build"
        if was is not None:  # moved before (a chain's move): both reasons count
            why = f"{was.why}; then {name} {was.to_version}: {why}"
        if found is None:
            raise self.unsupported(f"{name} {version} has no wheel for {tag}, its sdist does not "
                                   "build, and no later release"
                                   + (f" up to {format_utc(self.limit)}" if self.limit else "")
                                   + " installs on it", exc)
        self._move(name, origin, found, why)

    def _miss(self, name: str, version: Version, tag: str, foreign: list[str]) -> str:
        """Why no wheel of ``version`` fits: made for other Pythons, or (it has ``tag``
        wheels) for other platforms."""
        if tag not in foreign:
            return f"no wheel for {tag} (its wheels are for {', '.join(foreign)})"
        platforms = sorted({t.platform for f in self._files(name)
                            if f.version == version and f.is_wheel
                            for t in f.tags if t.interpreter == tag})
        where = ", ".join(self.target.platforms) or "this platform"
        return f"no {tag} wheel for {where} (its {tag} wheels are for {', '.join(platforms)})"

    def premove(self) -> None:
        """Move, before the first resolve, each project the user's own requirements and
        constraints allow no release of as of the date (a pin from a newer set): all at once,
        where :meth:`widen` would learn them from one failed resolve each."""
        from ..policies.filters import FilePolicy, group_versions

        for r, origin in self.user:
            name = canonicalize_name(r.name)
            if name == af.AIRFLOW or name in self.moves or not self.target.evaluate(r.marker):
                continue
            specs = self._user_specs(name)
            files = self._files(name)
            seen = group_versions(name, files, self.target, FilePolicy("disallow", self.basis))
            if any(vf.files and all(s.contains(vf.version, prereleases=True) for s in specs)
                   for vf in seen):
                continue
            found = first_installable(name, files, self.target, after=None, specifiers=specs,
                                      limit=self.limit, skip=frozenset(self.failed.get(name, ())),
                                      prereleases=any(s.prereleases for s in specs))
            if found is None:
                continue  # the resolve says what is wrong, with the whole chain
            before = next((vf.version for vf in seen if vf.files and not vf.pre), None)
            self._move(name, before, found, f"yours: {r} ({origin}) has no release as of the date")

    def widen(self, exc: ResolutionImpossible) -> bool:
        """Move each project of ``exc`` that no release as of its date can satisfy, to its
        earliest release that does and installs; ``False`` when there is none to move."""
        from ..policies.filters import FilePolicy, group_versions

        moved = False
        for project, spec_text, by in exc.unmatched:
            name = canonicalize_name(project)
            spec = SpecifierSet(spec_text)
            specs = [spec, *self._user_specs(name)]
            move = self.moves.get(name)
            if move is not None and not spec.contains(move.to_version, prereleases=True):
                moved = self._rechoose(move, spec) or moved
                continue
            if name == af.AIRFLOW or name in self.moves:
                continue
            files = self._files(name)
            seen = group_versions(name, files, self.target, FilePolicy("disallow", self.basis))
            if any(all(s.contains(vf.version, prereleases=True) for s in specs) and vf.files
                   for vf in seen):
                continue  # a real conflict of versions as of the date, not a missing release
            found = first_installable(name, files, self.target, after=None, specifiers=specs,
                                      limit=self.limit,
                                      skip=frozenset(self.failed.get(name, ())))
            if found is None:
                continue
            before = next((vf.version for vf in seen if vf.files and not vf.pre), None)
            parent = canonicalize_name(by.split("==", 1)[0].split("[", 1)[0])
            if "==" not in by:
                why = (f"{name}{spec} (from {by}) has no release as of the date with a file "
                       f"for Python {self.target.python_short}")
            elif parent in self.moves:
                why = f"needed by {by}, itself moved: {name}{spec}"
            else:
                why = f"needed by {by}: {name}{spec} has no release as of the date"
            self._move(name, before, found, why)
            moved = True
        return moved

    def _rechoose(self, move: Move, spec: SpecifierSet) -> bool:
        """``move`` went where a requirement of the set (``spec``) excludes: choose again
        within it, or -- a compiled release moved on unbuilt -- build that release after all."""
        name = move.name
        self.required.setdefault(name, []).append(spec)
        tried = sorted(self.failed.get(name, ()))
        start = tried[0] if tried else move.from_version
        found = first_installable(name, self._files(name), self.target, after=start,
                                  specifiers=self._specs(name), limit=self.limit,
                                  skip=frozenset(tried))
        if found is not None:
            self._move(name, move.from_version, found, move.why)
            return True
        unbuilt = [v for v in tried if (name, v) in self.compiled]
        if not unbuilt:
            return False
        del self.moves[name]
        for v in unbuilt:
            self.failed[name].discard(v)
            self.keep.add((name, v))
        return True

    def _move(self, name: str, before: Version | None, found, why: str) -> None:
        version, released, cutoff = found
        move = Move(name, before, version, released, cutoff, why)
        self.moves[name] = move
        self.reporter.info(f"reconstruction: moving {move.line()}")

    def unsupported(self, reason: str, cause: ConstrainError | None = None) -> UnsupportedTarget:
        return unsupported_error(self.req, self.target, reason, self.available,
                                 self.session.request.command if self.session else "",
                                 cause)


def reconstruct(airflow: af.AirflowRequirement, mode: str, policies: Sequence[BoundPolicy],
                session: Resolving, target: TargetEnvironment,
                options: ResolveOptions, reporter: Reporter, *,
                requirements: Sequence[tuple[Requirement, Origin]] = (),
                constraints: Sequence[tuple[Requirement, Origin]] = (),
                available: Sequence[str] | None = None) -> Reconstruction:
    """Rebuild the constraints the release would have had for ``target`` (see the module
    docstring): ``airflow`` is the requirement pinning the release, ``mode`` the constraints
    mode, ``policies`` the bounds in force. ``requirements``/``constraints`` are the user's: they apply inside the
    reconstruction (a requirement as a constraint on the same project). ``available``: the
    Pythons the release has published files for, when known (for the refusal)."""
    from ..errors import UsageError
    from ..policies.bounds import bounds_for

    version = airflow.version
    if version is None:
        raise UsageError("reconstruction needs apache-airflow pinned with ==X.Y.Z")
    released = release_time(session.repository, version)
    limit = options.exclude_newer
    if limit is not None and limit < released:
        basis, why = limit, "the --exclude-newer cut-off"
    else:
        basis, why = released, "the release's upload time"
    extras = "" if mode == "constraints-no-providers" else (
        f"[{','.join(sorted(airflow.requirement.extras))}]"
        if airflow.requirement.extras else "")
    req = Requirement(f"{af.AIRFLOW}{extras}=={version}")
    bounds, _ = bounds_for(policies, {})
    user: list[tuple[Requirement, Origin]] = []
    for r, origin in [*requirements, *constraints]:
        spec = spec_of(r)
        if spec is not None and canonicalize_name(r.name) != af.AIRFLOW:
            user.append((spec, origin))
    if available is None:
        available = classifier_pythons(session, version)
    check_release_python(session, version, target, req, available)
    reporter.info(f"reconstructing Airflow constraints: {req} as of {format_utc(basis)}")
    work = _Reconstructor(session, target, options, reporter, req, basis, limit,
                          [*(b.constraint() for b in bounds), *user], available, user)
    build, close = sdist_builder(session, target, reporter)
    try:
        install_set = work.run(build)
    except UnsupportedTarget:
        raise
    except ConstrainError as exc:
        exc.details = (*exc.details, f"(while reconstructing {req} as of {format_utc(basis)} "
                       f"for {target.describe()})",
                       *(f"(moved: {m.line()})" for m in work.moves.values()))
        if exc.hint and "!=" in exc.hint:  # an exclusion to add: say how it reaches here
            exc.hint += ("; inside a reconstruction, give it as a requirement on the command "
                         "line, or as -c FILE together with --airflow-constraints reconstructed "
                         "(a -c file alone replaces Airflow's constraints)")
        raise
    finally:
        close()
    source = f"reconstructed {req} as of {format_utc(basis)}"
    pairs = [
        (Requirement(f"{p.display_name}=={p.version}"), Origin(source, n))
        for n, p in enumerate((p for p in install_set.pins if p.name != af.AIRFLOW), start=1)
    ]
    later = ""
    if limit is not None and limit > released:
        later = (f"; the --exclude-newer cut-off {format_utc(limit)} is later than the release "
                 "and limits only the packages moved past it")
    note = (f"Airflow constraints reconstructed, not published: {req} resolved for "
            f"{target.python_short} with highest versions, files uploaded after "
            f"{format_utc(basis)} ({why}) excluded{later}"
            + (", policies " + ", ".join(b.policy.display_name + str(b.specifier)
                                         for b in bounds) if bounds else "")
            + (f", your constraints applied ({', '.join(str(r) for r, _ in user)})"
               if user else "")
            + f"; {len(pairs)} pins"
            + (f", {len(work.moves)} moved past the release date" if work.moves else "")
            + ("; not test-built (no wheel for this target, and "
               + ("--no-build is set" if session.request.no_build else
                  "builds here are for another Python or platform")
               + f"): {', '.join(work.untested)}" if work.untested else ""))
    moves = tuple(sorted(work.moves.values(), key=lambda m: m.name))
    return Reconstruction(pairs, source, note, moves, basis=basis, why=why, key=work.key,
                          limit=limit)

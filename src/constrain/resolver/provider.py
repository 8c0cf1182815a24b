"""The resolvelib provider: candidates from a MetadataProvider, filtered by target and policies.

:class:`ConstrainProvider` answers resolvelib's questions (identify, find_matches,
is_satisfied_by, get_dependencies, get_preference) for one target. It reads the world only
through :class:`~constrain.models.MetadataProvider`: files per project (once each), metadata
per candidate version (once each, lazily), and it hints ahead with ``prefetch`` so that a cold
resolve waits on the depth of the dependency graph rather than on one request at a time.

Extras follow pip: the candidate ``foo[a]==1.0`` depends on ``foo==1.0`` plus the requirements
that only the extra brings in. A version whose metadata Requires-Python excludes the target
depends on the synthetic :data:`~constrain.resolver.candidates.PYTHON` project with that
specifier, which only the target's Python can satisfy, so resolvelib backtracks over it.

Over 400 lines: one class answering resolvelib's questions and prefetching ahead of them; its
pure helpers are in dependencies.py, limits.py and matches.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import AbstractProvider

from ..errors import (
    BuildError,
    BuildRequirementsUnavailable,
    ConstrainError,
    ProjectNotFound,
)
from ..models import (
    COMMAND_LINE,
    CoreMetadata,
    DistFile,
    MetadataProvider,
    ProjectFiles,
    UnreadableLine,
)
from ..policies.filters import (
    FilePolicy,
    VersionFiles,
    choice_of,
    group_versions,
    iter_choices,
    iter_usable,
)
from ..reporting import Reporter
from ..target import TargetEnvironment
from .candidates import PYTHON, Candidate, ConstraintIndex, Req, python_candidate, split_identifier
from .dependencies import (
    Dependencies,
    MarkerMemo,
    extra_dependencies,
    unreadable_applying,
    unreadable_error,
)
from .limits import Limits
from .matches import (
    LazyMatches,
    criterion_of,
    pin_of,
    pinned_versions,
    with_public_version,
    requirement_count,
)
from .preference import Chooser, OpenQueue, choose_first


#: Releases fetched ahead when the crawl sees a version that a top-level pin rules out.
WALK_AHEAD = 16


class ConstrainProvider(AbstractProvider):
    """resolvelib's view of the package world for one target, one set of constraints and
    one policy. Keeps the per-resolve caches (files, versions, metadata) and the record of
    who asked for what, which explanations and the install set read afterwards."""

    def __init__(
        self,
        source: MetadataProvider,
        target: TargetEnvironment,
        policy: FilePolicy,
        constraints: ConstraintIndex,
        reporter: Reporter,
    ) -> None:
        self.source = source
        self.target = target
        self.policy = policy
        self.constraints = constraints
        self.reporter = reporter
        self._markers = MarkerMemo(target)  # the resolver thread's: prefetch threads ask target
        self._dependency = Dependencies()  # a Requires-Dist line -> Req, once per line object
        self._files: dict[str, Sequence[DistFile]] = {}
        self._versions: dict[str, Sequence[VersionFiles]] = {}
        self._metadata: dict[tuple[str, Any], CoreMetadata] = {}
        self._invalid_extras: dict[tuple[str, Any], frozenset[str]] = {}
        self._prefetched: set[str] = set()
        self._prefetch_lock = threading.Lock()
        self._crawl_budget = 2000  # speculative hints, so a huge graph cannot run away
        #: identifier -> every (requirement, parent) seen, in order; parent None = top level
        self.asked: dict[str, list[tuple[Req, Candidate | None]]] = {}
        self.user_named: set[str] = set()
        self._matching: dict[tuple[str, str], dict] = {}  # (project, spec) -> version -> fits
        self._matches: dict[tuple, LazyMatches] = {}
        self._limits = Limits(constraints)
        self._exact_limit: dict[str, Any] = {}  # limit text -> public version it pins, or None
        self.requirements_matched = 0  # work counter (ResolveStats.requirements_matched)
        self._tried: dict[str, int] = {}  # project -> candidates whose dependencies were asked
        self._version_index: dict[str, dict] = {}
        self._identifiers: dict[str, tuple[str, frozenset[NormalizedName]]] = {}
        self._pinned: dict[tuple[str, Any], tuple[VersionFiles, ...]] = {}  # _pinned_versions
        self._root_pins: dict[str, list[Req]] = {}  # exact top-level pins, for the crawl
        self.chooser = Chooser(constraints, self.user_named)
        #: does the source act on hints? (an offline repository ignores them: no closures
        #: made for it, ~5,000 prefetch calls in the large Airflow resolve)
        self._hints = not getattr(source, "offline", False)
        self._hints_files = self._hints and hasattr(source, "prefetch_files")

    # ------------------------------------------------------------------ the world, cached
    def files(self, project: str) -> Sequence[DistFile]:
        """Every file the source lists for ``project`` (asked once). A missing project is
        reported with the chains that asked for it."""
        if project not in self._files:
            try:
                found = self.source.files(NormalizedName(project))
                self._files[project] = found if isinstance(found, ProjectFiles) else tuple(found)
            except ProjectNotFound as exc:
                wanted = [
                    "required by " + self.requirement_chain(req, parent)
                    for key, asked in self.asked.items()
                    if key.split("[", 1)[0] == project
                    for req, parent in asked
                ]
                raise ProjectNotFound(
                    exc.project,
                    suggestions=exc.suggestions,
                    hint=exc.hint,
                    locations=exc.locations,
                    details=tuple(exc.details) + tuple(dict.fromkeys(wanted))[:3],
                ) from None
        return self._files[project]

    def versions(self, project: str) -> Sequence[VersionFiles]:
        """Versions of ``project`` with files usable on the target after the file policies."""
        if project not in self._versions:
            self._versions[project] = group_versions(
                project, self.files(project), self.target, self.policy
            )
        return self._versions[project]

    def metadata(self, candidate: Candidate) -> CoreMetadata:
        """Core metadata of the candidate's version, from its best file (asked once)."""
        key = (candidate.name, candidate.version)
        if key not in self._metadata:
            try:
                self._metadata[key] = self.source.metadata(candidate.best_file)
            except BuildError as exc:
                raise self._build_failure(candidate, exc) from None
        return self._metadata[key]

    def _build_failure(self, candidate: Candidate, exc: BuildError) -> BuildError:
        """The build error, saying which pin needed it, why, and the ways out."""
        base = Candidate(candidate.name, candidate.version, frozenset(), candidate.files,
                         candidate.yanked)
        chain = " -> ".join(self.chain(base)) or f"{candidate.name}=={candidate.version}"
        if isinstance(exc, BuildRequirementsUnavailable):  # its hint is the way out
            return BuildRequirementsUnavailable(
                f"{candidate.name} {candidate.version} has no wheel for "
                f"{self.target.describe()}, and the build requirements of "
                f"{candidate.best_file.filename} cannot be had",
                details=(f"needed by {chain}", exc.message, *exc.details),
                locations=exc.locations, pin=(candidate.name, candidate.version),
                hint=exc.hint)
        return BuildError(
            f"{candidate.name} {candidate.version} has no wheel for {self.target.describe()}, "
            f"and building its metadata from {candidate.best_file.filename} failed",
            details=(f"needed by {chain}", exc.message, *exc.details),
            locations=exc.locations,
            pin=(candidate.name, candidate.version),
            hint=f"exclude that version (a -c file with '{candidate.name}!="
            f"{candidate.version}') or pin one that has a wheel for this target; or: {exc.hint}"
            + _uploaded(candidate) if exc.hint else f"exclude that version (a -c file with '{candidate.name}!="
            f"{candidate.version}'), pin one that has a wheel for this target, or fix the "
            "build (compilers, system libraries, build constraints)",
        )

    def invalid_extras(self, name: str, version: Any) -> frozenset[str]:
        """Extras asked of this version that its metadata does not provide (ignored)."""
        return self._invalid_extras.get((name, version), frozenset())

    # ------------------------------------------------------------------ prefetch
    def add_roots(self, roots: Sequence[Req]) -> None:
        """Record the top-level requirements and prefetch their projects."""
        for req in roots:
            self.asked.setdefault(req.key, []).append((req, None))
            self.user_named.add(req.name)
            if req.pinned:
                self._root_pins.setdefault(req.name, []).append(req)
        for req in roots:
            self.prefetch(req)

    def prefetch(self, req: Req) -> None:
        """Hint the source that ``req``'s project is needed, choosing the best file of the
        highest version that passes the policies, ``req`` and the constraints, so its metadata
        is fetched in the background."""
        if not self._hints:
            return
        with self._prefetch_lock:  # also called from prefetch threads (the crawl below)
            if req.name == PYTHON or req.name in self._prefetched:
                return
            self._prefetched.add(req.name)
        name, target, policy = req.name, self.target, self.policy
        specs = [req.specifier, *self.constraints.specifiers(req.name)]

        def choose(files: Sequence[DistFile]) -> Iterable[DistFile]:
            try:  # the first choice only: later versions' files are never looked at
                first = next(iter_choices(
                    group_versions(name, files, target, policy), specs, policy.prerelease
                ), None)
            except ConstrainError:
                return []  # surfaces on the real call
            return [first.files[0]] if first is not None else []

        extras = req.extras

        def then(metadata: CoreMetadata) -> None:
            """Crawl on: the likely version's own dependencies are likely needed next; and
            when that version cannot go with a top-level pin, its predecessors are next."""
            if self._crawl_budget <= 0:
                return
            needed = [r for r in metadata.requires_dist if target.evaluate(r.marker, extras)]
            if any(self._excludes_exact_pin(r) for r in needed):
                self._walk_ahead(name, metadata.version, specs)
            for r in needed:
                self._crawl_budget -= 1
                self.prefetch(Req.from_requirement(r))

        self.source.prefetch(NormalizedName(name), choose, then)

    def _excludes_exact_pin(self, requirement) -> bool:
        """Does ``requirement`` exclude what a top-level requirement or a constraint pins
        exactly (a provider release needing ``apache-airflow>=3`` when
        ``apache-airflow==2.10.5`` was asked)?"""
        name = canonicalize_name(requirement.name)
        pins = [*self._root_pins.get(name, ()),
                *(Req(name, c.specifier) for c in self.constraints.on(name))]
        for pin in pins:
            versions = pinned_versions(pin)
            if versions and not any(
                requirement.specifier.contains(v, prereleases=True) for v in versions
            ):
                return True
        return False

    def _walk_ahead(self, name: str, version, specs) -> None:
        """The resolver will reject ``version`` and walk down ``name``'s releases, fetching
        each one's metadata in turn; fetch the next ones now, while the crawl runs, instead
        of one round trip per release when the resolver gets there."""
        if not self._hints_files:
            return
        ahead: list[DistFile] = []
        for vf in self.versions(name):
            if len(ahead) >= WALK_AHEAD:
                break
            if vf.version >= version or (vf.pre and not version.is_prerelease):
                continue
            if all(s.contains(vf.version, prereleases=True) for s in specs) and vf.files:
                ahead.append(vf.files[0])
        if ahead:
            self.source.prefetch_files(ahead)

    # ------------------------------------------------------------------ resolvelib API
    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.key

    def narrow_requirement_selection(
        self, identifiers, resolutions, candidates, information, backtrack_causes
    ) -> Iterable[str]:
        """The one identifier :meth:`get_preference` ranks first: the same choice as
        resolvelib's ``min`` over it, made in one pass with each criterion's sort keys kept
        (see :class:`~constrain.resolver.preference.Chooser`)."""
        return choose_first(
            self.chooser, identifiers, resolutions, candidates, backtrack_causes,
            lambda i: self.get_preference(i, resolutions, candidates, information,
                                          backtrack_causes))

    def open_queue(self) -> OpenQueue:
        """What resolver/loop.py chooses with: :meth:`narrow_requirement_selection`'s choice,
        from sort keys kept between rounds."""
        return OpenQueue(self.chooser)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ):
        return self.chooser.preference(
            identifier, criterion_of(candidates, identifier),
            (info.requirement for info in information[identifier]), candidates[identifier],
            backtrack_causes)

    def limits(
        self, identifier: str, name: str, requirements: Mapping[str, Iterator[Req]]
    ) -> dict[str, SpecifierSet]:
        """Every specifier that limits ``identifier`` by text, each distinct one once (see
        :class:`~constrain.resolver.limits.Limits`)."""
        return self._limits.of(identifier, name, requirements)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Any:
        if identifier == PYTHON:
            python = python_candidate(self.target)
            ok = all(r.contains(python.version) for r in requirements[identifier])
            return [python] if ok else []
        self.requirements_matched += requirement_count(requirements, identifier)
        # the identifier names the project and the extras its requirements all have (also
        # when resolvelib's backjump asks about a criterion left without requirements)
        name, extras = self._split(identifier)
        bad = frozenset(c.version for c in incompatibilities.get(identifier, ()))
        limits = self.limits(identifier, name, requirements)
        # resolvelib asks again whenever a criterion changes; the same limits give the same
        # (lazily produced, replayable) answer.
        key = (identifier, frozenset(limits), bad)
        known = self._matches.get(key)
        if known is not None:
            return known
        versions = self._pinned_versions(name, limits)
        specs = list(limits.values())
        tests = tuple((spec, self._matching.setdefault((name, k), {}))
                      for k, spec in limits.items())

        def fits(version) -> bool:
            for spec, memo in tests:
                ok = memo.get(version)
                if ok is None:
                    ok = memo[version] = spec.contains(version, prereleases=True)
                if not ok:
                    return False
            return True

        def make(vf: VersionFiles) -> Candidate:
            c = choice_of(vf, specs)
            return Candidate(name, c.version, extras, c.files, c.yanked)
        walk = iter_usable(versions, specs, self.policy.prerelease, fits)
        matches = self._matches[key] = LazyMatches(
            (vf for vf in walk if vf.version not in bad) if bad else walk, make)
        return matches

    def _split(self, identifier: str) -> tuple[str, frozenset[NormalizedName]]:
        found = self._identifiers.get(identifier)
        if found is None:
            found = self._identifiers[identifier] = split_identifier(identifier)
        return found

    def _pinned_versions(self, name: str, limits: Mapping[str, SpecifierSet]
                         ) -> Sequence[VersionFiles]:
        """The versions of ``name`` that ``limits`` may admit, in order: with an exact limit
        (``==X``, ``===X``) only those whose public version equals X (no other can satisfy
        it), not the whole release history (``apache-airflow``, 480 releases, is matched
        1,800 times in the large Airflow resolve, each time under its ``==`` pin)."""
        pin = pin_of(limits, self._exact_limit)
        if pin is None:
            return self.versions(name)
        found = self._pinned.get((name, pin))
        if found is None:
            found = self._pinned[name, pin] = with_public_version(self.versions(name), pin)
        return found

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        return requirement.contains(candidate.version)

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        if candidate.name == PYTHON:
            return []
        if not candidate.extras:
            self._look_ahead(candidate)
        md = self.metadata(candidate)
        if md.unreadable:
            self._check_unreadable(candidate, md)
        deps: list[Req | None]
        if candidate.extras:
            deps = [Req(candidate.name, exact=candidate.version)]
            deps += self._extra_dependencies(candidate, md)
        else:
            if md.requires_python is not None and not self.target.python_matches(
                md.requires_python
            ):
                # Unusable on the target: depend on a Python that cannot be found.
                return [Req(PYTHON, specifier=md.requires_python)]
            deps = [
                self._dependency(r, candidate)
                for r in md.requires_dist
                if self._markers.evaluate(r.marker)
            ]
        found = [d for d in deps if d is not None]
        for dep in found:
            self.asked.setdefault(dep.key, []).append((dep, candidate))
        for dep in found:
            self.prefetch(dep)
        return found

    def _look_ahead(self, candidate: Candidate) -> None:
        """When the resolver walks down a project's versions (each rejected version costs a
        metadata fetch), fetch the next ones in parallel: 2 after the first rejection, then 4,
        8, up to 16 -- so a long walk through releases that need a newer parent costs a few
        round trips instead of one per release. Not with a source that fetches nothing
        (``offline``): choosing the next files would filter each version's files for no one
        (5% of the large Airflow resolve's CPU)."""
        tried = self._tried.get(candidate.name, 0)
        self._tried[candidate.name] = tried + 1
        if tried == 0 or not self._hints_files:
            return
        versions = self.versions(candidate.name)
        index = self._version_index.get(candidate.name)
        if index is None:
            index = self._version_index[candidate.name] = {
                vf.version: i for i, vf in enumerate(versions)
            }
        start = index.get(candidate.version)
        if start is None:
            return
        want = min(16, 2**tried)
        ahead: list[DistFile] = []
        for vf in versions[start + 1 :]:
            if len(ahead) >= want:
                break
            if vf.pre and not candidate.version.is_prerelease:
                continue
            if vf.files:
                ahead.append(vf.files[0])
        self.source.prefetch_files(ahead)

    # ------------------------------------------------------------------ helpers
    def unreadable_applying(
        self, md: CoreMetadata, extras: frozenset[str] = frozenset()
    ) -> list[UnreadableLine]:
        """The unreadable Requires-Dist lines of ``md`` that apply on the target for
        ``extras`` (see :func:`~constrain.resolver.dependencies.unreadable_applying`)."""
        return unreadable_applying(self._markers, md, extras)

    def _check_unreadable(self, candidate: Candidate, md: CoreMetadata) -> None:
        """Reject the candidate when a Requires-Dist line that applies to it cannot be read:
        dropping it would give a broken install set. Lines under extras nobody asked for (or
        under markers false on the target) are left; the install set warns about them."""
        applying = self.unreadable_applying(md, candidate.extras)
        if applying:
            base = Candidate(candidate.name, candidate.version, frozenset(), candidate.files,
                             candidate.yanked)
            chain = " -> ".join(self.chain(candidate) or self.chain(base))
            raise unreadable_error(candidate, md, applying, chain)

    def _extra_dependencies(self, candidate: Candidate, md: CoreMetadata) -> list[Req | None]:
        """Requirements the candidate's extras bring beyond the base project's own; extras the
        release does not have are remembered for :meth:`invalid_extras`."""
        deps, invalid = extra_dependencies(self._markers, candidate, md, self._dependency)
        if invalid:
            key = (candidate.name, candidate.version)
            self._invalid_extras[key] = self._invalid_extras.get(key, frozenset()) | invalid
        return deps

    # ------------------------------------------------------------------ explanations
    def chain(self, candidate: Candidate | None, _seen: frozenset[str] = frozenset()) -> list[str]:
        """How ``candidate`` came in, from the top: ``["command line", "a==1.0", ...]``."""
        if candidate is None:
            return []
        if candidate.key in _seen:
            return [str(candidate)]
        seen = _seen | {candidate.key}
        for req, parent in self.asked.get(candidate.key, ()):
            if not req.contains(candidate.version):
                continue
            if parent is None:
                return [str(req.origin or COMMAND_LINE), str(candidate)]
            if parent.key in seen:
                continue
            if parent.name == candidate.name:
                return self.chain(parent, seen)
            return [*self.chain(parent, seen), str(candidate)]
        return [str(candidate)]

    def requirement_chain(self, req: Req, parent: Candidate | None) -> str:
        """``command line -> a==1.0 -> c<2`` for one requirement of a conflict."""
        head = self.chain(parent) if parent is not None else [str(req.origin or COMMAND_LINE)]
        return " -> ".join([*head, str(req)])


def _uploaded(candidate: Candidate) -> str:
    """``; the sdist was uploaded on DAY``: the date whose build tools it was made with."""
    when = candidate.best_file.upload_time
    return f"; the sdist was uploaded on {when.date().isoformat()}" if when else ""

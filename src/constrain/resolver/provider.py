"""The resolvelib provider: candidates from a MetadataProvider, filtered by target and policies.

:class:`ConstrainProvider` answers resolvelib's questions (identify, find_matches,
is_satisfied_by, get_dependencies, get_preference) for one target. It reads the world only
through :class:`~constrain.ports.MetadataProvider`: files per project (once each), metadata
per candidate version (once each, lazily), and it hints ahead with ``prefetch`` so that a cold
resolve waits on the depth of the dependency graph rather than on one request at a time (the
hints: :class:`~constrain.resolver.ahead.Ahead`).

Extras follow pip: the candidate ``foo[a]==1.0`` depends on ``foo==1.0`` plus the requirements
that only the extra brings in. A version whose metadata Requires-Python excludes the target
depends on the synthetic :data:`~constrain.resolver.candidates.PYTHON` project with that
specifier, which only the target's Python can satisfy, so resolvelib backtracks over it.

Its pure helpers are in dependencies.py, limits.py and matches.py; how a candidate came in
(for messages) in chains.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from resolvelib import AbstractProvider

from ..errors import BuildError, ProjectNotFound
from ..models import CoreMetadata, DistFile, ProjectFiles, UnreadableLine
from ..policies.filters import FilePolicy, VersionFiles, choice_of, group_versions, iter_usable
from ..reporting import Reporter
from ..target import TargetEnvironment
from .ahead import Ahead
from .candidates import PYTHON, Candidate, ConstraintIndex, Req, python_candidate, split_identifier
from .dependencies import (
    Dependencies,
    DirectUrl,
    MarkerMemo,
    direct_url_error,
    extra_dependencies,
    unreadable_applying,
    unreadable_error,
)
from .limits import Limits
from .matches import (
    LazyMatches,
    criterion_of,
    pin_of,
    with_public_version,
    requirement_count,
)
from .preference import Chooser, OpenQueue, choose_first

if TYPE_CHECKING:
    from ..ports import MetadataProvider


class ConstrainProvider(Ahead, AbstractProvider):
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
        # a Requires-Dist line -> Req, once per line object; `name @ url` only where a -c
        # constraint names the project (the user's choice to take it from the indexes)
        self._dependency = Dependencies(lambda name: bool(constraints.on(name)))
        self._files: dict[str, Sequence[DistFile]] = {}
        self._versions: dict[str, Sequence[VersionFiles]] = {}
        self._metadata: dict[tuple[str, Any], CoreMetadata] = {}
        self._invalid_extras: dict[tuple[str, Any], frozenset[str]] = {}
        #: identifier -> every (requirement, parent) seen, in order; parent None = top level
        self.asked: dict[str, list[tuple[Req, Candidate | None]]] = {}
        self.user_named: set[str] = set()
        self._matching: dict[tuple[str, str], dict] = {}  # (project, spec) -> version -> fits
        self._matches: dict[tuple, LazyMatches] = {}
        self._limits = Limits(constraints)
        self._exact_limit: dict[str, Any] = {}  # limit text -> public version it pins, or None
        self.requirements_matched = 0  # work counter (ResolveStats.requirements_matched)
        self._identifiers: dict[str, tuple[str, frozenset[NormalizedName]]] = {}
        self._pinned: dict[tuple[str, Any], tuple[VersionFiles, ...]] = {}  # _pinned_versions
        self.chooser = Chooser(constraints, self.user_named)
        self._start_hints()

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
                from .chains import build_failure

                raise build_failure(self.asked, self.target, candidate, exc) from None
        return self._metadata[key]

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
        try:
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
        except DirectUrl as exc:
            raise direct_url_error(candidate, exc.requirement,
                                   " -> ".join(self.chain(candidate))) from None
        found = [d for d in deps if d is not None]
        for dep in found:
            self.asked.setdefault(dep.key, []).append((dep, candidate))
        for dep in found:
            self.prefetch(dep)
        return found

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
    def chain(self, candidate: Candidate | None) -> list[str]:
        """How ``candidate`` came in, from the top: ``["command line", "a==1.0", ...]``."""
        from .chains import chain

        return chain(self.asked, candidate)

    def requirement_chain(self, req: Req, parent: Candidate | None) -> str:
        """``command line -> a==1.0 -> c<2`` for one requirement of a conflict."""
        from .chains import requirement_chain

        return requirement_chain(self.asked, req, parent)

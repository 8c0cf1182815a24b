"""What the provider hints to its source ahead of the resolver, so a cold resolve waits on the
depth of the dependency graph rather than on one request at a time.

:class:`Ahead` is the part of :class:`~constrain.resolver.provider.ConstrainProvider` that
prefetches: each project as soon as a requirement names it (the file of the version likely
chosen, then that version's own dependencies: the crawl), the releases below a version a
top-level pin rules out, and the next versions when the resolver walks down a project's
releases. Hints change what is fetched early, never what is chosen. A source that fetches
nothing (``offline``) gets none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from ..errors import ConstrainError
from ..models import CoreMetadata, DistFile
from ..policies.filters import FilePolicy, VersionFiles, group_versions, iter_choices
from ..target import TargetEnvironment
from .candidates import PYTHON, Candidate, ConstraintIndex, Req
from .matches import pinned_versions

if TYPE_CHECKING:
    from ..ports import MetadataProvider

#: Releases fetched ahead when the crawl sees a version that a top-level pin rules out.
WALK_AHEAD = 16


class Ahead:
    """The provider's hints to its source (a mixin of
    :class:`~constrain.resolver.provider.ConstrainProvider`, which sets the attributes
    annotated here and calls :meth:`_start_hints` first)."""

    source: MetadataProvider
    target: TargetEnvironment
    policy: FilePolicy
    constraints: ConstraintIndex
    versions: Callable[[str], Sequence[VersionFiles]]

    def _start_hints(self) -> None:
        self._prefetched: set[str] = set()
        self._prefetch_lock = threading.Lock()
        self._crawl_budget = 2000  # speculative hints, so a huge graph cannot run away
        self._tried: dict[str, int] = {}  # project -> candidates whose dependencies were asked
        self._version_index: dict[str, dict] = {}
        self._root_pins: dict[str, list[Req]] = {}  # exact top-level pins, for the crawl
        #: does the source act on hints? (an offline repository ignores them: no closures
        #: made for it, ~5,000 prefetch calls in the large Airflow resolve)
        self._hints = not getattr(self.source, "offline", False)
        self._hints_files = self._hints and hasattr(self.source, "prefetch_files")

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

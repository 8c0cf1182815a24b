"""From resolvelib's result to an InstallSet: pins, why each is there, work counters.

Also the resolvelib reporter that counts rounds, candidates visited and backtracks (and which
projects were backtracked over most, for the "too deep" explanation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from resolvelib import BaseReporter

from ..models import COMMAND_LINE, InstallSet, Origin, Pin, ResolveStats
from ..policies.yanked import yank_reason
from ..reporting import Reporter
from ..target import TargetEnvironment
from .candidates import PYTHON, Candidate
from .provider import ConstrainProvider


class StatsReporter(BaseReporter):
    """Counts the resolver's work and forwards progress to a constrain Reporter."""

    def __init__(self, reporter: Reporter, on_pin=None) -> None:
        self.reporter = reporter
        self.on_pin = on_pin
        self.rounds = 0
        self.visited = 0
        self.backtracks = 0
        self.rejected: Counter[str] = Counter()

    def starting(self) -> None:
        self.reporter.start("resolve", unit="pins")

    def starting_round(self, index: int) -> None:
        self.rounds += 1

    def pinning(self, candidate: Any) -> None:
        self.visited += 1
        if candidate.name != PYTHON:
            self.reporter.advance("resolve")
            if self.on_pin is not None and not candidate.extras:
                self.on_pin(candidate.best_file)

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        self.visited += 1
        self.rejected[candidate.name] += 1

    def resolving_conflicts(self, causes: Any) -> None:
        self.backtracks += 1

    def ending(self, state: Any) -> None:
        self.reporter.finish("resolve")

    def stats(self) -> ResolveStats:
        return ResolveStats(
            rounds=self.rounds, candidates_visited=self.visited, backtracks=self.backtracks
        )


def _via(req: Any, parent: Candidate | None) -> str:
    if parent is None:
        return str(req.origin or COMMAND_LINE)
    spec = "" if req.exact is not None else str(req.specifier)
    return f"{parent}" + (f" ({req.key}{spec})" if spec else "")


def build_install_set(
    result: Any,
    provider: ConstrainProvider,
    target: TargetEnvironment,
    requirements: Sequence[tuple[Requirement, Origin]],
    constraints: Sequence[tuple[Requirement, Origin]],
    exclude_newer: datetime | None,
    stats: ResolveStats,
    reporter: Reporter,
) -> InstallSet:
    """Turn resolvelib's ``Result`` into an :class:`InstallSet` sorted by project name.

    Extras identifiers fold into their project's pin; ``required_by`` lists the top-level
    origin (``command line`` or ``file:line``) first, then ``parent==version (specifier)``
    sorted; self-links (an extra on its own project) are left out, and so are parents the
    result does not keep (a pin cut off from the root: its requirements stay in the
    criteria, but it is not installed, so it explains nothing).
    """
    kept = {id(cand) for cand in result.mapping.values()}
    by_project: dict[str, list[str]] = {}
    for key, cand in result.mapping.items():
        if cand.name != PYTHON:
            by_project.setdefault(cand.name, []).append(key)
    pins: list[Pin] = []
    for name in sorted(by_project):
        base: Candidate = result.mapping[name]
        md = provider.metadata(base)
        top: list[str] = []
        parents: set[str] = set()
        extras: set[str] = set()
        requested = False
        for key in by_project[name]:
            cand = result.mapping[key]
            extras |= cand.extras
            for info in result.criteria[key].information:
                parent = info.parent
                if parent is not None and (parent.name == name or id(parent) not in kept):
                    continue
                via = _via(info.requirement, parent)
                if parent is None:
                    requested = True
                    if via not in top:
                        top.append(via)
                else:
                    parents.add(via)
        invalid = provider.invalid_extras(name, base.version)
        for extra in sorted(invalid):
            reporter.warning(
                f"{md.name} {base.version} does not provide the extra {extra!r}; ignoring it"
            )
        for u in md.unreadable:  # the lines that applied failed the resolve already
            where = f"{u.where}:{u.line}" if u.line is not None else u.where
            under = (
                f"the extra{'s' if len(u.extras) > 1 else ''} "
                + ", ".join(repr(e) for e in u.extras) + " (not asked for)"
                if u.extras else f"a marker false on this target ({u.marker})"
            )
            reporter.warning(
                f"{md.name} {base.version}: ignoring a Requires-Dist line that cannot be "
                f"read, under {under}: {where}: Requires-Dist: {u.text} ({u.error})"
            )
        if base.yanked:
            reporter.warning(
                f"{md.name} {base.version} is yanked ({yank_reason(base.best_file)}); "
                "using it because it is pinned exactly"
            )
        pins.append(
            Pin(
                name=NormalizedName(name),
                display_name=md.name,
                version=base.version,
                files=base.files,
                metadata=md,
                extras=frozenset(NormalizedName(e) for e in extras - invalid),
                required_by=tuple(top + sorted(parents)),
                constraint_origins=tuple(c.origin for c in provider.constraints.on(name)),
                requested=requested,
            )
        )
    return InstallSet(
        target=target,
        pins=tuple(pins),
        requirements=tuple(requirements),
        constraints=tuple(constraints),
        exclude_newer=exclude_newer,
        stats=stats,
    )

"""The constraints that apply to one target, grouped by project.

:class:`ConstraintSet` detects exact-pin conflicts between two origins up front
(:class:`ConstraintConflict`) unless an override says which origin wins. Whether a constraint
agrees with a requirement is the resolver's business, not this module's. Apart from
:mod:`.model` so that a resolve with no constraint to layer does not create these classes.

Nothing here does I/O; the target is reached through a marker-evaluating callable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import InputError, SourceLocation
from ..models import Origin

if TYPE_CHECKING:
    from ..target import TargetEnvironment
    from .model import Inputs


@dataclass(frozen=True)
class Constraint:
    """One constraint line that applies to a target: a project, its specifier, the marker it
    was guarded by (already found true for the target, or not yet evaluated), an optional
    direct URL (``name @ url``), and where it came from."""

    name: NormalizedName
    specifier: SpecifierSet
    marker: Marker | None
    origin: Origin
    url: str | None = None

    @classmethod
    def from_requirement(cls, req: Requirement, origin: Origin) -> Constraint:
        return cls(
            name=canonicalize_name(req.name),
            specifier=req.specifier,
            marker=req.marker,
            origin=origin,
            url=req.url,
        )

    @property
    def exact_version(self) -> str | None:
        """The version this constraint pins to exactly (``==1.0``, ``===1.0``), else ``None``.

        ``==1.*`` is a range, not a pin. With several ``==`` clauses the first is returned.
        """
        for spec in self.specifier:
            if spec.operator == "===" or (
                spec.operator == "==" and not spec.version.endswith(".*")
            ):
                return spec.version
        return None

    def __str__(self) -> str:
        text = self.name + str(self.specifier)
        if self.url:
            text += f" @ {self.url}"
        return text


@dataclass(frozen=True)
class Overridden:
    """A conflict settled by an override: the pin that won and the pins dropped for it."""

    name: NormalizedName
    winner: Constraint
    dropped: tuple[Constraint, ...]


class ConstraintConflict(InputError):
    """Two or more constraint lines pin one project to different exact versions.

    ``conflicts`` maps each project to the clashing constraints; every origin is also a
    location (file:line with the line's text) so the user sees all of them at once.
    """

    def __init__(self, conflicts: Mapping[NormalizedName, tuple[Constraint, ...]]) -> None:
        self.conflicts = dict(conflicts)
        names = sorted(self.conflicts)
        if len(names) == 1:
            name = names[0]
            pins = " and ".join(
                f"{c.specifier or c.url} ({c.origin})" for c in self.conflicts[name]
            )
            message = f"conflicting pins for {name}: {pins}"
        else:
            message = f"conflicting pins for {len(names)} projects: {', '.join(names)}"
        locations = [
            SourceLocation(
                c.origin.source,
                c.origin.line,
                c.origin.text,
                None,
                f"{name} pinned to {c.specifier or c.url}",
            )
            for name in names
            for c in self.conflicts[name]
        ]
        details = [
            f"{name}: " + ", ".join(f"{c.specifier or c.url} from {c.origin}" for c in cs)
            for name, cs in sorted(self.conflicts.items())
        ]
        super().__init__(
            message,
            locations=locations,
            details=details,
            hint="remove all but one of the pins, or give an override naming the origin "
            "(file:line or file) that wins",
        )


def _same_pin(a: Constraint, b: Constraint) -> bool:
    """Can two pins hold together? Exact versions must be equal (``==1.0`` and ``==1.0.0``
    are) and direct URLs identical; a URL pin and a version pin do not clash here."""
    va, vb = a.exact_version, b.exact_version
    if va is not None and vb is not None and not _same_version(va, vb):
        return False
    return a.url is None or b.url is None or a.url == b.url


def _same_version(x: str, y: str) -> bool:
    try:
        return Version(x) == Version(y)
    except InvalidVersion:  # an arbitrary-equality (===) string
        return x == y


def _matches(origin: Origin, wanted: Origin) -> bool:
    """An override origin matches by source, and by line too when it gives one."""
    return origin.source == wanted.source and (wanted.line is None or origin.line == wanted.line)


def _is_pin(c: Constraint) -> bool:
    return c.exact_version is not None or c.url is not None


class ConstraintSet:
    """The constraints that apply to one target, by project, in sorted name order.

    ``evaluate`` decides whether a constraint's marker holds on the target (typically
    ``TargetEnvironment.evaluate``); without it every constraint is kept and only constraints
    under identical markers can conflict. ``overrides`` maps a project name to the origin whose
    pin wins a conflict (an origin without a line matches any line of that file); what they
    settled is in :attr:`overridden`. Unsettled conflicts raise :class:`ConstraintConflict`
    listing every one of them.
    """

    def __init__(
        self,
        constraints: Iterable[tuple[Requirement, Origin]],
        *,
        evaluate: Callable[[Marker | None], bool] | None = None,
        overrides: Mapping[str, Origin] | None = None,
    ) -> None:
        by_name: dict[NormalizedName, list[Constraint]] = {}
        for req, origin in constraints:
            c = Constraint.from_requirement(req, origin)
            if evaluate is not None and c.marker is not None and not evaluate(c.marker):
                continue
            by_name.setdefault(c.name, []).append(c)
        wins = {canonicalize_name(k): v for k, v in (overrides or {}).items()}
        conflicts: dict[NormalizedName, tuple[Constraint, ...]] = {}
        overridden: list[Overridden] = []
        for name, items in by_name.items():
            clash = _find_clash(items, markers_matter=evaluate is None)
            if not clash:
                continue
            wanted = wins.get(name)
            winner = next(
                (c for c in clash if wanted is not None and _matches(c.origin, wanted)), None
            )
            if winner is None:
                conflicts[name] = clash
                continue
            dropped = tuple(c for c in clash if not _same_pin(c, winner))
            by_name[name] = [c for c in items if c not in dropped]
            overridden.append(Overridden(name, winner, dropped))
        if conflicts:
            raise ConstraintConflict(conflicts)
        self._by_name = {name: tuple(by_name[name]) for name in sorted(by_name)}
        self.overridden: tuple[Overridden, ...] = tuple(sorted(overridden, key=lambda o: o.name))

    @classmethod
    def from_inputs(
        cls,
        inputs: Inputs,
        target: TargetEnvironment | None = None,
        *,
        overrides: Mapping[str, Origin] | None = None,
    ) -> ConstraintSet:
        """The constraints of ``inputs`` that apply on ``target`` (all of them when ``None``)."""
        return cls(
            inputs.constraints,
            evaluate=target.evaluate if target is not None else None,
            overrides=overrides,
        )

    def for_project(self, name: str) -> tuple[Constraint, ...]:
        """Every constraint on ``name`` (any spelling), in input order; empty if none."""
        return self._by_name.get(canonicalize_name(name), ())

    def specifier(self, name: str) -> SpecifierSet:
        """The intersection of every specifier on ``name`` (empty set: no limit)."""
        out = SpecifierSet()
        for c in self.for_project(name):
            out &= c.specifier
        return out

    def origins(self, name: str) -> tuple[Origin, ...]:
        """Where the constraints on ``name`` came from, in input order."""
        return tuple(c.origin for c in self.for_project(name))

    def names(self) -> tuple[NormalizedName, ...]:
        return tuple(self._by_name)

    def __iter__(self) -> Iterator[Constraint]:
        for items in self._by_name.values():
            yield from items

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonicalize_name(name) in self._by_name

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_name.values())

    def __repr__(self) -> str:
        return f"ConstraintSet({', '.join(map(str, self))})"


def _find_clash(items: list[Constraint], *, markers_matter: bool) -> tuple[Constraint, ...]:
    """The pins among ``items`` that disagree, or ``()``. When markers were not evaluated,
    pins only clash with pins under the same marker (they may apply to different targets)."""
    groups: dict[str | None, list[Constraint]] = {}
    for c in items:
        if _is_pin(c):
            key = str(c.marker) if markers_matter and c.marker is not None else None
            groups.setdefault(key, []).append(c)
    clash: list[Constraint] = []
    for pins in groups.values():
        # Two pins disagree exactly when they name different versions or different URLs (see
        # _same_pin), so counting distinct values finds a clash in one pass; comparing every
        # pair took minutes for a file repeating one pin 20,000 times.
        texts = {c.exact_version for c in pins if c.exact_version is not None}
        versions = {_version_key(t) for t in texts}
        urls = {c.url for c in pins if c.url is not None}
        if len(versions) > 1 or len(urls) > 1:
            clash.extend(pins)
    return tuple(clash)


def _version_key(text: str) -> Version | str:
    """What :func:`_same_version` compares: the parsed version, else the raw string."""
    try:
        return Version(text)
    except InvalidVersion:
        return text

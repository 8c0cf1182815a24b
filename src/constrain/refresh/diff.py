"""Compare the pins of a committed constraints file with a refreshed install set (comments ignored).

A constraints file is read with :mod:`constrain.constraints.parser`; only exact ``name==version``
pins count, so headers, notes and annotations never make two files differ. The result says, per
package, what was upgraded, downgraded, added and removed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from ..constraints.parser import parse_lines
from ..models import InstallSet


@dataclass(frozen=True)
class PinnedVersion:
    """One pin as written: the display name and the version."""

    name: str
    version: Version


Pins = Mapping[NormalizedName, PinnedVersion]


def read_pins(text: str, source: str) -> dict[NormalizedName, PinnedVersion]:
    """The exact pins of constraints file ``text`` (canonical name -> pin); comments, options
    and non-exact lines are ignored. Raises :class:`~constrain.errors.InputError` listing every
    line that is not a valid requirement."""
    parsed = parse_lines(text, source, kind="constraints")
    parsed.raise_for_problems()
    out: dict[NormalizedName, PinnedVersion] = {}
    for line in parsed.requirements:
        req = line.requirement
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
            continue
        try:
            version = Version(specs[0].version)
        except InvalidVersion:
            continue
        out[canonicalize_name(req.name)] = PinnedVersion(req.name, version)
    return out


def install_set_pins(install_set: InstallSet) -> dict[NormalizedName, PinnedVersion]:
    """The pins of a resolved set, keyed like :func:`read_pins`."""
    return {p.name: PinnedVersion(p.display_name or p.metadata.name, p.version)
            for p in install_set.pins}


@dataclass(frozen=True)
class Change:
    """One package that moved: ``old``/``new`` are ``None`` for added/removed packages."""

    name: str
    old: Version | None
    new: Version | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "upgraded" if self.new > self.old else "downgraded"


@dataclass(frozen=True)
class PinDiff:
    """Every change between two pin sets, sorted by canonical name."""

    changes: tuple[Change, ...] = ()

    def of_kind(self, kind: str) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind == kind)

    @property
    def upgraded(self) -> tuple[Change, ...]:
        return self.of_kind("upgraded")

    @property
    def downgraded(self) -> tuple[Change, ...]:
        return self.of_kind("downgraded")

    @property
    def added(self) -> tuple[Change, ...]:
        return self.of_kind("added")

    @property
    def removed(self) -> tuple[Change, ...]:
        return self.of_kind("removed")

    def __bool__(self) -> bool:
        return bool(self.changes)


def diff_pins(old: Pins, new: Pins) -> PinDiff:
    """What moved from ``old`` to ``new``; equal versions (``1.0`` and ``1.0.0``) and name
    spellings that canonicalize alike are no change."""
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before is not None and after is not None and before.version == after.version:
            continue
        name = (after or before).name  # type: ignore[union-attr]
        changes.append(Change(name, before.version if before else None,
                              after.version if after else None))
    return PinDiff(tuple(changes))


def matches_any(name: str, globs: Iterable[str]) -> bool:
    """Does ``name`` match one of the shell-style ``globs`` (both compared canonicalized, so
    ``apache_airflow_providers_*`` and ``Apache-Airflow-Providers-*`` are the same glob)?"""
    key = canonicalize_name(name)
    return any(fnmatch.fnmatchcase(key, _canonical_glob(g)) for g in globs)


def _canonical_glob(glob: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", glob.strip()).lower()


#: per required name, the applying requirements of a set: (what to show, specifier)
RequirementIndex = dict[NormalizedName, list[tuple[str, SpecifierSet]]]


def requirement_index(install_set: InstallSet) -> RequirementIndex:
    """Every requirement of ``install_set`` that applies on its target (of its pins, with
    their extras, and top-level), by the name it requires: built once, asked per version."""
    env = install_set.target.markers
    out: RequirementIndex = {}
    for pin in install_set.pins:
        for req in pin.metadata.requires_dist:
            if not req.specifier:
                continue
            if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": e})
                    for e in (tuple(sorted(pin.extras)) or ("",))):
                continue
            shown = f"{pin.display_name or pin.metadata.name} {pin.version} requires " \
                    f"{req.name}{req.specifier}"
            out.setdefault(canonicalize_name(req.name), []).append((shown, req.specifier))
    for req, origin in install_set.requirements:
        if req.specifier:
            out.setdefault(canonicalize_name(req.name), []).append(
                (f"the requirement {req} ({origin})", req.specifier))
    return out


def requirement_limits(install_set: InstallSet, name: str, version: Version,
                       index: RequirementIndex | None = None) -> list[str]:
    """The dependency requirements in ``install_set`` that by themselves exclude ``version`` of
    ``name`` (``apache-airflow 2.10.5 requires flask<2.3``): when a policy holds a package back
    and a requirement does too, the policy is not what stops it. ``index``: the set's
    :func:`requirement_index`, when asking about many versions."""
    if index is None:
        index = requirement_index(install_set)
    out: list[str] = []
    for shown, specifier in index.get(canonicalize_name(name), ()):
        if not specifier.contains(version, prereleases=True) and shown not in out:
            out.append(shown)
    return out

"""Consistency across the targets of one run: what is installed for some targets and not others,
and what is pinned differently, each with the reason when the inputs give one.

Airflow's per-Python constraint files drift apart silently (a provider in one Python's file and
not another's, a pin that differs for no reason). Given the install sets of one run's targets
(same requirements, different Pythons or platforms), :func:`check_consistency` finds

* *presence* differences: a package some targets install and others do not. Explained when every
  requirement that brings it in where it is installed does not apply where it is not: an
  environment marker that is false there (the marker and the requirement carrying it are named),
  a requiring package that is not installed there, or a requiring release there that no longer
  asks for it;
* *version* differences: a package pinned to different versions. Each target below the highest
  version needs a reason why that version was not taken there: its ``requires-python``, no file
  for the target (only wheels for other platforms or Pythons), a requirement there that excludes
  it (``foo 1.0 requires bar<2``), its own requirements conflicting with what the target pins
  (``bar 2.0 requires baz>=3; the target pins baz 2.1``), or a reconstruction of Airflow's
  constraints that moved it past the release date where it is higher (``InstallSet.moved``).

A difference with no such reason is *unexplained*. A constraint or an upper-bound policy that
pins one target differently is not a reason (it is how files drift): it is named, and the
difference stays unexplained. The files of a release, when the caller can list them
(``files_of``), are used for the "no file for the target" reason (listed only when
``requires-python`` does not already say); without them that reason is never given. Nothing here
does I/O or prints. Past 400 lines: the two kinds of finding and their reasons read as one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..errors import ConstrainError
from ..models import DistFile, InstallSet, Pin, ProjectFiles

FORMAT = "constrain-consistency/1"
#: lists the files of a project (every version); may raise, which counts as "unknown"
FilesOf = Callable[[NormalizedName], Sequence[DistFile]]


@runtime_checkable
class _Moved(Protocol):
    """What is read of a reconstruction's move (``InstallSet.moved``): a package of Airflow's
    reconstructed set moved past the release date for one target."""

    name: str
    to_version: Version

    def line(self) -> str: ...


@dataclass(frozen=True)
class Reason:
    """Why one target differs (``explained``), or what was found without explaining it (a
    constraint or policy pinning that target: ``explained`` is False)."""

    target: str
    text: str
    explained: bool = True


@dataclass(frozen=True)
class Finding:
    """One package that is not the same across targets. ``versions``: target label -> version
    (``None``: not installed there). ``unexplained``: the labels of the targets that differ
    with no reason."""

    name: str
    kind: str  # "presence" or "version"
    versions: tuple[tuple[str, Version | None], ...]
    reasons: tuple[Reason, ...]
    unexplained: tuple[str, ...]

    @property
    def explained(self) -> bool:
        return not self.unexplained

    def versions_text(self) -> str:
        """``1.0 on 3.10; 2.0 on 3.11, 3.12; absent on 3.13``."""
        groups: dict[str, list[str]] = {}
        for label, v in self.versions:
            groups.setdefault(str(v) if v is not None else "absent", []).append(label)
        return "; ".join(f"{v} on {', '.join(labels)}" for v, labels in groups.items())

    def why_text(self) -> str:
        """Each reason once, after the targets it is given for: ``3.11, 3.12: marker ...``."""
        by_text: dict[str, list[str]] = {}
        for r in self.reasons:
            by_text.setdefault(r.text, []).append(r.target)
        for t in self.unexplained:
            if not any(r.target == t for r in self.reasons):
                by_text.setdefault("no reason found", []).append(t)
        return "; ".join(f"{', '.join(targets)}: {text}" for text, targets in by_text.items())

    def to_data(self) -> dict:
        return {
            "package": self.name,
            "kind": self.kind,
            "versions": {label: (str(v) if v is not None else None) for label, v in self.versions},
            "reasons": [{"target": r.target, "reason": r.text, "explains": r.explained}
                        for r in self.reasons],
            "unexplained": list(self.unexplained),
        }


@dataclass(frozen=True)
class Consistency:
    """Every difference across ``targets`` (labels, in the run's order), by package name."""

    targets: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def unexplained(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.explained)

    def headline(self) -> str:
        """``3 packages differ across 3 targets (1 unexplained)``."""
        n, u = len(self.findings), len(self.unexplained)
        if not n:
            return f"every package is the same across the {len(self.targets)} targets"
        return (f"{n} package{'s' if n != 1 else ''} differ{'s' if n == 1 else ''} across "
                f"{len(self.targets)} targets ({u} unexplained)")

    def lines(self) -> list[str]:
        """Plain lines for a terminal or a log: the headline, then one line per finding."""
        out = [f"consistency: {self.headline()}"]
        for f in self.findings:
            flag = "UNEXPLAINED " if not f.explained else ""
            out.append(f"  {flag}{f.name}: {f.versions_text()} -- {f.why_text()}")
        return out

    def to_data(self) -> dict:
        return {"format": FORMAT, "targets": list(self.targets),
                "findings": [f.to_data() for f in self.findings],
                "unexplained": [f.name for f in self.unexplained]}


def check_consistency(
    targets: Sequence[tuple[str, InstallSet]], files_of: FilesOf | None = None
) -> Consistency:
    """Compare the install sets of one run's targets (``(label, install set)``, labels unique);
    see the module docstring. Fewer than two targets: nothing to compare."""
    labels = tuple(label for label, _s in targets)
    if len(targets) < 2:
        return Consistency(labels, ())
    names: dict[NormalizedName, str] = {}
    for _label, s in targets:
        for p in s.pins:
            names.setdefault(p.name, p.display_name or p.metadata.name)
    findings = []
    index: dict[int, _Index] = {}  # per set, by id: the sets outlive the check
    for key in sorted(names):
        pins = [(label, s, s.pin(key)) for label, s in targets]
        versions = tuple((label, p.version if p is not None else None) for label, _s, p in pins)
        present = [(label, s, p) for label, s, p in pins if p is not None]
        differ = len({p.version for _l, _s, p in present}) > 1
        if len(present) < len(pins):
            finding = _presence(names[key], key, pins, present, versions, index)
            if differ:  # and pinned differently where it is installed: both need reasons
                other = _version(names[key], key, present, versions, files_of, index)
                finding = dataclasses.replace(
                    finding, reasons=finding.reasons + other.reasons,
                    unexplained=finding.unexplained + other.unexplained)
        elif differ:
            finding = _version(names[key], key, present, versions, files_of, index)
        else:
            continue
        findings.append(finding)
    return Consistency(labels, tuple(findings))


# ---------------------------------------------------------------------------- presence


def _presence(name: str, key: NormalizedName, pins, present, versions,
              index: dict[int, _Index]) -> Finding:
    reasons: list[Reason] = []
    unexplained: list[str] = []
    for label, s, p in pins:
        if p is not None:
            continue
        found: list[Reason] = []
        ok = True
        for _pl, ps, _pp in present:
            for requirer, req in _requirers(ps, key, index):
                why = _absent_because(s, requirer, req, key)
                if why is None:
                    ok = False
                elif all(r.text != why for r in found):
                    found.append(Reason(label, why))
        reasons += found
        if not ok or not found:
            unexplained.append(label)
    return Finding(name, "presence", versions, tuple(reasons), tuple(unexplained))


def _requirers(s: InstallSet, key: NormalizedName, index: dict[int, _Index]
               ) -> list[tuple[Pin | None, Requirement]]:
    """What brings ``key`` into ``s``: ``(pin, requirement)`` for each installed release whose
    applying requirement names it, ``(None, requirement)`` for a top-level requirement."""
    return [(pin, req) for pin, req in _requirements_of(s, index).get(key, ())
            if s.target.evaluate(req.marker, _extras(pin) if pin is not None else frozenset())]


_Index = dict[NormalizedName, list[tuple[Pin | None, Requirement]]]


def _requirements_of(s: InstallSet, memo: dict[int, _Index]) -> _Index:
    """``s``'s requirements by the name they require, markers not yet evaluated: its releases'
    in pin order, then its top-level ones (pin ``None``). Built once per set (``memo``, one
    check's): walking every requirement per finding was most of the check's time."""
    found = memo.get(id(s))
    if found is None:
        found = memo[id(s)] = {}
        for pin in s.pins:
            for req in pin.metadata.requires_dist:
                found.setdefault(_key(req), []).append((pin, req))
        for req, _origin in s.requirements:
            found.setdefault(_key(req), []).append((None, req))
    return found


def _absent_because(s: InstallSet, requirer: Pin | None, req: Requirement,
                    key: NormalizedName) -> str | None:
    """Why ``requirer``'s requirement ``req`` does not bring ``key`` into ``s``; ``None`` when
    it should have."""
    if requirer is None:
        for mine, origin in s.requirements:
            if _key(mine) == key and mine.marker is not None and \
                    not s.target.evaluate(mine.marker):
                return f"marker `{mine.marker}` of the requirement `{mine}` ({origin})"
        return None
    there = s.pin(requirer.name)
    shown = requirer.display_name or requirer.metadata.name
    if there is None:
        return f"needed by {shown}, which is not installed there"
    asks = [r for r in there.metadata.requires_dist if _key(r) == key]
    if not asks:
        return f"{shown} {there.version} there does not require it"
    off = [r for r in asks if not s.target.evaluate(r.marker, _extras(there))]
    if len(off) < len(asks):
        return None
    r = off[0]
    return f"marker `{r.marker}` on `{shown} {there.version} requires {r}`"


# ---------------------------------------------------------------------------- versions


def _version(name: str, key: NormalizedName, present, versions,
             files_of: FilesOf | None, index: dict[int, _Index]) -> Finding:
    top = max((p for _l, _s, p in present), key=lambda p: p.version)
    reasons: list[Reason] = []
    unexplained: list[str] = []
    listed: list[list[DistFile] | None] = []

    def release_files() -> list[DistFile] | None:  # read once, and only when asked
        if not listed:
            listed.append(_release_files(files_of, key, top.version) if files_of else None)
        return listed[0]

    moved = [f"{label} moved it past the release date: {m.line()}"
             for label, s, p in present if p.version == top.version
             for m in s.moved if isinstance(m, _Moved)
             and canonicalize_name(m.name) == key and m.to_version == top.version]
    for label, s, p in present:
        if p.version == top.version:
            continue
        found = _below_because(s, top, release_files, index) or "; ".join(moved)
        if found:
            reasons.append(Reason(label, found))
            continue
        unexplained.append(label)
        reasons += [Reason(label, note, explained=False) for note in _pinned_by(s, key, top)]
    return Finding(name, "version", versions, tuple(reasons), tuple(unexplained))


def _release_files(files_of: FilesOf, key: NormalizedName, version: Version
                   ) -> list[DistFile] | None:
    try:
        return version_files(files_of(key), version)
    except ConstrainError:  # an unreachable listing only means this reason is not offered
        return None


def version_files(listing: Sequence[DistFile], version: Version) -> list[DistFile]:
    """The files of one version of a project's listing; of a :class:`ProjectFiles`, only that
    version's files are built (a listing of thousands of files stays unread)."""
    if isinstance(listing, ProjectFiles):
        try:
            return list(listing.files_of(listing.versions.index(version)))
        except ValueError:
            return []
    return [f for f in listing if f.version == version]


def listed_versions(listing: Sequence[DistFile]) -> list[Version]:
    """The versions of a project's listing, highest first (of a :class:`ProjectFiles`, without
    building a file)."""
    if isinstance(listing, ProjectFiles):
        return list(listing.versions)
    return sorted({f.version for f in listing}, reverse=True)


def _below_because(s: InstallSet, top: Pin,
                   release_files: Callable[[], list[DistFile] | None],
                   index: dict[int, _Index]) -> str | None:
    """Why ``s`` does not install ``top``'s version (the highest of the run); ``None`` when
    nothing in the inputs says. ``release_files()``: the files of ``top``'s version, when they
    can be listed (a listing is read only when ``requires-python`` does not already say)."""
    shown = f"{top.display_name or top.metadata.name} {top.version}"
    target = s.target
    rp = top.metadata.requires_python
    if rp is not None and not target.python_matches(rp):
        return f"{shown} requires Python {rp}"
    files = release_files()
    if files is not None:
        fits = [f for f in files if target.accepts(f)]
        if not fits:
            pythons = sorted({f.requires_python for f in files if f.requires_python})
            if pythons and not any(target.python_matches(rp) for rp in pythons):
                return f"{shown} requires Python {' or '.join(pythons)}"
            return f"{shown} has no file for {target.describe()} ({_offered(files)})"
    limits = _excluded_by(s, top, index)
    if limits:
        return "; ".join(limits)
    conflicts = _conflicts(s, top)
    if conflicts:
        return "; ".join(conflicts)
    return None


def _offered(files: list[DistFile]) -> str:
    """``wheels for cp311, cp312 on manylinux_2_28_x86_64; no sdist``: what a release has."""
    wheels = [f for f in files if f.is_wheel]

    def listed(values: set[str]) -> str:
        shown = sorted(values)
        return ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")

    parts = []
    if wheels:
        interpreters = {t.interpreter for f in wheels for t in f.tags}
        platforms = {t.platform for f in wheels for t in f.tags}
        parts.append(f"wheels for {listed(interpreters)} on {listed(platforms)}")
    else:
        parts.append("no wheel")
    parts.append("an sdist" if any(not f.is_wheel for f in files) else "no sdist")
    return "; ".join(parts)


def _excluded_by(s: InstallSet, top: Pin, index: dict[int, _Index]) -> list[str]:
    """Requirements of ``s`` (of its installed releases, or top-level) that exclude ``top``'s
    version; a marker on one is named, as it is what makes the targets differ."""
    out: list[str] = []
    for pin, req in _requirements_of(s, index).get(top.name, ()):
        if pin is not None and s.target.evaluate(req.marker, _extras(pin)) and \
                not req.specifier.contains(top.version, prereleases=True):
            out.append(f"{pin.display_name or pin.metadata.name} {pin.version} requires "
                       f"{req}")
    for req, origin in s.requirements:
        if _key(req) == top.name and s.target.evaluate(req.marker) and \
                not req.specifier.contains(top.version, prereleases=True):
            out.append(f"the requirement `{req}` ({origin})")
    for req, origin in s.constraints:  # only a constraint under a marker chooses per target
        if _key(req) == top.name and req.marker is not None and \
                s.target.evaluate(req.marker) and \
                not req.specifier.contains(top.version, prereleases=True):
            out.append(f"marker `{req.marker}` of the constraint `{req}` ({origin})")
    return out


def _conflicts(s: InstallSet, top: Pin) -> list[str]:
    """``top``'s own requirements that what ``s`` pins does not satisfy."""
    out: list[str] = []
    for req in top.metadata.requires_dist:
        if not s.target.evaluate(req.marker, _extras(top)):
            continue
        there = s.pin(req.name)
        if there is not None and not req.specifier.contains(there.version, prereleases=True):
            out.append(f"{top.display_name or top.metadata.name} {top.version} requires {req}, "
                       f"and {there.display_name or there.metadata.name} is pinned to "
                       f"{there.version} there")
    return out


def _pinned_by(s: InstallSet, key: NormalizedName, top: Pin) -> list[str]:
    """Constraints and policy bounds of ``s`` that exclude ``top``'s version: named, but no
    reason (they are where per-target files drift)."""
    out: list[str] = []
    bounds = []
    if s.held_back:  # the policies' module is loaded by whatever held something back
        from ..policies.bounds import HeldBack

        bounds = [h.bound for h in s.held_back if isinstance(h, HeldBack)]
    for bound in bounds:
        if bound.policy.name == key and \
                not bound.specifier.contains(top.version, prereleases=True):
            out.append(f"held below {top.version} by the policy bound {bound.describe()} "
                       f"({bound.policy.origin})")
    policy_origins = {b.policy.origin for b in bounds}
    for req, origin in s.constraints:
        if _key(req) == key and origin not in policy_origins and \
                not req.specifier.contains(top.version, prereleases=True):
            out.append(f"the constraint `{req}` ({origin}) holds it there")
    return out


def _key(req: Requirement) -> NormalizedName:
    return canonicalize_name(req.name)


def _extras(pin: Pin) -> frozenset[str]:
    return frozenset(pin.extras) | {""}

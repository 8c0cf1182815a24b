"""Moves of a reconstruction: which later release a package of an Airflow release's set moves
to on a target Python that the release predates, and how that is said.

Pure: the caller (:mod:`.reconstruction`) lists files, resolves and builds; this
module decides from the files and the install set, and words the moves and the refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from ..errors import ConstrainError
from ..models import DistFile, InstallSet


@dataclass(frozen=True)
class Move:
    """A package of a reconstruction moved past the release date."""

    name: str
    from_version: Version | None  # None: no release as of the date was usable
    to_version: Version
    released: datetime  # upload time of the release moved to (its file for the target)
    cutoff: datetime  # what the resolve may see of this project (all files of that release)
    why: str

    def line(self) -> str:
        start = f"{self.name} {self.from_version}" if self.from_version is not None else self.name
        return (f"{start} -> {self.to_version} (released {self.released.date().isoformat()}):"
                f" {self.why}")

    def to_json(self) -> dict:
        return {"name": self.name, "from": str(self.from_version or ""),
                "to": str(self.to_version), "released": self.released.isoformat(),
                "cutoff": self.cutoff.isoformat(), "why": self.why}

    @classmethod
    def from_json(cls, data: dict) -> Move:
        return cls(data["name"], Version(data["from"]) if data["from"] else None,
                   Version(data["to"]), datetime.fromisoformat(data["released"]),
                   datetime.fromisoformat(data["cutoff"]), data["why"])



class UnsupportedTarget(ConstrainError):
    """The release cannot be reconstructed for the target Python."""



def first_installable(
    name: str,
    files: Sequence[DistFile],
    target,
    *,
    after: Version | None,
    specifiers: Sequence[SpecifierSet],
    limit: datetime | None,
    skip: frozenset[Version] = frozenset(),
    wheels_only: bool = False,
    prereleases: bool = False,
) -> tuple[Version, datetime, datetime] | None:
    """The earliest final (or, with ``prereleases``, pre-), unyanked release of ``name`` above
    ``after`` that satisfies ``specifiers`` and has a file for ``target`` uploaded by
    ``limit`` (a wheel for it, else -- unless ``wheels_only`` -- an sdist: whether that builds
    is for the caller to find out), ``skip`` excepted: ``(version, upload time of its best
    file, of its last file)``."""
    from ..policies.filters import FilePolicy, group_versions

    for vf in reversed(group_versions(name, files, target, FilePolicy("disallow", limit))):
        v = vf.version
        if (vf.pre and not prereleases) or (after is not None and v <= after) or v in skip:
            continue
        if not all(s.contains(v, prereleases=True) for s in specifiers):
            continue
        usable = [f for f in vf.files if not f.is_yanked and f.upload_time is not None
                  and (f.is_wheel or not wheels_only)]
        times = [f.upload_time for f in usable if f.upload_time is not None]
        if times:  # best first: a wheel for the target when there is one
            return v, times[0], max(times)
    return None


def foreign_wheels(files: Sequence[DistFile], version: Version, target) -> list[str]:
    """The interpreter tags of ``version``'s wheels when it has wheels and none fits
    ``target`` (a compiled release made for other Pythons); ``[]`` otherwise."""
    wheels = [f for f in files if f.version == version and f.is_wheel]
    if not wheels or any(target.accepts(f) for f in wheels):
        return []
    tags = {t.interpreter for f in wheels for t in f.tags}
    return sorted(tags, key=lambda t: (len(t), t))


def required_of(install_set: InstallSet, name: str, target) -> list[SpecifierSet]:
    """The specifiers the pins of ``install_set`` put on ``name`` (a requirement under an
    extra counts: more limits only mean fewer moves)."""
    out = []
    for pin in install_set.pins:
        for r in pin.metadata.requires_dist:
            if canonicalize_name(r.name) != name or not str(r.specifier):
                continue
            if r.marker is None or target.evaluate(r.marker) or "extra" in str(r.marker):
                out.append(r.specifier)
    return out


def spec_of(req: Requirement) -> Requirement | None:
    """``req`` as a constraint (no extras, no URL); ``None`` when it limits nothing."""
    if req.url or not str(req.specifier):
        return None
    marker = f"; {req.marker}" if req.marker is not None else ""
    return Requirement(f"{req.name}{req.specifier}{marker}")



def unsupported_error(req: Requirement, target, reason: str, available: Sequence[str] | None,
                      command: str, cause: ConstrainError | None = None) -> UnsupportedTarget:
    """The one-line refusal: why, the Pythons the release has files for, how to use one."""
    python = target.python_short
    if available:
        pythons = (f"Airflow publishes constraints for the Pythons a release supports; "
                   f"{next(iter(req.specifier)).version} has them for Python "
                   f"{', '.join(available)}")
        other = available[-1]
    else:
        pythons = "Airflow publishes constraints only for the Pythons a release supports"
        other = None
    if command.startswith("constrain install"):
        v = other or "X.Y"
        way = (f"install into an environment of Python {v}: make one with python{v} -m venv "
               f"DIR and give --venv DIR instead (or --python-executable /path/to/python{v})")
    else:
        way = f"resolve for one of them: add --python {other or 'X.Y'} to the command"
    return UnsupportedTarget(
        f"{req} cannot be reconstructed for Python {python}: {reason}",
        details=(cause.message,) if cause is not None else (),
        hint=f"{pythons}; {way}",
    )

"""What really holds back a package an upper-bound policy held back: the policy, or requirements.

A policy's bound keeps a package below its newest release, but often the newest release could not
be had anyway: a requirement of the set excludes it (``apache-airflow 2.10.5 requires
flask<2.3``), or the newest release requires something the set cannot give it (``alembic 1.20.0
requires SQLAlchemy>=2.0``, which ``apache-airflow 2.10.5 requires SQLAlchemy<2.0`` excludes).
Then the report names that chain, and says "the policy" only when nothing else is in the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from packaging.utils import canonicalize_name
from packaging.version import Version

from ..errors import ConstrainError
from ..models import CoreMetadata, DistFile, InstallSet
from ..review.consistency import listed_versions, version_files
from .diff import RequirementIndex, requirement_index, requirement_limits


class Releases(Protocol):
    """The two questions asked of the index (the session's repository answers them)."""

    def files(self, project: str) -> Sequence[DistFile]: ...

    def metadata(self, file: DistFile) -> CoreMetadata: ...


def held_back_by(install_set: InstallSet, releases: Releases | None) -> dict[str, list[str]]:
    """For each package of ``install_set.held_back`` (display name), what besides its policy
    keeps it below the bound: the requirements of the set that exclude its newest release, or
    the newest release's own requirements the set cannot meet, each with what stands in the
    way -- but only when every release between the bound and the newest one is out of reach
    too. An empty list: the policy is what holds it back. ``releases`` ``None``: the set's
    requirements on the package only."""
    out: dict[str, list[str]] = {}
    held = _held(install_set)
    if not held:  # the usual case without policies: no index to build
        return out
    if releases is not None:
        releases = _Listed(releases)
    index = requirement_index(install_set)
    for h in held:
        name, newest, bound = h.name, h.newest, h.bound
        limits = _excluded(install_set, name, newest, releases, index)
        if limits and releases is not None:
            above = [v for v in _versions(releases, name)
                     if not v.is_prerelease and v < newest
                     and not bound.specifier.contains(v, prereleases=True)]
            for v in above[:_WALK]:
                if not _excluded(install_set, name, v, releases, index):
                    limits = []  # the policy keeps back a release the set could take
                    break
        out[name] = limits
    return out


def _held(install_set: InstallSet) -> list:
    """The :class:`~constrain.policies.bounds.HeldBack` entries of the set (policies' module
    imported only when something was held back: a refresh without policies never loads it)."""
    if not install_set.held_back:
        return []
    from ..policies.bounds import HeldBack

    return [h for h in install_set.held_back if isinstance(h, HeldBack)]


class _Listed:
    """``releases`` with each project's listing kept (the walk asks for it per release)."""

    def __init__(self, releases: Releases) -> None:
        self._releases = releases
        self._files: dict[str, Sequence[DistFile]] = {}

    def files(self, project: str) -> Sequence[DistFile]:
        if project not in self._files:  # a ProjectFiles builds a version's files when asked
            self._files[project] = self._releases.files(project)
        return self._files[project]

    def metadata(self, file: DistFile) -> CoreMetadata:
        return self._releases.metadata(file)


#: releases between the bound and the newest one looked at (each costs a metadata read)
_WALK = 20


def _excluded(install_set: InstallSet, name: str, version: Version,
              releases: Releases | None, index: RequirementIndex) -> list[str]:
    """Why the set could not take ``name`` ``version`` whatever the policy says."""
    limits = requirement_limits(install_set, name, version, index)
    if not limits and releases is not None:
        if not _fitting(releases, name, version, install_set):
            return [f"{name} {version} has no file for {install_set.target.describe()}"]
        limits = _newest_needs(install_set, name, version, releases, index)
    return limits


def _newest_needs(install_set: InstallSet, name: str, newest: Version,
                  releases: Releases, index: RequirementIndex) -> list[str]:
    """``alembic 1.20.0 requires SQLAlchemy>=2.0; apache-airflow 2.10.5 requires
    SQLAlchemy<2.0,>=1.4.36``: each requirement of ``name`` ``newest`` (for the target and the
    extras the set asks of it) that the set's pin does not meet, and what keeps the pin there."""
    target = install_set.target
    meta = _metadata(releases, name, newest, install_set)
    if meta is None:
        return []
    pin = install_set.pin(name)
    extras: set[str] = set(pin.extras) if pin is not None else set()
    out: list[str] = []
    for req in meta.requires_dist:
        if not target.evaluate(req.marker, extras):
            continue
        there = install_set.pin(req.name)
        if there is None or req.specifier.contains(there.version, prereleases=True):
            continue
        chain = f"{meta.name} {newest} requires {req}"
        wanted = _highest_within(releases, req.name, req.specifier, install_set)
        keeps = requirement_limits(install_set, req.name, wanted, index) if wanted else []
        keeps += [f"the policy bound {b.describe()} on {b.policy.display_name} "
                  f"({b.policy.origin})"
                  for b in (h.bound for h in _held(install_set))
                  if wanted and b.policy.name == canonicalize_name(req.name)
                  and not b.specifier.contains(wanted, prereleases=True)]
        shown = there.display_name or there.metadata.name
        if keeps:
            out.append(f"{chain}; " + "; ".join(keeps))
        else:
            out.append(f"{chain}, and {shown} is pinned to {there.version}")
    return out


def _versions(releases: Releases, name: str) -> list[Version]:
    """The versions ``name``'s listing offers, highest first (no file is built for this)."""
    try:
        return listed_versions(releases.files(canonicalize_name(name)))
    except ConstrainError:
        return []


def _fitting(releases: Releases, name: str, version: Version, install_set: InstallSet
             ) -> list[DistFile]:
    """The files of ``name`` ``version`` the target could install as of the set's cut-off."""
    try:
        files = version_files(releases.files(canonicalize_name(name)), version)
    except ConstrainError:
        return []
    target, cutoff = install_set.target, install_set.exclude_newer
    return [f for f in files if target.accepts(f) and not f.is_yanked
            and (cutoff is None or f.upload_time is None or f.upload_time <= cutoff)]


def _metadata(releases: Releases, name: str, version: Version, install_set: InstallSet
              ) -> CoreMetadata | None:
    """The metadata of ``name`` ``version`` from its best file for the target."""
    from ..policies.filters import file_order

    for f in file_order(_fitting(releases, name, version, install_set), install_set.target):
        try:
            return releases.metadata(f)
        except ConstrainError:  # an sdist that cannot be built here, say: try the next file
            continue
    return None


def _highest_within(releases: Releases, name: str, specifier, install_set: InstallSet
                    ) -> Version | None:
    """The highest final release of ``name`` for the target inside ``specifier``."""
    for v in _versions(releases, name):
        if not v.is_prerelease and specifier.contains(v) and \
                _fitting(releases, name, v, install_set):
            return v
    return None


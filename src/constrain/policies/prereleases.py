"""Pre-release policy: when versions such as ``2.0b1`` may be chosen for a project."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from packaging.specifiers import SpecifierSet

PrereleaseMode = Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"]
PRERELEASE_MODES: tuple[PrereleaseMode, ...] = (
    "allow",
    "if-necessary",
    "disallow",
    "if-necessary-or-explicit",
)


def names_prerelease(specifiers: Iterable[SpecifierSet]) -> bool:
    """Does any specifier mention a pre-release (``>=2.0b1``, ``==3.0rc1``)?"""
    return any(bool(s.prereleases) for s in specifiers)


def allows_prereleases(
    mode: PrereleaseMode, specifiers: Iterable[SpecifierSet], final_release_fits: bool
) -> bool:
    """May pre-releases be candidates for one project?

    ``specifiers`` are every requirement and constraint specifier on the project;
    ``final_release_fits`` says whether some final release satisfies them all.

    - ``allow``: always; ``disallow``: never;
    - ``if-necessary``: only when no final release fits;
    - ``if-necessary-or-explicit``: as ``if-necessary``, or when a specifier names a
      pre-release.
    """
    if mode == "allow":
        return True
    if mode == "disallow":
        return False
    if not final_release_fits:
        return True
    return mode == "if-necessary-or-explicit" and names_prerelease(specifiers)

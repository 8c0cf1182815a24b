"""Pre-release policy: when versions such as ``2.0b1`` may be chosen for a project."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

PrereleaseMode = Literal["allow", "if-necessary", "disallow", "if-necessary-or-explicit"]
PRERELEASE_MODES: tuple[PrereleaseMode, ...] = (
    "allow",
    "if-necessary",
    "disallow",
    "if-necessary-or-explicit",
)

#: Operators that, given a pre-release version, admit that pre-release or later ones: the
#: writer named a pre-release they accept. ``<`` is missing on purpose: ``<2.0dev`` (Google's
#: libraries write it everywhere) means "below the whole 2.0 series", an exclusive upper bound
#: that asks for nothing; ``!=`` excludes. pip read it so until it vendored packaging 24.2
#: (pip 25 then taking ``googleapis-common-protos 1.67.0rc1`` for ``<2.0.0dev`` was reported
#: as a bug, pip issue 13217); uv lets only the user's own requirements ask, never a
#: dependency's bound, and not with ``!=``.
_ASKING_OPERATORS = frozenset({"==", "===", ">=", ">", "~=", "<="})


def asks_for_prerelease(spec: Specifier) -> bool:
    """Does ``spec`` ask for pre-releases (``>=1.0rc1``, ``==2.0b1``, ``~=2.0b1``,
    ``>1.0a1``, ``<=2.0b1``, ``===2.0b1``)? Never for ``<`` (``<2.0dev`` is an upper bound),
    ``!=``, a ``==`` wildcard or a final version. Answered once per operator and version text
    (the resolver asks it of every specifier on a project each time the project's
    requirements change: a version parsed each time was 2-3% of a full resolve)."""
    key = (spec.operator, spec.version)
    found = _ASKS.get(key)
    if found is None:
        found = _ASKS[key] = _asks(*key)
    return found


_ASKS: dict[tuple[str, str], bool] = {}


def _asks(operator: str, text: str) -> bool:
    if operator not in _ASKING_OPERATORS:
        return False
    if operator == "==" and text.endswith(".*"):
        return False
    try:
        return Version(text).is_prerelease
    except InvalidVersion:  # an arbitrary ``===`` string
        return False


def names_prerelease(specifiers: Iterable[SpecifierSet]) -> bool:
    """Does any specifier ask for a pre-release (see :func:`asks_for_prerelease`)? Answered
    once per specifier set object (the resolver asks it about the same sets each time a
    project's requirements change)."""
    for spec_set in specifiers:
        known = _SET_ASKS.get(id(spec_set))
        if known is None or known[0] is not spec_set:
            if len(_SET_ASKS) >= _SET_ASKS_MAX:  # a host resolving again and again
                _SET_ASKS.clear()
            known = _SET_ASKS[id(spec_set)] = (
                spec_set, any(asks_for_prerelease(spec) for spec in spec_set))
        if known[1]:
            return True
    return False


#: id(specifier set) -> (the set, does it ask for a pre-release): the entry holds the set, so
#: its id is not reused by another while the entry stands; emptied when it reaches
#: :data:`_SET_ASKS_MAX` entries, so a process that resolves many times (constrain used as a
#: library) does not keep every specifier set it ever asked about (one resolve: a few thousand)
_SET_ASKS: dict[int, tuple[SpecifierSet, bool]] = {}
_SET_ASKS_MAX = 50_000


def allows_prereleases(
    mode: PrereleaseMode, specifiers: Iterable[SpecifierSet], final_release_fits: bool
) -> bool:
    """May pre-releases be candidates for one project?

    ``specifiers`` are every requirement and constraint specifier on the project;
    ``final_release_fits`` says whether some final release satisfies them all.

    - ``allow``: always; ``disallow``: never;
    - ``if-necessary``: only when no final release fits;
    - ``if-necessary-or-explicit``: as ``if-necessary``, or when a specifier asks for a
      pre-release (:func:`asks_for_prerelease`: ``>=2.0b1`` does, ``<2.0dev`` does not).
    """
    if mode == "allow":
        return True
    if mode == "disallow":
        return False
    if not final_release_fits:
        return True
    return mode == "if-necessary-or-explicit" and names_prerelease(specifiers)

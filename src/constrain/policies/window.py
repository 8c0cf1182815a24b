"""Where, in a listing ordered highest version first, the versions specifiers may admit lie.

A walk over a project's versions for some specifiers (:func:`~constrain.policies.filters.iter_choices`)
tested every version from the highest down: a requirement ``<2`` on a project at 5.x tested
each 5.x, 4.x and 3.x release first, and one with fewer fitting versions than the resolver
counts (``>=2.3`` with a handful above it) went on through every older release to the first
one. Workload 1's full resolve made 5,500 such tests, two thirds of them on versions outside
these bounds. :func:`span` finds the bounds by a binary search instead.

Only bounds no version beyond them can pass are used, each whatever packaging does with local
labels and pre-, post- and dev-releases: ``<X`` admits nothing at or above ``X``; ``<=X``
nothing whose public version is above ``X``; ``>=X`` and ``~=X`` nothing below ``X``; ``>X``
nothing at or below ``X``. The other operators (``==``, ``!=``, ``===``, wildcards) are left
to the test of each version. So a walk over the span sees every version that can pass, in the
same order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

#: (operator, version) pairs of the upper and of the lower bounds
Bounds = tuple[tuple[tuple[str, Version], ...], tuple[tuple[str, Version], ...]]

_NONE: Bounds = ((), ())


def bounds(specifiers: Iterable[SpecifierSet]) -> Bounds:
    """The upper (``<``, ``<=``) and lower (``>=``, ``>``, ``~=``) bounds among
    ``specifiers``, each specifier set's read once (kept while the set lives)."""
    found = _NONE
    for spec_set in specifiers:
        known = _SET_BOUNDS.get(id(spec_set))
        if known is None or known[0] is not spec_set:
            if len(_SET_BOUNDS) >= _MEMO_MAX:  # a host resolving again and again
                _SET_BOUNDS.clear()
            known = _SET_BOUNDS[id(spec_set)] = (spec_set, _read(spec_set))
        if known[1] is not _NONE:
            found = known[1] if found is _NONE else (
                found[0] + known[1][0], found[1] + known[1][1])
    return found


def _read(spec_set: SpecifierSet) -> Bounds:
    upper: list[tuple[str, Version]] = []
    lower: list[tuple[str, Version]] = []
    for spec in spec_set:
        operator = spec.operator
        if operator not in ("<", "<=", ">=", ">", "~="):
            continue
        version = _version(spec.version)
        if version is not None:
            (upper if operator[0] == "<" else lower).append((operator, version))
    return (tuple(upper), tuple(lower)) if upper or lower else _NONE


def _version(text: str) -> Version | None:
    """``text`` as a version (``None``: not one, or a wildcard, which these operators do not
    take; never trusted), parsed once per text."""
    found = _VERSIONS.get(text, False)
    if found is False:
        if len(_VERSIONS) >= _MEMO_MAX:
            _VERSIONS.clear()
        try:
            found = None if text.endswith(".*") else Version(text)
        except InvalidVersion:
            found = None
        _VERSIONS[text] = found
    return found  # type: ignore[return-value]


#: id(specifier set) -> (the set, its bounds): the entry holds the set, so its id is not
#: reused while the entry stands; emptied at :data:`_MEMO_MAX` entries (constrain used as a
#: library resolving many times keeps no more)
_SET_BOUNDS: dict[int, tuple[SpecifierSet, Bounds]] = {}
_VERSIONS: dict[str, Version | None] = {}
_MEMO_MAX = 50_000


def _public(version: Version) -> Version:
    return Version(version.public) if version.local is not None else version


def above(version: Version, upper: Sequence[tuple[str, Version]]) -> bool:
    """Does an upper bound rule ``version`` out (and so every higher one)?"""
    for operator, bound in upper:
        if operator == "<":
            if version >= bound:
                return True
        elif _public(version) > bound:  # <=
            return True
    return False


def below(version: Version, lower: Sequence[tuple[str, Version]]) -> bool:
    """Does a lower bound rule ``version`` out (and so every lower one)?"""
    for operator, bound in lower:
        if operator == ">":
            if version <= bound:
                return True
        elif version < bound:  # >=, ~=
            return True
    return False


def span(count: int, version_at: Callable[[int], Version], found: Bounds) -> tuple[int, int]:
    """``(start, stop)``: the positions of a listing of ``count`` versions (highest first,
    ``version_at(i)`` the i-th) outside of which the bounds ``found`` (:func:`bounds`) admit
    no version. Each bound rules out a run at one end, so two binary searches find them."""
    upper, lower = found
    lo, hi = 0, count
    if upper and count and above(version_at(0), upper):
        while lo < hi:  # the first position no upper bound rules out
            mid = (lo + hi) // 2
            if above(version_at(mid), upper):
                lo = mid + 1
            else:
                hi = mid
    start, hi = lo, count
    if lower and lo < hi and below(version_at(hi - 1), lower):
        while lo < hi:  # the first position from there a lower bound rules out
            mid = (lo + hi) // 2
            if below(version_at(mid), lower):
                hi = mid
            else:
                lo = mid + 1
        return start, lo
    return start, count

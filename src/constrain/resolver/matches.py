"""How the provider hands candidates to resolvelib cheaply: lazy match lists, exact pins,
and the criterion behind resolvelib's mappings.

Pure helpers of :mod:`constrain.resolver.provider`, kept apart so the provider reads as
resolvelib's questions and answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from itertools import islice
from typing import Any, overload

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .candidates import Candidate, Req


class LazyMatches(Sequence[Candidate]):
    """find_matches' answer for resolvelib: the candidates, produced on demand and
    remembered, so each version's files are examined at most once and only as far as the
    resolver looks.

    ``source`` gives the choices (a version with its files), ``make`` the candidate of one:
    made when an iteration reaches it, so that :meth:`count_up_to` (the sort key counts up
    to ten candidates of every open project, of which the resolver tries the first) and
    truth (resolvelib asks whether a criterion has any candidate each time one is made)
    make none. A sequence, not a factory: resolvelib then iterates it directly (a factory's
    answer it wraps in a tee per iteration); its length and items, which resolvelib does
    not ask for, walk as far as they need."""

    __slots__ = ("_choices", "_done", "_made", "_make", "_source")

    def __init__(self, source: Iterator[Any], make: Callable[[Any], Candidate]) -> None:
        self._source = source
        self._make = make
        self._choices: list[Any] = []
        self._made: list[Candidate] = []  # the candidates of the first choices, in order
        self._done = False

    def __iter__(self) -> Iterator[Candidate]:
        if self._done and len(self._made) == len(self._choices):
            return iter(self._made)
        return self._iterate()

    def _iterate(self) -> Iterator[Candidate]:
        made, choices = self._made, self._choices
        i = 0
        while True:
            if i < len(made):
                yield made[i]
                i += 1
            elif i < len(choices):
                made.append(self._make(choices[i]))
            elif not self._more():
                return

    def _more(self) -> bool:
        """One more choice from the source (False: there is none)."""
        if self._done:
            return False
        try:
            self._choices.append(next(self._source))
        except StopIteration:
            self._done = True
            return False
        return True

    def count_up_to(self, cap: int) -> int:
        """How many candidates there are, counted up to ``cap`` (as many as iterating would
        give, without making them)."""
        while len(self._choices) < cap and self._more():
            pass
        return min(cap, len(self._choices))

    def __bool__(self) -> bool:
        return self.count_up_to(1) > 0

    def __len__(self) -> int:
        while self._more():
            pass
        return len(self._choices)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> list[Candidate]: ...

    def __getitem__(self, index: int | slice) -> Candidate | list[Candidate]:
        if isinstance(index, slice) or index < 0:
            return list(self)[index]
        for i, candidate in enumerate(self):
            if i == index:
                return candidate
        raise IndexError(index)


def count_candidates(candidates: Iterable[Candidate], cap: int) -> int:
    """How many candidates resolvelib's view of a criterion's candidates holds, counted up
    to ``cap``: by :meth:`LazyMatches.count_up_to` when the view wraps one (resolvelib
    1.2.1's ``_SequenceIterableView`` keeps find_matches' answer as ``_sequence``), else
    by iterating. tests/resolver/test_provider.py fails if the view stops being seen
    through."""
    matches = getattr(candidates, "_sequence", None)
    if isinstance(matches, LazyMatches):
        return matches.count_up_to(cap)
    return sum(1 for _ in islice(candidates, cap))


def pinned_versions(pin: Req) -> list[Version]:
    """The versions an exact pin allows (``==`` without wildcard, ``===``); ``[]`` if it is
    not one."""
    if pin.exact is not None:
        return [pin.exact]
    out = []
    for spec in pin.specifier:
        if spec.operator in ("==", "===") and not spec.version.endswith(".*"):
            try:
                out.append(Version(spec.version))
            except ValueError:
                return []
    return out


def public(version: Version) -> Version:
    """``version`` without its local label (``1.0+cpu`` -> ``1.0``)."""
    return Version(version.public) if version.local is not None else version


def with_public_version(versions: Sequence[Any], pin: Version) -> tuple[Any, ...]:
    """The entries of ``versions`` (VersionFiles, highest first) whose public version is
    ``pin``, in order. Those are adjacent (a local label sorts right after its public version,
    before anything higher), so a binary search finds them: a few entries looked at, not the
    whole release history made into objects (an install of 141 exact pins spent a sixth of its
    resolve grouping every release of every pinned project by public version)."""
    lo, hi = 0, len(versions)
    while lo < hi:  # the first entry whose public version is not above the pin
        mid = (lo + hi) // 2
        if public(versions[mid].version) > pin:
            lo = mid + 1
        else:
            hi = mid
    out = []
    while lo < len(versions) and public(versions[lo].version) == pin:
        out.append(versions[lo])
        lo += 1
    return tuple(out)


def exact_public(spec: SpecifierSet) -> Version | None:
    """The public version every version satisfying ``spec`` has, when ``spec`` pins exactly
    (``==1.0`` admits ``1.0``, ``1.0.0`` and ``1.0+cpu``; ``==1.0+cpu`` and ``===1.0`` one
    of them); ``None`` when it does not pin (or pins a text no version spells)."""
    for s in spec:
        if s.operator in ("==", "===") and not s.version.endswith(".*"):
            try:
                return public(Version(s.version))
            except ValueError:
                return None
    return None


def pin_of(limits: Mapping[str, SpecifierSet], known: dict[str, Version | None]
           ) -> Version | None:
    """The public version an exact limit among ``limits`` (text -> specifier) pins (see
    :func:`exact_public`), or ``None``; ``known`` remembers the answer per text."""
    for text, spec in limits.items():
        if text in known:
            pin = known[text]
        else:
            pin = known[text] = exact_public(spec)
        if pin is not None:
            return pin
    return None


def criterion_of(candidates: Any, identifier: str) -> Any:
    """resolvelib's criterion for ``identifier`` behind the ``candidates`` mapping it hands
    to ``get_preference`` (a view over its criteria), or ``None`` when this resolvelib does
    not expose it that way: the preference is then computed afresh each time (same answer).
    tests/resolver/test_provider.py fails if the criterion stops being found."""
    criteria = getattr(candidates, "_mapping", None)
    return criteria.get(identifier) if isinstance(criteria, dict) else None


def requirement_count(requirements: Mapping[str, Iterable[Any]], identifier: str) -> int:
    """How many requirements ``requirements`` (find_matches' mapping) holds for
    ``identifier``, counted from resolvelib's criterion behind it when it is there (its
    information and the requirement being added) rather than by walking them all
    (``apache-airflow`` gathers ~600 in the large Airflow resolve, asked 1,800 times)."""
    criteria = getattr(requirements, "_mapping", None)
    appends = getattr(requirements, "_appends", None)
    if isinstance(criteria, dict) and isinstance(appends, Mapping):
        criterion = criteria.get(identifier)
        information = getattr(criterion, "information", None) if criterion is not None else ()
        added = appends.get(identifier, ())
        if isinstance(information, Sized) and isinstance(added, Sized):
            return len(information) + len(added)
    return sum(1 for _ in requirements[identifier])

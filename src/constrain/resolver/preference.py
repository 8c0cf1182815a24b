"""Which open requirement the resolver works on next: a deterministic sort key.

Order: the synthetic Python requirement, exact pins (``==``/``===`` in a requirement or a
constraint), projects the user named, the causes of the last backtrack, fewer candidates left,
then the identifier -- so the same inputs always give the same resolution. Candidates
themselves are always tried highest version first (see ``provider.find_matches``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import count
from typing import Any

from .candidates import PYTHON, Candidate, ConstraintIndex, Req
from .matches import count_candidates

Preference = tuple[bool, bool, bool, bool, int, str]

#: Counting stops here: past it, "fewer candidates" no longer tells projects apart usefully,
#: and every candidate counted costs a look at that version's files.
COUNT_CAP = 10


def backtrack_keys(causes: Sequence[Any]) -> set[str]:
    """Identifiers involved in the last backtrack: each cause's requirement and its parent."""
    out: set[str] = set()
    for info in causes:
        out.add(info.requirement.key)
        if info.parent is not None:
            out.add(info.parent.key)
    return out


def criterion_facts(requirements: Iterable[Req], candidates: Iterator[Candidate]
                    ) -> tuple[bool, int]:
    """What the sort key needs from one resolvelib criterion (its requirements and
    candidates), which never changes: does a requirement pin exactly, and how many
    candidates are left (counted up to :data:`COUNT_CAP`)."""
    pinned = any(r.pinned for r in requirements)
    return pinned, count_candidates(candidates, COUNT_CAP)


def preference(
    key: str,
    facts: tuple[bool, int],
    *,
    constraint_pinned: bool,
    user_named: bool,
    in_backtrack: bool,
) -> Preference:
    """The sort key for identifier ``key`` (lower is resolved first), given its criterion's
    :func:`criterion_facts`."""
    pinned_by_requirement, count = facts
    pinned = constraint_pinned or pinned_by_requirement
    return (key != PYTHON, not pinned, not user_named, not in_backtrack, count, key)


def narrow(identifiers: Iterable[str], resolutions: Mapping[str, Candidate]) -> list[str]:
    """Work on the Python requirement alone when it is open: it has one candidate and decides
    at once whether a candidate's Requires-Python admits the target."""
    ids = list(identifiers)
    return [PYTHON] if PYTHON in ids else ids


class Chooser:
    """The sort keys of one resolve, kept where they cannot change.

    resolvelib asks for the preference of every open identifier in every round (the large
    Airflow resolve: 120,000 asks for 1,400 criteria). A criterion is immutable, and all of
    an identifier's key but "in the last backtrack" follows from its criterion: both keys
    (in and out of the backtrack's causes) are computed once per criterion, and kept per
    identifier with the criterion they were computed for (an identity test finds them again:
    cheaper than a weak mapping keyed by the criterion, and an identifier has one criterion
    at a time). :meth:`choose` then picks the first identifier in one pass.
    """

    def __init__(self, constraints: ConstraintIndex, user_named: set[str]) -> None:
        self.constraints = constraints
        self.user_named = user_named  # the provider's set, filled as roots are added
        self._pinned: dict[str, bool] = {}
        #: identifier -> (criterion, (pinned by a requirement, candidates counted))
        self._facts: dict[str, tuple[Any, tuple[bool, int]]] = {}
        #: identifier -> (criterion, its sort keys out of and in the backtrack's causes)
        self._keys: dict[str, tuple[Any, tuple[Preference, Preference]]] = {}
        self._causes_seen: Any = None
        self._causes_len = 0
        self._causes_keys: set[str] = set()

    def backtrack_keys(self, causes: Sequence[Any]) -> set[str]:
        """The identifiers in ``causes``, computed once per round (same list object)."""
        if self._causes_seen is not causes or self._causes_len != len(causes):
            self._causes_seen, self._causes_len = causes, len(causes)
            self._causes_keys = backtrack_keys(causes)
        return self._causes_keys

    def constraint_pinned(self, name: str) -> bool:
        found = self._pinned.get(name)
        if found is None:
            found = self._pinned[name] = self.constraints.pins(name)
        return found

    def preference(self, identifier: str, criterion: Any, requirements: Iterable[Req],
                   candidates: Iterator[Candidate], causes: Sequence[Any]) -> Preference:
        """The sort key of ``identifier`` (``criterion`` None: not kept, computed afresh)."""
        name = identifier.split("[", 1)[0]
        facts = self._facts_of(identifier, criterion) if criterion is not None else None
        if facts is None:
            facts = criterion_facts(requirements, candidates)
            if criterion is not None:
                self._facts[identifier] = (criterion, facts)
        return preference(identifier, facts,
                          constraint_pinned=self.constraint_pinned(name),
                          user_named=name in self.user_named,
                          in_backtrack=identifier in self.backtrack_keys(causes))

    def _facts_of(self, identifier: str, criterion: Any) -> tuple[bool, int] | None:
        known = self._facts.get(identifier)
        return known[1] if known is not None and known[0] is criterion else None

    def sort_keys(self, identifier: str, criterion: Any) -> tuple[Preference, Preference]:
        """The sort key of ``identifier`` under ``criterion`` out of and in the last
        backtrack's causes."""
        name = identifier.split("[", 1)[0]
        facts = self._facts_of(identifier, criterion)
        if facts is None:
            facts = criterion_facts(
                (info.requirement for info in criterion.information), criterion.candidates)
            self._facts[identifier] = (criterion, facts)
        pinned, named = self.constraint_pinned(name), name in self.user_named
        out = preference(identifier, facts, constraint_pinned=pinned, user_named=named,
                         in_backtrack=False)
        into = preference(identifier, facts, constraint_pinned=pinned, user_named=named,
                          in_backtrack=True)
        return out, into

    def pair(self, identifier: str, criterion: Any) -> tuple[Preference, Preference]:
        """:meth:`sort_keys`, kept per identifier for the criterion they were made for."""
        known = self._keys.get(identifier)
        if known is not None and known[0] is criterion:
            return known[1]
        pair = self.sort_keys(identifier, criterion)
        self._keys[identifier] = (criterion, pair)
        return pair

    def choose(self, identifiers: Sequence[str], criteria: Mapping[str, Any],
               causes: Sequence[Any]) -> str:
        """The identifier with the lowest sort key (resolvelib's ``min`` over
        ``get_preference``, in one pass)."""
        in_backtrack = self.backtrack_keys(causes)
        keys = self._keys
        best, best_key = identifiers[0], None
        for identifier in identifiers:
            criterion = criteria[identifier]
            known = keys.get(identifier)
            if known is not None and known[0] is criterion:
                pair = known[1]
            else:
                pair = self.sort_keys(identifier, criterion)
                keys[identifier] = (criterion, pair)
            key = pair[identifier in in_backtrack]
            if best_key is None or key < best_key:
                best, best_key = identifier, key
        return best


def choose_first(chooser: Chooser, identifiers: Iterable[str],
                 resolutions: Mapping[str, Candidate], candidates: Any,
                 causes: Sequence[Any], ask: Callable[[str], Preference]) -> list[str]:
    """``narrow_requirement_selection``'s answer: :func:`narrow`, then the one identifier
    ranked first (resolvelib asks no preference of a lone identifier). ``ask(identifier)``
    is the provider's ``get_preference``, used when this resolvelib hides its criteria."""
    ids = narrow(identifiers, resolutions)
    if len(ids) == 1:
        return ids
    criteria = getattr(candidates, "_mapping", None)
    if not isinstance(criteria, dict):
        return [min(ids, key=ask)]
    return [chooser.choose(ids, criteria, causes)]


class OpenQueue:
    """The open identifiers of one resolution by sort key, kept from round to round (a heap),
    so that a round's choice costs the identifiers that changed, not a pass over all open
    ones (the large Airflow resolve: ~770 rounds, a few hundred open identifiers each).

    The choice is :func:`choose_first`'s: the Python requirement when it is open, the lone
    open identifier, else the lowest sort key (keys are unique: each ends with its
    identifier). An entry holds the criterion its key was made for; it stands while its
    identifier is open under that criterion, and is dropped when found otherwise at the top.
    The resolution says which identifiers' criteria changed in a round (:meth:`touched`) and
    when it scanned the open identifiers afresh (:meth:`reset`: after a backjump, a rollback,
    information removed); a change of the last backtrack's causes rebuilds the heap too. An
    identifier that opens again without a new criterion does so only after a rescan.
    """

    def __init__(self, chooser: Chooser) -> None:
        self.chooser = chooser
        self._heap: list[tuple[Preference, int, str, Any]] = []
        self._order = count()
        self._pending: set[str] = set()
        self._stale = True
        self._built_for: set[str] = set()

    def reset(self) -> None:
        """The open identifiers were scanned afresh: rebuild before the next choice."""
        self._stale = True
        self._pending.clear()

    def touched(self, identifiers: Iterable[str]) -> None:
        """These identifiers' criteria (or pins) changed this round."""
        if not self._stale:
            self._pending.update(identifiers)

    def first(self, open_keys: set[str], criteria: Mapping[str, Any],
              causes: Sequence[Any]) -> str:
        """The identifier to work on next among ``open_keys`` (not empty)."""
        if len(open_keys) == 1:
            return next(iter(open_keys))
        if PYTHON in open_keys:
            return PYTHON
        in_backtrack = self.chooser.backtrack_keys(causes)
        heap = self._heap
        if self._stale or in_backtrack != self._built_for:
            pair, order = self.chooser.pair, self._order
            heap[:] = [(pair(i, criteria[i])[i in in_backtrack], next(order), i, criteria[i])
                       for i in open_keys]
            heapq.heapify(heap)
            self._pending.clear()
            self._stale = False
            self._built_for = set(in_backtrack)
        elif self._pending:
            for identifier in self._pending:
                if identifier in open_keys:
                    self._push(identifier, criteria[identifier], in_backtrack)
            self._pending.clear()
        while heap:
            _, _, identifier, criterion = heap[0]
            if identifier in open_keys and criteria.get(identifier) is criterion:
                return identifier
            heapq.heappop(heap)
        raise RuntimeError("an open identifier has no sort key")  # pragma: no cover

    def _push(self, identifier: str, criterion: Any, in_backtrack: set[str]) -> None:
        key = self.chooser.pair(identifier, criterion)[identifier in in_backtrack]
        heapq.heappush(self._heap, (key, next(self._order), identifier, criterion))

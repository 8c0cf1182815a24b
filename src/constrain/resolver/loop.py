"""resolvelib's Resolver doing less per round: pin checks remembered, open identifiers kept.

Every round, resolvelib asks of every criterion whether the current pin still satisfies all
of its requirements (``Resolution._is_current_pin_satisfying``), and again after each pin for
the criteria that were satisfied: the large Airflow resolve (772 rounds, ~1,000 criteria)
made 1.5 million ``is_satisfied_by`` calls this way, a third of its time. The answer depends
only on the criterion (resolvelib never changes one: it replaces it) and on the pin (a
candidate object): :class:`Resolver` remembers it per identifier for the last (criterion,
pin) pair seen, so an unchanged criterion with an unchanged pin costs one identity test, and
a criterion that holds the last one's requirements and more (resolvelib adds one at a time)
costs the requirements added. The open identifiers are carried from round to round (a
rescan only after a backjump, a rollback or information removed), the next one chosen from sort
keys kept between rounds (:class:`~constrain.resolver.preference.OpenQueue`), and a candidate's
criteria gathered without a copy of all of them.
The provider's ``is_satisfied_by`` must be a pure function of requirement and candidate
(constrain's is).

The result is built here too (:func:`build_result`), not by resolvelib's ``_build_result``:
resolvelib 1.2.1 decides which pins have a route to the root by a recursion without a
visited set, which never ends on a cycle of pins left without a route to the root (a pin
that pulled the cycle in was replaced by one that does not need it): the user saw a
RecursionError instead of a resolution (tests/resolver/scenarios/cycle_cut_from_root.toml).

The hook is a private method of resolvelib's ``Resolution``; when a resolvelib release no
longer has it, :func:`resolver_class` returns resolvelib's own Resolver: the same pins, at
resolvelib's own cost (and its own result builder).
tests/resolver/test_provider.py fails if that happens with the resolvelib installed.
"""

from __future__ import annotations

import operator
from typing import Any

import resolvelib
from resolvelib.resolvers import RequirementsConflicted, Result
from resolvelib.structs import DirectedGraph, IteratorMapping, State

try:  # resolvelib >= 1.1 keeps the loop here
    from resolvelib.resolvers.resolution import Resolution as _Resolution
except ImportError:  # pragma: no cover - a resolvelib laid out differently
    _Resolution = None  # type: ignore[assignment, misc]

_HOOKED = _Resolution is not None and callable(
    getattr(_Resolution, "_is_current_pin_satisfying", None))

#: resolvelib releases whose ``Resolution.resolve`` the rounds of
#: ``_OpenTrackingResolution`` were checked against (the property test compares them)
ROUNDS_OF = ("1.2.1",)
_OWN_ROUNDS = _HOOKED and resolvelib.__version__ in ROUNDS_OF and all(
    callable(getattr(_Resolution, m, None)) for m in (
        "_get_updated_criteria", "_add_to_criteria", "_attempt_to_pin_criterion",
        "_remove_information_from_criteria", "_push_new_state", "_backjump",
        "_extract_causes", "_rollback_states", "_get_preference"))

_NOT_PINNED = object()


def build_result(state: Any) -> Any:
    """resolvelib's ``Result`` of a final ``state``: the pins with a route to the root.

    A criterion's parents are the pinned candidates (or None, the root) whose requirements
    made it; a pin is kept when a chain of such parents leads from the root to it. The chain
    is followed forwards from the root, each identifier reached once, so cycles (pinned or
    cut off from the root) end. The graph holds the kept identifiers and an edge from each
    pinned parent of theirs, as resolvelib's own builder does."""
    mapping = state.mapping
    key_of: dict[int, Any] = {id(candidate): key for key, candidate in mapping.items()}
    key_of[id(None)] = None
    parents: dict[Any, list[Any]] = {}
    children: dict[Any, list[Any]] = {}
    for key, criterion in state.criteria.items():
        found = parents[key] = []
        for parent in criterion.iter_parent():
            pkey = key_of.get(id(parent), _NOT_PINNED)
            if pkey is not _NOT_PINNED:
                found.append(pkey)
                children.setdefault(pkey, []).append(key)
    connected: set[Any] = {None}
    todo: list[Any] = [None]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in connected:
                connected.add(child)
                todo.append(child)
    graph: DirectedGraph[Any] = DirectedGraph()
    graph.add(None)
    for key, pkeys in parents.items():
        if key not in connected:
            continue
        if key not in graph:
            graph.add(key)
        for pkey in pkeys:
            if pkey not in graph:
                graph.add(pkey)
            graph.connect(pkey, key)
    return Result(mapping={k: c for k, c in mapping.items() if k in connected},
                  graph=graph, criteria=state.criteria)


class _Changes(dict):
    """The criteria one candidate's dependencies change, over the state's criteria.

    resolvelib 1.2.1 copies every criterion to try a candidate (``_get_updated_criteria``)
    and then writes every one back into the state (``criteria.update`` in
    ``_attempt_to_pin_criterion``): ~1,000 of each per candidate tried in the large Airflow
    resolve, 2,500 candidates (5 % of its time). This dictionary holds only the criteria
    the candidate's dependencies made, in the order they were made; a look-up (``[]``,
    ``get``, ``in``) of any other identifier reads the state's. ``dict.update`` with it
    writes back those alone -- the state's keys keep their places and new ones come last,
    in order, as after the copy -- and resolvelib reads the state's criteria only through
    look-ups while it adds them (``_add_to_criteria``, the provider's ``find_matches``
    mappings: constrain's provider only looks identifiers up, never lists them)."""

    __slots__ = ("base",)

    def __init__(self, base: dict) -> None:
        super().__init__()
        self.base = base

    def __missing__(self, key: Any) -> Any:
        return self.base[key]

    def get(self, key: Any, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.base.get(key, default)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.base


if _HOOKED:

    class _RememberingResolution(_Resolution):
        """resolvelib's Resolution, remembering the pin check per identifier."""

        def __init__(self, provider: Any, reporter: Any) -> None:
            super().__init__(provider, reporter)
            #: identifier -> (criterion, pin, answer) of the last check
            self._satisfying: dict[Any, tuple[Any, Any, bool]] = {}

        def _is_current_pin_satisfying(self, name: Any, criterion: Any) -> bool:
            # The entry holds the criterion and the pin alive, so ``is`` cannot be fooled by
            # a new object at a recycled address. (``_states[-1]`` is ``self.state`` without
            # the property's call: this runs for every criterion in every round.)
            known = self._satisfying.get(name)
            pin = self._states[-1].mapping.get(name)
            if known is not None and known[0] is criterion and known[1] is pin:
                return known[2]
            if pin is None:
                return False
            if known is not None and known[1] is pin:
                # the same pin, and most often the criterion it satisfied (or not) with
                # requirements added after its own: only those need asking (apache-airflow's
                # criterion gathers ~600 in the large Airflow resolve, one at a time)
                before, now = known[0].information, criterion.information
                n = len(before)
                if len(now) >= n and all(map(operator.is_, before, now)):
                    satisfies = self._p.is_satisfied_by
                    ok = known[2] and all(satisfies(requirement=info.requirement,
                                                    candidate=pin) for info in now[n:])
                    self._satisfying[name] = (criterion, pin, ok)
                    return ok
            ok = super()._is_current_pin_satisfying(name, criterion)
            self._satisfying[name] = (criterion, pin, ok)
            return ok


    class _OpenTrackingResolution(_RememberingResolution):
        """The same rounds as resolvelib 1.2.1's ``Resolution.resolve``, without its two
        scans of every criterion per round.

        resolvelib asks, at the start of every round, which criteria the current pins leave
        unsatisfied, and after each successful pin which of the satisfied ones it broke:
        each a pass over all criteria (the large Airflow resolve: ~1,000 criteria, 770
        rounds, 1.5 million checks). A successful pin changes only the pinned identifier
        and the criteria its dependencies were added to (:meth:`_add_to_criteria` notes
        them): every other criterion and pin is the same object as before, so its answer
        is too. The set of open identifiers is carried to the next round, updated for
        those alone; after anything else (a backjump, a rollback of optimistic
        backjumping, information removed from all criteria) the next round scans afresh.
        The rounds, the provider's and the reporter's calls, and their order are
        resolvelib's; the choice among the open identifiers is given them in the
        criteria's order, as resolvelib does. A provider with an ``open_queue()`` (a
        :class:`~constrain.resolver.preference.OpenQueue`: constrain's own) makes the same
        choice from sort keys kept between rounds, told which identifiers each successful
        round touched and when the open ones were scanned afresh, instead of being asked
        ``narrow_requirement_selection`` over every open identifier each round.
        """

        def __init__(self, provider: Any, reporter: Any) -> None:
            super().__init__(provider, reporter)
            #: identifier -> its criterion before the current candidate's dependencies
            #: were added (None: a new one)
            self._touched: dict[Any, Any] = {}

        def _get_updated_criteria(self, candidate: Any) -> Any:
            # resolvelib 1.2.1's, with the criteria a candidate changes gathered over the
            # state's instead of in a copy of all of them (see _Changes)
            self._touched = {}
            criteria = _Changes(self._states[-1].criteria)
            for requirement in self._p.get_dependencies(candidate=candidate):
                self._add_to_criteria(criteria, requirement, parent=candidate)
            return criteria

        def _add_to_criteria(self, criteria: Any, requirement: Any, parent: Any) -> None:
            if parent is not None:  # a candidate's dependency (roots come before round 1)
                key = self._p.identify(requirement)
                self._touched.setdefault(key, criteria.get(key))
            super()._add_to_criteria(criteria, requirement, parent)

        def _scan(self) -> set[Any]:
            check = self._is_current_pin_satisfying
            return {key for key, criterion in self._states[-1].criteria.items()
                    if not check(key, criterion)}

        def resolve(self, requirements: Any, max_rounds: int) -> Any:
            if self._states:
                raise RuntimeError("already resolved")
            self._r.starting()
            # a plain dict for the pins: resolvelib's OrderedDict is copied into every new
            # state (Python-level copy, ~1,000 pins x 770 rounds in the large resolve); the
            # loop needs only insertion order and popitem() taking the last pin, as dict does
            self._states = [State(mapping={}, criteria={}, backtrack_causes=[])]
            for requirement in requirements:
                try:
                    self._add_to_criteria(self.state.criteria, requirement, parent=None)
                except RequirementsConflicted as e:
                    raise resolvelib.ResolutionImpossible(e.criterion.information) from e
            self._push_new_state()  # the root's state: something the first pin can undo
            open_keys: set[Any] | None = None  # None: not known, scan
            make_queue = getattr(self._p, "open_queue", None)
            queue = make_queue() if callable(make_queue) else None
            watch_from: int | None = None  # the round optimistic backjumping began
            watch_rounds: int | None = None
            for round_index in range(max_rounds):
                self._r.starting_round(index=round_index)
                if self._optimistic_backjumping_ratio and self._save_states is not None:
                    if watch_from is None:
                        watch_from = round_index
                        watch_rounds = int((max_rounds - round_index)
                                           * self._optimistic_backjumping_ratio)
                        give_up = watch_rounds <= 0
                    else:
                        give_up = (watch_rounds is not None
                                   and round_index - watch_from >= watch_rounds)
                    if give_up:
                        self._rollback_states()
                        open_keys = None
                        continue
                state = self._states[-1]
                if open_keys is None:
                    open_keys = self._scan()
                    if queue is not None:
                        queue.reset()
                if not open_keys:
                    self._r.ending(state=state)
                    return state
                if queue is not None:
                    name = queue.first(open_keys, state.criteria, state.backtrack_causes)
                else:
                    # in the criteria's order, as resolvelib lists them
                    name = self._choose([key for key in state.criteria if key in open_keys])
                failure = self._attempt_to_pin_criterion(name)
                if failure:
                    open_keys = None
                    self._after_failure(failure)
                else:
                    open_keys = self._after_pin(name, open_keys)
                    if queue is not None:
                        queue.touched(self._touched)
                self._r.ending_round(index=round_index, state=self.state)
            raise resolvelib.ResolutionTooDeep(max_rounds)

        def _choose(self, unsatisfied: list[Any]) -> Any:
            if len(unsatisfied) > 1:
                state = self._states[-1]
                narrowed = list(self._p.narrow_requirement_selection(
                    identifiers=unsatisfied,
                    resolutions=state.mapping,
                    candidates=IteratorMapping(state.criteria,
                                               operator.attrgetter("candidates")),
                    information=IteratorMapping(state.criteria,
                                                operator.attrgetter("information")),
                    backtrack_causes=state.backtrack_causes,
                ))
            else:
                narrowed = unsatisfied
            if not narrowed:
                raise RuntimeError("narrow_requirement_selection returned 0 names")
            if len(narrowed) > 1:
                return min(narrowed, key=self._get_preference)
            return narrowed[0]

        def _after_pin(self, name: Any, open_before: set[Any]) -> set[Any] | None:
            """The open identifiers after ``name`` was pinned (None: scan next round)."""
            criteria = self._states[-1].criteria
            check = self._is_current_pin_satisfying
            now_open = open_before  # updated in place: the caller takes the answer
            broken = set()
            changed = dict(self._touched)
            changed.setdefault(name, criteria[name])
            for key, before in changed.items():
                # (each key once: its membership is still what it was when the round began)
                was_open = key in now_open
                if check(key, criteria[key]):
                    now_open.discard(key)
                else:
                    now_open.add(key)
                    if before is not None and not was_open:
                        broken.add(key)  # satisfied when the round began
            self._remove_information_from_criteria(criteria, broken)
            self._push_new_state()
            return None if broken else now_open

        def _after_failure(self, failure: Any) -> None:
            causes = self._extract_causes(failure)
            self._r.resolving_conflicts(causes=causes)
            try:
                success = self._backjump(causes)
            except resolvelib.ResolutionImpossible:
                # (the backjump itself may have saved the states to roll back to)
                if not (self._optimistic_backjumping_ratio and self._save_states):
                    raise
                failed_optimism = True
            else:
                failed_optimism = bool(not success and self._optimistic_backjumping_ratio
                                       and self._save_states)
            if failed_optimism and self._save_states:
                self._rollback_states()
                return
            self.state.backtrack_causes[:] = causes
            if not success:
                raise resolvelib.ResolutionImpossible(self.state.backtrack_causes)


class Resolver(resolvelib.Resolver):
    """``resolvelib.Resolver`` whose resolution remembers its pin checks (same answers)
    and, with the resolvelib release its rounds were checked against, carries the open
    identifiers from round to round."""

    def resolve(  # type: ignore[override]  # as resolvelib's own Resolver.resolve
        self, requirements: Any, max_rounds: int = 100
    ) -> Any:
        kind = _OpenTrackingResolution if _OWN_ROUNDS else _RememberingResolution
        resolution = kind(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        return build_result(state)


def resolver_class() -> type[resolvelib.Resolver]:
    """:class:`Resolver` when the installed resolvelib has the hook, else resolvelib's."""
    return Resolver if _HOOKED else resolvelib.Resolver

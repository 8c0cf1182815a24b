"""resolvelib's Resolver with its per-round pin check remembered between rounds.

Every round, resolvelib asks of every criterion whether the current pin still satisfies all
of its requirements (``Resolution._is_current_pin_satisfying``), and again after each pin for
the criteria that were satisfied: the large Airflow resolve (772 rounds, ~1,000 criteria)
made 1.5 million ``is_satisfied_by`` calls this way, a third of its time. The answer depends
only on the criterion (resolvelib never changes one: it replaces it) and on the pin (a
candidate object): :class:`Resolver` remembers it per identifier for the last (criterion,
pin) pair seen, so an unchanged criterion with an unchanged pin costs one identity test.
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

from typing import Any

import resolvelib
from resolvelib.resolvers import Result
from resolvelib.structs import DirectedGraph

try:  # resolvelib >= 1.1 keeps the loop here
    from resolvelib.resolvers.resolution import Resolution as _Resolution
except ImportError:  # pragma: no cover - a resolvelib laid out differently
    _Resolution = None  # type: ignore[assignment, misc]

_HOOKED = _Resolution is not None and callable(
    getattr(_Resolution, "_is_current_pin_satisfying", None))

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
            ok = super()._is_current_pin_satisfying(name, criterion)
            self._satisfying[name] = (criterion, pin, ok)
            return ok


class Resolver(resolvelib.Resolver):
    """``resolvelib.Resolver`` whose resolution remembers its pin checks (same answers)."""

    def resolve(  # type: ignore[override]  # as resolvelib's own Resolver.resolve
        self, requirements: Any, max_rounds: int = 100
    ) -> Any:
        resolution = _RememberingResolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        return build_result(state)


def resolver_class() -> type[resolvelib.Resolver]:
    """:class:`Resolver` when the installed resolvelib has the hook, else resolvelib's."""
    return Resolver if _HOOKED else resolvelib.Resolver

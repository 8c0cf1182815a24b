"""Property tests: on random small dependency graphs the resolver is sound and complete.

Sound: every resolution it returns satisfies every requirement, dependency and constraint, and
pins nothing that nobody needs. Complete: when it reports ResolutionImpossible, a brute-force
search over all version assignments finds no solution either.
"""

from __future__ import annotations

import itertools

from hypothesis import example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from constrain.errors import ConstrainError, ResolutionImpossible
from constrain.models import COMMAND_LINE, Origin
from constrain.resolver import resolve
from constrain.target import TargetEnvironment
from tests.support.memory_index import MemoryIndex

TARGET = TargetEnvironment.from_options("3.12", ["manylinux_2_17_x86_64"])
VERSIONS = ("1", "2", "3")
SPECS = st.sampled_from(["", ">=2", "<2", "==1", "==3", "!=2", ">=3", "<3"])


#: a world where resolvelib's loop leaves a cycle of pins cut off from the root (hypothesis
#: found it; resolvelib 1.2.1's own result builder recursed without end on it)
CUT_OFF_CYCLE = (
    ["p0", "p1", "p2", "p3"],
    [{"name": "p0", "version": "4", "requires": ["p2>=2", "p3>=4", "p1<2"]},
     {"name": "p0", "version": "1", "requires": ["p3>=4", "p1<3", "p2>=2"]},
     {"name": "p1", "version": "3", "requires": ["p0>=4"]},
     {"name": "p1", "version": "1", "requires": ["p2<3"]},
     {"name": "p1", "version": "2", "requires": []},
     {"name": "p1", "version": "4", "requires": []},
     {"name": "p1", "version": "5", "requires": []},
     {"name": "p2", "version": "4", "requires": []},
     {"name": "p2", "version": "2", "requires": []},
     {"name": "p2", "version": "1", "requires": []},
     {"name": "p2", "version": "5", "requires": ["p0>=2"]},
     {"name": "p2", "version": "3", "requires": ["p1", "p3==1"]},
     {"name": "p3", "version": "5", "requires": ["p1<4", "p0<3", "p2==1"]},
     {"name": "p3", "version": "4", "requires": ["p1==1", "p0<4", "p2<4"]}],
    ["p1!=4", "p2!=4"],
    [],
)


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 4))
    names = [f"p{i}" for i in range(n)]
    packages = []
    for i, name in enumerate(names):
        versions = draw(st.lists(st.sampled_from(VERSIONS), min_size=1, max_size=3, unique=True))
        for v in versions:
            later = names[i + 1:]
            deps = draw(st.lists(st.tuples(st.sampled_from(later), SPECS), max_size=2)) if later else []
            packages.append({"name": name, "version": v, "requires": [f"{d}{s}" for d, s in deps]})
    top = draw(st.lists(st.tuples(st.sampled_from(names), SPECS), min_size=1, max_size=2))
    cons = draw(st.lists(st.tuples(st.sampled_from(names), SPECS), max_size=2))
    return names, packages, [f"{n}{s}" for n, s in top], [f"{n}{s}" for n, s in cons]


def _ok(req: Requirement, version: Version | None) -> bool:
    return version is not None and req.specifier.contains(version)


def _valid(assign, deps, top, cons) -> bool:
    if not all(_ok(r, assign[r.name]) for r in top):
        return False
    for c in cons:
        if assign[c.name] is not None and not c.specifier.contains(assign[c.name]):
            return False
    for name, version in assign.items():
        if version is not None and not all(_ok(r, assign[r.name]) for r in deps[name, version]):
            return False
    return True


@settings(max_examples=80)
@given(worlds())
@example(CUT_OFF_CYCLE)
def test_resolutions_are_sound_and_complete(world) -> None:
    names, packages, top_text, cons_text = world
    deps = {
        (p["name"], Version(p["version"])): [Requirement(r) for r in p["requires"]]
        for p in packages
    }
    available = {n: sorted({v for (m, v) in deps if m == n}) for n in names}
    top = [Requirement(t) for t in top_text]
    cons = [Requirement(c) for c in cons_text]
    try:
        result = resolve(
            [(r, COMMAND_LINE) for r in top],
            [(c, Origin("c.txt", i)) for i, c in enumerate(cons, 1)],
            MemoryIndex(packages),
            TARGET,
        )
    except ResolutionImpossible:
        for combo in itertools.product(*[[None, *available[n]] for n in names]):
            assert not _valid(dict(zip(names, combo, strict=True)), deps, top, cons), f"missed {combo}"
        return
    assign = {n: None for n in names}
    assign.update({p.name: p.version for p in result.pins})
    assert _valid(assign, deps, top, cons)
    needed = {r.name for r in top} | {
        r.name for p in result.pins for r in deps[p.name, p.version]
    }
    assert {p.name for p in result.pins} <= needed


class _Recording:
    """A resolvelib reporter writing down what the loop did, round by round."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def __getattr__(self, event: str):
        def record(*args, **kwargs) -> None:
            values = [*args, *(v for _, v in sorted(kwargs.items()))]
            self.events.append((event, *(_spell(v) for v in values)))
        return record


def _spell(value) -> object:
    if hasattr(value, "mapping"):  # a state: its pins
        return tuple((k, str(c.version)) for k, c in value.mapping.items())
    if isinstance(value, (list, tuple)):  # causes: (requirement, parent) pairs
        return tuple(_spell(v) for v in value)
    if hasattr(value, "information"):  # a criterion
        return tuple(_spell(i) for i in value.information)
    return str(value)  # a candidate "name==version", a requirement, an index


def _mapping_or_error(resolver_type, provider_type, packages, top, cons):
    """Pins (identifier -> version) of one resolvelib run, or the failure's class name, and
    the reporter's events (every round, pin, rejection and backjump, in order)."""
    import resolvelib

    from constrain.policies.filters import FilePolicy
    from constrain.reporting import NULL_REPORTER
    from constrain.resolver.candidates import ConstraintIndex, Req

    constraints = ConstraintIndex.build(
        [(c, Origin("c.txt", i)) for i, c in enumerate(cons, 1)], TARGET)
    prov = provider_type(MemoryIndex(packages), TARGET, FilePolicy(), constraints, NULL_REPORTER)
    roots = [Req.from_requirement(r, COMMAND_LINE) for r in top]
    prov.add_roots(roots)
    reporter = _Recording()
    try:
        result = resolver_type(prov, reporter).resolve(roots, max_rounds=500)
    except (resolvelib.ResolutionError, ConstrainError) as exc:
        return type(exc).__name__, reporter.events
    return {k: str(c.version) for k, c in result.mapping.items()}, reporter.events


class _PlainLoop:
    """resolvelib's own loop (its Resolution, unchanged), its final state turned into a
    result by constrain's builder (loop.build_result) -- and by resolvelib's, which must
    agree whenever it ends: resolvelib 1.2.1's recursed without end on a cycle of pins cut
    off from the root (scenario cycle_cut_from_root; hypothesis found p0 <-> p3 here)."""

    def __init__(self, provider, reporter) -> None:
        self.provider, self.reporter = provider, reporter

    def resolve(self, requirements, max_rounds):
        from resolvelib.resolvers.resolution import Resolution, _build_result

        from constrain.resolver.loop import build_result

        state = Resolution(self.provider, self.reporter).resolve(requirements, max_rounds)
        result = build_result(state)
        try:
            theirs = _build_result(state)
        except RecursionError:
            return result
        assert result.mapping == theirs.mapping
        assert set(result.graph) == set(theirs.graph)
        assert all(set(result.graph.iter_children(k)) == set(theirs.graph.iter_children(k))
                   for k in result.graph)
        return result


@st.composite
def tangled_worlds(draw):
    """Worlds where the order of choices changes the answer: up to 6 projects with up to 5
    releases, each depending on any other project (cycles included)."""
    names = [f"p{i}" for i in range(draw(st.integers(2, 6)))]
    specs = st.sampled_from(["", ">=2", "<2", "<3", ">=3", "!=4", "<4", ">=4", "==1"])
    packages = []
    for name in names:
        versions = draw(st.lists(st.sampled_from(("1", "2", "3", "4", "5")), min_size=1,
                                 max_size=5, unique=True))
        others = [n for n in names if n != name]
        for v in versions:
            deps = draw(st.lists(st.tuples(st.sampled_from(others), specs), max_size=3,
                                 unique_by=lambda d: d[0]))
            packages.append({"name": name, "version": v, "requires": [f"{d}{s}" for d, s in deps]})
    top = draw(st.lists(st.tuples(st.sampled_from(names), specs), min_size=1, max_size=3,
                        unique_by=lambda d: d[0]))
    cons = draw(st.lists(st.tuples(st.sampled_from(names), specs), max_size=2))
    return names, packages, [f"{n}{s}" for n, s in top], [f"{n}{s}" for n, s in cons]


@settings(max_examples=120)
@given(tangled_worlds())
@example(CUT_OFF_CYCLE)
def test_the_fast_loop_chooses_as_resolvelib_and_get_preference_do(world) -> None:
    # The provider picks the next identifier itself (narrow_requirement_selection, sort keys
    # kept per criterion), the resolution remembers its pin checks and carries the open
    # identifiers from round to round (resolver/loop.py): the same rounds (every reporter
    # event, in order) and the same pins, or the same failure, as resolvelib's own loop
    # asking get_preference of every open identifier in every round. A RecursionError (or
    # any other) fails the test.
    from constrain.resolver.loop import resolver_class
    from constrain.resolver.preference import narrow
    from constrain.resolver.provider import ConstrainProvider

    class AskingEveryRound(ConstrainProvider):
        def narrow_requirement_selection(self, identifiers, resolutions, candidates,
                                         information, backtrack_causes):
            return narrow(identifiers, resolutions)

    _, packages, top_text, cons_text = world
    top = [Requirement(t) for t in top_text]
    cons = [Requirement(c) for c in cons_text]
    fast = _mapping_or_error(resolver_class(), ConstrainProvider, packages, top, cons)
    plain = _mapping_or_error(_PlainLoop, AskingEveryRound, packages, top, cons)
    assert fast == plain


def test_a_criterion_left_without_requirements_still_names_its_project() -> None:
    # resolvelib's backjump (_patch_criteria) may ask find_matches about a criterion whose
    # requirements have all gone (hypothesis found one: an IndexError in the provider).
    from constrain.policies.filters import FilePolicy
    from constrain.reporting import NULL_REPORTER
    from constrain.resolver.candidates import ConstraintIndex
    from constrain.resolver.provider import ConstrainProvider

    packages = [{"name": "p0", "version": v, "requires": []} for v in ("1", "2", "3")]
    constraints = ConstraintIndex.build([(Requirement("p0!=2"), Origin("c.txt", 1))], TARGET)
    prov = ConstrainProvider(MemoryIndex(packages), TARGET, FilePolicy(), constraints,
                             NULL_REPORTER)
    found = prov.find_matches("p0", {"p0": iter(())}, {})
    assert [str(c.version) for c in found] == ["3", "1"]

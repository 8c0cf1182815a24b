"""Property tests: on random small dependency graphs the resolver is sound and complete.

Sound: every resolution it returns satisfies every requirement, dependency and constraint, and
pins nothing that nobody needs. Complete: when it reports ResolutionImpossible, a brute-force
search over all version assignments finds no solution either.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version

from constrain.errors import ResolutionImpossible
from constrain.models import COMMAND_LINE, Origin
from constrain.resolver import resolve
from constrain.target import TargetEnvironment
from tests.support.memory_index import MemoryIndex

TARGET = TargetEnvironment.from_options("3.12", ["manylinux_2_17_x86_64"])
VERSIONS = ("1", "2", "3")
SPECS = st.sampled_from(["", ">=2", "<2", "==1", "==3", "!=2", ">=3", "<3"])


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


@settings(max_examples=80, deadline=None)
@given(worlds())
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

"""The limits of an identifier, read incrementally from resolvelib's criteria, are what
reading every requirement gives, after requirements are added and after some are removed;
so is the count of its requirements."""

from __future__ import annotations

import operator

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.version import Version
from resolvelib.resolvers.criterion import Criterion
from resolvelib.structs import IteratorMapping, RequirementInformation

from constrain.resolver.candidates import ConstraintIndex, Req
from constrain.resolver.limits import Limits
from constrain.resolver.matches import requirement_count
from constrain.target import TargetEnvironment

TARGET = TargetEnvironment.from_options("3.12", ["manylinux_2_17_x86_64"])
SPECS = ["", ">=1", "<3", "==2", "!=2", ">=1,<3", "<3,>=1"]


def _req(key: str, spec: str) -> Req:
    name, _, extra = key.partition("[")
    if spec == "exact":
        return Req(name, extras=frozenset([extra[:-1]]) if extra else frozenset(),
                   exact=Version("2"))
    return Req.from_requirement(Requirement(f"{key}{spec}"))


def _naive(identifier: str, name: str, requirements, constraints: ConstraintIndex) -> dict:
    found = {r.limit[0]: r.limit[1] for r in requirements.get(identifier, ())}
    if identifier != name:
        for r in requirements.get(name, ()):
            found.setdefault(*r.limit)
    for spec in constraints.specifiers(name):
        found.setdefault(str(spec), spec)
    return found


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["p", "p[x]"]),
                          st.sampled_from(["add", "remove", "ask"]),
                          st.sampled_from([*SPECS, "exact"]),
                          st.integers(0, 5)),
                min_size=1, max_size=25),
       st.sampled_from(["", "<4", "!=1"]))
def test_limits_read_incrementally_are_every_requirements(steps, constraint) -> None:
    constraints = ConstraintIndex.build(
        [(Requirement(f"p{constraint}"), None)] if constraint else [], TARGET)  # type: ignore[list-item]
    limits = Limits(constraints)
    criteria: dict[str, Criterion] = {}
    for key, action, spec, n in steps:
        old = criteria.get(key)
        information = list(old.information) if old is not None else []
        if action == "add":  # as resolvelib's _add_to_criteria, asking find_matches first
            new = _req(key, spec)
            mapping = IteratorMapping(criteria, operator.methodcaller("iter_requirement"),
                                      {key: [new]})
            got = limits.of(key, "p", mapping)
            assert got == _naive(key, "p", mapping, constraints)
            assert list(got) == list(_naive(key, "p", mapping, constraints))
            assert requirement_count(mapping, key) == len(list(mapping[key]))
            information.append(RequirementInformation(new, None))
        elif action == "remove":  # a backjump: the same criterion with some requirements gone
            information = [info for i, info in enumerate(information) if i % (n + 2)]
        criteria[key] = Criterion([], information, [])
        mapping = IteratorMapping(criteria, operator.methodcaller("iter_requirement"))
        got = limits.of(key, "p", mapping)
        assert got == _naive(key, "p", mapping, constraints)
        assert list(got) == list(_naive(key, "p", mapping, constraints))
        assert requirement_count(mapping, key) == len(list(mapping[key]))


def test_a_plain_mapping_is_read_whole() -> None:
    limits = Limits(ConstraintIndex.build([], TARGET))
    got = limits.of("p", "p", {"p": iter([_req("p", ">=1"), _req("p", "<3")])})
    assert list(got) == [">=1", "<3"]
    assert requirement_count({"p": iter([_req("p", ">=1"), _req("p", "<3")])}, "p") == 2

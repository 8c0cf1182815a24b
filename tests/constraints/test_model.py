"""ConstraintSet: per-target selection, intersection, origins, order, exact-pin conflicts."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from constrain.constraints.model import Inputs
from constrain.constraints.sets import Constraint, ConstraintConflict, ConstraintSet
from constrain.errors import InputError
from constrain.models import Origin
from constrain.target import TargetEnvironment


def entries(*items: tuple[str, str, int]) -> list[tuple[Requirement, Origin]]:
    return [(Requirement(text), Origin(src, line, text)) for text, src, line in items]


LINUX_311 = TargetEnvironment((3, 11, 0), platforms=("manylinux_2_28_x86_64",))
WIN_38 = TargetEnvironment((3, 8, 0), platforms=("win_amd64",))


def test_specifier_is_the_intersection_and_origins_are_in_input_order() -> None:
    cs = ConstraintSet(entries(("Foo>=1", "a.txt", 1), ("foo<2", "b.txt", 4), ("bar==3", "a.txt", 2)))
    assert cs.specifier("FOO") == SpecifierSet(">=1,<2")
    assert [str(o) for o in cs.origins("foo")] == ["a.txt:1", "b.txt:4"]
    assert cs.specifier("unknown") == SpecifierSet()
    assert cs.for_project("unknown") == ()
    assert "Foo" in cs and "baz" not in cs
    assert len(cs) == 3


def test_iteration_is_in_sorted_name_order() -> None:
    cs = ConstraintSet(entries(("zeta==1", "c", 1), ("alpha<2", "c", 2), ("Mid_Dle==3", "c", 3)))
    assert [c.name for c in cs] == ["alpha", "mid-dle", "zeta"]
    assert cs.names() == ("alpha", "mid-dle", "zeta")


def test_markers_are_evaluated_against_the_target() -> None:
    raw = entries(
        ('numpy==1.24.4; python_version < "3.9"', "c.txt", 1),
        ('numpy==2.1.0; python_version >= "3.9"', "c.txt", 2),
        ('pywin32==306; sys_platform == "win32"', "c.txt", 3),
    )
    linux = ConstraintSet(raw, evaluate=LINUX_311.evaluate)
    assert linux.specifier("numpy") == SpecifierSet("==2.1.0")
    assert "pywin32" not in linux
    win = ConstraintSet.from_inputs(Inputs(constraints=tuple(raw)), WIN_38)
    assert win.specifier("numpy") == SpecifierSet("==1.24.4")
    assert [str(o) for o in win.origins("pywin32")] == ["c.txt:3"]


def test_without_a_target_pins_under_different_markers_do_not_conflict() -> None:
    raw = entries(
        ('numpy==1.24.4; python_version < "3.9"', "c.txt", 1),
        ('numpy==2.1.0; python_version >= "3.9"', "c.txt", 2),
    )
    cs = ConstraintSet(raw)
    assert len(cs.for_project("numpy")) == 2


def test_conflicting_exact_pins_name_both_origins() -> None:
    with pytest.raises(ConstraintConflict) as info:
        ConstraintSet(entries(("foo==1.0", "a.txt", 3), ("foo==2.0", "b.txt", 7)))
    err = info.value
    assert isinstance(err, InputError)
    assert "a.txt:3" in err.message and "b.txt:7" in err.message
    assert [str(loc) for loc in err.locations] == ["a.txt:3", "b.txt:7"]
    assert [loc.text for loc in err.locations] == ["foo==1.0", "foo==2.0"]
    rendered = "\n".join(err.render())
    assert "foo==1.0" in rendered and "foo==2.0" in rendered and "hint:" in rendered


def test_every_conflicting_project_is_reported_at_once() -> None:
    with pytest.raises(ConstraintConflict) as info:
        ConstraintSet(
            entries(
                ("foo==1", "a.txt", 1), ("bar==1", "a.txt", 2),
                ("foo==2", "b.txt", 1), ("bar==2", "b.txt", 2), ("ok==1", "b.txt", 3),
            )
        )
    assert set(info.value.conflicts) == {"foo", "bar"}
    assert len(info.value.locations) == 4


def test_conflict_only_on_targets_where_both_pins_apply() -> None:
    raw = entries(("foo==1", "a.txt", 1), ('foo==2; sys_platform == "win32"', "b.txt", 1))
    assert ConstraintSet(raw, evaluate=LINUX_311.evaluate).specifier("foo") == SpecifierSet("==1")
    with pytest.raises(ConstraintConflict):
        ConstraintSet(raw, evaluate=WIN_38.evaluate)


@pytest.mark.parametrize(
    "first, second",
    [
        ("foo==1.0", "foo==1.0.0"),  # the same version spelled two ways
        ("foo==1.0", "foo>=0.5"),  # a range is the resolver's business
        ("foo==1.*", "foo==2.*"),  # prefix matches are ranges, not pins
        ("foo==1.0", "foo @ https://h.invalid/foo-1.0.tar.gz"),
    ],
)
def test_not_conflicts(first: str, second: str) -> None:
    cs = ConstraintSet(entries((first, "a.txt", 1), (second, "b.txt", 1)))
    assert len(cs.for_project("foo")) == 2


def test_different_direct_urls_conflict() -> None:
    with pytest.raises(ConstraintConflict):
        ConstraintSet(
            entries(
                ("foo @ https://h.invalid/foo-1.tar.gz", "a.txt", 1),
                ("foo @ https://h.invalid/foo-2.tar.gz", "b.txt", 1),
            )
        )


def test_arbitrary_equality_pins_compare_as_strings() -> None:
    with pytest.raises(ConstraintConflict):
        ConstraintSet(entries(("foo===abc", "a.txt", 1), ("foo===abd", "b.txt", 1)))


@pytest.mark.parametrize("wanted", [Origin("b.txt", 7), Origin("b.txt")])
def test_an_override_settles_a_conflict_and_is_recorded(wanted: Origin) -> None:
    raw = entries(("foo==1.0", "a.txt", 3), ("Foo==2.0", "b.txt", 7), ("foo<3", "c.txt", 1))
    cs = ConstraintSet(raw, overrides={"FOO": wanted})
    assert cs.specifier("foo") == SpecifierSet("==2.0,<3")
    assert [str(o) for o in cs.origins("foo")] == ["b.txt:7", "c.txt:1"]
    (settled,) = cs.overridden
    assert settled.name == "foo"
    assert str(settled.winner.origin) == "b.txt:7"
    assert [str(c.origin) for c in settled.dropped] == ["a.txt:3"]


def test_an_override_that_matches_no_pin_leaves_the_conflict() -> None:
    raw = entries(("foo==1.0", "a.txt", 3), ("foo==2.0", "b.txt", 7))
    with pytest.raises(ConstraintConflict):
        ConstraintSet(raw, overrides={"foo": Origin("elsewhere.txt", 1)})


def test_no_override_is_recorded_without_conflicts() -> None:
    cs = ConstraintSet(entries(("foo==1", "a", 1)), overrides={"foo": Origin("a", 1)})
    assert cs.overridden == ()


def test_constraint_exposes_name_marker_url_and_exact_version() -> None:
    c = Constraint.from_requirement(
        Requirement('Foo.Bar @ https://h.invalid/x.whl ; os_name == "nt"'), Origin("c", 1)
    )
    assert c.name == "foo-bar"
    assert c.url == "https://h.invalid/x.whl"
    assert str(c.marker) == 'os_name == "nt"'
    assert c.exact_version is None
    assert Constraint.from_requirement(Requirement("x>1,==2.0"), Origin("c", 1)).exact_version == "2.0"

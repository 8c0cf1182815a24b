"""The resolver's marker memo answers as the target does, for one extra, many, or none."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.markers import Marker

from constrain.resolver.dependencies import MarkerMemo
from constrain.target import TargetEnvironment

TARGET = TargetEnvironment.from_options("3.12", ["manylinux_2_17_x86_64"])

MARKERS = [
    'extra == "web"',
    'extra == "Data_Base"',  # packaging keeps the name normalized: extra == "data-base"
    "extra == 'cli'",
    '"web" == extra',
    'extra != "web"',
    'extra == "web" or extra == "cli"',
    'extra == "web" and sys_platform == "win32"',
    'extra == "web" and python_version >= "3.8"',
    'sys_platform == "linux"',
    'python_version < "3.8"',
    '(python_version < "3.8" or sys_platform == "linux") and extra == "cli"',
    'sys_platform == "linux" or extra == "web" and python_version >= "3.8"',
    '"data.base" == extra and sys_platform == "linux"',
    'extra == "web" and extra == "cli"',
    'extra != "web" and sys_platform == "linux"',
]
EXTRAS = ["web", "WEB", "cli", "data-base", "Data_Base", "data.base", "other", "x"]


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(MARKERS),
                          st.frozensets(st.sampled_from(EXTRAS), max_size=5)),
                min_size=1, max_size=12))
def test_the_memo_answers_as_the_target(asks) -> None:
    # one memo for the whole list: remembered answers (and the last set of extras kept)
    # must never leak from one question into another
    markers = {text: Marker(text) for text in MARKERS}
    memo = MarkerMemo(TARGET)
    for n, (text, extras) in enumerate(asks):
        # now the same object again, now another one with the same text (read apart)
        marker = markers[text] if n % 2 else Marker(text)
        assert memo.evaluate(marker, extras) == TARGET.evaluate(marker, extras), (text, extras)
        as_set = set(extras)  # a mutable set is asked about too (extra_dependencies does)
        assert memo.evaluate(marker, as_set) == TARGET.evaluate(marker, as_set), (text, extras)


def _counted_memo() -> tuple[MarkerMemo, list[tuple[str, tuple]]]:
    """A memo over a target that notes each question it is asked: (marker text, extras)."""
    asked: list[tuple[str, tuple]] = []

    class Counting(TargetEnvironment):
        def evaluate(self, marker, extras=frozenset()):
            asked.append((str(marker), tuple(extras)))
            return super().evaluate(marker, extras)

    return MarkerMemo(Counting.from_options("3.12", ["manylinux_2_17_x86_64"])), asked


def test_an_extra_only_marker_is_evaluated_twice_for_any_number_of_extras() -> None:
    # apache-airflow[all] asks for apache-airflow with ~100 extras at once, and each of its
    # hundreds of Requires-Dist lines is guarded by one extra: the memo asks the target about
    # the line's own extra and about no extra, not about each of the 100.
    memo, asked = _counted_memo()
    extras = frozenset(f"e{i}" for i in range(100))
    lines = [Marker(f'extra == "e{i}"') for i in range(0, 200, 2)]
    held = [memo.evaluate(m, extras) for m in lines]
    assert held == [i < 100 for i in range(0, 200, 2)]
    assert len(asked) <= 2 * len(lines)


def test_markers_read_apart_with_the_same_text_are_evaluated_once_per_extra() -> None:
    # metadata read at different times holds equal markers as different objects
    memo, asked = _counted_memo()
    texts = ['python_version < "3.13"', 'sys_platform == "win32"', 'extra == "web"']
    for _ in range(5):
        assert [memo.evaluate(Marker(t)) for t in texts] == [True, False, False]
        assert [memo.evaluate(Marker(t), frozenset({"web"})) for t in texts] == [
            True, False, True]
    assert len(asked) == len(set(asked)) == 6  # each text once without, once with "web"


def test_a_conjunction_with_one_extra_is_evaluated_twice_for_any_number_of_extras() -> None:
    # apache-airflow's lines such as 'python_version < "3.12" and extra == "devel-ci"'
    # hold for that one extra alone: not asked about each of the 100 extras of a candidate
    memo, asked = _counted_memo()
    extras = frozenset(f"e{i}" for i in range(100))
    lines = [Marker(f'python_version >= "3.{i % 14}" and extra == "e{i}"')
             for i in range(0, 200, 2)]
    held = [memo.evaluate(m, extras) for m in lines]
    assert held == [i < 100 and i % 14 <= 12 for i in range(0, 200, 2)]
    assert len(asked) <= 2 * len(lines)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["dep-a", "dep-b", "foo[cli]"]),
                          st.sampled_from([None, *MARKERS])), max_size=10),
       st.lists(st.frozensets(st.sampled_from(EXTRAS), min_size=1, max_size=4),
                min_size=1, max_size=4),
       st.frozensets(st.sampled_from(["web", "cli", "data-base"])))
def test_an_extras_candidates_dependencies_are_the_targets(lines, asks, provided) -> None:
    # the memo reads only the lines that may hold for the extras asked (lines_by_extra):
    # the same requirements, in the same order, as reading every line with the target
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from constrain.models import CoreMetadata
    from constrain.resolver.candidates import Candidate
    from constrain.resolver.dependencies import extra_dependencies

    md = CoreMetadata(
        name="foo", version=Version("1.0"),
        requires_dist=tuple(Requirement(f"{n}; {m}" if m else n) for n, m in lines),
        provides_extra=frozenset(provided))  # type: ignore[arg-type]
    memo = MarkerMemo(TARGET)
    for extras in asks:
        candidate = Candidate("foo", Version("1.0"),
                              frozenset(canonicalize_name(e) for e in extras))
        assert extra_dependencies(memo, candidate, md) == extra_dependencies(
            TARGET, candidate, md)


def test_a_requirement_line_shared_by_releases_gives_each_its_own_dependency() -> None:
    # metadata from the facts snapshot holds equal Requires-Dist lines as one object; made
    # into a resolver requirement once per object, it still depends on the parent: foo[all]
    # needing foo[web] needs exactly its own release, 1.0 for 1.0 and 2.0 for 2.0, and a
    # release needing itself with no new extra needs nothing
    from packaging.requirements import Requirement
    from packaging.version import Version

    from constrain.resolver.candidates import Candidate, Req
    from constrain.resolver.dependencies import Dependencies, dependency

    made = Dependencies()
    itself, other = Requirement("foo[web]"), Requirement("bar>=2")
    for version in ("1.0", "2.0", "1.0"):
        parent = Candidate("foo", Version(version), frozenset({"all"}))
        assert made(itself, parent) == dependency(itself, parent) == Req(
            "foo", extras=frozenset({"web"}), exact=Version(version))
        assert made(other, parent) == dependency(other, parent)
        assert made(other, parent) is made(other, parent)
        web = Candidate("foo", Version(version), frozenset({"web"}))
        assert made(itself, web) is None

"""Resolver behaviour beyond pins: prefetching, metadata reads, stats, install-set fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from packaging.requirements import Requirement

from constrain.errors import InputError, ResolutionImpossible
from constrain.models import COMMAND_LINE, Origin
from constrain.reporting import CollectingReporter
from constrain.resolver import ResolveOptions, resolve
from constrain.target import TargetEnvironment
from tests.support.memory_index import MemoryIndex

LINUX = TargetEnvironment.from_options("3.11", ["manylinux_2_28_x86_64"])


def req(text: str) -> tuple[Requirement, Origin]:
    return Requirement(text), COMMAND_LINE


def pkg(name: str, version: str, *requires: str, **kw) -> dict:
    return {"name": name, "version": version, "requires": list(requires), **kw}


def test_prefetch_picks_best_file_of_highest_allowed_version() -> None:
    index = MemoryIndex(
        [
            pkg("app", "1.0", "foo>=1"),
            pkg("foo", "3.0"),  # excluded by the constraint
            pkg("foo", "2.5b1"),  # a pre-release: not by default
            pkg("foo", "2.1", yanked="bad"),  # yanked
            pkg("foo", "2.0", files=["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "sdist"]),
        ]
    )
    result = resolve([req("app")], [(Requirement("foo<3"), Origin("c.txt", 1))], index, LINUX)
    assert str(result.pin("foo").version) == "2.0"
    assert ("app", ("app-1.0-py3-none-any.whl",)) in index.prefetched
    assert ("foo", ("foo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",)) in index.prefetched
    # Pin.files: every acceptable file of the version, best first.
    assert [f.filename for f in result.pin("foo").files] == [
        "foo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
        "foo-2.0-py3-none-any.whl",
        "foo-2.0.tar.gz",
    ]


def test_dependencies_are_prefetched_together_before_any_is_listed() -> None:
    index = MemoryIndex(
        [pkg("app", "1.0", "a", "b", "c"), pkg("a", "1.0"), pkg("b", "1.0"), pkg("c", "1.0")]
    )
    resolve([req("app")], [], index, LINUX)
    log = index.log
    first_listing = min(log.index(("files", n)) for n in "abc")
    assert all(log.index(("prefetch", n)) < first_listing for n in "abc")
    # The root is hinted before anything is fetched.
    assert log[0] == ("prefetch", "app")


def test_metadata_read_once_per_version_even_with_extras() -> None:
    index = MemoryIndex(
        [
            pkg("foo", "1.0", "bar", extras={"a": ["x"], "b": ["y"], "all": ["foo[a,b]"]}),
            pkg("bar", "1.0"),
            pkg("x", "1.0"),
            pkg("y", "1.0"),
        ]
    )
    result = resolve([req("foo[all]"), req("foo[a]"), req("foo")], [], index, LINUX)
    assert sorted(p.name for p in result.pins) == ["bar", "foo", "x", "y"]
    assert sorted(index.metadata_calls) == sorted(
        ["foo-1.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl",
         "x-1.0-py3-none-any.whl", "y-1.0-py3-none-any.whl"]
    )


def test_stats_and_install_set_fields() -> None:
    old = {"upload_time": "2023-01-01T00:00:00Z"}
    index = MemoryIndex(
        [
            pkg("a", "3.0", "c<1", **old),
            pkg("a", "2.0", "c<1", **old),
            pkg("a", "1.0", "c", **old),
            pkg("c", "1.0", **old),
        ]
    )
    cutoff = datetime(2024, 1, 1, tzinfo=UTC)
    reqs = [req("a")]
    cons = [(Requirement("c>=1"), Origin("c.txt", 2))]
    result = resolve(reqs, cons, index, LINUX, ResolveOptions(exclude_newer=cutoff))
    assert str(result.pin("a").version) == "1.0"
    assert result.stats.rounds > 0
    assert result.stats.candidates_visited >= 4  # a 3.0, a 2.0 rejected; a 1.0, c 1.0 pinned
    assert result.requirements == tuple(reqs)
    assert result.constraints == tuple(cons)
    assert result.exclude_newer == cutoff
    assert result.target == LINUX
    assert result.pin("a").requested and not result.pin("c").requested
    assert result.pin("c").required_by == ("a==1.0",)
    assert [str(o) for o in result.pin("c").constraint_origins] == ["c.txt:2"]


def test_direct_url_requirement_is_reported_with_its_location() -> None:
    origin = Origin("requirements.txt", 3, "foo @ file:///tmp/foo.whl")
    with pytest.raises(InputError) as info:
        resolve([(Requirement("foo @ file:///tmp/foo.whl"), origin)], [], MemoryIndex([]), LINUX)
    assert "requirements.txt:3" in "\n".join(info.value.render())


def test_conflict_error_never_leaks_resolvelib_text() -> None:
    index = MemoryIndex([pkg("a", "1.0", "c<1"), pkg("b", "1.0", "c>=1"), pkg("c", "1.0")])
    with pytest.raises(ResolutionImpossible) as info:
        resolve([req("a"), req("b")], [], index, LINUX)
    text = "\n".join(info.value.render())
    assert "RequirementInformation" not in text and "Criterion" not in text
    assert "c has 1.0" in text


def test_reporter_gets_progress_for_every_pin() -> None:
    class Counting(CollectingReporter):
        advanced = 0

        def advance(self, task: str, amount: int = 1) -> None:
            self.advanced += amount

    reporter = Counting()
    index = MemoryIndex([pkg("a", "1.0", "b"), pkg("b", "1.0")])
    resolve([req("a")], [], index, LINUX, reporter=reporter)
    assert reporter.advanced == 2


class _CrawlingIndex(MemoryIndex):
    """A memory index whose prefetch also runs the crawl step, at once (the real index runs it
    in a background thread once the chosen file's metadata has arrived)."""

    def prefetch(self, project, choose=None, then=None) -> None:
        super().prefetch(project, choose, then)
        if choose is not None and then is not None and project in self._files:
            chosen = list(choose(tuple(self._files[project])))
            if chosen:
                then(self.metadata(chosen[0]))


PROVIDERS = [
    pkg("airflow", "3.0"),
    pkg("airflow", "2.0"),
    pkg("prov", "3.0", "airflow>=3"),
    pkg("prov", "2.0", "airflow>=3"),
    pkg("prov", "1.0", "airflow>=2"),
]


@pytest.mark.parametrize("pinned_by", ["requirement", "constraint"])
def test_crawl_walks_ahead_when_a_release_cannot_go_with_an_exact_pin(pinned_by) -> None:
    # prov 3.0 needs airflow>=3 but airflow 2.0 is pinned: the resolver will walk down prov's
    # releases one metadata fetch at a time, so the crawl asks for the older ones up front.
    index = _CrawlingIndex(PROVIDERS)
    if pinned_by == "requirement":
        result = resolve([req("airflow==2.0"), req("prov")], [], index, LINUX)
    else:
        result = resolve([req("airflow"), req("prov")],
                         [(Requirement("airflow==2.0"), Origin("c.txt", 1))], index, LINUX)
    assert str(result.pin("prov").version) == "1.0"
    hint = ("prefetch_files", ("prov-2.0-py3-none-any.whl", "prov-1.0-py3-none-any.whl"))
    assert hint in index.log
    # the hint comes before the resolver itself reads prov 2.0's metadata
    assert index.log.index(hint) < index.log.index(("metadata", "prov-2.0-py3-none-any.whl"))


def test_an_offline_source_gets_no_look_ahead_hints() -> None:
    # an offline repository fetches nothing in the background: the resolver gives it no hint
    # at all (choosing files ahead filtered each later version's files for no one, and each
    # hint made its closures for no one); same pins
    index = _CrawlingIndex(PROVIDERS)
    index.offline = True
    result = resolve([req("airflow==2.0"), req("prov")], [], index, LINUX)
    assert str(result.pin("prov").version) == "1.0"
    assert not [entry for entry in index.log if entry[0] in ("prefetch", "prefetch_files")]
    assert ("metadata", "prov-2.0-py3-none-any.whl") in index.log  # it did walk down


def test_crawl_does_not_walk_ahead_without_an_exact_pin() -> None:
    index = _CrawlingIndex(PROVIDERS)
    result = resolve([req("airflow>=2"), req("prov")], [], index, LINUX)
    assert str(result.pin("prov").version) == "3.0"
    assert not [entry for entry in index.log if entry[0] == "prefetch_files"]


def test_preference_facts_are_kept_per_resolvelib_criterion() -> None:
    # resolvelib asks which open identifier to work on next in every round; the provider
    # answers in narrow_requirement_selection with the sort key kept per criterion, which
    # resolvelib hands over behind its mapping. If a resolvelib release stops doing so,
    # preferences are computed afresh through get_preference (same pins, slower): this test
    # says so.
    import resolvelib

    from constrain.policies.filters import FilePolicy
    from constrain.reporting import NULL_REPORTER
    from constrain.resolver import provider as provider_module
    from constrain.resolver.candidates import ConstraintIndex, Req
    from constrain.resolver.preference import Chooser

    index = MemoryIndex([pkg("app", "1.0", "a>=1", "b"), pkg("a", "1.0"), pkg("a", "2.0", "b<2"),
                         pkg("b", "1.0"), pkg("b", "2.0")])
    found: list[object] = []
    asked: list[str] = []

    class RecordingChooser(Chooser):
        def sort_keys(self, identifier, criterion):
            found.append(criterion)
            return super().sort_keys(identifier, criterion)

    class Recording(provider_module.ConstrainProvider):
        def get_preference(self, identifier, resolutions, candidates, information,
                           backtrack_causes):
            asked.append(identifier)
            return super().get_preference(identifier, resolutions, candidates, information,
                                          backtrack_causes)

    prov = Recording(index, LINUX, FilePolicy(), ConstraintIndex.build([], LINUX), NULL_REPORTER)
    prov.chooser = RecordingChooser(prov.constraints, prov.user_named)
    roots = [Req.from_requirement(Requirement("app"))]
    prov.add_roots(roots)
    result = resolvelib.Resolver(prov, resolvelib.BaseReporter()).resolve(roots)
    assert {k: str(c.version) for k, c in result.mapping.items()} == {
        "app": "1.0", "a": "2.0", "b": "1.0"}
    assert found and all(isinstance(c, resolvelib.resolvers.criterion.Criterion) for c in found)
    assert asked == []  # every choice made in one pass by narrow_requirement_selection


def test_the_resolution_checks_each_pin_against_a_criterion_once() -> None:
    # resolvelib re-checks every pin against every requirement on it in every round; the
    # resolution constrain runs (resolver/loop.py) asks again only when the criterion or the
    # pin changed. If a resolvelib release drops the hook, resolver_class() falls back to
    # resolvelib's own loop (same pins, more checks): this test says so.
    import resolvelib

    from constrain.policies.filters import FilePolicy
    from constrain.reporting import NULL_REPORTER
    from constrain.resolver import loop
    from constrain.resolver.candidates import ConstraintIndex, Req
    from constrain.resolver.provider import ConstrainProvider

    assert loop.resolver_class() is loop.Resolver
    # ... and its rounds: loop._OpenTrackingResolution follows the rounds of the resolvelib
    # releases in loop.ROUNDS_OF (test_properties compares every reporter event with
    # resolvelib's own loop); another release runs resolvelib's own rounds until checked
    assert loop._OWN_ROUNDS, (resolvelib.__version__, loop.ROUNDS_OF)
    packages = [pkg("app", "1.0", *(f"d{i}" for i in range(30)))]
    packages += [pkg(f"d{i}", "1.0", "shared>=1") for i in range(30)]
    packages += [pkg("shared", "1.0"), pkg("shared", "2.0")]
    pins, checks = [], []

    class Counting(ConstrainProvider):
        checked = 0

        def is_satisfied_by(self, requirement, candidate):
            self.checked += 1
            return super().is_satisfied_by(requirement, candidate)

    for resolver_type in (resolvelib.Resolver, loop.Resolver):
        prov = Counting(MemoryIndex(packages), LINUX, FilePolicy(),
                        ConstraintIndex.build([], LINUX), NULL_REPORTER)
        roots = [Req.from_requirement(Requirement("app"))]
        prov.add_roots(roots)
        result = resolver_type(prov, resolvelib.BaseReporter()).resolve(roots, max_rounds=200)
        pins.append({k: str(c.version) for k, c in result.mapping.items()})
        checks.append(prov.checked)
    assert pins[0] == pins[1] and pins[1]["shared"] == "2.0"
    assert checks[1] * 5 < checks[0], checks


def test_a_resolve_collects_garbage_less_often_and_restores_the_thresholds() -> None:
    import gc
    import threading

    from constrain.resolver.collection import FIRST_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    index = MemoryIndex([pkg("app", "1.0", "lib"), pkg("lib", "1.0")])
    resolve([req("app")], [], index, LINUX, on_pin=lambda f: seen.append(gc.get_threshold()))
    assert seen and all(t[0] >= FIRST_THRESHOLD for t in seen)
    assert gc.get_threshold() == before
    with pytest.raises(ResolutionImpossible):
        resolve([req("app>=2")], [], index, LINUX)
    assert gc.get_threshold() == before
    # overlapping resolves (threads) restore the thresholds found before the first
    inner_started, outer_done = threading.Event(), threading.Event()

    def inner() -> None:
        with fewer_collections():
            inner_started.set()
            outer_done.wait(10)

    thread = threading.Thread(target=inner)
    with fewer_collections():
        thread.start()
        inner_started.wait(10)
    assert gc.get_threshold()[0] >= FIRST_THRESHOLD  # the inner one still runs
    outer_done.set()
    thread.join(10)
    assert gc.get_threshold() == before


def test_a_resolve_from_the_cache_alone_makes_no_automatic_collection() -> None:
    import gc

    from constrain.resolver.collection import FIRST_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []
    index = MemoryIndex([pkg("app", "1.0", "lib"), pkg("lib", "1.0")])
    index.offline = True  # type: ignore[attr-defined]  # as an --offline repository says
    resolve([req("app")], [], index, LINUX, on_pin=lambda f: seen.append(gc.get_threshold()))
    assert seen and all(t[0] == 0 for t in seen)
    assert gc.get_threshold() == before
    # beside a resolve that transfers (a refresh's threads): paused while the offline one runs
    with fewer_collections():
        with fewer_collections(pause=True):
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] >= FIRST_THRESHOLD
    assert gc.get_threshold() == before


def test_a_candidates_changes_read_through_and_write_back_as_a_copy_would() -> None:
    # resolver/loop.py gathers the criteria a candidate changes over the state's instead of
    # in a copy: look-ups see every criterion, and writing back leaves the state as updating
    # it with a changed copy would (values and order: new identifiers last, in order)
    from constrain.resolver.loop import _Changes

    state = {"a": "A", "b": "B", "c": "C"}
    copy = dict(state)
    changes = _Changes(state)
    for key, value in (("d", "D1"), ("b", "B1"), ("e", "E"), ("d", "D2")):
        assert changes.get(key) == copy.get(key) and (key in changes) == (key in copy)
        if key in copy:
            assert changes[key] == copy[key]
        changes[key] = copy[key] = value
    assert changes.get("zz") is None and "zz" not in changes and changes.get("zz", 1) == 1
    assert changes["a"] == "A" and dict(changes) == {"d": "D2", "b": "B1", "e": "E"}
    written = dict(state)
    written.update(changes)
    state.update(copy)
    assert list(written.items()) == list(state.items())


def test_the_sort_key_counts_candidates_without_making_them() -> None:
    # the sort key counts up to ten candidates of every open project (fewer candidates go
    # first), and resolvelib asks whether each new criterion has any; only the candidates
    # the resolver reaches are made. The count seen through
    # resolvelib's view of find_matches' answer is the count iterating gives, before and
    # after an iteration; if a resolvelib release stops exposing the answer behind its
    # view, candidates are counted by making them (same pins, slower): this test says so.
    from itertools import islice

    import resolvelib
    from resolvelib.structs import build_iter_view

    from constrain.policies.filters import FilePolicy
    from constrain.reporting import NULL_REPORTER
    from constrain.resolver import loop
    from constrain.resolver import provider as provider_module
    from constrain.resolver.candidates import Candidate, ConstraintIndex, Req
    from constrain.resolver.matches import LazyMatches, count_candidates

    made: list[Candidate] = []

    class Counted(Candidate):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    for total in (0, 3, 12):
        matches = LazyMatches(iter(range(total)), lambda c: Counted("x", c))  # type: ignore[arg-type]
        view = build_iter_view(matches)
        assert count_candidates(view, 10) == min(total, 10) and not made
        assert bool(view) is (total > 0) and not made  # resolvelib asks it of each criterion
        first = list(islice(view, 2))
        assert count_candidates(view, 10) == min(total, 10) == len(list(islice(view, 10)))
        assert list(view) == list(view) and list(view)[:2] == first
        assert all(a is b for a, b in zip(list(view), list(view), strict=True))
        assert len(matches) == total and list(matches) == [matches[i] for i in range(total)]
        assert matches[-1:] == list(view)[-1:]
        made.clear()

    packages = [pkg("app", "1.0", *(f"d{i}" for i in range(8)))]
    packages += [pkg(f"d{i}", f"{v}.0") for i in range(8) for v in range(1, 20)]
    prov = provider_module.ConstrainProvider(
        MemoryIndex(packages), LINUX, FilePolicy(), ConstraintIndex.build([], LINUX),
        NULL_REPORTER)
    real = provider_module.Candidate
    provider_module.Candidate = Counted  # type: ignore[misc]
    try:
        roots = [Req.from_requirement(Requirement("app"))]
        prov.add_roots(roots)
        result = loop.resolver_class()(prov, resolvelib.BaseReporter()).resolve(roots)
    finally:
        provider_module.Candidate = real  # type: ignore[misc]
    assert {str(c.version) for k, c in result.mapping.items() if k != "app"} == {"19.0"}
    # app, then each d_i's newest release: not ten of each project
    assert len(made) == 9, [str(c) for c in made]

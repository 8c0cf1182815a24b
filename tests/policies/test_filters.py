"""The policies as pure functions: yanked, pre-releases, exclude-newer, only-binary, composed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from constrain.errors import UploadTimeMissing
from constrain.policies.filters import (
    FilePolicy,
    VersionFiles,
    choose_versions,
    group_versions,
    iter_choices,
    why_unusable,
)
from constrain.policies.prereleases import (
    PRERELEASE_MODES,
    allows_prereleases,
    asks_for_prerelease,
)
from constrain.policies.yanked import pins_exactly
from constrain.target import TargetEnvironment
from tests.support.memory_index import MemoryIndex

TARGET = TargetEnvironment.from_options("3.11", ["manylinux_2_17_x86_64"])


def files(*packages: dict):
    index = MemoryIndex(packages)
    return [f for fs in index._files.values() for f in fs]


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        ("==2.0", "2.0", True),
        ("===2.0", "2.0", True),
        ("==2.*", "2.0", False),
        (">=2.0", "2.0", False),
        ("==1.0", "2.0", False),
    ],
)
def test_exact_pins_per_pep_592(spec: str, version: str, expected: bool) -> None:
    assert pins_exactly([SpecifierSet(spec)], Version(version)) is expected


def test_prerelease_modes() -> None:
    plain, explicit = [SpecifierSet(">=1")], [SpecifierSet(">=1.0b1")]
    assert allows_prereleases("allow", plain, True)
    assert not allows_prereleases("disallow", explicit, False)
    assert not allows_prereleases("if-necessary", explicit, True)
    assert allows_prereleases("if-necessary", plain, False)
    assert allows_prereleases("if-necessary-or-explicit", explicit, True)
    assert not allows_prereleases("if-necessary-or-explicit", plain, True)


@pytest.mark.parametrize(
    ("spec", "asks"),
    [
        (">=1.0rc1", True),
        ("==2.0b1", True),
        ("~=2.0b1", True),
        (">1.0a1", True),
        ("<=2.0b1", True),
        ("===2.0b1", True),
        (">=2.0.dev0", True),
        # an exclusive upper bound with a pre-release or dev suffix asks for nothing
        ("<2.0dev", False),
        ("<2.0.0dev0", False),
        ("<5.0.0.dev0", False),
        ("<3.0rc1", False),
        ("!=2.0b1", False),
        ("==2.*", False),
        (">=1.0", False),
        ("===foo", False),
    ],
)
def test_which_specifiers_ask_for_prereleases(spec: str, asks: bool) -> None:
    (one,) = SpecifierSet(spec)
    assert asks_for_prerelease(one) is asks
    assert allows_prereleases("if-necessary-or-explicit", [SpecifierSet(spec)], True) is asks


def test_group_versions_applies_target_cutoff_and_binary_policy() -> None:
    fs = files(
        {"name": "foo", "version": "3.0", "files": ["cp312-cp312-manylinux_2_17_x86_64"],
         "upload_time": "2023-01-01T00:00:00Z"},
        {"name": "foo", "version": "2.0", "upload_time": "2025-01-01T00:00:00Z"},
        {"name": "foo", "version": "1.5", "files": ["sdist"], "upload_time": "2023-01-01T00:00:00Z"},
        {"name": "foo", "version": "1.0", "files": ["sdist", "py3-none-any"],
         "upload_time": "2023-01-01T00:00:00Z"},
    )
    policy = FilePolicy(exclude_newer=datetime(2024, 1, 1, tzinfo=UTC), only_binary=True)
    got = group_versions("foo", fs, TARGET, policy)
    assert [(str(v.version), [f.filename for f in v.files]) for v in got] == [
        ("1.0", ["foo-1.0-py3-none-any.whl"])
    ]
    assert [str(v.version) for v in group_versions("foo", fs, TARGET, FilePolicy())] == [
        "2.0", "1.5", "1.0"
    ]


def test_missing_upload_times_raise_only_under_a_cutoff() -> None:
    fs = files({"name": "foo", "version": "1.0"})
    assert group_versions("foo", fs, TARGET, FilePolicy())
    with pytest.raises(UploadTimeMissing) as info:
        group_versions("foo", fs, TARGET, FilePolicy(exclude_newer=datetime(2024, 1, 1, tzinfo=UTC)))
    assert "foo" in info.value.message and "memory://scenario/simple/" in info.value.message
    assert "PEP 700" in info.value.hint


def test_why_unusable_names_the_first_reason() -> None:
    (wheel,) = files({"name": "foo", "version": "1.0", "files": ["cp312-cp312-win_amd64"]})
    assert "has no file for CPython 3.11 on manylinux_2_17_x86_64" in why_unusable(
        [wheel], TARGET, FilePolicy()
    )
    (yanked,) = files({"name": "foo", "version": "1.0", "yanked": "oops"})
    assert why_unusable([yanked], TARGET, FilePolicy()) == "is yanked (oops)"
    assert why_unusable([yanked], TARGET, FilePolicy(), exact_pin=True) is None


VERSION_TEXT = st.sampled_from(["1.0", "1.1", "2.0a1", "2.0b2", "2.0", "2.1rc1", "3.0.dev1", "3.0"])
SPEC_TEXT = st.sampled_from(["", ">=1.1", "<2", ">=2.0a1", "!=2.0", "==2.0b2", "~=2.0", "<3.0.dev1"])


@settings(max_examples=150)
@given(
    versions=st.lists(VERSION_TEXT, min_size=1, max_size=8, unique=True),
    specs=st.lists(SPEC_TEXT, max_size=3),
    mode=st.sampled_from(PRERELEASE_MODES),
)
def test_choose_versions_obeys_specifiers_and_prerelease_mode(versions, specs, mode) -> None:
    vfs = files(*({"name": "foo", "version": v} for v in versions))
    grouped = [
        VersionFiles(Version(v), tuple(f for f in vfs if f.version == Version(v)))
        for v in sorted(versions, key=Version, reverse=True)
    ]
    spec_sets = [SpecifierSet(s) for s in specs]
    direct = choose_versions(grouped, spec_sets, mode)
    memo: dict = {}

    def fits(v):  # the provider's memoised test must give the same answer
        if v not in memo:
            memo[v] = all(s.contains(v, prereleases=True) for s in spec_sets)
        return memo[v]

    assert direct == list(iter_choices(grouped, spec_sets, mode, fits))
    # the rule, spelled out: pre-releases as the mode allows given whether a final fits
    final_fits = any(all(s.contains(vf.version, True) for s in spec_sets)
                     for vf in grouped if not vf.pre)
    allow_pre = allows_prereleases(mode, spec_sets, final_fits)
    assert [c.version for c in direct] == [
        vf.version for vf in grouped if (allow_pre or not vf.pre)
        and all(s.contains(vf.version, True) for s in spec_sets)]
    asked: list[Version] = []

    def counting(v):
        asked.append(v)
        return fits(v)

    assert direct == list(iter_choices(grouped, spec_sets, mode, counting))
    assert len(asked) == len(set(asked)), "a version was tested twice"
    chosen = [c.version for c in direct]
    fitting = [vf.version for vf in grouped if all(s.contains(vf.version, True) for s in spec_sets)]
    finals = [v for v in fitting if not v.is_prerelease]
    assert chosen == sorted(chosen, reverse=True)
    assert set(finals) <= set(chosen) <= set(fitting)
    pre_chosen = [v for v in chosen if v.is_prerelease]
    if mode == "disallow" or (mode == "if-necessary" and finals):
        assert not pre_chosen
    if mode == "allow" or (not finals and mode != "disallow"):
        assert chosen == fitting


@settings(max_examples=60)
@given(versions=st.lists(VERSION_TEXT, min_size=0, max_size=8, unique=True),
       index=st.integers(-10, 10), start=st.integers(-10, 10) | st.none(),
       stop=st.integers(-10, 10) | st.none(), step=st.sampled_from([None, 1, 2, -1]))
def test_a_lazily_built_listing_gives_the_versions_an_eager_one_does(
        versions, index, start, stop, step) -> None:
    # A listing built lazily (ProjectFiles, the index's pages) makes each version's object
    # when a resolve first reaches it; as a sequence it answers as the eager tuple does: the
    # same versions and files in order, indexes, slices, length and truth, and the same
    # object for a position every time.
    from constrain.models import ProjectFiles

    fs = files(*({"name": "foo", "version": v,
                  "files": ["py3-none-any", "cp312-cp312-win_amd64"]} for v in versions))
    eager = group_versions("foo", fs, TARGET, FilePolicy())
    lazy = group_versions("foo", ProjectFiles.from_files("foo", fs), TARGET, FilePolicy())
    assert type(eager) is tuple and type(lazy) is not tuple
    assert len(lazy) == len(eager) and bool(lazy) == bool(eager)

    def shown(vfs):
        return [(str(v.version), [f.filename for f in v.files]) for v in vfs]

    assert shown(lazy[start:stop:step]) == shown(eager[start:stop:step])
    if -len(eager) <= index < len(eager):
        assert shown([lazy[index]]) == shown([eager[index]])
        assert lazy[index] is lazy[index] is list(lazy)[index]
    else:
        with pytest.raises(IndexError):
            lazy[index]
    assert shown(lazy) == shown(eager) == shown(reversed(list(lazy)))[::-1]


FILE_TAGS = ["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-win_amd64",
             "cp39-abi3-manylinux_2_17_x86_64", "sdist"]
UPLOADS = [None, "2023-01-01T00:00:00Z", "2024-06-01T00:00:00Z"]


@settings(max_examples=100)
@given(versions=st.lists(
           st.tuples(VERSION_TEXT,
                     st.lists(st.tuples(st.sampled_from(FILE_TAGS), st.sampled_from(UPLOADS),
                                        st.sampled_from([None, ">=3.12", "<4"]),
                                        st.sampled_from([None, None, "broken"])),
                              min_size=1, max_size=4, unique_by=lambda f: f[0])),
           max_size=5, unique_by=lambda v: v[0]),
       cutoff=st.sampled_from([None, datetime(2024, 1, 1, tzinfo=UTC)]),
       only_binary=st.booleans())
def test_a_lazily_built_listing_filters_and_orders_files_as_an_eager_one(
        versions, cutoff, only_binary) -> None:
    # the lazy listing filters a version's files (target, requires-python, cut-off,
    # only-binary) and orders them (best wheel first, sdists last) in one pass of its own;
    # what kinds of usable files a version has (some not yanked, all yanked, none: whether
    # a walk takes it) it tells before it has filtered them as after, as the eager one does
    from constrain.models import ProjectFiles

    fs = files(*({"name": "foo", "version": v,
                  "files": [{"tag": t, "upload_time": u, "requires_python": rp, "yanked": y}
                            for t, u, rp, y in entries]} for v, entries in versions))
    policy = FilePolicy(exclude_newer=cutoff, only_binary=only_binary)

    def shown(project_files):
        try:
            found = group_versions("foo", project_files, TARGET, policy)
        except UploadTimeMissing:
            return "UploadTimeMissing"
        kinds = [v.kinds() for v in found]  # before the files are looked at
        # (a lazy listing keeps a version left without files: choose_versions skips it)
        assert all(k == v.kinds() == 0 for v, k in zip(found, kinds, strict=True)
                   if not v.files)
        return [(str(v.version), [f.filename for f in v.files], k, v.kinds())
                for v, k in zip(found, kinds, strict=True) if v.files]

    assert shown(ProjectFiles.from_files("foo", fs)) == shown(fs)

"""The facts snapshot (index/facts.py): one entry instead of hundreds, never staler than they are."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import time

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import Version

from constrain.cache.keys import file_key, url_key
from constrain.cli import main as cli_main
from constrain.config import IndexSettings
from constrain.index.facts import Facts, dump_snapshot, facts_key, load_snapshot
from constrain.index.metadata.fetcher import MetadataFetcher
from constrain.index.transport.client import HttpClient
from constrain.models import CoreMetadata, DistFile
from constrain.target import TargetEnvironment
from tests.support.builders import PackageSpec


def _facts(files) -> list:
    return sorted((f.filename, str(f.version), f.kind, sorted(map(str, f.tags)), f.hashes,
                   f.requires_python, f.yanked, f.upload_time, f.size, f.core_metadata, f.url,
                   f.index) for f in files)


def _run(make_repo, settings, **kw):
    """One process's look at foo: every version's files, then the repository closed (which
    writes the snapshot when it read facts the snapshot lacked)."""
    repo = make_repo(settings, offline=True, **kw)
    files = repo.files("foo")
    seen = [files.files_of(i) for i in range(len(files.versions))]
    repo.close()
    return files, seen, repo.facts.hits


SPECS = [
    PackageSpec("foo", "1.0", kinds=("sdist",), requires_python=">=3.8"),
    PackageSpec("foo", "1.1", tags=("cp311-cp311-manylinux_2_17_x86_64", "py3-none-any")),
    PackageSpec("foo", "2.0rc1", yanked="broken", kinds=("wheel", "sdist")),
]


def test_a_second_run_reads_the_same_files_from_the_snapshot(make_index, make_repo, cache):
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")  # fetched now: its facts are taken from the entry later
    first, seen_first, hits = _run(make_repo, settings)
    assert hits == 0
    assert cache.get("facts", facts_key([index.index_url])) is not None
    again, seen_again, hits = _run(make_repo, settings)
    assert hits == 1  # from the snapshot, not the listing
    assert list(again.versions) == list(first.versions)
    assert seen_again == seen_first and _facts(again) == _facts(first)
    wheel = next(f for f in again if f.is_wheel)
    assert Tag("py3", "none", "any") in wheel.tags  # tags hash as freshly parsed ones


def test_a_page_fetched_again_is_read_from_its_new_entry(make_index, make_repo):
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    _run(make_repo, settings)
    index.add([PackageSpec("foo", "3.0"), PackageSpec("foo", "1.1", yanked="pulled")])
    make_repo(settings, page_ttl=0).files("foo")  # revalidated: a new listing entry
    files, _seen, hits = _run(make_repo, settings)
    assert hits == 0
    assert "3.0" in {str(v) for v in files.versions}
    assert "pulled" in {f.yanked for f in files if str(f.version) == "1.1"}
    files, _seen, hits = _run(make_repo, settings)  # and the snapshot follows it
    assert hits == 1 and "pulled" in {f.yanked for f in files if str(f.version) == "1.1"}


def test_a_listing_sidecar_is_used_only_while_its_file_is_the_one_kept(make_index, make_repo,
                                                                        cache):
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    _run(make_repo, settings)
    key = url_key(index.index_url.rstrip("/") + "/foo/")
    found = load_snapshot(cache.get("facts", facts_key([index.index_url])) or b"")
    assert found is not None and found[2][key][1] == cache.get_meta("listings", key)
    fresh = make_repo(settings)  # online, the snapshot's sidecar still current: no request
    assert "3.0" not in {str(v) for v in fresh.files("foo").versions}
    fresh.close()
    index.add([PackageSpec("foo", "3.0")])
    fresh = make_repo(settings)  # a page still fresh is not asked for again
    assert "3.0" not in {str(v) for v in fresh.files("foo").versions}
    fresh.close()
    meta = cache.get_meta("listings", key)
    assert meta is not None
    cache.touch_meta("listings", key, {**meta, "fetched": 0})  # now stale, as its file says
    stale = make_repo(settings)
    assert "3.0" in {str(v) for v in stale.files("foo").versions}  # fetched again
    stale.close()


@pytest.mark.parametrize("damage", ["cut", "flip", "empty", "foreign"])
def test_a_damaged_snapshot_is_a_miss(make_index, make_repo, cache, damage):
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    expected, _, _ = _run(make_repo, settings)
    key = facts_key([index.index_url])
    body = cache.get("facts", key)
    assert body is not None
    if damage == "cut":
        body = body[:-10]
    elif damage == "flip":
        body = body[:-40] + bytes([body[-40] ^ 1]) + body[-39:]
    elif damage == "empty":
        body = b""
    else:
        body = b"\x80\x05N."  # a pickle, but not a snapshot
    cache.put("facts", key, body)
    files, _, hits = _run(make_repo, settings)
    assert hits == 0 and _facts(files) == _facts(expected)


@pytest.mark.parametrize("damage", ["not marshal", "fewer", "not states", "other states"])
def test_damaged_versions_under_a_valid_digest_are_read_from_the_listing(
        make_index, make_repo, cache, damage):
    """A listing's versions are read from their blob when first asked for, after the body's
    digest was checked at the load: a blob the digest covers but that does not hold the
    listing's versions (written so) is a miss read from the listing's entry, not an error in
    the middle of a resolve, and the next run's snapshot holds them again."""
    import marshal

    from constrain.index.snapshot import StoredVersions

    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    expected, seen_expected, _ = _run(make_repo, settings)
    key = facts_key([index.index_url])
    found = load_snapshot(cache.get("facts", key) or b"")
    assert found is not None
    record = found[0]["foo"]
    blob = {"not marshal": b"\xff not a marshal blob",
            "fewer": marshal.dumps([Version("1.0").__getstate__()]),
            "not states": marshal.dumps([1, 2, 3]),
            "other states": marshal.dumps([(0, (1,)), {"_version": 1}, (0, (2,))])}[damage]
    record.versions = StoredVersions(blob, 3)
    cache.put("facts", key, dump_snapshot(*found))
    files, seen, _ = _run(make_repo, settings)
    assert [str(v) for v in files.versions] == ["2.0rc1", "1.1", "1.0"]
    assert sorted(files.versions) == sorted(expected.versions)
    assert seen == seen_expected and _facts(files) == _facts(expected)
    again = make_repo(settings, offline=True).files("foo")  # the snapshot holds them again
    assert isinstance(again.versions, StoredVersions)
    assert [str(v) for v in again.versions] == ["2.0rc1", "1.1", "1.0"]


def test_a_version_the_snapshot_lacks_is_read_from_the_listing(make_index, make_repo):
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    repo = make_repo(settings, offline=True)
    expected = repo.files("foo").files_of(0)  # only the newest version looked at
    repo.close()
    repo = make_repo(settings, offline=True)
    files = repo.files("foo")
    assert repo.facts.hits == 1
    assert files.files_of(0) == expected
    assert {str(f.version) for f in files.files_of(2)} == {"1.0"}  # read from the listing


@pytest.mark.parametrize("size", ["small", "small, many open", "large"])
@pytest.mark.parametrize("meanwhile", ["pruned", "replaced"])
def test_a_listing_from_the_snapshot_keeps_serving_its_entry_as_opened(
        make_index, make_repo, cache, monkeypatch, capsys, size, meanwhile):
    """Issue 18: ``cache prune`` is safe beside a running constrain. A listing taken from the
    snapshot, whose entry is then pruned (or replaced by a concurrent run that fetched the
    page again), still gives the versions the snapshot lacks: from the entry as it was
    opened, as a listing read from its entry does -- not an error mid-resolve."""
    if size == "large":  # kept open whatever the budget, read in parts
        monkeypatch.setattr("constrain.index.facts.WHOLE_BELOW", 0)
        monkeypatch.setattr("constrain.index.facts.open_budget", lambda: 0)
    elif size == "small, many open":  # no more kept open: read whole now
        monkeypatch.setattr("constrain.index.facts.open_budget", lambda: 0)
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    whole = make_repo(settings).files("foo")  # fetched now: no facts taken from it
    expected = [whole.files_of(i) for i in range(len(whole.versions))]
    repo = make_repo(settings, offline=True)
    repo.files("foo").files_of(0)  # only the newest version looked at: the snapshot's facts
    repo.close()

    repo = make_repo(settings, offline=True)
    files = repo.files("foo")
    assert repo.facts.hits == 1
    key = url_key(index.index_url + "/foo/")
    if meanwhile == "pruned":
        listings = cache.path("listings", key).parent.parent
        when = time.time() - 40 * 86400
        for p in listings.rglob("*"):
            os.utime(p, (when, when))
        assert cli_main(["cache", "prune", "--older-than", "30d", "--cache-dir",
                         str(cache.root)]) == 0
        capsys.readouterr()
        assert cache.open("listings", key) is None  # gone under the running resolve
    else:
        index.add([PackageSpec("foo", "1.0", yanked="pulled", kinds=("sdist",))])
        make_repo(settings, page_ttl=0).files("foo")  # a new entry under the same key
    assert [str(v) for v in files.versions] == ["2.0rc1", "1.1", "1.0"]
    assert [files.files_of(i) for i in range(3)] == expected
    assert all(f.yanked is None for f in files.files_of(2))  # the entry as it was opened


def test_a_snapshot_a_run_left_largely_unused_holds_what_the_run_used(make_index, make_repo,
                                                                      cache):
    """A cold run's snapshot also holds what its prefetching and builds looked at; later runs
    loaded it all and, reading nothing new, never wrote it again. A run that leaves more than
    a fifth of it unused, as the run before it did, writes what it used; the facts dropped
    are read from the listings when a later run wants them again. Requests that take turns,
    one using a part of the other's facts (a resolve, an install of its pins), leave it as it
    is."""
    index = make_index([*SPECS, *(PackageSpec("bar", f"1.{n}") for n in range(8))])
    settings = IndexSettings(index_url=index.index_url)
    key = facts_key([index.index_url])
    for name in ("foo", "bar"):
        make_repo(settings).files(name)

    def run(projects: dict[str, list[int]]) -> tuple[list, int]:
        repo = make_repo(settings, offline=True)
        seen = []
        for name, positions in projects.items():
            files = repo.files(name)
            seen += [files.files_of(i) for i in positions]
        repo.close()
        return seen, repo.facts.hits

    def held() -> dict[str, list]:
        found = load_snapshot(cache.get("facts", key) or b"")
        assert found is not None
        return {name: sorted(record.files) for name, record in found[0].items()}

    every, _ = run({"foo": [0, 1, 2], "bar": list(range(8))})
    assert held() == {"foo": [(i, "") for i in range(3)], "bar": [(i, "") for i in range(8)]}
    assert run({"foo": [0, 1, 2], "bar": list(range(8))}) == (every, 2)
    assert run({"foo": [0, 1, 2], "bar": [0, 1, 2, 3, 4, 5, 6]}) == (every[:-1], 2)
    assert len(held()["bar"]) == 8  # an eighth left unused: kept as it is
    def written() -> tuple:
        st = cache.path("facts", key).stat()
        return (st.st_ino, st.st_mtime_ns)

    whole = written()
    for _ in range(2):  # taking turns: kept as it is
        assert run({"foo": [0]}) == (every[:1], 1)
        assert run({"foo": [0, 1, 2], "bar": list(range(8))}) == (every, 2)
        assert written() == whole
    assert run({"foo": [0]}) == (every[:1], 1)
    assert written() == whole  # once: kept
    assert run({"foo": [0]}) == (every[:1], 1)
    assert held() == {"foo": [(0, "")]}  # twice in a row: what the run used
    pruned = written()
    assert run({"foo": [0]}) == (every[:1], 1)
    assert written() == pruned  # not again
    assert run({"foo": [0, 1, 2], "bar": list(range(8))}) == (every, 1)  # bar: its listing
    assert run({"foo": [0, 1, 2], "bar": list(range(8))}) == (every, 2)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_a_run_keeps_open_no_more_small_listings_than_its_budget(make_index, make_repo,
                                                                   monkeypatch):
    """Small listing entries taken from the snapshot are kept open (not read whole) only up to
    the budget: a large resolve must not run out of open files."""
    names = [f"p{n}" for n in range(6)]
    index = make_index([PackageSpec(name, "1.0") for name in names])
    settings = IndexSettings(index_url=index.index_url)
    for name in names:
        make_repo(settings).files(name)
    for _ in range(2):  # the first reads the listings, the second writes their facts
        repo = make_repo(settings, offline=True)
        for name in names:
            repo.files(name).files_of(0)
        repo.close()
    for budget in (2, 5):
        monkeypatch.setattr("constrain.index.facts.open_budget", lambda budget=budget: budget)
        repo = make_repo(settings, offline=True)
        before = len(os.listdir("/proc/self/fd"))
        listings = [repo.files(name) for name in names]
        assert repo.facts.hits == len(names)
        assert len(os.listdir("/proc/self/fd")) - before == budget
        assert [str(f.version) for files in listings for f in files.files_of(0)] == ["1.0"] * 6
        repo.close()


def test_each_target_keeps_its_own_snapshot(make_index, make_repo, cache):
    """Requests for two platforms in turn (a Linux resolve, then a macOS one needing another
    project, ...): each target's snapshot is loaded and kept as it is, not replaced by the
    other's every run (a run then read from the listings what the other had dropped, and
    wrote the snapshot again, every time)."""
    index = make_index([*SPECS, PackageSpec("lin", "1.0"), PackageSpec("mac", "1.0")])
    settings = IndexSettings(index_url=index.index_url)
    for name in ("foo", "lin", "mac"):
        make_repo(settings).files(name)
    linux = TargetEnvironment((3, 11, 0), platforms=("manylinux_2_17_x86_64",))
    mac = TargetEnvironment((3, 11, 0), platforms=("macosx_11_0_arm64",))
    requests = {"linux": (linux, ("foo", "lin")), "mac": (mac, ("foo", "mac"))}

    def run(name: str) -> tuple[list, int]:
        target, projects = requests[name]
        repo = make_repo(settings, offline=True)
        repo.note_target(target)
        seen = []
        for project in projects:
            files = repo.files(project)
            seen += [files.files_of(i, target.may_accept_filename)
                     for i in range(len(files.versions))]
        repo.close()
        return seen, repo.facts.hits

    def snapshots() -> dict[str, tuple]:
        return {p.name: (st.st_ino, st.st_size, st.st_mtime_ns)
                for p in cache.root.glob("facts-v*/*/*") if (st := p.stat())}

    first = {"linux": run("linux")[0], "mac": run("mac")[0]}
    assert any("manylinux" in f.filename for f in first["linux"][1])
    assert not any("manylinux" in f.filename for f in first["mac"][1])
    written = snapshots()
    for _ in range(2):
        for name in ("linux", "mac"):
            assert run(name) == (first[name], 2)  # both listings from the snapshot
            assert snapshots() == written  # and neither snapshot written again
    assert len(written) == 2  # one per target


def test_resolves_for_two_platforms_keep_a_snapshot_each(make_index, tmp_path, capsys,
                                                         monkeypatch):
    """The command's target names its snapshot: resolves for Linux and for macOS (through the
    command line, warm and offline) leave one each, and give the same pins again from them."""
    monkeypatch.setenv("CONSTRAIN_NO_REMEMBER", "1")  # every run resolves
    index = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"]),
                        PackageSpec("bar", "2.0")], pep658=True)
    cache = tmp_path / "cache"
    outs = {}
    for platform in ("manylinux_2_17_x86_64", "macosx_11_0_arm64"):
        args = ["resolve", "foo", "--python", "3.11", "--platform", platform,
                "--index-url", index.index_url, "--cache-dir", str(cache),
                "--airflow-constraints", "off"]
        assert cli_main(args) == 0  # fetched: the snapshot is written by the next run
        for _ in range(2):
            out = tmp_path / f"{platform}.txt"
            assert cli_main([*args, "--offline", "-o", str(out)]) == 0
            outs.setdefault(platform, set()).add(out.read_text())
    capsys.readouterr()
    assert len(list(cache.glob("facts-v*/*/*"))) == 2
    assert all(len(texts) == 1 and "bar==2.0" in next(iter(texts)) for texts in outs.values())


def test_a_loaded_snapshot_is_out_of_collections_until_the_repository_closes(make_index,
                                                                             make_repo):
    """The snapshot's objects are frozen (gc.freeze) while the run uses them, and handed back
    to the collector when the repository closes (nothing stays frozen in a long-lived
    process); objects something else froze stay as they are."""
    index = make_index(SPECS)
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    _run(make_repo, settings)  # writes the snapshot
    assert gc.get_freeze_count() == 0
    repo = make_repo(settings, offline=True)
    repo.files("foo")
    assert repo.facts.hits == 1 and gc.get_freeze_count() > 0
    repo.close()
    assert gc.get_freeze_count() == 0
    gc.freeze()  # as an application that froze its objects before forking workers
    try:
        theirs = gc.get_freeze_count()
        _files, _seen, hits = _run(make_repo, settings)
        assert hits == 1 and 0 < gc.get_freeze_count() <= theirs  # not undone, not added to
    finally:
        gc.unfreeze()


def _md(requires: list[str]) -> CoreMetadata:
    return CoreMetadata(name="foo", version=Version("1.0"),
                        requires_dist=tuple(Requirement(r) for r in requires),
                        requires_python=SpecifierSet(">=3.8"), source="pep658")


def test_metadata_comes_from_the_snapshot_only_while_its_entry_is_unchanged(cache, tmp_path):
    wheel = DistFile(project="foo", filename="foo-1.0-py3-none-any.whl",
                     url="https://example.invalid/foo-1.0-py3-none-any.whl",
                     version=Version("1.0"), kind="wheel", hashes=(("sha256", "ab" * 32),))
    key = file_key(wheel.cache_identity())
    first = _md(['bar>=1; python_version < "3.12"', "baz[x]==2; extra == 'x'"])
    cache.put("metadata", key, first.to_json().encode(), meta={"fetched": 0})

    def fetch() -> tuple[CoreMetadata, int]:
        facts = Facts(cache, ["https://example.invalid/simple"])
        fetcher = MetadataFetcher(HttpClient(offline=True), cache, offline=True, facts=facts)
        md = fetcher(wheel)
        facts.save()
        return md, facts.hits

    assert fetch() == (first, 0)
    md, hits = fetch()
    assert hits == 1 and md == first
    assert str(md.requires_dist[0].marker) == 'python_version < "3.12"'
    assert md.requires_dist[1].extras == {"x"} and str(md.requires_dist[1].specifier) == "==2"
    changed = _md(["bar>=2"])  # the entry rewritten (another source, a repair)
    cache.put("metadata", key, changed.to_json().encode(), meta={"fetched": 0})
    assert fetch() == (changed, 0)
    assert fetch() == (changed, 1)
    path = cache.path("metadata", key)  # damaged in place: cut short
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(Exception):  # noqa: B017 -- offline, nothing left to read it from
        fetch()


def test_equal_requirements_are_read_back_as_one_and_unequal_ones_apart():
    """A snapshot stores equal requirements (and specifier sets, markers) once, as the cache's
    reader shares them; what differs in any part -- marker, extras, specifier, an explicit
    pre-release choice -- stays apart and reads back as it was."""
    lines = ['bar>=1; python_version < "3.12"', "bar>=1", 'bar[y]>=1; python_version < "3.12"',
             "bar<3,>=1", "bar>=1,<3", 'baz; python_version < "3.12"']
    first, second = _md(lines), _md(list(reversed(lines)))  # equal, but parsed apart
    pre = Requirement("bar>=1")
    pre.specifier = SpecifierSet(">=1", prereleases=True)
    third = CoreMetadata(name="foo", version=Version("2.0"), requires_dist=(pre,))
    ident = (1, 2, 3, 4, 5)
    found = load_snapshot(dump_snapshot({}, {"a": (ident, first), "b": (ident, second),
                                             "c": (ident, third)}))
    assert found is not None
    a, b, c = (found[1][k][1] for k in "abc")
    assert (a, b, c) == (first, second, third)
    assert [str(r) for r in a.requires_dist] == [str(r) for r in first.requires_dist]
    assert all(x is y for x, y in zip(a.requires_dist, reversed(b.requires_dist), strict=True))
    assert a.requires_dist[3] is a.requires_dist[4]  # equal: one specifier, written apart
    assert len({id(r) for r in a.requires_dist}) == len(lines) - 1  # no other merged
    assert a.requires_dist[0].specifier is a.requires_dist[1].specifier  # ">=1" once
    assert a.requires_dist[0].marker is a.requires_dist[5].marker
    assert c.requires_dist[0].specifier.prereleases is True
    assert a.requires_dist[1].specifier.prereleases is not True
    assert c.requires_dist[0] is not a.requires_dist[1]


def test_tags_read_back_in_another_process_hash_as_parsed_ones(tmp_path):
    """Tags keep a hash of their strings, which differs between processes: read back, they
    must still be found in a target's set of freshly parsed tags."""
    f = DistFile(project="foo", filename="foo-1.0-py3-none-any.whl", url="u",
                 version=Version("1.0"), kind="wheel",
                 tags=frozenset({Tag("py3", "none", "any")}))
    path = tmp_path / "snapshot"
    path.write_bytes(dump_snapshot({}, {"k": f}))
    code = textwrap.dedent(f"""
        from packaging.tags import Tag
        from constrain.index.facts import load_snapshot
        _, found, _ = load_snapshot(open({str(path)!r}, "rb").read())
        assert Tag("py3", "none", "any") in found["k"].tags
        assert found["k"].tags == frozenset({{Tag("py3", "none", "any")}})
    """)
    for seed in ("1", "2"):
        subprocess.run([sys.executable, "-c", code], check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed})
    assert load_snapshot(path.read_bytes()) is not None


def test_a_snapshot_written_for_other_fields_of_the_stored_classes_is_a_miss(monkeypatch):
    """A file is stored as its fields' values in order: a snapshot written by a constrain
    whose DistFile (or CoreMetadata) has other fields, or the same ones in another order, is
    not read (it would give a file's values to the wrong fields)."""
    from constrain.index import snapshot

    f = DistFile(project="foo", filename="foo-1.0-py3-none-any.whl", url="https://x.invalid/f",
                 version=Version("1.0"), kind="wheel", hashes=(("sha256", "ab" * 32),),
                 requires_python=">=3.8", size=10, tags=frozenset({Tag("py3", "none", "any")}))
    data = dump_snapshot({}, {"k": ((1, 2, 3, 4, 5), f)})
    found = load_snapshot(data)
    assert found is not None and found[1]["k"][1] == f
    fields = list(snapshot._FILE_FIELDS)
    at, rp = fields.index("url"), fields.index("requires_python")
    fields[at], fields[rp] = fields[rp], fields[at]  # a later DistFile: two fields swapped
    monkeypatch.setattr(snapshot, "_FILE_FIELDS", tuple(fields))
    monkeypatch.setattr(snapshot, "_LAYOUT", (tuple(fields), *snapshot._LAYOUT[1:]))
    assert load_snapshot(data) is None


def test_a_listing_read_from_the_snapshot_answers_for_its_versions_as_a_tuple_does(
        make_index, make_repo):
    """The snapshot keeps a listing's versions as packaging's state and makes each when first
    asked for: every way of reading them (a position from either end, a slice, iteration,
    a search, a position past the end) answers as the listing read from its entry does."""
    from constrain.index.snapshot import StoredVersions

    index = make_index([*SPECS, PackageSpec("foo", "1.0.post1+local"), PackageSpec("foo", "3.0")])
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    entry, _, hits = _run(make_repo, settings)
    assert hits == 0
    expected = tuple(entry.versions)
    assert [str(v) for v in expected] == ["3.0", "2.0rc1", "1.1", "1.0.post1+local", "1.0"]
    stored = make_repo(settings, offline=True).files("foo").versions
    assert isinstance(stored, StoredVersions)  # read from the snapshot, not the entry
    assert stored[2] == expected[2] and str(stored[-2]) == "1.0.post1+local"
    assert stored[1:4] == expected[1:4] and stored[::-1] == expected[::-1] and stored[9:] == ()
    assert tuple(stored) == expected and [str(v) for v in stored] == [str(v) for v in expected]
    assert stored.index(Version("1.1")) == 2 and Version("1.0") in stored
    assert len(stored) == 5 and stored[-5] == expected[0]
    for past in (5, -6):
        with pytest.raises(IndexError):
            stored[past]
    again = StoredVersions(*StoredVersions.state(stored))  # written again as it was read
    assert tuple(again) == expected


def test_a_stored_version_is_seen_only_once_made(monkeypatch):
    """A version of the snapshot's listing is kept for others to read only once it is whole:
    a thread reading the same position while another makes it (a prefetch job beside the
    resolver) gets a whole version, never an empty object."""
    from constrain.index.snapshot import StoredVersions

    stored = StoredVersions(*StoredVersions.state([Version("2.0"), Version("1.0.post1")]))
    real = Version.__setstate__
    meanwhile: list[str] = []

    def setstate(self: Version, state: object) -> None:
        if not meanwhile:  # another reader of the position, while this one is being made
            meanwhile.append("reading")
            try:
                meanwhile.append(str(stored[1]))
            except AttributeError:
                meanwhile.append("an empty object")
        real(self, state)

    monkeypatch.setattr(Version, "__setstate__", setstate)
    assert str(stored[1]) == "1.0.post1"
    assert meanwhile == ["reading", "1.0.post1"]

"""IndexRepository against real local index servers: priority, caching, offline, find-links."""

from __future__ import annotations

import marshal
import threading
import time
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from constrain.cache.keys import url_key
from constrain.config import IndexSettings
from constrain.errors import NetworkError, OfflineMissing, ProjectNotFound
from constrain.index.pages import listing
from constrain.index.pages.listing import load_listing
from constrain.index.pages.parse import ACCEPT, parse_project_page
from constrain.models import DistFile
from constrain.reporting import CollectingReporter
from tests.index.conftest import StubFetcher
from tests.support.builders import PackageSpec


def _versions(files) -> set[str]:
    return {str(f.version) for f in files}


def test_first_index_that_knows_a_project_owns_it(make_index, make_repo):
    first = make_index([PackageSpec("foo", "1.0")])
    second = make_index([PackageSpec("foo", "9.0"), PackageSpec("bar", "2.0")])
    repo = make_repo(
        IndexSettings(index_url=first.index_url, extra_index_urls=(second.index_url,))
    )
    foo = repo.files("foo")
    assert _versions(foo) == {"1.0"}
    assert {f.index for f in foo} == {first.index_url}
    assert second.requests_to("/simple/foo") == []  # never asked: no dependency confusion
    bar = repo.files("Bar")
    assert _versions(bar) == {"2.0"} and bar[0].index == second.index_url
    assert len(first.requests_to("/simple/bar/")) == 1


def test_json_preferred_and_html_fallback_give_the_same_files(make_index, make_repo):
    specs = [
        PackageSpec("foo", "1.0", kinds=("wheel", "sdist"), requires_python=">=3.8"),
        PackageSpec("foo", "1.1", yanked="broken"),
    ]
    json_index = make_index(specs)
    html_index = make_index(specs, json=False)
    from_json = make_repo(IndexSettings(index_url=json_index.index_url)).files("foo")
    from_html = make_repo(IndexSettings(index_url=html_index.index_url)).files("foo")
    accept = json_index.requests_to("/simple/foo/")[0].headers["accept"]
    assert accept.startswith("application/vnd.pypi.simple.v1+json")

    def facts(files):
        return sorted((f.filename, f.sha256, f.requires_python, f.yanked) for f in files)

    assert facts(from_json) == facts(from_html)
    assert len(from_json) == 3
    assert any(f.yanked == "broken" for f in from_html)
    assert all(f.upload_time is not None for f in from_json)  # PEP 700 via JSON only


def test_fresh_cache_makes_no_request_from_a_second_repository(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    settings = IndexSettings(index_url=index.index_url)
    first = make_repo(settings).files("foo")
    index.reset_log()
    again = make_repo(settings)
    assert again.files("foo") == first
    with pytest.raises(ProjectNotFound):
        make_repo(settings).files("nothere")
    index.reset_log()
    with pytest.raises(ProjectNotFound):  # the 404 was cached too
        make_repo(settings).files("nothere")
    assert index.requests_to("/simple/") == []
    assert again.stats()["requests"] == 0 and again.stats()["pages_fetched"] == 0


def test_offline_uses_stale_cache_and_names_what_is_missing(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("bar", "1.0")])
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    index.reset_log()
    offline = make_repo(settings, offline=True, page_ttl=0)
    assert _versions(offline.files("foo")) == {"1.0"}
    with pytest.raises(OfflineMissing) as info:
        offline.files("bar")
    assert "bar" in info.value.message and index.index_url in info.value.message
    assert index.requests == []


def test_refresh_revalidates_with_304(make_index, make_repo, cache):
    index = make_index([PackageSpec("foo", "1.0")])
    settings = IndexSettings(index_url=index.index_url)
    before = make_repo(settings).files("foo")
    key = url_key(index.index_url + "/foo/")
    old_fetched = cache.get_meta("listings", key)["fetched"]
    index.reset_log()
    time.sleep(0.01)  # so the revalidation time differs from the first fetch time
    refreshed = make_repo(settings, refresh=True)
    assert refreshed.files("foo") == before
    (request,) = index.requests_to("/simple/foo/")
    assert request.headers.get("if-none-match")
    assert cache.get_meta("listings", key)["fetched"] > old_fetched  # touched after the 304


@pytest.mark.parametrize("json", [True, False])
def test_a_cached_listing_gives_the_files_the_page_lists(make_index, make_repo, json):
    """The stored, grouped form read back (a warm run) gives exactly the files parsed from the
    page as served: versions, tags, hashes, yanked, requires-python, upload times; 1.0 and
    1.0.0 are one version but each file keeps its own spelling."""
    specs = [
        PackageSpec("foo", "1.0", kinds=("sdist",), requires_python=">=3.8"),
        PackageSpec("foo", "1.0.0", tags=("cp311-cp311-manylinux_2_17_x86_64", "py3-none-any")),
        PackageSpec("foo", "2.0rc1", yanked="broken", kinds=("wheel", "sdist")),
    ]
    index = make_index(specs, json=json)
    settings = IndexSettings(index_url=index.index_url)
    cold = make_repo(settings)
    fetched = cold.files("foo")  # parsed and stored
    page = cold.client.get(index.index_url + "/foo/", {"Accept": ACCEPT})
    served = parse_project_page(page.content, page.headers.get("content-type", ""),
                                index.index_url + "/foo/", "foo", index.index_url)
    warm = make_repo(settings, offline=True).files("foo")
    assert list(warm.versions) == [Version("2.0rc1"), Version("1.0")]  # 1.0 == 1.0.0: one

    def facts(files):
        return sorted((f.filename, str(f.version), f.kind, f.tags, f.hashes, f.requires_python,
                       f.yanked, f.upload_time, f.size, f.core_metadata, f.url, f.index)
                      for f in files)

    assert facts(warm) == facts(served) == facts(fetched)
    assert set(warm) == set(served)  # equal and hashed alike: the same values
    assert {str(f.version) for f in warm.files_of(1)} == {"1.0", "1.0.0"}
    assert len(warm) == len(served) == 5


def test_a_release_yanked_after_it_was_cached_is_seen_yanked_once_revalidated(
        make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("foo", "1.1")])
    settings = IndexSettings(index_url=index.index_url)
    assert not any(f.is_yanked for f in make_repo(settings).files("foo"))
    index.add([PackageSpec("foo", "1.1", yanked="broken")])
    assert not any(f.is_yanked for f in make_repo(settings).files("foo"))  # still fresh
    again = make_repo(settings, page_ttl=0).files("foo")
    assert {str(f.version): f.yanked for f in again} == {"1.0": None, "1.1": "broken"}
    # and the stored form read back offline says so too
    offline = make_repo(settings, offline=True).files("foo")
    assert {str(f.version): f.yanked for f in offline} == {"1.0": None, "1.1": "broken"}


@pytest.mark.parametrize("damage", [b"", b"\x00\x01garbage", "cut", "foreign"])
def test_a_damaged_cached_listing_is_fetched_again(make_index, make_repo, cache, damage):
    """A cached listing that is cut short, garbage, or of another format is a miss: the page
    is fetched again and stored afresh; offline, that is said, never a crash."""
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("foo", "1.1")])
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    key = url_key(index.index_url + "/foo/")
    body = cache.get("listings", key)
    assert body is not None
    if damage == "cut":
        damage = body[:-3]
    elif damage == "foreign":  # the format before this one: one marshal tuple
        damage = marshal.dumps((1, ["1.1", "1.0"], [b"", b""], True, 2, []))
    cache.put("listings", key, damage, cache.get_meta("listings", key))
    entry = cache.open("listings", key)  # read in parts, it is refused as well, and closed
    assert load_listing(canonicalize_name("foo"), entry, index.index_url, whole_below=0) is None
    assert entry.closed
    with pytest.raises(OfflineMissing):
        make_repo(settings, offline=True).files("foo")
    index.reset_log()
    assert _versions(make_repo(settings).files("foo")) == {"1.0", "1.1"}
    assert len(index.requests_to("/simple/foo/")) == 1
    assert cache.get("listings", key) == body  # stored afresh
    assert _versions(make_repo(settings, offline=True).files("foo")) == {"1.0", "1.1"}


def test_a_listing_read_in_parts_is_the_entry_it_opened(make_index, make_repo, cache):
    """A large stored listing is read in parts through the open entry (its header, then a
    version's rows when visited): a concurrent run storing a changed page meanwhile changes
    nothing for the reader, which sees the one whole entry it opened."""
    index = make_index([PackageSpec("foo", v, kinds=("wheel", "sdist"))
                        for v in ("1.0", "1.1", "2.0")])
    settings = IndexSettings(index_url=index.index_url)
    fetched = make_repo(settings).files("foo")
    key = url_key(index.index_url + "/foo/")
    entry = cache.open("listings", key)
    parts = load_listing(canonicalize_name("foo"), entry, index.index_url, whole_below=0)
    assert parts is not None and not entry.closed  # kept open, read in parts
    index.add([PackageSpec("foo", "3.0", yanked="bad")])
    assert _versions(make_repo(settings, page_ttl=0).files("foo")) == {
        "1.0", "1.1", "2.0", "3.0"}  # the entry replaced under the reader
    assert [str(v) for v in parts.versions] == ["2.0", "1.1", "1.0"]
    assert [parts.files_of(i) for i in range(3)] == [fetched.files_of(i) for i in range(3)]
    assert set(parts) == set(fetched)



def test_a_listing_fetched_is_read_in_parts_from_the_entry_written(make_index, make_repo, cache,
                                                                   monkeypatch):
    """A cold run holds no large stored listing whole: a page fetched is written to the cache
    and read in parts through the entry written (here every one is large), which stays that
    page when a concurrent run stores a changed one meanwhile."""
    monkeypatch.setattr(listing, "WHOLE_BELOW", 0)
    reads = []

    def read_at(entry, a, b):
        reads.append((a, b))
        return real_read_at(entry, a, b)

    real_read_at = listing._read_at
    monkeypatch.setattr(listing, "_read_at", read_at)
    index = make_index([PackageSpec("foo", v, kinds=("wheel", "sdist"))
                        for v in ("1.0", "1.1", "2.0")])
    settings = IndexSettings(index_url=index.index_url)
    fetched = make_repo(settings).files("foo")  # cold: from the index
    assert reads  # its header, read back from the entry written
    index.add([PackageSpec("foo", "3.0")])
    assert _versions(make_repo(settings, page_ttl=0).files("foo")) == {
        "1.0", "1.1", "2.0", "3.0"}  # the entry replaced under the reader
    before = len(reads)
    assert [str(v) for v in fetched.versions] == ["2.0", "1.1", "1.0"]
    assert sorted(f.filename for f in fetched) == sorted(
        f"foo-{v}{ext}" for v in ("1.0", "1.1", "2.0")
        for ext in ("-py3-none-any.whl", ".tar.gz"))
    assert len(reads) > before  # the rows of its versions, read when visited

def test_stale_page_is_revalidated_and_changes_are_seen(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    settings = IndexSettings(index_url=index.index_url)
    make_repo(settings).files("foo")
    index.add([PackageSpec("foo", "2.0")])
    assert _versions(make_repo(settings).files("foo")) == {"1.0"}  # still fresh
    assert _versions(make_repo(settings, page_ttl=0).files("foo")) == {"1.0", "2.0"}


def test_find_links_are_merged_with_the_owning_index(make_index, make_repo, find_links_dir):
    index = make_index([PackageSpec("foo", "1.0")])
    wheels = find_links_dir(
        [PackageSpec("foo", "1.0"), PackageSpec("foo", "2.0"), PackageSpec("local-only", "0.1")]
    )
    repo = make_repo(IndexSettings(index_url=index.index_url, find_links=(str(wheels),)))
    foo = repo.files("foo")
    assert sorted(f.filename for f in foo) == [
        "foo-1.0-py3-none-any.whl",
        "foo-2.0-py3-none-any.whl",
    ]
    assert next(f for f in foo if f.version == Version("1.0")).index == index.index_url
    local = repo.files("Local_Only")
    assert [f.url for f in local] == [(wheels / "local_only-0.1-py3-none-any.whl").as_uri()]


def test_http_find_links_page(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    links = make_index()
    body = f'<a href="{index.file_url("foo-1.0-py3-none-any.whl")}">w</a>'.encode()
    links.static["/links/"] = body
    repo = make_repo(IndexSettings(no_index=True, find_links=(links.url + "/links/",)))
    assert [f.filename for f in repo.files("foo")] == ["foo-1.0-py3-none-any.whl"]


def test_missing_locations_warn_once_and_are_skipped(make_index, make_repo, tmp_path):
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("bar", "1.0")])
    reporter = CollectingReporter()
    missing_dir = tmp_path / "no-such-wheelhouse"
    repo = make_repo(
        IndexSettings(
            index_url=(tmp_path / "no-such-index").as_uri(),
            extra_index_urls=(index.index_url,),
            find_links=(str(missing_dir),),
        ),
        reporter=reporter,
    )
    assert _versions(repo.files("foo")) == {"1.0"}
    assert _versions(repo.files("bar")) == {"1.0"}
    assert len(reporter.warnings) == 2
    assert sum("no-such-wheelhouse" in w for w in reporter.warnings) == 1
    assert sum("no-such-index" in w for w in reporter.warnings) == 1


def test_file_url_index_with_a_directory_per_project(tmp_path, make_repo, find_links_dir):
    files = find_links_dir([PackageSpec("foo", "1.0"), PackageSpec("foo", "1.1")])
    root = tmp_path / "simple"
    (root / "foo").mkdir(parents=True)
    links = "".join(
        f'<a href="{p.as_uri()}">{p.name}</a>\n' for p in sorted(files.glob("foo-*"))
    )
    (root / "foo" / "index.html").write_text(links)
    repo = make_repo(IndexSettings(index_url=root.as_uri()), cache=None)
    assert _versions(repo.files("foo")) == {"1.0", "1.1"}
    with pytest.raises(ProjectNotFound) as info:
        repo.files("fooo")
    assert info.value.suggestions == ("foo",)


def test_retryable_failure_then_success(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    index.add_fault("/simple/foo/", 503)
    repo = make_repo(IndexSettings(index_url=index.index_url))
    assert _versions(repo.files("foo")) == {"1.0"}
    assert len(index.requests_to("/simple/foo/")) == 2


def test_index_failure_is_not_skipped_to_the_next_index(make_index, make_repo):
    broken = make_index([PackageSpec("foo", "1.0")], faults={"/simple/foo/": [500] * 5})
    other = make_index([PackageSpec("foo", "6.6.6")])
    repo = make_repo(IndexSettings(index_url=broken.index_url, extra_index_urls=(other.index_url,)))
    with pytest.raises(NetworkError):
        repo.files("foo")
    assert other.requests == []


def test_unknown_project_suggests_close_names(make_index, make_repo, find_links_dir):
    index = make_index([PackageSpec("requests", "2.0"), PackageSpec("flask", "1.0")])
    wheels = find_links_dir([PackageSpec("reqeusts-toolbelt", "1.0")])
    repo = make_repo(IndexSettings(index_url=index.index_url, find_links=(str(wheels),)))
    with pytest.raises(ProjectNotFound) as info:
        repo.files("reqeusts")
    assert "requests" in info.value.suggestions
    assert "flask" not in info.value.suggestions
    assert "did you mean" in info.value.hint and "requests" in info.value.hint


def test_a_shared_tail_is_not_a_suggestion(make_index, make_repo):
    index = make_index([PackageSpec("cc-package-xyz-123", "1.0"), PackageSpec("six", "1.0")])
    repo = make_repo(IndexSettings(index_url=index.index_url))
    with pytest.raises(ProjectNotFound) as info:
        repo.files("nosuchpkg-xyz-123")
    assert info.value.suggestions == ()
    assert "did you mean" not in info.value.hint
    with pytest.raises(ProjectNotFound) as info:
        repo.files("cc-packgae-xyz-123")  # a slip of two letters still finds it
    assert info.value.suggestions == ("cc-package-xyz-123",)


def test_suggestions_never_fail_the_error(make_index, make_repo, monkeypatch):
    # The project page answers 404, then the root listing fails on every retry.
    index = make_index([PackageSpec("requests", "2.0")], faults={"/simple/": [404, 500, 500, 500]})
    repo = make_repo(IndexSettings(index_url=index.index_url))
    with pytest.raises(ProjectNotFound) as info:
        repo.files("reqeusts")
    assert info.value.suggestions == ()
    assert len(index.requests_to("/simple/")) == 4  # the root was tried, and failed quietly

    broken = make_repo(IndexSettings(index_url=index.index_url), cache=None)

    def explode(*args):
        raise RuntimeError("suggestion machinery broke")

    monkeypatch.setattr(broken, "_root_names", explode)
    with pytest.raises(ProjectNotFound):
        broken.files("reqeusts")


def test_concurrent_callers_share_one_request(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    repo = make_repo(IndexSettings(index_url=index.index_url), cache=None)
    start = threading.Barrier(6)
    results = []

    def ask():
        start.wait()
        results.append(repo.files("foo"))

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    start.wait()
    repo.prefetch("foo")
    for t in threads:
        t.join()
    assert len(results) == 5 and all(r == results[0] for r in results)
    assert len(index.requests_to("/simple/foo/")) == 1
    assert repo.stats()["pages_fetched"] == 1


def test_metadata_is_fetched_once_per_file_even_concurrently(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")])
    gate = threading.Event()
    fetcher = StubFetcher(gate)
    repo = make_repo(IndexSettings(index_url=index.index_url), fetcher=fetcher)
    (file,) = repo.files("foo")
    out = []
    threads = [threading.Thread(target=lambda: out.append(repo.metadata(file))) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert fetcher.calls == ["foo-1.0-py3-none-any.whl"]
    assert len(out) == 4 and out[0].version == Version("1.0")
    assert repo.stats()["metadata_fetched"] == 1


def test_prefetch_fetches_chosen_metadata_and_swallows_errors(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("foo", "2.0")])
    fetcher = StubFetcher()
    repo = make_repo(IndexSettings(index_url=index.index_url), fetcher=fetcher)
    done = threading.Event()

    def choose(files):
        best = max(files, key=lambda f: f.version)
        done.set()
        return [best]

    repo.prefetch("foo", choose)
    repo.prefetch("foo", choose)  # idempotent
    repo.prefetch("missing-project")  # must not raise here
    assert done.wait(10)
    deadline = time.monotonic() + 10
    while not fetcher.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fetcher.calls == ["foo-2.0-py3-none-any.whl"]
    repo.metadata(max(repo.files("foo"), key=lambda f: f.version))
    assert fetcher.calls == ["foo-2.0-py3-none-any.whl"]  # the prefetched result is reused
    with pytest.raises(ProjectNotFound):
        repo.files("missing-project")
    repo.close()
    repo.prefetch("another")  # after close: a no-op, not an error


def test_credentials_never_appear_in_errors(make_index, make_repo):
    index = make_index([PackageSpec("foo", "1.0")], require_auth=("alice", "s3cret-token"))
    good = index.url_with_auth("/simple")
    repo = make_repo(IndexSettings(index_url=good))
    assert _versions(repo.files("foo")) == {"1.0"}
    assert repo.files("foo")[0].url  # downloadable via the same credentials

    with pytest.raises(ProjectNotFound) as missing:
        repo.files("nope")
    with pytest.raises(OfflineMissing) as offline:
        make_repo(IndexSettings(index_url=good), offline=True).files("other")
    wrong = good.replace("s3cret-token", "wrong-pass")
    with pytest.raises(NetworkError) as denied:
        make_repo(IndexSettings(index_url=wrong)).files("foo")
    assert "401" in denied.value.message and "credentials" in denied.value.hint
    for err in (missing.value, offline.value, denied.value):
        text = "\n".join(err.render())
        assert "s3cret-token" not in text and "wrong-pass" not in text


def test_cached_page_with_credentials_keeps_working(make_index, make_repo, cache):
    index = make_index(
        [PackageSpec("foo", "1.0")], require_auth=("alice", "hunter2-secret"), relative_urls=True
    )
    settings = IndexSettings(index_url=index.url_with_auth("/simple"))
    first = make_repo(settings).files("foo")
    again = make_repo(settings, offline=True).files("foo")
    assert first == again and "hunter2-secret" not in again[0].url  # the cache holds no login
    later = make_repo(settings)  # a new client, the page from the cache
    assert later.client.get(later.files("foo")[0].url).status == 200  # the index's login
    for path in Path(cache.root).rglob("*"):
        assert not path.is_file() or b"hunter2-secret" not in path.read_bytes()


@pytest.mark.live
def test_default_index_lists_a_real_project(make_repo):
    """pip's default index (taken from pip at run time) through the whole repository."""
    repo = make_repo(IndexSettings())
    files = repo.files("Packaging")
    assert any(f.is_wheel and f.version >= Version("24.0") for f in files)
    assert all(f.project == "packaging" and f.sha256 for f in files)
    assert any(f.upload_time is not None for f in files)


def test_queued_jobs_run_pages_and_sdists_first_then_wheels_largest_first():
    # An install fetches exactly pinned wheels whole: the large ones then arrive, and are
    # unpacked, early rather than last. An sdist's metadata may need a build: it goes first.
    from constrain.index.pages.prefetch import PAGES, PriorityPool, metadata_priority

    def dist(filename, size):
        kind = "wheel" if filename.endswith(".whl") else "sdist"
        return DistFile(project="p", version=Version("1"), filename=filename,
                        url="http://x/" + filename, kind=kind, size=size)

    ran: list[str] = []
    gate, done = threading.Event(), threading.Event()
    pool = PriorityPool(1, "test-pool")
    pool.submit((PAGES, 0), gate.wait, 10)  # holds the only thread while the rest queue
    for f in (dist("p-1-py3-none-any.whl", 10), dist("q-1-py3-none-any.whl", 5000),
              dist("r-1.tar.gz", 1), dist("s-1-py3-none-any.whl", 300)):
        pool.submit(metadata_priority(f), ran.append, f.filename)
    pool.submit((PAGES, 0), ran.append, "page")
    pool.submit(metadata_priority(dist("z-1-py3-none-any.whl", 0)), done.set)
    gate.set()
    assert done.wait(10)
    pool.close()
    assert ran == ["r-1.tar.gz", "page", "q-1-py3-none-any.whl", "s-1-py3-none-any.whl",
                   "p-1-py3-none-any.whl"]


def test_prefetched_pages_are_all_requested_at_once_and_each_once(make_index, make_repo):
    # Page requests do not wait for a prefetch thread: with the only thread held in the first
    # page's choice, the other pages are already asked for (small pages are not queued behind
    # large ones), and each response is then used, not requested again.
    index = make_index([PackageSpec(n, "1.0") for n in ("aa", "bb", "cc")])
    fetcher = StubFetcher()
    repo = make_repo(IndexSettings(index_url=index.index_url), fetcher=fetcher, workers=1)
    held, release = threading.Event(), threading.Event()

    def hold(files):
        held.set()
        release.wait(10)
        return list(files)

    repo.prefetch("aa", hold)
    assert held.wait(10)
    repo.prefetch("bb", list)
    repo.prefetch("cc", list)
    deadline = time.monotonic() + 10
    while len(index.requests_to("/simple/")) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(r.path for r in index.requests_to("/simple/")) == [
        "/simple/aa/", "/simple/bb/", "/simple/cc/"]
    release.set()
    deadline = time.monotonic() + 10
    while len(fetcher.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(fetcher.calls) == [f"{n}-1.0-py3-none-any.whl" for n in ("aa", "bb", "cc")]
    assert {n: _versions(repo.files(n)) for n in ("aa", "bb", "cc")} == {
        n: {"1.0"} for n in ("aa", "bb", "cc")}
    assert len(index.requests_to("/simple/")) == 3
    assert repo.stats()["pages_fetched"] == 3

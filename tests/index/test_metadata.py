"""Core metadata fetching: parsing, PEP 658 files, range reads, whole downloads, caches, sdists."""

from __future__ import annotations

import hashlib
import io
import random
import threading
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from constrain.cache.store import Cache
from constrain.errors import (
    BuildError,
    BuildForbidden,
    HashMismatch,
    MetadataError,
    NetworkError,
    OfflineMissing,
)
from constrain.index import files as files_mod
from constrain.build import sdist as sdist_mod
from constrain.index.transport.client import HttpClient
from constrain.index.metadata.fetcher import MetadataFetcher, metadata_url
from constrain.index.metadata.parse import is_static_pkg_info, parse_core_metadata
from constrain.index.metadata.wheel import select_metadata_member
from constrain.models import DistFile
from constrain.reporting import CollectingReporter
from tests.support.builders import FileRecord, PackageSpec, make_wheel, metadata_text

# ---------------------------------------------------------------------------- helpers


def dist_file(server, record: FileRecord, *, pep658: bool = False, sha: bool = True) -> DistFile:
    """The DistFile an index parser would make of ``record`` on ``server``."""
    return DistFile(
        project=record.project,
        filename=record.filename,
        url=server.file_url(record.filename),
        version=record.version,
        kind=record.kind,
        hashes=(("sha256", record.sha256),) if sha else (),
        size=record.size,
        core_metadata=(("sha256", record.metadata_sha256),) if pep658 else None,
    )


def custom_wheel_record(path: Path, name: str, version: str) -> FileRecord:
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        md = zf.read(select_metadata_member(zf.namelist(), name))
    return FileRecord(
        filename=path.name,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        project=name,
        name=name,
        version=Version(version),
        kind="wheel",
        metadata=md,
    )


def write_zip(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    """A zip with ``(name, data, compress_type)`` entries in this order."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, method in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return path


META = metadata_text(
    "Far-Away", "2.0", requires_dist=["attrs>=22", "idna; extra == 'web'"],
    provides_extra=["Web"], requires_python=">=3.9",
).encode()  # fmt: skip


@pytest.fixture
def client():
    with HttpClient(retries=0, backoff=0) as c:
        yield c


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(tmp_path / "cache")


# ---------------------------------------------------------------------------- parsing


def test_parse_core_metadata_fields():
    md = parse_core_metadata(
        META, source="range", expect_name="far_away", expect_version=Version("2.0.0")
    )
    assert md.name == "Far-Away" and md.version == Version("2")
    assert md.requires_dist == (Requirement("attrs>=22"), Requirement("idna; extra == 'web'"))
    assert md.requires_python == SpecifierSet(">=3.9")
    assert md.provides_extra == frozenset({"web"})
    assert md.source == "range"


def test_parse_name_mismatch_names_the_file():
    with pytest.raises(MetadataError) as exc:
        parse_core_metadata(META, source="range", where="bar-2.0-py3-none-any.whl (METADATA)",
                            expect_name="bar")  # fmt: skip
    assert "bar-2.0-py3-none-any.whl" in exc.value.message
    assert "Far-Away" in exc.value.message


def test_parse_version_mismatch():
    with pytest.raises(MetadataError, match=r"says version 2\.0, but the file is version 2\.1"):
        parse_core_metadata(META, source="range", expect_version="2.1")


def test_parse_reports_every_bad_requires_dist_line():
    data = metadata_text(
        "p", "1", requires_dist=["ok>=1", "bad (>=1.0-SNAPSHOT)", "also bad ===", "legacy (>dev)"]
    ).encode()
    with pytest.raises(MetadataError) as exc:
        parse_core_metadata(data, source="wheel", where="p-1.whl (METADATA)")
    assert exc.value.message.startswith("2 invalid Requires-Dist lines in p-1.whl")
    texts = [loc.text for loc in exc.value.locations]
    assert texts == ["Requires-Dist: bad (>=1.0-SNAPSHOT)", "Requires-Dist: also bad ==="]
    assert all(loc.line is not None for loc in exc.value.locations)
    assert "p!=1" in exc.value.hint


def test_parse_invalid_requires_python_is_a_warning():
    data = metadata_text("p", "1", requires_python=">=3.6.*").encode()
    reporter = CollectingReporter()
    md = parse_core_metadata(data, source="wheel", reporter=reporter)
    assert md.requires_python is None
    assert any("Requires-Python" in w for w in reporter.warnings)


def test_parse_missing_version():
    with pytest.raises(MetadataError, match="Version field"):
        parse_core_metadata(b"Metadata-Version: 2.1\nName: p\n\n", source="wheel")


@pytest.mark.parametrize(
    ("mv", "dynamic", "static"),
    [
        ("2.2", [], True),
        ("2.4", ["License"], True),
        ("2.1", [], False),
        ("2.2", ["Requires-Dist"], False),
        ("2.3", ["requires-python"], False),
        ("2.2", ["Provides-Extra"], False),
    ],
)
def test_pep643_static(mv, dynamic, static):
    assert is_static_pkg_info(metadata_text("p", "1", metadata_version=mv, dynamic=dynamic)) is static


def test_select_metadata_member_tolerates_case_and_picks_the_project():
    assert select_metadata_member(["a/__init__.py", "Foo.Bar-1.0.dist-info/metadata"],
                                  "foo-bar") == "Foo.Bar-1.0.dist-info/metadata"  # fmt: skip
    names = ["vendored-2.0.dist-info/METADATA", "foo_bar-1.0.dist-info/METADATA"]
    assert select_metadata_member(names, "Foo-Bar") == "foo_bar-1.0.dist-info/METADATA"
    with pytest.raises(MetadataError, match=r"no \.dist-info/METADATA"):
        select_metadata_member(["foo/__init__.py"], "foo")


def test_metadata_url_drops_fragment():
    assert metadata_url("http://h/f/x-1.whl?a=1#sha256=ab") == "http://h/f/x-1.whl.metadata?a=1"


# ---------------------------------------------------------------------------- range reads


def test_range_one_request_when_metadata_near_the_end(make_index, client):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar>=1"],
                                     wheel_options={"pad_bytes": 300_000})])  # fmt: skip
    (record,) = server.records("foo")
    md = MetadataFetcher(client, None)(dist_file(server, record))
    assert md.requires_dist == (Requirement("bar>=1"),) and md.source == "range"
    assert len(server.requests) == 1
    assert server.range_requests()[0].range == "bytes=-65536"


def test_range_two_requests_when_metadata_far_from_the_end(make_index, tmp_path, client):
    blob = random.Random(1).randbytes(300_000)
    path = write_zip(tmp_path / "far_away-2.0-py3-none-any.whl", [
        ("far_away-2.0.dist-info/METADATA", META, zipfile.ZIP_DEFLATED),
        ("far_away-2.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n", zipfile.ZIP_DEFLATED),
        ("far_away/blob.bin", blob, zipfile.ZIP_STORED),
    ])  # fmt: skip
    record = custom_wheel_record(path, "far-away", "2.0")
    server = make_index(repository={"far-away": [record]})
    md = MetadataFetcher(client, None)(dist_file(server, record))
    assert md.name == "Far-Away" and md.provides_extra == {"web"}
    ranges = [r.range for r in server.range_requests()]
    assert len(ranges) == 2 and server.full_downloads() == []
    # the second request is exactly the METADATA member's span, from offset 0
    assert ranges[1].startswith("bytes=0-") and int(ranges[1].split("-")[1]) < 2000


def test_range_large_central_directory_takes_two_requests(make_index, client):
    files = {f"big/m{i:04d}.py": f"x = {i}\n" for i in range(1500)}
    server = make_index([PackageSpec("big", "3.0", requires_dist=["six"],
                                     wheel_options={"files": files})])  # fmt: skip
    (record,) = server.records("big")
    md = MetadataFetcher(client, None)(dist_file(server, record))
    assert md.requires_dist == (Requirement("six"),)
    assert len(server.range_requests()) == 2 and server.full_downloads() == []


def test_server_ignoring_ranges_gives_whole_file_which_is_kept(make_index, client, cache):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])], ranges=False)
    (record,) = server.records("foo")
    file = dist_file(server, record)
    md = MetadataFetcher(client, cache)(file)
    assert md.requires_dist == (Requirement("bar"),) and md.source == "wheel"
    assert len(server.requests) == 1
    # the body that came back is in the files cache: a later download costs nothing
    path = files_mod.download(client, file, cache)
    assert path.read_bytes() == record.path.read_bytes()
    assert len(server.requests) == 1


def test_a_file_wanted_whole_is_downloaded_once_and_handed_on_from_the_cache(
        make_index, client, cache):
    # install: exact pins are read from the whole file, which is then unpacked at once
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])])
    (record,) = server.records("foo")
    file = dist_file(server, record)
    told = []
    fetcher = MetadataFetcher(client, cache, whole_wheel=lambda f: True,
                              fetched_whole=lambda f: told.append(files_mod.cached_path(f, cache)))
    md = fetcher(file)
    assert md.requires_dist == (Requirement("bar"),) and md.source == "wheel"
    assert server.range_requests() == [] and len(server.full_downloads()) == 1
    assert len(told) == 1 and told[0].read_bytes() == record.path.read_bytes()


def test_range_errors_fall_back_to_whole_download(make_index, client):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])])
    (record,) = server.records("foo")
    server.add_fault(f"/files/{record.filename}", 501)
    reporter = CollectingReporter()
    md = MetadataFetcher(client, None, reporter=reporter)(dist_file(server, record))
    assert md.requires_dist == (Requirement("bar"),) and md.source == "wheel"
    assert len(server.full_downloads()) == 1
    assert any("downloading" in i for i in reporter.infos)


def test_missing_file_is_a_network_error(make_index, client):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    file = dist_file(server, record)
    gone = DistFile(**{**file.__dict__, "url": server.file_url("nope-1.0-py3-none-any.whl")})
    with pytest.raises(NetworkError, match="HTTP 404"):
        MetadataFetcher(client, None)(gone)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zip64_and_stored_metadata(make_index, tmp_path, client, monkeypatch, method):
    # Force zip64 records (end of central directory, offsets in extra fields) on a small file.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 1000)
    path = write_zip(tmp_path / "far_away-2.0-py3-none-any.whl", [
        ("far_away/blob.bin", random.Random(2).randbytes(5000), zipfile.ZIP_STORED),
        ("far_away-2.0.dist-info/METADATA", META, method),
        ("far_away-2.0.dist-info/RECORD", b"", zipfile.ZIP_DEFLATED),
    ])  # fmt: skip
    monkeypatch.undo()
    data = path.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # really zip64
    record = custom_wheel_record(path, "far-away", "2.0")
    server = make_index(repository={"far-away": [record]})
    md = MetadataFetcher(client, None)(dist_file(server, record))
    assert md.requires_dist[0] == Requirement("attrs>=22") and md.source == "range"
    assert len(server.requests) == 1


def test_range_reads_take_archive_comments_and_other_compressions(make_index, tmp_path,
                                                                   client):
    # zipfile reads what the wheel holds: an archive comment after the end record, METADATA
    # compressed with bzip2 or lzma (read by range too, not downloaded whole), within three
    # requests
    blob = random.Random(3).randbytes(200_000)
    for n, method in enumerate((zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)):
        path = tmp_path / f"far_away-2.{n}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(zipfile.ZipInfo("far_away/blob.bin", (1980, 1, 1, 0, 0, 0)), blob)
            info = zipfile.ZipInfo(f"far_away-2.{n}.dist-info/METADATA", (1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, META.replace(b"Version: 2.0", f"Version: 2.{n}".encode()))
            zf.comment = b"a comment after the end record " * 100
        record = custom_wheel_record(path, "far-away", f"2.{n}")
        server = make_index(repository={"far-away": [record]})
        md = MetadataFetcher(client, None)(dist_file(server, record))
        assert md.requires_dist[0] == Requirement("attrs>=22") and md.source == "range"
        assert 1 <= len(server.range_requests()) <= 3 and server.full_downloads() == []


def test_corrupt_metadata_member_falls_back_then_fails_cleanly(make_index, tmp_path, client):
    path = write_zip(tmp_path / "far_away-2.0-py3-none-any.whl", [
        ("far_away-2.0.dist-info/METADATA", META, zipfile.ZIP_STORED),
    ])  # fmt: skip
    raw = bytearray(path.read_bytes())
    at = raw.index(b"Requires-Dist")
    raw[at : at + 8] = b"XXXXXXXX"  # CRC no longer matches
    path.write_bytes(bytes(raw))
    record = FileRecord(path.name, path, hashlib.sha256(raw).hexdigest(), len(raw), "far-away",
                        "far-away", Version("2.0"), "wheel")  # fmt: skip
    server = make_index(repository={"far-away": [record]})
    with pytest.raises(MetadataError, match="not a readable wheel"):
        MetadataFetcher(client, None)(dist_file(server, record))
    assert len(server.full_downloads()) == 1  # range read refused the bad CRC, then downloaded


def test_name_mismatch_in_wheel_names_the_file(make_index, client):
    server = make_index([PackageSpec("foo", "1.0", wheel_options={
        "metadata_override": metadata_text("other", "1.0")})])  # fmt: skip
    (record,) = server.records("foo")
    with pytest.raises(MetadataError) as exc:
        MetadataFetcher(client, None)(dist_file(server, record))
    assert record.filename in exc.value.message and "'other'" in exc.value.message


# ---------------------------------------------------------------------------- PEP 658


def test_pep658_uses_metadata_file_and_no_range_requests(make_index, client):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar<2"])], pep658=True)
    (record,) = server.records("foo")
    md = MetadataFetcher(client, None)(dist_file(server, record, pep658=True))
    assert md.requires_dist == (Requirement("bar<2"),) and md.source == "pep658"
    assert [r.path for r in server.requests] == [f"/files/{record.filename}.metadata"]
    assert server.range_requests() == []


def test_pep658_bad_hash_is_a_hash_mismatch(make_index, client):
    server = make_index([PackageSpec("foo", "1.0")], pep658=True)
    (record,) = server.records("foo")
    file = DistFile(**{**dist_file(server, record).__dict__, "core_metadata": (("sha256", "0" * 64),)})
    with pytest.raises(HashMismatch) as exc:
        MetadataFetcher(client, None)(file)
    assert record.filename in exc.value.message and exc.value.expected == "sha256:" + "0" * 64


def test_pep658_advertised_but_missing_falls_back_to_ranges(make_index, client):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])], pep658=False)
    (record,) = server.records("foo")
    file = DistFile(**{**dist_file(server, record).__dict__, "core_metadata": ()})
    md = MetadataFetcher(client, None)(file)
    assert md.source == "range" and md.requires_dist == (Requirement("bar"),)
    assert len(server.range_requests()) == 1


# ---------------------------------------------------------------------------- caches, offline


def test_metadata_cache_second_fetcher_makes_no_requests(make_index, cache):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])])
    (record,) = server.records("foo")
    file = dist_file(server, record)
    with HttpClient(retries=0) as c1:
        first = MetadataFetcher(c1, cache)(file)
    server.reset_log()
    with HttpClient(retries=0) as c2:
        fetcher = MetadataFetcher(c2, cache)
        again = fetcher(file)
        assert c2.counters.requests == 0
    assert again == first and server.requests == [] and fetcher.counts["cache"] == 1
    # --refresh goes back to the index
    with HttpClient(retries=0) as c3:
        MetadataFetcher(c3, cache, refresh=True)(file)
        assert c3.counters.requests == 1


def test_offline_miss_names_the_file(make_index, cache):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    with HttpClient(offline=True) as c, pytest.raises(OfflineMissing) as exc:
        MetadataFetcher(c, cache, offline=True)(dist_file(server, record))
    assert record.filename in exc.value.message
    assert server.requests == []


def test_offline_uses_cached_whole_file(make_index, cache):
    server = make_index([PackageSpec("foo", "1.0", requires_dist=["bar"])])
    (record,) = server.records("foo")
    file = dist_file(server, record)
    with HttpClient() as c:
        files_mod.download(c, file, cache)
    server.reset_log()
    with HttpClient(offline=True) as c:
        md = MetadataFetcher(c, cache, offline=True)(file)
    assert md.requires_dist == (Requirement("bar"),) and server.requests == []


def test_find_links_file_url_is_read_in_place_and_not_cached(tmp_path, client, cache):
    path = make_wheel(tmp_path, "foo", "1.0", requires_dist=["bar"])
    file = DistFile(project="foo", filename=path.name, url=path.as_uri(),
                    version=Version("1.0"), kind="wheel")  # fmt: skip
    md = MetadataFetcher(client, cache, offline=True)(file)
    assert md.requires_dist == (Requirement("bar"),) and client.counters.requests == 0
    make_wheel(tmp_path, "foo", "1.0", requires_dist=["rebuilt"])  # same name, new content
    md = MetadataFetcher(client, cache, offline=True)(file)
    assert md.requires_dist == (Requirement("rebuilt"),)


def test_concurrent_calls_for_one_file_fetch_once(make_index, client):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    fetcher = MetadataFetcher(client, None)
    file = dist_file(server, record)
    results = []
    threads = [threading.Thread(target=lambda: results.append(fetcher(file))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1
    assert len(server.requests) == 1


# ---------------------------------------------------------------------------- whole files


def test_download_verifies_hash_and_leaves_nothing(make_index, client, cache):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    bad = DistFile(**{**dist_file(server, record).__dict__, "hashes": (("sha256", "1" * 64),)})
    with pytest.raises(HashMismatch):
        files_mod.download(client, bad, cache)
    leftovers = [p for p in cache.bucket("files").rglob("*") if p.is_file()]
    assert leftovers == []


def test_download_is_cached_by_hash_with_its_filename(make_index, client, cache):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    file = dist_file(server, record)
    path = files_mod.download(client, file, cache)
    assert path.name.endswith(record.filename) and path.name.startswith(record.sha256)
    assert files_mod.download(client, file, cache) == path
    assert len(server.requests) == 1


def test_download_without_cache_goes_to_dest_dir(make_index, client, tmp_path):
    server = make_index([PackageSpec("foo", "1.0")])
    (record,) = server.records("foo")
    path = files_mod.download(client, dist_file(server, record, sha=False), None,
                              dest_dir=tmp_path)  # fmt: skip
    assert path == tmp_path / record.filename
    assert path.read_bytes() == record.path.read_bytes()


# ---------------------------------------------------------------------------- sdists


def _sdist(server, name="foo", version="1.0", **options):
    server.add([PackageSpec(name, version, kinds=("sdist",), sdist_options=options,
                            requires_dist=options.pop("requires_dist", ()))])  # fmt: skip
    (record,) = [r for r in server.records(name) if r.kind == "sdist"]
    return record


def test_sdist_with_static_pkg_info_needs_no_build(make_index, client, monkeypatch):
    def no_build(*a, **k):
        raise AssertionError("built")

    monkeypatch.setattr(sdist_mod, "prepare_metadata", no_build)
    server = make_index()
    record = _sdist(server, requires_dist=["bar>=2"], metadata_version="2.2")
    md = MetadataFetcher(client, None, allow_build=False)(dist_file(server, record))
    assert md.source == "pkg-info" and md.requires_dist == (Requirement("bar>=2"),)


def test_sdist_dynamic_deps_built_with_pep517(make_index, client, cache):
    server = make_index()
    record = _sdist(server, requires_dist=["real-dep>=3"], dynamic=["Requires-Dist"],
                    pkg_info_requires_dist=["decoy"])  # fmt: skip
    md = MetadataFetcher(client, cache)(dist_file(server, record))
    assert md.source == "built" and md.requires_dist == (Requirement("real-dep>=3"),)
    # built metadata is cached for this host: no rebuild, no request
    server.reset_log()
    with HttpClient() as c:
        again = MetadataFetcher(c, cache, allow_build=False)(dist_file(server, record))
    assert again == md and server.requests == []


def test_sdist_builds_report_progress_print_nothing_and_share_environments(
    make_index, client, cache, capfd
):
    server = make_index()
    records = [_sdist(server, name=n, requires_dist=[f"{n}-dep"], dynamic=["Requires-Dist"])
               for n in ("foo", "bar")]  # fmt: skip
    reporter = CollectingReporter()
    fetcher = MetadataFetcher(client, cache, reporter=reporter)
    for record in records:
        assert fetcher(dist_file(server, record)).source == "built"
    assert any(i.startswith("building metadata for foo==1.0 from sdist") for i in reporter.infos)
    assert len([i for i in reporter.infos if "creating a build environment" in i]) == 1
    assert len(list((cache.root / "build-envs-v3" / "envs").iterdir())) == 1
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_sdist_build_environments_without_a_cache_go_on_close(make_index, client):
    server = make_index()
    record = _sdist(server, dynamic=["Requires-Dist"])
    fetcher = MetadataFetcher(client, None)
    assert fetcher(dist_file(server, record)).source == "built"
    root = fetcher._build_envs.root
    assert root.is_dir()
    fetcher.close()
    assert not root.exists()


def test_sdist_build_forbidden_names_the_file(make_index, client):
    server = make_index()
    record = _sdist(server, metadata_version="2.1")
    with pytest.raises(BuildForbidden) as exc:
        MetadataFetcher(client, None, allow_build=False)(dist_file(server, record))
    assert record.filename in exc.value.message and "foo==1.0" in exc.value.message
    assert "--no-build" in exc.value.hint or "wheel" in exc.value.hint


def test_sdist_failing_backend_is_a_build_error_with_output(make_index, client):
    server = make_index()
    record = _sdist(server, dynamic=["Requires-Dist"], fail_build=True)
    fetcher = MetadataFetcher(client, None)
    with pytest.raises(BuildError) as exc:
        fetcher(dist_file(server, record))
    assert record.filename in exc.value.message
    assert any("failed on purpose" in line for line in exc.value.details)
    server.reset_log()
    with pytest.raises(BuildError):
        fetcher(dist_file(server, record))  # remembered: no second download or build
    assert server.requests == []


def test_sdist_advertised_metadata_missing_uses_pkg_info(make_index, client):
    server = make_index()
    record = _sdist(server, requires_dist=["bar"], metadata_version="2.2")
    meta = sdist_mod.read_pkg_info(record.path)
    file = DistFile(**{**dist_file(server, record).__dict__,
                       "core_metadata": (("sha256", hashlib.sha256(meta).hexdigest()),)})  # fmt: skip
    md = MetadataFetcher(client, None)(file)  # .metadata 404s -> the sdist's static PKG-INFO
    assert md.source == "pkg-info" and md.requires_dist == (Requirement("bar"),)


def test_wheel_metadata_read_from_bytes_matches_builder():
    path_bytes = io.BytesIO()
    with zipfile.ZipFile(path_bytes, "w") as zf:
        zf.writestr("x-1.dist-info/METADATA", metadata_text("x", "1"))
    from constrain.index.metadata.wheel import wheel_metadata_from_zip

    assert wheel_metadata_from_zip(path_bytes, "x", "x-1.whl").startswith(b"Metadata-Version")


# ---------------------------------------------------------------------------- live


@pytest.mark.live
@pytest.mark.parametrize(("project", "max_requests"), [("requests", 1), ("pydantic-core", 2)])
def test_live_range_read_of_a_real_wheel(project, max_requests):
    """On the default index (from pip at run time): a pure-Python wheel costs one request; a
    maturin wheel (METADATA first in the archive) two."""
    from pip._internal.models.index import PyPI

    from constrain.index.pages.parse import parse_project_page

    index = PyPI.simple_url.rstrip("/")
    page_url = f"{index}/{project}/"
    with HttpClient() as client:
        page = client.get(page_url, {"Accept": "application/vnd.pypi.simple.v1+json"})
        files = parse_project_page(page.content, page.headers.get("content-type", ""),
                                   page_url, project, index)  # fmt: skip
        wheels = [f for f in files if f.is_wheel and not f.is_yanked and not f.version.is_prerelease]
        file = max(wheels, key=lambda f: (f.version, f.filename))
        file = DistFile(**{**file.__dict__, "core_metadata": None})  # force the range path
        before = client.counters.requests
        md = MetadataFetcher(client, None)(file)
        assert md.canonical_name == project and md.version == file.version
        assert md.source == "range"
        assert client.counters.requests - before <= max_requests


def test_sdist_downloads_take_the_urgent_lane_and_wheels_do_not(make_index):
    class Recording(HttpClient):
        def __init__(self):
            super().__init__(retries=0, backoff=0)
            self.lanes: list[tuple[str, bool]] = []

        def get(self, url, headers=None):
            self.lanes.append((url.rsplit("/", 1)[-1], self.urgent_now()))
            return super().get(url, headers)

        def stream_to(self, url, dest, headers=None, **kw):
            self.lanes.append((url.rsplit("/", 1)[-1], self.urgent_now()))
            return super().stream_to(url, dest, headers, **kw)

    server = make_index([PackageSpec("bar", "1.0")])
    sdist = _sdist(server, requires_dist=["bar>=1"], metadata_version="2.2")
    (wheel,) = server.records("bar")
    with Recording() as client:
        fetcher = MetadataFetcher(client, None)
        assert fetcher(dist_file(server, sdist)).source == "pkg-info"
        assert fetcher(dist_file(server, wheel)).source == "range"
        assert not client.urgent_now()  # the lane ended with the sdist
    lanes = dict(client.lanes)
    assert lanes["foo-1.0.tar.gz"] is True and lanes["bar-1.0-py3-none-any.whl"] is False

"""Index page parsing: PEP 691 JSON and PEP 503 HTML give the same files; garbage gives none."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from constrain.index.pages.parse import (
    IndexPageError,
    dist_file,
    parse_find_links_page,
    parse_project_page,
    parse_root_index,
)

PAGE = "http://127.0.0.1:9/simple/foo-bar/"
INDEX = "http://127.0.0.1:9/simple"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _json_page(files, *, version="1.1", name="foo-bar"):
    return json.dumps(
        {"meta": {"api-version": version}, "name": name, "files": files, "versions": []}
    ).encode()


def test_html_page_fields():
    page = b"""<!DOCTYPE html><html><body>
    <a href="../../files/foo_bar-1.0-py3-none-any.whl#sha256=ABC123"
       data-requires-python="&gt;=3.8,&lt;4" data-core-metadata="sha256=DEF">w</a>
    <a href="https://cdn.test/foo-bar-1.1.tar.gz" data-yanked="broken &amp; bad">s</a>
    <a href="foo_bar-1.2.zip" data-yanked>z</a>
    </body></html>"""
    files = parse_project_page(page, "text/html; charset=utf-8", PAGE, "Foo_Bar", INDEX)
    assert [f.filename for f in files] == [
        "foo_bar-1.0-py3-none-any.whl",
        "foo-bar-1.1.tar.gz",
        "foo_bar-1.2.zip",
    ]
    wheel, sdist, zipped = files
    assert wheel.url == "http://127.0.0.1:9/files/foo_bar-1.0-py3-none-any.whl"
    assert wheel.sha256 == "abc123"
    assert wheel.requires_python == ">=3.8,<4"
    assert wheel.core_metadata == (("sha256", "def"),)
    assert wheel.tags == frozenset({Tag("py3", "none", "any")})
    assert wheel.kind == "wheel" and wheel.version == Version("1.0")
    assert wheel.project == "foo-bar" and wheel.index == INDEX
    assert sdist.url == "https://cdn.test/foo-bar-1.1.tar.gz"
    assert sdist.yanked == "broken & bad" and sdist.core_metadata is None
    assert zipped.yanked == "" and zipped.is_yanked and zipped.kind == "sdist"


def test_html_base_href_and_pep714_precedence():
    page = b"""<html><head><base href="https://mirror.test/pkgs/"></head>
    <a href="foo_bar-2.0-py3-none-any.whl" data-dist-info-metadata="sha256=0001"
       data-core-metadata="sha256=00ff">a</a>
    <a href="foo_bar-2.1-py3-none-any.whl" data-dist-info-metadata="true">b</a>
    <a href="foo_bar-2.2-py3-none-any.whl" data-core-metadata="nonsense">c</a>"""
    files = parse_project_page(page, "text/html", PAGE, "foo-bar", INDEX)
    assert files[0].url == "https://mirror.test/pkgs/foo_bar-2.0-py3-none-any.whl"
    assert files[0].core_metadata == (("sha256", "00ff"),)
    assert files[1].core_metadata == ()
    assert files[2].core_metadata is None


def test_other_projects_and_unusable_files_are_skipped():
    names = [
        "foo_bar-1.0.egg",
        "foo_bar-1.0.win32.exe",
        "foo_bar-1.0.msi",
        "foo_bar-1.0.tar.bz2",
        "foo_bar-notaversion-py3-none-any.whl",
        "foo_bar.tar.gz",
        "other-1.0.tar.gz",
        "foo_bar_baz-1.0-py3-none-any.whl",
        "foo_bar-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]
    page = "".join(f'<a href="{n}">{n}</a>' for n in names).encode()
    files = parse_project_page(page, "text/html", PAGE, "foo-bar", INDEX)
    assert [f.filename for f in files] == ["foo_bar-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"]


def test_json_page_fields():
    files = [
        {
            "filename": "foo_bar-1.0-py3-none-any.whl",
            "url": "/files/foo_bar-1.0-py3-none-any.whl",
            "hashes": {"sha256": "AA", "md5": "bb"},
            "requires-python": ">=3.9",
            "core-metadata": {"sha256": "cc"},
            "dist-info-metadata": {"sha256": "old"},
            "yanked": False,
            "size": 1234,
            "upload-time": "2024-03-01T12:30:00.123456Z",
        },
        {
            "filename": "foo-bar-1.0.tar.gz",
            "url": "https://files.test/foo-bar-1.0.tar.gz",
            "hashes": {},
            "yanked": "security issue",
            "dist-info-metadata": True,
            "upload-time": "2024-03-01T14:30:00+02:00",
        },
        {"filename": "foo-bar-0.9.tar.gz", "url": "x/foo-bar-0.9.tar.gz", "yanked": True},
        {"filename": "foo-bar-0.8.exe", "url": "foo-bar-0.8.exe"},
        {"url": "no-filename.tar.gz"},
        "not an object",
    ]
    w, s, old = parse_project_page(_json_page(files), JSON_TYPE, PAGE, "foo-bar", INDEX)
    assert w.url == "http://127.0.0.1:9/files/foo_bar-1.0-py3-none-any.whl"
    assert w.hashes == (("md5", "bb"), ("sha256", "aa"))
    assert w.core_metadata == (("sha256", "cc"),)
    assert w.yanked is None and w.size == 1234 and w.requires_python == ">=3.9"
    assert w.upload_time == datetime(2024, 3, 1, 12, 30, 0, 123456, tzinfo=UTC)
    assert s.yanked == "security issue" and s.core_metadata == ()
    assert s.upload_time == datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    assert s.upload_time.utcoffset() == timedelta(0)
    assert old.yanked == "" and old.url == PAGE + "x/foo-bar-0.9.tar.gz"
    assert old.upload_time is None and old.core_metadata is None


def test_newer_major_api_version_is_refused():
    with pytest.raises(IndexPageError) as info:
        parse_project_page(_json_page([], version="2.0"), JSON_TYPE, PAGE, "foo-bar", INDEX)
    assert "2.0" in info.value.message and info.value.hint
    html_page = b'<meta name="pypi:repository-version" content="3.0"><a href="x">x</a>'
    with pytest.raises(IndexPageError):
        parse_project_page(html_page, "text/html", PAGE, "foo-bar", INDEX)
    # Minor versions above 1.0 are fine.
    assert parse_project_page(_json_page([], version="1.4"), JSON_TYPE, PAGE, "x", INDEX) == []


def test_broken_json_is_a_clear_error_without_credentials():
    page = "http://user:s3cret@127.0.0.1:9/simple/foo/"
    with pytest.raises(IndexPageError) as info:
        parse_project_page(b"{not json", JSON_TYPE, page, "foo", INDEX)
    assert "s3cret" not in "\n".join(info.value.render())
    assert "127.0.0.1:9/simple/foo/" in info.value.message


def test_content_type_sniffed_when_missing():
    page = _json_page([{"filename": "foo_bar-1.0.tar.gz", "url": "foo_bar-1.0.tar.gz"}])
    assert len(parse_project_page(page, "", PAGE, "foo-bar", INDEX)) == 1
    assert len(parse_project_page(b'<a href="foo_bar-1.0.zip">', "", PAGE, "foo-bar", INDEX)) == 1


def test_find_links_page_lists_every_project():
    page = b"""<a href="alpha-1.0-py3-none-any.whl">a</a><a href="Beta_Pkg-2.0.tar.gz">b</a>
    <a href="readme.txt">r</a><a href="sub/">dir</a>"""
    files = parse_find_links_page(page, "text/html", "file:///srv/wheels/", "file:///srv/wheels/")
    assert {(f.project, str(f.version)) for f in files} == {("alpha", "1.0"), ("beta-pkg", "2.0")}
    assert files[0].url == "file:///srv/wheels/alpha-1.0-py3-none-any.whl"


def test_root_index_names():
    root_json = json.dumps(
        {"meta": {"api-version": "1.0"}, "projects": [{"name": "Django"}, {"name": "flask"}]}
    ).encode()
    assert parse_root_index(root_json, JSON_TYPE) == ["Django", "flask"]
    root_html = b'<a href="/simple/django/">Django</a>\n<a href="/simple/flask/">flask</a>'
    assert parse_root_index(root_html, "text/html") == ["Django", "flask"]
    assert parse_root_index(b"{garbage", JSON_TYPE) == []


def test_dist_file_rejects_and_accepts():
    assert dist_file("x-1.0.tar.gz", "u", index="i", project="y") is None
    f = dist_file("X-1.0.tar.gz", "u", index="i")
    assert f is not None and f.project == "x"


# ---------------------------------------------------------------------------- properties

names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}([-_.][A-Za-z0-9]{1,4})?", fullmatch=True)
versions = st.builds(
    lambda a, b, pre: f"{a}.{b}{pre}",
    st.integers(0, 30),
    st.integers(0, 30),
    st.sampled_from(["", "a1", "rc2", ".post1", ".dev3"]),
)
hexes = st.text("0123456789abcdef", min_size=4, max_size=64)
reasons = st.none() | st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=20
)
file_specs = st.lists(
    st.fixed_dictionaries(
        {
            "version": versions,
            "kind": st.sampled_from(["wheel", "tar.gz", "zip"]),
            "sha256": hexes,
            "requires_python": st.none() | st.sampled_from([">=3.8", "<4,>=3.9", "!=3.0.*"]),
            "yanked": reasons,
            "metadata": st.none() | st.just(True) | hexes,
        }
    ),
    max_size=6,
)


def _filename(project: str, spec: dict) -> str:
    stem = f"{project.replace('-', '_').replace('.', '_')}-{spec['version']}"
    return f"{stem}-py3-none-any.whl" if spec["kind"] == "wheel" else f"{stem}.{spec['kind']}"


def _render_html(project: str, specs: list[dict]) -> bytes:
    parts = []
    for spec in specs:
        fn = _filename(project, spec)
        attrs = f' href="../../f/{html.escape(fn)}#sha256={spec["sha256"]}"'
        if spec["requires_python"]:
            attrs += f' data-requires-python="{html.escape(spec["requires_python"])}"'
        if spec["yanked"] is not None:
            attrs += f' data-yanked="{html.escape(spec["yanked"])}"'
        meta = spec["metadata"]
        if meta is not None:
            value = "true" if meta is True else f"sha256={meta}"
            attrs += f' data-core-metadata="{value}"'
        parts.append(f"<a{attrs}>{html.escape(fn)}</a><br/>")
    return ("<!DOCTYPE html><html><body>" + "\n".join(parts) + "</body></html>").encode()


def _render_json(project: str, specs: list[dict]) -> bytes:
    files = []
    for spec in specs:
        fn = _filename(project, spec)
        meta = spec["metadata"]
        files.append(
            {
                "filename": fn,
                "url": f"../../f/{fn}",
                "hashes": {"sha256": spec["sha256"]},
                "requires-python": spec["requires_python"],
                "yanked": spec["yanked"] if spec["yanked"] is not None else False,
                "core-metadata": meta if meta in (None, True) else {"sha256": meta},
            }
        )
    return _json_page(files, name=project)


def _expected(spec: dict):
    meta = spec["metadata"]
    return (
        Version(spec["version"]),
        "wheel" if spec["kind"] == "wheel" else "sdist",
        spec["sha256"],
        spec["requires_python"],
        spec["yanked"],
        None if meta is None else (() if meta is True else (("sha256", meta),)),
    )


def _observed(f):
    return (f.version, f.kind, f.sha256, f.requires_python, f.yanked, f.core_metadata)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(project=names, specs=file_specs)
def test_json_and_html_round_trip_to_the_same_files(project, specs):
    page = f"http://127.0.0.1:9/simple/{project}/"
    want = [_expected(s) for s in specs]
    from_html = parse_project_page(_render_html(project, specs), "text/html", page, project, "i")
    from_json = parse_project_page(_render_json(project, specs), JSON_TYPE, page, project, "i")
    # An empty yanked reason in HTML reads back as "" either way; whitespace-only requires-python
    # cannot occur here, so the two formats must agree exactly.
    assert [_observed(f) for f in from_html] == want
    assert [_observed(f) for f in from_json] == want
    assert [f.url for f in from_html] == [f.url for f in from_json]
    assert all(f.url.startswith("http://127.0.0.1:9/f/") for f in from_json)


@settings(max_examples=150)
@given(garbage=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_garbage_html_never_raises_and_yields_nothing(garbage):
    assert parse_project_page(garbage.encode(), "text/html", PAGE, "foo-bar", INDEX) == []
    parse_find_links_page(garbage.encode(), "text/html", PAGE, INDEX)
    parse_root_index(garbage.encode(), "text/html")


@settings(max_examples=100)
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["meta", "files", "filename", "url", "hashes", "yanked", "size",
                             "upload-time", "core-metadata", "requires-python", "api-version"]),
            children,
            max_size=5,
        ),
        max_leaves=20,
    )
)
def test_odd_json_shapes_never_crash(doc):
    """Any well-formed JSON gives a list (maybe empty) or the one clear error, never a crash."""
    try:
        files = parse_project_page(json.dumps(doc).encode(), JSON_TYPE, PAGE, "foo-bar", INDEX)
    except IndexPageError:
        return
    assert isinstance(files, list)


def test_upload_time_offsets_normalised_to_utc():
    page = _json_page(
        [
            {
                "filename": "foo_bar-1.0.tar.gz",
                "url": "a",
                "upload-time": "2024-01-01T00:00:00-05:00",
            },
            {"filename": "foo_bar-1.1.tar.gz", "url": "b", "upload-time": "yesterday"},
        ]
    )
    a, b = parse_project_page(page, JSON_TYPE, PAGE, "foo-bar", INDEX)
    assert a.upload_time == datetime(2024, 1, 1, 5, tzinfo=UTC)
    assert a.upload_time.tzinfo is not None
    assert b.upload_time is None


def test_a_stored_listing_holds_the_files_the_json_page_lists():
    """The stored form (``listing.listing_of_page``, read back by ``load_listing``) gives the
    files the page parser gives, field for field, however an entry spells its fields: PEP 714
    (``core-metadata`` present, even as null, wins over ``dist-info-metadata``), metadata
    hashes in any case, requires-python with blanks, yanked forms, several hashes, ``1.0``
    beside ``1.0.0``. Names are checked per kind: an sdist named ``foo__bar`` belongs to
    foo-bar, a wheel so named is not a valid wheel name and is left out, whichever comes
    first."""
    from packaging.utils import canonicalize_name

    from constrain.index.pages.listing import listing_of_page, load_listing

    files = [
        {"filename": "foo__bar-1.0.tar.gz", "url": "a/foo__bar-1.0.tar.gz",
         "hashes": {"sha256": "AB", "md5": "CD"}, "requires-python": "  >=3.8 ",
         "core-metadata": None, "dist-info-metadata": {"sha256": "old"}},
        {"filename": "foo__bar-1.0-py3-none-any.whl", "url": "b/foo__bar-1.0-py3-none-any.whl"},
        {"filename": "foo_bar-1.0.0-py3-none-any.whl", "url": "c/foo_bar-1.0.0-py3-none-any.whl",
         "hashes": {"sha256": "ef"}, "core-metadata": {"SHA256": "Ab"}, "yanked": True,
         "requires-python": "   "},
        {"filename": "foo_bar-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",
         "url": "https://files.test/x.whl", "dist-info-metadata": True, "yanked": "bad",
         "requires-python": 3, "size": 10, "upload-time": "2024-03-01T12:30:00Z"},
        {"filename": "foo-bar-2.0.zip", "url": "d/foo-bar-2.0.zip", "hashes": {},
         "core-metadata": {"sha256": "aa", "blake2b": "bb"}, "yanked": False},
        {"filename": "foo_bar-2.0-py3-none-any.whl", "url": "e/w.whl#sha256=ff",
         "core-metadata": False},
    ]
    body = _json_page(files)
    served = parse_project_page(body, JSON_TYPE, PAGE, "foo-bar", INDEX)
    project = canonicalize_name("foo-bar")
    stored = load_listing(project, listing_of_page(body, JSON_TYPE, PAGE, project, ""), INDEX)
    assert stored is not None

    def facts(found):
        return sorted((f.filename, str(f.version), f.kind, f.tags, f.hashes, f.requires_python,
                       f.yanked, f.upload_time, f.size, f.core_metadata, f.url, f.index)
                      for f in found)

    assert facts(stored) == facts(served)
    by_name = {f.filename: f for f in stored}
    assert "foo__bar-1.0-py3-none-any.whl" not in by_name
    sdist = by_name["foo__bar-1.0.tar.gz"]
    assert sdist.core_metadata is None and sdist.requires_python == ">=3.8"
    assert sdist.hashes == (("md5", "cd"), ("sha256", "ab"))
    wheel = by_name["foo_bar-1.0.0-py3-none-any.whl"]
    assert wheel.core_metadata == (("sha256", "ab"),) and wheel.yanked == ""
    assert wheel.requires_python is None and str(wheel.version) == "1.0.0"
    assert by_name["foo-bar-2.0.zip"].core_metadata == (("blake2b", "bb"), ("sha256", "aa"))
    assert by_name["foo_bar-2.0-py3-none-any.whl"].core_metadata is None
    assert [str(v) for v in stored.versions] == ["2.0", "1.0"]


_ENTRY_FIELDS = st.fixed_dictionaries(
    {
        "filename": st.sampled_from([
            "foo_bar-{v}-py3-none-any.whl", "foo_bar-{v}-cp311-cp311-manylinux_2_17_x86_64.whl",
            "foo_bar-{v}-1-py3-none-any.whl", "foo__bar-{v}-py3-none-any.whl",
            "foo_bar-{v}-py3-none-.whl", "Foo.Bar-{v}.tar.gz", "foo-bar-{v}.zip",
            "foo__bar-{v}.tar.gz", "other-{v}.tar.gz", "other-{v}-py3-none-any.whl",
            "foo_bar-{v}.exe", "foo_bar-{v}-py3-none-any.whl.metadata"]),
        "version": st.sampled_from(["1.0", "1.0.0", "01.0", "2.0rc1", "2.0.0rc1", "1!1.0",
                                    "3.0.post1", "not a version", "1.0+local"]),
    },
    optional={
        "url": st.sampled_from(["../../f/{fn}", "https://files.test/{fn}",
                                "x/{fn}#sha256=ab", 7]),
        "hashes": st.dictionaries(st.sampled_from(["sha256", "SHA256", "md5", "blake2b"]),
                                  st.sampled_from(["AB", "cd", 3]), max_size=3) | st.none(),
        "requires-python": st.sampled_from([">=3.8", "  >=3.9 ", "   ", 3, None]),
        "yanked": st.sampled_from([True, False, "bad", "", None, 1]),
        "size": st.sampled_from([10, True, None, "9"]),
        "upload-time": st.sampled_from(["2024-03-01T12:30:00Z", "2024-01-01T00:00:00-05:00",
                                        "yesterday", None]),
        "core-metadata": st.sampled_from([None, True, False, {"sha256": "Ab"},
                                          {"sha256": "aa", "BLAKE2B": "bb"}, {"sha256": 1}, 2]),
        "dist-info-metadata": st.sampled_from([True, {"sha256": "old"}, None]),
    },
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(_ENTRY_FIELDS, max_size=12))
def test_a_stored_json_listing_gives_the_parsers_files_version_by_version(specs):
    """However a JSON page's entries spell their fields, and whichever of them are not files
    of the project (another name, an invalid wheel name or tag, a version that does not
    parse, an installer or a metadata file), the stored form (its entries kept as served,
    grouped by version, read when a version is visited) gives exactly the files the page
    parser gives: the same versions, highest first, each with the files of that version in
    page order, field for field."""
    from collections import defaultdict

    from packaging.utils import canonicalize_name

    from constrain.index.pages.listing import listing_of_page, load_listing

    files = []
    for spec in specs:
        entry = {k: v for k, v in spec.items() if k != "version"}
        entry["filename"] = fn = spec["filename"].format(v=spec["version"])
        if "url" in entry and isinstance(entry["url"], str):
            entry["url"] = entry["url"].format(fn=fn)
        files.append(entry)
    body = _json_page(files)
    project = canonicalize_name("foo-bar")
    served = parse_project_page(body, JSON_TYPE, PAGE, project, INDEX)
    stored = load_listing(project, listing_of_page(body, JSON_TYPE, PAGE, project, ""), INDEX)
    assert stored is not None

    def facts(f):
        return (f.filename, str(f.version), f.kind, f.tags, f.hashes, f.requires_python,
                f.yanked, f.upload_time, f.size, f.core_metadata, f.url, f.index)

    by_version = defaultdict(list)
    for f in served:
        by_version[f.version].append(facts(f))
    assert list(stored.versions) == sorted(by_version, reverse=True)
    assert [[facts(f) for f in stored.files_of(i)] for i in range(len(stored.versions))] == [
        by_version[v] for v in stored.versions]

    def keep(filename: str) -> bool:  # as a target's file-name filter is asked
        return not filename.endswith(".whl") or "-py3-" in filename

    again = load_listing(project, listing_of_page(body, JSON_TYPE, PAGE, project, ""), INDEX)
    assert [[facts(f) for f in again.files_of(i, keep)] for i in range(len(again.versions))] == [
        [x for x in by_version[v] if keep(x[0])] for v in again.versions]
    assert len(stored) == len(served)
    kept = {f.filename for f in served}  # an upload time given, even one that does not parse
    assert stored.has_upload_time == any(
        isinstance(e.get("upload-time"), str) for e in files
        if e["filename"] in kept and isinstance(e.get("url"), str))


def test_a_listing_stored_before_json_entries_were_kept_as_served_still_reads():
    """A listing written before this form (format 2: rows only) reads as it did, so a cache
    made by an earlier constrain needs no page fetched again."""
    import marshal
    import struct

    from packaging.utils import canonicalize_name

    from constrain.index.pages.listing import group_rows, load_listing, row_of

    files = [
        {"filename": "foo_bar-1.0-py3-none-any.whl", "url": "a.whl", "hashes": {"sha256": "ab"},
         "upload-time": "2024-03-01T12:30:00Z", "yanked": "bad"},
        {"filename": "foo-bar-1.0.0.tar.gz", "url": "b.tar.gz", "requires-python": ">=3.8"},
        {"filename": "foo_bar-2.0-py3-none-any.whl", "url": "https://files.test/c.whl"},
    ]
    project = canonicalize_name("foo-bar")
    served = parse_project_page(_json_page(files), JSON_TYPE, PAGE, project, INDEX)
    versions, groups = group_rows([row_of(f) for f in served], project)
    blobs = [marshal.dumps(list(g)) for g in groups]
    ends = [sum(len(b) for b in blobs[: i + 1]) for i in range(len(blobs))]
    header = marshal.dumps((2, [v.__getstate__() for v in versions], [str(v) for v in versions],
                            ends, True, 3, [INDEX]))
    old = b"".join([struct.pack("<I", len(header)), header, *blobs])
    stored = load_listing(project, old, INDEX)
    assert stored is not None
    assert [str(v) for v in stored.versions] == ["2.0", "1.0"]
    assert sorted(stored, key=lambda f: f.filename) == sorted(served, key=lambda f: f.filename)
    assert [str(f.version) for f in stored.files_of(1)] == ["1.0", "1.0.0"]


@pytest.mark.parametrize("damage", [b"\xff" * 6, b"\x00" * 6, b"[" * 6])
def test_a_version_damaged_in_a_stored_listing_is_a_cache_error_naming_it(damage):
    """A stored listing whose header reads well but one version's part does not (changed on
    disk after it was written) is a clear cache error naming the project and the version,
    with the way out; the other versions still read."""
    import struct

    from packaging.utils import canonicalize_name

    from constrain.errors import CacheError
    from constrain.index.pages.listing import listing_of_page, load_listing

    files = [{"filename": f"foo_bar-{v}-py3-none-any.whl", "url": f"{v}.whl"}
             for v in ("1.0", "2.0")]
    project = canonicalize_name("foo-bar")
    stored = bytearray(listing_of_page(_json_page(files), JSON_TYPE, PAGE, project, ""))
    (length,) = struct.unpack_from("<I", stored)
    start = 4 + length  # the first part after the header: the highest version's
    stored[start:start + len(damage)] = damage
    listing = load_listing(project, bytes(stored), INDEX)
    assert listing is not None and [str(v) for v in listing.versions] == ["2.0", "1.0"]
    with pytest.raises(CacheError) as caught:
        listing.files_of(0)
    assert "foo-bar" in caught.value.message and "2.0" in caught.value.message
    assert "--refresh" in (caught.value.hint or "")
    assert [f.filename for f in listing.files_of(1)] == ["foo_bar-1.0-py3-none-any.whl"]


def test_the_file_name_memos_stay_bounded_in_a_long_lived_process(monkeypatch):
    """The memos of names, versions and tags that parsing pages fills stop growing at a
    bound (a host process resolving again and again), and answer as before."""
    from constrain.index.pages import parse
    from constrain.index.pages.parse import _parse_sdist_filename

    monkeypatch.setattr(parse, "_MEMO_MAX", 8, raising=False)
    saved = {name: dict(getattr(parse, name)) for name in
             ("_NAMES", "_VERSIONS", "_TAGS", "_SDIST_NAMES")}
    try:
        for name in saved:
            getattr(parse, name).clear()
        for n in range(40):
            f = dist_file(f"p{n}-1.{n}-cp3{n % 12}-none-any.whl", "u", index="i")
            assert f is not None and f.project == f"p{n}" and str(f.version) == f"1.{n}"
            assert {str(t) for t in f.tags} == {f"cp3{n % 12}-none-any"}
            again = dist_file(f"p{n}-1.{n}-cp3{n % 12}-none-any.whl", "u", index="i")
            assert again == f
            assert _parse_sdist_filename(f"s{n}-2.{n}.tar.gz") == (f"s{n}", Version(f"2.{n}"))
        assert all(len(getattr(parse, name)) <= 8 for name in saved)
    finally:
        for name, memo in saved.items():
            getattr(parse, name).clear()
            getattr(parse, name).update(memo)

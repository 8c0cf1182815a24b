"""Tests that IndexServer is a faithful package index: pip and uv read it, and its knobs work."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from packaging.metadata import Metadata
from packaging.utils import canonicalize_name

from tests.support.builders import PackageSpec
from tests.support.indexserver import DROP, HTML_V1, JSON_V1, IndexServer

UV = Path(sys.executable).with_name("uv")

SPECS = [
    PackageSpec("Top.Pkg", "1.0", requires_dist=["dep>=1"]),
    PackageSpec("Top.Pkg", "2.0", requires_dist=["dep>=2", 'extra-dep; extra == "x"'],
                provides_extra=["x"], kinds=("wheel", "sdist")),
    PackageSpec("dep", "1.0"),
    PackageSpec("dep", "2.0", requires_python=">=3.8,<4"),
    PackageSpec("dep", "3.0", yanked="broken build"),
    PackageSpec("dep", "4.0", requires_python=">=3.12"),
    PackageSpec("extra-dep", "0.5"),
]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


@pytest.fixture
def server(index_server: Callable[..., IndexServer]) -> IndexServer:
    return index_server(SPECS, pep658=True)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def _links(text: str) -> list[dict[str, str | None]]:
    parser = _Links()
    parser.feed(text)
    return parser.links


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


# ---------------------------------------------------------------- real clients read it


def test_pip_resolves_from_the_server(server: IndexServer, tmp_path: Path) -> None:
    proc = _pip(
        "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "report.json",
        "--index-url", server.index_url, "top.pkg[x]", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    pins = {
        canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
        for i in report["install"]
    }
    # dep 4.0 needs Python 3.12, dep 3.0 is yanked: 2.0 is the best acceptable.
    assert pins == {"top-pkg": "2.0", "dep": "2.0", "extra-dep": "0.5"}
    # pip resolved from the PEP 658 metadata files (this pip still downloads after resolving).
    paths = [r.path for r in server.requests]
    for wheel in ("top_pkg-2.0", "dep-2.0", "extra_dep-0.5"):
        metadata = paths.index(f"/files/{wheel}-py3-none-any.whl.metadata")
        assert all(metadata < paths.index(r.path) for r in server.full_downloads())


def test_pip_downloads_with_hash_check_over_html(
    index_server: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = index_server(SPECS, json=False)
    proc = _pip(
        "download", "--no-deps", "--dest", "out", "--index-url", server.index_url,
        "dep==2.0", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["dep-2.0-py3-none-any.whl"]
    assert all(r.headers["accept"] != JSON_V1 for r in server.requests_to("/simple/"))


def test_uv_compiles_from_json_with_upload_times(server: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("top-pkg\n")
    cmd = [
        str(UV), "pip", "compile", "in.txt", "--no-header", "--no-annotate", "--quiet",
        "--index-url", server.index_url, "--python-version", "3.11", "--no-cache",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["dep==2.0", "top-pkg==2.0"]
    assert any("json" in r.headers.get("accept", "") for r in server.requests_to("/simple/"))
    assert server.requests_to("/files/top_pkg-2.0-py3-none-any.whl.metadata")
    # Upload times are served (PEP 700): excluding everything after day 1 leaves the 1.0s.
    proc = subprocess.run(
        [*cmd, "--exclude-newer", "2020-01-01T12:00:00Z"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["dep==1.0", "top-pkg==1.0"]


# ---------------------------------------------------------------- pages


def test_json_project_page_has_pep691_shape(server: IndexServer, client: httpx.Client) -> None:
    resp = client.get(server.index_url + "/dep/", headers={"Accept": JSON_V1})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == JSON_V1
    page = resp.json()
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "dep"
    assert page["versions"] == ["1.0", "2.0", "3.0", "4.0"]
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {f"dep-{v}.0-py3-none-any.whl" for v in "1234"}
    for name, entry in files.items():
        record = server.record(name)
        assert entry["url"] == f"{server.url}/files/{name}"
        assert entry["hashes"] == {"sha256": record.sha256}
        assert entry["size"] == record.size == len(client.get(entry["url"]).content)
        assert entry["upload-time"].endswith("Z")
        assert entry["core-metadata"] == {"sha256": record.metadata_sha256}
    assert files["dep-1.0-py3-none-any.whl"]["upload-time"] == "2020-01-01T00:00:00.000000Z"
    assert files["dep-3.0-py3-none-any.whl"]["yanked"] == "broken build"
    assert files["dep-1.0-py3-none-any.whl"]["yanked"] is False
    assert files["dep-2.0-py3-none-any.whl"]["requires-python"] == ">=3.8,<4"
    assert "requires-python" not in files["dep-1.0-py3-none-any.whl"]


def test_html_project_page_attributes(server: IndexServer, client: httpx.Client) -> None:
    resp = client.get(server.index_url + "/dep/")
    assert resp.status_code == 200 and resp.headers["content-type"] == HTML_V1
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in resp.text  # escaped in the markup
    links = {a["href"].split("#")[0].rsplit("/", 1)[1]: a for a in _links(resp.text)}
    two = links["dep-2.0-py3-none-any.whl"]
    record = server.record("dep-2.0-py3-none-any.whl")
    assert two["href"] == f"{server.url}/files/dep-2.0-py3-none-any.whl#sha256={record.sha256}"
    assert two["data-requires-python"] == ">=3.8,<4"
    assert two["data-core-metadata"] == two["data-dist-info-metadata"] == (
        f"sha256={record.metadata_sha256}"
    )
    assert links["dep-3.0-py3-none-any.whl"]["data-yanked"] == "broken build"
    assert "data-yanked" not in links["dep-1.0-py3-none-any.whl"]


def test_root_page_lists_projects_both_ways(server: IndexServer, client: httpx.Client) -> None:
    page = client.get(server.index_url + "/", headers={"Accept": JSON_V1}).json()
    assert page["meta"]["api-version"] == "1.1"
    assert sorted(p["name"] for p in page["projects"]) == ["Top.Pkg", "dep", "extra-dep"]
    links = _links(client.get(server.index_url + "/").text)
    assert sorted(a["href"] for a in links) == ["dep/", "extra-dep/", "top-pkg/"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML_V1),
        ("*/*", HTML_V1),
        ("text/html", "text/html"),
        (f"{JSON_V1}, {HTML_V1}; q=0.1, text/html; q=0.01", JSON_V1),
        (f"{JSON_V1}; q=0.2, {HTML_V1}; q=0.5", HTML_V1),
        ("application/vnd.pypi.simple.latest+json", JSON_V1),
        (f"{JSON_V1}; q=0, text/html", "text/html"),
    ],
)
def test_content_negotiation(
    server: IndexServer, client: httpx.Client, accept: str | None, expected: str
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    request = client.build_request("GET", server.index_url + "/dep/", headers=headers)
    if accept is None:
        del request.headers["accept"]
    resp = client.send(request)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == expected


def test_formats_can_be_switched_off_at_runtime(
    server: IndexServer, client: httpx.Client
) -> None:
    server.html = False
    assert client.get(server.index_url + "/dep/").headers["content-type"] == JSON_V1
    html_only = client.get(server.index_url + "/dep/", headers={"Accept": "text/html"})
    assert html_only.status_code == 406
    server.html, server.json = True, False
    resp = client.get(server.index_url + "/dep/", headers={"Accept": JSON_V1})
    assert resp.status_code == 406
    server.json = True
    resp = client.get(server.index_url + "/dep/", params={"format": JSON_V1})
    assert resp.headers["content-type"] == JSON_V1


def test_optional_fields_follow_switches(server: IndexServer, client: httpx.Client) -> None:
    server.pep658 = False
    server.upload_times = False
    page = client.get(server.index_url + "/dep/", headers={"Accept": JSON_V1}).json()
    assert all("core-metadata" not in f and "upload-time" not in f for f in page["files"])
    assert "data-core-metadata" not in client.get(server.index_url + "/dep/").text
    assert client.get(server.url + "/files/dep-1.0-py3-none-any.whl.metadata").status_code == 404


def test_relative_urls_resolve_to_files(
    index_server: Callable[..., IndexServer], client: httpx.Client
) -> None:
    server = index_server(SPECS[2:3], relative_urls=True)
    page_url = server.index_url + "/dep/"
    entry = client.get(page_url, headers={"Accept": JSON_V1}).json()["files"][0]
    assert entry["url"] == "../../files/dep-1.0-py3-none-any.whl"
    resp = client.get(httpx.URL(page_url).join(entry["url"]))
    assert resp.status_code == 200
    assert resp.content == server.record(entry["filename"]).path.read_bytes()


def test_redirects_and_missing_projects(server: IndexServer, client: httpx.Client) -> None:
    resp = client.get(server.index_url + "/Top_Pkg/?x=1")
    assert resp.status_code == 301
    assert resp.headers["location"] == "/simple/top-pkg/?x=1"
    assert client.get(server.index_url + "/dep").headers["location"] == "/simple/dep/"
    followed = client.get(server.index_url + "/TOP.pkg", follow_redirects=True)
    assert followed.status_code == 200 and "top_pkg-2.0.tar.gz" in followed.text
    assert client.get(server.index_url + "/no-such-thing/").status_code == 404
    assert client.get(server.url + "/files/nope-1.0.tar.gz").status_code == 404


def test_etag_gives_304(server: IndexServer, client: httpx.Client) -> None:
    first = client.get(server.index_url + "/dep/", headers={"Accept": JSON_V1})
    tag = first.headers["etag"]
    conditional = {"Accept": JSON_V1, "If-None-Match": tag}
    again = client.get(server.index_url + "/dep/", headers=conditional)
    assert again.status_code == 304 and again.content == b""
    # A different representation has a different tag.
    html_page = client.get(server.index_url + "/dep/", headers={"If-None-Match": tag})
    assert html_page.status_code == 200
    server.add([PackageSpec("dep", "5.0")])
    changed = client.get(server.index_url + "/dep/", headers=conditional)
    assert changed.status_code == 200 and "5.0" in changed.json()["versions"]


def test_add_regenerates_pages(server: IndexServer, client: httpx.Client) -> None:
    new = server.add([PackageSpec("Late.Comer", "0.1"), PackageSpec("dep", "0.5")])
    assert set(new) == {"late-comer", "dep"}
    root = client.get(server.index_url + "/", headers={"Accept": JSON_V1}).json()
    assert "Late.Comer" in [p["name"] for p in root["projects"]]
    page = client.get(server.index_url + "/dep/", headers={"Accept": JSON_V1}).json()
    assert page["versions"][0] == "0.5"
    assert client.get(server.url + "/files/late_comer-0.1-py3-none-any.whl").status_code == 200


# ---------------------------------------------------------------- files


def test_metadata_file_matches_wheel(server: IndexServer, client: httpx.Client) -> None:
    record = server.record("top_pkg-2.0-py3-none-any.whl")
    resp = client.get(server.file_url(record.filename) + ".metadata")
    assert resp.status_code == 200
    with zipfile.ZipFile(record.path) as zf:
        assert resp.content == zf.read("top_pkg-2.0.dist-info/METADATA")
    assert Metadata.from_email(resp.content).provides_extra == ["x"]


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-99", 0, 100), ("bytes=1000-", 1000, None), ("bytes=-500", -500, None),
     ("bytes=10-999999999", 10, None)],
)
def test_range_requests(
    index_server: Callable[..., IndexServer],
    client: httpx.Client,
    header: str,
    start: int,
    stop: int | None,
) -> None:
    server = index_server([PackageSpec("big", "1.0", wheel_options={"pad_bytes": 50_000})])
    record = server.record("big-1.0-py3-none-any.whl")
    data = record.path.read_bytes()
    resp = client.get(server.file_url(record.filename), headers={"Range": header})
    assert resp.status_code == 206
    assert resp.content == data[start:stop]
    first = start if start >= 0 else len(data) + start
    last = first + len(resp.content) - 1
    assert resp.headers["content-range"] == f"bytes {first}-{last}/{len(data)}"
    assert resp.headers["accept-ranges"] == "bytes"
    assert [r.range for r in server.range_requests()] == [header]
    assert server.full_downloads() == []


def test_range_edge_cases_and_head(server: IndexServer, client: httpx.Client) -> None:
    record = server.record("dep-1.0-py3-none-any.whl")
    url = server.file_url(record.filename)
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == record.size
    assert head.content == b""
    unsatisfiable = client.get(url, headers={"Range": f"bytes={record.size}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{record.size}"
    multi = client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and len(multi.content) == record.size
    server.ranges = False
    ignored = client.get(url, headers={"Range": "bytes=0-9"})
    assert ignored.status_code == 200 and len(ignored.content) == record.size
    assert "accept-ranges" not in ignored.headers


# ---------------------------------------------------------------- faults, auth, static


def test_faults_fire_in_order_then_clear(server: IndexServer, client: httpx.Client) -> None:
    server.faults = {"/simple/dep/": [503, 500], "/files/": [DROP]}
    first = client.get(server.index_url + "/dep/")
    assert first.status_code == 503 and first.headers["retry-after"] == "0"
    assert client.get(server.index_url + "/dep/").status_code == 500
    assert client.get(server.index_url + "/dep/").status_code == 200
    assert client.get(server.index_url + "/extra-dep/").status_code == 200
    with pytest.raises(httpx.TransportError):
        client.get(server.file_url("dep-1.0-py3-none-any.whl"))
    assert client.get(server.file_url("dep-1.0-py3-none-any.whl")).status_code == 200
    server.add_fault("/simple/", 429)
    assert client.get(server.index_url + "/extra-dep/").status_code == 429
    assert len(server.requests_to("/simple/dep/")) == 3


def test_auth_required(index_server: Callable[..., IndexServer], client: httpx.Client) -> None:
    server = index_server(SPECS, require_auth=("alice", "s3cr:t"))
    denied = client.get(server.index_url + "/dep/")
    assert denied.status_code == 401 and "basic" in denied.headers["www-authenticate"].lower()
    assert client.get(server.index_url + "/dep/", auth=("alice", "wrong")).status_code == 401
    assert client.get(server.index_url + "/dep/", auth=("alice", "s3cr:t")).status_code == 200
    url = server.url_with_auth("/simple/dep/")
    assert "alice:s3cr%3At@" in url
    assert client.get(url).status_code == 200


def test_pip_with_credentials_in_url(
    index_server: Callable[..., IndexServer], tmp_path: Path
) -> None:
    server = index_server(SPECS[2:3], require_auth=("bob", "pw"))
    proc = _pip(
        "download", "--no-deps", "--dest", "out", "--index-url", server.url_with_auth(),
        "dep", cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "dep-1.0-py3-none-any.whl").exists()


def test_static_and_directories(
    index_server: Callable[..., IndexServer], client: httpx.Client, tmp_path: Path
) -> None:
    tree = tmp_path / "tree" / "constraints-2.9.0"
    tree.mkdir(parents=True)
    (tree / "constraints-3.11.txt").write_text("dep==1.0\n")
    (tmp_path / "secret.txt").write_text("no")
    server = index_server(static={"/hello.txt": "hi\n"})
    server.serve_directory(tmp_path / "tree")
    hello = client.get(server.url + "/hello.txt")
    assert hello.text == "hi\n" and hello.headers["content-type"].startswith("text/plain")
    assert client.get(server.url + "/constraints-2.9.0/constraints-3.11.txt").text == "dep==1.0\n"
    assert client.get(server.url + "/constraints-2.9.0/missing.txt").status_code == 404
    assert client.get(server.url + "/constraints-2.9.0/%2e%2e/%2e%2e/secret.txt").status_code == 404
    assert client.get(server.index_url + "/", headers={"Accept": JSON_V1}).json()["projects"] == []


def test_pip_sees_no_machine_configuration(tmp_path: Path) -> None:
    proc = _pip("config", "list", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ":env:.config-file='/dev/null'" in proc.stdout
    for setting in ("index-url", "extra-index-url", "find-links", "no-index"):
        assert setting not in proc.stdout.replace("config-file", "")


def test_request_log(server: IndexServer, client: httpx.Client) -> None:
    client.get(server.index_url + "/dep/", headers={"X-Probe": "1"})
    method, path, headers = server.requests[-1]
    assert (method, path, headers["x-probe"]) == ("GET", "/simple/dep/", "1")
    server.reset_log()
    assert server.requests == []


def test_context_manager_closes(tmp_path: Path) -> None:
    with IndexServer([PackageSpec("a", "1")], directory=tmp_path) as server:
        url = server.index_url + "/a/"
        assert httpx.get(url).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=5)

"""A real package index on 127.0.0.1 for tests: PEP 503/691 pages, PEP 658 metadata, ranges, faults.

:class:`IndexServer` serves a repository built by ``tests.support.builders`` over HTTP/1.1 from a
``ThreadingHTTPServer`` in a daemon thread:

- ``/simple/``: the project list, PEP 691 JSON or PEP 503 HTML chosen by the ``Accept`` header
  (q-values honoured, HTML by default) or a ``?format=`` query;
- ``/simple/<project>/``: the project page (non-normalised names redirect 301, unknown -> 404),
  with ETag / If-None-Match -> 304;
- ``/files/<filename>``: whole files or single byte ranges (206 + Content-Range), and
  ``/files/<filename>.metadata`` when PEP 658 is on;
- anything else: the ``static`` mapping or directories given to :meth:`serve_directory` (e.g.
  Airflow-style constraint files at ``/constraints-2.9.0/constraints-3.11.txt``).

Behaviour switches are attributes, changeable while the server runs: ``json``, ``html``,
``pep658``, ``upload_times``, ``ranges``, ``etag``, ``relative_urls``, ``require_auth``,
``provenance`` (``{filename: url}``: the PEP 740 ``provenance`` key of a file's JSON entry and
its HTML ``data-provenance``; serve the object itself with ``static``) and
``faults`` (``{path_prefix: [status or DROP, ...]}``, consumed one per matching request).
:meth:`stall` makes the next GET of a path send only the first bytes of its body and then hold
the connection until the server closes (a download stopped at a known byte, for kill tests).
Every request is logged in :attr:`requests` for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json as jsonlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

from packaging.utils import canonicalize_name

from .builders import FileRecord, PackageSpec, build_repository

__all__ = ["DROP", "HTML_V1", "JSON_V1", "IndexServer", "LoggedRequest"]

DROP = "drop"  # a fault that closes the connection without any answer
JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
_JSON_TYPES = {JSON_V1: JSON_V1, "application/vnd.pypi.simple.latest+json": JSON_V1}
_HTML_TYPES = {
    HTML_V1: HTML_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
    "text/html": "text/html",
}
API_VERSION = "1.1"


class LoggedRequest(NamedTuple):
    """One request the server received: method, raw path (with query), headers (lower-case
    names)."""

    method: str
    path: str
    headers: dict[str, str]

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


def _parse_accept(header: str | None) -> list[tuple[str, float, int]]:
    """``Accept`` -> [(media type, q, position)]; a missing header means ``*/*``."""
    if not header:
        return [("*/*", 1.0, 0)]
    out = []
    for pos, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media, q, pos))
    return out


def _iso(dt) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class IndexServer:
    """A local package index serving ``specs`` (built into ``directory``, a temporary directory
    removed on :meth:`close` when not given) and/or an already built ``repository``.

    Use as a context manager or call :meth:`close`. ``url`` is the base
    (``http://127.0.0.1:<port>``), ``index_url`` the simple API root (``<url>/simple``).
    """

    def __init__(
        self,
        specs: Iterable[PackageSpec] = (),
        *,
        directory: str | Path | None = None,
        repository: Mapping[str, list[FileRecord]] | None = None,
        json: bool = True,
        html: bool = True,
        pep658: bool = False,
        upload_times: bool = True,
        ranges: bool = True,
        etag: bool = True,
        relative_urls: bool = False,
        require_auth: tuple[str, str] | None = None,
        faults: Mapping[str, list[int | str]] | None = None,
        static: Mapping[str, bytes | str | Path] | None = None,
    ) -> None:
        self.json = json
        self.html = html
        self.pep658 = pep658
        self.upload_times = upload_times
        self.ranges = ranges
        self.etag = etag
        self.relative_urls = relative_urls
        self.require_auth = require_auth
        self.faults: dict[str, list[int | str]] = {k: list(v) for k, v in (faults or {}).items()}
        self.static: dict[str, bytes | str | Path] = dict(static or {})
        self.provenance: dict[str, str] = {}
        self._stalls: dict[str, int] = {}
        self._released = threading.Event()
        self._directories: list[tuple[str, Path]] = []
        self._lock = threading.Lock()
        self._log: list[LoggedRequest] = []
        self._specs: list[PackageSpec] = []
        self._owns_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="constrain-index-"))
        self.repository: dict[str, list[FileRecord]] = {}
        if repository:
            for project, records in repository.items():
                self.repository.setdefault(canonicalize_name(project), []).extend(records)
        self.add(specs)

        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._httpd = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() waits at most this long
            name=f"index-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._closed = False

    # ------------------------------------------------------------------ public API
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple"

    def url_with_auth(self, path: str = "/simple") -> str:
        """``http://user:password@127.0.0.1:<port><path>`` using ``require_auth``."""
        if not self.require_auth:
            return self.url + path
        user, password = (quote(p, safe="") for p in self.require_auth)
        return f"http://{user}:{password}@127.0.0.1:{self.port}{path}"

    def file_url(self, filename: str) -> str:
        return f"{self.url}/files/{quote(filename)}"

    def add(self, specs: Iterable[PackageSpec]) -> dict[str, list[FileRecord]]:
        """Build ``specs`` and serve them too (pages are generated per request); returns the
        new records. Default upload times rank among every spec added so far."""
        specs = list(specs)
        if not specs:
            return {}
        new = build_repository(self.directory, specs, time_context=self._specs)
        with self._lock:
            self._specs += specs
            for project, records in new.items():
                merged = [r for r in self.repository.get(project, []) if r.filename not in
                          {n.filename for n in records}] + records
                merged.sort(key=lambda r: (r.version, r.filename))
                self.repository[project] = merged
        return new

    def records(self, project: str | None = None) -> list[FileRecord]:
        """Every served record, or those of ``project``."""
        with self._lock:
            if project is not None:
                return list(self.repository.get(canonicalize_name(project), []))
            return [r for records in self.repository.values() for r in records]

    def record(self, filename: str) -> FileRecord:
        for r in self.records():
            if r.filename == filename:
                return r
        raise KeyError(filename)

    def serve_directory(self, path: str | Path, prefix: str = "/") -> None:
        """Serve the files under ``path`` at ``prefix`` (``prefix + relative path``)."""
        prefix = "/" + prefix.strip("/")
        with self._lock:
            self._directories.append((prefix.rstrip("/") + "/", Path(path)))

    def add_fault(self, path_prefix: str, *answers: int | str) -> None:
        """Queue ``answers`` (HTTP statuses or :data:`DROP`) for requests under ``path_prefix``."""
        with self._lock:
            self.faults.setdefault(path_prefix, []).extend(answers)

    def stall(self, path_prefix: str, after_bytes: int) -> None:
        """The next GET under ``path_prefix`` whose body is longer than ``after_bytes`` (not a
        small range read of metadata) gets its status, headers and the first ``after_bytes``
        bytes of its body, then nothing more until :meth:`close`."""
        with self._lock:
            self._stalls[path_prefix] = after_bytes

    def _take_stall(self, path: str, size: int) -> int | None:
        with self._lock:
            for prefix in sorted(self._stalls, key=len, reverse=True):
                if path.startswith(prefix) and self._stalls[prefix] < size:
                    return self._stalls.pop(prefix)
        return None

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the requests received so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose path starts with ``path_prefix`` (and of ``method``)."""
        return [
            r
            for r in self.requests
            if r.path.startswith(path_prefix) and (method is None or r.method == method)
        ]

    def range_requests(self, path_prefix: str = "/files/") -> list[LoggedRequest]:
        return [r for r in self.requests_to(path_prefix) if r.range is not None]

    def full_downloads(self, path_prefix: str = "/files/") -> list[LoggedRequest]:
        """GETs of files without a Range header (whole-file downloads), ``.metadata`` excluded."""
        return [
            r
            for r in self.requests_to(path_prefix, "GET")
            if r.range is None and not r.path.split("?")[0].endswith(".metadata")
        ]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._released.set()  # stalled answers end
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
        if self._owns_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> IndexServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _log_request(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._log.append(LoggedRequest(method, path, headers))

    def _take_fault(self, path: str) -> int | str | None:
        with self._lock:
            for prefix in sorted(self.faults, key=len, reverse=True):
                queue = self.faults[prefix]
                if path.startswith(prefix) and queue:
                    return queue.pop(0)
        return None

    def _authorized(self, header: str | None) -> bool:
        if self.require_auth is None:
            return True
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except ValueError:
            return False
        user, _, password = decoded.partition(":")
        return (user, password) == tuple(self.require_auth)

    def _file_href(self, filename: str, depth: int) -> str:
        if self.relative_urls:
            return "../" * depth + "files/" + quote(filename)
        return self.file_url(filename)

    def _negotiate(self, accept: str | None, query: dict[str, list[str]]) -> str | None:
        """The content type to answer with, or ``None`` (406)."""
        available: dict[str, str] = {}
        if self.json:
            available.update(_JSON_TYPES)
        if self.html:
            available.update(_HTML_TYPES)
        if "format" in query:
            wanted = query["format"][0]
            return available.get(wanted)
        default = HTML_V1 if self.html else JSON_V1
        best: tuple[float, int, str] | None = None
        for media, q, pos in _parse_accept(accept):
            if q <= 0:
                continue
            if media in available:
                chosen = available[media]
            elif media == "*/*" or media in ("application/*", "text/*"):
                if media == "text/*" and not self.html:
                    continue
                chosen = "text/html" if media == "text/*" else default
            else:
                continue
            # Highest q wins; the earliest listed among equals.
            key = (q, -pos, chosen)
            if best is None or key[:2] > best[:2]:
                best = key
        return best[2] if best else None

    def _root_page(self, content_type: str) -> bytes:
        with self._lock:
            projects = sorted(
                (project, records[0].name)
                for project, records in self.repository.items()
                if records
            )
        if content_type == JSON_V1:
            return jsonlib.dumps(
                {
                    "meta": {"api-version": API_VERSION},
                    "projects": [{"name": n} for _, n in projects],
                },
                indent=1,
            ).encode()
        links = "".join(f'    <a href="{p}/">{html.escape(n)}</a>\n' for p, n in projects)
        return _html_doc("Simple index", links)

    def _project_page(self, project: str, content_type: str) -> bytes:
        records = self.records(project)
        if content_type == JSON_V1:
            files = []
            for r in records:
                entry: dict[str, object] = {
                    "filename": r.filename,
                    "url": self._file_href(r.filename, 2),
                    "hashes": {"sha256": r.sha256},
                    "yanked": (r.yanked or True) if r.yanked is not None else False,
                    "size": r.size,
                }
                if r.requires_python is not None:
                    entry["requires-python"] = r.requires_python
                if self.upload_times and r.upload_time is not None:
                    entry["upload-time"] = _iso(r.upload_time)
                if self.pep658 and r.metadata is not None:
                    entry["core-metadata"] = {"sha256": r.metadata_sha256}
                if r.filename in self.provenance:
                    entry["provenance"] = self.provenance[r.filename]
                files.append(entry)
            versions = sorted({r.version for r in records})
            return jsonlib.dumps(
                {
                    "meta": {"api-version": API_VERSION},
                    "name": project,
                    "versions": [str(v) for v in versions],
                    "files": files,
                },
                indent=1,
            ).encode()
        links = []
        for r in records:
            attrs = [f'href="{html.escape(self._file_href(r.filename, 2))}#sha256={r.sha256}"']
            if r.requires_python is not None:
                attrs.append(f'data-requires-python="{html.escape(r.requires_python)}"')
            if r.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(r.yanked)}"')
            if self.pep658 and r.metadata is not None:
                value = f"sha256={r.metadata_sha256}"
                attrs.append(f'data-core-metadata="{value}"')
                attrs.append(f'data-dist-info-metadata="{value}"')
            if r.filename in self.provenance:
                attrs.append(f'data-provenance="{html.escape(self.provenance[r.filename])}"')
            links.append(f"    <a {' '.join(attrs)}>{html.escape(r.filename)}</a><br/>\n")
        return _html_doc(f"Links for {project}", "".join(links))

    def _static_body(self, path: str) -> bytes | None:
        with self._lock:
            value = self.static.get(path)
            directories = list(self._directories)
        if value is not None:
            if isinstance(value, Path):
                return value.read_bytes()
            return value.encode() if isinstance(value, str) else value
        for prefix, root in directories:
            if path.startswith(prefix):
                target = (root / path[len(prefix):]).resolve()
                if target.is_relative_to(root.resolve()) and target.is_file():
                    return target.read_bytes()
        return None

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str]) -> _Answer | str:
        """Work out the response to one request (or :data:`DROP`). Pure apart from faults."""
        split = urlsplit(raw_path)
        path = unquote(split.path)
        query = parse_qs(split.query)
        fault = self._take_fault(path)
        if fault == DROP:
            return DROP
        if fault is not None:
            extra = (("Retry-After", "0"),) if fault in (429, 503) else ()
            return _Answer(int(fault), f"injected fault {fault}\n".encode(), extra)
        if not self._authorized(headers.get("authorization")):
            return _Answer(
                401, b"authentication required\n", (("WWW-Authenticate", 'Basic realm="index"'),)
            )
        if path == "/simple" or path.startswith("/simple/"):
            return self._simple(path, split.query, query, headers)
        if path.startswith("/files/"):
            return self._file(path[len("/files/"):], headers)
        body = self._static_body(path)
        if body is None:
            return _Answer(404, b"not found\n")
        ctype = "text/plain; charset=utf-8" if path.endswith(".txt") else "application/octet-stream"
        return _Answer(200, body, (("Content-Type", ctype),))

    def _simple(
        self, path: str, raw_query: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> _Answer:
        parts = [p for p in path.split("/") if p]
        suffix = f"?{raw_query}" if raw_query else ""
        if len(parts) > 2:
            return _Answer(404, b"not found\n")
        if len(parts) == 2:
            project = canonicalize_name(parts[1])
            if parts[1] != project or not path.endswith("/"):
                return _Answer(301, b"", (("Location", f"/simple/{project}/{suffix}"),))
            with self._lock:
                known = bool(self.repository.get(project))
            if not known:
                return _Answer(404, b"no such project\n")
        elif not path.endswith("/"):
            return _Answer(301, b"", (("Location", f"/simple/{suffix}"),))
        content_type = self._negotiate(headers.get("accept"), query)
        if content_type is None:
            return _Answer(406, b"no acceptable representation\n")
        body = self._root_page(content_type) if len(parts) == 1 else self._project_page(
            parts[1], content_type
        )
        out = [("Content-Type", content_type), ("Vary", "Accept")]
        if self.etag:
            tag = '"' + hashlib.sha256(content_type.encode() + body).hexdigest()[:32] + '"'
            out.append(("ETag", tag))
            wanted = headers.get("if-none-match", "")
            if tag in [t.strip() for t in wanted.split(",")] or wanted.strip() == "*":
                return _Answer(304, b"", tuple(out))
        return _Answer(200, body, tuple(out))

    def _file(self, filename: str, headers: Mapping[str, str]) -> _Answer:
        metadata = filename.endswith(".metadata")
        base = filename[: -len(".metadata")] if metadata else filename
        try:
            record = self.record(base)
        except KeyError:
            return _Answer(404, b"no such file\n")
        if metadata:
            if not self.pep658 or record.metadata is None:
                return _Answer(404, b"no such file\n")
            data = record.metadata
            ctype = "text/plain; charset=utf-8"
        else:
            data = record.path.read_bytes()
            ctype = "application/octet-stream"
        out: list[tuple[str, str]] = [("Content-Type", ctype)]
        if not self.ranges:
            return _Answer(200, data, tuple(out))
        out.append(("Accept-Ranges", "bytes"))
        spec = headers.get("range")
        if not spec:
            return _Answer(200, data, tuple(out))
        span = _parse_range(spec, len(data))
        if span is None:  # malformed or multi-range: ignoring Range is always allowed
            return _Answer(200, data, tuple(out))
        if span == "unsatisfiable":
            out.append(("Content-Range", f"bytes */{len(data)}"))
            return _Answer(416, b"", tuple(out))
        start, end = span
        out.append(("Content-Range", f"bytes {start}-{end}/{len(data)}"))
        return _Answer(206, data[start : end + 1], tuple(out))


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` -> inclusive (start, end); ``None`` when not a
    single byte range; ``"unsatisfiable"`` when outside the file."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1)
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if start > end:
        return None
    return (start, min(end, size - 1))


def _html_doc(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    ).encode()


def _make_handler(server: IndexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "constrain-test-index/1"
        timeout = 30  # idle keep-alive connections do not pin threads forever

        def _handle(self, send_body: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            server._log_request(self.command, self.path, headers)
            result = server.answer(self.command, self.path, headers)
            if result == DROP:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            assert isinstance(result, _Answer)
            self.send_response(result.status)
            for name, value in result.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(result.body)))
            self.end_headers()
            stall = server._take_stall(self.path, len(result.body)) if send_body else None
            if stall is not None:
                self.wfile.write(result.body[:stall])
                self.wfile.flush()
                server._released.wait()
                self.close_connection = True
                return
            if send_body and result.body:
                self.wfile.write(result.body)

        def do_GET(self) -> None:  # http.server's naming
            self._handle(send_body=True)

        def do_HEAD(self) -> None:
            self._handle(send_body=False)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    return Handler

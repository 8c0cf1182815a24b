"""Fault suite, downloads and wheelhouses: parallel runs into one dest, kills, resumes that do not
check out, hostile file names and hashes, mirrors that must keep PEP 592 yanks, and offline
installs from a wheelhouse that lacks a file. Every server is on 127.0.0.1; every subprocess has
a timeout; each test asserts the exit code, the message and the files on disk."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from constrain.cli import main
from tests.support.builders import PackageSpec, build_repository
from tests.support.indexserver import _parse_range
from tests.support.killpoint import KILLED, size_of, wait_until

TIMEOUT = 240  # seconds for any one constrain run: a hang fails the test, never the suite
PAD = {"pad_bytes": 200_000}  # files big enough that a kill or a cut lands inside one


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dist_files(dest: Path) -> set[str]:
    return {p.name for p in dest.iterdir() if p.name.endswith((".whl", ".tar.gz"))}


def constrain(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "constrain", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err


class Answers:
    """A hand-made index on 127.0.0.1 for answers :class:`IndexServer` will not give: pages
    without hashes, hostile file names, a wrong ``Content-Range``. ``routes`` maps a path to
    ``fn(headers) -> (status, headers, body)``; every request's path and Range are logged."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[dict], tuple[int, dict, bytes]]] = {}
        self.log: list[tuple[str, str | None]] = []
        self.trickle = 0.0  # seconds between the pieces of a body given as pieces
        answers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                answers.log.append((self.path, headers.get("range")))
                route = answers.routes.get(self.path)
                status, extra, body = route(headers) if route else (404, {}, b"not found\n")
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                pieces = [body] if isinstance(body, bytes) else list(body)
                self.send_header("Content-Length", str(sum(map(len, pieces))))
                self.end_headers()
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        if len(pieces) > 1:
                            time.sleep(answers.trickle)
                except (BrokenPipeError, ConnectionResetError):  # the client went away
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def page(self, project: str, links: list[tuple[str, str]]) -> None:
        """A PEP 503 page for ``project`` linking ``(href, text)`` pairs."""
        body = "".join(f'<a href="{href}">{text}</a>\n' for href, text in links)
        html = f"<!DOCTYPE html><html><body>{body}</body></html>".encode()
        self.routes[f"/simple/{project}/"] = lambda h: (200, {"Content-Type": "text/html"},
                                                        html)

    def json_page(self, project: str, files: list[dict]) -> None:
        body = json.dumps({"meta": {"api-version": "1.1"}, "name": project,
                           "files": files}).encode()
        self.routes[f"/simple/{project}/"] = lambda h: (
            200, {"Content-Type": "application/vnd.pypi.simple.v1+json"}, body)

    def file(self, name: str, data: bytes, *, content_range: Callable[[int], str] | None = None
             ) -> None:
        """Serve ``data`` at ``/files/<name>``, byte ranges included. With ``content_range``,
        a resume (``bytes=N-``, N > 0) is answered with a 206 carrying the whole file and the
        header ``content_range(N)``: a server that gets ranges wrong."""

        def answer(headers: dict) -> tuple[int, dict, bytes]:
            span = _parse_range(headers.get("range") or "", len(data))
            if not isinstance(span, tuple):
                if self.trickle:
                    return 200, {}, [data[i:i + 16384] for i in range(0, len(data), 16384)]
                return 200, {}, data
            start, end = span
            resume = headers["range"].strip().endswith("-") and start > 0
            if resume and content_range is not None:  # the bytes it holds, mislabelled
                return 206, {"Content-Range": content_range(start)}, data
            told = f"bytes {start}-{end}/{len(data)}"
            return 206, {"Content-Range": told}, data[start:end + 1]

        self.routes[f"/files/{name}"] = answer

    def files_asked(self) -> list[tuple[str, str | None]]:
        """Requests for files, less the resolver's reads of a wheel's end (``bytes=-N``,
        for its metadata)."""
        return [(p, r) for p, r in self.log
                if p.startswith("/files/") and not (r or "").startswith("bytes=-")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def answers():
    server = Answers()
    yield server
    server.close()


@pytest.fixture
def beta_wheel(tmp_path_factory) -> tuple[str, bytes]:
    records = build_repository(tmp_path_factory.mktemp("beta"),
                               [PackageSpec("beta", "1.0", wheel_options=PAD)])
    r = records["beta"][0]
    return r.filename, r.path.read_bytes()


# ---------------------------------------------------------------------- parallel runs
def _serve_projects(answers, tmp_path, names: str) -> dict:
    """One padded wheel per one-letter project in ``names``, each on its own page."""
    records = build_repository(tmp_path / "repo",
                               [PackageSpec(n, "1.0", wheel_options=PAD) for n in names])
    for n in names:
        r = records[n][0]
        answers.page(n, [(f"{answers.url}/files/{r.filename}#sha256={r.sha256}", r.filename)])
        answers.file(r.filename, r.path.read_bytes())
    return records


def test_three_parallel_downloads_into_one_dest_all_succeed(answers, tmp_path):
    names = "abcd"
    records = _serve_projects(answers, tmp_path, names)
    answers.trickle = 0.02  # whole files take a moment: the three runs overlap
    dest = tmp_path / "wh"
    runs = [constrain("download", *names, "--index-url", f"{answers.url}/simple", "--dest",
                      str(dest), "--cache-dir", str(tmp_path / f"cache{i}"), "-j", "2")
            for i in range(3)]
    results = [finish(p) for p in runs]
    assert [rc for rc, _out, _err in results] == [0, 0, 0], [err for *_x, err in results]
    assert all("internal error" not in err for *_x, err in results)
    assert dist_files(dest) == {records[n][0].filename for n in names}
    for n in names:
        assert sha256(dest / records[n][0].filename) == records[n][0].sha256
    whole = [p for p, r in answers.files_asked() if r is None]
    assert len(whole) == len(names)  # the later runs found the first one's files whole
    assert not (dest / ".partial").exists()
    manifest = json.loads((dest / "manifest.json").read_text())
    assert sorted(f["filename"] for f in manifest["files"]) == sorted(dist_files(dest))


def test_a_download_waits_for_the_dest_lock_and_leaves_the_holders_partial_files(
    make_index, tmp_path
):
    server = make_index([PackageSpec("lib", "1.0")])
    dest = tmp_path / "wh"
    (dest / ".partial").mkdir(parents=True)
    theirs = dest / ".partial" / "other-1.0-py3-none-any.whl.part"
    theirs.write_bytes(b"another run's bytes")
    with open(dest / ".constrain-download.lock", "a+b") as held:  # another run in progress
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        waiting = constrain("download", "lib", "--index-url", server.index_url,
                            "--dest", str(dest))
        line = waiting.stderr.readline()  # blocks until the run has reached the lock
        assert f"waiting for another constrain download into {dest}" in line
        assert theirs.read_bytes() == b"another run's bytes"
        assert dist_files(dest) == set()
    rc, _out, err = finish(waiting)  # the lock is released: it proceeds
    assert rc == 0, err
    assert dist_files(dest) == {"lib-1.0-py3-none-any.whl"}


def test_a_download_that_cannot_get_the_dest_lock_names_it(make_index, tmp_path):
    server = make_index([PackageSpec("lib", "1.0")])
    dest = tmp_path / "wh"
    dest.mkdir()
    with open(dest / ".constrain-download.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        rc, _out, err = finish(constrain("download", "lib", "--index-url", server.index_url,
                                         "--dest", str(dest),
                                         env={"CONSTRAIN_DOWNLOAD_LOCK_TIMEOUT": "0.5"}))
    assert rc == 1
    assert f"another constrain download into {dest} is running" in err
    assert str(dest / ".constrain-download.lock") in err and "hint:" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in dest.iterdir()) == [".constrain-download.lock"]


# ---------------------------------------------------------------------- kills and resumes
def test_killed_download_shows_only_whole_files_then_resumes(make_index, tmp_path):
    server = make_index([PackageSpec(n, "1.0", wheel_options=PAD) for n in ("a", "b")])
    dest = tmp_path / "wh"
    args = ["download", "a", "b", "--index-url", server.index_url, "--dest", str(dest),
            "-j", "1"]
    # b's wheel stops arriving after one of the 64 KiB pieces constrain writes at a time;
    # once it is on disk, kill -9
    cut, held = "b-1.0-py3-none-any.whl", 65536
    assert server.record(cut).size > held
    server.stall(f"/files/{cut}", held)
    part = dest / ".partial" / f"{cut}.part"
    proc = constrain(*args)
    wait_until(lambda: size_of(part) == held, proc, f"{held} bytes of {cut}")
    proc.kill()
    rc, _out, _err = finish(proc)
    assert rc == KILLED
    for name in dist_files(dest):  # whatever is visible is whole
        assert sha256(dest / name) == server.record(name).sha256
    assert cut not in dist_files(dest)
    assert not (dest / "manifest.json").exists()
    assert [p.name for p in (dest / ".partial").iterdir()] == [part.name]
    server.reset_log()
    rc, _out, err = finish(constrain(*args))
    assert rc == 0, err
    assert [r.range for r in server.requests_to(f"/files/{cut}")] == [f"bytes={held}-"]
    assert dist_files(dest) == {"a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"}
    assert not (dest / ".partial").exists()


def test_ctrl_c_during_downloads_leaves_only_partial_files_then_a_rerun_resumes(answers,
                                                                               tmp_path):
    names = "abc"
    records = _serve_projects(answers, tmp_path, names)
    answers.trickle = 0.05  # about a second per file: Ctrl-C lands inside the downloads
    dest = tmp_path / "wh"
    args = ["download", *names, "--index-url", f"{answers.url}/simple", "--dest", str(dest)]
    run = subprocess.Popen([sys.executable, "-m", "constrain", *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while not any(p.stat().st_size for p in (dest / ".partial").glob("*.part")):
            assert run.poll() is None, run.communicate()
            time.sleep(0.02)
    except FileNotFoundError:  # .partial made between the glob and the stat
        pass
    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends
    rc, _out, err = finish(run)
    assert rc == 130
    assert err.strip().startswith("interrupted:") and len(err.strip().splitlines()) == 1
    assert dist_files(dest) == set() or all(
        sha256(dest / n) == records[n[0]][0].sha256 for n in dist_files(dest))
    assert not (dest / "manifest.json").exists()
    held = {p.name.removesuffix(".part"): p.stat().st_size
            for p in (dest / ".partial").glob("*.part")}
    assert held

    answers.log.clear()
    rc, _out, err = finish(constrain(*args))
    assert rc == 0, err
    assert {n: sha256(dest / records[n][0].filename) for n in names} == {
        n: records[n][0].sha256 for n in names}
    asked = dict(answers.files_asked())
    assert any(asked.get(f"/files/{name}") == f"bytes={size}-"
               for name, size in held.items() if size)
    assert not (dest / ".partial").exists()


def test_a_resume_from_an_index_without_hashes_starts_again_from_zero(
    answers, beta_wheel, tmp_path, capsys
):
    name, data = beta_wheel
    answers.page("beta", [(f"{answers.url}/files/{name}", name)])  # no #sha256=
    # a server that would answer any range with the whole file labelled as the rest
    answers.file(name, data, content_range=lambda start: f"bytes {start}-{len(data) - 1}/"
                 f"{len(data)}")
    dest = tmp_path / "wh"
    (dest / ".partial").mkdir(parents=True)
    (dest / ".partial" / f"{name}.part").write_bytes(data[: len(data) // 2])  # a killed run
    assert main(["download", "beta", "--index-url", f"{answers.url}/simple",
                 "--dest", str(dest)]) == 0
    assert (dest / name).read_bytes() == data  # not half + whole
    assert answers.files_asked() == [(f"/files/{name}", None)]  # no resume was tried
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["files"][0]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_resume_answered_with_a_wrong_content_range_is_fetched_whole(
    answers, beta_wheel, tmp_path, capsys
):
    name, data = beta_wheel
    digest = hashlib.sha256(data).hexdigest()
    answers.page("beta", [(f"{answers.url}/files/{name}#sha256={digest}", name)])
    answers.file(name, data, content_range=lambda start: f"bytes 0-{len(data) - 1}/{len(data)}")
    dest = tmp_path / "wh"
    (dest / ".partial").mkdir(parents=True)
    held = len(data) // 3
    (dest / ".partial" / f"{name}.part").write_bytes(data[:held])
    assert main(["download", "beta", "--index-url", f"{answers.url}/simple",
                 "--dest", str(dest)]) == 0
    err = capsys.readouterr().err
    assert f"answered a resume at byte {held} with Content-Range 'bytes 0-" in err
    assert answers.files_asked() == [(f"/files/{name}", f"bytes={held}-"),
                                     (f"/files/{name}", None)]
    assert sha256(dest / name) == digest
    assert not (dest / ".partial").exists()


def test_a_file_of_another_size_than_the_index_lists_is_refused_without_a_hash(
    answers, beta_wheel, tmp_path, capsys
):
    name, data = beta_wheel
    # a hash-less PEP 691 page whose size no longer matches what is served (a file replaced
    # under the same name, or a proxy's cut): the size is the one check such a file gets
    answers.json_page("beta", [{"filename": name, "url": f"{answers.url}/files/{name}",
                                "hashes": {}, "size": len(data) + 1000}])
    answers.file(name, data)
    index = ["--index-url", f"{answers.url}/simple"]
    dest = tmp_path / "wh"
    assert main(["download", "beta", *index, "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert f"{len(data)} bytes arrived, the index lists {len(data) + 1000}" in err
    assert dist_files(dest) == set() and not (dest / "manifest.json").exists()

    venv = tmp_path / "venv"
    assert main(["install", "beta", *index, "--without-pip", "--venv", str(venv)]) == 1
    err = capsys.readouterr().err
    assert f"{len(data)} bytes arrived, the index lists {len(data) + 1000}" in err
    assert not list(venv.glob("lib/python*/site-packages/beta*"))


# ---------------------------------------------------------------------- hostile names, hashes
def test_a_file_name_with_a_path_in_it_is_refused(answers, beta_wheel, tmp_path, capsys):
    name, data = beta_wheel
    evil = "beta-1.0-1/../../../evil-py3-none-any.whl"  # a valid wheel name to packaging
    answers.json_page("beta", [{"filename": evil, "url": f"{answers.url}/files/{name}",
                                "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}])
    answers.file(name, data)
    dest = tmp_path / "a" / "b" / "wh"
    assert main(["download", "beta", "--index-url", f"{answers.url}/simple",
                 "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert f"lists a file named {evil!r}" in err and "a path in it is refused" in err
    assert "hint:" in err
    assert answers.files_asked() == []
    assert not list(tmp_path.rglob("evil*"))
    assert not dest.exists() or dist_files(dest) == set()


def test_a_link_named_for_another_project_is_never_fetched(answers, beta_wheel, tmp_path,
                                                            capsys):
    _name, _data = beta_wheel
    records = build_repository(tmp_path / "alpha", [PackageSpec("alpha", "1.0")])
    alpha = records["alpha"][0]
    answers.page("beta", [(f"{answers.url}/files/{alpha.filename}", alpha.filename)])
    answers.file(alpha.filename, alpha.path.read_bytes())
    dest = tmp_path / "wh"
    assert main(["download", "beta", "--index-url", f"{answers.url}/simple",
                 "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "beta" in err and "hint:" in err
    assert answers.files_asked() == []
    assert not dest.exists() or dist_files(dest) == set()


def test_a_file_that_does_not_match_the_index_hash_is_refused(make_index, tmp_path, capsys):
    server = make_index([PackageSpec("lib", "1.0", wheel_options=PAD)])
    record = server.record("lib-1.0-py3-none-any.whl")
    data = bytearray(record.path.read_bytes())
    data[-500] ^= 0xFF  # altered on the server after the page gave its sha256
    record.path.write_bytes(bytes(data))
    dest = tmp_path / "wh"
    assert main(["download", "lib", "--index-url", server.index_url, "--dest",
                 str(dest)]) == 1
    err = capsys.readouterr().err
    assert "hash mismatch" in err and "lib-1.0-py3-none-any.whl" in err
    assert f"sha256:{record.sha256}" in err
    assert dist_files(dest) == set()
    assert not (dest / ".partial").exists() or not any((dest / ".partial").iterdir())
    assert not (dest / "manifest.json").exists()


def test_an_offline_install_refuses_a_file_that_does_not_match_the_manifest(
    make_index, tmp_path, capsys
):
    server = make_index([PackageSpec("lib", "1.0")])
    dest = tmp_path / "wh"
    assert main(["download", "lib", "--index-url", server.index_url, "--dest",
                 str(dest)]) == 0
    server.close()
    wheel = dest / "lib-1.0-py3-none-any.whl"
    data = bytearray(wheel.read_bytes())
    data[-200] ^= 0xFF
    wheel.write_bytes(bytes(data))
    capsys.readouterr()
    venv = tmp_path / "venv"
    assert main(["install", "lib", "--wheelhouse", str(dest), "--offline", "--without-pip",
                 "--venv", str(venv)]) == 1
    err = capsys.readouterr().err
    assert "lib-1.0-py3-none-any.whl" in err and "mismatch" in err
    # a local file changed since it was vetted: no index served it, and --refresh is no way
    # out under --offline; the hint names the manifest and how to get the file again
    hint = err.split("hint:", 1)[1]
    assert f"no longer matches {dest / 'manifest.json'}" in hint
    assert "constrain download" in hint and "--refresh" not in hint and "index" not in hint
    assert not list(venv.glob("lib/python*/site-packages/lib*"))


# ---------------------------------------------------------------------- mirrors and offline
def test_simple_layout_keeps_data_yanked_and_pip_honours_it(make_index, tmp_path):
    server = make_index([PackageSpec("beta", "1.0"), PackageSpec("beta", "2.0",
                                                                 yanked="broken build")])
    dest = tmp_path / "wh"
    assert main(["download", "beta==2.0", "--index-url", server.index_url, "--dest",
                 str(dest), "--layout", "simple"]) == 0
    page = (dest / "simple" / "beta" / "index.html").read_text()
    assert 'data-yanked="broken build"' in page
    # PEP 658: the wheel's METADATA beside it, announced with its sha256
    metadata = (dest / "beta-2.0-py3-none-any.whl.metadata").read_bytes()
    assert metadata == server.record("beta-2.0-py3-none-any.whl").metadata
    assert f'data-core-metadata="sha256={hashlib.sha256(metadata).hexdigest()}"' in page
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["files"][0]["yanked"] == "broken build"

    fetched: list[str] = []

    class Static(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            fetched.append(self.path)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(Static, directory=str(dest)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/simple/"
    try:
        def pip(req: str, out: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                   "--index-url", url, "--dest", str(tmp_path / out), req],
                                  capture_output=True, text=True, timeout=TIMEOUT)

        unpinned, pinned = pip("beta", "got1"), pip("beta==2.0", "got2")
        fetched.clear()
        uv = subprocess.run([sys.executable, "-m", "uv", "pip", "compile", "-", "--index-url",
                             url, "--cache-dir", str(tmp_path / "uvc"), "--no-header"],
                            input="beta==2.0\n", capture_output=True, text=True,
                            timeout=TIMEOUT, env={**os.environ, "UV_NO_CONFIG": "1"})
    finally:
        httpd.shutdown()
        httpd.server_close()
    # uv resolves from the mirror with the .metadata file alone, never the wheel
    assert uv.returncode == 0, uv.stderr
    assert "beta==2.0" in uv.stdout
    assert "/beta-2.0-py3-none-any.whl.metadata" in fetched
    assert not any(path.endswith(".whl") for path in fetched)
    assert unpinned.returncode != 0  # a yanked file is not taken unless pinned exactly
    assert pinned.returncode == 0, pinned.stderr
    assert "broken build" in pinned.stdout + pinned.stderr


def test_an_offline_install_from_a_wheelhouse_lacking_a_file_names_it(make_index, tmp_path,
                                                                      capsys):
    server = make_index([PackageSpec("alpha", "1.0", requires_dist=["beta"]),
                         PackageSpec("beta", "1.0")])
    dest = tmp_path / "wh"
    assert main(["download", "alpha", "--index-url", server.index_url, "--dest",
                 str(dest)]) == 0
    server.close()
    (dest / "beta-1.0-py3-none-any.whl").unlink()  # copied over without it
    capsys.readouterr()
    venv = tmp_path / "venv"
    assert main(["install", "alpha", "--wheelhouse", str(dest), "--offline", "--without-pip",
                 "--venv", str(venv)]) == 1
    err = capsys.readouterr().err
    assert f"the wheelhouse {dest} has no file of 'beta'" in err
    assert "beta-1.0-py3-none-any.whl" in err and "alpha==1.0 -> beta" in err
    assert "configured index" not in err
    assert "hint: copy beta-1.0-py3-none-any.whl into" in err
    assert not list(venv.glob("lib/python*/site-packages/alpha*"))

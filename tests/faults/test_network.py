"""Fault suite: network faults from a local server (docs/faults.md, "Interrupts, processes and
network"): Retry-After, refused connections, stalled and trickling servers, retries of pages
and files through one loop, a closed client, the settings that bound all of it."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from constrain.errors import NetworkError
from constrain.index.transport.client import HttpClient, backoff_delay, retry_after
from tests.faults.faultserver import FaultServer, free_port
from tests.faults.runner import start
from tests.support.builders import PackageSpec

WHEEL = "alpha-1.0-py3-none-any.whl"


@pytest.fixture
def front(make_index):
    index = make_index([PackageSpec("alpha", "1.0")], pep658=True, relative_urls=True)
    with FaultServer(index) as server:
        yield server


def test_429_with_retry_after_is_waited_for_then_retried(front):
    front.rule("/simple/alpha/", ("status", 429, {"Retry-After": "1"}), times=1)
    with HttpClient(backoff=0.0) as client:
        began = time.monotonic()
        r = client.get(front.index_url + "/alpha/")
        waited = time.monotonic() - began
    assert r.status == 200 and WHEEL.encode() in r.content
    assert len(front.requests_to("/simple/alpha/")) == 2
    assert waited >= 0.9  # what the server asked for, though back-off alone was 0


def test_a_retry_after_longer_than_a_minute_returns_the_answer_at_once(front):
    front.rule("/simple/alpha/", ("status", 503, {"Retry-After": "3600"}))
    with HttpClient(backoff=0.0) as client:
        r = client.get(front.index_url + "/alpha/")
    assert r.status == 503
    assert len(front.requests_to("/simple/alpha/")) == 1


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert retry_after("soon") is None and retry_after(None) is None


def test_back_off_is_jittered_and_grows():
    draws = [backoff_delay(0.5, 3) for _ in range(50)]
    assert all(1.0 <= d < 2.0 for d in draws)  # 0.5 * 2**2, scaled into [0.5, 1)
    assert len(set(draws)) > 1
    assert max(backoff_delay(0.5, 1) for _ in range(50)) < min(draws) + 1.0


def test_a_refused_connection_fails_at_once_without_back_off(tmp_path):
    # Before: three retries with back-off, 3.5 s on every run.
    port = free_port()
    run = start("resolve", "alpha", "--index-url", f"http://127.0.0.1:{port}/simple")
    code, out, err = run.finish()
    assert code == 1 and out == ""
    assert f"could not reach http://127.0.0.1:{port}/simple/alpha/" in err
    assert "after 1 attempt)" in err or "after 1 attempt" in err
    assert "hint:" in err and "Traceback" not in err


def test_pages_and_files_are_retried_through_one_loop(front, tmp_path):
    front.rule("/simple/alpha/", ("status", 503, {}), times=2)
    front.rule(f"/files/{WHEEL}", ("status", 502, {}), times=2)
    with HttpClient(backoff=0.0) as client:
        assert client.get(front.index_url + "/alpha/").status == 200
        dest = tmp_path / WHEEL
        r = client.stream_to(f"{front.url}/files/{WHEEL}", dest)
    assert r.status == 200
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == front.index.record(WHEEL).sha256
    assert len(front.requests_to("/simple/alpha/")) == 3
    assert len(front.requests_to(f"/files/{WHEEL}")) == 3


def test_a_stalled_server_costs_the_timeout_set_in_the_environment(front, tmp_path):
    front.rule("/simple/alpha/", ("stall",))
    run = start("resolve", "alpha", "--index-url", front.index_url,
                env={**os.environ, "CONSTRAIN_TIMEOUT": "0.5"})
    code, out, err = run.finish()
    assert code == 1 and out == ""
    assert f"could not reach {front.index_url}/alpha/ (ReadTimeout" in err, err
    assert "--timeout and --deadline" in err


def test_a_trickling_server_is_cut_off_at_the_deadline_from_constrain_toml(front, tmp_path):
    # Before: one byte every 50 ms kept the read timeout from ever firing; the page alone
    # would have taken minutes (a wheel, hours).
    (tmp_path / "constrain.toml").write_text("deadline = 1.5\n", encoding="utf-8")
    front.rule("/simple/alpha/", ("trickle", 0.05))
    run = start("resolve", "alpha", "--index-url", front.index_url, cwd=tmp_path)
    code, out, err = run.finish()
    assert code == 1 and out == ""
    assert "not finished within the deadline of 1.5 s" in err, err


def test_an_unusable_deadline_is_a_clear_error(front):
    run = start("resolve", "alpha", "--index-url", front.index_url,
                env={**os.environ, "CONSTRAIN_DEADLINE": "soon"})
    code, _out, err = run.finish()
    assert code != 0
    assert "'soon' is not a number of seconds, 0 or more (environment variable " \
           "CONSTRAIN_DEADLINE)" in err
    assert "hint: give seconds" in err and "Traceback" not in err


def test_a_closed_client_stays_closed(front):
    # Before: a late get() (a prefetch job running at session close) started a new event
    # loop thread and connection pool.
    def loops() -> int:
        return sum(t.name == "constrain-http" and t.is_alive() for t in threading.enumerate())

    before = loops()
    client = HttpClient()
    assert client.get(front.index_url + "/alpha/").ok
    client.close()
    with pytest.raises(NetworkError, match="closed"):
        client.get(front.index_url + "/alpha/")
    with pytest.raises(NetworkError, match="closed"):
        client.start_get(front.index_url + "/alpha/")
    assert loops() == before  # no event loop thread was started again


def test_cache_dir_with_a_tilde_is_under_home_for_resolve_and_install(front, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    run = start("resolve", "alpha", "--index-url", front.index_url, "--cache-dir", "~/c1",
                env=env, cwd=tmp_path)
    code, _out, err = run.finish()
    assert code == 0, err
    run = start("install", "alpha", "--index-url", front.index_url, "--cache-dir=~/c2",
                "--venv", str(tmp_path / "venv"), "--without-pip", env=env, cwd=tmp_path)
    code, _out, err = run.finish(timeout=180)
    assert code == 0, err
    assert (home / "c1").is_dir() and (home / "c2").is_dir()
    assert not (tmp_path / "~").exists()


def test_a_wheel_the_unpacking_workers_cannot_fetch_is_fetched_by_the_install_itself(front,
                                                                                      tmp_path):
    # An exact pin's wheel is downloaded by an unpacking worker; when that fails (here a 404
    # to the worker's one request), the install downloads it itself and goes on.
    front.rule(f"/files/{WHEEL}", ("status", 404, {}), times=1)
    run = start("install", "alpha==1.0", "--index-url", front.index_url, "--venv",
                str(tmp_path / "venv"), "--cache-dir", str(tmp_path / "cache"))
    code, _out, err = run.finish(timeout=120)
    assert code == 0, err
    assert list((tmp_path / "venv").glob("lib/python*/site-packages/alpha-1.0.dist-info"))
    asked = [p for p, _ in front.requests_to(f"/files/{WHEEL}") if p.endswith(".whl")]
    assert len(asked) == 2, asked  # the worker's, then the install's own


def test_a_wheel_no_one_can_fetch_fails_the_install_with_the_index_s_answer(front, tmp_path):
    front.rule(f"/files/{WHEEL}", ("status", 404, {}))
    run = start("install", "alpha==1.0", "--index-url", front.index_url, "--venv",
                str(tmp_path / "venv"), "--cache-dir", str(tmp_path / "cache"))
    code, _out, err = run.finish(timeout=120)
    assert code != 0
    assert f"could not download {WHEEL}: HTTP 404" in err, err
    assert "RuntimeError" not in err and "Traceback" not in err, err
    assert not list(tmp_path.glob("cache/**/.tmp-*"))


def test_the_stats_count_the_requests_the_unpacking_workers_made(make_index, tmp_path):
    # The wheels of exact pins are downloaded by the unpacking workers: the command's work
    # counters (CONSTRAIN_STATS_FILE, read by the benchmarks) still count every request.
    import json

    index = make_index([PackageSpec("alpha", "1.0", requires_dist=["beta"]),
                        PackageSpec("beta", "1.0")])
    stats = tmp_path / "stats.json"
    run = start("install", "alpha==1.0", "beta==1.0", "--index-url", index.index_url,
                "--venv", str(tmp_path / "venv"), "--cache-dir", str(tmp_path / "cache"),
                env=dict(os.environ, CONSTRAIN_STATS_FILE=str(stats)))
    code, _out, err = run.finish(timeout=120)
    assert code == 0, err
    wheels = [r for r in index.requests_to("/files/") if r.path.endswith(".whl")]
    assert len(wheels) == 2
    counted = json.loads(stats.read_text())
    assert counted["requests"] == len(index.requests_to("/")) == 4, counted  # 2 pages, 2 wheels

"""Fault suite: interrupts and helper processes (docs/faults.md, "Interrupts, processes and
network"). constrain runs as a real command in a process group of its own and the signals go to
that group, as a terminal sends them; every wait is bounded."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from typing import ClassVar

import pytest

from tests.faults.faultserver import FaultServer, wait_for
from tests.faults.runner import ROOT, ignored_signals, processes_of, start
from tests.support.builders import PackageSpec

WHEEL = "alpha-1.0-py3-none-any.whl"


@pytest.fixture
def front(make_index):
    """alpha 1.0 needing beta; served through a front that can stall any path."""
    index = make_index([PackageSpec("alpha", "1.0", requires_dist=["beta"]),
                        PackageSpec("beta", "1.0")], pep658=True, relative_urls=True)
    with FaultServer(index) as server:
        yield server


def _one_interrupted_line(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), err
    return lines[0]


def _stalled_resolve(front, tmp_path, *extra):
    front.rule("/simple/beta/", ("stall",))
    run = start("resolve", "alpha", "--index-url", front.index_url, "-o",
                str(tmp_path / "out.txt"), *extra)
    assert wait_for(lambda: front.requests_to("/simple/beta/")), "beta's page was never asked"
    return run


def test_ctrl_c_while_the_index_stalls_ends_the_resolve_with_130(front, tmp_path):
    run = _stalled_resolve(front, tmp_path)
    run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130
    line = _one_interrupted_line(err)
    assert "out.txt was not written" in line
    assert not (tmp_path / "out.txt").exists()
    assert wait_for(lambda: not run.left_behind(), 10), run.left_behind()


def test_sigterm_ends_the_resolve_with_143(front, tmp_path):
    run = _stalled_resolve(front, tmp_path)
    run.signal(signal.SIGTERM)
    code, _out, err = run.finish()
    assert code == 143
    _one_interrupted_line(err)
    assert not (tmp_path / "out.txt").exists()


def test_a_second_ctrl_c_ends_it_with_one_line(front, tmp_path):
    run = _stalled_resolve(front, tmp_path)
    run.signal(signal.SIGINT)
    run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130
    _one_interrupted_line(err)


@pytest.mark.parametrize(("ignored", "then"), [(signal.SIGINT, signal.SIGTERM),
                                               (signal.SIGTERM, signal.SIGINT)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_ignored_at_start_stays_ignored(front, tmp_path, ignored, then):
    # nohup, or `constrain ... &` in a non-interactive shell, start it with SIGINT ignored:
    # as Python itself, and shells, constrain leaves such a signal ignored
    front.rule("/simple/beta/", ("stall",))
    run = start("resolve", "alpha", "--index-url", front.index_url, "-o",
                str(tmp_path / "out.txt"), ignoring=(ignored,))
    assert wait_for(lambda: front.requests_to("/simple/beta/")), "beta's page was never asked"
    ignoring = ignored_signals(run.proc.pid)
    run.signal(ignored)  # nothing happens ...
    run.signal(then)  # ... and this one ends it, as the first signal it took
    code, _out, err = run.finish()
    assert ignored in ignoring and then not in ignoring
    assert code == 128 + then, err
    _one_interrupted_line(err)
    assert not (tmp_path / "out.txt").exists()


def test_ctrl_c_during_a_download_that_cannot_clean_up_still_ends(front, tmp_path):
    # The download thread waits on a stalled file with a 10-minute timeout: the command's
    # clean-up (waiting for its threads) cannot finish, so the interrupt ends it outright.
    front.rule(f"/files/{WHEEL}.metadata", ("pass",))
    front.rule(f"/files/{WHEEL}", ("stall",))
    dest = tmp_path / "wheelhouse"
    run = start("download", "alpha", "--index-url",
                front.index_url, "--dest", str(dest), "--timeout", "600")
    assert wait_for(lambda: any(not p.endswith(".metadata") for p, _ in
                                front.requests_to(f"/files/{WHEEL}")))
    run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130
    line = _one_interrupted_line(err)
    assert "files were downloaded into" in line or "nothing was written" in line, line
    assert not (dest / WHEEL).exists()  # stalled: never under its name
    for whole in dest.glob("*.whl"):  # beta's, downloaded before the interrupt: whole
        assert hashlib.sha256(whole.read_bytes()).hexdigest() == front.index.record(
            whole.name).sha256
    assert not list(dest.glob("constraints-*.txt"))
    assert not (dest / "manifest.json").exists()
    assert wait_for(lambda: not run.left_behind(), 10), run.left_behind()


def test_ctrl_c_during_an_install_ends_it_and_leaves_no_process(front, tmp_path):
    front.rule(f"/files/{WHEEL}.metadata", ("pass",))
    front.rule(f"/files/{WHEEL}", ("stall",))
    run = start("install", "alpha", "--index-url", front.index_url, "--venv",
                str(tmp_path / "venv"), "--timeout", "600")
    assert wait_for(lambda: any(not p.endswith(".metadata") for p, _ in
                                front.requests_to(f"/files/{WHEEL}")), 120)
    run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130
    line = _one_interrupted_line(err)
    assert "interrupted: " in line
    assert wait_for(lambda: not run.left_behind(), 10), run.left_behind()


HELPERS = """
import os, signal, sys, time
# Python keeps SIGINT ignored when it starts with it ignored (a test run started in the
# background by a non-interactive shell): Ctrl-C's KeyboardInterrupt is what is tested here
signal.signal(signal.SIGINT, signal.default_int_handler)
from constrain.processes import spawn_pool
pool = spawn_pool(2)
pids = {pool.submit(os.getpid).result() for _ in range(8)}
busy = pool.submit(time.sleep, 60)
try:  # the pids are printed inside: the test's SIGINT may come as soon as they are read
    print(*sorted(pids), flush=True)
    busy.result()
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_helper_processes_print_nothing_on_ctrl_c_and_end_with_constrain(tmp_path):
    # Before: the workers shared the terminal's process group, each printed a 20-line
    # "Process SpawnProcess-N: Traceback ... KeyboardInterrupt", and one outlived its parent.
    marker = "helpers-" + os.urandom(6).hex()
    env = dict(os.environ, CONSTRAIN_TEST_RUN=marker,
               PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-c", HELPERS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, process_group=0)
    workers = [int(pid) for pid in proc.stdout.readline().split()]
    assert workers and proc.pid not in workers
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "interrupted" in out
    assert err == "", err
    assert wait_for(lambda: not processes_of(marker), 10), processes_of(marker)


def _big_page(files: int) -> bytes:
    """A PEP 691 page above the size parsed in the helper process (index/pages/offload.py)."""
    entries = [{"filename": f"gamma-0.{n}-py3-none-any.whl",
                "url": f"https://example.invalid/gamma-0.{n}-py3-none-any.whl",
                "hashes": {"sha256": "0" * 64}, "requires-python": ">=3.8",
                "upload-time": "2020-01-01T00:00:00.000000Z", "size": 1000 + n}
               for n in range(files)]
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "gamma", "files": entries,
                       "versions": [f"0.{n}" for n in range(files)]}).encode()


def test_cold_runs_that_start_the_page_helper_end_at_once_without_traceback(make_index,
                                                                            tmp_path):
    # Before: half the cold runs hung in multiprocessing's exit handler (waiting on the
    # page-parsing helper), the others printed a SemLock._rebuild FileNotFoundError.
    index = make_index([PackageSpec("alpha", "1.0", requires_dist=["gamma==0.1"]),
                        PackageSpec("gamma", "0.1")], relative_urls=True)
    page = json.loads(_big_page(1500))
    real = index.records("gamma")[0]
    page["files"][1] = {"filename": real.filename, "url": f"{index.url}/files/{real.filename}",
                        "hashes": {"sha256": real.sha256}, "size": real.size}
    body = json.dumps(page).encode()
    assert len(body) > 256 * 1024
    with FaultServer(index) as front:
        front.rule("/simple/gamma/", ("body", body, "application/vnd.pypi.simple.v1+json"))
        for n in range(5):
            run = start("resolve", "alpha", "--index-url", front.index_url,
                        "--cache-dir", str(tmp_path / f"cache{n}"))
            code, out, err = run.finish(timeout=120)
            assert code == 0, err
            assert "gamma==0.1" in out
            assert "Traceback" not in err, err
            assert wait_for(lambda run=run: not run.left_behind(), 10)


def test_the_interrupted_line_says_what_an_install_did():
    from constrain.cli import build_parser, interrupted_line

    class Reporter:
        tasks: ClassVar[dict[str, tuple[int, int]]] = {"install": (3, 7)}

    args = build_parser().parse_args(["install", "alpha"])
    assert interrupted_line(args, Reporter()) == (
        "interrupted: 3 of 7 distributions were installed, 4 were not; one cut short midway "
        "is rolled back by the next install, which installs the rest")
    Reporter.tasks = {"install": (7, 7)}  # interrupted after the last one was linked
    line = interrupted_line(args, Reporter())
    assert line.startswith("interrupted: all 7 distributions were installed;"), line
    assert "were not" not in line.replace("were not checked", "")


@pytest.mark.parametrize("signals", [1, 2], ids=["ctrl-c", "ctrl-c twice"])
def test_ctrl_c_during_a_build_leaves_no_build_directory(make_index, tmp_path, signals):
    # Before: the command ended (os._exit) without waiting for the thread running the build,
    # so the thread's clean-up never ran: every cold install interrupted while it built an
    # sdist left a constrain-build-* directory in the temporary directory.
    index = make_index([PackageSpec("alpha", "1.0", kinds=("sdist",))], relative_urls=True)
    scratch, log = tmp_path / "tmp", tmp_path / "hooks.log"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch), INLINE_BACKEND_LOG=str(log),
               INLINE_BACKEND_STALL="120")
    run = start("install", "alpha", "--index-url", index.index_url, "--venv",
                str(tmp_path / "venv"), "--cache-dir", str(tmp_path / "cache"), env=env)
    assert wait_for(lambda: log.exists() and "build_wheel" in log.read_text(), 120)
    assert list(scratch.glob("constrain-build-*"))  # the build works in one
    for _ in range(signals):
        run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130, err
    _one_interrupted_line(err)
    assert wait_for(lambda: not run.left_behind(), 10), run.left_behind()
    assert not list(scratch.glob("constrain-*")), list(scratch.iterdir())
    # and the venv it made is gone, also when the build held the clean-up up until the grace
    # time ended the command (before: left with its marker, or half removed, no pyvenv.cfg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "hooks.log", "tmp"]


def test_ctrl_c_while_a_worker_downloads_an_exact_pin_leaves_no_partial_file(front, tmp_path):
    # An install's unpacking workers download the wheels of exact pins; a Ctrl-C kills them
    # halfway, and what they had written must not stay in the cache.
    front.rule(f"/files/{WHEEL}", ("trickle", 0.2))
    cache = tmp_path / "cache"
    run = start("install", "alpha==1.0", "beta==1.0", "--index-url", front.index_url,
                "--venv", str(tmp_path / "venv"), "--cache-dir", str(cache), "--timeout", "600")

    def partial() -> list:
        return [p for p in cache.rglob("*") if ".tmp-" in p.name and p.is_file()]

    assert wait_for(partial, 120), "the wheel's download never began"
    run.signal(signal.SIGINT)
    code, _out, err = run.finish()
    assert code == 130, err
    _one_interrupted_line(err)
    assert wait_for(lambda: not run.left_behind(), 10), run.left_behind()
    assert not [p for p in cache.rglob("*") if ".tmp-" in p.name]
    assert not [p for p in cache.rglob(f"*{WHEEL}")]

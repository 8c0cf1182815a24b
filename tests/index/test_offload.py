"""The page-parsing helper process: used once it is up, never required."""

from __future__ import annotations

import json
import os
import time

import pytest

from constrain.config import IndexSettings
from constrain.index.pages import repository as cached
from constrain.index.pages.offload import Offload
from tests.support.builders import PackageSpec


def _wait_up(offload: Offload) -> None:
    done = offload.offloaded
    deadline = time.monotonic() + 60
    while offload.offloaded == done and time.monotonic() < deadline:
        # started again each time: on a loaded machine more than the idle time may pass
        # between two jobs, and an idle helper leaves (the next start makes another)
        offload.start()
        offload.run(len, b"abc")
        time.sleep(0.02)
    assert offload.offloaded > done, "the helper never came up"


def test_jobs_run_here_until_the_helper_is_up_then_there_and_here_after_close():
    offload = Offload()
    assert offload.run(os.getpid) == os.getpid()  # never started: done here
    _wait_up(offload)
    assert offload.run(os.getpid) != os.getpid()
    offload.close()
    assert offload.run(os.getpid) == os.getpid()
    deadline = time.monotonic() + 30
    while helpers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert helpers() == []


def _wait_queued(offload: Offload, n: int) -> None:
    """Until ``n`` jobs wait for the helper (its pool's queue)."""
    deadline = time.monotonic() + 60
    while offload._pool._jobs.qsize() < n and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)


def test_a_job_on_the_critical_path_goes_before_the_jobs_waiting_for_the_helper(tmp_path):
    # A build's requirements page (setuptools, 0.6 MB) is parsed in the helper too; it waited
    # there behind the burst of large pages of a cold install. A FIFO is opened by the busy job
    # and by the test: the helper stays busy until every job is queued.
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    offload = Offload()
    _wait_up(offload)
    done: dict[str, int] = {}

    def job(name: str, *args, first: bool = False) -> None:
        done[name] = offload.run(*args, first=first)

    busy = threading.Thread(target=job, args=("busy", os.open, str(fifo), os.O_RDONLY))
    busy.start()
    try:
        waiting = [threading.Thread(target=job, args=(f"bulk{n}", time.monotonic_ns))
                   for n in range(3)]
        for thread in waiting:
            thread.start()
        _wait_queued(offload, 3)
        urgent = threading.Thread(target=job, args=("urgent", time.monotonic_ns),
                                  kwargs={"first": True})
        urgent.start()
        _wait_queued(offload, 4)
    finally:
        os.close(os.open(fifo, os.O_WRONLY))  # the busy job ends
    for thread in (busy, *waiting, urgent):
        thread.join(60)
    assert offload.offloaded >= 5, "some job ran here, not in the helper"
    assert done["urgent"] < min(done[f"bulk{n}"] for n in range(3))
    offload.close()


def test_an_idle_helper_leaves_and_a_later_start_brings_it_back():
    # the helper is there for the burst of large pages at the start of a cold resolve, not
    # for the rest of the run (where its memory would add to the largest sdist build's)
    # (_wait_up returns once a job ran in the helper: no check after it that the helper is
    # still there, which an idle time of 0.2 s may already have ended on a loaded machine)
    offload = Offload(idle=0.2)
    try:
        _wait_up(offload)
        deadline = time.monotonic() + 30
        while helpers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert helpers() == []
        assert offload.run(os.getpid) == os.getpid()  # meanwhile: done here
        _wait_up(offload)  # the next large page starts it again
    finally:
        offload.close()


def helpers() -> list[int]:
    """This process's helper processes still running (zombies are reaped as they end)."""
    from constrain.processes import descendants

    alive = []
    for pid in descendants():
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                if fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X"):
                    alive.append(pid)
        except OSError:
            pass
    return alive


def test_a_job_failing_in_the_helper_fails_here_the_same_way():
    offload = Offload()
    try:
        _wait_up(offload)
        done = offload.offloaded
        with pytest.raises(json.JSONDecodeError):
            offload.run(json.loads, "{not json")
        assert offload.offloaded == done
    finally:
        offload.close()


def test_pages_parsed_in_the_helper_give_the_same_files(make_index, make_repo,
                                                        monkeypatch):
    index = make_index([PackageSpec("foo", "1.0"), PackageSpec("foo", "2.0"),
                        PackageSpec("bar", "0.1")])
    settings = IndexSettings(index_url=index.index_url)
    here = {name: make_repo(settings, cache=None).files(name) for name in ("foo", "bar")}

    monkeypatch.setattr(cached, "OFFLOAD_MIN", 1)  # every page is "large"
    repo = make_repo(settings, cache=None)
    _wait_up(repo._offload)
    before = repo._offload.offloaded
    there = {name: repo.files(name) for name in ("foo", "bar")}
    assert repo._offload.offloaded == before + 2
    assert there == here

"""Helper process pools end with the process that started them, however it ends."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constrain.processes import spawn_pool

ROOT = Path(__file__).resolve().parents[1]

KILLED = """
import os
from constrain.processes import spawn_pool
pool = spawn_pool(2)
print(*sorted({pool.submit(os.getpid).result() for _ in range(20)}), flush=True)
os._exit(3)  # as if killed: no clean-up, the pool is never shut down
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return not any(line.startswith("State:") and "Z" in line for line in fh)
    except FileNotFoundError:
        return False


def test_workers_end_when_the_process_that_started_them_is_killed():
    # Before: the workers held both ends of their call queue and waited for ever, keeping this
    # test's pipes open, so subprocess.run never returned.
    proc = subprocess.run([sys.executable, "-c", KILLED], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 3, proc.stderr
    workers = [int(pid) for pid in proc.stdout.split()]
    assert workers and os.getpid() not in workers
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)


def test_workers_run_the_initializer_first():
    from constrain.install.unpack import background_worker  # lowers the worker's priority

    pool = spawn_pool(1, background_worker)
    assert pool is not None
    try:
        assert pool.submit(os.nice, 0).result() == min(19, os.nice(0) + 10)
    finally:
        pool.shutdown()


def test_waiting_jobs_start_lowest_priority_first_and_in_order_among_equals():
    # The install queues each downloaded wheel for unpacking with its size as priority: the
    # largest waiting starts first, not the one that arrived first.
    pool = spawn_pool(1)
    assert pool is not None
    try:
        busy = pool.submit(time.sleep, 0.5, priority=-1)  # the one worker's first job
        waiting = {name: pool.submit(time.monotonic_ns, priority=p)
                   for name, p in [("c", 3), ("a", 1), ("b1", 2), ("b2", 2)]}
        busy.result(timeout=60)
        started = sorted(waiting, key=lambda name: waiting[name].result(timeout=60))
        assert started == ["a", "b1", "b2", "c"]
    finally:
        pool.shutdown()


SCRATCH = r"""
import io, os, sys, tarfile, threading, time
from pathlib import Path
from constrain.build.archive import unpack
from constrain.processes import remove_scratch, scratch_directory
try:
    from constrain.processes import Ending
except ImportError:  # before scratch directories were refused at the end
    class Ending(Exception):
        pass

sdist = Path(sys.argv[1])
with tarfile.open(sdist, "w:gz") as tf:  # many members: unpacking takes a while
    for n in range(4000):
        data = b"x = %d\n" % n
        info = tarfile.TarInfo(f"pkg-1.0/pkg/m{n}.py")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
made, outcome = [], []

def work():
    try:
        with scratch_directory("constrain-build-") as work:
            made.append(work)
            unpack(sdist, work / "src")
        outcome.append("finished")
    except Ending:
        outcome.append("stopped")

thread = threading.Thread(target=work)
thread.start()
while not made or not any((made[0] / "src").glob("pkg-1.0/pkg/m1*.py")):
    time.sleep(0.001)
remove_scratch()  # as the command's end does, while the thread still unpacks
left_at_once = os.path.exists(made[0])
thread.join()
try:
    with scratch_directory("constrain-build-"):
        outcome.append("made after the end")
except Ending:
    outcome.append("refused after the end")
print(left_at_once, os.path.exists(made[0]), *outcome)
"""


def test_scratch_directories_are_gone_when_the_command_ends_while_a_thread_unpacks(tmp_path):
    # Before: a Ctrl-C while a resolve unpacked an sdist to read its metadata left the
    # build directory behind: the thread went on extracting after it was removed.
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, "-c", SCRATCH, str(tmp_path / "pkg-1.0.tar.gz")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "stopped", "refused", "after", "the", "end"]
    assert not list(tmp_path.glob("constrain-*"))


def test_the_end_of_a_command_removes_scratch_while_a_thread_leaves_its_own(monkeypatch,
                                                                             tmp_path):
    # Before: a second Ctrl-C during a build ended the command with a traceback ("Set changed
    # size during iteration", exit 1 instead of 130) when the build's thread left its
    # directory -- and took it off the list -- while the end of the command looked the list
    # over. Here the thread leaves at that very moment, every time.
    from constrain import processes

    monkeypatch.setattr(processes, "_ENDING", [False])
    monkeypatch.setattr(processes, "_SCRATCH", set())
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    processes._SCRATCH.update({str(first), str(second)})
    real_lexists = os.path.lexists

    def lexists(path):  # the other thread's clean-up runs while the list is looked over
        processes._SCRATCH.discard(str(second))
        processes._SCRATCH.discard(str(first))
        return real_lexists(path)

    monkeypatch.setattr(os.path, "lexists", lexists)
    processes.remove_scratch()
    assert not first.exists() and not second.exists()
    assert processes.ending()


@contextlib.contextmanager
def _one_worker_and_a_fifo(tmp_path: Path, concurrency: int):
    """A pool of one worker running ``concurrency`` jobs at once, and a FIFO: opening it
    blocks until its other end is opened too, so jobs opening it wait on each other."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pool = spawn_pool(1, concurrency=concurrency)
    assert pool is not None
    try:
        yield pool, str(fifo)
    finally:
        pool.kill()


def test_a_worker_runs_up_to_its_concurrency_of_jobs_at_once(tmp_path):
    # Downloads in the unpacking workers mostly wait on the network: a worker runs several at
    # once. These two jobs can only both end if the one worker runs them at the same time.
    with _one_worker_and_a_fifo(tmp_path, 2) as (pool, fifo):
        reader = pool.submit(os.open, fifo, os.O_RDONLY)
        writer = pool.submit(os.open, fifo, os.O_WRONLY)
        assert isinstance(reader.result(timeout=60), int)
        assert isinstance(writer.result(timeout=60), int)
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()  # and goes on


def test_every_job_under_way_fails_when_its_worker_dies(tmp_path):
    from constrain.processes import BrokenWorker

    with _one_worker_and_a_fifo(tmp_path, 3) as (pool, fifo):
        stuck = [pool.submit(os.open, fifo, os.O_RDONLY) for _ in range(2)]
        pid = pool.submit(os.getpid).result(timeout=60)
        os.kill(pid, 9)
        for future in stuck:
            with pytest.raises(BrokenWorker):
                future.result(timeout=60)
        with pytest.raises(BrokenWorker):
            pool.submit(os.getpid).result(timeout=60)


def test_an_error_that_cannot_be_rebuilt_here_comes_back_as_a_runtime_error(index_server,
                                                                            tmp_path):
    # NetworkError (keyword-only arguments) cannot be unpickled from its args: the pool used to
    # read that answer as a dead worker and fail every job after it.
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from constrain.index.transport.client import HttpClient
    from constrain.install.fetch_worker import fetch_in_worker
    from constrain.models import DistFile

    server = index_server()
    name = "nothing-1.0-py3-none-any.whl"
    missing = DistFile(project=canonicalize_name("nothing"), filename=name,
                       url=server.file_url(name), version=Version("1.0"), kind="wheel")
    pool = spawn_pool(1, concurrency=2)
    assert pool is not None
    try:
        with pytest.raises(RuntimeError, match=r"could not download nothing-1\.0"):
            pool.submit(fetch_in_worker, missing, str(tmp_path / "cache"),
                        HttpClient(retries=0).settings()).result(timeout=120)
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()  # still serving
    finally:
        pool.kill()

"""Nothing a command starts outlives it: worker pools, scratch directories, work an ending cut short.

A worker is a plain ``python -c`` child (``subprocess``, not ``multiprocessing``) talking to
its pool over two pipes: length-prefixed pickles of ``(number, function, args)`` in,
``(number, ok, value)`` out. A worker runs up to ``concurrency`` jobs at once, in threads (jobs
that mostly wait, such as downloads); the numbers pair each answer with its job. That shape is
what keeps an interrupted or finished constrain quiet and quick:

- workers run in a process group of their own, so a Ctrl-C at the terminal (SIGINT to the
  whole foreground group) reaches constrain alone, and no worker prints a
  ``KeyboardInterrupt`` traceback; constrain decides when they end;
- a worker exits when its job pipe reaches end-of-file, which happens however its parent
  ends (``os._exit``, SIGKILL): nothing waits for a child on a queue, and there are no
  named semaphores to vanish under a worker still starting (``multiprocessing``'s
  ``SemLock._rebuild`` FileNotFoundError, its exit handler joining a helper for ever);
- workers' stdout and stderr are ``/dev/null``: they never hold the parent's pipes open,
  and a failed job comes back as its exception, raised by the future;
- :func:`stop_all` (run at exit, and by the CLI when it is interrupted) kills every worker
  still running, without waiting for its job.

A command that ends while a thread still works (an interrupt does not wait for a build) ends
with ``os._exit``: no ``finally`` runs. So the temporary directories such work writes into are
made by :func:`scratch_directory`, and :func:`remove_scratch` removes those still there (and
runs :func:`undo_if_ending`'s undos) once :func:`kill_descendants` has killed every process.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import struct
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import Future

# pickle, queue and concurrent.futures are imported where a pool is made or used: every
# command imports this module at its end (kill_descendants), most never start a pool

_HEADER = struct.Struct("!Q")
_LIVE: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()
_STOPPED = False  # set by stop_all: the process is ending, no worker starts after it


class BrokenWorker(RuntimeError):
    """A worker process could not be started, or died while running a job."""


def spawn_pool(workers: int, initializer: Callable[[], object] | None = None, *,
               concurrency: int = 1) -> WorkerPool | None:
    """A pool of ``workers`` helper processes, each running ``initializer()`` first (a
    module-level function) and then up to ``concurrency`` jobs at once; ``None`` where none can
    be made. The processes start in the background: this returns at once."""
    if workers < 1:
        return None
    try:
        return WorkerPool(workers, initializer, concurrency=concurrency)
    except (OSError, RuntimeError):
        return None


class WorkerPool:
    """``submit(fn, *args)`` runs ``fn(*args)`` in one of the pool's processes (``fn`` a
    module-level function of picklable arguments and result) and returns a
    :class:`~concurrent.futures.Future`. Jobs waiting for a worker start lowest ``priority``
    first, in the order submitted among equals; each worker runs up to ``concurrency`` at once
    (in threads). Once a worker has died, every job not yet done fails with
    :class:`BrokenWorker` (callers then do the work themselves)."""

    def __init__(self, workers: int, initializer: Callable[[], object] | None = None, *,
                 concurrency: int = 1) -> None:
        import pickle
        import queue

        self._concurrency = max(1, concurrency)
        self._init = pickle.dumps((initializer, self._concurrency))
        # (priority, sequence, job); a job None (last of all) ends the worker that takes it
        self._jobs: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._broken: str | None = None
        with _LIVE_LOCK:
            if _STOPPED:
                raise RuntimeError("the process is ending")
            _LIVE.add(self)
        for n in range(workers):
            thread = threading.Thread(target=self._serve, name=f"constrain-worker-{n}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, fn: Callable[..., object], *args: object, priority: float = 0) -> Future:
        from concurrent.futures import Future

        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that was shut down")
            broken = self._broken
        if broken is not None:
            future.set_running_or_notify_cancel()
            future.set_exception(BrokenWorker(broken))
        else:
            self._jobs.put((priority, next(self._seq), (future, fn, args)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more jobs. ``cancel_futures``: jobs not started are cancelled. ``wait``: return
        once the jobs under way are done and the workers have exited; otherwise they exit
        after their current job (or when :func:`stop_all` kills them)."""
        with self._lock:
            self._closed = True
        if cancel_futures:
            self._drain(cancel=True)
        for _ in self._threads:
            self._jobs.put(self._sentinel())
        if wait:
            for thread in self._threads:
                thread.join()

    def kill(self) -> None:
        """End every worker now; jobs under way and queued fail with :class:`BrokenWorker`."""
        with self._lock:
            self._closed = True
            self._broken = self._broken or "the worker processes were stopped"
            procs = list(self._procs)
        for proc in procs:
            with contextlib.suppress(OSError):
                proc.kill()
        self._drain(cancel=False)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                proc.wait(timeout=1)

    # ------------------------------------------------------------------ internals
    def _sentinel(self) -> tuple:
        """The queue entry ending one worker: after every job queued before or after it."""
        return (float("inf"), next(self._seq), None)

    def _drain(self, *, cancel: bool) -> None:
        import queue

        while True:
            try:
                entry = self._jobs.get_nowait()
            except queue.Empty:
                return
            job = entry[2]
            if job is None:
                self._jobs.put(entry)  # a sentinel for another thread: keep it, stop here
                return
            future = job[0]
            if cancel:
                future.cancel()
            elif future.set_running_or_notify_cancel():
                future.set_exception(BrokenWorker(self._broken or "the pool was stopped"))

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._broken = self._broken or reason
        self._drain(cancel=False)

    def _serve(self) -> None:
        """One worker: start its process, then feed it jobs (up to ``concurrency`` under way)
        until the pool shuts down; :meth:`_answers` takes their answers."""
        import pickle

        try:
            proc = _start(self._init)
        except OSError as exc:
            self._fail(f"cannot start a worker process: {exc}")
            return
        with _LIVE_LOCK, self._lock:
            self._procs.append(proc)
            stopped = self._broken is not None or _STOPPED
        if stopped:  # killed while this one was starting
            with contextlib.suppress(OSError):
                proc.kill()
        slots = threading.Semaphore(self._concurrency)  # one per job under way
        under_way: dict[int, Future] = {}
        ended = threading.Event()  # set when the answers end
        answers = threading.Thread(target=self._answers, args=(proc, under_way, slots, ended),
                                   name=threading.current_thread().name + "-answers",
                                   daemon=True)
        answers.start()
        numbers = itertools.count()
        try:
            while True:
                slots.acquire()
                job = self._jobs.get()[2]
                if job is None:
                    slots.release()
                    break
                future, fn, args = job
                if not future.set_running_or_notify_cancel():
                    slots.release()
                    continue
                number = next(numbers)
                try:
                    message = pickle.dumps((number, fn, args), pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 -- this job cannot travel; others can
                    future.set_exception(exc)
                    slots.release()
                    continue
                with self._lock:
                    under_way[number] = future
                try:
                    _send(proc.stdin, message)
                    if ended.is_set():  # its answers ended before this job was under way
                        raise BrokenPipeError
                except Exception:  # noqa: BLE001 -- the process died (killed, crashed)
                    with self._lock:
                        lost = under_way.pop(number, None)
                    if lost is not None:
                        lost.set_exception(BrokenWorker("a worker process died during a job"))
                    with contextlib.suppress(OSError):
                        proc.kill()  # if it is not quite gone: its answers must end
                    self._fail("a worker process died")
                    break
            for _ in range(self._concurrency):  # the jobs under way end (or the process dies)
                slots.acquire()
        finally:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                proc.wait(timeout=5)  # it exits on end-of-file of its jobs
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired, OSError):
                    proc.wait(timeout=1)
            answers.join(timeout=5)

    def _answers(self, proc: subprocess.Popen, under_way: dict[int, Future],
                 slots: threading.Semaphore, ended: threading.Event) -> None:
        """Hand each answer of ``proc`` to its job's future, until its pipe ends: then any
        job still under way fails (the process died), as do the jobs waiting if it died
        before the pool was shut down."""
        import pickle

        try:
            while True:
                number, ok, value = pickle.loads(_receive(proc.stdout))
                with self._lock:
                    future = under_way.pop(number, None)
                if future is not None:
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
                slots.release()
        except Exception:  # noqa: BLE001 -- end of the answers: exited, killed or crashed
            pass
        finally:
            ended.set()
            with contextlib.suppress(OSError):
                if proc.stdout is not None:
                    proc.stdout.close()
            with self._lock:
                lost = list(under_way.values())
                under_way.clear()
                closed = self._closed
            for future in lost:
                future.set_exception(BrokenWorker("a worker process died during a job"))
            if lost or not closed:
                self._fail("a worker process died")
            slots.release(self._concurrency)  # the feeding thread waits for no answer now


def stop_all() -> None:
    """Kill every worker of every pool still running, and start none after this (at exit, or
    when interrupted)."""
    global _STOPPED
    with _LIVE_LOCK:
        _STOPPED = True
        pools = list(_LIVE)
    for pool in pools:
        pool.kill()


atexit.register(stop_all)


def descendants(pid: int | None = None) -> list[int]:
    """The process ids of every descendant of ``pid`` (default: this process), children
    first; empty where ``/proc`` does not list children."""
    found: list[int] = []
    todo = [os.getpid() if pid is None else pid]
    while todo:
        current = todo.pop(0)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    kids = [int(n) for n in fh.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(k for k in kids if k not in found)
            todo.extend(kids)
    return found


def kill_descendants() -> None:
    """Kill every process this one started, and theirs (build backends, installers of build
    requirements, workers), for a command that is ending: nothing it started outlives it.
    A process a child starts between the listing and the kill is caught by a second pass."""
    import signal

    killed: list[int] = []
    for _ in range(2):
        found = descendants()
        if not found:
            break
        for pid in reversed(found):  # the deepest first: their parents may still reap them
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        killed.extend(found)
    for pid in killed:  # reap this process's own children (others' are not ours to reap)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)


_SCRATCH: set[str] = set()  # the directories of scratch_directory not yet removed
_ENDING: list[bool] = [False]  # set by remove_scratch: the process is ending


class Ending(RuntimeError):
    """Work wanted a scratch directory, or wrote into one, as the command ends (see ending)."""


def ending() -> bool:
    """Has :func:`remove_scratch` begun? Writers into a scratch directory stop when it has."""
    return _ENDING[0]


@contextlib.contextmanager
def scratch_directory(prefix: str, parent: str | os.PathLike[str] | None = None
                      ) -> Iterator[Path]:
    """A new temporary directory (in ``parent``, default the system's), removed on leaving --
    or, if the command ends first (an interrupt does not wait for the thread or the helper
    process working in it), by :func:`remove_scratch`; once that has begun, :class:`Ending`."""
    import shutil
    import tempfile

    if _ENDING[0]:
        raise Ending("the command is ending")
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    _SCRATCH.add(path)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
        _SCRATCH.discard(path)


_UNDO: dict[int, Callable[[], None]] = {}  # undo_if_ending's


@contextlib.contextmanager
def undo_if_ending(undo: Callable[[], None]) -> Iterator[None]:
    """In this block, :func:`remove_scratch` runs ``undo``: what the main thread's clean-up
    would undo (a new venv) if the command ends at once (an interrupt's grace time over)."""
    _UNDO[id(undo)] = undo
    try:
        yield
    finally:
        _UNDO.pop(id(undo), None)


def remove_scratch() -> None:
    """For a command that ends, after :func:`kill_descendants`: run the undos of
    :func:`undo_if_ending` (a failure ignored), remove the directories of
    :func:`scratch_directory` still there. A thread may still write into one (unpacking an
    sdist): writers check :func:`ending`, and one written again is removed again (0.2 s)."""
    _ENDING[0] = True
    for undo in list(_UNDO.values()):
        with contextlib.suppress(Exception):
            undo()
    if _SCRATCH:
        import shutil
        import time

        for _ in range(20):
            for path in list(_SCRATCH):
                shutil.rmtree(path, ignore_errors=True)
            # a copy: the thread working in one removes it from the set when it leaves
            if not any(os.path.lexists(path) for path in list(_SCRATCH)):
                break
            time.sleep(0.01)
        _SCRATCH.clear()


def _start(initializer: bytes) -> subprocess.Popen:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = (f"import sys; sys.path.insert(0, {here!r}); "
            "from constrain.processes import _worker_main; _worker_main()")
    proc = subprocess.Popen(  # this interpreter, a fixed program
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, close_fds=True, process_group=0)
    try:
        _send(proc.stdin, initializer)
    except OSError:
        pass  # it died at once: the first job finds out
    return proc


def _send(pipe, data: bytes) -> None:
    pipe.write(_HEADER.pack(len(data)))
    pipe.write(data)
    pipe.flush()


def _receive(pipe) -> bytes:
    head = pipe.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(head)[0]
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError
    return data


def _worker_main() -> None:
    """The worker's side: run jobs from stdin (up to the pool's concurrency at once, in
    threads), answer on stdout, exit at end-of-file. Any output a job makes goes to
    ``/dev/null`` (stdout carries the answers)."""
    import pickle
    import signal

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    jobs = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- for the life of the process
    answering = threading.Lock()

    def run(number: int, fn: Callable[..., object], args: tuple) -> None:
        try:
            answer = (number, True, fn(*args))
        except BaseException as exc:  # noqa: BLE001 -- the caller raises it
            answer = (number, False, exc)
        data = _travelling(answer)
        with answering:
            _send(answers, data)

    try:
        initializer, concurrency = pickle.loads(_receive(jobs))
        if initializer is not None:
            initializer()
        threads = None
        if concurrency > 1:
            from concurrent.futures import ThreadPoolExecutor

            threads = ThreadPoolExecutor(concurrency, thread_name_prefix="constrain-job")
        while True:
            number, fn, args = pickle.loads(_receive(jobs))
            if threads is None:
                run(number, fn, args)
            else:
                threads.submit(run, number, fn, args)
    except BaseException:  # noqa: BLE001 -- end of jobs, or the parent is gone: quietly
        pass
    finally:
        os._exit(0)


def _travelling(answer: tuple) -> bytes:
    """``answer`` pickled so that the pool can unpickle it: a value or exception that cannot
    make the journey (an exception class whose ``__init__`` needs other arguments cannot be
    rebuilt from its ``args``) travels as a ``RuntimeError`` naming it."""
    import pickle

    number, ok, value = answer
    try:
        data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        if not ok:
            pickle.loads(data)  # an exception must be rebuilt there: try it here
        return data
    except Exception:  # noqa: BLE001 -- an answer that cannot travel
        return pickle.dumps((number, False, RuntimeError(repr(value)[:2000])))

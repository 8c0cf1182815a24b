"""Heavy pure work (parsing large index pages) done in a helper process, off this one's GIL.

A cold resolve runs dozens of threads in one interpreter, and its GIL bounds them. Reading a
project page of several megabytes (JSON decoding, one row per file, grouping by version) holds
the GIL for tens of milliseconds, and the HTTP thread, the resolver and every other parse wait
meanwhile. Measured on Airflow's install set, the process ran at one core for its first four
seconds while the other core idled. :class:`Offload` hands such jobs to one helper process
(``processes.spawn_pool``), so they run on the other core.

The helper is an optimisation, never a requirement. Until it is up, when it cannot be started,
when it dies, or when a job fails there (a malformed page, say), the job runs in the calling
thread, where any error is raised as usual.

Large pages come in a burst at the start of a cold resolve. The helper (30-40 MB resident)
leaves after :data:`IDLE` seconds without a job, so it is not there for the rest of the run --
when the largest sdist builds of a cold resolve come, and with them the peak memory of the
process tree; a later large page starts it again (:meth:`Offload.start`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ...processes import WorkerPool

T = TypeVar("T")

#: seconds without a job after which the helper leaves
IDLE = 5.0


def _ready() -> bool:
    """The helper's first job: import what page parsing needs before the first page comes."""
    from . import listing  # noqa: F401

    return True


class Offload:
    """One helper process, started by :meth:`start` (in the background) and used by
    :meth:`run` once it is ready; it leaves after ``idle`` seconds without a job (the next
    :meth:`start` makes another). ``offloaded`` counts the jobs it did."""

    def __init__(self, idle: float = IDLE) -> None:
        self.idle = idle
        self._lock = threading.Lock()
        self._pool: WorkerPool | Literal[False] | None = None  # False: unavailable or closed
        self._ready: Future[Any] | None = None  # the future of the helper's first job
        self._closed = False
        self._busy = 0  # jobs in the helper now
        self._last = 0.0  # when the last one ended (monotonic)
        self._wake = threading.Event()  # set by close: the idle watch ends
        self.offloaded = 0

    def start(self) -> None:
        """Begin starting the helper without waiting (a no-op once begun)."""
        with self._lock:
            if self._pool is not None:
                return
            self._pool = False  # until made: no second start
        threading.Thread(target=self._make, name="constrain-offload-start", daemon=True).start()

    def run(self, fn: Callable[..., T], *args: object, first: bool = False) -> T:
        """``fn(*args)``: in the helper when it is up (``fn`` a module-level function of
        picklable arguments and result), else here. ``first``: before the jobs waiting for
        the helper (work on the critical path, behind a burst of large pages)."""
        with self._lock:
            pool, ready = self._pool, self._ready
            there = bool(pool) and ready is not None and ready.done()
            if there:
                self._busy += 1
        if there:
            assert pool
            try:
                result = pool.submit(fn, *args, priority=-1 if first else 0).result()
            except Exception:  # noqa: BLE001 -- a broken (or idle-closed) helper or a failed
                pass  # job: do it here
            else:
                with self._lock:
                    self.offloaded += 1
                return result
            finally:
                with self._lock:
                    self._busy -= 1
                    self._last = time.monotonic()
        return fn(*args)

    def close(self) -> None:
        """Stop the helper (jobs not started are dropped; their callers do them here)."""
        with self._lock:
            pool, self._pool, self._ready, self._closed = self._pool, False, None, True
        self._wake.set()
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)

    def _make(self) -> None:
        from ...processes import spawn_pool

        pool = spawn_pool(1)
        if pool is None:
            return
        try:
            ready = pool.submit(_ready)
        except RuntimeError:
            pool.shutdown(wait=False)
            return
        with self._lock:
            if not self._closed:
                self._pool, self._ready = pool, ready
                self._last = time.monotonic()
                threading.Thread(target=self._watch_idle, args=(pool,), daemon=True,
                                 name="constrain-offload-idle").start()
                return
        pool.shutdown(wait=False, cancel_futures=True)

    def _watch_idle(self, pool: WorkerPool) -> None:
        """Close ``pool`` once it has had no job for ``idle`` seconds (unless replaced or
        closed first); a later :meth:`start` then makes a new one."""
        while not self._wake.wait(min(self.idle, 1.0)):
            with self._lock:
                if self._pool is not pool:
                    return
                if self._ready is None or not self._ready.done():
                    self._last = time.monotonic()  # still starting: idle from when it is up
                    continue
                if self._busy or time.monotonic() - self._last < self.idle:
                    continue
                self._pool, self._ready = None, None
            pool.shutdown(wait=False, cancel_futures=True)
            return

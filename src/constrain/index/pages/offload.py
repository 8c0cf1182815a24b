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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ...processes import WorkerPool

T = TypeVar("T")


def _ready() -> bool:
    """The helper's first job: import what page parsing needs before the first page comes."""
    from . import listing  # noqa: F401

    return True


class Offload:
    """One helper process, started by :meth:`start` (in the background) and used by
    :meth:`run` once it is ready. ``offloaded`` counts the jobs it did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: WorkerPool | Literal[False] | None = None  # False: unavailable or closed
        self._ready: Future[Any] | None = None  # the future of the helper's first job
        self._closed = False
        self.offloaded = 0

    def start(self) -> None:
        """Begin starting the helper without waiting (a no-op once begun)."""
        with self._lock:
            if self._pool is not None:
                return
            self._pool = False  # until made: no second start
        threading.Thread(target=self._make, name="constrain-offload-start", daemon=True).start()

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)``: in the helper when it is up (``fn`` a module-level function of
        picklable arguments and result), else here."""
        with self._lock:
            pool, ready = self._pool, self._ready
        if pool and ready is not None and ready.done():
            try:
                result = pool.submit(fn, *args).result()
            except Exception:  # noqa: BLE001 -- a broken helper or a failed job: do it here
                pass
            else:
                with self._lock:
                    self.offloaded += 1
                return result
        return fn(*args)

    def close(self) -> None:
        """Stop the helper (jobs not started are dropped; their callers do them here)."""
        with self._lock:
            pool, self._pool, self._ready, self._closed = self._pool, False, None, True
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
                return
        pool.shutdown(wait=False, cancel_futures=True)

"""Where prefetch jobs wait: a priority thread pool, pages first, then metadata largest first."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from ...models import DistFile

#: prefetch job priorities: pages before metadata (the resolver reads every root's page before
#: it pins anything, and a page found early starts its project's metadata, or sdist build)
PAGES, METADATA = 0, 1


def metadata_priority(file: DistFile) -> tuple[int, int]:
    """An sdist's metadata goes with the pages (it may need a build, the longest wait of all);
    a wheel's after them, the largest first: when wheels are fetched whole (install), the
    large ones then arrive, and are unpacked, early rather than last."""
    if not file.is_wheel:
        return (PAGES, 0)
    return (METADATA, -(file.size or 0))


class PriorityPool:
    """Up to ``workers`` daemon threads running submitted jobs, lowest priority (a tuple) first
    (first come, first served within one priority); threads start as jobs arrive. Jobs must
    not raise. :meth:`close` drops the jobs not started; running ones finish on their own.

    A job of priority :data:`PAGES` never waits for a running metadata job to end: with no
    thread idle it starts one more (up to ``workers`` more), which ends after its job while
    the pool has more than ``workers`` threads. A metadata job mostly waits (a download, a
    helper process), and while ``workers`` of them did, a page that had arrived, or an
    sdist's metadata (the start of a build, a cold install's longest chain), waited for one
    to end: 0.3-0.4 s on Airflow's install set."""

    def __init__(self, workers: int, name: str) -> None:
        import queue  # here: a remembered or offline resolve never makes a pool

        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._workers = workers
        self._name = name
        self._threads = 0
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, priority: tuple, fn: Callable[..., object], *args: object) -> None:
        """Queue ``fn(*args)`` at ``priority``; dropped once the pool is closed."""
        with self._lock:
            if self._closed:
                return
            self._queue.put((priority, next(self._order), fn, args))
            cap = self._workers * (2 if priority[0] == PAGES else 1)
            if self._idle == 0 and self._threads < cap:
                self._threads += 1
                threading.Thread(target=self._run, name=f"{self._name}_{self._threads}",
                                 daemon=True).start()
            # else an idle thread takes it (a racing one may leave it to the next free thread)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
            if job is None or job[2] is None:
                return
            _priority, _n, fn, args = job
            fn(*args)
            with self._lock:
                if self._threads > self._workers and not self._closed:
                    self._threads -= 1  # one started beyond the bound for a page: done
                    return

    def close(self) -> None:
        """Drop the jobs not started and let every thread end after its current job."""
        import queue

        with self._lock:
            self._closed = True
            threads = self._threads
        while True:  # drop what has not started
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in range(threads):  # then let each thread end
            self._queue.put(((-1,), -1, None, ()))

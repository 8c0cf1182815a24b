"""Helper processes: spawned worker pools that end when the process that started them ends.

Pools are spawned, not forked: the process starting them runs threads. Each worker watches its
parent and exits as soon as the parent is gone. Without that, a constrain process killed
outright (SIGKILL, ``os._exit``) would leave its workers waiting forever. Their own call queue
never reaches end-of-file, because they hold both of its ends, and they keep the parent's
stdout and stderr open, so whoever reads those would wait too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

#: how often a worker checks that its parent is still there (seconds)
WATCH_INTERVAL = 0.25


def spawn_pool(workers: int, initializer: Callable[[], object] | None = None
               ) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` spawned processes, each running ``initializer()`` first (a
    module-level function) and ending with this process; ``None`` where none can be made."""
    import multiprocessing

    try:
        return ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker,
                                   initargs=(os.getpid(), initializer))
    except (OSError, ValueError, RuntimeError):
        return None


def _start_worker(parent: int, initializer: Callable[[], object] | None) -> None:
    threading.Thread(target=_watch, args=(parent,), name="constrain-parent-watch",
                     daemon=True).start()
    if initializer is not None:
        initializer()


def _watch(parent: int) -> None:
    """Exit once the parent has gone (this process is then re-parented, so its parent id
    changes)."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(0)

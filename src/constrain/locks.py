"""Exclusive inter-process locks that wait for another holder, telling the user once, up to a
deadline (an install into one environment, a download into one wheelhouse)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO


def wait_exclusive(fh: IO[bytes], timeout: float, waiting: str,
                   on_wait: Callable[[str], None]) -> bool:
    """Take an exclusive ``flock`` on ``fh``. When another process holds it, tell ``on_wait``
    the ``waiting`` message once and poll until it is free or ``timeout`` seconds have passed.
    Returns whether the lock is held; the caller raises its own error (naming what is locked)
    when it is not. The lock lasts until ``fh`` is closed."""
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    on_wait(waiting)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

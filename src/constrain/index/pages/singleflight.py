"""One computation per key, shared by every thread that asks for it while it runs and after."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")


class SingleFlight:
    """A per-key memo where the first caller computes and concurrent callers wait for it.

    Results and ``Exception``s are remembered; an interrupt (``BaseException``) is not, so a
    later call computes afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result for ``key``: computed by the first caller, shared by all."""
        while True:
            with self._lock:
                future = self._futures.get(key)
                owner = future is None
                if owner:
                    # here: a resolve whose facts come from the cache's snapshot computes
                    # nothing, and concurrent.futures (logging aside) is not imported for it
                    from concurrent.futures import Future

                    future = self._futures[key] = Future()
            assert future is not None
            if owner:
                try:
                    future.set_result(compute())
                except Exception as exc:  # noqa: BLE001 -- every waiter gets it
                    future.set_exception(exc)
                except BaseException as exc:
                    with self._lock:
                        self._futures.pop(key, None)
                    future.set_exception(exc)
                    raise
                return future.result()
            try:
                return future.result()
            except BaseException as exc:
                if isinstance(exc, Exception) or not future.done() or future.exception() is not exc:
                    raise  # the computation's error, or this thread's own interrupt
                # the owner was interrupted (Ctrl-C in the main thread): not this thread's
                # interrupt to raise; compute afresh

    def __contains__(self, key: Hashable) -> bool:
        """Has a caller begun (or finished) computing ``key``?"""
        with self._lock:
            return key in self._futures

    def started(self) -> list[Hashable]:
        """Every key begun or computed so far, in the order first asked."""
        with self._lock:
            return list(self._futures)

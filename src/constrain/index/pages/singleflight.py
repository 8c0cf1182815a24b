"""One computation per key, shared by every thread that asks for it while it runs and after."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_RUNNING, _VALUE, _ERROR, _INTERRUPTED = range(4)


class _Flight:
    """One key's computation: ``running`` is held by its owner until it is over, so a waiter
    blocks on it (a bare lock: a warm resolve makes thousands of these, which a
    ``Future`` with its condition and reentrant lock made several times dearer)."""

    __slots__ = ("outcome", "running", "state")

    def __init__(self) -> None:
        self.state = _RUNNING
        self.outcome: Any = None
        self.running = threading.Lock()
        self.running.acquire()


class SingleFlight:
    """A per-key memo where the first caller computes and concurrent callers wait for it.

    Results and ``Exception``s are remembered; an interrupt (``BaseException``) is not, so a
    later call computes afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``'s result for ``key``: computed by the first caller, shared by all."""
        while True:
            flight = self._flights.get(key)  # a finished one needs no lock
            if flight is not None and flight.state == _VALUE:
                return flight.outcome
            with self._lock:
                flight = self._flights.get(key)
                owner = flight is None
                if owner:
                    flight = self._flights[key] = _Flight()
            assert flight is not None
            if owner:
                try:
                    flight.outcome = compute()
                    flight.state = _VALUE
                except Exception as exc:  # noqa: BLE001 -- every waiter gets it
                    flight.outcome, flight.state = exc, _ERROR
                finally:
                    if flight.state == _RUNNING:  # interrupted: not remembered
                        with self._lock:
                            if self._flights.get(key) is flight:
                                del self._flights[key]
                        flight.state = _INTERRUPTED
                    flight.running.release()
            elif flight.state == _RUNNING:
                flight.running.acquire()  # this thread's own interrupt is raised here
                flight.running.release()
            if flight.state == _VALUE:
                return flight.outcome
            if flight.state == _ERROR:
                raise flight.outcome
            # the owner was interrupted (Ctrl-C in the main thread): not this thread's
            # interrupt to raise; compute afresh

    def __contains__(self, key: Hashable) -> bool:
        """Has a caller begun (or finished) computing ``key``?"""
        with self._lock:
            return key in self._flights

    def started(self) -> list[Hashable]:
        """Every key begun or computed so far, in the order first asked."""
        with self._lock:
            return list(self._flights)

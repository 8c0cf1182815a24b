"""Fewer cyclic garbage collections while a resolve runs.

A resolve allocates hundreds of thousands of long-lived objects (listings, metadata,
requirements, candidates, criteria) and little cyclic garbage; at CPython's default first
threshold (700 allocations) the collector kept walking them: on the large Airflow resolve,
1,200 collections, 7 of them full, took 0.8 s of 3.2 s of CPU. With a first threshold of
:data:`FIRST_THRESHOLD` the same resolve makes ~80 collections and no full one (peak memory
unchanged: the garbage that waits longer is small). The collector stays on, and the
process's own thresholds come back when the last resolve running ends.

A resolve from the cache alone (``--offline``: no transfer allocating beside it) pauses
automatic collection instead: what it allocates lives until it ends, its cyclic garbage is a
few thousand objects (the large Airflow resolve: 17k more objects left for the collector
at the end, peak memory unchanged), and the ~60 collections left at the raised threshold
still cost it ~10 % of its CPU (0.15 s of 1.4 s). When the pause ends, what it allocated is
moved to the oldest generation without a walk (:func:`constrain.heap.hold_frozen` and
release): else the first young collection after it walks all of it at once.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..heap import hold_frozen, release_frozen

#: gen-0 threshold during a resolve (CPython's default: 700)
FIRST_THRESHOLD = 10_000

_lock = threading.Lock()
_depth = 0
_pausing = 0
_saved: tuple[int, ...] = ()


def _apply() -> None:
    """The thresholds for the blocks running now (``_lock`` held)."""
    first, *rest = _saved
    if not first:  # 0: collection disabled by threshold, left so
        return
    gc.set_threshold(0 if _pausing else max(first, FIRST_THRESHOLD), *rest)


@contextmanager
def fewer_collections(pause: bool = False) -> Iterator[None]:
    """Raise the collector's first threshold to at least :data:`FIRST_THRESHOLD` for the
    ``with`` block, or with ``pause`` make no automatic collection at all while it runs (a
    resolve from the cache alone); nested or concurrent blocks (a refresh resolving in
    threads) share one setting -- paused while any pausing block runs -- and the thresholds
    found before the first are restored after the last."""
    global _depth, _pausing, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
        _depth += 1
        _pausing += pause
        _apply()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            _pausing -= pause
            if pause and not _pausing and hold_frozen():
                release_frozen()  # the pause's objects, old now: no walk of them all at once
            if _depth == 0:
                gc.set_threshold(*_saved)
            else:
                _apply()

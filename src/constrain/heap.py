"""How this process keeps its memory cheap: the C heap hands freed blocks back to the system
(glibc; elsewhere nothing is done), and long-lived objects stay out of the collector's walks.

A cold resolve reads hundreds of index pages, metadata files and wheels' tails on a dozen
threads, blocks of up to tens of megabytes each, and frees most of them soon after. glibc's
malloc then serves blocks of a freed one's size from its arenas (its mmap threshold rises to the
largest mapped block freed, up to 32 MiB), so later allocations land between long-lived objects
and the arenas' free space stays resident: 75-120 MB of free chunks in them when the last
sdist builds of the large workload's cold resolve run. :func:`map_large_blocks` fixes the
threshold, so a block of :data:`MMAP_THRESHOLD` or more is always a mapping of its own, handed
back whole when freed; :func:`give_back_free_memory` returns the free pages left in the arenas
(``malloc_trim``: before each build hook starts).

The threshold sits above the blocks the HTTP thread makes and frees for every piece of every
response (a read, a DATA frame, its payload: up to
:data:`.index.transport.patches.LARGE_FRAME`, a quarter of the threshold), which come and go by
the thousand in the same few sizes and so reuse the arenas' space. Mapped each on its own, every one of them was a fresh mapping the kernel had to
fault in and zero: 255k page faults in a cold install of Airflow, 163k below the threshold.

The collector's heap: objects that live as long as the run (a facts snapshot, a resolve's
state) are moved out of its walks by :func:`hold_frozen` (``gc.freeze``), shared by every
holder in the process, and handed back to its oldest generation when the last one lets go
(:func:`release_frozen`). A freeze made by something else (a host application's) is neither
undone nor added to.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: ``typing.TYPE_CHECKING`` without importing :mod:`typing` here: the CLI imports this module
#: before :func:`long_lived` can keep typing's objects out of the collector's walks
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: blocks this large or larger are mappings of their own (four HTTP/2 frames: see above)
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter numbers (malloc.h)


@functools.cache
def _libc() -> Any:
    """The C library, when it is glibc (``None`` elsewhere: musl, macOS, Windows)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt  # noqa: B018 -- glibc's; other libraries have none of these
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError, TypeError):  # TypeError: no CDLL(None) on Windows
        return None


_adaptive = [False]  # set by keep_adaptive_threshold


def keep_adaptive_threshold() -> None:
    """This process keeps glibc's adaptive mmap threshold: :func:`map_large_blocks` does
    nothing in it. For the install's unpacking workers (``install/unpack.py``), which read
    whole wheels and decompress members of megabytes one after another and hold nothing
    between jobs: the adaptive threshold serves those blocks from the heap again and again,
    where a mapping of each was faulted in anew (33k page faults of 134k in the helper
    processes of a cold install of Airflow's set, 0.1 s of CPU)."""
    _adaptive[0] = True


@functools.cache
def map_large_blocks() -> None:
    """From now on, blocks of :data:`MMAP_THRESHOLD` or more are mapped each on its own and
    handed back to the system when freed (once per process; a no-op without glibc, and in a
    process that keeps the adaptive threshold)."""
    libc = _libc()
    if libc is not None and not _adaptive[0]:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def give_back_free_memory() -> None:
    """Return the free pages of this process's C heap to the system (where glibc can)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


_freeze_lock = threading.Lock()
_holders = 0


def hold_frozen() -> bool:
    """Move every object the collector tracks now out of its walks, until the last holder's
    :func:`release_frozen` -- unless objects were frozen by something else: then nothing is
    done and ``False`` is returned (no release is owed)."""
    global _holders
    with _freeze_lock:
        if _holders == 0 and gc.get_freeze_count():
            return False
        gc.freeze()
        _holders += 1
        return True


def release_frozen() -> None:
    """Let go of one :func:`hold_frozen`; after the last, the frozen objects join the oldest
    generation (walked only by a full collection, as long-lived objects are)."""
    global _holders
    with _freeze_lock:
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()


@contextmanager
def long_lived() -> Iterator[None]:
    """For a block whose objects live as long as the process (the imports of a command's
    pipeline: modules, functions, classes): no automatic collection while it runs (none would
    find garbage), and then what it made goes to the oldest generation without a walk, as
    :func:`release_frozen` does (not when something else froze objects: they stay young).
    Else each object was walked once as young and once more as middle-aged: 1.5 % of a
    remembered resolve's instructions. Main thread, start-up only: automatic collection is
    off for the whole process while the block runs."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if hold_frozen():
            release_frozen()
        if enabled:
            gc.enable()

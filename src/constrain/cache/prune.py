"""Shrink the cache: remove entries unused for a while, or the least recently used down to a size.

Which entries go (:func:`plan`): buckets of an older format and leftovers of killed writers
always; with ``older_than``, every entry last used longer ago than that; with ``max_size``, then
the least recently used first until the cache is no larger. Entries used in the last
:data:`RECENT` seconds (a day and two hours) are never removed: a run under way may be reading
them, and a file system mounted ``relatime`` (the default) records a read only when the
recorded one is a day old, so a read now may show as up to a day ago. (Under ``noatime``
reads are not recorded at all: last used is then last written.)

How they go (:func:`remove`): each entry under its writers' own lock (:meth:`Cache.lock`'s
file, taken without waiting: an entry being written now is skipped and counted as busy), after
a last look at its files (one a run began to use since the scan stays, counted as busy too),
its paths in the order :mod:`~constrain.cache.usage` gives (pointers and sidecars before the
body), a directory first renamed aside (``.trash-*``) so it is never found half-removed under
its name. A prune killed midway leaves whole entries and ``.trash-*`` leftovers the next prune
removes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .usage import LOCKS, Entry, Usage, last_used

#: Entries used this recently (seconds) are kept whatever the limits say: relatime's day, and
#: two hours for a run that began before the prune.
RECENT = 26 * 3600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZES = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Plan:
    """What a prune removes, and what it keeps only because it was used recently."""

    remove: tuple[Entry, ...]
    kept_recent: int
    size_before: int

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.remove)


@dataclass(frozen=True)
class Outcome:
    """What a prune did: entries removed, entries skipped because a writer held them."""

    removed: tuple[Entry, ...]
    busy: tuple[Entry, ...]

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` -> seconds. A number needs its unit: a bare
    ``30`` meant 30 days to some and 30 seconds to others, and as seconds it empties the
    cache of all but the last half minute's entries."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if not m:
        raise UsageError(f"--older-than {text!r} is not an age",
                         hint="write a number and a unit: 30d, 12h, 90m, 2w")
    if not m[2]:
        raise UsageError(f"--older-than {text.strip()} has no unit",
                         hint=f"write {m[1]}d for days, {m[1]}h for hours, {m[1]}m for "
                         f"minutes or {m[1]}s for seconds")
    return float(m[1]) * _UNITS[m[2]]


def parse_size(text: str) -> int:
    """``2G``, ``500M``, ``1.5GiB``, ``800k`` (binary units) or plain bytes -> bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text.lower())
    if not m:
        raise UsageError(f"--max-size {text!r} is not a size",
                         hint="write a number and a unit: 2G, 500M, 800K (powers of 1024)")
    return int(float(m[1]) * _SIZES[m[2]])


def plan(usage: Usage, *, older_than: float | None = None, max_size: int | None = None,
         now: float | None = None, recent: float = RECENT) -> Plan:
    """The entries a prune with these limits removes (see the module docstring)."""
    now = time.time() if now is None else now
    chosen: list[Entry] = []
    kept_recent = 0
    rest: list[Entry] = []
    for e in usage.entries:
        stale = e.kind == "old formats" or e.leftover or (
            older_than is not None and now - e.last_used > older_than)
        if now - e.last_used < recent:
            kept_recent += stale
            rest.append(e)
        elif stale:
            chosen.append(e)
        else:
            rest.append(e)
    if max_size is not None:
        size = usage.size - sum(e.size for e in chosen)
        for e in sorted(rest, key=lambda e: e.last_used):
            if size <= max_size:
                break
            if now - e.last_used < recent:
                kept_recent += 1
                continue
            chosen.append(e)
            size -= e.size
    chosen.sort(key=lambda e: e.last_used)
    return Plan(tuple(chosen), kept_recent, usage.size)


def remove(root: str | os.PathLike[str], entries: tuple[Entry, ...], *,
           recent: float = RECENT) -> Outcome:
    """Remove ``entries`` of the cache at ``root`` (see the module docstring). Entries whose
    writers' lock is held, or that a run read or wrote since they were chosen (looked at again
    under the lock, just before they go), are left alone and returned as busy."""
    removed, busy = [], []
    for entry in entries:
        with _try_lock(Path(root), entry.lock) as held:
            if not held or last_used(entry.paths) > time.time() - recent:
                busy.append(entry)
                continue
            gone = [_remove_path(path) for path in entry.paths]
            if any(gone):  # (none: another prune removed it first, and counts it)
                removed.append(entry)
    return Outcome(tuple(removed), tuple(busy))


@contextlib.contextmanager
def _try_lock(root: Path, name: str | None) -> Iterator[bool]:
    """Hold ``Cache.lock(name)``'s file if nobody does; yields whether it is held."""
    if name is None:
        yield True
        return
    path = root / LOCKS / f"{name}.lock"
    try:
        fh = open(path, "r+b")  # noqa: SIM115 -- held for the block
    except FileNotFoundError:  # never taken: the entry was not made under it
        yield True
        return
    except OSError:
        yield False
        return
    try:
        import fcntl

        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        fh.close()


def _remove_path(path: Path) -> bool:
    """Remove ``path``; whether this call did (``False``: it was gone already)."""
    if path.is_dir() and not path.is_symlink():
        aside = path.with_name(f".trash-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return False
        shutil.rmtree(aside, onerror=_writable_and_retry)
        return True
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _writable_and_retry(func, path, exc_info) -> None:
    """Read-only directories (environments, sealed trees) are made writable to be emptied."""
    if isinstance(exc_info[1], FileNotFoundError):
        return
    parent = os.path.dirname(path)
    os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
    if func is os.rmdir or os.path.isdir(path):
        with contextlib.suppress(OSError):
            os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR | stat.S_IXUSR | stat.S_IRUSR)
        shutil.rmtree(path, ignore_errors=True)
    else:
        func(path)

"""What the cache holds: every entry with its kind, size, last use, and the lock that guards it.

An *entry* is what prune removes as one: a bucket entry with its ``.meta`` sidecar, a built
wheel with its ``.name`` pointer, an unpacked wheel's tree, a build environment with the
``pins/`` pointers naming it, a build log, a bucket of an older format (nothing this version
reads), or a temporary a killed writer left (``.tmp-*``, ``.gone-*``; in a bucket, or at the
root: an install's unpacking scratch). Its paths are listed in
the order that keeps the cache consistent while they go: first what points at the body (the
sidecar, ``.name`` pointer, ``pins/`` pointers), then the body -- a body without its sidecar
is an entry without validators (fetched again), the reverse would pair validators with
nothing. ``lock`` is the name of the :meth:`Cache.lock` the writers of that entry hold, so a
prune never removes what a concurrent run is making.

*Last used* is the newest of the access and modification times of the entry's files: reads
move the access time (within a day under ``relatime`` mounts; with ``noatime``, last used is
last written). An unpacked tree's ``manifest.json`` is read each time an install uses it.
The ``locks/`` directory and anything not made by constrain are counted as ``other`` and never
removed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .store import BUCKETS

#: The directories of the cache root that are not buckets (owned by build/envs.py and
#: build/log.py; a layout change there bumps the name, leaving the old one "old formats").
BUILD_ENVS = "build-envs-v3"
BUILD_LOGS = "build-logs"
LOCKS = "locks"
#: Display kinds, in the order ``cache info`` lists them; buckets and directories per kind.
KINDS: dict[str, tuple[str, ...]] = {
    "pages": ("pages", "listings"),
    "metadata": ("metadata", "facts"),  # facts: snapshots of what runs read (index/facts.py)
    "files": ("files",),  # downloaded wheels and sdists
    "unpacked": ("unpacked",),  # wheels unpacked for linking into environments
    "builds": ("built", BUILD_LOGS),  # wheels built from sdists, and the builds' logs
    "build envs": (BUILD_ENVS,),
    "memos": ("resolutions",),  # whole resolutions remembered
    "reconstructions": ("reconstructions",),
    "constraints": ("constraints",),  # fetched constraint files (Airflow's)
    "misc": ("misc",),
    "old formats": (),  # buckets of an older format: nothing reads them
    "other": (),  # locks, and whatever constrain did not make
}
#: Lock-name prefixes the writers of a bucket's entries hold (``Cache.lock(prefix + key[:40])``).
LOCK_PREFIX = {"files": "files-", "unpacked": "unpack-", "built": "build-"}
_BUCKET_DIR = re.compile(r"^(?P<name>[a-z][a-z-]*?)-v(?P<version>\d+)$")
_LEFTOVER = (".tmp-", ".gone-", ".trash-")


@dataclass(frozen=True)
class Entry:
    """One removable unit of the cache (see the module docstring)."""

    kind: str
    paths: tuple[Path, ...]  # removal order: pointers and sidecars first, the body last
    size: int  # bytes on disk
    last_used: float
    lock: str | None = None
    leftover: bool = False  # a temporary a killed writer left, or an unreferenced environment


@dataclass(frozen=True)
class Usage:
    """Every entry of a cache, and what is never removed (``other``: bytes and files)."""

    root: Path
    entries: tuple[Entry, ...]
    other_size: int
    other_files: int

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries) + self.other_size

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """kind -> (entries, bytes), every kind listed in :data:`KINDS` order."""
        out = {kind: (0, 0) for kind in KINDS}
        for e in self.entries:
            n, size = out[e.kind]
            out[e.kind] = (n + 1, size + e.size)
        out["other"] = (self.other_files, self.other_size)
        return out


def scan(root: str | os.PathLike[str]) -> Usage:
    """Walk the cache at ``root`` (which may not exist: an empty usage). Reads only."""
    root = Path(root)
    entries: list[Entry] = []
    other = [0, 0]
    kind_of = {d: kind for kind, dirs in KINDS.items() for d in dirs}
    try:
        children = sorted(root.iterdir())
    except OSError:
        children = []
    for child in children:
        m = _BUCKET_DIR.match(child.name)
        if child.name == LOCKS or not child.is_dir() or child.is_symlink():
            _count(child, other)
        elif m and m["name"] in BUCKETS and int(m["version"]) == BUCKETS[m["name"]]:
            entries += _bucket(child, m["name"], kind_of[m["name"]])
        elif child.name == BUILD_ENVS:
            entries += _build_envs(child)
        elif child.name == BUILD_LOGS:
            entries += [_entry("builds", (p,)) for p in sorted(child.iterdir()) if p.is_file()]
        elif m and (m["name"] in BUCKETS or m["name"] == "build-envs"):
            entries.append(_entry("old formats", (child,)))
        elif child.name.startswith(_LEFTOVER):  # an install's unpacking scratch (.tmp-workers-)
            entries.append(_entry("unpacked", (child,), leftover=True))
        else:
            _count(child, other)
    return Usage(root, tuple(entries), other[1], other[0])


def _bucket(bucket_dir: Path, bucket: str, kind: str) -> Iterator[Entry]:
    prefix = LOCK_PREFIX.get(bucket)
    for shard in sorted(bucket_dir.iterdir()):
        if not shard.is_dir():
            if shard.name.startswith(_LEFTOVER):
                yield _entry(kind, (shard,), leftover=True)
            continue
        groups: dict[str, list[Path]] = {}
        for path in sorted(shard.iterdir()):
            if path.name.startswith(_LEFTOVER):
                yield _entry(kind, (path,), leftover=True)
                continue
            groups.setdefault(_key_of(path.name, bucket), []).append(path)
        for key, paths in groups.items():
            paths.sort(key=_removal_rank)
            yield _entry(kind, tuple(paths), lock=prefix + key[:40] if prefix else None)


def _key_of(name: str, bucket: str) -> str:
    """The key an entry file belongs to: ``K`` for ``K``, ``K.meta``; in ``built`` also
    ``K.name`` and ``K_<wheel name>``."""
    name = name.removesuffix(".meta")
    if bucket == "built":
        name = re.split(r"[._]", name, maxsplit=1)[0]
    return name


def _removal_rank(path: Path) -> int:
    """Sidecars and pointers before bodies (see the module docstring)."""
    return 0 if path.name.endswith((".meta", ".name")) else 1


def _build_envs(root: Path) -> Iterator[Entry]:
    """Each environment under ``envs/`` with the ``pins/`` pointers that name it; pointers
    to nothing and environments no pointer names (a creation cut short) are leftovers."""
    pointers: dict[str, list[Path]] = {}
    taken: dict[Path, os.stat_result] = {}  # each pointer's times before this scan read it
    pins_dir = root / "pins"
    for pointer in sorted(pins_dir.iterdir()) if pins_dir.is_dir() else ():
        try:
            taken[pointer], name = _read_unseen(pointer)
        except (OSError, UnicodeDecodeError):
            name = ""
        pointers.setdefault(name, []).append(pointer)
    envs_dir = root / "envs"
    for env in sorted(envs_dir.iterdir()) if envs_dir.is_dir() else ():
        named = pointers.pop(env.name, [])
        # the lock _create holds while it publishes an environment under its pins
        lock = f"build-pins-{named[0].name[:32]}" if named else None
        yield _entry("build envs", (*named, env), lock=lock, leftover=not named, taken=taken)
    for leftover in pointers.values():
        yield _entry("build envs", tuple(leftover), leftover=True, taken=taken)
    for path in sorted(root.iterdir()):
        if path.name not in ("pins", "envs"):
            yield _entry("build envs", (path,), leftover=True)


def _read_unseen(path: Path) -> tuple[os.stat_result, str]:
    """``(stat, text)`` of the small file ``path``, read without moving its access time when
    the system allows it (``O_NOATIME``: the file's owner). A plain read sets it to now
    (``relatime``), and a pins pointer's access time is when its build environment was last
    used: every scan would make every environment look used by the scan itself. The stat is
    taken before the read either way."""
    st = path.lstat()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:  # not the owner: O_NOATIME is refused
        fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    return st, data.decode("utf-8").strip()


def _entry(kind: str, paths: tuple[Path, ...], *, lock: str | None = None,
           leftover: bool = False, taken: dict[Path, os.stat_result] | None = None) -> Entry:
    """The entry of ``paths``: their size on disk, and the last time one was used or changed
    (``taken``: stats already taken of some of them, before the scan read them)."""
    size, last = 0, 0.0
    seen: set[tuple[int, int]] = set()
    before = taken or {}
    stats = [*(before[p] for p in paths if p in before),
             *_stats(tuple(p for p in paths if p not in before))]
    for st in stats:
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            size += disk_size(st)
        last = max(last, st.st_atime, st.st_mtime)
    return Entry(kind, paths, size, last, lock, leftover)


def _stats(paths: tuple[Path, ...]) -> Iterator[os.stat_result]:
    for path in paths:
        try:
            st = path.lstat()
        except OSError:
            continue
        if not path.is_dir() or path.is_symlink():
            yield st
            continue
        # files only: listing a directory (this walk included) moves its access time
        for dirpath, _dirnames, filenames in os.walk(path):
            for name in filenames:
                try:
                    yield os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue


def last_used(paths: tuple[Path, ...]) -> float:
    """When the files at ``paths`` were last read or written (0.0: none is left)."""
    return max((max(st.st_atime, st.st_mtime) for st in _stats(paths)), default=0.0)


def disk_size(st: os.stat_result) -> int:
    """The bytes a file takes on disk (what removing it frees; ``du`` counts the same)."""
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def _count(path: Path, into: list[int]) -> None:
    for st in _stats((path,)):
        into[0] += 1
        into[1] += disk_size(st)

"""Files every installed distribution gets alike (``INSTALLER``, an empty ``REQUESTED``), kept once
in the cache and hard-linked into environments as a tree's files are.

A hard link is one directory entry; a new file is an inode as well, and allocating inodes is
most of an install's kernel time (141 distributions: 282 new files fewer). The cache's copy is
read-only and used only while its inode, size and mtime are those it had when its bytes were
read and found right -- the check ``trees.intact`` makes of a tree's files: an edit through any
environment's link shows, and a copy that does not hold the right bytes is replaced by a new
file (environments linked to the old one keep theirs). Where no link can be made (the cache on
another file system, a cache that cannot be written), :func:`place` says so and the caller
writes the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

from ..cache.store import Cache
from ..errors import CacheError

#: A cache copy found (or made) holding its bytes -> its (inode, size, mtime_ns) then.
_CHECKED: dict[str, tuple[int, int, int]] = {}
_PATHS: dict[tuple[object, str], str] = {}  # (cache root, name) -> its copy's path
_LOCK = threading.Lock()  # the link threads of one install find the copy missing at once


def place(cache: Cache, name: str, data: bytes, dst: str) -> bool:
    """Hard-link the cache's copy of ``name`` (holding ``data``) at ``dst``; ``False`` when
    none can be linked there, and the caller writes ``dst`` itself. A copy with as many links
    as the file system allows is replaced by a new one."""
    shared = _checked(cache, name, data)
    for attempt in (1, 2):
        if shared is None:
            return False
        try:
            os.link(shared, dst)
            return True
        except OSError as exc:
            if attempt == 2 or exc.errno != errno.EMLINK:
                return False
        with _LOCK:
            shared = _make(cache, name, data)
    return False


def _checked(cache: Cache, name: str, data: bytes) -> str | None:
    """The path of the cache's copy of ``name``, holding ``data`` (made when missing or
    changed); ``None`` when the cache cannot keep one."""
    path = _PATHS.get((cache.root, name))
    if path is None:
        path = _PATHS[(cache.root, name)] = os.fspath(cache.path("misc", f"shared-{name}"))
    with contextlib.suppress(OSError):
        st = os.stat(path)
        if _CHECKED.get(path) == (st.st_ino, st.st_size, st.st_mtime_ns):
            return path
    with _LOCK:
        return _read_or_make(cache, name, path, data)


def _read_or_make(cache: Cache, name: str, path: str, data: bytes) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            st = os.fstat(fd)
            found = os.read(fd, len(data) + 1)
        finally:
            os.close(fd)
        if found == data and st.st_size == len(data):
            _CHECKED[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
            return path
    except OSError:
        pass
    return _make(cache, name, data)


def _make(cache: Cache, name: str, data: bytes) -> str | None:
    """A new read-only copy of ``name`` holding ``data`` (the cache writes it and renames it
    over the old one: never found half-written); ``None`` when it cannot be written. The
    status kept is that of the file written, read through it."""
    try:
        with cache.put_opened("misc", f"shared-{name}", data) as entry:
            os.fchmod(entry.fileno(), 0o444)
            st = os.fstat(entry.fileno())
    except (CacheError, OSError):
        return None
    path = _PATHS[(cache.root, name)]
    _CHECKED[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return path

"""An unpacked tree in the cache as every later use finds it: loaded, checked intact, or discarded.

``unpack.py`` makes the trees (a manifest of every file: hash, size, and the inode and mtime
it got); here they are read back. A tree is used only while each of its files still has the
size, inode and mtime the manifest gives (:func:`intact`; ``--verify`` re-hashes them), so an
edit through any hard link shows, and a changed tree is discarded and unpacked again.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from pathlib import Path

from ..records import record


@record
class Unpacked:
    """A wheel unpacked in the cache: its tree and manifest."""

    root: Path
    manifest: dict

    @property
    def dist_info(self) -> str:
        return self.manifest["dist_info"]


def intact(unpacked: Unpacked, *, rehash: bool = False) -> str | None:
    """The first file of ``unpacked`` that changed since it was unpacked, or ``None``. By
    default a cheap check (size, mtime and inode against the manifest: an edit through any
    hard link shows); ``rehash`` reads every file and compares its sha256 (``--verify``)."""
    manifest = unpacked.manifest
    stats = manifest.get("stat")
    if not isinstance(stats, list) or len(stats) != len(manifest["files"]):
        return "manifest.json"
    tree = str(unpacked.root)
    for (scheme, rel, digest, size, _x), (ino, mtime) in zip(manifest["files"], stats, strict=True):
        path = f"{tree}/{scheme}/{rel}"
        try:
            st = os.stat(path)
        except OSError:
            return f"{scheme}/{rel}"
        if st.st_size != size or st.st_ino != ino or st.st_mtime_ns != mtime:
            return f"{scheme}/{rel}"
        if rehash:
            try:
                with open(path, "rb") as fh:
                    actual = record_hash_of(fh)
            except OSError:
                return f"{scheme}/{rel}"
            if actual != digest:
                return f"{scheme}/{rel}"
    return None


def record_hash_of(fh) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        h.update(chunk)
    return "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def usable(final: Path, rehash: bool) -> Unpacked | None:
    """The tree at ``final`` if it is there and intact, else ``None`` (a changed one is
    replaced when the wheel is unpacked again)."""
    found = load(final)
    if found is None:
        return None
    if intact(found, rehash=rehash) is None:
        return found
    return None


def discard(tree: Path) -> None:
    """Remove a cache tree (its read-only files need no write bit to be unlinked); moved
    aside first so a half-removed tree is never found under its key."""
    import shutil  # only when a tree is thrown away: a warm install imports none of it

    aside = tree.with_name(f".gone-{tree.name}-{os.getpid()}")
    with contextlib.suppress(OSError):
        os.rename(tree, aside)
        tree = aside
    shutil.rmtree(tree, ignore_errors=True)


def load(final: Path) -> Unpacked | None:
    """The tree at ``final`` with its manifest, or ``None`` (no tree, or no readable one)."""
    try:  # read whole at once: no text layer, no tty or position look-ups (once a tree)
        fd = os.open(f"{final}/manifest.json", os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, os.fstat(fd).st_size + 1)
            while chunk := os.read(fd, 1 << 20):  # grown since the fstat
                data += chunk
        finally:
            os.close(fd)
        manifest = json.loads(data)
    except (OSError, ValueError):
        return None
    return Unpacked(final, manifest)

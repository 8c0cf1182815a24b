"""Set old caches and venvs aside during the measured runs and delete them afterwards.

Its own module so that the runner and the workloads (which both set directories aside) do not
import each other.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path


def set_aside(path: Path, work: Path) -> None:
    """Make ``path`` a new empty directory, moving what was there into ``work/trash``, which
    :func:`empty_trash` deletes once no run is being measured. Deleting a tool's cache (some
    ten thousand files) just before its next cold run made that run create its files where
    the filesystem had just freed thousands of inodes: on this machine's ext4 each new file
    then cost several times as much, for whichever tool ran next (measured with perf: 20-30%
    of a cold install's CPU in the kernel's inode allocator). Runs are now independent of
    what the run before them left."""
    if path.exists():
        trash = work / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        path.rename(trash / uuid.uuid4().hex)
    path.mkdir(parents=True, exist_ok=True)


def empty_trash(work: Path) -> None:
    """Delete what :func:`set_aside` moved away (after the measured runs)."""
    shutil.rmtree(work / "trash", ignore_errors=True)

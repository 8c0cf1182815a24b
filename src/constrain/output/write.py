"""Write a text file atomically: a temp file in the same directory, flushed, then ``os.replace``.

Readers see either the old file or the complete new one, never half of it; an interrupted or
failed write leaves the old file untouched and no temp file behind. Devices and pipes
(``-o /dev/null``) are written into, not replaced. The new file gets the mode
of the file it replaces, or the usual ``0o666`` minus umask when it is new. Whether a path
could be written at all is asked before a command's work (:func:`check_writable`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import OutputError


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8, ``\\n`` line ends) in one step.

    A symbolic link is followed (the file it names is replaced, the link stays); a path that
    is not a regular file -- ``/dev/null``, ``/dev/stdout``, a named pipe -- is written
    straight into, never replaced.

    Raises :class:`~constrain.errors.OutputError` when the directory or file cannot be written.
    """
    shown = path
    data = text.encode("utf-8")
    try:  # what the path names, links followed (/dev/stdout names the process's own fd 1)
        special = not stat.S_ISREG(os.stat(shown).st_mode)
    except OSError:
        special = False
    if special:
        try:
            with open(shown, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from exc
        return
    path = Path(os.path.realpath(path))
    directory = path.parent
    tmp = directory / f".{path.name}.{os.urandom(6).hex()}.tmp"
    try:
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            mode = 0o666  # os.open applies the umask
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if mode != 0o666:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise OutputError(
            f"cannot write {shown}: {exc.strerror or exc}",
            hint="check that the directory exists and is writable, and that the disk has room",
        ) from exc


def check_writable(path: Path, *, make_parents: bool = False) -> None:
    """Raise :class:`OutputError` now, before any work, when ``path`` could not be written
    later: it is a directory, or its directory is missing (unless ``make_parents``: then the
    nearest existing one), not a directory, or not writable. A device or pipe is fine."""
    shown = path
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {shown}: it is a directory",
                          hint="give the path of a file in it")
    if mode is not None and not stat.S_ISREG(mode):
        return  # /dev/null, /dev/stdout, a named pipe: written into
    directory = Path(os.path.realpath(path)).parent
    if make_parents:
        while not os.path.lexists(directory) and directory != directory.parent:
            directory = directory.parent
    if not directory.is_dir():
        why = "is not a directory" if os.path.lexists(directory) else "does not exist"
        raise OutputError(f"cannot write {shown}: {directory} {why}",
                          hint="create the directory first, or give another path")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {shown}: {directory} is not writable",
                          hint="give a path in a directory you can write to")

"""Replacing one distribution in an environment so that it is always wholly old or wholly new.

Each replacement keeps a journal in ``<state>/txn/<name>.json`` (``Interpreter.state_dir``)
naming every file it may touch: ``old`` (the old version's files that exist, plus any file the
new version will overwrite) and ``new`` (every file the new version creates). Old files are
moved aside into ``<name>.old/<i>`` (one rename each, never deleted) before the new ones are
linked; the journal is marked committed only once the new version is whole, and the backup
is dropped after that.

:func:`recover` -- run before every install -- finishes a committed replacement and rolls back
any other: a backed-up old file is renamed back over whatever is at its path, files only the new
version has are removed, and an old file with no backup was never moved, so it is left alone (a
kill while old files were being moved aside loses none). Rolling back is idempotent: a kill
during recovery is recovered by the next run.

A distribution with nothing old (the whole of an install into a new environment) is journalled
in its worker thread's slot, ``new.<i>.json`` (:class:`Slots`), written in place and emptied
once the distribution is whole, instead of a file of its own: a file per distribution cost a new
inode, a close and an unlink each, and allocating inodes is most of an install's kernel time.

An upgrade removes only files its old RECORD lists inside the environment, and never the
environment's own files (``link.environment_file``), whatever that RECORD says. Replacements
that share a path (:func:`sharing_groups`) run one after another, so each journal names the
other's file as old, never as its own new one.

Over 400 lines: the journal's writing, its slots, the replacement it covers and the recovery
that reads it are one contract.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from ..cache.store import Cache
from .link import (environment_file, link, planned_files, refuse_environment_files,
                   temporary_of)
from .link import _destinations, _layout
from .plan import installed_elsewhere
from .unpack import InstallError, Unpacked
from .venv import Interpreter

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _txn_dir(interp: Interpreter) -> Path:
    return interp.state_dir / "txn"


def owners(interp: Interpreter) -> dict[str, set[str]]:
    """Absolute path -> the ``.dist-info`` names whose RECORD lists it, for every distribution
    in the environment (read once per install that replaces or removes something)."""
    import csv  # RECORDs are read only by installs that replace or remove something

    out: dict[str, set[str]] = {}
    for site in interp.site_dirs:
        try:
            entries = [e for e in os.scandir(site) if e.name.endswith(".dist-info")]
        except OSError:
            continue
        for entry in entries:
            try:
                text = Path(entry.path, "RECORD").read_text(encoding="utf-8")
            except OSError:
                continue
            for row in csv.reader(text.splitlines()):
                if row and row[0]:
                    full = os.path.abspath(os.path.join(site, row[0]))
                    out.setdefault(full, set()).add(entry.name)
    return out


def record_files(interp: Interpreter, dist_info: Path,
                 owned: dict[str, set[str]] | None = None) -> list[str]:
    """The absolute paths a distribution's RECORD lists that an upgrade may remove, with the
    ``__pycache__`` files of its modules: only paths inside the environment, never the
    environment's own files (interpreter, ``pyvenv.cfg``, another distribution's metadata...)
    nor, given ``owned`` (:func:`owners`), a file another distribution's RECORD lists too."""
    import csv

    prefix = os.path.abspath(interp.prefix)
    base = dist_info.parent
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8")
    except OSError:
        raise InstallError(
            f"{dist_info.name} has no RECORD, so its files are unknown",
            hint=f"remove it by hand ({dist_info}) and run the install again",
        ) from None
    out: list[str] = []
    seen: set[str] = set()
    for row in csv.reader(text.splitlines()):
        if not row or not row[0]:
            continue
        full = os.path.abspath(os.path.join(base, row[0]))
        if os.path.commonpath([full, prefix]) != prefix or full in seen:
            continue  # never touch anything outside the environment
        seen.add(full)
        if environment_file(interp, full, dist_info.name) is not None:
            continue  # an old RECORD naming bin/python or pyvenv.cfg does not remove them
        if owned is not None and owned.get(full, set()) - {dist_info.name}:
            continue  # shared with another installed distribution: it stays
        out.append(full)
        if full.endswith(".py"):
            cache_dir = os.path.join(os.path.dirname(full), "__pycache__")
            stem = os.path.basename(full)[:-3] + "."
            with contextlib.suppress(OSError):
                for entry in os.scandir(cache_dir):
                    if entry.name.startswith(stem) and entry.name.endswith(".pyc"):
                        p = entry.path
                        if p not in seen:
                            seen.add(p)
                            out.append(p)
    return out


def _prune(paths, stop: set[str]) -> None:
    """Remove directories left empty by removed files (never the scheme directories)."""
    dirs = sorted({os.path.dirname(p) for p in paths}, key=len, reverse=True)
    for d in dirs:
        while d and d not in stop and len(d) > 1:
            pycache = os.path.join(d, "__pycache__")
            with contextlib.suppress(OSError):
                if os.path.isdir(pycache) and not os.listdir(pycache):
                    os.rmdir(pycache)
            try:
                os.rmdir(d)
            except OSError:
                break
            d = os.path.dirname(d)


def _stops(interp: Interpreter, name: str) -> set[str]:
    s = {os.path.abspath(p) for p in interp.scheme(name).values()}
    s.add(os.path.abspath(interp.prefix))
    return s


def _is_file(path: str) -> bool:
    """Is there a file (or a symlink) at ``path``? One ``lstat``: it runs per file."""
    try:
        return not stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _existing(paths, top: str, there: dict[str, bool] | None = None) -> list[str]:
    """The absolute, normalised ``paths`` where a file (or a symlink) is, in order: a path
    whose directory is not there has none, and a directory below ``top`` (the environment's
    prefix) whose parent is not there is not there either, so a new distribution's files
    cost one look per directory that exists, plus one for each new top directory, rather
    than one ``lstat`` per file. ``there`` (filled in) is each directory looked at -> whether
    it is a directory."""
    there = {} if there is None else there

    def is_dir(directory: str) -> bool:
        found = there.get(directory)
        if found is None:
            parent = directory[: directory.rfind(os.sep)]
            if len(parent) > len(top) and not is_dir(parent):
                found = False
            else:
                found = os.path.isdir(directory or os.sep)
            there[directory] = found
        return found

    out = []
    for path in paths:
        d = path[: path.rfind(os.sep)]
        if (there[d] if d in there else is_dir(d)) and _is_file(path):
            out.append(path)
    return out


class Slots:
    """The journals of distributions with nothing old, one file per worker thread
    (``<txn>/new.<i>.json``, opened on the thread's first use, removed by :meth:`close`).
    Each holds the entry of the distribution its thread is installing, written in place at
    offset 0 into the empty file (a kill during that write leaves a torn entry, before
    anything was linked: :func:`recover` drops it), and is emptied again once that
    distribution is whole or rolled back; an empty slot has nothing to recover. The name
    such an entry is for is in the entry (``"name"``), not the file's name."""

    def __init__(self, interp: Interpreter) -> None:
        self._txn = _txn_dir(interp)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[tuple[int, Path]] = []

    def _slot(self) -> tuple[int, Path]:
        slot = getattr(self._local, "slot", None)
        if slot is None:
            with self._lock:
                path = self._txn / f"new.{len(self._open)}.json"
                flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
                try:
                    fd = os.open(path, flags, 0o666)
                except FileNotFoundError:  # the first journal of this environment
                    self._txn.mkdir(parents=True, exist_ok=True)
                    fd = os.open(path, flags, 0o666)
                slot = self._local.slot = (fd, path)
                self._open.append(slot)
        return slot

    def write(self, entry: dict) -> tuple[Path, Callable[[], None]]:
        """Write ``entry`` into this thread's slot: ``(its path, the function that empties
        it)``. A write that fails (a full disk) leaves the slot empty and raises."""
        fd, path = self._slot()
        view = memoryview(_json_text(entry).encode())
        try:
            offset = 0
            while offset < len(view):
                offset += os.pwrite(fd, view[offset:], offset)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            raise
        return path, lambda: os.ftruncate(fd, 0)

    def close(self) -> None:
        """Close and remove every slot (each is empty once its thread's installs ended)."""
        with self._lock:
            slots, self._open = self._open, []
        for fd, path in slots:
            with contextlib.suppress(OSError):
                os.close(fd)
            path.unlink(missing_ok=True)


class Touched:
    """The paths one replacement may touch: the old version's files (its RECORD's, see
    :func:`record_files`) and the new one's (see ``link.planned_files``), worked out before
    any replacement starts, so :func:`sharing_groups` can keep replacements that share a path
    from running at the same time."""

    __slots__ = ("destinations", "new_files", "recorded")

    def __init__(self, interp: Interpreter, name: str, old: Path | None, new: Unpacked | None,
                 owned: dict[str, set[str]] | None) -> None:
        self.recorded = record_files(interp, old, owned) if old is not None else []
        self.destinations = _destinations(interp, new, name) if new is not None else None
        self.new_files = (planned_files(interp, new, name, self.destinations)
                          if new is not None else [])


def sharing_groups(touched: list[Touched]) -> list[list[int]]:
    """The replacements (by position in ``touched``) in groups that share no path with each
    other, each group in its order, the groups in the order of their first: a group's must run
    one after another. Run at the same time, two new distributions writing one file (an old
    style namespace package's ``__init__.py``, a console script of the same name) both
    journalled it as new, and rolling back either deleted the other's file; a file moving from
    a removed or upgraded distribution to another was moved aside or removed under the other."""
    parent = list(range(len(touched)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, t in enumerate(touched):
        for paths in (t.recorded, t.new_files):
            for path in paths:
                j = first.setdefault(path, i)
                if j != i:
                    a, b = root(i), root(j)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(touched)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def replace(
    interp: Interpreter,
    name: str,
    *,
    old: Path | None,
    new: Unpacked | None,
    requested: bool = False,
    owned: dict[str, set[str]] | None = None,
    cache: Cache | None = None,
    slots: Slots | None = None,
    touched: Touched | None = None,
) -> None:
    """Remove the distribution whose dist-info is ``old`` (if any) and install ``new`` (if
    any), under a journal so an interruption leaves it wholly old after :func:`recover` (files
    ``owned`` by other distributions too are kept, see :func:`record_files`). A
    failure here (a full disk, a wheel that would overwrite the environment's own files) rolls
    it back at once and raises :class:`InstallError`. ``cache`` keeps the scripts made for
    this interpreter (``link.launchers``); with nothing old to move aside, the journal is
    written in this thread's slot of ``slots`` (when given) rather than a file of its own.
    ``touched``: its paths, when already worked out."""
    txn = _txn_dir(interp)  # made by the first journal written (_write_json)
    journal = txn / f"{name}.json"
    backup = txn / f"{name}.old"
    if touched is None:
        touched = Touched(interp, name, old, new, owned)
    recorded, destinations, new_files = touched.recorded, touched.destinations, touched.new_files
    if new is not None:
        refuse_environment_files(interp, new, new_files)
    # Everything that will be moved aside: the old version's files that exist, and any other
    # file the new version overwrites (so a rollback puts it back too).
    looked: dict[str, bool] = {}
    old_files = _existing(dict.fromkeys([*recorded, *new_files]), _layout(interp)[0], looked)
    if old_files and backup.exists():  # a stale backup must not be taken for this one's
        _rmtree(backup, ignore_errors=False)
    # Made durable (fsync) and atomic only when old files are about to be moved aside: then a
    # journal lost to a power cut would strand them. With nothing old, a journal still covers
    # any interruption of this process: written in place (a torn one was cut short before
    # anything was linked: recover() drops it), and committing is removing (or emptying) it.
    entry = {"state": "started", "name": name, "old": old_files, "new": new_files,
             "backup": str(backup)}
    done: Callable[[], None] | None = None  # how the journal is dropped (else unlinked)
    if slots is not None and not old_files:
        journal, done = slots.write(entry)
    else:
        _write_json(journal, entry, durable=bool(old_files))
    try:
        if old_files:
            backup.mkdir()
            for i, path in enumerate(old_files):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(path, backup / str(i))
        if new is not None:
            # the directories found above are still there (only files were moved aside)
            link(interp, new, name, requested=requested, destinations=destinations,
                 existing_dirs=[d for d, found in looked.items() if found], cache=cache)
    except BaseException as exc:
        _roll_back(interp, name, journal, entry, done)
        if isinstance(exc, OSError):
            raise _os_error(exc, name) from None
        raise
    if old_files:
        _write_json(journal, dict(entry, state="committed"))
    _finish(interp, name, journal, backup, old_files, new_files, done)


def _rmtree(path: Path, *, ignore_errors: bool = True) -> None:
    """``shutil.rmtree``, imported when a backup is there to remove (an install into a new
    environment has none: shutil brings bz2 and lzma)."""
    import shutil

    shutil.rmtree(path, ignore_errors=ignore_errors)


def _os_error(exc: OSError, name: str) -> InstallError:
    where = exc.filename or ""
    if exc.errno in _DISK_FULL:
        return InstallError(
            f"no space left on the device while installing {name}"
            + (f" ({where})" if where else ""),
            details=[f"{name} was rolled back to what was installed before"],
            hint="free some space (or install into an environment on another disk) and run "
            "the same command again; it picks up where this one stopped")
    return InstallError(
        f"cannot install {name}: {exc.strerror or exc}" + (f": {where}" if where else ""),
        details=[f"{name} was rolled back to what was installed before"],
        hint="check the permissions and free space of the environment, then run again")


def _finish(interp, name, journal: Path, backup: Path, old_files, new_files,
            done: Callable[[], None] | None = None) -> None:
    if old_files:  # else nothing was moved aside: replace() made no backup directory
        _rmtree(backup)
        gone = set(old_files) - set(new_files)
        _prune(gone, _stops(interp, name))
    if done is not None:
        done()
    else:
        journal.unlink(missing_ok=True)


def _roll_back(interp: Interpreter, name: str, journal: Path, data: dict,
               done: Callable[[], None] | None = None) -> None:
    """Put a started replacement back to its old files (see the module docstring); its
    journal is then dropped by ``done`` (a slot emptied), else unlinked."""
    backup = Path(data["backup"])
    old_files, new_files = data["old"], data["new"]
    prefix = os.path.abspath(interp.prefix)
    for i, path in enumerate(old_files):
        src = backup / str(i)
        if os.path.lexists(src):  # moved aside: it goes back over the new file, if any
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(src, path)
        # no backup: never moved (or already put back), so what is at ``path`` is old
    old = set(old_files)
    for path in new_files:
        if os.path.commonpath([os.path.abspath(path), prefix]) != prefix:
            continue
        # a write cut short by the kill leaves its temporary beside the path (old or new)
        doomed = (temporary_of(path),) if path in old else (path, temporary_of(path))
        for p in doomed:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
                os.unlink(p)
    _prune(set(new_files) - old, _stops(interp, name))
    _rmtree(backup)
    if done is not None:
        done()
    else:
        journal.unlink(missing_ok=True)


#: The ASCII characters JSON writes escaped: control characters, DEL, a quote, a backslash.
_ESCAPED = bytes([*range(0x20), 0x7F]) + b'"\\'


def _json_text(data: dict) -> str:
    """``json.dumps(data)``, the same text, with each list of plain paths joined at once: a
    journal names every file of its distribution (thousands an install), and the encoder's
    escaping of each one was most of the journal's cost. A list holding anything but strings
    of printable ASCII without a quote or a backslash (which JSON writes as they are) is left
    to the encoder."""
    parts = []
    for key, value in data.items():
        text = None
        if type(value) is list and value:
            try:
                joined = '", "'.join(value)
            except TypeError:  # not all strings
                joined = None
            # ASCII with no character JSON escapes but the separators' quotes (two each): one
            # pass in C (str.isprintable and count cost more than the encoder saved)
            if joined is not None and joined.isascii() and len(joined) - len(
                    joined.encode("ascii").translate(None, _ESCAPED)) == 2 * len(value) - 2:
                text = f'["{joined}"]'
        parts.append(f"{json.dumps(key)}: {json.dumps(value) if text is None else text}")
    return "{" + ", ".join(parts) + "}"


def _write_json(path: Path, data: dict, *, durable: bool = True) -> None:
    """Write a journal: ``durable``, fsynced through a temporary renamed over ``path``; else
    in place (removed again when the write fails). Makes the journal directory if needed."""
    text = _json_text(data)
    target = path.with_name(path.name + ".tmp") if durable else path
    try:
        fh = open(target, "w", encoding="utf-8")  # noqa: SIM115 -- closed below
    except FileNotFoundError:  # the first journal of this environment
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(target, "w", encoding="utf-8")  # noqa: SIM115 -- closed below
    try:
        with fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        if not durable:
            with contextlib.suppress(OSError):
                os.unlink(target)
        raise
    if durable:
        os.replace(target, path)


def recover(interp: Interpreter, *, dry_run: bool = False,
            warn: Callable[[str], None] = lambda _message: None) -> list[str]:
    """Finish or roll back every distribution an earlier, interrupted install left half-done;
    returns their names (``dry_run``: only names them). Committed ones are completed; started
    ones get their old files back (new ones removed), so each is wholly old again and the plan
    sees it as such -- unless another installer has put a version of its own there since (a
    ``.dist-info`` the journal does not know): that one is left alone, the journal dropped,
    and ``warn`` told."""
    txn = _txn_dir(interp)
    done: list[str] = []
    for journal in sorted(txn.glob("*.json")) if txn.is_dir() else ():
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
            # a slot (Slots) names its distribution in the entry; a file of its own by its name
            name = str(data.get("name") or journal.name[:-5])
            backup = Path(data["backup"])
            old_files, new_files = list(data["old"]), list(data["new"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            if not dry_run:
                journal.unlink(missing_ok=True)  # an empty slot, or torn before any link
            continue
        if dry_run:
            done.append(name)
        elif data.get("state") == "committed":
            _finish(interp, name, journal, backup, old_files, new_files)
            done.append(name)
        elif installed_elsewhere(interp, name, [*old_files, *new_files]):
            warn(f"{name}: another installer changed it after an interrupted constrain install; "
                 "left as that installer made it (the interrupted install's journal dropped)")
            _rmtree(backup)
            journal.unlink(missing_ok=True)
        else:
            _roll_back(interp, name, journal, data)
            done.append(name)
    for tmp in txn.glob("*.tmp") if not dry_run and txn.is_dir() else ():
        tmp.unlink(missing_ok=True)
    return done

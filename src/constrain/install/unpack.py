"""Wheels into the cache: checked, then unpacked once with pypa/installer into a read-only tree.

Before a wheel is unpacked its sha256 is taken again, so a wheel altered in the cache after it
was stored is refused (not read again: a wheel this process, or the one that queued the work,
hash-checked as it downloaded it, while its identity -- device, inode, size, mtime, ctime -- has
not changed since; ``index.files.verified_identity``). Its ZIP structure must read one way only
(``archive.py``) and its RECORD must list exactly its files, with hashes. ``installer`` then
decides each file's scheme; constrain's destination refuses any path that would leave its scheme
directory, and entry points or scripts named like the environment's own launchers. The tree
lands in the cache bucket ``unpacked`` with a manifest of every file: hash, size, and the inode
and mtime it got. Its files are made read-only (environments hard-link them, so an edit through
one would change them all), and every later use checks each file's size, mtime and inode against
the manifest (``trees.intact``; ``--verify`` re-hashes them instead): a changed tree is
unpacked again from its verified wheel. Linking into environments is ``link.py``; replacing distributions ``journal.py``.

Over 400 lines: every check made before a tree is published sits beside the code it guards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from ..cache.store import Cache
from ..errors import ConstrainError
from .trees import Unpacked as Unpacked, discard as discard, intact as intact, usable

#: Bump when the unpacked layout or manifest changes (old entries are then ignored).
_LAYOUT = "l2"
_SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")


class InstallError(ConstrainError):
    """A distribution could not be installed into or removed from the environment."""


class UnsafeWheel(InstallError):
    """A wheel would write outside the environment (``..``, absolute paths, escaping scripts)."""


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _safe_relpath(path: str, what: str, wheel: str) -> str:
    """``path`` normalised, or :class:`UnsafeWheel` when it is absolute or climbs out."""
    if "\\" in path or "\x00" in path or path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise UnsafeWheel(f"{wheel} contains an unsafe {what}: {path!r}",
                          hint="the wheel is malformed or malicious; it was not installed")
    norm = posixpath.normpath(path)
    if norm in (".", "..") or norm.startswith("../"):
        raise UnsafeWheel(f"{wheel} contains an unsafe {what}: {path!r}",
                          hint="the wheel is malformed or malicious; it was not installed")
    return norm


#: Script names a virtual environment's own launchers and activation scripts use. uv refuses
#: entry points named like its launchers (python, python3, python3.X, pythonw...); constrain
#: refuses the activation scripts too. ``pip`` is not reserved: pip's own wheel declares it.
_RESERVED_SCRIPT = re.compile(
    r"(pythonw?(\d+(\.\d+)?t?)?|activate(\..+)?|activate_this\.py|deactivate(\..+)?)"
    r"(\.exe)?", re.IGNORECASE)


def reserved_script(name: str) -> bool:
    """Is ``name`` (a file in the scripts directory) one of the environment's own launchers
    or activation scripts?"""
    return _RESERVED_SCRIPT.fullmatch(name) is not None


def _refuse_reserved(name: str, what: str, wheel: str) -> None:
    if reserved_script(name.rsplit("/", 1)[-1]):
        raise UnsafeWheel(
            f"{wheel} {what}, which would replace the environment's own launcher or "
            "activation script", hint="the wheel is malformed or malicious; it was not "
            "installed (python, python3, python3.X, pythonw and activate* are reserved)")


# ====================================================================== unpacking into the cache


class _CacheDestination:
    """An ``installer`` destination writing into a cache tree and remembering each file."""

    def __init__(self, tree: Path, wheel: str) -> None:
        self.tree = tree
        self.wheel = wheel
        self.files: list[list] = []
        self.stats: list[list[int]] = []  # per file of ``files``: [inode, mtime_ns], sealed
        self._written: set[str] = set()
        self.entry_points: list[list[str]] = []
        self._root = os.fspath(tree)
        self._made: set[str] = set()  # directories already created (one mkdir each, not per file)
        from installer.records import Hash, RecordEntry  # once a wheel, not once a file

        self._hash, self._entry = Hash, RecordEntry

    def write_script(self, name, module, attr, section):
        from installer.records import RecordEntry

        if "/" in name or "\\" in name or name in (".", "..", "") or "\x00" in name:
            raise UnsafeWheel(f"{self.wheel} declares an entry-point script named {name!r}, "
                              "which would escape the scripts directory",
                              hint="the wheel is malformed or malicious; it was not installed")
        _refuse_reserved(name, f"declares an entry-point script named {name!r}", self.wheel)
        self.entry_points.append([name, module, attr, section])
        return RecordEntry(name, None, None)

    def write_file(self, scheme, path, stream, is_executable):
        rel = _safe_relpath(os.fspath(path), "file path", self.wheel)
        if scheme not in _SCHEMES:
            raise UnsafeWheel(f"{self.wheel} writes to an unknown scheme {scheme!r}")
        if scheme == "scripts":
            _refuse_reserved(rel, f"has a script named {rel!r}", self.wheel)
        dest = f"{self._root}/{scheme}/{rel}"
        if dest in self._written:  # two archive names for one path: which one would win?
            raise UnsafeWheel(f"{self.wheel} writes {scheme}/{rel} twice",
                              hint="the wheel is malformed or malicious; it was not installed")
        self._written.add(dest)
        parent = os.path.dirname(dest)
        if parent not in self._made:
            self._mkdirs(parent)
        # A new file (never through a link already there), written unbuffered: no tty check,
        # seek or block-size stat per file, as a buffered open() makes. It is sealed through
        # the open file: made read-only, and its inode and mtime taken for the manifest,
        # without two more lookups of its path.
        whole = getattr(stream, "whole", None)  # archive.Whole: all of the member's bytes
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            if whole is not None:  # one hash, one write
                h = hashlib.sha256(whole)
                size = len(whole)
                _write_all(fd, whole)
            else:
                h = hashlib.sha256()
                size = 0
                while chunk := stream.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
                    _write_all(fd, chunk)
            os.fchmod(fd, 0o555 if is_executable else 0o444)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        self.files.append([scheme, rel, "sha256=" + digest, size, bool(is_executable)])
        self.stats.append([st.st_ino, st.st_mtime_ns])
        return self._entry(rel, self._hash("sha256", digest), size)

    def _mkdirs(self, directory: str) -> None:
        """``directory`` and its parents in the new tree not made yet: one mkdir each."""
        todo = []
        while directory not in self._made and directory != self._root:
            todo.append(directory)
            directory = os.path.dirname(directory)
        for made in reversed(todo):
            os.mkdir(made)
            self._made.add(made)

    def finalize_installation(self, scheme, record_file_path, records):
        self.root_scheme = scheme
        self.record_path = record_file_path


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)[os.write(fd, data):] if data else None  # after a short write,
    while view:  # the rest
        view = view[os.write(fd, view):]


def unpacked_key(wheel_sha256: str) -> str:
    return f"{wheel_sha256.lower()}-{_LAYOUT}"


def unpack(wheel: Path, sha256: str, cache: Cache, filename: str | None = None, *,
           verify: bool = False, identity: tuple | None = None,
           scratch: Path | None = None) -> Unpacked:
    """The unpacked form of ``wheel`` (whose hash is ``sha256``; ``filename`` its real name
    when the path's differs, as in the cache), made once per cache. A tree already there is
    used only if it is intact (:func:`.trees.intact`; re-hashed with ``verify``), else unpacked again.
    The wheel is hashed again first, unless ``identity`` (or, by default, what
    ``index.files.verified_identity`` remembers of this process's download of it) equals its
    identity now: the file was hash-checked as it is. The tree is made in ``scratch`` when
    given (a directory on the cache's file system that the command removes however it ends).

    Raises :class:`UnsafeWheel` for entries that would leave the environment,
    :class:`InstallError` when the wheel's RECORD does not match its contents or the wheel no
    longer has ``sha256``, and ``AmbiguousArchive`` for a ZIP that reads two ways."""
    final = cache.path("unpacked", unpacked_key(sha256))
    found = usable(final, verify)
    if found is not None:
        return found
    final.parent.mkdir(parents=True, exist_ok=True)
    with cache.lock("unpack-" + sha256[:40]):
        found = usable(final, verify)
        if found is not None:
            return found
        import shutil  # shutil (bz2, lzma) and tempfile only when a tree is made
        import tempfile

        data, read_as = _read_small(wheel)
        _check_wheel(wheel, sha256, cache, filename or wheel.name, identity, data, read_as)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=scratch or final.parent))
        try:
            manifest = _unpack_into(wheel, tmp, filename or wheel.name, data)
            (tmp / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
            if os.path.lexists(final):  # a foreign leftover or a damaged tree: replace it
                discard(final)
            os.rename(tmp, final)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _cache_os_error(exc, filename or wheel.name, cache) from None
            raise
    return Unpacked(final, manifest)


def _read_small(wheel: Path) -> tuple[bytes | None, tuple | None]:
    """``(bytes, identity)`` of ``wheel`` when it is no larger than ``archive.IN_MEMORY``: its
    whole content, read once, and the identity (device, inode, size, mtime, ctime) its file had
    before and after the read (``None`` when they differ: it changed meanwhile). The hash check
    and the unpacking then use these very bytes. ``(None, None)`` for a larger wheel or one
    that cannot be read now (the usual path reads it from its file, and says why it fails)."""
    from . import archive

    try:
        with open(wheel, "rb") as fh:
            before = os.fstat(fh.fileno())
            if before.st_size > archive.IN_MEMORY:
                return None, None
            data = fh.read()
            after = os.fstat(fh.fileno())
    except OSError:
        return None, None
    identity = (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns)
    if identity != (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns,
                    before.st_ctime_ns) or len(data) != after.st_size:
        return data, None
    return data, identity


def _check_wheel(wheel: Path, sha256: str, cache: Cache, name: str,
                 identity: tuple | None = None, data: bytes | None = None,
                 read_as: tuple | None = None) -> None:
    """The wheel must still have the hash it was stored under; a cached copy altered since is
    removed (the next run fetches it again) and refused. A wheel whose ``identity`` (device,
    inode, size, mtime, ctime when it was hash-checked at download) still holds is not read:
    writing to, touching or replacing the file would have changed it. With ``data`` (its bytes,
    read while its file had the identity ``read_as``: :func:`_read_small`) the check is of
    those bytes, the ones then unpacked."""
    # index.files (its HTTP client's modules, the models) only where it is needed: a worker
    # process is handed the identity and the bytes, and needs neither
    if identity is None:
        from ..index.files import verified_identity

        identity = verified_identity(wheel, sha256)
    if data is not None:
        if identity is not None and read_as is not None and tuple(identity) == read_as:
            return
        actual = hashlib.sha256(data).hexdigest()
    else:
        from ..index.files import file_identity, sha256_of

        if identity is not None and tuple(identity) == file_identity(wheel):
            return
        actual = sha256_of(wheel)
    if actual.lower() == sha256.lower():
        return
    root = os.path.abspath(cache.root)
    where = os.path.abspath(wheel)
    in_cache = os.path.commonpath([where, root]) == root
    if in_cache:
        with contextlib.suppress(OSError):
            os.unlink(where)
    raise InstallError(
        f"{name} in the cache was changed after it was stored",
        details=[f"expected sha256:{sha256.lower()}", f"found    sha256:{actual}",
                 f"at {where}" + (" (removed)" if in_cache else "")],
        hint="run the same command again to fetch it anew" if in_cache else
        "the file is not the one that was verified; fetch it again")


def _cache_os_error(exc: OSError, wheel: str, cache: Cache) -> InstallError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return InstallError(
            f"no space left on the device while unpacking {wheel} into the cache "
            f"({cache.root})", hint="free some space, or give a cache on another disk with "
            "--cache-dir; nothing was installed")
    return InstallError(f"cannot unpack {wheel} into the cache ({cache.root}): "
                        f"{exc.strerror or exc}", hint="check the cache directory's permissions "
                        "and free space; nothing was installed")


def _not_matching(wheel: str, detail: str) -> InstallError:
    return InstallError(
        f"{wheel} does not match its own RECORD",
        details=[line for line in detail.splitlines()[:5]],
        hint="the wheel was altered after it was built; it was not installed",
    )


def _check_contents(record: list, data_dir: str, dest: _CacheDestination, tree: Path,
                    wheel: str) -> None:
    """Every file written must have the hash and size its RECORD line (of ``record``, the
    parsed RECORD) gives (one pass: the hashes were taken while the files were copied out of
    the archive)."""
    records = {posixpath.normpath(r[0]): r for r in record}
    for scheme, rel, digest, size, _ in dest.files:
        root = scheme == dest.root_scheme
        arc = rel if root else f"{data_dir}/{scheme}/{rel}"
        problem = _record_mismatch(records.get(arc), arc, digest, size, tree / scheme / rel)
        if problem is not None and root:  # a purelib wheel may carry .data/purelib/ too (PEP
            data = f"{data_dir}/{scheme}/{rel}"  # 427): the file came from there
            other = _record_mismatch(records.get(data), data, digest, size, tree / scheme / rel)
            problem = None if other is None else problem if arc in records else other
        if problem is not None:
            raise _not_matching(wheel, problem)


def _record_mismatch(entry, arc: str, digest: str, size: int, path: Path) -> str | None:
    """What is wrong with a written file (``digest``: its sha256 as RECORD writes it) against
    RECORD's ``entry`` for its archive path ``arc``; ``None`` when they agree."""
    if entry is None or not entry[1]:
        return f"{arc} has no hash in RECORD"
    expected = entry[1]
    if not expected.startswith("sha256="):
        algo, _, _value = expected.partition("=")
        try:
            h = hashlib.new(algo, path.read_bytes()).digest()
        except ValueError:
            return f"{arc}: unknown hash {algo}"
        actual = f"{algo}=" + base64.urlsafe_b64encode(h).rstrip(b"=").decode()
    else:
        actual = digest
    if actual != expected or (entry[2] and str(entry[2]) != str(size)):
        return f"{arc}: RECORD says {expected}, the file is {actual}"
    return None


def background_worker() -> None:
    """The initializer of the unpacking worker processes (``app/install_early.py``): they
    yield the CPU to the resolve and its builds (``nice``), since what they make is needed
    only once the resolve is over, when they have the machine to themselves; and their C heap
    keeps glibc's adaptive threshold (``heap.keep_adaptive_threshold``)."""
    from ..heap import keep_adaptive_threshold

    keep_adaptive_threshold()
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def unpack_in_worker(wheel: str, sha256: str, cache_root: str, filename: str,
                     identity: tuple | None = None, scratch: str | None = None) -> None:
    """:func:`unpack` with plain arguments, for a worker process (``app/install_early.py``);
    ``identity`` is what ``index.files.verified_identity`` gave the process that downloaded
    the wheel."""
    unpack(Path(wheel), sha256, Cache(cache_root), filename, identity=identity,
           scratch=None if scratch is None else Path(scratch))


def _without_bytecode(source: Any) -> None:
    """Leave out the bytecode a wheel ships (``__pycache__/*.pyc``, as Flask-AppBuilder's
    2.x wheels do) before installer sees it: installer would skip it too, but with a
    ``RuntimeWarning`` per file, and warnings cannot be silenced for one thread (the unpacking
    threads' ``catch_warnings`` undid each other's, and the warnings reached the user's
    stderr). Nothing is lost: the interpreter writes its own bytecode."""
    contents = source.get_contents
    source.get_contents = lambda: (
        item for item in contents() if "__pycache__" not in item[0][0].split("/")[:-1])


def _unpack_into(wheel: Path, tree: Path, name: str, data: bytes | None = None) -> dict:
    import zipfile
    import zlib

    from installer import install
    from installer.exceptions import InstallerError
    from installer.sources import WheelFile

    from .archive import check_record, checked_members

    dest = _CacheDestination(tree, name)
    try:
        with checked_members(wheel, name, data) as zf:
            zf.filename = name  # installer reads name and version from the file's name
            source = WheelFile(zf)  # type: ignore[arg-type] # what installer reads of a ZipFile
            try:  # RECORD lists every file with a hash; contents are checked while copying
                source.validate_record(validate_contents=False)
            except ValueError as exc:
                raise _not_matching(name, str(exc)) from None
            # Refuse unsafe names before installer joins anything.
            names = source._zipfile.namelist()  # noqa: SLF001 -- the one listing we need
            for entry in names:
                _safe_relpath(entry, "archive entry", name)
            from installer.records import parse_record_file

            record = list(parse_record_file(source.read_dist_info("RECORD").splitlines()))
            check_record([r[0] for r in record], names,
                         lambda detail: _not_matching(name, detail))
            _without_bytecode(source)
            install(source, dest, {})  # type: ignore[arg-type] # duck-typed destination
            _check_contents(record, source.data_dir, dest, tree, name)
            dist_info = source.dist_info_dir
            fields = _dependency_fields(tree / dest.root_scheme / dist_info)
    except ConstrainError:
        raise
    except (InstallerError, ValueError, KeyError, OSError, zipfile.BadZipFile,
            zlib.error) as exc:
        if isinstance(exc, OSError):  # writing the tree: unpack() names the cache
            raise
        if isinstance(exc, (zipfile.BadZipFile, zlib.error)):  # a member's data is damaged
            raise InstallError(f"{name} is not a valid zip archive", details=[str(exc)],
                               hint="the file is damaged; remove it from the cache") from None
        raise InstallError(f"cannot unpack {name}: {exc}") from None
    return {
        "wheel": name,
        "dist_info": dist_info,
        "root": dest.root_scheme,
        "files": dest.files,
        "entry_points": dest.entry_points,
        # Every file was made read-only as it was written (an environment hard-links them:
        # an edit through one link would change them all), and its [inode, mtime_ns] taken
        # then: with its size, what intact() compares.
        "stat": dest.stats,
        "metadata": fields,
    }


def _dependency_fields(dist_info: Path) -> dict:
    """The Requires-Dist lines (as written) and Requires-Python of an unpacked METADATA, kept
    in the manifest: the check before every link compares them with the resolve's metadata
    (``trust.check_metadata``), and the tree's own check (:func:`.trees.intact`) already vouches
    that METADATA has not changed since, so it need not be parsed again each install."""
    from .headers import metadata_headers

    headers = metadata_headers(dist_info)
    rp = headers.get("Requires-Python")
    return {"requires_dist": [str(line) for line in headers.get_all("Requires-Dist") or ()],
            "requires_python": str(rp) if rp is not None else None}

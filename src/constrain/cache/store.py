"""The on-disk cache: versioned buckets of atomically written entries, safe across processes.

Layout: ``<root>/<bucket>-v<N>/<key[:2]>/<key>`` where the key is a filename-safe string made by
``cache.keys``. An entry is written to a temporary file in the same directory and moved into
place with ``os.replace``, so readers see either the old entry or the whole new one, never a
half-written file -- even when the writer is killed. Entries may carry a small JSON sidecar
(``<key>.meta``) for HTTP validators and fetch times, published after its body (:meth:`Cache.put`).
Entries are created readable by their owner only (``mkstemp``): pages of an authenticated
index, and the URLs in them, are nobody else's to read.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from typing import BinaryIO
from pathlib import Path

from ..errors import CacheError

# Bump a bucket's version when its entry format changes; old buckets are simply ignored.
BUCKETS = {
    "pages": 1,  # index pages (raw bytes as served) + meta {url, etag, last_modified, fetched, content_type}
    # parsed CoreMetadata JSON, keyed by file identity (sha256) -- kept forever; v2: with the
    # unreadable Requires-Dist lines (an older reader would drop them silently)
    "metadata": 2,
    "files": 1,  # whole downloaded files (wheels, sdists), keyed by sha256
    "unpacked": 1,  # unpacked wheels ready to link into environments
    "built": 1,  # wheels built from sdists, keyed by sdist hash + target
    "constraints": 1,  # fetched constraint files (e.g. Airflow's), keyed by URL
    # parsed index pages: files grouped by version (index/pages/listing.py format); v2: a
    # header read alone, versions in their pickle state, rows carrying their parsed names
    # (format 3 in the header: a JSON page's entries kept as served; format 2 still read)
    "listings": 2,
    "resolutions": 1,  # whole resolutions (memo.py), valid while their inputs are unchanged
    "reconstructions": 1,  # what a reconstruction learnt: moves, sdists that do not build
    "misc": 1,
    # what a run read from listings and metadata, with the identities of those entries, as
    # one pickled snapshot per set of sources (index/facts.py)
    "facts": 1,
}


def default_cache_dir(environ: dict[str, str] | None = None) -> Path:
    """``$CONSTRAIN_CACHE_DIR`` or the platform's user cache directory for constrain."""
    env = os.environ if environ is None else environ
    if env.get("CONSTRAIN_CACHE_DIR"):
        return Path(env["CONSTRAIN_CACHE_DIR"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("constrain", appauthor=False))


def cache_root(given: str | os.PathLike[str] | None,
               environ: dict[str, str] | None = None) -> Path:
    """The cache directory of a command, absolute: ``given`` (``--cache-dir``, ``~``
    expanded), else :func:`default_cache_dir`. An empty ``--cache-dir``, or a path that is
    (or lies under) something other than a directory, is a :class:`UsageError` now: every
    write would fail later, after the command had gone on without its cache."""
    from ..errors import UsageError

    if given is not None and not os.fspath(given).strip():
        raise UsageError("--cache-dir is empty",
                         hint="give a directory, or leave --cache-dir out for the default one")
    root = Path(os.path.abspath(
        Path(given).expanduser() if given is not None else default_cache_dir(environ)))
    existing = root
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        why = ("is not a directory" if existing == root
               else f"cannot be made: {existing} is not a directory")
        raise UsageError(f"the cache directory {root} {why}", hint="give --cache-dir (or "
                         "CONSTRAIN_CACHE_DIR) a directory, or a path where one can be made")
    return root


class Cache:
    """A cache rooted at ``root``. Every method is safe to call from several threads and
    processes at once; failures to *write* are reported as :class:`CacheError`, failures to
    *read* are treated as a miss."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._dirs: set[Path] = set()  # directories known to exist (saves a syscall a write)
        self._bucket_dirs: dict[str, str] = {}  # bucket name -> its directory, as a string

    def _ensure_dir(self, directory: Path) -> None:
        if directory not in self._dirs:
            directory.mkdir(parents=True, exist_ok=True)
            self._dirs.add(directory)

    # ------------------------------------------------------------------ paths
    def bucket(self, name: str) -> Path:
        return self.root / f"{name}-v{BUCKETS[name]}"

    def path(self, bucket: str, key: str) -> Path:
        """Where the entry ``key`` of ``bucket`` lives (it may not exist)."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"bad cache key {key!r}")
        return self.bucket(bucket) / key[:2] / key

    def _file(self, bucket: str, key: str) -> str:
        """:meth:`path` as a string, for reads: a warm resolve reads hundreds of entries, and
        building a :class:`Path` for each cost more than reading the small ones."""
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"bad cache key {key!r}")
        directory = self._bucket_dirs.get(bucket)
        if directory is None:
            directory = self._bucket_dirs[bucket] = str(self.bucket(bucket))
        return f"{directory}/{key[:2]}/{key}"

    # ------------------------------------------------------------------ bytes
    def get(self, bucket: str, key: str) -> bytes | None:
        try:
            with open(self._file(bucket, key), "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def has(self, bucket: str, key: str) -> bool:
        """Is there an entry ``key`` in ``bucket``? (One stat; nothing is read.)"""
        return os.path.exists(self._file(bucket, key))

    def get_stat(self, bucket: str, key: str) -> tuple[bytes, os.stat_result] | None:
        """:meth:`get`, with the status of the file read (what says later that the entry is
        still the one read: ``index/facts.py``)."""
        try:
            with open(self._file(bucket, key), "rb") as fh:
                return fh.read(), os.fstat(fh.fileno())
        except OSError:
            return None

    def open(self, bucket: str, key: str) -> BinaryIO | None:
        """The entry ``key`` of ``bucket`` opened for reading (the caller closes it); ``None``
        when there is none. What is read through it stays one whole entry even when a writer
        replaces the entry meanwhile: ``os.replace`` gives the name to a new file and leaves
        the open one as it was."""
        try:
            return open(self._file(bucket, key), "rb")
        except OSError:
            return None

    def put(self, bucket: str, key: str, data: bytes, meta: dict | None = None) -> Path:
        """Write ``data`` (and ``meta``) atomically; returns the entry's path.

        The old sidecar goes first, then the body is published, then the new sidecar, each
        by one rename: a process killed in between leaves a body with no sidecar (read as an
        entry without validators, so it is fetched again), never the validators of one body
        beside another (an ETag of the new page with the old page would be revalidated as
        current for ever)."""
        return self._put(bucket, key, data, meta, reopen=False)[0]

    def put_opened(self, bucket: str, key: str, data: bytes, meta: dict | None = None
                   ) -> BinaryIO:
        """:meth:`put`, and the entry written comes back opened for reading (the caller closes
        it), as :meth:`open` gives one: what is read through it is ``data``, even when another
        writer replaces the entry meanwhile (it is opened before it is published). A caller
        may then drop ``data`` and read the parts it needs when it needs them."""
        entry = self._put(bucket, key, data, meta, reopen=True)[1]
        assert entry is not None
        return entry

    def _put(self, bucket: str, key: str, data: bytes, meta: dict | None, *, reopen: bool
             ) -> tuple[Path, BinaryIO | None]:
        dest = self.path(bucket, key)
        sidecar = dest.with_name(dest.name + ".meta")
        if meta is not None:
            try:
                os.unlink(sidecar)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._write_error(exc) from exc
        entry = self._atomic_write(dest, data, reopen=reopen)
        if meta is not None:
            try:
                self._atomic_write(sidecar, json.dumps(meta).encode())
            except BaseException:
                if entry is not None:
                    entry.close()
                raise
        return dest, entry

    def get_meta(self, bucket: str, key: str) -> dict | None:
        try:
            with open(self._file(bucket, key) + ".meta", "rb") as fh:
                return json.loads(fh.read())
        except (OSError, ValueError):
            return None

    def touch_meta(self, bucket: str, key: str, meta: dict) -> None:
        """Replace only the sidecar (e.g. after an HTTP 304 revalidation)."""
        dest = self.path(bucket, key)
        self._atomic_write(dest.with_name(dest.name + ".meta"), json.dumps(meta).encode())

    def age(self, bucket: str, key: str) -> float | None:
        """Seconds since the entry's sidecar says it was fetched (``None``: no entry)."""
        meta = self.get_meta(bucket, key)
        if not meta or "fetched" not in meta:
            return None
        return max(0.0, time.time() - float(meta["fetched"]))

    # ------------------------------------------------------------------ files
    @contextlib.contextmanager
    def writer(self, bucket: str, key: str, scratch: Path | None = None
               ) -> Iterator[tuple[Path, Path]]:
        """Yield ``(temp_path, final_path)``: write the temp file, and on a clean exit it is
        moved into place; on an exception it is removed. For large files written in streams.
        The temp file is made in ``scratch`` when given (a directory on the cache's file
        system that the command removes however it ends: a killed writer leaves nothing)."""
        dest = self.path(bucket, key)
        self._ensure_dir(dest.parent)
        import tempfile  # here: a command that writes no cache entry does without it

        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=scratch or dest.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            yield tmp_path, dest
            os.replace(tmp_path, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp_path.unlink()
            raise

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive inter-process lock (``fcntl.flock``) for work two processes could race
        on, such as unpacking the same wheel."""
        lock_dir = self.root / "locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        fh = open(lock_dir / f"{name}.lock", "a+b")  # noqa: SIM115 -- held for the block
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - Windows: best effort
                pass
            yield
        finally:
            fh.close()

    # ------------------------------------------------------------------ internals
    def _atomic_write(self, dest: Path, data: bytes, *, reopen: bool = False
                      ) -> BinaryIO | None:
        """Write ``data`` to ``dest`` through a temporary file and one rename; with ``reopen``,
        the file written comes back opened for reading (before the rename: it is this file
        whatever replaces ``dest`` later)."""
        import tempfile

        entry: BinaryIO | None = None
        try:
            self._ensure_dir(dest.parent)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=dest.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                if reopen:
                    entry = open(tmp, "rb")  # noqa: SIM115 -- handed to the caller
                os.replace(tmp, dest)
            except BaseException:
                if entry is not None:
                    entry.close()
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            raise self._write_error(exc) from exc
        return entry

    def _write_error(self, exc: OSError) -> CacheError:
        return CacheError(
            f"cannot write to the cache at {self.root}: {exc.strerror or exc}",
            hint="free some disk space, fix the permissions, or choose another "
            "directory with --cache-dir or CONSTRAIN_CACHE_DIR",
        )

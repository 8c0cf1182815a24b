"""Whole-file downloads: fetch a wheel or sdist once, verify its hash, keep it in the cache.

Files live in the cache bucket ``files`` under ``<sha256>_<filename>`` (the real filename is kept
at the end so pip, uv and ``installer`` can use the cached path as is). Files the index lists
without a sha256 are keyed by a digest of their URL instead -- index file URLs are immutable.
A file whose hash does not match never reaches the cache. ``file://`` URLs (find-links
directories, wheelhouses) are used in place.

A file this process downloaded and hash-checked is remembered with its identity (device, inode,
size, mtime and ctime, taken on the open file that was hashed and again once it was moved into
place): :func:`verified_identity` lets the unpacking step skip hashing it a second time while
that identity holds. Any write, ``chmod``, ``utime`` or replacement of the file changes its
ctime or inode, so a file altered since is hashed again (and refused).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from ..cache.keys import file_key
from ..cache.store import Cache
from ..errors import HashMismatch, NetworkError, redact_url
from ..models import DistFile
from ..reporting import NULL_REPORTER, Reporter
from .transport.client import HttpClient, file_url_to_path

_CHUNK = 1 << 20
# Ask for the bytes as stored: a transparently compressed body would not match the file's hash.
_IDENTITY = {"Accept-Encoding": "identity"}


def file_cache_key(file: DistFile) -> str:
    """The ``files`` bucket key of ``file``: its sha256 when known, else a digest of its URL,
    followed by ``_`` and the filename."""
    digest = file.sha256 or "u" + file_key(file.cache_identity())
    return f"{digest.lower()}_{file.filename}"


def sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``, read in chunks."""
    return _sha256_and_stat(path)[0]


def _sha256_and_stat(path: Path) -> tuple[str, os.stat_result | None]:
    """The hex sha256 of the file at ``path`` and the ``fstat`` of the open file it was read
    from (``None`` when the bytes read are not the file's size: it changed while read)."""
    h = hashlib.sha256()
    read = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            read += len(chunk)
        st = os.fstat(fh.fileno())
    return h.hexdigest(), (st if st.st_size == read else None)


Identity = tuple[int, int, int, int, int]
_VERIFIED: dict[str, tuple[str, Identity]] = {}  # path -> (sha256, identity), this process
_VERIFIED_LOCK = threading.Lock()


def file_identity(path: str | os.PathLike[str]) -> Identity | None:
    """``(device, inode, size, mtime_ns, ctime_ns)`` of ``path``, or ``None`` when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def verified_identity(path: str | os.PathLike[str], sha256: str) -> Identity | None:
    """The identity ``path`` had when this process checked that it hashes to ``sha256``, or
    ``None`` (never checked here, or checked against another hash). Whoever trusts it must
    compare it with :func:`file_identity` of the file as it is now."""
    with _VERIFIED_LOCK:
        found = _VERIFIED.get(os.path.abspath(path))
    if found is None or found[0] != sha256.lower():
        return None
    return found[1]


def _remember_verified(final: Path, sha256: str, hashed: os.stat_result | None) -> None:
    """Remember ``final`` (just moved into place) as hashing to ``sha256`` if it is still the
    file that was hashed: same device, inode, size and mtime (the move changed only its ctime,
    which is taken now)."""
    if hashed is None:
        return
    now = file_identity(final)
    if now is None or now[:4] != (hashed.st_dev, hashed.st_ino, hashed.st_size,
                                  hashed.st_mtime_ns):
        return
    with _VERIFIED_LOCK:
        _VERIFIED[os.path.abspath(final)] = (sha256.lower(), now)


def note_verified(path: str | os.PathLike[str], sha256: str, identity: Identity | None) -> None:
    """Remember ``path`` as hashing to ``sha256`` while it has ``identity``: what
    :func:`verified_identity` gave the helper process of this one that downloaded and
    checked it (``install/fetch_worker.py``)."""
    if identity is None or file_identity(path) != tuple(identity):
        return
    with _VERIFIED_LOCK:
        _VERIFIED[os.path.abspath(path)] = (sha256.lower(), tuple(identity))  # type: ignore[assignment]


def cached_path(file: DistFile, cache: Cache | None) -> Path | None:
    """The cached copy of ``file`` when there is one (no request made), else ``None``.

    A ``file://`` URL counts as cached when the file exists: it is already local."""
    if file.url.startswith("file:"):
        path = file_url_to_path(file.url.split("#", 1)[0])
        return path if path.is_file() else None
    if cache is None:
        return None
    path = cache.path("files", file_cache_key(file))
    return path if path.is_file() else None


def verify(file: DistFile, actual_sha256: str) -> None:
    """Raise :class:`HashMismatch` when the index gave a sha256 for ``file`` and it differs."""
    expected = file.sha256
    if expected and expected.lower() != actual_sha256.lower():
        raise HashMismatch(
            f"{file.filename} (from {redact_url(file.url)})",
            expected=f"sha256:{expected.lower()}",
            actual=f"sha256:{actual_sha256}",
            **({"hint": _changed_locally(file)} if file.url.startswith("file:") else {}),
        )


def _changed_locally(file: DistFile) -> str:
    """The way out for a local file (``file://``) that no longer has its hash: nothing was
    served, so neither the index nor ``--refresh`` has anything to do with it. In a wheelhouse
    the hash is its manifest's (only the files it lists are used)."""
    path = file_url_to_path(file.url.split("#", 1)[0])
    manifest = path.parent / "manifest.json"
    if manifest.is_file():
        return (f"the file no longer matches {manifest}: it changed after it was downloaded "
                f"and vetted; download it again with `constrain download ... --dest "
                f"{path.parent}` (and have it vetted again), or put the vetted copy back")
    return (f"{path} changed after its listing gave that hash; put the original file back, "
            "or remove it")


def store_bytes(file: DistFile, data: bytes, cache: Cache | None) -> Path | None:
    """Keep a whole body already fetched (e.g. a server that ignored a Range header) in the
    cache, when it matches the file's hash. Returns the cached path, or ``None`` when there is
    no cache or the body does not match (the caller re-downloads when it needs the file)."""
    if cache is None or file.url.startswith("file:"):
        return None
    actual = hashlib.sha256(data).hexdigest()
    if file.sha256 is None or file.sha256.lower() != actual:
        return None
    return cache.put("files", file_cache_key(file), data)


def download(
    client: HttpClient,
    file: DistFile,
    cache: Cache | None,
    *,
    dest_dir: Path | None = None,
    reporter: Reporter = NULL_REPORTER,
    scratch: Path | None = None,
) -> Path:
    """Return a local path holding the whole of ``file``, downloading it if needed.

    With a cache the file is streamed to a temporary file in the ``files`` bucket, its sha256
    checked (:class:`HashMismatch` leaves nothing behind) and moved into place atomically; a
    cached copy is re-used without any request. Without a cache it is written to ``dest_dir``
    (a new temporary directory when not given, which the caller then owns). ``scratch``: where
    the file is written until it is checked (see :meth:`Cache.writer`). Raises
    :class:`NetworkError` when the file cannot be fetched and ``OfflineMissing`` under
    ``--offline`` when it is not cached.
    """
    local = cached_path(file, cache)
    if local is not None:
        if file.url.startswith("file:"):
            verify(file, sha256_of(local))
        return local
    url = file.url.split("#", 1)[0]
    reporter.info(f"downloading {file.filename}")
    if cache is not None:
        key = file_cache_key(file)
        with cache.lock("files-" + key[:40]):
            final = cache.path("files", key)
            if final.is_file():  # another process finished it while we waited
                return final
            with cache.writer("files", key, scratch) as (tmp, final):
                hashed = _fetch(client, url, tmp, file)
            if file.sha256:
                _remember_verified(final, file.sha256, hashed)
            return final
    if dest_dir is None:
        import tempfile  # only without a cache: a resolve from the cache imports no shutil

        out_dir = Path(tempfile.mkdtemp(prefix="constrain-"))
    else:
        out_dir = Path(dest_dir)
    dest = out_dir / file.filename
    part = out_dir / (file.filename + ".part")
    try:
        _fetch(client, url, part, file)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


def _fetch(client: HttpClient, url: str, dest: Path, file: DistFile) -> os.stat_result | None:
    """Fetch ``url`` into ``dest`` and check it; the ``fstat`` of the file that was hashed
    (see :func:`_sha256_and_stat`)."""
    r = client.stream_to(url, dest, _IDENTITY)
    if not r.ok:
        raise NetworkError(
            f"could not download {file.filename}: HTTP {r.status} from {redact_url(url)}",
            url=redact_url(url),
            hint="the index listed a file it cannot serve; try again later or --refresh",
        )
    got = Path(dest).stat().st_size
    if file.size is not None and got != file.size and not file.sha256:
        # the one check a hash-less file gets (with a sha256, the hash check speaks)
        raise NetworkError(
            f"could not download {file.filename}: {got} bytes arrived, the index lists "
            f"{file.size} (from {redact_url(url)})",
            url=redact_url(url),
            hint="the file or the index page changed while downloading; try again or --refresh",
        )
    actual, hashed = _sha256_and_stat(dest)
    verify(file, actual)
    return hashed

"""A wheel downloaded by an unpacking worker process, not by the process resolving.

A cold install's resolving process is bound by its GIL: the resolver, the page parsing and
every download's HTTP/2 frames, hashing and writing share it, while a helper core waits for
work (benchmarks/README.md). The wheels an install downloads whole (exact pins, see
``app/install_early.py``) are therefore fetched by the unpacking workers, which run several
such jobs at once (``processes.spawn_pool(concurrency=...)``), each worker over an HTTP/2
connection of its own made like the command's (:meth:`HttpClient.settings`). The job puts the
hash-checked file in the cache exactly as ``index.files.download`` does here, and answers with
the wheel's ``METADATA`` for the resolver and the identity of the file it checked, so that
neither is read or hashed again in the resolving process.

The job is an optimisation: when it fails for any reason, the caller downloads the file itself,
and any error is raised there as usual.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..index.transport.client import HttpClient
    from ..models import DistFile

_client: HttpClient | None = None
_client_lock = threading.Lock()


def _client_like(settings: dict) -> HttpClient:
    """This worker's client, made on its first job (one connection for all its jobs)."""
    global _client
    with _client_lock:
        if _client is None:
            from ..index.transport.client import HttpClient

            _client = HttpClient.like(settings)
        return _client


def fetch_in_worker(file: DistFile, cache_root: str, settings: dict, scratch: str | None = None
                    ) -> tuple[str, bytes, tuple | None, int, tuple[int, int]]:
    """Download ``file`` (a wheel) into the cache at ``cache_root`` with a client made from
    ``settings``, writing it in ``scratch`` until it is checked (the command removes that
    directory however it ends: a worker killed halfway leaves no partial file); ``(path,
    METADATA bytes, identity of the file hash-checked, this process's id, (requests, bytes)
    this process's client made and received so far)``."""
    from ..cache import Cache
    from ..index.files import download, sha256_of, verified_identity
    from ..index.metadata.wheel import wheel_metadata_from_zip

    client = _client_like(settings)
    path = download(client, file, Cache(cache_root),
                    scratch=None if scratch is None else Path(scratch))
    digest = file.sha256 or sha256_of(path)
    data = wheel_metadata_from_zip(path, file.project, file.filename)
    counters = client.counters
    return (str(path), data, verified_identity(path, digest), os.getpid(),
            (counters.requests, counters.bytes_received))

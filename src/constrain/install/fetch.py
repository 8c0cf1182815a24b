"""Everything an install needs, ready before the environment is touched: fetched, verified, unpacked.

Files are downloaded in parallel (``index.files.download``: streamed to the cache, sha256 checked
against the index or lock hash, moved into place atomically), sdists built into wheels, and each
wheel unpacked into the cache. A wheel already unpacked there (every one, in a warm install) is
only checked (``trees.usable``), in the calling thread, while the pool fetches the others. Any
failure -- a hash mismatch, an unsafe wheel, a missing file -- raises before a single file of
the environment has changed.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from collections.abc import Callable
from typing import Any
from pathlib import Path

from ..cache.store import Cache
from ..errors import BuildError, ConstrainError, OfflineMissing
from ..index.transport.client import HttpClient
from ..models import DistFile, Pin
from ..records import record
from ..reporting import NULL_REPORTER, Reporter
from ..target import TargetEnvironment
from .trees import usable
from .unpack import InstallError, Unpacked, UnsafeWheel, unpack


@record
class Ready:
    """One pin, unpacked in the cache and ready to link."""

    pin: Pin
    unpacked: Unpacked
    downloaded: bool
    built: bool


def _workers(n: int) -> int:
    """Threads for ``n`` jobs of file work (``CONSTRAIN_INSTALL_WORKERS``, else one per core,
    2 to 8): more threads than cores only contend for the GIL and the directories' locks."""
    default = min(8, max(2, os.cpu_count() or 2))
    return max(1, min(n, int(os.environ.get("CONSTRAIN_INSTALL_WORKERS", default))))


def _tree_at_hand(file: DistFile, cache: Cache) -> Path | None:
    """Where the tree of ``file`` is, when ``file`` is a wheel with a sha256 whose copy and
    tree are both in ``cache`` (looked up, not checked), else ``None``."""
    from ..index.files import cached_path
    from .unpack import unpacked_key

    if not file.is_wheel or not file.sha256 or file.url.startswith("file:"):
        return None
    tree = cache.path("unpacked", unpacked_key(file.sha256))
    if not os.path.isfile(f"{tree}/manifest.json") or cached_path(file, cache) is None:
        return None
    return tree


def build_envs(cache: Cache, build_index, reporter: Reporter, source=None):
    """The build environments for an install's sdists, filled by ``source`` (the session's
    build requirements: its cut-off, sources and ``--build-constraint`` files)."""
    from ..build.sdist import BuildEnvs

    return BuildEnvs(cache, build_index=build_index, reporter=reporter, source=source)


def prepare(
    pins: list[Pin],
    *,
    client: HttpClient,
    cache: Cache,
    target: TargetEnvironment,
    build_index=None,
    offline: bool = False,
    reporter: Reporter = NULL_REPORTER,
    build_source: Callable[[], Any] | None = None,
) -> list[Ready]:
    """Fetch, verify, build and unpack ``pins`` in parallel; raise on the first failure.
    ``build_source`` gives the build requirements' source (the session's), asked only by the
    first build: an install of wheels does not import the build machinery."""
    from ..index.files import cached_path, download, sha256_of

    envs = None
    envs_lock = threading.Lock()

    def shared_envs():
        """The build environments, made by the first build (a wheel built earlier from a
        pinned sdist needs none: the build tools are not even imported)."""
        nonlocal envs
        with envs_lock:
            if envs is None:
                envs = build_envs(cache, build_index, reporter,
                                  build_source() if build_source is not None else None)
            return envs

    def one(pin: Pin) -> Ready:
        file = pin.file
        local = cached_path(file, cache)
        was_cached = local is not None
        if offline and not was_cached:
            raise OfflineMissing(f"{file.filename} (for {pin.display_name}=={pin.version})",
                                 hint="add the file to the wheelhouse, or run without --offline")
        # a cached copy is what download() gives (it looks again; a file:// one's hash checked)
        path = local if local is not None and not file.url.startswith("file:") else download(
            client, file, cache, reporter=reporter)
        digest = file.sha256 or sha256_of(path)
        name = file.filename
        if file.is_wheel:
            unpacked = unpack(Path(path), digest, cache, name)
        else:
            from .archive import AmbiguousArchive
            from .build import build_for, cached_build, forget_build

            source = build_source() if build_source is not None else None
            rules = source.identity() if source is not None else None
            sdist, earlier = path, cached_build(digest, target, cache, rules)

            def build() -> Path:
                try:
                    return build_for(sdist, digest, target, cache, build_index=build_index,
                                     envs=shared_envs(), reporter=reporter,
                                     filename=file.filename)
                except BuildError as exc:  # the pin that needed it: the caller names its chain
                    exc.pin = exc.pin or (pin.name, pin.version)
                    raise

            path = earlier or build()
            name = Path(path).name.split("_", 1)[1]
            try:
                unpacked = unpack(Path(path), sha256_of(path), cache, name)
            except (InstallError, AmbiguousArchive) as exc:  # one built earlier, damaged
                if earlier is None or isinstance(exc, UnsafeWheel):  # since: built again
                    raise
                reporter.warning(f"the wheel built earlier from {file.filename} is damaged "
                                 f"in the cache ({path}: {exc.message}); building it again")
                forget_build(Path(path))
                path = build()
                unpacked = unpack(Path(path), sha256_of(path), cache, name)
        reporter.advance("download")
        return Ready(pin, unpacked, downloaded=not was_cached, built=not file.is_wheel)

    def at_hand(pin: Pin, tree: Path) -> Ready | None:
        """``pin``'s tree, when it is intact: checked in this thread (a few thousand
        ``stat`` calls, each of which would hand the GIL to another thread and back)."""
        found = usable(tree, False)
        if found is None:
            return None
        reporter.advance("download")
        return Ready(pin, found, downloaded=False, built=False)

    reporter.start("download", total=len(pins), unit="files")
    try:
        if not pins:
            return []
        # A wheel whose file and tree are in the cache (a warm install: all of them) needs no
        # thread: it is only checked. The others start first, in the pool; the checks of the
        # trees at hand go on meanwhile. A tree found changed goes to the pool too.
        trees = [_tree_at_hand(p.file, cache) for p in pins]
        ready: list[Ready | None] = [None] * len(pins)
        with ThreadPoolExecutor(_workers(len(pins)), thread_name_prefix="constrain-fetch") as ex:
            futures = {i: ex.submit(one, p) for i, p in enumerate(pins) if trees[i] is None}
            for i, tree in enumerate(trees):
                if tree is None:
                    continue
                ready[i] = at_hand(pins[i], tree)
                if ready[i] is None:  # changed since it was unpacked: unpacked again
                    futures[i] = ex.submit(one, pins[i])
            done, pending = wait(list(futures.values()), return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            errors = [e for f in done if (e := f.exception()) is not None]
            if errors:
                first = next((e for e in errors if isinstance(e, ConstrainError)), errors[0])
                raise first
            for i, f in futures.items():
                ready[i] = f.result()
            return [r for r in ready if r is not None]
    finally:
        reporter.finish("download")
        if envs is not None:
            envs.close()

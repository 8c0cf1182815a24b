"""Work that starts while the install's resolve is still running: downloads, builds, unpacking.

An install will fetch every file it pins, so it need not wait for the resolve to end: each pin
starts its download (and unpacking into the cache) as soon as the resolver makes it, pinned
sdists are built then too, and exactly pinned wheels are downloaded whole at once. Everything
lands in the cache, verified, where ``fetch.prepare`` finds it; failures are left for that step.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .session import Session
from ..reporting import Reporter

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from ..processes import WorkerPool


#: the processes that unpack wheels while an install's resolve goes on
UNPACKERS = 2
#: jobs each of them runs at once: unpacking, and downloads that mostly wait on the network
#: (``install/fetch_worker.py``), as many in all as the resolve's prefetch threads
WORKER_JOBS = 6
#: the priority of a download in the workers' queue: before any unpacking (the resolve waits
#: for the wheel's metadata), the largest first, as the prefetch pool orders them
_FETCH_FIRST = -float(1 << 50)


def spare_core() -> bool:
    """Has this process more usable cores (its CPU affinity) than the unpacking workers
    take?"""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        cpus = os.cpu_count() or 1
    return cpus > UNPACKERS


def early_build(session: Session, target, reporter: Reporter):
    """``build(sdist, sha256, filename) -> wheel``, as the fetch step builds (same cache, same
    build environments), for sdists pinned while the resolve goes on.

    Such a build runs while the unpacking workers, the page helper and the downloads keep
    the cores busy. Its wheel hook is run beside ``get_requires_for_build_wheel`` only where
    a core is left over (:func:`spare_core`): on two cores the early run made a cold install
    of Airflow's set slower (python-nvd3's hooks each import setuptools; 10 alternated pairs,
    user+sys 0.5 s more and the wall 0.25 s longer with it). The fetch step's builds, after the
    resolve and the unpacking, keep it."""
    envs = None
    speculate = spare_core()

    def build(sdist, sha256, filename):
        nonlocal envs
        from ..install.build import build_for
        from ..install.fetch import build_envs

        if envs is None:
            envs = build_envs(session.cache, session.settings, reporter, session.build_source)
        return build_for(sdist, sha256, target, session.cache, build_index=session.settings,
                         envs=envs, reporter=reporter, filename=filename, speculate=speculate)

    return build


def exact_pins(prepared):
    """``file -> bool``: is ``file`` of a version the inputs pin exactly (``name==1.2``, as
    requirement or constraint)? Those wheels are as good as chosen, so the install downloads
    them whole right away (and reads their metadata from the file)."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    exact: dict = {}
    for req, _origin in (*prepared.requirements, *prepared.constraints):
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
            try:
                exact[canonicalize_name(req.name)] = Version(specs[0].version)
            except InvalidVersion:
                continue
    return lambda file: exact.get(file.project) == file.version


class EarlyDownloads:
    """Wheels start downloading (and unpacking into the cache) as the resolver pins them, so
    fetching overlaps resolving (a cold install is otherwise resolve time plus download time);
    a pinned sdist is built into a wheel then too (``build(sdist, sha256, filename)``). Exact
    pins come earlier still: the resolve reads their metadata from the whole file (built, for
    an sdist) and hands each on as soon as it is in the cache (:meth:`.session.WholeFiles.fetched`), so
    unpacking runs beside the whole resolve, not after its first pins. Each
    download, built wheel and unpacked tree lands in the cache, hash-checked, where the fetch
    step finds them; failures are left for that step to report. Versions already installed are
    not fetched.

    Unpacking (installer's checks, hashing and writing every file) runs in worker processes,
    because the resolve beside it keeps this process's GIL busy (figures in
    benchmarks/README.md). A download thread queues its wheel for them and goes on to the next
    file, so a wheel that has arrived never waits for a thread before it is queued. The
    wheels the resolve reads whole are downloaded by those workers too (:meth:`fetch_whole`).
    Unpacked trees are published atomically, so a worker stopped halfway leaves nothing the
    fetch step would use."""

    def __init__(self, session: Session, installed: dict, build=None) -> None:
        self.session = session
        self.installed = {name: str(dist.version) for name, dist in installed.items()}
        self.build = build
        self.pool: ThreadPoolExecutor | None = None
        self.workers: WorkerPool | Literal[False] | None = None  # False: none, none to start
        self._workers_lock = threading.Lock()  # the download threads ask for it at once
        self.seen: set[str] = set()
        self._finished = False
        self._counted: dict[int, tuple[int, int]] = {}  # worker pid -> (requests, bytes) added
        self._scratch = contextlib.ExitStack()  # the workers' scratch directory, in the cache
        self.scratch: str | None = None

    def submit(self, file) -> None:
        if self.session.client.offline:
            return
        if not file.is_wheel and self.build is None:
            return
        if self.installed.get(file.project) == str(file.version):
            return
        with self._workers_lock:  # the resolver and the prefetch threads submit
            if file.filename in self.seen or self._finished:
                return
            self.seen.add(file.filename)
            if self.pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self.pool = ThreadPoolExecutor(max_workers=8,
                                               thread_name_prefix="constrain-early")
            pool = self.pool
        try:
            pool.submit(self._download, file)
        except RuntimeError:  # shut down meanwhile
            pass

    def _download(self, file) -> None:
        from ..index.files import download, sha256_of, verified_identity
        from ..install.unpack import unpack

        try:
            path = download(self.session.client, file, self.session.cache)
            digest, name = file.sha256 or sha256_of(path), file.filename
            if not file.is_wheel:
                path = self.build(path, digest, file.filename)
                digest, name = sha256_of(path), Path(path).name.split("_", 1)[1]
            workers = self._workers()
            if workers is not None:  # queued, not waited for: this thread takes the next file
                from ..install.unpack import unpack_in_worker

                # The largest wheel waiting is unpacked first: the install waits for the last
                # tree, and a large wheel that arrives late (apache-airflow: 13 MB, 1,181
                # files) queued behind dozens of small ones ends the install alone on one
                # worker while the other has nothing left to do.
                workers.submit(unpack_in_worker, str(path), digest,
                               str(self.session.cache.root), name,
                               verified_identity(path, digest), self.scratch,
                               priority=-_size(path))
            else:
                unpack(path, digest, self.session.cache, name)
        except Exception:  # noqa: BLE001 -- the fetch step does it again and reports
            pass

    def fetch_whole(self, file):
        """``(path, METADATA bytes)`` of the wheel ``file``, downloaded into the cache by an
        unpacking worker (``install/fetch_worker.py``); ``None`` when that cannot be done
        (offline, an sdist, no worker, or the job failed): the caller downloads it itself."""
        if self.session.client.offline or not file.is_wheel:
            return None
        workers = self._workers()
        if workers is None:
            return None
        from ..index.files import note_verified
        from ..install.fetch_worker import fetch_in_worker

        client = self.session.client
        self.session.reporter.info(f"downloading {file.filename}")
        try:
            path, data, identity, pid, (requests, received) = workers.submit(
                fetch_in_worker, file, str(self.session.cache.root), client.settings(),
                self.scratch, priority=_FETCH_FIRST - (file.size or 0)).result()
        except Exception:  # noqa: BLE001 -- done again by the caller, which reports
            return None
        if file.sha256:
            note_verified(path, file.sha256, identity)
        with self._workers_lock:  # the worker's totals so far (answers may come out of
            before = self._counted.get(pid, (0, 0))  # order): add what is new
            now = self._counted[pid] = (max(requests, before[0]), max(received, before[1]))
        client.counters.add(now[1] - before[1], now[0] - before[0])
        return Path(path), data

    def _workers(self):
        """The unpacking processes, started on first use (``processes.spawn_pool``: they end
        with this process); ``None`` where none can be started, and the work is done here."""
        with self._workers_lock:
            if self.workers is None:
                from ..processes import Ending, scratch_directory, spawn_pool
                from ..install.unpack import background_worker

                # what they write goes there until it is whole: the command removes it
                # however it ends, and with it what a worker killed halfway left
                try:
                    self.scratch = str(self._scratch.enter_context(
                        scratch_directory(".tmp-workers-", self.session.cache.root)))
                except (OSError, Ending):
                    self.scratch = None
                self.workers = spawn_pool(UNPACKERS, background_worker,
                                          concurrency=WORKER_JOBS) or False
            return self.workers or None

    def finish(self, *, wait: bool) -> None:
        """Wait for the downloads under way (the fetch step will use them), or on failure
        drop the ones not started and stop the workers; then remove the workers' scratch
        directory."""
        with self._workers_lock:
            self._finished = True
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=not wait)
        with self._workers_lock:
            workers, self.workers = self.workers, False  # none started after this
        if workers and wait:
            workers.shutdown(wait=True)
        elif workers:  # their work is dropped: killed now, so that nothing writes into
            workers.kill()  # their scratch directory any more and it can go here, also for
            # a library caller, whom no CLI cleans up after
        self._scratch.close()


def _size(path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0

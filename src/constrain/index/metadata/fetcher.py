"""Core metadata of one distribution file, obtained with as few requests as possible.

:class:`MetadataFetcher` tries, in order: the parsed-metadata cache (bucket ``metadata``, kept
forever: file identities are sha256 digests or immutable URLs), a file that is already local
(``file://`` or a whole download in the ``files`` bucket), the PEP 658/714 ``.metadata`` file
when the index advertises one, then for wheels HTTP range reads (``wheel.py``: usually one
request), and for sdists a download followed by PEP 643 static ``PKG-INFO``, a PEP 621 static
``[project]`` table (``build/pyproject.py``) or a PEP 517 metadata build. Downloading a whole
wheel is the last resort. Bytes become :class:`~constrain.models.CoreMetadata` in
``parse.py``. Over 400 lines: one class whose steps share one memo, one lock per file and
the build environments of its builds (made ahead of an install's sdist, :meth:`_env_ahead`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement
from packaging.specifiers import InvalidSpecifier
from packaging.utils import NormalizedName

from ...cache.keys import file_key
from ...cache.store import Cache
from ...errors import (
    BuildError,
    BuildForbidden,
    ConstrainError,
    HashMismatch,
    MetadataError,
    OfflineMissing,
    redact_url,
)
from ...models import CoreMetadata, DistFile, MetadataSource
from ...reporting import NULL_REPORTER, Reporter
from .. import files as _files
from ..transport.client import HttpClient

# .parse (packaging.metadata, email), .wheel (zipfile) and build.pyproject (tomllib) are
# imported where metadata is read from a file: a warm resolve finds it all in the cache

#: seconds a fetcher's close waits for a build environment begun ahead of a build
AHEAD_WAIT = 60.0

if TYPE_CHECKING:
    import tempfile

    from ..facts import Facts
    from ...build.envs import BuildEnvs, BuildRequirementSource


def _host_tag() -> str:
    """Where a PEP 517 build ran: built metadata may reflect this host (markers evaluated)."""
    impl = sys.implementation.name
    return f"{impl}{sys.version_info[0]}{sys.version_info[1]}-{sysconfig.get_platform()}"


def metadata_url(url: str) -> str:
    """PEP 658/714: the ``.metadata`` URL of a file URL (fragment dropped, query kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path + ".metadata", fragment=""))


class MetadataFetcher:
    """``fetcher(file) -> CoreMetadata``: the core metadata of one distribution file.

    Thread-safe: the resolver calls it from a pool. Two threads asking for the same file share
    one fetch. ``counts`` tallies how each file's metadata was obtained (``"cache"``,
    ``"pep658"``, ``"range"``, ``"wheel"``, ``"pkg-info"``, ``"pyproject"``, ``"built"``) for
    reports and benchmarks; ``client.counters`` has the requests and bytes.

    ``build_source`` chooses and fetches build requirements under the command's rules (its
    cut-off and sources; ``build/envs.py``); without one, pip installs them, pointed at
    ``build_index`` (``index_url``/``extra_index_urls``/``find_links`` attributes; ``None``
    leaves pip's own configuration in force). Builds share ready build environments, kept
    under the cache root, or in a temporary directory that :meth:`close` removes. Under
    ``offline`` an sdist is still built when its build requirements are local (a wheelhouse,
    the cache); the error names any that is not. ``whole_wheel(file)`` true means the caller
    will download that wheel anyway: its metadata is then read from the whole, cached file.
    For such a file that is an sdist, ``sdist_wheel(file, path) -> wheel path`` (when given)
    builds the wheel the caller will install, and the metadata is read from it: one PEP 517
    build instead of a metadata build now and a wheel build later. ``fetched_whole(file)`` is
    told of each such file once it is in the cache (downloaded, and built for an sdist), so
    that the caller can go on with it (install: unpacking) while the resolve goes on. Such a
    wheel is downloaded by ``fetch_whole(file) -> (path, METADATA bytes)`` when that gives
    it (a helper process: ``install/fetch_worker.py``), else here.
    """

    def __init__(
        self,
        client: HttpClient,
        cache: Cache | None,
        *,
        allow_build: bool | Callable[[NormalizedName], bool] = True,
        offline: bool = False,
        refresh: bool = False,
        build_index: Any = None,
        reporter: Reporter = NULL_REPORTER,
        tail_bytes: int | None = None,
        max_builds: int = 2,
        build_source: BuildRequirementSource | None = None,
        whole_wheel: Callable[[DistFile], bool] | None = None,
        sdist_wheel: Callable[[DistFile, Path], Path] | None = None,
        fetched_whole: Callable[[DistFile], object] | None = None,
        fetch_whole: Callable[[DistFile], tuple[Path, bytes] | None] | None = None,
        facts: Facts | None = None,
    ) -> None:
        self.client = client
        self.fetch_whole = fetch_whole
        self.facts = facts
        self.sdist_wheel = sdist_wheel
        self.fetched_whole = fetched_whole
        self.build_source = build_source
        self.whole_wheel = whole_wheel
        self.cache = cache
        self.allow_build = allow_build
        self.offline = offline or client.offline
        self.refresh = refresh
        self.build_index = build_index
        self.reporter = reporter
        self.tail_bytes = tail_bytes
        self.counts: Counter[str] = Counter()
        self._memo: dict[str, CoreMetadata | ConstrainError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._builds = threading.Semaphore(max_builds)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._build_envs: BuildEnvs | None = None  # made on the first build
        self._ahead: threading.Thread | None = None  # making a build environment ahead

    def close(self) -> None:
        """Remove downloads and build environments kept for a fetcher without a cache. A
        command that ended well waits (up to :data:`AHEAD_WAIT` seconds) for a build
        environment begun ahead (:meth:`_env_ahead`), so that none is left half made; one
        ending by an exception (Ctrl-C) does not: an environment whose creation was cut
        short has no ready marker, and nothing uses it."""
        ahead = self._ahead
        if ahead is not None and sys.exc_info()[0] is None:
            ahead.join(AHEAD_WAIT)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        if self._build_envs is not None:
            self._build_envs.close()
            self._build_envs = None

    def __call__(self, file: DistFile) -> CoreMetadata:
        identity = file.cache_identity()
        found = self._memo.get(identity)
        if found is None:
            found = self._from_facts(file, identity)
        if isinstance(found, CoreMetadata):
            return found
        with self._guard:
            lock = self._locks.setdefault(identity, threading.Lock())
        with lock:
            found = self._memo.get(identity)
            if isinstance(found, ConstrainError):
                raise found
            if found is not None:
                return found
            try:
                # a build is the longest wait: an sdist's downloads do not queue behind the bulk
                with contextlib.nullcontext() if file.is_wheel else self.client.urgent():
                    md = self._memo[identity] = self._fetch(file, facts_tried=True)
            except (BuildError, BuildForbidden, MetadataError) as exc:
                self._memo[identity] = exc  # the same file fails the same way: do not rebuild
                raise
            return md

    def _from_facts(self, file: DistFile, identity: str) -> CoreMetadata | None:
        """``file``'s metadata from the facts snapshot while its cache entry is the one they
        came from, remembered: no fetch to share with another thread, so no lock taken (a
        warm resolve asks this for a few thousand files)."""
        if self.facts is None or self.cache is None or self.refresh or (
                not file.sha256 and file.url.startswith("file:")):
            return None
        md = self.facts.metadata(file_key(identity))
        if md is None:
            return None
        self._count("cache")
        found = self._memo.setdefault(identity, md)  # a file's answer is the first one given
        return found if isinstance(found, CoreMetadata) else md

    # ------------------------------------------------------------------ steps
    def _fetch(self, file: DistFile, *, facts_tried: bool = False) -> CoreMetadata:
        key = file_key(file.cache_identity())
        # A local file without a hash may be rebuilt under the same name: never cache its facts.
        cache = None if file.url.startswith("file:") and not file.sha256 else self.cache
        if cache is not None and not self.refresh:
            md = self.facts.metadata(key) if self.facts is not None and not facts_tried else None
            if md is None:
                md = self._from_cache(key)
            if md is not None:
                self._count("cache")
                return md
        local = _files.cached_path(file, self.cache)
        if local is not None and (self.refresh is False or file.sha256):
            md = self._from_path(file, local)
        elif self.offline:
            raise OfflineMissing(f"the metadata of {file.filename}")
        elif self.whole_wheel is not None and self.whole_wheel(file):
            # the caller will want the whole file anyway (an install of an exact pin): fetch it
            # once, into the cache, instead of reading its METADATA with range requests first
            if not file.is_wheel and self.sdist_wheel is not None:
                self._env_ahead(file)
            fetched = None
            if file.is_wheel and self.fetch_whole is not None and self.cache is not None:
                fetched = self.fetch_whole(file)  # by a helper process, into the cache
            if fetched is not None:
                md = self._parse(fetched[1], file, "wheel", "METADATA")
            else:
                path = _files.download(self.client, file, self.cache, dest_dir=self._tmpdir(),
                                       reporter=self.reporter)
                md = self._from_path(file, path)
            if self.fetched_whole is not None:
                self.fetched_whole(file)
        else:
            md = None
            if file.core_metadata is not None:
                md = self._via_pep658(file)
            if md is None:
                md = self._via_range(file) if file.is_wheel else self._via_sdist(file)
        self._count(md.source)
        if cache is not None:
            meta = {"fetched": time.time(), "file": file.filename}
            if md.source == "built":
                meta["host"] = _host_tag()
            dest = cache.put("metadata", key, md.to_json().encode(), meta=meta)
            if self.facts is not None:
                with contextlib.suppress(OSError):
                    self.facts.note_metadata(key, md, os.stat(dest))
        return md

    def _from_cache(self, key: str) -> CoreMetadata | None:
        assert self.cache is not None
        found = self.cache.get_stat("metadata", key)
        if found is None:
            return None
        data, st = found
        try:
            md = CoreMetadata.from_json(data)
        except (ValueError, KeyError, TypeError, InvalidRequirement, InvalidSpecifier):
            return None  # an unreadable entry is a miss; it is overwritten below
        if md.source == "built":
            meta = self.cache.get_meta("metadata", key) or {}
            if meta.get("host") != _host_tag():
                return None  # built elsewhere: markers may have been evaluated differently
        if self.facts is not None:
            self.facts.note_metadata(key, md, st)
        return md

    def _parse(self, data: bytes, file: DistFile, source: MetadataSource, what: str) -> CoreMetadata:
        from .parse import parse_core_metadata

        return parse_core_metadata(
            data,
            source=source,
            where=f"{file.filename} ({what})",
            expect_name=file.project,
            expect_version=file.version,
            reporter=self.reporter,
        )

    def _from_path(self, file: DistFile, path: Path) -> CoreMetadata:
        from .wheel import wheel_metadata_from_zip

        if file.is_wheel:
            data = wheel_metadata_from_zip(path, file.project, file.filename)
            return self._parse(data, file, "wheel", "METADATA")
        return self._sdist_metadata(file, path)

    def _via_pep658(self, file: DistFile) -> CoreMetadata | None:
        url = metadata_url(file.url)
        r = self.client.get(url)
        if not r.ok:
            self.reporter.info(f"{redact_url(url)}: HTTP {r.status}; reading the file instead")
            return None
        assert file.core_metadata is not None
        hashes = dict(file.core_metadata)
        algo = "sha256" if "sha256" in hashes else next(
            (a for a in hashes if a in hashlib.algorithms_guaranteed), None
        )
        if algo is not None:
            actual = hashlib.new(algo, r.content).hexdigest()
            if actual != hashes[algo].lower():
                raise HashMismatch(
                    f"the metadata file of {file.filename} ({redact_url(url)})",
                    expected=f"{algo}:{hashes[algo].lower()}",
                    actual=f"{algo}:{actual}",
                )
        from .parse import is_static_pkg_info

        if not file.is_wheel and not is_static_pkg_info(r.content):
            return None  # an sdist's dynamic PKG-INFO: only a build can tell
        return self._parse(r.content, file, "pep658", "metadata file")

    def _via_range(self, file: DistFile) -> CoreMetadata:
        from .wheel import (
            DEFAULT_TAIL,
            NoRanges,
            RangeFile,
            ZipFormatError,
            remote_wheel_metadata,
            wheel_metadata_from_zip,
        )

        url = file.url.split("#", 1)[0]
        tail = DEFAULT_TAIL if self.tail_bytes is None else self.tail_bytes
        try:
            view = RangeFile(self.client, url, file.size, tail)
            if view.whole is None:
                data = remote_wheel_metadata(view, file.project)
                return self._parse(data, file, "range", "METADATA")
        except (NoRanges, ZipFormatError) as exc:
            self.reporter.info(f"{file.filename}: range reads failed ({exc}); downloading it")
            path = _files.download(
                self.client, file, self.cache, dest_dir=self._tmpdir(), reporter=self.reporter
            )
            return self._from_path(file, path)
        # the server ignored the Range header and sent the whole wheel: use it, keep it
        _files.verify(file, hashlib.sha256(view.whole).hexdigest())
        _files.store_bytes(file, view.whole, self.cache)
        data = wheel_metadata_from_zip(io.BytesIO(view.whole), file.project, file.filename)
        return self._parse(data, file, "wheel", "METADATA")

    def _via_sdist(self, file: DistFile) -> CoreMetadata:
        path = _files.download(
            self.client, file, self.cache, dest_dir=self._tmpdir(), reporter=self.reporter
        )
        return self._sdist_metadata(file, path)

    def _sdist_metadata(self, file: DistFile, path: Path) -> CoreMetadata:
        from ...build import archive, sdist
        from ...build.pyproject import static_metadata
        from .parse import is_static_pkg_info
        from .wheel import wheel_metadata_from_zip

        top = archive.read_top_files(path, ("PKG-INFO", "pyproject.toml"))
        pkg_info = top.get("PKG-INFO")
        if pkg_info is not None and is_static_pkg_info(pkg_info):
            return self._parse(pkg_info, file, "pkg-info", "PKG-INFO")
        if "pyproject.toml" in top:  # PEP 621: a static [project] table needs no build either
            md, why = static_metadata(top["pyproject.toml"], expect_name=file.project,
                                      expect_version=file.version)
            if md is not None:
                return md
            self.reporter.info(f"{file.filename}: {why}; its metadata needs a build")
        spec = f"{file.project}=={file.version}"
        allowed = self.allow_build(file.project) if callable(self.allow_build) else self.allow_build
        if not allowed:
            raise BuildForbidden(
                f"{file.filename} ({spec}) has no static metadata and building it is not allowed",
                hint=f"allow builds for {file.project} (drop --no-build / --only-binary for it) "
                "or choose a version that has a wheel",
            )
        if self.sdist_wheel is not None and self.whole_wheel is not None and self.whole_wheel(file):
            with self._builds:
                wheel = self.sdist_wheel(file, path)
            data = wheel_metadata_from_zip(wheel, file.project,
                                           f"the wheel built from {file.filename}")
            return self._parse(data, file, "built", "METADATA of the wheel built")
        with self._builds:
            self.reporter.info(f"building metadata for {spec} from sdist {file.filename}")
            data = sdist.prepare_metadata(
                path, build_index=self.build_index, reporter=self.reporter, envs=self._envs()
            )
        return self._parse(data, file, "built", "built METADATA")

    def _env_ahead(self, file: DistFile) -> None:
        """Begin making the build environment most sdists use (setuptools' default backend:
        no ``pyproject.toml``, or no ``[build-system]`` in it) while the sdist ``file``, which
        will be built into the wheel to install, downloads. It is the wait before every
        such build: resolving setuptools, its page and wheel, installing it (0.8-1.2 s on
        Airflow's set, where the sdist's download took 0.4 s). The build takes it when its
        requirements are those (``BuildEnvs.get`` waits for a creation under way); otherwise
        it is kept in the cache for another build. Failures are the build's to report."""
        if self.cache is None or self.offline or not (
                self.allow_build(file.project) if callable(self.allow_build) else self.allow_build):
            return
        envs = self._envs()

        def make() -> None:
            from ...build.sdist import DEFAULT_REQUIRES

            with contextlib.suppress(Exception), self.client.urgent():
                envs.get(list(DEFAULT_REQUIRES), [], file.filename)

        with self._guard:
            if self._ahead is not None:
                return  # once: the first sdist's (later ones find it made)
            self._ahead = threading.Thread(target=make, name="constrain-env-ahead", daemon=True)
            self._ahead.start()

    def _envs(self) -> BuildEnvs:
        """The build environments shared by this fetcher's builds (created on first use)."""
        from ...build.envs import BuildEnvs

        with self._guard:
            if self._build_envs is None:
                self._build_envs = BuildEnvs(
                    self.cache, build_index=self.build_index, reporter=self.reporter,
                    source=self.build_source,
                )
            return self._build_envs

    # ------------------------------------------------------------------ helpers
    def _tmpdir(self) -> Path | None:
        if self.cache is not None:
            return None
        with self._guard:
            if self._tmp is None:
                import tempfile  # only without a cache: a resolve from the cache imports no shutil

                self._tmp = tempfile.TemporaryDirectory(prefix="constrain-dl-",
                                                        ignore_cleanup_errors=True)
            return Path(self._tmp.name)

    def _count(self, what: str) -> None:
        with self._guard:
            self.counts[what] += 1

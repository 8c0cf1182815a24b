"""The long-lived parts of one command: settings, cache, HTTP client, index repository.

A :class:`Session` is built once per command from its :class:`~.requests.ResolveRequest` and
closed at its end; every resolve of the command (several targets, a reconstruction's helper
resolves, build requirements) goes through it, so they share one cache, one connection pool and
one repository.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from ..errors import ConstrainError, NetworkError, redact_url
from ..reporting import Reporter
from .requests import ResolveRequest


class Session:
    """The long-lived parts of one command: cache, HTTP client, index repository."""

    def __init__(self, request: ResolveRequest, reporter: Reporter) -> None:
        from ..cache import Cache, default_cache_dir
        from ..config import pip_index_settings, with_overrides
        from ..index.transport.client import HttpClient

        environ = dict(os.environ if request.environ is None else request.environ)
        self.environ = environ
        self.reporter = reporter
        self.request = request
        settings = pip_index_settings(environ, warn=reporter.warning)
        self.settings = with_overrides(
            settings,
            index_url=request.index_url,
            extra_index_urls=request.extra_index_urls,
            find_links=request.find_links,
            no_index=request.no_index or None,
        )
        cache_dir = Path(request.cache_dir) if request.cache_dir else default_cache_dir(environ)
        cache_dir = cache_dir.expanduser().absolute()  # build envs and subprocesses use it too
        self.cache = Cache(cache_dir)
        from ..config import constrain_config, network_limits

        config, config_source = constrain_config(request.config_dir)
        timeout, deadline = network_limits(
            timeout=request.timeout, deadline=request.deadline,
            settings_timeout=self.settings.timeout, environ=environ, config=config,
            config_source=config_source)
        self.client = HttpClient(
            offline=request.offline, cert=self.settings.cert, timeout=timeout, deadline=deadline
        )
        self._repository = None
        #: which wheels the command will download anyway (install: exact pins), so that their
        #: metadata is read from the whole file rather than with range requests first
        self.whole_wheels = None
        #: (install) ``builder(sdist file, path) -> wheel``: an sdist among the whole wheels is
        #: built into the wheel to install, and its metadata read from that wheel
        self.sdist_wheel = None
        #: (install) told of each whole file in the cache as the resolve reads its metadata
        self.fetched_whole = None
        self.remembered = 0  # resolutions answered from the memo
        self._build_cutoff: datetime | None = None
        self._build_source = None
        import threading

        self._cutoff_lock = threading.Lock()
        #: every requirement/constraint text read, by the location ``fetch_text`` returned
        #: (``download`` copies the constraint sources into the wheelhouse)
        self.fetched: dict[str, str] = {}

    def fetch_text(self, location: str) -> tuple[str, str]:
        """Read a requirement/constraint file from a path or URL (URLs cached for --offline);
        remembered in :attr:`fetched`."""
        where, text = self._fetch_text(location)
        self.fetched[where] = text
        return where, text

    def _fetch_text(self, location: str) -> tuple[str, str]:
        if "://" not in location or location.startswith("file:"):
            from ..index.transport.client import file_url_to_path

            path = file_url_to_path(location) if location.startswith("file:") else Path(location)
            try:
                return str(path), path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConstrainError(f"no such file: {path}",
                                     hint="check the path given to -r or -c") from None
            except OSError as exc:
                raise ConstrainError(f"cannot read {path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise ConstrainError(f"{path} is not UTF-8 text") from None
        from ..cache.keys import url_key

        key = url_key(location)
        if self.request.offline:
            cached = self.cache.get("constraints", key)
            if cached is None:
                from ..errors import OfflineMissing

                raise OfflineMissing(redact_url(location))
            return location, cached.decode("utf-8")
        try:
            response = self.client.get(location)
        except NetworkError:
            cached = self.cache.get("constraints", key)
            if cached is None:
                raise
            self.reporter.warning(f"{redact_url(location)} unreachable; using the cached copy")
            return location, cached.decode("utf-8")
        if response.status != 200:
            raise ConstrainError(
                f"{redact_url(location)} answered HTTP {response.status}",
                hint="check the URL; constraint files are plain text pip constraint files",
            )
        import time

        self.cache.put("constraints", key, response.content,
                       meta={"url": redact_url(location), "fetched": time.time()})
        return location, response.content.decode("utf-8")

    @property
    def repository(self):
        if self._repository is None:
            from ..index.pages.repository import IndexRepository

            self._repository = IndexRepository(
                self.settings,
                self.client,
                self.cache,
                _LazyFetcher(self),
                refresh=self.request.refresh,
                offline=self.request.offline,
                reporter=self.reporter,
            )
        return self._repository

    @property
    def build_cutoff(self) -> datetime | None:
        """The cut-off for build requirements: the earliest ``exclude_newer`` of this
        command's resolves so far (a reconstruction's date included), ``None`` for none."""
        return self._build_cutoff

    def note_cutoff(self, when: datetime | None) -> None:
        """A resolve of this command applies the cut-off ``when``: builds from now on take
        build requirements uploaded by the earliest such cut-off (``constrain.build.requirements``)."""
        if when is None:
            return
        with self._cutoff_lock:
            if self._build_cutoff is None or when < self._build_cutoff:
                self._build_cutoff = when

    @property
    def build_source(self):
        """The :class:`~constrain.build.requirements.SessionBuildRequirements` of this command: how
        build environments get their build requirements."""
        with self._cutoff_lock:
            if self._build_source is None:
                from ..build.requirements import BuildRules, SessionBuildRequirements

                rules = BuildRules.from_options(self.request.build_exclude_newer_exempt,
                                                self.request.build_constraints)
                self._build_source = SessionBuildRequirements(self, rules)
            return self._build_source

    def resolve(self, requirements, constraints, target, options, reporter: Reporter,
                on_pin=None):
        """``resolver.resolve`` on this session's repository, answered from a remembered
        resolution when its inputs and the listings it read are unchanged (:mod:`.memo`)."""
        from .memo import resolve_remembered

        self.note_cutoff(getattr(options, "exclude_newer", None))
        install_set, remembered = resolve_remembered(
            requirements,
            constraints,
            self.repository,
            self.cache,
            target,
            options,
            reporter,
            allow_build=not self.request.no_build,
            # CONSTRAIN_NO_REMEMBER=1 always resolves (benchmarks measure the resolver itself)
            use=not self.request.refresh and not self.environ.get("CONSTRAIN_NO_REMEMBER"),
            on_pin=on_pin,
            on_miss=self.client.warm_up,  # HTTP set-up overlaps the resolve's first steps
        )
        if remembered:
            self.remembered += 1
        return install_set

    def close(self) -> None:
        if self._repository is not None:
            self._repository.close()
            fetcher = getattr(self._repository, "metadata_fetcher", None)
            if hasattr(fetcher, "close"):
                fetcher.close()
        self.client.close()


class _LazyFetcher:
    """The session's MetadataFetcher, built (and its heavier imports done) on first use: a
    remembered resolution never needs one."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._fetcher = None
        import threading

        self._lock = threading.Lock()

    def __call__(self, file):
        if self._fetcher is None:
            with self._lock:
                if self._fetcher is None:
                    from ..index.metadata.fetcher import MetadataFetcher

                    s = self._session
                    self._fetcher = MetadataFetcher(
                        s.client,
                        s.cache,
                        allow_build=not s.request.no_build,
                        offline=s.request.offline,
                        refresh=s.request.refresh,
                        build_index=s.settings,
                        reporter=s.reporter,
                        build_source=s.build_source,
                        whole_wheel=s.whole_wheels,
                        sdist_wheel=s.sdist_wheel,
                        fetched_whole=s.fetched_whole,
                    )
        return self._fetcher(file)

    def close(self) -> None:
        if self._fetcher is not None and hasattr(self._fetcher, "close"):
            self._fetcher.close()


"""The long-lived parts of one command: settings, cache, HTTP client, index repository.

:func:`build_session` builds a :class:`Session` once per command, with everything it needs: the
index settings (pip's configuration, the command line, then index options found in the
command's requirement files, which are read here for that reason), the cache, the HTTP client,
and for ``install`` the :class:`WholeFiles` hooks. A session is immutable; what changes while
the command runs (the repository and metadata fetcher made on first use, the build cut-off,
the count of remembered resolutions, the texts read) is held in explicit state objects. Every
resolve of the command (several targets, a reconstruction's helper resolves, build
requirements) goes through it, so they share one cache, one connection pool, one repository.
Close it with :meth:`Session.close`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConstrainError, InputError, NetworkError, redact_url
from ..records import record
from ..reporting import Reporter
from .requests import ResolveRequest, parse_exclude_newer

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from ..cache import Cache
    from ..config import IndexSettings
    from ..constraints.model import Inputs
    from ..index.transport.client import HttpClient
    from ..models import DistFile, InstallSet, Origin
    from ..resolver import ResolveOptions
    from ..target import TargetEnvironment

#: the cache bucket of requirement/constraint files read from URLs (``--offline`` reads it)
TEXT_BUCKET = "constraints"


class WholeFiles:
    """(install) The files the command downloads whole anyway (exact pins), so the resolve reads
    their metadata from the whole file rather than with range requests first; an sdist among
    them is built into the wheel to install and its metadata read from that wheel; each whole
    file is handed on as it lands in the cache.

    Made before the session and given to :func:`build_session`; bound once with
    :meth:`bind` when the install's early downloads exist (they need the session), before the
    first resolve. Unbound, it wants nothing."""

    def __init__(self) -> None:
        self._wanted: Callable[[DistFile], bool] | None = None
        self._build: Callable[[DistFile, Path], Path] | None = None
        self._fetched: Callable[[DistFile], object] | None = None
        self._fetch: Callable[[DistFile], tuple[Path, bytes] | None] | None = None

    def bind(self, *, wanted: Callable[[DistFile], bool], build: Callable[[DistFile, Path], Path],
             fetched: Callable[[DistFile], object],
             fetch: Callable[[DistFile], tuple[Path, bytes] | None] | None = None) -> None:
        if self._wanted is not None:
            raise RuntimeError("WholeFiles is bound once")
        self._build, self._fetched, self._fetch, self._wanted = build, fetched, fetch, wanted

    def wanted(self, file: DistFile) -> bool:
        """Will the command download ``file`` whole?"""
        return self._wanted is not None and self._wanted(file)

    def build(self, file: DistFile, path: Path) -> Path:
        """The wheel built from the sdist ``file`` (downloaded at ``path``) for the target."""
        if self._build is None:
            raise RuntimeError("WholeFiles.build before bind")
        return self._build(file, path)

    def fetched(self, file: DistFile) -> object:
        """``file`` is whole in the cache."""
        return None if self._fetched is None else self._fetched(file)

    def fetch(self, file: DistFile) -> tuple[Path, bytes] | None:
        """``(path, METADATA bytes)`` of the wheel ``file``, downloaded whole into the cache
        by a helper process; ``None`` when none did (the caller downloads it)."""
        return None if self._fetch is None else self._fetch(file)


#: the largest requirements or constraints file read (Airflow's constraint files are 40 kB)
MAX_INPUT_BYTES = 32 << 20


class TextSource:
    """Reads requirement and constraint files from paths and URLs (URLs cached for
    ``--offline`` and for an unreachable host), remembering each text by the location it
    returns (:attr:`fetched`: ``download`` copies the constraint sources into the wheelhouse)."""

    def __init__(self, client: HttpClient, cache: Cache, *, offline: bool,
                 reporter: Reporter) -> None:
        self.client, self.cache, self.offline, self.reporter = client, cache, offline, reporter
        self.fetched: dict[str, str] = {}

    def fetch_text(self, location: str) -> tuple[str, str]:
        """``(where, text)`` of the file or URL ``location``."""
        where, text = self._fetch_text(location)
        self.fetched[where] = text
        return where, text

    def _fetch_text(self, location: str) -> tuple[str, str]:
        if "://" not in location or location.startswith("file:"):
            from ..index.transport.client import file_url_to_path

            path = file_url_to_path(location) if location.startswith("file:") else Path(location)
            try:
                with open(path, "rb") as fh:  # never more than a bound: -r /dev/zero ends
                    data = fh.read(MAX_INPUT_BYTES + 1)
            except FileNotFoundError:
                raise InputError(f"no such file: {path}",
                                 hint="check the path (relative paths are read from the "
                                 "working directory, or beside the file that names them)"
                                 ) from None
            except IsADirectoryError:
                raise InputError(f"{path} is a directory",
                                 hint="give the path of a file") from None
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}") from None
            if len(data) > MAX_INPUT_BYTES:
                raise InputError(
                    f"{path} is larger than {MAX_INPUT_BYTES >> 20} MiB, too large for a "
                    "requirements or constraints file", hint="check the path")
            try:
                return str(path), data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[:exc.start].count(b"\n") + 1
                raise InputError(
                    f"{path} is not UTF-8 text: byte {exc.start + 1} (line {line}) cannot be read "
                    "as UTF-8",
                    hint="save the file as UTF-8 (pip reads requirement files as UTF-8 too)"
                ) from None
        from ..cache.keys import url_key

        key = url_key(location)
        if self.offline:
            cached = self.cache.get(TEXT_BUCKET, key)
            if cached is None:
                from ..errors import OfflineMissing

                raise OfflineMissing(redact_url(location))
            return location, cached.decode("utf-8")
        try:
            response = self.client.get(location)
        except NetworkError:
            cached = self.cache.get(TEXT_BUCKET, key)
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

        self.cache.put(TEXT_BUCKET, key, response.content,
                       meta={"url": redact_url(location), "fetched": time.time()})
        return location, response.content.decode("utf-8")


class _BuildSourceOnDemand:
    """The session's :attr:`Session.build_source`, made when a build first asks for build
    requirements: a resolve that reads every metadata from the cache builds nothing, and the
    build machinery's imports would cost it all the same."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def identity(self) -> Any:
        return self._session.build_source.identity()

    def stable(self) -> bool:
        return self._session.build_source.stable()

    def resolve(self, requirements: Sequence[str], needed_by: str) -> list:
        return self._session.build_source.resolve(requirements, needed_by)


class _State:
    """What changes while a session runs, behind one lock: the objects made on first use,
    the build cut-off, the count of remembered resolutions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fetcher_lock = threading.Lock()  # held while the fetcher's imports run
        self.repository: Any = None
        self.fetcher: Any = None
        self.build_source: Any = None
        self.build_cutoff: datetime | None = None
        self.remembered = 0


@record
class Session:
    """The parts one command shares (see the module docstring); build it with
    :func:`build_session`."""

    request: ResolveRequest
    reporter: Reporter
    environ: Mapping[str, str]
    settings: IndexSettings
    cache: Cache
    client: HttpClient
    texts: TextSource
    #: the inputs read while building the session, by :func:`inputs_key`
    inputs: Mapping[tuple, Inputs] = field(default_factory=dict)
    whole: WholeFiles | None = None
    _state: _State = field(default_factory=_State, repr=False, compare=False)

    # ------------------------------------------------------------------ texts
    @property
    def fetched(self) -> dict[str, str]:
        """Every requirement/constraint text read, by the location :meth:`fetch_text` gave."""
        return self.texts.fetched

    def fetch_text(self, location: str) -> tuple[str, str]:
        """Read a requirement/constraint file from a path or URL; see :class:`TextSource`."""
        return self.texts.fetch_text(location)

    def sources_identity(self) -> list:
        """The places the index options name, part of the key of a wheel built under them: the
        same places give the same identity however they were written. pip's default index is
        ``None`` whether unset or named (pip is imported only then); URLs lose a trailing
        ``/``; paths become ``file://`` URLs; an index repeated among the extras counts once."""
        from ..config import as_location, default_index_url, find_links_locations

        def place(url: str) -> str:
            return as_location(url).rstrip("/")

        settings = self.settings
        indexes: list[str | None] = []
        if not settings.no_index:
            first = settings.index_url
            if first is not None and place(first) == place(default_index_url()):
                first = None
            indexes.append(None if first is None else place(first))
            for url in settings.extra_index_urls:
                if place(url) not in indexes:
                    indexes.append(place(url))
        return [indexes, [loc.rstrip("/") for loc in find_links_locations(settings)]]

    # ------------------------------------------------------------------ install hooks
    @property
    def sdist_wheel(self) -> Callable[[DistFile, Path], Path] | None:
        """(install) ``builder(sdist file, path) -> wheel``; ``None`` for other commands."""
        return None if self.whole is None else self.whole.build

    # ------------------------------------------------------------------ made on first use
    @property
    def repository(self) -> Any:
        """The index repository (an :class:`~constrain.ports.MetadataProvider`)."""
        state = self._state
        if state.repository is not None:
            return state.repository
        with state.lock:
            if state.repository is None:
                from ..index.pages.repository import IndexRepository

                state.repository = IndexRepository(
                    self.settings,
                    self.client,
                    self.cache,
                    self._metadata,
                    refresh=self.request.refresh,
                    offline=self.request.offline,
                    reporter=self.reporter,
                    vetted=_vetted(self.settings),
                )
            return state.repository

    def _metadata(self, file: DistFile) -> Any:
        """The repository's metadata fetcher, made (and its heavier imports done) on first
        use: a remembered resolution never needs one."""
        state = self._state
        fetcher = state.fetcher
        if fetcher is None:
            source = _BuildSourceOnDemand(self)
            with state.fetcher_lock:
                if state.fetcher is None:
                    from ..index.metadata.fetcher import MetadataFetcher

                    whole = self.whole
                    state.fetcher = MetadataFetcher(
                        self.client,
                        self.cache,
                        allow_build=not self.request.no_build,
                        offline=self.request.offline,
                        refresh=self.request.refresh,
                        build_index=self.settings,
                        reporter=self.reporter,
                        build_source=source,
                        whole_wheel=None if whole is None else whole.wanted,
                        sdist_wheel=None if whole is None else whole.build,
                        fetched_whole=None if whole is None else whole.fetched,
                        fetch_whole=None if whole is None else whole.fetch,
                        facts=getattr(state.repository, "facts", None),
                    )
                fetcher = state.fetcher
        return fetcher(file)

    @property
    def build_source(self) -> Any:
        """The :class:`~constrain.build.requirements.SessionBuildRequirements` of this command: how
        build environments get their build requirements."""
        state = self._state
        if state.build_source is not None:
            return state.build_source
        with state.lock:
            if state.build_source is None:
                from ..build.requirements import BuildRules, SessionBuildRequirements

                rules = BuildRules.from_options(self.request.build_exclude_newer_exempt,
                                                self.request.build_constraints)
                state.build_source = SessionBuildRequirements(self, rules)
            return state.build_source

    # ------------------------------------------------------------------ running state
    @property
    def build_cutoff(self) -> datetime | None:
        """The cut-off for build requirements: the earliest ``exclude_newer`` of this
        command's resolves so far (a reconstruction's date included), ``None`` for none."""
        return self._state.build_cutoff

    def note_cutoff(self, when: datetime | None) -> None:
        """A resolve of this command applies the cut-off ``when``: builds from now on take
        build requirements uploaded by the earliest such cut-off (``constrain.build.requirements``)."""
        if when is None:
            return
        state = self._state
        with state.lock:
            if state.build_cutoff is None or when < state.build_cutoff:
                state.build_cutoff = when

    @property
    def remembered(self) -> int:
        """How many of this command's resolutions were answered from the memo."""
        return self._state.remembered

    def repository_stats(self) -> dict:
        """The repository's work counters; empty when no repository was made."""
        repository = self._state.repository
        if repository is None or not hasattr(repository, "stats"):
            return {}
        return dict(repository.stats())

    def resolve(self, requirements: Sequence[tuple[Requirement, Origin]],
                constraints: Sequence[tuple[Requirement, Origin]], target: TargetEnvironment,
                options: ResolveOptions, reporter: Reporter, on_pin: Any = None,
                ) -> InstallSet:
        """``resolver.resolve`` on this session's repository, answered from a remembered
        resolution when its inputs and the listings it read are unchanged (:mod:`.memo`)."""
        from .memo import resolve_remembered

        self.note_cutoff(options.exclude_newer)
        # CONSTRAIN_NO_REMEMBER=1: no remembered resolution is used or stored (benchmarks
        # measure the resolver itself; the memo stays as it was)
        forget = no_remember(self.environ)
        repository = self.repository
        note_target = getattr(repository, "note_target", None)
        if note_target is not None:  # the facts snapshot is kept per target
            note_target(target)
        try:
            install_set, remembered = resolve_remembered(
                requirements,
                constraints,
                repository,
                self.cache,
                target,
                options,
                reporter,
                allow_build=not self.request.no_build,
                use=not self.request.refresh and not forget,
                store=not forget,
                on_pin=on_pin,
            )
        except BaseException:  # failed or interrupted: what it read is no measure of the next run
            note_failed = getattr(repository, "note_failed", None)
            if note_failed is not None:
                note_failed()
            raise
        if remembered:
            with self._state.lock:
                self._state.remembered += 1
        return install_set

    def close(self) -> None:
        """End the repository's and the fetcher's work and close the HTTP client."""
        state = self._state
        if state.repository is not None:
            state.repository.close()
        if state.fetcher is not None and hasattr(state.fetcher, "close"):
            state.fetcher.close()
        self.client.close()


def no_remember(environ: Mapping[str, str]) -> bool:
    """Is ``CONSTRAIN_NO_REMEMBER`` set (to anything but ``0``/``false``/``no``/``off``)?"""
    value = environ.get("CONSTRAIN_NO_REMEMBER", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def inputs_key(request: ResolveRequest) -> tuple:
    """What identifies the inputs of ``request`` (its requirements and files)."""
    return (request.requirements, request.requirement_files, request.constraint_files)


def build_session(request: ResolveRequest, reporter: Reporter, *,
                  inputs_of: Iterable[ResolveRequest] | None = None,
                  whole: WholeFiles | None = None) -> Session:
    """The session of one command run with ``request``.

    The inputs of each request in ``inputs_of`` (default: ``request`` itself; refresh passes
    one per mode, ``policy check`` none) are read now, so that index options inside requirement
    files (``-i``, ``--extra-index-url``, ``--find-links``) are part of the settings from the
    start; they apply unless the command line set them. A bad ``--exclude-newer`` fails before
    any file is read. On failure nothing stays open."""
    from ..cache import Cache, cache_root
    from ..config import pip_index_settings, with_overrides
    from ..settings import constrain_config, network_limits
    from ..constraints.sources import load_inputs
    from ..index.transport.client import HttpClient

    parse_exclude_newer(request.exclude_newer)
    environ = dict(os.environ if request.environ is None else request.environ)
    applied = None if inputs_of == () else request.constraint_files  # no -c: nothing to say
    settings = with_overrides(
        pip_index_settings(environ, warn=reporter.warning, applied=applied),
        index_url=request.index_url, extra_index_urls=request.extra_index_urls,
        find_links=request.find_links,
        no_index=request.no_index or None,
    )
    cache = Cache(cache_root(request.cache_dir, environ))  # absolute: builds run elsewhere
    config, config_source = constrain_config(request.config_dir)
    timeout, deadline = network_limits(
        timeout=request.timeout, deadline=request.deadline,
        settings_timeout=settings.timeout, environ=environ, config=config,
        config_source=config_source)
    client = HttpClient(offline=request.offline, cert=settings.cert, timeout=timeout,
                        deadline=deadline)
    texts = TextSource(client, cache, offline=request.offline, reporter=reporter)
    inputs: dict[tuple, Inputs] = {}
    try:
        for each in (request,) if inputs_of is None else inputs_of:
            key = inputs_key(each)
            if key in inputs:
                continue
            inputs[key] = read = load_inputs(each.requirements, each.requirement_files,
                                             each.constraint_files, fetch=texts.fetch_text,
                                             environ=environ)
            settings = settings_with_inputs(settings, request, read)
    except BaseException:
        client.close()
        raise
    return Session(request, reporter, environ, settings, cache, client, texts, inputs, whole)


def settings_with_inputs(settings: IndexSettings, request: ResolveRequest,
                         inputs: Inputs) -> IndexSettings:
    """``settings`` with the index options found in requirement files, for those the command
    line (``request``) did not set: ``-i`` replaces the index, ``--no-index`` leaves only the
    find-links locations, further indexes and find-links locations are appended."""
    from ..config import with_overrides

    if inputs.index_url and request.index_url is None:
        settings = with_overrides(settings, index_url=inputs.index_url)
    if inputs.no_index and not request.no_index:
        settings = with_overrides(settings, no_index=True)
    if inputs.extra_index_urls and request.extra_index_urls is None:
        settings = with_overrides(settings, extra_index_urls=tuple(dict.fromkeys(
            (*settings.extra_index_urls, *inputs.extra_index_urls))))
    if inputs.find_links and request.find_links is None:
        settings = with_overrides(settings, find_links=tuple(dict.fromkeys(
            (*settings.find_links, *inputs.find_links))))
    return settings


def _vetted(settings) -> dict[str, dict[str, tuple[str, str | None]]]:
    """The wheelhouses among the find-links locations (``download.manifest.vetted_files``):
    local directories holding a ``manifest.json`` (the module is imported only then)."""
    from ..config import find_links_locations
    from ..index.transport.client import file_url_to_path

    houses = [loc for loc in find_links_locations(settings) if loc.startswith("file:")
              and (file_url_to_path(loc) / "manifest.json").is_file()]
    if not houses:
        return {}
    from ..download.manifest import vetted_files

    return vetted_files(houses)

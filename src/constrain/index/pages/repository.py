"""The index repository: files and metadata of projects from the configured indexes and
find-links locations, with first-index priority and parallel prefetch.

:class:`IndexRepository` is the real :class:`~constrain.ports.MetadataProvider`. For each project
it asks the indexes in priority order; the first one that knows the project owns it and later
indexes are never asked (protection against dependency confusion). Files from find-links
locations (``findlinks.py``) are always merged in. Project pages come through the page cache
(``pagecache.py``) and are parsed once and kept in their grouped form (bucket ``listings``, see
``listing.py``; find-links pages as served, bucket ``pages``). Every project page and every
file's metadata is fetched at most once per process, even when several threads ask at once
(``singleflight.py``). Prefetch hints request each page at once and fill a priority thread pool
(``prefetch.py``) ahead of the resolver; large pages are parsed in a helper process
(``offload.py``). :meth:`IndexRepository.provenance` names the state of the pages an answer came
from (for remembered resolutions). A project no location has gets close names (``names.py``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name

from ...cache.keys import file_key, url_key
from ...cache.store import Cache
from ...config import IndexSettings, find_links_locations, index_locations
from ...errors import CacheError, ProjectNotFound, redact_url
from ...models import CoreMetadata, DistFile, ProjectFiles
from ...reporting import NULL_REPORTER, Reporter
from ..transport.client import HttpClient, Pending, file_url_to_path
from .findlinks import find_links_files, location_stamp, only_vetted
from .listing import listing_of_page, load_listing
from .names import close_names, root_names
from .offload import Offload
from .pagecache import NOT_HERE, Page, PageCache, page_url, strip_userinfo
from .parse import parse_project_page
from .prefetch import PAGES, PriorityPool, metadata_priority
from .singleflight import SingleFlight

if TYPE_CHECKING:
    from ..facts import Facts

#: pages at least this large are parsed in the helper process (``offload.py``), the first of
#: them starting it: on Airflow's set, the 24 pages above it are 35 of the 41 MB
OFFLOAD_MIN = 256 * 1024


class IndexRepository:
    """Files and metadata of projects from ``settings``' indexes and find-links locations.

    ``metadata_fetcher(file)`` does the real work of :meth:`metadata` (PEP 658, range reads,
    builds); this class only memoises it. ``refresh`` revalidates every cached page once;
    ``offline`` uses cached pages whatever their age and raises :class:`OfflineMissing` for the
    rest. ``page_ttl`` is how long (seconds) a cached page is used without asking the index,
    unless the index's ``Cache-Control: max-age`` says otherwise. ``workers`` bounds prefetch
    threads. The client and cache belong to the caller: :meth:`close` closes neither.
    """

    def __init__(
        self,
        settings: IndexSettings,
        client: HttpClient,
        cache: Cache | None,
        metadata_fetcher: Callable[[DistFile], CoreMetadata],
        *,
        refresh: bool = False,
        offline: bool = False,
        page_ttl: float = 600,
        workers: int = 12,
        reporter: Reporter = NULL_REPORTER,
        vetted: Mapping[str, Mapping[str, tuple[str, str | None]]] | None = None,
    ) -> None:
        self.settings = settings
        #: find-links location -> {file name: (sha256, upload time)} its manifest lists
        self.vetted = dict(vetted or {})
        self.client = client
        self.cache = cache
        self.metadata_fetcher = metadata_fetcher
        self.refresh = refresh
        self.offline = offline or client.offline
        self.page_ttl = page_ttl
        self.workers = workers
        self.reporter = reporter
        self.indexes = index_locations(settings)
        self.find_links = find_links_locations(settings)
        for location in (*self.indexes, *self.find_links):
            if "@" in location:  # its files on its host get its login (they are stored
                client.remember_credentials(location)  # without it: listing.py)
        self.metadata_fetched = 0
        self._lock = threading.Lock()
        self._projects = SingleFlight()
        self._metadata = SingleFlight()
        self._locations = SingleFlight()  # find-links listings, root listings
        self._prefetched: dict[NormalizedName, bool] = {}  # project -> metadata asked for
        self._metadata_hinted: set[str] = set()
        self._warned: set[str] = set()
        self._shown = {index: redact_url(index) for index in self.indexes}  # for messages
        #: a find-links directory's token for provenance(): one stat per command, not per
        #: project (its listing is read once per command too, see _locations)
        self._location_stamps: dict[str, list] = {}
        self._pool: PriorityPool | None = None
        self._pages = PageCache(client, cache, offline=self.offline, refresh=refresh,
                                page_ttl=page_ttl, warn=self._warn_once, reporter=reporter,
                                meta_of=self._sidecar if cache is not None else None)
        self._offload = Offload()
        self._closed = False
        self._facts: Facts | None = None
        self._facts_target: object | None = None
        self._failed = False  # a resolve on this repository failed or was interrupted

    @property
    def facts(self) -> Facts:
        """What the last runs read from the cache, kept as one entry per target
        (``index/facts.py``); made on first use (a remembered resolution needs none, nor
        pickle's import)."""
        if self._facts is None:
            from ..facts import Facts

            with self._lock:
                if self._facts is None:
                    self._facts = Facts(self.cache, [*self.indexes, *self.find_links],
                                        use=not self.refresh, target=self._facts_target)
        return self._facts

    def _sidecar(self, bucket: str, key: str) -> dict | None:
        """The sidecar of a cached page: a listing's from the facts snapshot while its file is
        the one they came from (``Facts.sidecar``), any other read from the cache."""
        assert self.cache is not None
        if bucket == "listings" and not self.refresh:
            return self.facts.sidecar(bucket, key)
        return self.cache.get_meta(bucket, key)

    def note_target(self, target: object) -> None:
        """A resolve for ``target`` is about to read from this repository: the first one of
        the command names the facts snapshot (:class:`~constrain.index.facts.Facts`)."""
        if self._facts_target is None:
            self._facts_target = target

    def note_failed(self) -> None:
        """A resolve on this repository failed or was interrupted: the facts snapshot is
        added to at the close, never cut to what this run read (:meth:`Facts.note_failed`)."""
        self._failed = True

    # ------------------------------------------------------------------ MetadataProvider
    def files(self, project: str) -> Sequence[DistFile]:
        """Every file of ``project`` on the first index that knows it, then the files of
        find-links locations not already listed (same filename). Raises
        :class:`ProjectNotFound` (with close names) when no location has the project,
        :class:`NetworkError` when an index cannot be asked, :class:`OfflineMissing` under
        ``offline`` when a page needed is not cached."""
        key = canonicalize_name(project)
        return self._projects.get(key, lambda: self._load_files(key))

    def metadata(self, file: DistFile) -> CoreMetadata:
        """The core metadata of ``file``: one ``metadata_fetcher`` call per file per process,
        shared by concurrent callers."""
        return self._metadata.get(file.cache_identity(), lambda: self._fetch_metadata(file))

    def prefetch(
        self,
        project: str,
        choose: Callable[[Sequence[DistFile]], Iterable[DistFile]] | None = None,
        then: Callable[[CoreMetadata], object] | None = None,
    ) -> None:
        """Start fetching ``project``'s files in the background and then the metadata of the
        files ``choose`` picks, handing the first one's metadata to ``then`` (which may hint
        further projects: a speculative crawl one level deeper at a time). Idempotent per
        project (a later call adding ``choose`` adds the metadata step); never raises --
        errors surface when the files are asked for."""
        if self.offline:
            return  # everything comes from the local cache: threads would only contend
        key = canonicalize_name(project)
        with self._lock:
            if self._closed:
                return
            done = self._prefetched.get(key)
            if done is not None and (done or choose is None):
                return
            first = done is None
            self._prefetched[key] = choose is not None
        pending = self._start_page(key) if first else None
        if pending is None:
            self._submit((PAGES, 0), self._prefetch_job, key, choose, then)
        else:  # read the page once it is here: small pages are not queued behind large ones
            pending.when_done(lambda: self._submit((PAGES, 0), self._prefetch_job, key,
                                                   choose, then))

    def prefetch_files(self, files: Iterable[DistFile]) -> None:
        """Start fetching the metadata of ``files`` in the background (each at most once per
        process, shared with any later real call). Never raises."""
        if self.offline:
            return
        fresh: dict[NormalizedName, bool] = {}
        for file in files:
            with self._lock:
                if file.cache_identity() in self._metadata_hinted:
                    continue
                self._metadata_hinted.add(file.cache_identity())
            if fresh.get(file.project) is None:
                fresh[file.project] = self._page_fresh(file.project)
            if fresh[file.project] and self._metadata_at_hand(file):
                continue  # as in _prefetch_job: the resolver reads it if it needs it
            self._submit(metadata_priority(file), self._quiet_metadata, file)

    # ------------------------------------------------------------------ provenance
    def consulted(self) -> list[str]:
        """Every project whose files were asked for so far (by the resolver or a prefetch)."""
        return [str(k) for k in self._projects.started()]

    def provenance(self, project: str, *, as_read: bool = False) -> list | None:
        """Tokens naming the state of every source :meth:`files` consults for ``project``: the
        cached listing of each index asked (fetch time and validator, up to the one that owns
        the project) and each find-links location (its cached page, or a directory's mtime).
        Equal tokens mean :meth:`files` would answer the same; ``None`` when that cannot be
        known (no cache). Used to tell whether a remembered resolution still holds.

        ``as_read``: the state of the pages as this process read them, where it read them,
        not as they are now (what a resolution is stored with: another process may have
        fetched a page again since, and the answer was not made from that one)."""
        key = canonicalize_name(project)

        def meta_of(bucket: str, cache_key: str) -> dict | None:
            assert self.cache is not None
            if as_read and (bucket, cache_key) in self._pages.served:
                return self._pages.served[(bucket, cache_key)]
            return self.cache.get_meta(bucket, cache_key)

        out: list = []
        for index in self.indexes:
            if index.startswith("file:"):
                where = file_url_to_path(index) / key
                stamp = _mtime(where / "index.html") or _mtime(where)
                out.append(["path", str(where), stamp])
                if stamp is not None:
                    break
                continue
            if self.cache is None:
                return None
            cache_key = url_key(index.rstrip("/") + f"/{key}/")
            meta = meta_of("listings", cache_key)
            if not meta:
                return None
            status = int(meta.get("status", 200))
            out.append(["page", "listings", cache_key, meta.get("fetched"), meta.get("etag")])
            if status not in NOT_HERE:
                break
        for location in self.find_links:
            if location.startswith("file:"):
                token = self._location_stamps.get(location)
                if token is None:
                    token = ["path", location, location_stamp(file_url_to_path(location))]
                    self._location_stamps[location] = token
                out.append(list(token))
            elif self.cache is None:
                return None
            else:
                cache_key = url_key(location)
                meta = meta_of("pages", cache_key) or {}
                out.append(["page", "pages", cache_key, meta.get("fetched"), meta.get("etag")])
        return out

    def provenance_fresh(self, tokens: list) -> bool:
        """Would :meth:`files` use these cached pages as they are, without asking an index
        again (fresh, or ``offline``)?"""
        if self.offline:
            return True
        if self.refresh or self.cache is None:
            return False
        for token in tokens:
            if token[0] == "page":
                meta = self.cache.get_meta(token[1], token[2])
                if not meta or not self._pages.is_fresh(meta):
                    return False
        return True

    # ------------------------------------------------------------------ lifecycle
    def stats(self) -> dict[str, int]:
        """Work done so far: pages and metadata fetched, HTTP requests and bytes."""
        return {
            "pages_fetched": self._pages.fetched,
            "metadata_fetched": self.metadata_fetched,
            "requests": self.client.counters.requests,
            "bytes_received": self.client.counters.bytes_received,
        }

    def close(self) -> None:
        """Stop prefetching: pending jobs are cancelled, running ones finish on their own."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self._offload.close()
        if self._facts is not None:
            if self._failed:
                self._facts.note_failed()
            self._facts.close()

    def __enter__(self) -> IndexRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ files
    def _load_files(self, project: NormalizedName) -> ProjectFiles:
        owned: ProjectFiles | None = None
        for index in self.indexes:
            owned = self._index_files(index, project)
            if owned is not None:
                break  # first-index priority: later indexes are never asked
        linked = [f for f in self._all_find_links_files() if f.project == project]
        if owned is None and not linked:
            suggestions = self._suggestions(project)
            if self.indexes or suggestions:
                raise ProjectNotFound(project, suggestions=suggestions)
            raise ProjectNotFound(project, hint="check the spelling, or add a --find-links "
                                  "location that has it (with --no-index no index is asked)")
        if not linked:
            assert owned is not None
            return owned
        out = list(owned or ())
        seen = {f.filename for f in out}
        for f in linked:
            if f.filename not in seen:
                seen.add(f.filename)
                out.append(f)
        return ProjectFiles.from_files(project, out)

    def _index_files(self, index: str, project: NormalizedName) -> ProjectFiles | None:
        """The files ``index`` lists for ``project``; ``None`` when it does not know it."""
        url = page_url(index, project)
        if index.startswith("file:"):
            if not file_url_to_path(index).is_dir():
                self._warn_once(f"index location {redact_url(index)} does not exist; skipped")
                return None
            page = self._pages.read_local(url)
            if page.status in NOT_HERE:
                return None
            return ProjectFiles.from_files(
                project, parse_project_page(page.body, page.content_type, page.url, project, index)
            )

        def store(served: Page) -> bytes:
            """Parse once and keep the compact, grouped form (``listing.py``); a large
            page is parsed in the helper process, beside this one's GIL."""
            # stored without credentials: no index URL in the rows (load_listing puts it
            # back), links resolved against the page's URL without its login (the client
            # gives that host its login again)
            args = (served.body, served.content_type, strip_userinfo(served.url), project, "")
            if len(served.body) >= OFFLOAD_MIN:  # the first one starts the helper
                self._offload.start()
                # a page asked for on the critical path (a build's requirements: setuptools,
                # 0.6 MB) does not queue behind the burst of large pages: it waited 0.3 s
                return self._offload.run(listing_of_page, *args, first=self.client.urgent_now())
            return listing_of_page(*args)

        what = f"the index page of {project} ({self._shown.get(index) or redact_url(index)})"
        page = self._pages.get(url, what, bucket="listings", store=store, opened=True)
        if page.status in NOT_HERE:
            return None
        if page.entry is not None and page.stored:
            listing = self.facts.listing(project, page.entry, index)
        else:
            listing = load_listing(project, page.body, index) if page.stored else None
        if listing is None:  # a foreign or damaged cache entry: fetch afresh
            page = self._pages.get(url, what, bucket="listings", store=store, use_cache=False)
            listing = load_listing(project, page.body, index)
        if listing is None:
            raise CacheError(f"cannot read the cached listing of {project}",
                             hint="remove the cache directory or use --refresh")
        return listing

    def _all_find_links_files(self) -> list[DistFile]:
        out: list[DistFile] = []
        for location in self.find_links:
            out.extend(self._locations.get(("find-links", location),
                                           functools.partial(self._find_links_files, location)))
        return out

    def _find_links_files(self, location: str) -> list[DistFile]:
        files = find_links_files(location, self._pages, self._warn_once)
        listed = self.vetted.get(location)
        return files if listed is None else only_vetted(files, listed, location,
                                                         self._warn_once)

    def _start_page(self, project: NormalizedName) -> Pending | None:
        """Begin fetching ``project``'s page on the first index now, unless the cache will
        answer (the page cache's ``get`` then takes the response). Every page asked for is in
        flight at once, so the small ones (often sdist-only projects, whose builds are the
        longest waits) arrive first instead of queueing behind large ones for a thread."""
        if self.offline or not self.indexes or self.indexes[0].startswith("file:"):
            return None
        url = page_url(self.indexes[0], project)
        # a caller already loading the project made its own request
        return self._pages.begin(url, "listings", lambda: project in self._projects)

    # ------------------------------------------------------------------ suggestions
    def _suggestions(self, project: NormalizedName) -> tuple[str, ...]:
        """Up to three known project names close to ``project``; never raises."""
        try:
            names: set[str] = {f.project for f in self._all_find_links_files()}
            for index in self.indexes:
                try:
                    names.update(self._locations.get(("root", index),
                                                     functools.partial(self._root_names, index)))
                except Exception:  # noqa: BLE001 -- a hint must never fail the error
                    continue
            return close_names(project, names)
        except Exception:  # noqa: BLE001
            return ()

    def _root_names(self, index: str) -> list[str]:
        return root_names(index, self._pages)

    # ------------------------------------------------------------------ metadata, prefetch
    def _fetch_metadata(self, file: DistFile) -> CoreMetadata:
        with self._lock:
            self.metadata_fetched += 1
        self.reporter.advance("metadata")
        return self.metadata_fetcher(file)

    def _submit(self, priority: tuple, fn: Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._closed:
                return
            if self._pool is None:
                self._pool = PriorityPool(self.workers, "constrain-prefetch")
            pool = self._pool
        pool.submit(priority, fn, *args)

    def _prefetch_job(
        self,
        project: NormalizedName,
        choose: Callable[[Sequence[DistFile]], Iterable[DistFile]] | None,
        then: Callable[[CoreMetadata], object] | None = None,
    ) -> None:
        """The page, then (queued behind the pages asked for: :func:`.prefetch.metadata_priority`) the
        metadata of the chosen files, the first one's handed to ``then``."""
        try:
            files = self.files(project)
            if choose is None:
                return
            chosen = list(choose(files))
        except Exception:  # noqa: BLE001 -- surfaces when the resolver asks for real
            return
        if chosen and self._page_fresh(project):
            # nothing to wait for: the resolver reads what it needs when it needs it (a
            # prefetch would read ahead, under the GIL, metadata the resolve often never
            # uses: a version newer than it can take)
            chosen = [f for f in chosen if not self._metadata_at_hand(f)]
        for i, file in enumerate(chosen):
            self._submit(metadata_priority(file), self._quiet_metadata, file,
                         then if i == 0 else None)

    def _metadata_at_hand(self, file: DistFile) -> bool:
        """Is ``file``'s metadata readable without the network: asked for already, a local
        file, or in the cache? (A guess for prefetching: one stat, nothing read.)"""
        identity = file.cache_identity()
        if identity in self._metadata or file.url.startswith("file:"):
            return True
        if self.cache is None:
            return False
        return self.cache.has("metadata", file_key(identity))

    def _page_fresh(self, project: NormalizedName) -> bool:
        """Is ``project``'s page on the first index cached and fresh (no request to make)?"""
        if self.cache is None or self.refresh or not self.indexes or (
                self.indexes[0].startswith("file:")):
            return False
        meta = self._sidecar("listings", url_key(page_url(self.indexes[0], project)))
        return meta is not None and "fetched" in meta and self._pages.is_fresh(meta)

    def _quiet_metadata(
        self, file: DistFile, then: Callable[[CoreMetadata], object] | None = None
    ) -> None:
        try:
            found = self.metadata(file)
            if then is not None and not self._closed:
                then(found)
        except Exception:  # noqa: BLE001 -- surfaces when the resolver asks for real
            pass
        except KeyboardInterrupt:  # the resolver's thread, computing this file, was stopped:
            pass  # it reports that; this waiter has nothing to add (no thread traceback)

    def _warn_once(self, message: str) -> None:
        with self._lock:
            if message in self._warned:
                return
            self._warned.add(message)
        self.reporter.warning(message)


def _mtime(path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None

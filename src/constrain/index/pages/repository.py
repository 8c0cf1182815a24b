"""The index repository: files and metadata of projects from the configured indexes and
find-links locations, with first-index priority, an HTTP page cache and parallel prefetch.

:class:`IndexRepository` is the real :class:`~constrain.models.MetadataProvider`. For each project
it asks the indexes in priority order; the first one that knows the project owns it and later
indexes are never asked (protection against dependency confusion). Files from find-links
locations are always merged in. Project pages are parsed once and cached in their grouped form
(bucket ``listings``, see ``listing.py``; find-links pages as served, bucket ``pages``) and
revalidated with ``If-None-Match`` / ``If-Modified-Since`` once stale. Every project page and
every file's metadata is fetched at most once per process, even when several threads ask at once.
Prefetch hints request each page at once and fill a thread pool ahead of the resolver; large
pages are parsed in a helper process (``offload.py``). :meth:`IndexRepository.provenance`
names the state of the pages an answer came from (for remembered resolutions).
"""

from __future__ import annotations

import difflib
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import NormalizedName, canonicalize_name

from ...cache.keys import url_key
from ...cache.store import Cache
from ...config import IndexSettings, find_links_locations, index_locations
from ...errors import CacheError, NetworkError, OfflineMissing, ProjectNotFound, redact_url
from ...models import CoreMetadata, DistFile, ProjectFiles
from ...reporting import NULL_REPORTER, Reporter
from ..transport.client import HttpClient, Pending, Response, file_url_to_path
from .listing import listing_of_page, load_listing
from .offload import Offload
from .parse import (
    ACCEPT,
    dist_file,
    parse_find_links_page,
    parse_project_page,
    parse_root_index,
)

T = TypeVar("T")

ROOT_NAMES_TTL = 24 * 3600.0  # the root listing only feeds "did you mean": a day is fresh enough
_NOT_HERE = frozenset({404, 410})
#: pages at least this large are parsed in the helper process (``offload.py``), the
#: first of them starting it: on Airflow's set, the 24 pages above it are 35 of the 41 MB
OFFLOAD_MIN = 256 * 1024


@dataclass(frozen=True)
class _Page:
    """A page as served (or as cached): final URL, status, content type and body."""

    url: str
    status: int
    content_type: str
    body: bytes
    stored: bool = False  # body is the stored (transformed) form, not the page as served


class _SingleFlight:
    """A per-key memo where the first caller computes and concurrent callers wait for it.

    Results and ``Exception``s are remembered; an interrupt (``BaseException``) is not, so a
    later call computes afresh.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[Hashable, Future] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        while True:
            with self._lock:
                future = self._futures.get(key)
                owner = future is None
                if owner:
                    future = self._futures[key] = Future()
            assert future is not None
            if owner:
                try:
                    future.set_result(compute())
                except Exception as exc:
                    future.set_exception(exc)
                except BaseException as exc:
                    with self._lock:
                        self._futures.pop(key, None)
                    future.set_exception(exc)
                    raise
                return future.result()
            try:
                return future.result()
            except BaseException as exc:
                if isinstance(exc, Exception) or not future.done() or future.exception() is not exc:
                    raise  # the computation's error, or this thread's own interrupt
                # the owner was interrupted (Ctrl-C in the main thread): not this thread's
                # interrupt to raise; compute afresh

    def __contains__(self, key: Hashable) -> bool:
        """Has a caller begun (or finished) computing ``key``?"""
        with self._lock:
            return key in self._futures


#: prefetch job priorities: pages before metadata (the resolver reads every root's page before
#: it pins anything, and a page found early starts its project's metadata, or sdist build)
PAGES, METADATA = 0, 1


def _metadata_priority(file: DistFile) -> tuple[int, int]:
    """An sdist's metadata goes with the pages (it may need a build, the longest wait of all);
    a wheel's after them, the largest first: when wheels are fetched whole (install), the
    large ones then arrive, and are unpacked, early rather than last."""
    if not file.is_wheel:
        return (PAGES, 0)
    return (METADATA, -(file.size or 0))


class _PriorityPool:
    """Up to ``workers`` daemon threads running submitted jobs, lowest priority (a tuple) first
    (first come, first served within one priority); threads start as jobs arrive. Jobs must
    not raise. :meth:`close` drops the jobs not started; running ones finish on their own."""

    def __init__(self, workers: int, name: str) -> None:
        import itertools
        import queue

        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._workers = workers
        self._name = name
        self._threads = 0
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, priority: tuple, fn: Callable[..., object], *args: object) -> None:
        with self._lock:
            if self._closed:
                return
            self._queue.put((priority, next(self._order), fn, args))
            if self._idle == 0 and self._threads < self._workers:
                self._threads += 1
                threading.Thread(target=self._run, name=f"{self._name}_{self._threads}",
                                 daemon=True).start()
            # else an idle thread takes it (a racing one may leave it to the next free thread)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
            if job is None or job[2] is None:
                return
            _priority, _n, fn, args = job
            fn(*args)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            threads = self._threads
        import queue

        while True:  # drop what has not started
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in range(threads):  # then let each thread end
            self._queue.put(((-1,), -1, None, ()))


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
    ) -> None:
        self.settings = settings
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
        self.pages_fetched = 0
        self.metadata_fetched = 0
        self._lock = threading.Lock()
        self._projects = _SingleFlight()
        self._metadata = _SingleFlight()
        self._locations = _SingleFlight()  # find-links listings, root listings
        self._prefetched: dict[NormalizedName, bool] = {}  # project -> metadata asked for
        self._early: dict[str, tuple[dict[str, str], Pending]] = {}  # url -> begun request
        self._metadata_hinted: set[str] = set()
        self._warned: set[str] = set()
        self._pool: _PriorityPool | None = None
        self._offload = Offload()
        self._closed = False

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
        for file in files:
            with self._lock:
                if file.cache_identity() in self._metadata_hinted:
                    continue
                self._metadata_hinted.add(file.cache_identity())
            self._submit(_metadata_priority(file), self._quiet_metadata, file)

    # ------------------------------------------------------------------ provenance
    def consulted(self) -> list[str]:
        """Every project whose files were asked for so far (by the resolver or a prefetch)."""
        with self._projects._lock:
            return [str(k) for k in self._projects._futures]

    def provenance(self, project: str) -> list | None:
        """Tokens naming the state of every source :meth:`files` consults for ``project``: the
        cached listing of each index asked (fetch time and validator, up to the one that owns
        the project) and each find-links location (its cached page, or a directory's mtime).
        Equal tokens mean :meth:`files` would answer the same; ``None`` when that cannot be
        known (no cache). Used to tell whether a remembered resolution still holds."""
        key = canonicalize_name(project)
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
            meta = self.cache.get_meta("listings", cache_key)
            if not meta:
                return None
            status = int(meta.get("status", 200))
            out.append(["page", "listings", cache_key, meta.get("fetched"), meta.get("etag")])
            if status not in _NOT_HERE:
                break
        for location in self.find_links:
            if location.startswith("file:"):
                out.append(["path", location, _mtime(file_url_to_path(location))])
            elif self.cache is None:
                return None
            else:
                cache_key = url_key(location)
                meta = self.cache.get_meta("pages", cache_key) or {}
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
                if not meta or not self._is_fresh(meta):
                    return False
        return True

    # ------------------------------------------------------------------ lifecycle
    def stats(self) -> dict[str, int]:
        """Work done so far: pages and metadata fetched, HTTP requests and bytes."""
        return {
            "pages_fetched": self.pages_fetched,
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
            raise ProjectNotFound(project, suggestions=self._suggestions(project))
        if not linked:
            assert owned is not None
            return owned
        out = list(owned or ())
        seen = {f.filename for f in out}
        out.extend(f for f in linked if f.filename not in seen and not seen.add(f.filename))
        return ProjectFiles.from_files(project, out)

    def _index_files(self, index: str, project: NormalizedName) -> ProjectFiles | None:
        """The files ``index`` lists for ``project``; ``None`` when it does not know it."""
        url = _page_url(index, project)
        if index.startswith("file:"):
            if not file_url_to_path(index).is_dir():
                self._warn_once(f"index location {redact_url(index)} does not exist; skipped")
                return None
            page = self._read_local(url)
            if page.status in _NOT_HERE:
                return None
            return ProjectFiles.from_files(
                project, parse_project_page(page.body, page.content_type, page.url, project, index)
            )

        def store(served: _Page) -> bytes:
            """Parse once and keep the compact, grouped form (``listing.py``); a large
            page is parsed in the helper process, beside this one's GIL."""
            # stored without credentials: no index URL in the rows (load_listing puts it
            # back), links resolved against the page's URL without its login (the client
            # gives that host its login again)
            args = (served.body, served.content_type, _strip_userinfo(served.url), project, "")
            if len(served.body) >= OFFLOAD_MIN:  # the first one starts the helper
                self._offload.start()
                return self._offload.run(listing_of_page, *args)
            return listing_of_page(*args)

        what = f"the index page of {project} ({redact_url(index)})"
        page = self._page(url, what, bucket="listings", store=store)
        if page.status in _NOT_HERE:
            return None
        listing = load_listing(project, page.body, index) if page.stored else None
        if listing is None:  # a foreign or damaged cache entry: fetch afresh
            page = self._page(url, what, bucket="listings", store=store, use_cache=False)
            listing = load_listing(project, page.body, index)
        if listing is None:
            raise CacheError(f"cannot read the cached listing of {project}",
                             hint="remove the cache directory or use --refresh")
        return listing

    def _all_find_links_files(self) -> list[DistFile]:
        out: list[DistFile] = []
        for location in self.find_links:
            out.extend(self._locations.get(("find-links", location),
                                           lambda loc=location: self._find_links_files(loc)))
        return out

    def _find_links_files(self, location: str) -> list[DistFile]:
        """Every distribution file at one find-links location (of any project)."""
        shown = redact_url(location)
        if location.startswith("file:"):
            path = file_url_to_path(location)
            if path.is_dir():
                return [
                    f
                    for child in sorted(path.iterdir())
                    if child.is_file()
                    and (f := dist_file(child.name, child.as_uri(), index=location)) is not None
                ]
            if path.is_file() and path.suffix.lower() not in (".html", ".htm"):
                f = dist_file(path.name, location, index=location)
                return [f] if f is not None else []
            if not path.exists():
                self._warn_once(f"find-links location {shown} does not exist; skipped")
                return []
            page = self._read_local(location)
        else:
            page = self._page(location, f"the find-links page {shown}")
        if page.status in _NOT_HERE:
            self._warn_once(
                f"find-links location {shown} does not exist (HTTP {page.status}); skipped"
            )
            return []
        return parse_find_links_page(page.body, page.content_type, page.url, location)

    # ------------------------------------------------------------------ pages
    def _read_local(self, url: str) -> _Page:
        response = self.client.get(url)
        self._count_page()
        ctype = response.headers.get("content-type", "")
        return _Page(url, response.status, ctype, response.content)

    def _page(
        self,
        url: str,
        what: str,
        *,
        bucket: str = "pages",
        store: Callable[[_Page], bytes] | None = None,
        use_cache: bool = True,
    ) -> _Page:
        """``url`` from the page cache when fresh (or ``offline``), else from the network,
        revalidating a stale cached copy. 404/410 answers are returned (and cached) too.

        With ``store``, a page as served is transformed once and only the result is kept (and
        returned, with ``stored=True``): cached hits return that form too."""
        key = url_key(url)
        cached = self._cached(url, key, bucket, stored=store is not None) if use_cache else None
        if cached is not None:
            page, meta = cached
            if self.offline or (not self.refresh and self._is_fresh(meta)):
                return page
        if self.offline:
            raise OfflineMissing(what)
        headers = self._page_headers(cached[1] if cached is not None else None)
        response = self._take_early(url, headers) or self.client.get(url, headers)
        self._count_page()
        now = time.time()
        if response.status == 304 and cached is not None:
            meta = dict(cached[1], fetched=now, max_age=_max_age(response.headers))
            if response.headers.get("etag"):
                meta["etag"] = response.headers["etag"]
            self._cache_write(lambda: self.cache.touch_meta(bucket, key, meta))
            return cached[0]
        if response.ok or response.status in _NOT_HERE:
            final = _with_userinfo_of(response.url or url, url)
            page = _Page(
                final,
                response.status if not response.ok else 200,
                response.headers.get("content-type", ""),
                response.content if response.ok else b"",
            )
            if store is not None and response.ok:
                page = _Page(page.url, page.status, page.content_type, store(page), stored=True)
            if "no-store" not in response.headers.get("cache-control", "").lower():
                meta = {
                    "url": _strip_userinfo(final),
                    "status": page.status,
                    "content_type": page.content_type,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                    "fetched": now,
                    "max_age": _max_age(response.headers),
                }
                self._cache_write(lambda: self.cache.put(bucket, key, page.body, meta))
            return page
        shown = redact_url(url)
        hint = (
            "the index wants credentials: put them in the index URL (https://user:token@host/...)"
            " or check the ones there"
            if response.status in (401, 403)
            else "check the index URL; try again later if the index is having trouble"
        )
        raise NetworkError(f"{shown} answered HTTP {response.status}", url=shown, hint=hint)

    def _page_headers(self, meta: dict | None) -> dict[str, str]:
        """The headers asking for a page whose cached copy has ``meta`` (revalidation)."""
        headers = {"Accept": ACCEPT}
        if meta is not None and int(meta.get("status", 200)) == 200:
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        return headers

    def _start_page(self, project: NormalizedName) -> Pending | None:
        """Begin fetching ``project``'s page on the first index now, unless the cache will
        answer (:meth:`_page` then takes the response). Every page asked for is in flight at
        once, so the small ones (often sdist-only projects, whose builds are the longest
        waits) arrive first instead of queueing behind large ones for a thread."""
        if self.offline or not self.indexes or self.indexes[0].startswith("file:"):
            return None
        url = _page_url(self.indexes[0], project)
        meta = None
        if self.cache is not None:
            meta = self.cache.get_meta("listings", url_key(url))
            if meta and "fetched" in meta and not self.refresh and self._is_fresh(meta):
                return None
        headers = self._page_headers(meta if meta and "fetched" in meta else None)
        with self._lock:  # a caller already loading the project made its own request
            if project in self._projects:
                return None
            try:
                pending = self.client.start_get(url, headers)
            except NetworkError:
                return None
            if pending is not None:
                self._early[url] = (headers, pending)
        return pending

    def _take_early(self, url: str, headers: dict[str, str]) -> Response | None:
        """The response of the request :meth:`_start_page` began for ``url`` with these
        ``headers``, if any (each is used once)."""
        with self._lock:
            early = self._early.pop(url, None)
        if early is None or early[0] != headers:
            return None
        return early[1].result()

    def _cached(
        self, url: str, key: str, bucket: str = "pages", *, stored: bool = False
    ) -> tuple[_Page, dict] | None:
        if self.cache is None:
            return None
        meta = self.cache.get_meta(bucket, key)
        if not meta or "fetched" not in meta:
            return None
        body = self.cache.get(bucket, key)
        if body is None:
            return None
        final = _with_userinfo_of(meta.get("url") or url, url)
        status = int(meta.get("status", 200))
        page = _Page(final, status, meta.get("content_type") or "", body, stored=stored)
        return page, meta

    def _is_fresh(self, meta: dict) -> bool:
        max_age = meta.get("max_age")
        ttl = self.page_ttl if max_age is None else float(max_age)
        try:
            return time.time() - float(meta["fetched"]) < ttl
        except (TypeError, ValueError, KeyError):
            return False

    def _cache_write(self, write: Callable[[], object]) -> None:
        if self.cache is None:
            return
        try:
            write()
        except CacheError as exc:
            self._warn_once(f"{exc.message}; continuing without caching index pages")

    def _count_page(self) -> None:
        with self._lock:
            self.pages_fetched += 1
        self.reporter.advance("pages")  # the progress line on a terminal

    # ------------------------------------------------------------------ suggestions
    def _suggestions(self, project: NormalizedName) -> tuple[str, ...]:
        """Up to three known project names close to ``project``; never raises."""
        try:
            names: set[str] = {f.project for f in self._all_find_links_files()}
            for index in self.indexes:
                try:
                    names.update(self._locations.get(("root", index),
                                                     lambda i=index: self._root_names(i)))
                except Exception:  # noqa: BLE001 -- a hint must never fail the error
                    continue
            names.discard(project)
            spread = max(2, len(project) // 3)
            near = [n for n in names if abs(len(n) - len(project)) <= spread]
            # 0.75: a slip of a letter or two ('reqeusts' -> 'requests' is 0.875); at
            # difflib's 0.6 a shared tail is enough ('nosuchpkg-xyz-123' -> 'cc-package-xyz-123')
            return tuple(difflib.get_close_matches(project, near, n=3, cutoff=0.75))
        except Exception:  # noqa: BLE001
            return ()

    def _root_names(self, index: str) -> list[str]:
        """Canonical project names on ``index``'s root listing, cached for a day."""
        if index.startswith("file:"):
            root = file_url_to_path(index)
            return [canonicalize_name(p.name) for p in root.iterdir() if p.is_dir()]
        key = url_key(index.rstrip("/") + "/", "project-names")
        if self.cache is not None:
            age = self.cache.age("misc", key)
            data = self.cache.get("misc", key)
            if data is not None and age is not None and (self.offline or age < ROOT_NAMES_TTL):
                return json.loads(data)
        if self.offline:
            return []
        response = self.client.get(index.rstrip("/") + "/", {"Accept": ACCEPT})
        if not response.ok:
            return []
        ctype = response.headers.get("content-type", "")
        names = sorted({canonicalize_name(n) for n in parse_root_index(response.content, ctype)})
        listing = json.dumps(names).encode()
        self._cache_write(lambda: self.cache.put("misc", key, listing, {"fetched": time.time()}))
        return names

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
                self._pool = _PriorityPool(self.workers, "constrain-prefetch")
            pool = self._pool
        pool.submit(priority, fn, *args)

    def _prefetch_job(
        self,
        project: NormalizedName,
        choose: Callable[[Sequence[DistFile]], Iterable[DistFile]] | None,
        then: Callable[[CoreMetadata], object] | None = None,
    ) -> None:
        """The page, then (queued behind the pages asked for: :func:`_metadata_priority`) the
        metadata of the chosen files, the first one's handed to ``then``."""
        try:
            files = self.files(project)
            if choose is None:
                return
            chosen = list(choose(files))
        except Exception:  # noqa: BLE001 -- surfaces when the resolver asks for real
            return
        for i, file in enumerate(chosen):
            self._submit(_metadata_priority(file), self._quiet_metadata, file,
                         then if i == 0 else None)

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


# ---------------------------------------------------------------------------- helpers


def _page_url(index: str, project: NormalizedName) -> str:
    """The URL of ``project``'s page on ``index`` (PEP 503: ``<index>/<name>/``); a query on
    the index URL (a token) stays a query: ``<index path>/<name>/?<query>``."""
    if "?" not in index:
        return index.rstrip("/") + f"/{project}/"
    parts = urlsplit(index)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"/{project}/"))


def _mtime(path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _max_age(headers) -> float | None:
    """Seconds a response may be used for, from ``Cache-Control`` (``None``: not said)."""
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name == "no-cache":
            return 0.0
        if name == "max-age":
            try:
                return max(0.0, float(value.strip().strip('"')))
            except ValueError:
                return None
    return None


def _strip_userinfo(url: str) -> str:
    """``url`` without credentials: no userinfo, and no query (where tokens travel), so a
    cache file never holds them."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))


def _with_userinfo_of(url: str, source: str) -> str:
    """``url`` carrying ``source``'s credentials when both name the same host, so relative
    links on a cached or redirected page keep working against an index that needs them."""
    src = urlsplit(source)
    if "@" not in src.netloc:
        return url
    userinfo, _, host = src.netloc.rpartition("@")
    parts = urlsplit(url)
    if parts.netloc.rpartition("@")[2] != host:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


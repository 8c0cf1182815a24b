"""The HTTP page cache: a page from the cache while fresh, else from the network, revalidated.

A page is kept with what the server said of it (validators, ``Cache-Control: max-age``, final
URL without credentials) and used without asking again for ``page_ttl`` seconds, or what
``max-age`` says; a stale copy is revalidated with ``If-None-Match`` / ``If-Modified-Since``.
404 and 410 answers are kept too (a project an index does not have). A page may be stored in a
transformed form (a parsed listing) instead of as served. Requests may be begun early
(:meth:`PageCache.begin`) and their answers taken by the later :meth:`PageCache.get`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import field
from typing import BinaryIO, TypeVar
from urllib.parse import urlsplit, urlunsplit

from packaging.utils import NormalizedName

from ...cache.keys import url_key
from ...cache.store import Cache
from ...errors import CacheError, NetworkError, OfflineMissing, redact_url
from ...records import record
from ...reporting import NULL_REPORTER, Reporter
from ..transport.client import HttpClient, Pending, Response
from .parse import ACCEPT

T = TypeVar("T")

#: statuses meaning "no such page here" (cached and returned like pages)
NOT_HERE = frozenset({404, 410})


@record
class Page:
    """A page as served (or as cached): final URL, status, content type and body."""

    url: str
    status: int
    content_type: str
    body: bytes
    stored: bool = False  # body is the stored (transformed) form, not the page as served
    #: a stored form in the cache, opened (``get(..., opened=True)``: one used as it was
    #: cached, or one just fetched and written): ``body`` is then empty, and whoever reads the
    #: entry closes it
    entry: BinaryIO | None = field(default=None, compare=False)


class PageCache:
    """Pages of ``client`` kept in ``cache`` (``None``: nothing kept). ``refresh`` revalidates
    every cached page once; ``offline`` uses cached pages whatever their age and raises
    :class:`OfflineMissing` for the rest. ``warn`` is told (once per message) when the cache
    cannot be written. :attr:`fetched` counts pages read from the network or from files, and
    ``reporter`` is told of each (task ``"pages"``: the progress line on a terminal)."""

    def __init__(
        self,
        client: HttpClient,
        cache: Cache | None,
        *,
        offline: bool,
        refresh: bool,
        page_ttl: float,
        warn: Callable[[str], None],
        reporter: Reporter = NULL_REPORTER,
        meta_of: Callable[[str, str], dict | None] | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        #: how :meth:`cached` reads an entry's sidecar (default :meth:`Cache.get_meta`)
        self.meta_of = meta_of if meta_of is not None or cache is None else cache.get_meta
        self.offline = offline
        self.refresh = refresh
        self.page_ttl = page_ttl
        self.warn = warn
        self.reporter = reporter
        self.fetched = 0
        self._lock = threading.Lock()
        self._early: dict[str, tuple[dict[str, str], Pending]] = {}  # url -> begun request
        #: (bucket, key) -> the metadata of the copy :meth:`get` last served (``None``: one
        #: not kept in the cache): what this process read, whatever another wrote since
        self.served: dict[tuple[str, str], dict | None] = {}

    def read_local(self, url: str) -> Page:
        """A ``file:`` page, read afresh (never cached)."""
        response = self.client.get(url)
        self._count()
        ctype = response.headers.get("content-type", "")
        return Page(url, response.status, ctype, response.content)

    def get(
        self,
        url: str,
        what: str,
        *,
        bucket: str = "pages",
        store: Callable[[Page], bytes] | None = None,
        use_cache: bool = True,
        opened: bool = False,
    ) -> Page:
        """``url`` from the page cache when fresh (or ``offline``), else from the network,
        revalidating a stale cached copy. 404/410 answers are returned (and cached) too.
        ``what`` names the page in :class:`OfflineMissing`.

        With ``store``, a page as served is transformed once and only the result is kept (and
        returned, with ``stored=True``): cached hits return that form too, and with ``opened``
        that form comes back opened rather than read (:attr:`Page.entry`: a caller that needs
        a few parts of a large entry reads those) when it is a cached hit used as it is, or
        when it was just written to the cache (a cold run then holds no stored page whole)."""
        key = url_key(url)
        stored = store is not None
        cached = self.cached(url, key, bucket, stored=stored, opened=opened and stored
                             ) if use_cache else None
        if cached is not None:
            page, meta = cached
            if self.offline or (not self.refresh and self.is_fresh(meta)):
                self.served[(bucket, key)] = meta
                return page
            if page.entry is not None:  # to be revalidated: a 304 hands back the body
                page.entry.close()
                cached = self.cached(url, key, bucket, stored=stored)
        if self.offline:
            raise OfflineMissing(what)
        headers = self.headers(cached[1] if cached is not None else None)
        response = self._take_early(url, headers) or self.client.get(url, headers)
        self._count()
        now = time.time()
        if response.status == 304 and cached is not None:
            meta = dict(cached[1], fetched=now, max_age=max_age(response.headers))
            if response.headers.get("etag"):
                meta["etag"] = response.headers["etag"]
            self.write(lambda c: c.touch_meta(bucket, key, meta))
            self._read_back(bucket, key)
            self.served[(bucket, key)] = meta
            return cached[0]
        if response.ok or response.status in NOT_HERE:
            final = with_userinfo_of(response.url or url, url)
            page = Page(
                final,
                response.status if not response.ok else 200,
                response.headers.get("content-type", ""),
                response.content if response.ok else b"",
            )
            if store is not None and response.ok:
                page = Page(page.url, page.status, page.content_type, store(page), stored=True)
            self.served[(bucket, key)] = None
            if "no-store" not in response.headers.get("cache-control", "").lower():
                meta = {
                    "url": strip_userinfo(final),
                    "status": page.status,
                    "content_type": page.content_type,
                    "etag": response.headers.get("etag"),
                    "last_modified": response.headers.get("last-modified"),
                    "fetched": now,
                    "max_age": max_age(response.headers),
                }
                self.served[(bucket, key)] = meta
                if opened and page.stored:
                    entry = self.write(lambda c: c.put_opened(bucket, key, page.body, meta))
                    self._read_back(bucket, key)
                    if entry is not None:
                        return Page(page.url, page.status, page.content_type, b"",
                                    stored=True, entry=entry)
                else:
                    self.write(lambda c: c.put(bucket, key, page.body, meta))
                    self._read_back(bucket, key)
            return page
        shown = redact_url(url)
        hint = (
            "the index wants credentials: put them in the index URL (https://user:token@host/...)"
            " or check the ones there"
            if response.status in (401, 403)
            else "check the index URL; try again later if the index is having trouble"
        )
        raise NetworkError(f"{shown} answered HTTP {response.status}", url=shown, hint=hint)

    def headers(self, meta: dict | None) -> dict[str, str]:
        """The headers asking for a page whose cached copy has ``meta`` (revalidation)."""
        headers = {"Accept": ACCEPT}
        if meta is not None and int(meta.get("status", 200)) == 200:
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        return headers

    def begin(self, url: str, bucket: str, unless: Callable[[], bool]) -> Pending | None:
        """Begin fetching ``url`` now, unless the cache will answer (fresh copy) or
        ``unless()`` (asked under this cache's lock) says a caller already made its own
        request; the later :meth:`get` takes the response. ``None`` when nothing began."""
        meta = None
        if self.cache is not None:
            meta = self.cache.get_meta(bucket, url_key(url))
            if meta and "fetched" in meta and not self.refresh and self.is_fresh(meta):
                return None
        headers = self.headers(meta if meta and "fetched" in meta else None)
        with self._lock:
            if unless():
                return None
            try:
                pending = self.client.start_get(url, headers)
            except NetworkError:
                return None
            if pending is not None:
                self._early[url] = (headers, pending)
        return pending

    def _take_early(self, url: str, headers: dict[str, str]) -> Response | None:
        """The response of the request :meth:`begin` began for ``url`` with these
        ``headers``, if any (each is used once)."""
        with self._lock:
            early = self._early.pop(url, None)
        if early is None or early[0] != headers:
            return None
        return early[1].result()

    def _read_back(self, bucket: str, key: str) -> None:
        """A sidecar just written is read back through ``meta_of`` when that is not a plain
        read (the facts snapshot takes it as its file now is: the next run finds it there)."""
        if self.cache is not None and self.meta_of is not None and (
                self.meta_of != self.cache.get_meta):
            self.meta_of(bucket, key)

    def cached(
        self, url: str, key: str, bucket: str = "pages", *, stored: bool = False,
        opened: bool = False,
    ) -> tuple[Page, dict] | None:
        """The cached copy of ``url`` (under ``key`` in ``bucket``) and its metadata; with
        ``opened``, a page (status 200) comes opened (:attr:`Page.entry`), not read."""
        if self.cache is None or self.meta_of is None:
            return None
        meta = self.meta_of(bucket, key)
        if not meta or "fetched" not in meta:
            return None
        status = int(meta.get("status", 200))
        entry = self.cache.open(bucket, key) if opened and status == 200 else None
        body = b"" if entry is not None else self.cache.get(bucket, key)
        if body is None:
            return None
        final = with_userinfo_of(meta.get("url") or url, url)
        page = Page(final, status, meta.get("content_type") or "", body, stored=stored,
                    entry=entry)
        return page, meta

    def is_fresh(self, meta: dict) -> bool:
        """May a cached page with ``meta`` be used without asking the server?"""
        max_age = meta.get("max_age")
        ttl = self.page_ttl if max_age is None else float(max_age)
        try:
            return time.time() - float(meta["fetched"]) < ttl
        except (TypeError, ValueError, KeyError):
            return False

    def write(self, write: Callable[[Cache], T]) -> T | None:
        """``write(cache)``, its result; a cache that cannot be written is warned about, not
        fatal (``None``)."""
        if self.cache is None:
            return None
        try:
            return write(self.cache)
        except CacheError as exc:
            self.warn(f"{exc.message}; continuing without caching index pages")
            return None

    def _count(self) -> None:
        with self._lock:
            self.fetched += 1
        self.reporter.advance("pages")  # the progress line on a terminal


def page_url(index: str, project: NormalizedName) -> str:
    """The URL of ``project``'s page on ``index`` (PEP 503: ``<index>/<name>/``); a query on
    the index URL (a token) stays a query: ``<index path>/<name>/?<query>``."""
    if "?" not in index:
        return index.rstrip("/") + f"/{project}/"
    parts = urlsplit(index)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"/{project}/"))


def max_age(headers) -> float | None:
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


def strip_userinfo(url: str) -> str:
    """``url`` without credentials: no userinfo, and no query (where tokens travel), so a
    cache file never holds them."""
    parts = urlsplit(url)
    if "@" not in parts.netloc and not parts.query:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=""))


def with_userinfo_of(url: str, source: str) -> str:
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

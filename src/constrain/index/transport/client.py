"""The HTTP client: httpx HTTP/2 connection pools on their own event loop, retries, file:// URLs.

Every byte constrain reads from an index, a find-links page or a constraint URL goes through
:class:`HttpClient`, which counts requests and bytes (for benchmarks and reports), refuses the
network under ``--offline``, and turns transport failures into :class:`NetworkError` naming the
URL with credentials removed. It is safe to use from many threads at once. httpcore runs on
asyncio's own transports (``netstream.py``) with larger HTTP/2 frames, both through
``patches.py`` (the one place that reaches into the libraries' internals, switchable off);
failures are retried as ``retries.py`` says; requests made inside :meth:`HttpClient.urgent` use
a pool of their own. One module past 400 lines: one class, so that every request (network or
``file:``, whole or streamed) keeps the same counters, ``--offline`` rule, retries and errors.
"""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ...errors import NetworkError, OfflineMissing, redact_url
from ...heap import map_large_blocks
from ...records import record
from . import patches
from .loop import EventLoop, Pending, Response
from .retries import (
    MAX_RETRY_AFTER,
    RETRY_STATUS,
    backoff_delay,
    name_lookup_failed_for_now,
    name_unknown,
    refused,
    retry_after,
    without_network,
)
from .urls import refuse_unusable

if TYPE_CHECKING:
    import ssl

__all__ = ["HttpClient", "Pending", "Response", "backoff_delay", "retry_after"]

#: seconds one request may take in all, retries included (``--deadline``): long enough for a
#: large wheel on a slow link, short enough that a trickling server cannot hold a run for hours
DEFAULT_DEADLINE = 1800.0
USER_AGENT = "constrain/0.1 (+resolver)"


@record(frozen=False)
class Counters:
    """Requests made and bytes received; stable figures for benchmarks."""

    requests: int = 0
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int, requests: int = 1) -> None:
        with self._lock:
            self.requests += requests
            self.bytes_received += nbytes


def file_url_to_path(url: str) -> Path:
    """``file:///a/b`` -> ``/a/b`` (percent-decoded)."""
    parts = urlsplit(url)
    return Path(unquote(parts.path))


class HttpClient:
    """Fetches URLs over HTTP/2 (falling back to HTTP/1.1) or from ``file://`` paths.

    ``retries`` extra attempts are made for timeouts, resets and retryable statuses (429,
    5xx), waiting about ``backoff * 2**attempt`` seconds between them (jittered), or what the
    server's ``Retry-After`` asks. ``timeout`` bounds connecting and each wait for more of an
    answer (a stalled server); ``deadline`` bounds one request as a whole, retries and
    back-off included (a server trickling bytes), ``None`` for no bound. ``patches`` applies
    ``patches.py``'s changes to httpx/httpcore/h2/hyperframe (``None``: unless
    ``CONSTRAIN_HTTP_PATCHES=0``); off, the libraries work as shipped, with more CPU per byte.
    Once :meth:`close` has been called every request raises :class:`NetworkError`.
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        deadline: float | None = DEFAULT_DEADLINE,
        cert: str | None = None,
        max_connections: int = 64,
        patches: bool | None = None,
    ) -> None:
        self.offline = offline
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.deadline = deadline
        self.cert = cert
        self.max_connections = max_connections
        self.patches = patches
        self.counters = Counters()
        self._client: EventLoop | None = None
        self._ssl_context: ssl.SSLContext | None = None  # made once, shared by both lanes
        self._closed = False
        self._client_lock = threading.Lock()
        self._lane = threading.local()
        self._credentials: dict[tuple[str, str, int | None], str] = {}

    def settings(self) -> dict:
        """What makes another client like this one (:meth:`like`), in another process: its
        options and the logins it learnt for hosts (picklable)."""
        with self._client_lock:
            credentials = dict(self._credentials)
        return {"offline": self.offline, "retries": self.retries, "backoff": self.backoff,
                "timeout": self.timeout, "deadline": self.deadline, "cert": self.cert,
                "max_connections": self.max_connections, "patches": self.patches,
                "credentials": credentials}

    @classmethod
    def like(cls, settings: dict) -> HttpClient:
        """A client made from another's :meth:`settings`."""
        options = dict(settings)
        credentials = options.pop("credentials", {})
        client = cls(**options)
        client._credentials.update(credentials)
        return client

    # ------------------------------------------------------------------ plumbing
    def _loop(self) -> EventLoop:
        """The event loop thread owning the async HTTP/2 client, started on first use.

        All network I/O runs on that one thread: httpx's synchronous HTTP/2 connections are not
        safe to share between threads (the HPACK header table is encoded without a lock), while
        one asyncio loop multiplexes any number of concurrent requests over one connection.
        Callers on any thread submit coroutines and wait for their results."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._closed:  # a late request (a prefetch job) must not revive it
                    raise NetworkError("the HTTP client was closed", url="")
                if self._client is None:
                    self._client = EventLoop(self._make_client)
                client = self._client
        return client

    def _make_client(self):
        import httpx

        # the network is used: page bodies of megabytes come and go (heap.py)
        map_large_blocks()

        patched = patches.wanted() if self.patches is None else self.patches
        if patched:
            patches.install_patches(True)

        import ssl

        # One TLS context for both lanes (loading the CA bundle is ~25 ms of CPU, on the loop
        # thread: the urgent lane's client is made when a build's first request comes)
        verify = self._ssl_context
        if verify is None:
            verify = self._ssl_context = httpx.create_ssl_context(
                verify=ssl.create_default_context(cafile=self.cert) if self.cert else True,
                trust_env=True)
        limits = httpx.Limits(max_connections=self.max_connections,
                              max_keepalive_connections=self.max_connections)
        return httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15.0)),
            follow_redirects=True,
            limits=limits,
            transport=patches.asyncio_transport(verify, limits) if patched else None,
            headers={"User-Agent": USER_AGENT},
            # marks this client's connections for the large-frames patch
            event_hooks={"request": [patches.mark_request] if patched else []},
        )

    def warm_up(self) -> None:
        """Start the event loop and build the client (imports, TLS context) in the background,
        for a caller that knows requests will come while it waits on something else (install
        asks its interpreter for its facts meanwhile). A no-op offline or once built."""
        if self.offline or self._client is not None:
            return

        def build() -> None:
            try:
                self._loop()
            except Exception:  # noqa: BLE001 -- the first real request reports any problem
                pass

        threading.Thread(target=build, name="constrain-http-warmup", daemon=True).start()

    def close(self) -> None:
        """End every request in flight (their callers get :class:`NetworkError`) and close
        the connections. Final: later requests raise :class:`NetworkError`."""
        with self._client_lock:
            loop, self._client, self._closed = self._client, None, True
        if loop is not None:
            loop.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ API
    @contextlib.contextmanager
    def urgent(self) -> Iterator[None]:
        """Requests this thread makes inside the block travel on connections of their own.
        An HTTP/2 connection shares its bandwidth among its streams: with a hundred index
        pages and wheels in flight, a small request on the critical path (an sdist, its build
        requirements' page and wheel) would get a hundredth of it, and every build waited
        for the bulk to finish. On a connection of its own it gets about half."""
        before = getattr(self._lane, "urgent", False)
        self._lane.urgent = True
        try:
            yield
        finally:
            self._lane.urgent = before

    def urgent_now(self) -> bool:
        """Is this thread inside :meth:`urgent`?"""
        return getattr(self._lane, "urgent", False)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """GET ``url``. Returns any final HTTP status (404 included) as a :class:`Response`;
        raises :class:`NetworkError` only when no answer could be had after retries, and
        :class:`OfflineMissing` for network URLs under ``--offline``."""
        if url.startswith("file:"):
            return self._get_file(url, headers or {})
        if self.offline:
            raise OfflineMissing(redact_url(url))
        refuse_unusable(url)
        return self._loop().run(self._arequest(url, dict(headers or {}), self.urgent_now()))

    def start_get(self, url: str, headers: Mapping[str, str] | None = None) -> Pending | None:
        """Begin :meth:`get` of a network ``url`` without waiting: the request goes out now
        (many at once share the HTTP/2 connection) and :meth:`Pending.result` gives what
        :meth:`get` would have. ``None`` for ``file:`` URLs and under ``--offline``."""
        if url.startswith("file:") or self.offline:
            return None
        refuse_unusable(url)
        loop = self._loop()
        return Pending(loop, loop.submit(self._arequest(url, dict(headers or {}),
                                                        self.urgent_now())))

    def get_range(self, url: str, start: int | None, end: int | None) -> Response:
        """GET bytes ``start..end`` (inclusive) of ``url``; ``start=None`` asks for the last
        ``end`` bytes (a suffix range). A 200 answer means the server ignored the range and
        sent the whole body."""
        rng = f"bytes=-{end}" if start is None else f"bytes={start}-{'' if end is None else end}"
        return self.get(url, {"Range": rng})

    def stream_to(
        self,
        url: str,
        dest: Path,
        headers: Mapping[str, str] | None = None,
        *,
        append: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Response:
        """GET ``url`` writing a 2xx body to ``dest`` as it arrives (so large files never sit in
        memory); the returned :class:`Response` has an empty ``content``. Any other final status
        is returned with its body in ``content`` and ``dest`` untouched. Same retries, counters,
        ``--offline`` and ``file://`` rules as :meth:`get`.

        ``append`` (for resuming with a ``Range`` header): a 206 body is appended to the bytes
        ``dest`` held when the call began (a retry first cuts it back to them); a 200 body
        replaces the file. ``progress(n)`` is called after each chunk, once it is flushed."""
        if url.startswith("file:"):
            r = self._get_file(url, headers or {})
            if r.ok:
                mode = "ab" if append and r.status == 206 else "wb"
                with open(dest, mode) as fh:
                    fh.write(r.content)
                if progress is not None:
                    progress(len(r.content))
                return Response(r.url, r.status, r.headers, b"")
            return r
        if self.offline:
            raise OfflineMissing(redact_url(url))
        refuse_unusable(url)
        base = Path(dest).stat().st_size if append and Path(dest).exists() else 0
        return self._loop().run(self._astream_to(url, Path(dest), dict(headers or {}), append,
                                                 base, progress, self.urgent_now()))

    async def _astream_to(
        self,
        url: str,
        dest: Path,
        headers: dict[str, str],
        append: bool,
        base: int,
        progress: Callable[[int], None] | None,
        urgent: bool = False,
    ) -> Response:
        async def attempt(client, send_headers: dict[str, str]) -> Response:
            async with client.stream("GET", url, headers=send_headers) as r:
                out_headers = {k.lower(): v for k, v in r.headers.items()}
                if not (200 <= r.status_code < 300):
                    body = await r.aread()
                    self.counters.add(len(body))
                    return Response(str(r.url), r.status_code, out_headers, body)
                received = 0
                resume = append and r.status_code == 206
                with open(dest, "ab" if resume else "wb") as fh:
                    if resume:
                        fh.truncate(base)
                    async for chunk in r.aiter_raw(1 << 16):
                        fh.write(chunk)
                        received += len(chunk)
                        if progress is not None:
                            fh.flush()
                            progress(len(chunk))
                self.counters.add(received)
                return Response(str(r.url), r.status_code, out_headers, b"")

        return await self._with_retries(url, headers, urgent, attempt)

    # ------------------------------------------------------------------ internals
    async def _arequest(self, url: str, headers: dict[str, str], urgent: bool = False
                        ) -> Response:
        async def attempt(client, send_headers: dict[str, str]) -> Response:
            r = await client.get(url, headers=send_headers)
            content = r.content
            self.counters.add(len(content))
            return Response(str(r.url), r.status_code,
                            {k.lower(): v for k, v in r.headers.items()}, content)

        return await self._with_retries(url, headers, urgent, attempt)

    async def _with_retries(self, url: str, headers: dict[str, str], urgent: bool,
                            attempt: Callable[..., Awaitable[Response]]) -> Response:
        """The one retry loop of every request: ``attempt(client, headers)`` is tried up to
        ``retries + 1`` times. Retried: timeouts, resets and other transport failures, and
        the statuses of :data:`RETRY_STATUS` (the last such answer is returned). Not
        retried: a host name with no address, a refused connection, and a name lookup that
        failed for now on a machine with no network route (asking again in a second does
        not help, and cost every run seconds of back-off). Between attempts:
        :func:`backoff_delay` (jittered), or the server's ``Retry-After`` when it asks for
        longer. The whole, back-off included, ends within ``deadline`` seconds."""
        import asyncio

        import httpx

        client = self._loop().client_for(urgent)
        send_headers = dict(headers)
        auth = self._credentials_for(url)
        if auth is not None and not any(k.lower() == "authorization" for k in send_headers):
            send_headers["Authorization"] = auth
        loop = asyncio.get_running_loop()
        give_up_at = None if self.deadline is None else loop.time() + self.deadline
        last_error = ""
        tries = 0
        delay = 0.0
        while True:
            if delay:
                if give_up_at is not None and loop.time() + delay >= give_up_at:
                    break
                await asyncio.sleep(delay)
            tries += 1
            remaining = None if give_up_at is None else give_up_at - loop.time()
            try:
                async with asyncio.timeout(remaining):
                    r = await attempt(client, send_headers)
            except TimeoutError:
                last_error = f"not finished within the deadline of {_seconds(self.deadline)}"
                break
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if name_unknown(exc) or refused(exc):
                    break  # asking again in a moment will not help
                if name_lookup_failed_for_now(exc) and without_network():
                    last_error += "; this machine has no network route"
                    break  # nor will it without a network
                if tries > self.retries:
                    break
                delay = backoff_delay(self.backoff, tries)
                continue
            if r.status in RETRY_STATUS and tries <= self.retries:
                wait = retry_after(r.headers.get("retry-after"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    return r  # the server asks for a long pause: its answer stands
                last_error = f"HTTP {r.status}"
                delay = max(backoff_delay(self.backoff, tries), wait or 0.0)
                if give_up_at is not None and loop.time() + delay >= give_up_at:
                    return r
                continue
            self._learn_credentials(url)
            return r
        shown = redact_url(url)
        raise NetworkError(
            f"could not reach {shown} ({last_error}) after {tries} "
            f"attempt{'s' if tries != 1 else ''}",
            url=shown,
            hint="check the network, the proxy settings and the index URL; "
            "--timeout and --deadline set how long to wait; --offline works from the cache "
            "alone",
        )

    def _learn_credentials(self, url: str) -> None:
        """Remember the user and password of a URL that worked, for its host."""
        parts = urlsplit(url)
        if parts.password is None and parts.username is None:
            return
        import base64

        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        with self._client_lock:
            self._credentials.setdefault(_origin(parts), f"Basic {token}")

    def _credentials_for(self, url: str) -> str | None:
        """An ``Authorization`` header for a URL without credentials on a host an index URL
        gave some for (files an authenticated index serves by absolute URL, as pip and uv
        do); ``None`` otherwise."""
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            return None
        with self._client_lock:
            return self._credentials.get(_origin(parts))

    def remember_credentials(self, url: str) -> None:
        """Credentials of ``url`` (an index URL from the configuration) are good for every
        URL of its host (scheme, host and port alike)."""
        self._learn_credentials(url)

    def _get_file(self, url: str, headers: Mapping[str, str]) -> Response:
        path = file_url_to_path(url)
        try:
            if path.is_dir():
                index = path / "index.html"
                if not index.is_file():  # a directory listing for find-links style use
                    names = sorted(p.name for p in path.iterdir())
                    body = "".join(f'<a href="{n}">{n}</a>\n' for n in names).encode()
                    return Response(url, 200, {"content-type": "text/html"}, body)
                path = index
            data = path.read_bytes()
        except OSError as exc:  # a name longer than the file system takes: no such file
            if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENAMETOOLONG:
                return Response(url, 404, {}, b"")
            raise NetworkError(f"cannot read {path}: {exc.strerror}", url=url) from exc
        status = 200
        rng = {k.lower(): v for k, v in headers.items()}.get("range")
        if rng and rng.startswith("bytes="):
            spec = rng[6:]
            size = len(data)
            first, _, last = spec.partition("-")
            if first == "":
                start, stop = max(0, size - int(last)), size - 1
            else:
                start, stop = int(first), (int(last) if last else size - 1)
            data = data[start : stop + 1]
            status = 206
            out_headers = {"content-range": f"bytes {start}-{min(stop, size - 1)}/{size}"}
            return Response(url, status, out_headers, data)
        ctype = "text/html" if path.suffix in (".html", ".htm") else ""
        return Response(url, status, {"content-type": ctype}, data)


def _seconds(value: float | None) -> str:
    return f"{value:g} s" if value is not None else "none"


def _origin(parts) -> tuple[str, str, int | None]:
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port or default)

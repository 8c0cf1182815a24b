"""The HTTP client: httpx HTTP/2 connection pools on their own event loop, retries, file:// URLs.

Every byte constrain reads from an index, a find-links page or a constraint URL goes through
:class:`HttpClient`, which counts requests and bytes (for benchmarks and reports), refuses the
network under ``--offline``, and turns transport failures into :class:`NetworkError` naming the
URL with credentials removed. It is safe to use from many threads at once. httpcore runs on
asyncio's own transports (``netstream.py``); requests made inside :meth:`HttpClient.urgent` use
a pool of their own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import NetworkError, OfflineMissing, redact_url

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "constrain/0.1 (+resolver)"


@dataclass
class Response:
    """What a fetch returned: final URL, status, headers (lower-case keys) and the body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Counters:
    """Requests made and bytes received; stable figures for benchmarks."""

    requests: int = 0
    bytes_received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_received += nbytes


def file_url_to_path(url: str) -> Path:
    """``file:///a/b`` -> ``/a/b`` (percent-decoded)."""
    parts = urlsplit(url)
    return Path(unquote(parts.path))


class Pending:
    """A request begun by :meth:`HttpClient.start_get`."""

    def __init__(self, loop: _EventLoop, future) -> None:
        self._loop = loop
        self._future = future

    def result(self) -> Response:
        """The response (waiting for it); raises as :meth:`HttpClient.get` would."""
        return self._loop.wait(self._future)

    def when_done(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the request has ended, however it ended (at once if it
        has; otherwise on the HTTP thread, so it must be quick)."""
        self._future.add_done_callback(lambda _future: callback())


class HttpClient:
    """Fetches URLs over HTTP/2 (falling back to HTTP/1.1) or from ``file://`` paths.

    ``retries`` extra attempts are made for connection errors, timeouts and retryable statuses
    (429, 5xx), waiting ``backoff * 2**attempt`` seconds between them.
    """

    def __init__(
        self,
        *,
        offline: bool = False,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30.0,
        cert: str | None = None,
        max_connections: int = 64,
    ) -> None:
        self.offline = offline
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.cert = cert
        self.max_connections = max_connections
        self.counters = Counters()
        self._client = None
        self._client_lock = threading.Lock()
        self._lane = threading.local()

    # ------------------------------------------------------------------ plumbing
    def _loop(self) -> _EventLoop:
        """The event loop thread owning the async HTTP/2 client, started on first use.

        All network I/O runs on that one thread: httpx's synchronous HTTP/2 connections are not
        safe to share between threads (the HPACK header table is encoded without a lock), while
        one asyncio loop multiplexes any number of concurrent requests over one connection.
        Callers on any thread submit coroutines and wait for their results."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = _EventLoop(self._make_client)
        return self._client

    def _make_client(self):
        import httpx

        _ask_for_large_frames()
        _cheap_frame_repr()

        verify: object = True
        if self.cert:
            import ssl

            verify = ssl.create_default_context(cafile=self.cert)
        limits = httpx.Limits(max_connections=self.max_connections,
                              max_keepalive_connections=self.max_connections)
        return httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15.0)),
            follow_redirects=True,
            limits=limits,
            transport=_asyncio_transport(verify, limits),
            headers={"User-Agent": USER_AGENT},
            # marks this client's connections for _ask_for_large_frames
            event_hooks={"request": [_mark_request]},
        )

    def warm_up(self) -> None:
        """Start the event loop and build the client (TLS context, imports) in the background,
        so the first request does not pay for it. A no-op offline."""
        if self.offline or self._client is not None:
            return

        def build() -> None:
            try:
                self._loop()
            except Exception:  # noqa: BLE001 -- the first real request reports any problem
                pass

        threading.Thread(target=build, name="constrain-http-warmup", daemon=True).start()

    def close(self) -> None:
        with self._client_lock:
            loop, self._client = self._client, None
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

    def _urgent_now(self) -> bool:
        return getattr(self._lane, "urgent", False)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Response:
        """GET ``url``. Returns any final HTTP status (404 included) as a :class:`Response`;
        raises :class:`NetworkError` only when no answer could be had after retries, and
        :class:`OfflineMissing` for network URLs under ``--offline``."""
        if url.startswith("file:"):
            return self._get_file(url, headers or {})
        if self.offline:
            raise OfflineMissing(redact_url(url))
        return self._loop().run(self._arequest(url, dict(headers or {}), self._urgent_now()))

    def start_get(self, url: str, headers: Mapping[str, str] | None = None) -> Pending | None:
        """Begin :meth:`get` of a network ``url`` without waiting: the request goes out now
        (many at once share the HTTP/2 connection) and :meth:`Pending.result` gives what
        :meth:`get` would have. ``None`` for ``file:`` URLs and under ``--offline``."""
        if url.startswith("file:") or self.offline:
            return None
        loop = self._loop()
        return Pending(loop, loop.submit(self._arequest(url, dict(headers or {}),
                                                        self._urgent_now())))

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
        base = Path(dest).stat().st_size if append and Path(dest).exists() else 0
        return self._loop().run(self._astream_to(url, Path(dest), dict(headers or {}), append,
                                                 base, progress, self._urgent_now()))

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
        import asyncio

        import httpx

        client = self._loop().client_for(urgent)
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                async with client.stream("GET", url, headers=headers) as r:
                    out_headers = {k.lower(): v for k, v in r.headers.items()}
                    if not (200 <= r.status_code < 300):
                        body = await r.aread()
                        self.counters.add(len(body))
                        if r.status_code in _RETRY_STATUS and attempt < self.retries:
                            last_error = f"HTTP {r.status_code}"
                            continue
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
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if _name_unknown(exc):
                    break  # the host has no address: asking again in a second will not help
                continue
        raise NetworkError(
            f"could not reach {redact_url(url)} ({last_error}) after {attempt + 1} "
            f"attempt{'s' if attempt else ''}",
            url=redact_url(url),
            hint="check the network, the proxy settings and the index URL; "
            "--offline works from the cache alone",
        )

    # ------------------------------------------------------------------ internals
    async def _arequest(self, url: str, headers: dict[str, str], urgent: bool = False
                        ) -> Response:
        import asyncio

        import httpx

        client = self._loop().client_for(urgent)
        last_error: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                r = await client.get(url, headers=headers)
                content = r.content
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if _name_unknown(exc):
                    break  # the host has no address: asking again in a second will not help
                continue
            self.counters.add(len(content))
            if r.status_code in _RETRY_STATUS and attempt < self.retries:
                last_error = f"HTTP {r.status_code}"
                continue
            return Response(
                url=str(r.url),
                status=r.status_code,
                headers={k.lower(): v for k, v in r.headers.items()},
                content=content,
            )
        raise NetworkError(
            f"could not reach {redact_url(url)} ({last_error}) after {attempt + 1} "
            f"attempt{'s' if attempt else ''}",
            url=redact_url(url),
            hint="check the network, the proxy settings and the index URL; "
            "--offline works from the cache alone",
        )

    def _get_file(self, url: str, headers: Mapping[str, str]) -> Response:
        path = file_url_to_path(url)
        if path.is_dir():
            index = path / "index.html"
            if index.is_file():
                path = index
            else:  # a directory listing for find-links style use
                names = sorted(p.name for p in path.iterdir())
                body = "".join(f'<a href="{n}">{n}</a>\n' for n in names).encode()
                return Response(url, 200, {"content-type": "text/html"}, body)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Response(url, 404, {}, b"")
        except OSError as exc:
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


def _name_unknown(exc: BaseException) -> bool:
    """Did ``exc`` come from a host name with no address (``EAI_NONAME``: an unreachable
    GitHub, a typo in a URL)? Retries with back-off would only add seconds to every run."""
    import socket

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME:
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _asyncio_transport(verify: object, limits):
    """httpx's transport for direct connections, with httpcore on :mod:`.netstream` instead of
    anyio (reads take everything that has arrived, not one TLS record each). Proxied
    connections keep httpx's own transports. ``None`` (httpx's default) when httpx's
    transport is not built the way this expects."""
    import httpcore
    import httpx

    from .netstream import AsyncioBackend

    transport = httpx.AsyncHTTPTransport(http2=True, verify=verify, limits=limits)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool):
        return None
    try:
        transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001 -- the one way in
            ssl_context=pool._ssl_context,  # noqa: SLF001
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=AsyncioBackend(),
        )
    except (AttributeError, TypeError):
        return None
    return transport


#: the largest HTTP/2 DATA frame constrain asks servers for (RFC 9113 allows up to 16 MiB - 1)
LARGE_FRAME = 1 << 20
_LARGE_FRAMES = "constrain.large_frames"  # request extension marking constrain's connections
_frames_lock = threading.Lock()


async def _mark_request(request) -> None:
    request.extensions[_LARGE_FRAMES] = True


def _ask_for_large_frames() -> None:
    """Make constrain's HTTP/2 connections ask for DATA frames of up to :data:`LARGE_FRAME`
    bytes instead of the 16 KiB default (a SETTINGS_MAX_FRAME_SIZE update right after the
    connection preface). httpcore keeps the default and handles every frame in Python, so
    index pages and wheels in 16 KiB frames cost about a third more CPU than in large ones
    (measured: 64 MB of wheels, 1.1-1.4 s of CPU against 0.8-0.9 s). httpcore has no setting
    for it: this wraps its connection set-up, only for connections whose first request is
    constrain's (marked by :func:`_mark_request`), and does nothing when httpcore's
    internals are not the ones expected."""
    try:
        from h2.settings import SettingCodes
        from httpcore._async.http2 import AsyncHTTP2Connection
    except ImportError:
        return
    with _frames_lock:
        original = getattr(AsyncHTTP2Connection, "_send_connection_init", None)
        if original is None or getattr(original, "constrain_large_frames", False):
            return

        async def send_connection_init(self, request) -> None:
            await original(self, request)
            state = getattr(self, "_h2_state", None)
            write = getattr(self, "_write_outgoing_data", None)
            if state is None or write is None or not request.extensions.get(_LARGE_FRAMES):
                return
            state.update_settings({SettingCodes.MAX_FRAME_SIZE: LARGE_FRAME})
            self.READ_NUM_BYTES = LARGE_FRAME  # and read them in pieces that large
            await write(request)

        send_connection_init.constrain_large_frames = True  # type: ignore[attr-defined]
        AsyncHTTP2Connection._send_connection_init = send_connection_init


def _cheap_frame_repr() -> None:
    """h2 formats every frame it receives for its trace log, whether or not anything logs
    (``repr(frame)``), and hyperframe's repr of a DATA frame hex-encodes the whole payload to
    show its first 20 hex digits: every byte downloaded was hex-encoded once, about a tenth
    of the HTTP thread's time. This replaces that helper with one giving the same text from
    the first 10 bytes only."""
    import binascii

    try:
        import hyperframe.frame as frame_module
    except ImportError:
        return
    original = getattr(frame_module, "_raw_data_repr", None)
    if original is None or getattr(original, "constrain_cheap", False):
        return

    def raw_data_repr(data) -> str:
        if not data:
            return "None"
        shown = binascii.hexlify(bytes(data[:10])).decode("ascii")
        return "<hex:" + shown + ("..." if len(data) > 10 else "") + ">"

    raw_data_repr.constrain_cheap = True  # type: ignore[attr-defined]
    frame_module._raw_data_repr = raw_data_repr


class _EventLoop:
    """An asyncio loop on a daemon thread and the async client that lives on it."""

    def __init__(self, make_client: Callable[[], object]) -> None:
        import asyncio

        self._asyncio = asyncio
        self._make_client = make_client
        self._urgent = None  # the urgent lane's client, made on first use
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="constrain-http", daemon=True
        )
        self.thread.start()

        async def create():
            return make_client()

        self.client = self.run(create())

    def client_for(self, urgent: bool):
        """The client of a lane (on the loop thread): ``urgent`` requests have connections of
        their own (``HttpClient.urgent``)."""
        if not urgent:
            return self.client
        if self._urgent is None:
            self._urgent = self._make_client()
        return self._urgent

    def run(self, coro):
        """Run ``coro`` on the loop and wait for its result (from any other thread)."""
        return self.wait(self.submit(coro))

    def submit(self, coro):
        """Start ``coro`` on the loop; its :class:`concurrent.futures.Future`."""
        try:
            return self._asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:  # the loop is closed
            coro.close()
            raise NetworkError("the HTTP client was closed", url="") from None

    def wait(self, future):
        """The result of a :meth:`submit` future. A caller racing :meth:`close` (a prefetch
        job still running when the command ends) gets a :class:`NetworkError` instead of
        waiting forever on a loop that has stopped."""
        from concurrent.futures import CancelledError

        while True:
            try:
                return future.result(timeout=1.0)
            except CancelledError:
                raise NetworkError("the HTTP client was closed", url="") from None
            except TimeoutError:
                if not self.thread.is_alive() or not self.loop.is_running():
                    future.cancel()
                    raise NetworkError("the HTTP client was closed", url="") from None

    async def _shutdown(self) -> None:
        """Cancel every request still in flight (their callers get NetworkError), then close
        the client's connections -- so nothing is left pending when the loop stops."""
        asyncio = self._asyncio
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for client in (self.client, self._urgent):
            try:
                if client is not None:
                    await client.aclose()
            except Exception:  # noqa: BLE001 -- closing must not mask the command's outcome
                pass
        for _ in range(3):  # closed transports finish closing (their connection_lost runs)
            await asyncio.sleep(0)

    def close(self) -> None:
        self.loop.set_exception_handler(lambda loop, context: None)  # quiet at shutdown
        try:
            self._asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout=10)
        except Exception:  # noqa: BLE001 -- closing must not mask the command's outcome
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()

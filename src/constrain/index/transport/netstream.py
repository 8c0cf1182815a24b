"""httpcore's network layer on plain asyncio protocols: a read takes every byte that has arrived.

httpcore's default asyncio backend goes through anyio, whose TLS stream decrypts one TLS record
(at most 16 KiB) per read. Every such read then passes through anyio's cancel scopes, httpcore's
locks and h2's parser, which made that one thread the process's largest holder of the GIL on
a large install (figures in benchmarks/README.md). asyncio's own TLS
transport decrypts everything that has arrived at once and hands it over in one piece, so
:class:`AsyncioStream` serves reads from that buffer, each as large as httpcore asks for.

:class:`AsyncioBackend` implements ``httpcore.AsyncNetworkBackend`` (TCP, Unix sockets,
``start_tls`` for proxies), with httpcore's exceptions and timeouts.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore

#: buffered bytes above which the transport stops reading until the stream is read
_HIGH_WATER = 8 << 20


class _Protocol(asyncio.Protocol):
    """Buffers what arrives; wakes the one reader waiting for it."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False  # reading paused: too much buffered
        self._reader: asyncio.Future | None = None
        self._drained: asyncio.Future | None = None
        self._can_write = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > _HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # close the transport

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self._can_write = True
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._can_write = False

    def resume_writing(self) -> None:
        self._can_write = True
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def _wake(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def wait_readable(self) -> None:
        self._reader = asyncio.get_running_loop().create_future()
        try:
            await self._reader
        finally:
            self._reader = None

    async def wait_writable(self) -> None:
        if self._can_write:
            return
        self._drained = asyncio.get_running_loop().create_future()
        try:
            await self._drained
        finally:
            self._drained = None

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what is buffered, in arrival order (pieces joined, the last
        one cut where needed)."""
        first = self.chunks.popleft()
        if len(first) < max_bytes and self.chunks:
            parts, size = [first], len(first)
            while self.chunks and size < max_bytes:
                piece = self.chunks.popleft()
                parts.append(piece)
                size += len(piece)
            first = b"".join(parts)
        if len(first) > max_bytes:
            self.chunks.appendleft(first[max_bytes:])
            first = first[:max_bytes]
        self.size -= len(first)
        if self.paused and self.size <= _HIGH_WATER // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return first


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: a transport and its buffering protocol."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        if not p.chunks:
            if p.eof:
                return self._end()
            try:
                async with asyncio.timeout(timeout):
                    while not p.chunks and not p.eof:
                        await p.wait_readable()
            except TimeoutError:
                raise httpcore.ReadTimeout("timed out reading from the server") from None
            if not p.chunks:
                return self._end()
        return p.take(max_bytes)

    def _end(self) -> bytes:
        error = self._protocol.error
        if error is not None:
            raise httpcore.ReadError(str(error) or type(error).__name__) from error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        try:
            async with asyncio.timeout(timeout):
                await self._protocol.wait_writable()
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing to the server") from None

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport, self._protocol, ssl_context, server_side=False,
                server_hostname=server_hostname, ssl_handshake_timeout=timeout)
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        # back-pressure now pauses the TLS transport, which stops its own reading (pausing the
        # TCP transport under it would fight the TLS layer's control of it)
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        t = self._transport
        if info == "ssl_object":
            return t.get_extra_info("ssl_object")
        if info == "client_addr":
            return t.get_extra_info("sockname")
        if info == "server_addr":
            return t.get_extra_info("peername")
        if info == "socket":
            return t.get_extra_info("socket")
        if info == "is_readable":  # an idle connection with something to read is being closed
            return bool(self._protocol.chunks) or self._protocol.eof or t.is_closing()
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """``httpcore.AsyncNetworkBackend`` over the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port, local_addr=local)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        sock = transport.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

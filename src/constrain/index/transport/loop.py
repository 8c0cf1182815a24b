"""The HTTP client's event loop: an asyncio loop on a thread of its own, and waiting for answers.

httpx's synchronous HTTP/2 connections are not safe to share between threads (the HPACK header
table is encoded without a lock), while one asyncio loop multiplexes any number of concurrent
requests over one connection. So every request runs on :class:`EventLoop`'s thread, and callers
on any thread submit coroutines and wait for their results (:class:`Pending`), each a
:class:`Response`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import NetworkError
from ...records import record


@record(frozen=False)
class Response:
    """What a fetch returned: final URL, status, headers (lower-case keys) and the body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Pending:
    """A request begun by :meth:`HttpClient.start_get`."""

    def __init__(self, loop: EventLoop, future) -> None:
        self._loop = loop
        self._future = future

    def result(self) -> Response:
        """The response (waiting for it); raises as :meth:`HttpClient.get` would."""
        return self._loop.wait(self._future)

    def when_done(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the request has ended, however it ended (at once if it
        has; otherwise on the HTTP thread, so it must be quick)."""
        self._future.add_done_callback(lambda _future: callback())


class EventLoop:
    """An asyncio loop on a daemon thread and the async client that lives on it."""

    def __init__(self, make_client: Callable[[], object]) -> None:
        import asyncio

        self._asyncio = asyncio
        self._make_client = make_client
        self._urgent: Any = None  # the urgent lane's client, made on first use
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

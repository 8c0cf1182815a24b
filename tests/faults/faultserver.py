"""A misbehaving front for the test index on 127.0.0.1: stalls, trickles, statuses with headers.

:class:`FaultServer` answers like the :class:`~tests.support.indexserver.IndexServer` it wraps
(its pages, files and log), except for paths given a rule with :meth:`FaultServer.rule`:

- ``("stall",)``: read the request, answer nothing until the server closes;
- ``("trickle", seconds)``: the real answer's headers at once, then its body one byte every
  ``seconds``;
- ``("status", code, {header: value})``: that status (with an empty body);
- ``("body", bytes, content_type)``: that body with a 200;
- ``("pass",)``: the real answer (a rule added before broader ones exempts a path).

A rule applies to every request under its path prefix, ``times`` times (``None``: always).
File links on pages point at the wrapped index (``index.url``), unless the index was built
with ``relative_urls=True``; :attr:`FaultServer.url` is the front's own base URL.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.indexserver import DROP, IndexServer


class FaultServer:
    def __init__(self, index: IndexServer) -> None:
        self.index = index
        self._rules: list[list] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self._httpd = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple"

    def rule(self, prefix: str, action: tuple, times: int | None = None) -> None:
        with self._lock:
            self._rules.append([prefix, action, times])

    def requests_to(self, prefix: str) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return [r for r in self.requests if r[0].startswith(prefix)]

    def _take(self, path: str) -> tuple | None:
        with self._lock:
            self.requests.append((path, {}))
            for entry in self._rules:
                prefix, action, times = entry
                if path.startswith(prefix) and (times is None or times > 0):
                    if times is not None:
                        entry[2] = times - 1
                    return action
        return None

    def close(self) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(front: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 60

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            action = front._take(self.path)
            with front._lock:
                front.requests[-1] = (self.path, headers)
            if action is not None and action[0] == "pass":
                action = None
            if action is not None and action[0] == "stall":
                front._closing.wait(120)
                self.close_connection = True
                return
            if action is not None and action[0] == "status":
                self.send_response(action[1])
                for name, value in action[2].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if action is not None and action[0] == "body":
                self._send(200, action[1], ((("Content-Type", action[2]),)))
                return
            result = front.index.answer("GET", self.path, headers)
            if result == DROP:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action is not None and action[0] == "trickle":
                self.send_response(result.status)
                for name, value in result.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(result.body)))
                self.end_headers()
                try:
                    for byte in result.body:
                        if front._closing.wait(action[1]):
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = True
                return
            self._send(result.status, result.body, result.headers)

        def _send(self, status: int, body: bytes, headers) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (a refused connection)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 60.0) -> bool:
    """Poll ``predicate`` until true (bounded); whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False

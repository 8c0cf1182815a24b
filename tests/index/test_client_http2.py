"""The HTTP client over real HTTP/2 (TLS with ALPN, a small server made with the h2 library):
constrain asks for large DATA frames, and bodies sent in them arrive whole."""

from __future__ import annotations

import binascii
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from constrain.index.transport.client import HttpClient
from constrain.index.transport.patches import LARGE_FRAME, _cheap_frame_repr

BODY = bytes(range(256)) * (3 * 1024 * 1024 // 256 + 7)  # a little over 3 MiB


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class H2Server:
    """Serves :data:`BODY` on every path over HTTP/2, in frames as large as the client allows;
    records the settings the client sent, the size of each DATA frame it sent back, and the
    paths asked for on each connection (``paths``, one list per connection) and the TLS
    handshakes a client refused (``refused``)."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.set_alpn_protocols(["h2"])
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.client_settings: dict[int, int] = {}
        self.frame_sizes: list[int] = []
        self.paths: list[list[str]] = []
        self.refused = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:  # closed
                return
            paths: list[str] = []
            self.paths.append(paths)
            threading.Thread(target=self._serve_one, args=(raw, paths), daemon=True).start()

    def _serve_one(self, raw: socket.socket, paths: list[str]) -> None:
        import h2.config
        import h2.connection
        import h2.events

        try:
            conn_sock = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):  # the client did not trust the certificate
            self.refused += 1
            raw.close()
            return
        with conn_sock:
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
            conn.initiate_connection()
            conn_sock.sendall(conn.data_to_send())
            while data := conn_sock.recv(1 << 16):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RemoteSettingsChanged):
                        self.client_settings.update(
                            {int(k): v.new_value for k, v in event.changed_settings.items()})
                    elif isinstance(event, h2.events.RequestReceived):
                        paths.append(dict(event.headers)[b":path"].decode())
                        self._respond(conn, event.stream_id)
                conn_sock.sendall(conn.data_to_send())

    def _respond(self, conn, stream_id: int) -> None:
        conn.send_headers(stream_id, [(":status", "200"),
                                      ("content-length", str(len(BODY)))])
        view = memoryview(BODY)
        while view:
            size = min(conn.max_outbound_frame_size, conn.local_flow_control_window(stream_id),
                       len(view))
            conn.send_data(stream_id, bytes(view[:size]), end_stream=size == len(view))
            self.frame_sizes.append(size)
            view = view[size:]

    def close(self) -> None:
        self.sock.close()


def test_large_frames_are_asked_for_and_bodies_in_them_arrive_whole(certificate, tmp_path):
    from h2.settings import SettingCodes

    server = H2Server(*certificate)
    client = HttpClient(cert=str(certificate[0]), retries=0)
    try:
        r = client.get(f"https://127.0.0.1:{server.port}/page")
        assert r.status == 200 and r.content == BODY
        dest = tmp_path / "file.bin"
        assert client.stream_to(f"https://127.0.0.1:{server.port}/file", dest).status == 200
        assert dest.read_bytes() == BODY
    finally:
        client.close()
        server.close()
    assert server.client_settings.get(SettingCodes.MAX_FRAME_SIZE) == LARGE_FRAME
    assert max(server.frame_sizes) == LARGE_FRAME  # the server used them; the client took them


def test_a_large_data_frame_is_shown_without_hex_encoding_its_payload():
    # what the patch saves, counted in memory rather than time: hyperframe's own helper makes
    # 2 MiB of hex (and its text) to show 20 digits of a 1 MiB payload
    import tracemalloc

    import hyperframe.frame as frame_module

    _cheap_frame_repr()
    payload = bytes(range(256)) * 4096
    tracemalloc.start()
    try:
        shown = frame_module._raw_data_repr(payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shown == "<hex:" + payload[:10].hex() + "...>"
    assert peak < 64 * 1024, peak


@given(st.binary(max_size=64))
def test_data_frames_print_as_before_without_encoding_the_whole_payload(data):
    # h2 formats every received frame; the text must stay what hyperframe shows
    import hyperframe.frame as frame_module
    from hyperframe.frame import DataFrame

    _cheap_frame_repr()
    full = binascii.hexlify(data).decode("ascii")
    shown = full[:20] + "..." if len(full) > 20 else full
    expected = "None" if not data else "<hex:" + shown + ">"
    assert frame_module._raw_data_repr(data) == expected
    frame = DataFrame(1, data + bytes(1 << 20))  # a large payload costs no more to show
    assert repr(frame).endswith("<hex:" + binascii.hexlify((data + bytes(10))[:10]).decode()
                                + "...>")


def test_urgent_requests_travel_on_a_connection_of_their_own(certificate, tmp_path):
    server = H2Server(*certificate)
    client = HttpClient(cert=str(certificate[0]), retries=0)
    base = f"https://127.0.0.1:{server.port}"
    try:
        assert client.get(f"{base}/bulk-1").content == BODY
        with client.urgent():
            assert client.get(f"{base}/urgent-page").content == BODY
            assert client.stream_to(f"{base}/urgent-file", tmp_path / "u").status == 200
            pending = client.start_get(f"{base}/urgent-early")
        assert client.get(f"{base}/bulk-2").content == BODY  # the lane ends with the block
        assert pending.result().content == BODY
        assert (tmp_path / "u").read_bytes() == BODY
    finally:
        client.close()
        server.close()
    assert sorted(map(sorted, server.paths)) == [
        ["/bulk-1", "/bulk-2"], ["/urgent-early", "/urgent-file", "/urgent-page"]]



def test_both_lanes_check_the_server_certificate(certificate, tmp_path):
    """The bulk and the urgent lane share one TLS context: each still refuses a server whose
    certificate the client does not trust (the test's self-signed one, against the default
    CA bundle), and each accepts it when given its CA (``cert``)."""
    from constrain.errors import NetworkError

    server = H2Server(*certificate)
    base = f"https://127.0.0.1:{server.port}"
    untrusting = HttpClient(retries=0)
    trusting = HttpClient(cert=str(certificate[0]), retries=0)
    try:
        with pytest.raises(NetworkError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            untrusting.get(f"{base}/bulk")
        with untrusting.urgent(), pytest.raises(NetworkError,
                                                match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            untrusting.get(f"{base}/urgent")
        with trusting.urgent():
            assert trusting.get(f"{base}/urgent").content == BODY
        assert trusting.get(f"{base}/bulk").content == BODY
    finally:
        untrusting.close()
        trusting.close()
        server.close()
    # two refused handshakes (no request), then one connection per lane of the trusting client
    deadline = time.monotonic() + 10  # the server's threads see the refusals on their own time
    while server.refused < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.refused == 2
    assert sorted(sorted(p) for p in server.paths if p) == [["/bulk"], ["/urgent"]]


def test_bodies_arrive_whole_when_reading_pauses_under_tls(certificate, monkeypatch):
    # the client's buffer mark far below the body: reading the TLS stream stops and starts
    # again many times over
    from constrain.index.transport import netstream

    monkeypatch.setattr(netstream, "_HIGH_WATER", 16 * 1024)
    server = H2Server(*certificate)
    client = HttpClient(cert=str(certificate[0]), retries=0)
    try:
        r = client.get(f"https://127.0.0.1:{server.port}/page")
        assert r.status == 200 and r.content == BODY
        assert r.headers.get("content-length") == str(len(BODY))
    finally:
        client.close()
        server.close()

"""httpcore's network layer on asyncio protocols, against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpcore
import pytest

from constrain.index.transport import netstream
from constrain.index.transport.netstream import AsyncioBackend


class Peer:
    """A TCP server on 127.0.0.1 that runs ``script(conn)`` for the one connection it takes."""

    def __init__(self, script) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, args=(script,), daemon=True)
        self.thread.start()

    def _serve(self, script) -> None:
        conn, _ = self.sock.accept()
        with conn:
            script(conn, self)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(10)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_a_read_takes_everything_that_has_arrived_up_to_what_is_asked():
    arrived = threading.Event()

    def script(conn, peer):
        for i in range(5):
            conn.sendall(bytes([i]) * 1000)
        arrived.set()
        conn.recv(1)  # until the client closes

    peer = Peer(script)

    async def main():
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", peer.port, timeout=10)
        await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 10)
        deadline = asyncio.get_running_loop().time() + 10
        while stream._protocol.size < 5000 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # the loop reads what the socket holds
        first = await stream.read(2500, timeout=10)
        rest = await stream.read(1 << 20, timeout=10)
        await stream.aclose()
        return first, rest

    first, rest = run(main())
    peer.close()
    data = b"".join(bytes([i]) * 1000 for i in range(5))
    assert first == data[:2500]  # what arrived in pieces, joined and cut at what was asked for
    assert rest == data[2500:]


def test_writes_arrive_and_the_end_of_the_stream_reads_empty():
    def script(conn, peer):
        while len(peer.received) < 6:
            peer.received += conn.recv(100)
        conn.sendall(b"bye")
        conn.shutdown(socket.SHUT_WR)

    peer = Peer(script)

    async def main():
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", peer.port, timeout=10)
        await stream.write(b"hello!", timeout=10)
        got = b""
        while chunk := await stream.read(1024, timeout=10):
            got += chunk
        again = await stream.read(1024, timeout=10)
        await stream.aclose()
        return got, again

    got, again = run(main())
    peer.close()
    assert bytes(peer.received) == b"hello!"
    assert got == b"bye" and again == b""


def test_a_silent_server_is_a_read_timeout_and_a_closed_port_a_connect_error():
    def script(conn, peer):
        conn.recv(1)

    peer = Peer(script)

    async def silent():
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", peer.port, timeout=10)
        try:
            with pytest.raises(httpcore.ReadTimeout):
                await stream.read(10, timeout=0.2)
        finally:
            await stream.aclose()

    run(silent())
    peer.close()
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(httpcore.ConnectError):
        run(AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=10))


def test_a_reset_connection_is_a_read_error():
    import struct

    def script(conn, peer):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.recv(1)  # then closed with a reset

    peer = Peer(script)

    async def main():
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", peer.port, timeout=10)
        await stream.write(b"x", timeout=10)
        with pytest.raises(httpcore.ReadError):
            while await stream.read(10, timeout=10):
                pass
        await stream.aclose()

    run(main())
    peer.close()


def test_reading_pauses_while_too_much_is_buffered(monkeypatch):
    monkeypatch.setattr(netstream, "_HIGH_WATER", 64 * 1024)
    total = 32 << 20  # more than the kernel buffers on both sides hold
    sent = threading.Event()

    def script(conn, peer):
        conn.sendall(b"z" * total)
        sent.set()
        conn.recv(1)

    peer = Peer(script)

    async def main():
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", peer.port, timeout=10)
        await asyncio.sleep(0.3)  # the server sends; the client buffers up to its mark
        held = stream._protocol.size
        assert stream._protocol.paused and not sent.is_set()  # the rest waits in the kernel
        got = 0
        while got < total:
            got += len(await stream.read(1 << 20, timeout=10))
        await stream.aclose()
        return held, got

    held, got = run(main())
    peer.close()
    assert 64 * 1024 < held < total and got == total


def test_a_host_name_without_an_address_is_asked_for_once(monkeypatch):
    # an unreachable GitHub (no DNS entry) must not cost every run seconds of back-off
    from constrain.errors import NetworkError
    from constrain.index.transport.client import HttpClient

    asked: list[str] = []

    def no_address(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_address)
    with (HttpClient(retries=3, backoff=30) as client,  # a retry would wait 30 s
          pytest.raises(NetworkError) as err):
        client.get("https://raw.example.invalid/constraints-3.11.txt")
    assert asked == ["raw.example.invalid"]
    assert "after 1 attempt" in err.value.message and "Name or service" in err.value.message


LO_ONLY_V6 = ("00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
              "00000000000000000000000000000000 00000000 00000001 00000000 00200001       lo\n")
IPV4_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
ETH0_DEFAULT = "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n"


@pytest.mark.parametrize(("ipv4", "network"), [(IPV4_HEADER, False),
                                               (IPV4_HEADER + ETH0_DEFAULT, True)],
                         ids=["no-network", "network"])
def test_a_name_lookup_failing_for_now_is_asked_again_only_with_a_network(
        monkeypatch, tmp_path, ipv4, network):
    # with no route but loopback (cable out, Wi-Fi off, unshare -n) every lookup fails at once
    # with EAI_AGAIN: back-off between attempts only added seconds before the same error
    from constrain.errors import NetworkError
    from constrain.index.transport import retries
    from constrain.index.transport.client import HttpClient

    (tmp_path / "route").write_text(ipv4)
    (tmp_path / "ipv6_route").write_text(LO_ONLY_V6)
    monkeypatch.setattr(retries, "ROUTE_TABLES",
                        (str(tmp_path / "route"), str(tmp_path / "ipv6_route")))
    assert retries.without_network() is not network
    asked: list[str] = []

    def no_answer(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_answer)
    with (HttpClient(retries=2, backoff=0.01) as client, pytest.raises(NetworkError) as err):
        client.get("https://index.example.invalid/simple/six/")
    assert "Temporary failure in name resolution" in err.value.message
    if network:  # a name server that did not answer may answer in a moment
        assert len(asked) == 3 and "after 3 attempts" in err.value.message
    else:
        assert asked == ["index.example.invalid"]
        assert "no network route" in err.value.message and "after 1 attempt" in err.value.message


def test_route_tables_that_cannot_be_read_tell_nothing(monkeypatch, tmp_path):
    from constrain.index.transport import retries

    monkeypatch.setattr(retries, "ROUTE_TABLES", (str(tmp_path / "none"),))
    assert retries.without_network() is False

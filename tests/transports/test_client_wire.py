"""The client's connection over ``picows``, against a hand-written loopback peer: each
handshake failure as its typed error (401, 403, 429 with ``Retry-After``, 500, a refused
port, a peer that never answers), the ``Connection`` contract (``send_nowait`` says
``False`` and writes nothing while the peer stops reading, ``wait_writable`` returns once
it reads again), fragmented messages, the size limit and invalid UTF-8, a close the peer
sends, and the ``Outbox`` holding what is sent while the client reconnects."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from wavewire.errors import (
    AuthError,
    ConnectError,
    ConnectionClosedError,
    RateLimitError,
    RemoteClosedError,
    ServiceTimeoutError,
)
from wavewire.serializers.raw import RawSerializer
from wavewire.testing import FakeClock
from wavewire.transports.client import Backoff, WebSocketClient
from wavewire.transports.client_conn import ClientConnection
from wavewire.transports.client_dial import dial, proxy_for
from wavewire.transports.connection import Connection, ConnState

from .._ws_peer import peer, wait_for
from .test_tls import cert  # noqa: F401 - the fixture: a self-signed certificate

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawPeer:
    """One loopback connection at a time, answered by hand: ``status`` 101 completes the
    handshake (then the test drives ``reader``/``writer``), another status refuses it
    with ``headers``, ``None`` never answers."""

    def __init__(self, status: int | None = 101, headers: dict[str, str] | None = None
                 ) -> None:
        self.status = status
        self.headers = headers or {}
        self.port = 0
        self.accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue())
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        request = await reader.readuntil(b"\r\n\r\n")
        if self.status is None:
            await reader.read()  # never answers; the client hangs up
            return
        head = [f"HTTP/1.1 {self.status} Status"]
        if self.status == 101:
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
            head += ["Upgrade: websocket", "Connection: Upgrade",
                     f"Sec-WebSocket-Accept: {accept}"]
        else:
            head.append("Content-Length: 0")
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        if self.status == 101:
            await self.accepted.put((reader, writer))
        else:
            await writer.drain()
            writer.close()

    def close(self) -> None:
        for writer in self._writers:
            writer.transport.abort()


@contextlib.asynccontextmanager
async def raw_peer(status: int | None = 101, **headers: str) -> AsyncIterator[RawPeer]:
    p = RawPeer(status, {k.replace("_", "-"): v for k, v in headers.items()})
    server = await asyncio.start_server(p.handle, "127.0.0.1", 0)
    p.port = server.sockets[0].getsockname()[1]
    try:
        yield p
    finally:
        p.close()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked server frame."""
    n = len(payload)
    size = bytes([n]) if n < 126 else b"\x7e" + struct.pack("!H", n) if n < 65536 \
        else b"\x7f" + struct.pack("!Q", n)
    return bytes([(0x80 if fin else 0) | opcode]) + size + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One masked client frame: ``(opcode, payload)``."""
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def open_conn(url: str, **kw: object) -> ClientConnection:
    options: dict = dict(where=url, headers=None, subprotocols=None, open_timeout=5.0,
                         ping_interval=None, ping_timeout=None, close_timeout=1.0,
                         max_size=1 << 20, ssl=None, proxy=None)
    options.update(kw)
    return await dial(url, **options)


# -- handshake failures, typed ---------------------------------------------------------------


@pytest.mark.parametrize(("status", "error", "retryable"), [
    (401, AuthError, False), (403, AuthError, False), (500, ConnectError, True),
    (404, ConnectError, False),
])
async def test_a_refused_handshake_is_its_typed_error(status, error, retryable):
    async with raw_peer(status) as p:
        client = WebSocketClient(p.url, RawSerializer, reconnect=None)
        with pytest.raises(error) as info:
            await client.connect()
        assert type(info.value) is error and info.value.status == status
        assert info.value.retryable is retryable and client.closed
        await client.close()


async def test_429_is_a_rate_limit_with_its_retry_after():
    async with raw_peer(429, Retry_After="42") as p:
        with pytest.raises(RateLimitError) as info:
            await open_conn(p.url)
        assert info.value.status == 429 and info.value.retry_after == 42.0
        assert info.value.retryable


async def test_a_refused_port_is_a_retryable_connect_error():
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectError) as info:
        await open_conn(f"ws://127.0.0.1:{port}/ws")
    assert info.value.retryable and type(info.value) is ConnectError


async def test_a_peer_that_never_answers_is_a_service_timeout():
    async with raw_peer(None) as p:
        with pytest.raises(ServiceTimeoutError):
            await open_conn(p.url, open_timeout=0.2)


async def test_a_url_that_is_not_a_websocket_url_is_not_retried():
    with pytest.raises(ConnectError) as info:
        await open_conn("http://127.0.0.1:9/ws")
    assert not info.value.retryable


async def test_a_subprotocol_that_was_not_offered_is_refused():
    async with raw_peer(101, Sec_WebSocket_Protocol="other") as p:
        with pytest.raises(ConnectError, match="subprotocol"):
            await open_conn(p.url, subprotocols=["mine"])


def test_proxy_choice(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("http_proxy", "http://plain.example:3128")
    monkeypatch.setenv("no_proxy", "internal.example")
    assert proxy_for("wss://api.example/v1", True) == "http://proxy.example:3128"
    assert proxy_for("ws://api.example/v1", True) == "http://plain.example:3128"
    assert proxy_for("wss://internal.example/v1", True) is None
    assert proxy_for("wss://api.example/v1", "socks5://s:1080") == "socks5://s:1080"
    assert proxy_for("wss://api.example/v1", None) is None


# -- the connection contract -----------------------------------------------------------------


async def test_send_nowait_says_false_and_writes_nothing_while_the_peer_stops_reading():
    async with raw_peer() as p:
        conn = await open_conn(p.url)
        reader, _writer = await asyncio.wait_for(p.accepted.get(), 5)
        assert isinstance(conn, Connection) and conn.state is ConnState.OPEN
        chunk = bytes(range(256)) * 64  # 16 KiB
        written = 0
        for _ in range(100_000):  # the peer reads nothing: the buffers fill up
            if not conn.send_nowait(chunk):
                break
            written += 1
        else:
            pytest.fail("send_nowait never said False")
        assert conn.stats.messages_out == written  # the refused message was not counted
        writable = asyncio.ensure_future(conn.wait_writable())
        await asyncio.sleep(0)
        assert not writable.done()
        got = [await read_frame(reader) for _ in range(written)]  # the peer reads again
        await asyncio.wait_for(writable, 10)
        assert all(g == (2, chunk) for g in got) and conn.send_nowait(b"after")
        assert await read_frame(reader) == (2, b"after")
        conn.abort()


async def test_messages_in_fragments_and_text_and_a_close_from_the_peer():
    async with raw_peer() as p:
        conn = await open_conn(p.url)
        reader, writer = await asyncio.wait_for(p.accepted.get(), 5)
        writer.write(frame(2, b"ab", fin=False) + frame(0, b"cd", fin=False)
                     + frame(9, b"ping") + frame(0, b"ef") + frame(1, "héllo".encode())
                     + frame(8, struct.pack("!H", 4001) + b"bye"))
        assert await conn.recv() == b"abcdef"
        assert await conn.recv() == "héllo"
        assert await read_frame(reader) == (10, b"ping")  # answered in the middle
        assert await read_frame(reader) == (8, struct.pack("!H", 4001))  # the echo
        with pytest.raises(ConnectionClosedError) as info:
            await conn.recv()
        assert (info.value.code, info.value.reason) == (4001, "bye")
        assert conn.ended() == (4001, "bye", False) and conn.state is ConnState.CLOSED
        with pytest.raises(ConnectionClosedError):
            conn.send_nowait(b"late")


@pytest.mark.parametrize(("sent", "code", "by_picows"), [
    (frame(2, b"x" * 600), 1009, True),  # over max_size in one frame (picows' own limit)
    (frame(2, b"x" * 300, fin=False) + frame(0, b"x" * 300), 1009, False),  # in fragments
    (frame(1, b"\xff\xfe"), 1007, False),  # text that is not UTF-8
    (frame(0, b"lost"), 1002, False),  # a continuation of nothing
])
async def test_a_peer_breaking_the_rules_gets_the_close_code(sent, code, by_picows):
    async with raw_peer() as p:
        conn = await open_conn(p.url, max_size=500)
        reader, writer = await asyncio.wait_for(p.accepted.get(), 5)
        writer.write(sent)
        opcode, payload = await read_frame(reader)
        assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == code
        await asyncio.wait_for(conn.wait_closed(), 5)
        assert conn.ended()[0::2] == (code, True)
        await wait_for(lambda: conn.failure is not None or not by_picows)
        assert (conn.failure is not None) is by_picows  # picows' own check is kept


async def test_close_waits_for_the_peers_answer():
    async with raw_peer() as p:
        conn = await open_conn(p.url)
        reader, writer = await asyncio.wait_for(p.accepted.get(), 5)
        closing = asyncio.ensure_future(conn.close(4000, "done"))
        assert await read_frame(reader) == (8, struct.pack("!H", 4000) + b"done")
        assert not closing.done() and conn.state is ConnState.CLOSING
        writer.write(frame(8, struct.pack("!H", 4000)))
        await asyncio.wait_for(closing, 5)
        assert conn.state is ConnState.CLOSED and conn.ended() == (4000, "done", True)


# -- the client: the outbox while reconnecting, a close with a code ----------------------------


async def test_the_outbox_holds_what_is_sent_while_reconnecting_and_flushes_it_in_order():
    clock = FakeClock()
    async with peer() as p:
        client = WebSocketClient(p.url, RawSerializer, clock=clock, buffer_size=2,
                                 reconnect=Backoff(initial=1.0, jitter=0.0))
        await client.connect()
        await client.send(b"live")
        await wait_for(lambda: p.received == [b"live"])
        await p.drop()
        await wait_for(lambda: not client.connected and clock.pending >= 1)
        for i in range(3):  # one more than the outbox holds: the oldest goes
            await client.send(bytes([i]))
        assert client.held == 2 and client.stats.dropped == 1
        await clock.advance(1.0)
        await wait_for(lambda: len(p.connections) == 2 and len(p.connections[1]) == 2)
        assert p.connections[1] == [b"\x01", b"\x02"] and client.held == 0
        assert client.stats.buffered == 3 and client.stats.messages_out == 3
        await client.close()


async def test_a_policy_close_from_the_peer_ends_the_client_with_its_code():
    async with raw_peer() as p:
        client = WebSocketClient(p.url, RawSerializer, reconnect=Backoff(initial=0.001))
        await client.connect()
        _reader, writer = await asyncio.wait_for(p.accepted.get(), 5)
        writer.write(frame(8, struct.pack("!H", 4003) + b"quota"))
        assert await client.wait_closed(10)
        assert isinstance(client.error, RemoteClosedError)
        assert (client.error.close_code, client.error.reason) == (4003, "quota")
        assert not client.error.retryable
        await client.close()


async def test_a_reader_that_falls_behind_pauses_the_socket_and_loses_nothing():
    from wavewire.transports.client_conn import INBOX_HIGH

    async with raw_peer() as p:
        conn = await open_conn(p.url)
        _reader, writer = await asyncio.wait_for(p.accepted.get(), 5)
        n = INBOX_HIGH * 4
        writer.write(b"".join(frame(2, i.to_bytes(2, "big")) for i in range(n)))
        await writer.drain()
        got = [await asyncio.wait_for(conn.recv(), 5) for _ in range(n)]
        assert got == [i.to_bytes(2, "big") for i in range(n)]
        assert conn.stats.messages_in == n
        conn.abort()


async def test_wss_with_a_given_context_and_a_refused_certificate(cert):  # noqa: F811
    from .conftest import pcm, running
    from .test_tls import contexts

    server_ctx, client_ctx = contexts(cert)
    async with running(ssl=server_ctx) as server:
        url = f"wss://127.0.0.1:{server.port}/ws"
        got: list[bytes] = []

        async def on_message(message):
            if isinstance(message, bytes):
                got.append(message)

        client = WebSocketClient(url, RawSerializer, ssl=client_ctx, reconnect=None)
        await client.connect(on_message)
        await client.send(pcm(320, 3))
        await wait_for(lambda: b"".join(got) == pcm(320, 3))
        await client.close()
        untrusted = WebSocketClient(url, RawSerializer, reconnect=None)  # default CAs
        with pytest.raises(ConnectError, match="SSL"):
            await untrusted.connect()
        await untrusted.close()

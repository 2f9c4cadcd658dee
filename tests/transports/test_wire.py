"""The server-side WebSocket connection (wire.py), driven by a hand-made client over
loopback: framing, fragmentation, every protocol failure and its close code, keepalive,
deadlines, closing, and flow control in both directions."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import os
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wavewire.transports.http import parse_request
from wavewire.transports.wire import (
    ConnectionClosed,
    ServerConnection,
    accept_key,
    upgrade_error,
)

from .._optional import need
from .conftest import wait_for

KEY = base64.b64encode(b"0123456789abcdef").decode()


def mask_bytes(data: bytes, key: bytes) -> bytes:
    """Client-side masking, written plainly (independent of the module's fast path)."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True,
          rsv: int = 0, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    if n < 126:
        head = bytes((b0, (0x80 if masked else 0) | n))
    elif n < 65536:
        head = bytes((b0, (0x80 if masked else 0) | 126)) + struct.pack("!H", n)
    else:
        head = bytes((b0, (0x80 if masked else 0) | 127)) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_bytes(payload, key)


class Peer:
    """A raw client: writes bytes, reads server frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def handshake(self, path: str = "/", extra: str = "") -> bytes:
        await self.send(
            (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()
        )
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 2)

    async def read_frame(self) -> tuple[int, bool, bytes]:
        async with asyncio.timeout(3):
            b0, b1 = await self.reader.readexactly(2)
            assert not b1 & 0x80, "server frames are never masked"
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            return b0 & 0x0F, bool(b0 & 0x80), await self.reader.readexactly(n)

    async def expect_close(self, code: int) -> str:
        op, _, payload = await self.read_frame()
        while op != 8:
            op, _, payload = await self.read_frame()
        assert struct.unpack("!H", payload[:2])[0] == code
        return payload[2:].decode()

    async def at_eof(self) -> bool:
        try:
            async with asyncio.timeout(3):
                rest = await self.reader.read()
        except (ConnectionError, TimeoutError):
            return True
        return rest == b""


class Harness:
    def __init__(self) -> None:
        self.conns: set[ServerConnection] = set()
        self.received: list[bytes | str] = []
        self.closed: list[ConnectionClosed] = []
        self.server_conn: ServerConnection | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.echo = True
        self.options: dict[str, Any] = {"ping_interval": None}
        self.max_size: int | None = 1 << 20
        self.handler: Callable[[bytes | str], Any] | None = None  # then consume(), not recv()
        self.context = contextvars.copy_context()
        self.consumers: list[asyncio.Task[None]] = []

    def on_request(self, conn: ServerConnection, request: Any) -> None:
        bad = upgrade_error(request)
        if bad is not None:
            conn.reject(bad)
            return
        conn.accept(max_size=self.max_size)
        self.server_conn = conn
        if self.handler is not None:
            task = asyncio.create_task(self.consume(conn), context=self.context)
            self.consumers.append(task)
        else:
            task = asyncio.create_task(self.serve(conn))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def consume(self, conn: ServerConnection) -> None:
        assert self.handler is not None
        try:
            await conn.consume(self.handler, self.context)
        except ConnectionClosed as exc:
            self.closed.append(exc)

    async def serve(self, conn: ServerConnection) -> None:
        try:
            while True:
                message = await conn.recv()
                self.received.append(message)
                if self.echo:
                    await conn.send(message)
        except ConnectionClosed as exc:
            self.closed.append(exc)


@asynccontextmanager
async def serving(**options: Any) -> AsyncIterator[tuple[Harness, Callable[[], Any]]]:
    h = Harness()
    h.options.update(options)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ServerConnection(h.on_request, h.conns, **h.options), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    writers: list[asyncio.StreamWriter] = []

    async def connect() -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
        return Peer(reader, writer)

    try:
        yield h, connect
    finally:
        for w in writers:
            w.close()
        for conn in list(h.conns):
            await conn.close(1001)
        server.close()
        await server.wait_closed()
        if h.tasks:
            await asyncio.wait(h.tasks, timeout=2)
        assert not h.conns


class ConnTimers:
    """The connections' own timers (handshake, close and keepalive deadlines) on a clock
    the test moves: while installed, a ``call_later`` from a :class:`ServerConnection` is
    recorded instead of scheduled, and :meth:`advance` fires the due ones in order. Every
    other timer of the loop stays real. Works on asyncio's loop and on uvloop's."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, Any, tuple[Any, ...]]] = []
        self._cancelled: set[int] = set()
        self._seq = 0

    def __enter__(self) -> ConnTimers:
        self._loop = asyncio.get_running_loop()
        self._real = self._loop.call_later
        self._loop.call_later = self._call_later  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self._loop.call_later

    def _call_later(self, delay: float, callback: Any, *args: Any, **kw: Any) -> Any:
        if not isinstance(getattr(callback, "__self__", None), ServerConnection):
            return self._real(delay, callback, *args, **kw)
        self._seq += 1
        seq = self._seq
        self._due.append((self.now + delay, seq, callback, args))
        self._due.sort(key=lambda t: (t[0], t[1]))
        return _Cancel(lambda: self._cancelled.add(seq))

    async def advance(self, seconds: float) -> None:
        """Move the connections' clock on by ``seconds``, firing what falls due."""
        target = self.now + seconds
        while self._due and self._due[0][0] <= target:
            when, seq, callback, args = self._due.pop(0)
            self.now = when
            if seq not in self._cancelled:
                callback(*args)
            for _ in range(5):
                await asyncio.sleep(0)
        self.now = target
        for _ in range(5):
            await asyncio.sleep(0)


class _Cancel:
    def __init__(self, cancel: Callable[[], None]) -> None:
        self.cancel = cancel


async def opened(connect: Callable[[], Any], path: str = "/") -> Peer:
    peer = await connect()
    head = await peer.handshake(path)
    assert head.startswith(b"HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {accept_key(KEY)}".encode() in head
    return peer


async def test_accept_key_matches_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_binary_and_text_echo_with_every_length_encoding() -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        for size in (0, 1, 125, 126, 640, 65535, 65536, 70000):
            data = os.urandom(size)
            await peer.send(frame(2, data))
            assert await peer.read_frame() == (2, True, data)
        await peer.send(frame(1, "héllo ☃".encode()))
        assert await peer.read_frame() == (1, True, "héllo ☃".encode())
        assert h.received[-1] == "héllo ☃"
        assert isinstance(h.received[0], bytes)


async def test_several_frames_in_one_write_and_one_frame_byte_by_byte() -> None:
    async with serving(max_queue=1000) as (_h, connect):
        peer = await opened(connect)
        burst = b"".join(frame(2, bytes([i]) * 300) for i in range(20))
        await peer.send(burst)
        for i in range(20):
            assert await peer.read_frame() == (2, True, bytes([i]) * 300)
        one = frame(2, b"slow" * 50)
        for i in range(len(one)):
            await peer.send(one[i:i + 1])
            await asyncio.sleep(0)
        assert await peer.read_frame() == (2, True, b"slow" * 50)


async def test_fragmented_messages_are_reassembled_and_pings_may_interleave() -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        await peer.send(frame(2, b"ab", fin=False) + frame(9, b"p1") + frame(0, b"cd", fin=False)
                        + frame(0, b"ef"))
        assert await peer.read_frame() == (10, True, b"p1")  # the pong comes first
        assert await peer.read_frame() == (2, True, b"abcdef")
        text = "ünïcode".encode()
        await peer.send(frame(1, text[:3], fin=False) + frame(0, text[3:]))  # split mid-char
        assert await peer.read_frame() == (1, True, text)
        assert h.received == [b"abcdef", "ünïcode"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(2, b"x", masked=False), 1002),
        (frame(2, b"x", rsv=0x40), 1002),
        (frame(3, b"x"), 1002),
        (frame(9, b"x" * 126), 1002),
        (frame(9, b"x", fin=False), 1002),
        (frame(0, b"x"), 1002),
        (frame(2, b"x", fin=False) + frame(2, b"y"), 1002),
        (frame(1, b"\xff\xfe"), 1007),
        (frame(1, b"ok", fin=False) + frame(0, b"\xc3"), 1007),
        (frame(8, b"\x03"), 1002),
        (frame(8, struct.pack("!H", 1005)), 1002),
        (frame(8, struct.pack("!H", 2999)), 1002),
        (frame(8, struct.pack("!H", 1000) + b"\xff"), 1007),
    ],
    ids=["unmasked", "rsv", "opcode", "long-ping", "fragmented-ping", "lone-continuation",
         "interleaved", "bad-utf8", "bad-utf8-fragmented", "short-close", "reserved-code",
         "unassigned-code", "bad-reason"],
)
async def test_protocol_violations_fail_with_their_close_code(data: bytes, code: int) -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        await peer.send(frame(2, b"before"))
        assert (await peer.read_frame())[2] == b"before"
        await peer.send(data)
        await peer.expect_close(code)
        assert await peer.at_eof()
        await wait_for(lambda: h.closed, 3)
        assert h.closed[0].sent_code == code
        assert h.received == [b"before"]  # nothing from the bad frame was delivered


async def test_oversize_is_refused_from_the_header_before_the_payload_arrives() -> None:
    async with serving() as (h, connect):
        h.max_size = 1000
        peer = await opened(connect)
        await peer.send(frame(2, b"a" * 1000))
        assert (await peer.read_frame())[2] == b"a" * 1000
        # Only a header announcing 10 MB: the server must not wait for the payload.
        await peer.send(bytes((0x82, 0x80 | 127)) + struct.pack("!Q", 10_000_000))
        assert "1000" in await peer.expect_close(1009)
        await wait_for(lambda: h.closed, 3)
        assert h.closed[0].sent_code == 1009


async def test_one_whole_frame_per_read_is_checked_like_any_other() -> None:
    # A read holding exactly one masked binary frame of 126..65535 bytes takes a short
    # path: the size limit, fragmentation and the message boundaries still hold.
    async with serving() as (h, connect):
        h.max_size = 1000
        h.echo = False
        peer = await opened(connect)
        await peer.send(frame(2, b"a" * 1000))
        await peer.send(frame(2, b"b" * 200, fin=False))  # a fragment: not the short path
        await peer.send(frame(0, b"c" * 200))
        await wait_for(lambda: len(h.received) == 2, 2)
        assert h.received == [b"a" * 1000, b"b" * 200 + b"c" * 200]
        await peer.send(frame(2, b"d" * 1001))
        assert "1000" in await peer.expect_close(1009)


async def test_a_read_of_several_audio_frames_then_anything_else_keeps_order_and_checks() -> None:
    # A read that starts with whole audio frames (what a server behind on its reads
    # gets) delivers them from the read buffer, then the general parser takes the rest:
    # a ping, text, a fragment, the first half of a frame.
    async with serving() as (h, connect):
        h.max_size = 1000
        h.echo = False
        peer = await opened(connect)
        audio = [bytes([i]) * 640 for i in range(3)]
        tail = frame(2, b"z" * 500)
        await peer.send(
            b"".join(frame(2, a) for a in audio)
            + frame(9, b"hi") + frame(1, b"text") + frame(2, b"f" * 200, fin=False)
            + frame(0, b"g" * 200) + tail[:100]
        )
        assert await peer.read_frame() == (10, True, b"hi")  # the pong
        await wait_for(lambda: len(h.received) == 5, 2)
        await peer.send(tail[100:])
        await wait_for(lambda: len(h.received) == 6, 2)
        assert h.received == [*audio, "text", b"f" * 200 + b"g" * 200, b"z" * 500]
        await peer.send(frame(2, b"a" * 640) + frame(2, b"b" * 1001) + frame(2, b"c" * 640))
        assert "1000" in await peer.expect_close(1009)
        assert h.received[-1] == b"a" * 640  # what came after the oversize one is not


async def test_a_handler_that_closes_mid_read_gets_nothing_after() -> None:
    got: list[bytes | str] = []

    async def handler(message: bytes | str) -> None:
        got.append(message)
        if message == b"s" * 200:
            await h.server_conn.close(1000)  # type: ignore[union-attr]

    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    async with serving() as (h, connect):
        h.handler = handler
        peer = await opened(connect)
        await peer.send(b"".join(frame(2, m) for m in (b"a" * 200, b"s" * 200, b"c" * 200)))
        assert await peer.read_frame() == (8, True, struct.pack("!H", 1000))
        await peer.send(frame(8, struct.pack("!H", 1000)))  # the close handshake completes
        await wait_for(lambda: h.consumers[0].done(), 3)
        assert h.server_conn is not None and h.server_conn.close_code == 1000
    assert got == [b"a" * 200, b"s" * 200]
    assert not errors  # the read callback never failed (a handler closing inline)


async def test_oversize_counts_every_fragment() -> None:
    async with serving() as (h, connect):
        h.max_size = 100
        peer = await opened(connect)
        await peer.send(frame(2, b"a" * 60, fin=False) + frame(0, b"b" * 60))
        await peer.expect_close(1009)


async def test_peer_close_is_echoed_then_the_server_closes_tcp() -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        await peer.send(frame(8, struct.pack("!H", 4001) + b"bye"))
        await peer.expect_close(4001)
        assert await peer.at_eof()
        await wait_for(lambda: h.closed, 3)
        assert h.closed[0].code == 4001 and h.closed[0].reason == "bye"
        assert h.closed[0].sent_code == 4001


async def test_close_without_code_is_1005_and_echoed_empty() -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        await peer.send(frame(8))
        assert await peer.read_frame() == (8, True, b"")
        await wait_for(lambda: h.closed, 3)
        assert h.closed[0].code == 1005


async def test_server_close_waits_for_the_peer_then_cuts_at_the_deadline() -> None:
    # close_timeout is 30 s on the connections' own clock, which only the test moves: the
    # cut comes from that deadline (not the 31 s fallback of close()), and a peer that
    # answers ends the close with no deadline passing at all.
    async with serving(close_timeout=30.0) as (h, connect):
        with ConnTimers() as timers:
            peer = await opened(connect)
            await wait_for(lambda: h.server_conn is not None, 3)
            conn = h.server_conn
            assert conn is not None
            closing = asyncio.create_task(conn.close(1000, "done"))
            assert await peer.expect_close(1000) == "done"
            await peer.send(frame(2, b"ignored while closing"))
            await timers.advance(29.9)
            assert not closing.done()  # still waiting for our close frame
            await timers.advance(0.2)  # we never answer: cut at close_timeout
            await asyncio.wait_for(closing, 5)
            assert conn.closed and conn.close_code == 1006
            assert h.received == []

            peer2 = await opened(connect)
            await wait_for(lambda: h.server_conn is not conn, 3)
            conn2 = h.server_conn
            assert conn2 is not None and conn2 is not conn
            closing = asyncio.create_task(conn2.close(1001))
            await peer2.expect_close(1001)
            await peer2.send(frame(8, struct.pack("!H", 1001)))
            await asyncio.wait_for(closing, 5)  # the answer ends it: no deadline passed
            assert conn2.close_code == 1001
            assert await peer2.at_eof()


async def test_keepalive_ping_is_answered_or_fails_with_1011() -> None:
    async with serving(ping_interval=20.0, ping_timeout=10.0) as (h, connect):
        with ConnTimers() as timers:
            peer = await opened(connect)

            async def ping() -> bytes:
                op, _, payload = await peer.read_frame()
                assert op == 9 and len(payload) == 4
                return payload

            async def in_sync() -> None:  # frames are handled in order: ours came first
                await peer.send(frame(2, b"sync"))
                assert await peer.read_frame() == (2, True, b"sync")

            await timers.advance(20.0)
            for _ in range(3):  # answer three pings: the connection stays
                await peer.send(frame(10, await ping()))
                await in_sync()
                await timers.advance(10.0)  # the pong deadline passes harmlessly
                await timers.advance(10.0)  # the next ping
            await ping()
            await peer.send(frame(10, b"nope"))  # a pong for something else does not count
            await in_sync()
            await timers.advance(9.9)
            assert not h.closed
            await timers.advance(0.1)
            await peer.expect_close(1011)
            await wait_for(lambda: h.closed, 3)
            assert h.closed[0].sent_code == 1011


async def test_handshake_deadline_and_bad_heads() -> None:
    async with serving(open_timeout=0.1) as (h, connect):
        silent = await connect()
        assert await silent.at_eof()  # no request head within open_timeout: cut

        big = await connect()
        await big.send(b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 20000)
        assert (await big.reader.read()).startswith(b"HTTP/1.1 431 ")

        for head, status in (
            (b"GARBAGE\r\n\r\n", b"400"),
            (b"GET / HTTP/1.0\r\n\r\n", b"505"),
            (b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", b"400"),
            (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"426"),
            (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
             b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n\r\n",
             b"426"),
            (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", b"400"),
        ):
            peer = await connect()
            await peer.send(head)
            answer = await asyncio.wait_for(peer.reader.read(), 2)
            assert answer.split(b" ")[1] == status, head
        assert h.received == []


async def test_frames_sent_right_after_the_head_are_kept() -> None:
    async with serving() as (_h, connect):
        peer = await connect()
        await peer.send(
            (f"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
            + frame(2, b"eager")
        )
        await peer.reader.readuntil(b"\r\n\r\n")
        assert await peer.read_frame() == (2, True, b"eager")


async def test_reading_pauses_when_messages_pile_up_and_nothing_is_lost() -> None:
    async with serving(max_queue=8) as (h, connect):
        h.echo = False
        release = asyncio.Event()
        original = h.serve

        async def slow(conn: ServerConnection) -> None:
            await release.wait()
            await original(conn)

        h.serve = slow  # type: ignore[method-assign]
        peer = await opened(connect)
        for i in range(400):
            peer.writer.write(frame(2, i.to_bytes(2, "big") * 1000))
        await wait_for(lambda: h.server_conn is not None, 3)
        conn = h.server_conn
        assert conn is not None and conn.transport is not None
        transport = conn.transport
        await wait_for(lambda: conn.pending >= 8 and not transport.is_reading(), 5)
        # Reading paused once max_queue was reached (plus what the same read held):
        # the socket, and TCP behind it, hold the rest.
        assert 8 <= conn.pending <= 150
        for _ in range(20):
            await asyncio.sleep(0)
        assert conn.pending <= 150 and len(h.received) == 0
        release.set()
        await peer.writer.drain()
        await wait_for(lambda: len(h.received) >= 400, 3)
        assert h.received == [i.to_bytes(2, "big") * 1000 for i in range(400)]


SESSION: contextvars.ContextVar[str] = contextvars.ContextVar("SESSION", default="none")


async def test_consume_runs_messages_in_order_as_its_task_inline_or_not() -> None:
    # Messages that arrive while the handler is idle run inline, in the read callback;
    # one that suspends is finished by the consuming task, and what arrived meanwhile
    # waits its turn. Either way: in order, one at a time, as the consuming task.
    calls: list[tuple[bytes | str, bool, str]] = []
    busy = [False]

    async def handler(message: bytes | str) -> None:
        assert not busy[0], "two messages handled at once"
        busy[0] = True
        try:
            calls.append((message, asyncio.current_task() is h.consumers[0], SESSION.get()))
            if message == b"slow":
                await asyncio.sleep(0.05)
        finally:
            busy[0] = False

    async with serving() as (h, connect):
        h.handler = handler
        h.context.run(SESSION.set, "mine")
        peer = await opened(connect)
        await peer.send(b"".join(frame(2, m) for m in (b"a", b"slow", b"b", b"c")))
        await wait_for(lambda: len(calls) == 4)
        await peer.send(frame(2, b"d") + frame(1, "é".encode()))  # inline again after
        await wait_for(lambda: len(calls) == 6)
    assert [m for m, _, _ in calls] == [b"a", b"slow", b"b", b"c", b"d", "é"]
    assert all(as_task and session == "mine" for _, as_task, session in calls)


@pytest.mark.parametrize("trigger", [b"boom", b"slowboom"])
async def test_a_handler_exception_ends_consume_with_it(trigger: bytes) -> None:
    handled: list[bytes | str] = []

    async def handler(message: bytes | str) -> None:
        handled.append(message)
        if message == b"slowboom":
            await asyncio.sleep(0.01)
        if message in (b"boom", b"slowboom"):
            raise ValueError(message)

    async with serving() as (h, connect):
        h.handler = handler
        peer = await opened(connect)
        await peer.send(frame(2, b"ok") + frame(2, trigger) + frame(2, b"never"))
        await wait_for(lambda: h.consumers[0].done())
        with pytest.raises(ValueError, match=trigger.decode()):
            h.consumers[0].result()
    assert handled == [b"ok", trigger]


async def test_cancelling_consume_reaches_a_handler_suspended_mid_message() -> None:
    events: list[str] = []

    async def handler(message: bytes | str) -> None:
        try:
            await asyncio.get_running_loop().create_future()  # never done
        except asyncio.CancelledError:
            events.append("cancelled in handler")
            raise

    async with serving() as (h, connect):
        h.handler = handler
        peer = await opened(connect)
        await peer.send(frame(2, b"hang"))
        await wait_for(lambda: bool(h.server_conn and h.server_conn._waiter is None))
        await asyncio.sleep(0.01)
        h.consumers[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await h.consumers[0]
    assert events == ["cancelled in handler"]


async def test_send_nowait_refuses_while_the_write_buffer_is_full() -> None:
    async with serving() as (h, connect):
        h.echo = False
        peer = await opened(connect)
        await wait_for(lambda: h.server_conn is not None, 3)
        conn = h.server_conn
        assert conn is not None and conn.transport is not None
        conn.transport.set_write_buffer_limits(high=4096)
        big = os.urandom(60000)
        sent = 0
        while conn.send_nowait(big):  # the peer is not reading
            sent += 1
            assert sent < 1000
        assert conn.paused
        waiting = asyncio.create_task(conn.send(b"after"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        for _ in range(sent):
            assert (await peer.read_frame())[2] == big
        await asyncio.wait_for(waiting, 3)  # drained: the waiting send went out
        assert await peer.read_frame() == (2, True, b"after")


async def test_send_on_a_closed_connection_raises() -> None:
    async with serving() as (h, connect):
        peer = await opened(connect)
        await wait_for(lambda: h.server_conn is not None, 3)
        conn = h.server_conn
        assert conn is not None
        peer.writer.close()
        await conn.wait_closed()
        with pytest.raises(ConnectionClosed) as info:
            conn.send_nowait(b"x")
        assert info.value.code == 1006
        with pytest.raises(ConnectionClosed):
            await conn.send("x")
        assert h.closed[0].code == 1006


def test_upgrade_error_is_none_for_a_valid_request() -> None:
    head = (f"GET /ws?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, "
            f"Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13").encode()
    request = parse_request(head)
    assert upgrade_error(request) is None
    assert request.path == "/ws?x=1" and request.headers.get("host") == "h"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
    cuts=st.lists(st.integers(1, 700), min_size=1, max_size=40),
)
def test_any_tcp_segmentation_delivers_the_same_messages(sizes: list[int],
                                                         cuts: list[int]) -> None:
    async def run() -> None:
        async with serving(max_queue=1000) as (h, connect):
            h.echo = False
            peer = await opened(connect)
            messages = [os.urandom(n) for n in sizes]
            stream = b"".join(frame(2, m) for m in messages)
            pos = 0
            i = 0
            while pos < len(stream):
                step = cuts[i % len(cuts)]
                await peer.send(stream[pos:pos + step])
                pos += step
                i += 1
                await asyncio.sleep(0)
            await wait_for(lambda: len(h.received) >= len(messages), 3)
            assert h.received == messages

    asyncio.run(run())



@pytest.mark.parametrize(
    "scenario",
    [
        test_binary_and_text_echo_with_every_length_encoding,
        test_several_frames_in_one_write_and_one_frame_byte_by_byte,
        test_fragmented_messages_are_reassembled_and_pings_may_interleave,
        test_oversize_is_refused_from_the_header_before_the_payload_arrives,
        test_peer_close_is_echoed_then_the_server_closes_tcp,
        test_server_close_waits_for_the_peer_then_cuts_at_the_deadline,
        test_keepalive_ping_is_answered_or_fails_with_1011,
        test_handshake_deadline_and_bad_heads,
        test_frames_sent_right_after_the_head_are_kept,
        test_reading_pauses_when_messages_pile_up_and_nothing_is_lost,
        test_send_nowait_refuses_while_the_write_buffer_is_full,
        test_send_on_a_closed_connection_raises,
        test_consume_runs_messages_in_order_as_its_task_inline_or_not,
        test_cancelling_consume_reaches_a_handler_suspended_mid_message,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_on_uvloop(scenario: Callable[[], Any]) -> None:
    """The same behaviour on uvloop, whose transports are not asyncio's (not Transport
    subclasses, their own buffered reads and write-buffer limits)."""
    uvloop = need("uvloop")
    uvloop.run(scenario())

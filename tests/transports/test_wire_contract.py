"""The server's driver (wire.ServerConnection) as a Connection, on a fake transport (no
socket): its state is a ConnState, its stats count both ways, send() waits while the
write buffer is full, and the handler runs inline as the consuming task."""

from __future__ import annotations

import asyncio
import base64
import contextvars

import pytest

from wavewire.errors import ConnectionClosedError
from wavewire.testing.transport import FakeTransport, feed
from wavewire.transports.connection import Connection, ConnState, send
from wavewire.transports.wire import ServerConnection

from .ws._peer import frame, parse

KEY = base64.b64encode(b"0123456789abcdef").decode()
REQUEST = (f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


async def opened() -> tuple[ServerConnection, FakeTransport]:
    transport = FakeTransport()
    conn = ServerConnection(lambda c, r: c.accept(), open_timeout=None, ping_interval=None)
    conn.connection_made(transport)  # type: ignore[arg-type]
    assert conn.state is ConnState.CONNECTING
    feed(conn, REQUEST)
    assert transport.take().startswith(b"HTTP/1.1 101 ")
    return conn, transport


async def test_it_is_a_connection_with_a_connstate_and_counted_stats() -> None:
    conn, transport = await opened()
    assert isinstance(conn, Connection) and conn.state is ConnState.OPEN
    feed(conn, frame(2, b"a" * 640) + frame(1, "hé".encode()))
    assert [await conn.recv(), await conn.recv()] == [b"a" * 640, "hé"]
    assert conn.send_nowait(b"b" * 300)
    await send(conn, "ok")
    assert parse(transport.take()) == [(2, True, b"b" * 300), (1, True, b"ok")]
    stats = conn.stats
    assert (stats.messages_in, stats.bytes_in, stats.messages_out, stats.bytes_out) == (
        2, 643, 2, 302)
    conn.connection_lost(None)
    assert conn.state is ConnState.CLOSED and conn.closed and conn.close_code == 1006
    with pytest.raises(ConnectionClosedError):
        conn.send_nowait(b"x")


async def test_send_waits_for_the_write_buffer_and_counts_the_wait() -> None:
    conn, transport = await opened()
    conn.pause_writing()
    assert not conn.send_nowait(b"x") and transport.take() == b""
    sending = asyncio.create_task(conn.send(b"later"))
    await asyncio.sleep(0)
    assert not sending.done() and conn.stats.waits == 1
    conn.resume_writing()
    await asyncio.wait_for(sending, 1)
    assert parse(transport.take()) == [(2, True, b"later")]
    conn.pause_writing()
    waiting = asyncio.create_task(conn.wait_writable())
    await asyncio.sleep(0)
    conn.connection_lost(None)  # no longer open: the wait ends, the send raises
    await asyncio.wait_for(waiting, 1)
    with pytest.raises(ConnectionClosedError):
        await conn.send(b"x")


async def test_a_message_is_handled_inline_as_the_consuming_task() -> None:
    conn, transport = await opened()
    context = contextvars.copy_context()
    seen: list[tuple[bytes | str, bool]] = []

    async def handler(message: bytes | str) -> None:
        seen.append((message, asyncio.current_task() is task))
        conn.send_nowait(message)

    task = asyncio.get_running_loop().create_task(conn.consume(handler, context),
                                                  context=context)
    await asyncio.sleep(0)
    done = asyncio.get_running_loop().create_future()

    def read_callback() -> None:  # outside any task, as the event loop's reader
        feed(conn, frame(2, b"x" * 640))
        done.set_result(list(seen))  # handled before the callback returned

    asyncio.get_running_loop().call_soon(read_callback)
    assert await done == [(b"x" * 640, True)]
    assert parse(transport.take()) == [(2, True, b"x" * 640)]
    feed(conn, frame(8, (1000).to_bytes(2, "big")))
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(task, 1)
    assert transport.closing and conn.state is ConnState.CLOSING


async def test_close_before_the_handshake_closes_the_transport() -> None:
    transport = FakeTransport()
    conn = ServerConnection(lambda c, r: None, open_timeout=None, ping_interval=None)
    conn.connection_made(transport)  # type: ignore[arg-type]
    closing = asyncio.create_task(conn.close())
    await asyncio.sleep(0)
    assert transport.closing and conn.state is ConnState.CLOSING
    conn.connection_lost(None)
    await asyncio.wait_for(closing, 1)


async def test_the_connection_keeps_few_enough_attributes_for_fast_reads() -> None:
    # Past 30 instance attributes CPython 3.11 gives an instance a plain dict, and every
    # attribute read on the per-frame path slows down (measured: +5% per echoed frame).
    conn, _ = await opened()
    assert len(vars(conn)) < 30

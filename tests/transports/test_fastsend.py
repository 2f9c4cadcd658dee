"""send_now on real ``websockets`` connections: the direct write happens only when
awaiting send() would not wait, what it writes arrives in order, and a ``websockets``
that renamed an internal it relies on makes it fail loudly, never fall back quietly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from wavewire.transports._fastsend import FastSendUnsupported, send_now

from .conftest import HOST, wait_for

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


class Peer:
    """A plain ``websockets`` server that keeps every message it receives."""

    def __init__(self) -> None:
        self.received: list[bytes | str] = []

    async def handler(self, ws: ServerConnection) -> None:
        try:
            async for message in ws:
                self.received.append(message)
        except ConnectionClosed:
            pass


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Peer, ClientConnection]]:
    peer = Peer()
    async with serve(peer.handler, HOST, 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://{HOST}:{port}/", compression=None, proxy=None) as conn:
            yield peer, conn


async def test_an_open_connection_is_written_at_once_and_in_order(pair) -> None:
    peer, conn = pair
    assert send_now(conn, b"\x01\x02")
    assert send_now(conn, "hé")
    await conn.send(b"awaited")  # the ordinary path in between keeps the order
    assert send_now(conn, bytes(640))
    await wait_for(lambda: len(peer.received) == 4, 5)
    assert peer.received == [b"\x01\x02", "hé", b"awaited", bytes(640)]


async def test_a_back_pressured_connection_falls_back(pair) -> None:
    peer, conn = pair
    conn.pause_writing()  # what asyncio calls when the write buffer is over its limit
    try:
        before = conn.transport.get_write_buffer_size()
        assert not send_now(conn, b"x")
        assert conn.transport.get_write_buffer_size() == before  # nothing framed or written
    finally:
        conn.resume_writing()
    assert send_now(conn, b"after")
    await wait_for(lambda: peer.received == [b"after"], 5)


async def test_a_fragmented_send_in_progress_falls_back(pair) -> None:
    peer, conn = pair
    more = asyncio.Event()

    async def fragments() -> AsyncIterator[bytes]:
        yield b"frag1-"
        await more.wait()
        yield b"frag2"

    sending = asyncio.create_task(conn.send(fragments()))
    await wait_for(lambda: conn.send_in_progress is not None, 5)
    assert not send_now(conn, b"must wait")  # it would land inside the fragmented message
    more.set()
    await asyncio.wait_for(sending, 5)
    assert send_now(conn, b"next")
    await wait_for(lambda: len(peer.received) == 2, 5)
    assert peer.received == [b"frag1-frag2", b"next"]


async def test_a_closing_or_closed_connection_falls_back(pair) -> None:
    _peer, conn = pair
    await conn.close()
    assert not send_now(conn, b"x")
    with pytest.raises(ConnectionClosed):  # the fallback reports the close properly
        await conn.send(b"x")


async def test_a_closing_transport_falls_back(pair) -> None:
    _peer, conn = pair
    conn.transport.close()
    assert not send_now(conn, b"x")
    await asyncio.wait_for(conn.wait_closed(), 5)


@pytest.mark.parametrize("internal", ["send_in_progress", "paused", "send_data"])
async def test_a_renamed_websockets_internal_fails_loudly(pair, internal: str) -> None:
    _peer, conn = pair
    assert send_now(conn, b"ok")

    class Renamed(ClientConnection):
        """The same connection as a release where ``internal`` has another name."""

        def __getattribute__(self, name: str):  # type: ignore[no-untyped-def]
            if name == internal:
                raise AttributeError(name, name=name, obj=self)
            return super().__getattribute__(name)

    conn.__class__ = Renamed
    try:
        with pytest.raises(FastSendUnsupported, match=internal):
            send_now(conn, b"x")
    finally:
        conn.__class__ = ClientConnection

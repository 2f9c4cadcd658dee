"""A server session without sockets: ``FakeConnection`` s attach to a ``ServerSession``,
which is itself the output edge's connection (send now, else wait for the output
socket; with none attached, messages wait in a bounded, drop-oldest, counted outbox)."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.bots.echo import EchoProcessor
from wavewire.errors import ConnectionClosedError
from wavewire.serializers.raw import RawSerializer
from wavewire.testing import FakeConnection, start_task
from wavewire.transports.connection import ConnState
from wavewire.transports.routes import ConnectionInfo
from wavewire.transports.session import ServerSession

from .conftest import wait_for

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

CHUNKS = [bytes([i]) * 640 for i in range(1, 6)]  # five 20 ms chunks, 16 kHz mono


class Echoing:
    """A started echo session, pacing off."""

    def __init__(self, **kw) -> None:
        info = ConnectionInfo("/ws", "both", "/ws", {}, {}, {})
        serializer = RawSerializer()
        self.session = ServerSession(info, serializer, serializer, [EchoProcessor()],
                                     pace=False, **kw)

    async def __aenter__(self) -> ServerSession:
        self.runner = await start_task(self.session.task)
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        await self.session.task.cancel("test over")
        await asyncio.wait_for(self.runner, 5)
        await self.session.close_sockets(5)


async def test_the_session_sends_through_its_output_connection():
    conn = FakeConnection()
    async with Echoing() as session:
        await session.attach(conn, "both")
        for chunk in CHUNKS:
            await session.input_edge.feed(chunk)
        await wait_for(lambda: len(conn.sent) == 5)
        assert conn.sent == CHUNKS and session.stats.waits == 0
    assert conn.state is ConnState.CLOSED and conn.close_code == 1000
    assert session.state is ConnState.CLOSED


async def test_output_waits_in_a_bounded_outbox_until_an_output_socket_attaches():
    inp, out = FakeConnection(), FakeConnection()
    async with Echoing(output_buffer=2) as session:
        await session.attach(inp, "input")
        for chunk in CHUNKS:
            await session.input_edge.feed(chunk)
        await wait_for(lambda: session.output_edge.stats.messages_out == 5)
        assert session.held == 2 and session.dropped_no_output == 3
        assert session.task.stats.dropped == {"output-absent": 3}
        await session.attach(out, "output")
        assert out.sent == CHUNKS[3:]  # the newest two, in order
        assert session.held == 0 and inp.sent == []
        await session.input_edge.feed(CHUNKS[0])
        await wait_for(lambda: len(out.sent) == 3)
        assert out.sent[-1] == CHUNKS[0]


async def test_a_slow_output_socket_is_waited_for_and_nothing_is_lost():
    conn = FakeConnection()
    async with Echoing() as session:
        await session.attach(conn, "both")
        conn.set_writable(False)
        feeding = asyncio.ensure_future(_feed_all(session))
        await wait_for(lambda: session.stats.waits == 1)
        assert conn.sent == [] and not feeding.done()  # the edge waits for the socket
        conn.set_writable()
        await asyncio.wait_for(feeding, 5)
        await wait_for(lambda: len(conn.sent) == 5)
        assert conn.sent == CHUNKS and session.held == 0
        assert session.output_edge.stats.send_errors == 0 and session.task.stats.dropped == {}


async def test_output_that_the_peer_closed_falls_back_to_the_outbox():
    conn = FakeConnection()
    async with Echoing(output_buffer=10) as session:
        await session.attach(conn, "both")
        await session.input_edge.feed(CHUNKS[0])
        await wait_for(lambda: len(conn.sent) == 1)
        conn.peer_close(1006)
        for chunk in CHUNKS[1:]:
            await session.input_edge.feed(chunk)
        await wait_for(lambda: session.held == 4)
        assert session.output_edge.stats.send_errors == 0 and not session.output_attached
        assert conn.sent == CHUNKS[:1]


async def test_once_its_sockets_are_closed_the_session_refuses_sends_and_drops_what_it_held():
    inp = FakeConnection()
    async with Echoing() as session:
        await session.attach(inp, "input")
        await session.input_edge.feed(CHUNKS[0])
        await wait_for(lambda: session.held == 1)
    assert session.held == 0 and session.dropped_no_output == 1
    with pytest.raises(ConnectionClosedError):
        session.send_nowait(b"late")


async def _feed_all(session: ServerSession) -> None:
    for chunk in CHUNKS:
        await session.input_edge.feed(chunk)

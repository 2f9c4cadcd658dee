"""The echo bot as the server runs it, with no socket: a ``ServerSession`` whose input
and output are ``FakeConnection`` s, its input read the way the server reads a socket
(``async for`` into the input edge). What the caller says comes back, converted to the
wire's format both ways; the caller hanging up ends the session and closes the output."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.bots import get_bot
from wavewire.errors import SessionClosedError
from wavewire.serializers.raw import RawSerializer
from wavewire.testing import FakeConnection, start_task
from wavewire.transports.routes import ConnectionInfo
from wavewire.transports.session import ServerSession

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def _read(conn: FakeConnection, session: ServerSession) -> None:
    try:
        async for message in conn:
            await session.input_edge.feed(message)
    except SessionClosedError:
        pass
    await session.detach(conn, "input")


async def test_echo_bot_over_fake_connections_at_8khz():
    info = ConnectionInfo("/ws", "both", "/ws", {}, {}, {})
    bot = get_bot("echo")
    serializer = RawSerializer(sample_rate=8000)
    session = ServerSession(info, serializer, serializer, list(bot(info)), pace=False)
    runner = await start_task(session.task)
    inp, out = FakeConnection(), FakeConnection()
    await session.attach(inp, "input")
    await session.attach(out, "output")
    reader = asyncio.ensure_future(_read(inp, session))
    said = [bytes([i, 0]) * 160 for i in range(1, 6)]  # 20 ms each at 8 kHz
    inp.feed(*said)
    async with asyncio.timeout(5):
        while len(out.sent) < 4:  # noqa: ASYNC110 (the resamplers hold back a few samples)
            await asyncio.sleep(0.001)
    inp.peer_close(1000)  # the caller hangs up: the session ends
    await asyncio.wait_for(reader, 5)
    await asyncio.wait_for(runner, 5)
    await session.close_sockets(5)
    heard = b"".join(out.sent)
    # 8 kHz in, 8 kHz out (16 kHz inside): whole 20 ms wire frames, no more than was said.
    assert all(isinstance(m, bytes) and len(m) == 320 for m in out.sent)
    assert 4 * 320 <= len(heard) <= sum(map(len, said))
    assert heard != bytes(len(heard))  # the voice came back, not silence
    assert out.closed and out.close_code == 1000
    assert session.input_edge.stats.frames_in == 5

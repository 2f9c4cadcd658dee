"""The output edge on a ``FakeConnection``: audio goes out through the connection
contract (at once, or waiting for the peer), each chunk is encoded exactly once on every
path, and a peer that is gone costs a counted drop, not the session."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.frames import ErrorFrame, OutputAudioFrame
from wavewire.processors import FrameProcessor
from wavewire.serializers.raw import RawSerializer
from wavewire.testing import FakeConnection

from .test_edges import Running

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

CHUNKS = [bytes([i]) * 640 for i in range(1, 7)]


class Bot(FrameProcessor):
    """Pushes frames, as a TTS would."""


class Framed(RawSerializer):
    """Each audio chunk becomes two messages (a header, then the PCM); ``refuse`` makes
    the encoder raise for chunks that start with it. Counts every encode."""

    pcm_binary = False

    def __init__(self, refuse: int | None = None) -> None:
        super().__init__()
        self.refuse = refuse
        self.encoded: list[bytes] = []

    def encode_audio(self, pcm):
        self.encoded.append(bytes(pcm))
        if pcm[0] == self.refuse:
            raise ValueError("refused")
        return [f"chunk {pcm[0]}", bytes(pcm)]


def edge_on(conn: FakeConnection, serializer: RawSerializer | None = None):
    from wavewire.transports.edges import OutputEdge

    return OutputEdge(serializer or RawSerializer(), conn, pace=False)


async def test_audio_goes_out_on_the_connection_in_order():
    conn = FakeConnection()
    bot, edge = Bot(), edge_on(conn)
    session = await Running.start(bot, edge)
    for chunk in CHUNKS:
        await bot.push(OutputAudioFrame(chunk, 16000))
    await session.stop()
    assert conn.sent == CHUNKS and conn.stats.waits == 0
    assert edge.stats.messages_out == 6 and edge.stats.audio_ms_sent == 120.0


async def test_a_slow_peer_is_waited_for_and_each_chunk_is_encoded_once():
    conn = FakeConnection()
    serializer = Framed()
    bot, edge = Bot(), edge_on(conn, serializer)
    session = await Running.start(bot, edge)
    await bot.push(OutputAudioFrame(CHUNKS[0], 16000))
    conn.set_writable(False)
    pushing = asyncio.ensure_future(_push(bot, CHUNKS[1:]))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not pushing.done() and len(conn.sent) == 2  # the second chunk waits
    conn.set_writable()
    await asyncio.wait_for(pushing, 5)
    await session.stop()
    assert conn.sent == [m for c in CHUNKS for m in (f"chunk {c[0]}", c)]
    assert serializer.encoded == CHUNKS  # the waited-for chunk was not encoded again
    assert conn.stats.waits >= 1 and edge.stats.messages_out == 12


async def test_a_chunk_the_protocol_refuses_is_encoded_once_reported_and_counted():
    conn = FakeConnection()
    serializer = Framed(refuse=3)
    bot, edge = Bot(), edge_on(conn, serializer)
    session = await Running.start(bot, edge)
    await _push(bot, CHUNKS[:4])  # the third is refused, on the per-frame path
    await session.stop()
    assert serializer.encoded == CHUNKS[:4]
    assert [m for m in conn.sent if isinstance(m, bytes)] == [CHUNKS[0], CHUNKS[1], CHUNKS[3]]
    errors = [f for f in session.up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "refused" in errors[0].error
    assert session.task.stats.dropped == {f"{edge.name}:encode": 1}
    assert edge._pacer.samples_sent == 4 * 320  # the timeline moved past every chunk


async def test_a_peer_that_closed_costs_counted_drops_and_the_session_goes_on():
    conn = FakeConnection()
    bot, edge = Bot(), edge_on(conn)
    session = await Running.start(bot, edge)
    await bot.push(OutputAudioFrame(CHUNKS[0], 16000))
    conn.peer_close(1006)
    await _push(bot, CHUNKS[1:3])
    await session.stop()
    assert conn.sent == CHUNKS[:1]
    assert edge.stats.send_errors == 2 and edge.stats.messages_out == 1
    assert session.task.stats.dropped == {f"{edge.name}:send-failed": 2}


async def _push(bot: Bot, chunks: list[bytes]) -> None:
    for chunk in chunks:
        await bot.push(OutputAudioFrame(chunk, 16000))

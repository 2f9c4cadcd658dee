"""The echo bot over raw /ws and /pipecat: many concurrent sessions, exact bytes, no leaks."""

from __future__ import annotations

import asyncio
import gc

import pytest
from websockets.asyncio.client import connect

from wavewire.bots.echo import echo_bot
from wavewire.frames import Frame, InputAudioFrame, OutputAudioFrame
from wavewire.processors import FrameDirection, FrameProcessor
from wavewire.serializers.pipecat import PipecatSerializer

from .conftest import echo_roundtrip, pcm, recv_bytes, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_one_session_echoes_exact_bytes():
    async with running() as server:
        audio = pcm(3200, seed=1)  # 200 ms at 16 kHz
        assert await echo_roundtrip(ws_url(server), audio) == audio
        await wait_for(lambda: not server.sessions)
        assert server.metrics.sessions_total == 1


async def test_200_concurrent_sessions_all_echo_and_leave_nothing():
    n = 200
    async with running() as server:
        audios = [pcm(1600, seed=i) for i in range(n)]  # 100 ms each, all different
        results = await asyncio.gather(
            *(echo_roundtrip(ws_url(server), a) for a in audios)
        )
        assert all(r == a for r, a in zip(results, audios, strict=True))
        await wait_for(lambda: not server.sessions)
        assert server.metrics.sessions_total == n
        assert server.metrics.connections_active == 0
        assert server.metrics.ended.messages_in == n * 5
        assert server.metrics.setup_seconds.count == n
        await wait_for(lambda: not server._group.tasks)  # every session run task is gone
        await wait_for(lambda: not server.connections)  # every socket is gone
    gc.collect()


class Thinking(FrameProcessor):
    """Awaits something (as a bot calling out would) before passing each input frame,
    so input handled inline in the read callback suspends half way."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioFrame):
            await asyncio.sleep(0.002)
        await self.push(frame, direction)


async def test_a_bot_that_suspends_on_input_still_echoes_every_frame_in_order():
    def bot(info):
        return [Thinking(), *echo_bot(info)]

    async with running(bot) as server:
        audio = pcm(6400, seed=3)  # 400 ms, 20 messages, some while the bot is waiting
        assert await echo_roundtrip(ws_url(server), audio) == audio
        await wait_for(lambda: not server.sessions)
        assert server.metrics.ended.messages_in == 20


async def test_other_rate_and_stereo_on_the_wire():
    # 48 kHz stereo on the wire, 16 kHz mono in the pipeline: converted both ways, so
    # only the length and the shape survive exactly.
    async with running() as server:
        audio = pcm(4800, channels=2)  # 100 ms of 48 kHz stereo
        url = ws_url(server, "/ws?sample_rate=48000&channels=2")
        async with connect(url, compression=None, proxy=None) as ws:
            for i in range(0, len(audio), 3840):
                await ws.send(audio[i : i + 3840])
            # the two resamplers hold back a few ms; 80 ms of the 100 must come back
            got = await recv_bytes(ws, len(audio) * 8 // 10)
        assert len(got) % 4 == 0


async def test_pipecat_route_echoes_audio_frames():
    async with running() as server:
        ser = PipecatSerializer(16000, 1)
        audio = pcm(640, seed=3)
        out = ser.encode(OutputAudioFrame(audio, 16000, 1))
        async with connect(ws_url(server, "/pipecat"), compression=None, proxy=None) as ws:
            for message in out:
                await ws.send(message)
            got = b""
            async with asyncio.timeout(10):
                while len(got) < len(audio):
                    frames = ser.decode(await ws.recv())
                    for f in frames:
                        assert isinstance(f, InputAudioFrame)
                        got += f.audio
            assert got == audio


async def test_query_format_refused_with_400():
    async with running() as server:
        from websockets.exceptions import InvalidStatus

        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, "/ws?sample_rate=12345"), proxy=None):
                pass
        assert info.value.response.status_code == 400
        assert server.metrics.refusals == {"bad_request": 1}
        assert server.metrics.sessions_total == 0


async def test_session_ends_when_client_leaves_mid_stream():
    async with running() as server:
        async with connect(ws_url(server), proxy=None) as ws:
            await ws.send(pcm(320))
            await recv_bytes(ws, 640)
            assert len(server.sessions) == 1
        await wait_for(lambda: not server.sessions)

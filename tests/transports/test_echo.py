"""The echo bot over raw /ws and /pipecat: many concurrent sessions, exact bytes, no leaks."""

from __future__ import annotations

import asyncio
import gc

import numpy as np
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


def band_noise(n: int, rate: int, seed: int) -> np.ndarray:
    """Noise band-limited to 300-3400 Hz (an FFT mask) at about -12 dBFS: survives a
    16 kHz pipeline and has one sharp correlation peak."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    x = np.fft.irfft(spectrum, n)
    return np.rint(x * (8000 / np.sqrt(np.mean(x**2))) / 3).clip(-32768, 32767)


def best_lag(sent: np.ndarray, back: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The delay of ``back`` against ``sent`` (0..max_lag samples) with the highest
    normalised correlation, and that correlation."""
    best = (0, -1.0)
    for lag in range(max_lag + 1):
        a, b = sent[: len(back) - lag], back[lag:]
        ncc = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0))
        best = max(best, (lag, ncc), key=lambda t: t[1])
    return best


async def test_other_rate_and_stereo_on_the_wire():
    # 48 kHz stereo on the wire, 16 kHz mono in the pipeline: downmixed and resampled on
    # the way in, resampled and upmixed on the way out. What comes back is the mean of
    # the two channels sent, in both channels, a few ms late (the resamplers' delay).
    rate = 48000
    left, right = band_noise(rate // 5, rate, 1), band_noise(rate // 5, rate, 2)  # 200 ms
    audio = np.stack([left, right], axis=1).astype("<i2").tobytes()
    async with running() as server:
        url = ws_url(server, "/ws?sample_rate=48000&channels=2")
        async with connect(url, compression=None, proxy=None) as ws:
            for i in range(0, len(audio), 3840):  # 20 ms messages
                await ws.send(audio[i : i + 3840])
            # the two resamplers hold back a few ms; 160 ms of the 200 must come back
            got = await recv_bytes(ws, len(audio) * 8 // 10)
    assert len(got) % 4 == 0
    back = np.frombuffer(got, "<i2").reshape(-1, 2).astype(float)
    assert np.array_equal(back[:, 0], back[:, 1])  # upmixed: the same in both channels
    mean = (left + right) / 2
    lag, ncc = best_lag(mean, back[:, 0], max_lag=rate * 30 // 1000)
    assert ncc > 0.95, (lag, ncc)  # the audio sent, not noise or silence
    assert lag < rate * 20 // 1000
    sent, came = mean[480 : len(back) - lag], back[lag + 480 :, 0]  # past the first 10 ms
    level = float(np.sqrt(np.mean(came**2) / np.mean(sent**2)))
    assert 0.8 < level < 1.25, level  # at the level sent


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

"""Cross-check: pipecat-ai 1.14's own Deepgram (STT, TTS), Cartesia and ElevenLabs
services, pointed at wavewire's fakes, work as they do against the real providers. If
pipecat's client (and the Deepgram SDK under it) is satisfied, the fake is faithful.

Each test runs a two-processor pipecat pipeline (service → sink) on loopback, waits with
a deadline for the frames it expects, then ends the pipeline with an EndFrame."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs

T = 15.0


class _Tap(FrameProcessor):
    """Records the frames going one way; sets :attr:`event` once ``done`` holds."""

    def __init__(self, done: Callable[[list[Frame]], bool],
                 direction: FrameDirection = FrameDirection.DOWNSTREAM) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self._done = done
        self._direction = direction
        self.event = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == self._direction:
            self.frames.append(frame)
            if self._done(self.frames):
                self.event.set()
        await self.push_frame(frame, direction)


async def _run(service: Any, frames: list[Frame], done: Callable[[list[Frame]], bool],
               upstream: bool = False, **params: Any) -> list[Frame]:
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    if upstream:
        sink = _Tap(done, FrameDirection.UPSTREAM)
        processors = [sink, service]
    else:
        sink = _Tap(done)
        processors = [service, sink]
    worker = PipelineWorker(Pipeline(processors), cancel_on_idle_timeout=False,
                            params=PipelineParams(**params))
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _started(worker: Any, frame: Any) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(T):
            await started.wait()
            for frame in frames:
                await worker.queue_frame(frame)
            await sink.event.wait()
            await worker.queue_frame(EndFrame())
            await task
    finally:
        if not task.done():
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    return sink.frames


def _tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


async def test_pipecat_deepgram_stt_against_the_fake() -> None:
    from pipecat.services.deepgram.stt import DeepgramSTTService

    async with FakeDeepgram({440: "hello there"}, api_key="dg_key") as fake:
        stt = DeepgramSTTService(api_key="dg_key", base_url=fake.url)
        pcm = bytes(3200) + _tone(440, 0.5) + bytes(6400)
        audio = [InputAudioRawFrame(pcm[i : i + 640], 16000, 1) for i in range(0, len(pcm), 640)]
        frames = await _run(
            stt, audio, lambda fs: any(isinstance(f, TranscriptionFrame) for f in fs),
            audio_in_sample_rate=16000,
        )
    [final] = [f for f in frames if isinstance(f, TranscriptionFrame)]
    assert final.text == "hello there"
    hs = fake.handshakes[0]
    assert hs.path == "/v1/listen" and hs.one("encoding") == "linear16"
    assert hs.one("sample_rate") == "16000" and hs.one("interim_results") == "true"
    assert hs.api_key == "dg_key"


async def test_pipecat_deepgram_flux_stt_against_the_fake() -> None:
    from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService

    async with FakeDeepgram({440: "yes please"}, api_key="dg_key") as fake:
        stt = DeepgramFluxSTTService(api_key="dg_key", url=f"{fake.url}/v2/listen")
        pcm = bytes(3200) + _tone(440, 0.6) + bytes(9600)
        audio = [InputAudioRawFrame(pcm[i : i + 1280], 16000, 1) for i in range(0, len(pcm), 1280)]
        frames = await _run(
            stt, audio, lambda fs: any(isinstance(f, TranscriptionFrame) for f in fs),
            audio_in_sample_rate=16000,
        )
    [final] = [f for f in frames if isinstance(f, TranscriptionFrame)]
    assert final.text == "yes please"
    hs = fake.handshakes[0]
    assert hs.path == "/v2/listen" and (hs.one("model") or "").startswith("flux")


async def test_pipecat_deepgram_stt_gives_up_on_a_refused_key() -> None:
    from pipecat.frames.frames import ErrorFrame
    from pipecat.services.deepgram.stt import DeepgramSTTService

    async with FakeDeepgram(api_key="dg_key") as fake:
        stt = DeepgramSTTService(api_key="wrong", base_url=fake.url)
        frames = await _run(
            stt, [], lambda fs: any(isinstance(f, ErrorFrame) for f in fs), upstream=True
        )
    [error] = [f for f in frames if isinstance(f, ErrorFrame)]
    assert "401" in error.error
    assert fake.rejected == [(401, "/v1/listen")]  # one attempt: a 4xx is not retried
    assert fake.connections == 0


async def test_pipecat_deepgram_tts_against_the_fake() -> None:
    from pipecat.services.deepgram.tts import DeepgramTTSService

    async with FakeDeepgram(api_key="dg_key", ms_per_char=10) as fake:
        tts = DeepgramTTSService(api_key="dg_key", base_url=fake.url, sample_rate=24000)
        frames = await _run(
            tts, [TTSSpeakFrame("Hello there.")],
            lambda fs: any(isinstance(f, TTSStoppedFrame) for f in fs),
            audio_out_sample_rate=24000,
        )
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    spoken = "".join(m["text"] for m in fake.received if m["type"] == "Speak")
    assert spoken.strip() == "Hello there."
    assert len(audio) == len(spoken) * 240 * 2  # 10 ms a character, at 24 kHz
    assert [m["type"] for m in fake.received][-2:] == ["Flush", "Close"]


async def test_pipecat_cartesia_tts_against_the_fake() -> None:
    from pipecat.services.cartesia.tts import CartesiaTTSService

    async with FakeCartesia(api_key="sk_car", ms_per_char=10) as fake:
        tts = CartesiaTTSService(api_key="sk_car", url=f"{fake.url}/tts/websocket",
                                 sample_rate=16000,
                                 settings=CartesiaTTSService.Settings(voice="voice-1"))
        frames = await _run(
            tts, [TTSSpeakFrame("Hello there.")],
            lambda fs: any(isinstance(f, TTSStoppedFrame) for f in fs),
            audio_out_sample_rate=16000,
        )
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    assert len(audio) == len("Hello there.") * 160 * 2
    words = [f.text for f in frames if isinstance(f, TTSTextFrame)]
    assert "".join(words).replace(" ", "") == "Hellothere."
    assert fake.received[0]["output_format"]["sample_rate"] == 16000


async def test_pipecat_elevenlabs_tts_against_the_fake() -> None:
    from pipecat.services.elevenlabs.tts import ElevenLabsTTSService

    async with FakeElevenLabs(api_key="sk_el", ms_per_char=10) as fake:
        tts = ElevenLabsTTSService(api_key="sk_el", url=fake.url, sample_rate=16000,
                                   settings=ElevenLabsTTSService.Settings(voice="voice-1"))
        frames = await _run(
            tts, [TTSSpeakFrame("Hello there.")],
            lambda fs: any(isinstance(f, TTSStoppedFrame) for f in fs),
            audio_out_sample_rate=16000,
        )
    audio = b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))
    assert len(audio) >= len("Hello there.") * 160 * 2
    words = [f.text for f in frames if isinstance(f, TTSTextFrame)]
    assert "".join(words).replace(" ", "") == "Hellothere."
    assert fake.handshakes[0].path == "/v1/text-to-speech/voice-1/multi-stream-input"

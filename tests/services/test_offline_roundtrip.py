"""The offline assistant's core, end to end in one pipeline: espeak-ng speaks, its audio
is fed back as the user's, pocketsphinx recognises it against a phrase grammar, and the
RTVI processor reports it to the client."""

from __future__ import annotations

import pytest

pytest.importorskip("pocketsphinx")
pytest.importorskip("espeakng_loader")

from wavewire.frames import (
    InputAudioFrame,
    OutputTransportMessageUrgentFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.processors.base import DOWNSTREAM, FrameProcessor
from wavewire.processors.rtvi import RTVIProcessor
from wavewire.services.espeak import EspeakTTSService
from wavewire.services.pocketsphinx import PocketsphinxSTTService
from wavewire.testing import run_test


class Loopback(FrameProcessor):
    """Plays the bot's speech back as the user's, with VAD-like boundaries and silence."""

    async def process_frame(self, frame, direction):
        silence = InputAudioFrame(b"\0" * 6400, 16000)  # 0.2 s
        if isinstance(frame, TTSStartedFrame):
            await self.push(silence, DOWNSTREAM)
            await self.push(VADUserStartedSpeakingFrame(), DOWNSTREAM)
        elif isinstance(frame, TTSAudioFrame):
            await self.push(InputAudioFrame(frame.audio, frame.sample_rate), DOWNSTREAM)
        elif isinstance(frame, TTSStoppedFrame):
            await self.push(silence, DOWNSTREAM)
            await self.push(VADUserStoppedSpeakingFrame(), DOWNSTREAM)
        else:
            await self.push(frame, direction)


async def test_spoken_phrases_come_back_as_rtvi_transcriptions():
    phrases = ["what time is it", "what is the date", "set a timer for five minutes"]
    result = await run_test(
        [EspeakTTSService(), Loopback(), PocketsphinxSTTService(phrases=phrases), RTVIProcessor()],
        frames_to_send=[TTSSpeakFrame("What is the date?"), TTSSpeakFrame("What time is it?")],
        timeout=20,
    )
    finals = [
        f.message["data"]["text"]
        for f in result.down
        if isinstance(f, OutputTransportMessageUrgentFrame)
        and f.message["type"] == "user-transcription"
        and f.message["data"]["final"]
    ]
    assert finals == ["what is the date", "what time is it"]

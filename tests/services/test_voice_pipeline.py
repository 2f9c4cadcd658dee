"""A whole voice bot over the fakes, through wavewire's WebSocket server: a client sends
user audio to ``/ws``; Deepgram STT (fake) → turn taking → user aggregator → the
OpenAI-compatible LLM (fake) → TTS (Cartesia, Deepgram or ElevenLabs fake) → assistant
aggregator → the output edge; the client gets the bot's audio back. Loopback only; every
wait has a deadline."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from wavewire.context import LLMContext
from wavewire.processors.aggregators import context_aggregators
from wavewire.processors.turns import TurnTaking
from wavewire.serializers.deepgram import ListenOptions
from wavewire.services.base import WebSocketService
from wavewire.services.cartesia import CartesiaTTSService
from wavewire.services.deepgram import DeepgramSTTService, DeepgramTTSService
from wavewire.services.elevenlabs import ElevenLabsTTSService
from wavewire.services.openai import OpenAILLMService
from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs
from wavewire.testing.fakes.openai import FakeOpenAI, Reply
from wavewire.transports.server import WebSocketServer

SYSTEM = {"role": "system", "content": "You are a voice assistant."}
QUESTION = "What is the weather today?"
ANSWER = "It is sunny today. Enjoy it!"


def tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


TTSFactory = Callable[[str], WebSocketService]


def _cartesia(url: str) -> WebSocketService:
    return CartesiaTTSService(voice_id="v", api_key="k", base_url=url, gateway=False,
                              sample_rate=16000)


def _deepgram(url: str) -> WebSocketService:
    from wavewire.serializers.deepgram_speak import SpeakOptions

    return DeepgramTTSService(api_key="k", base_url=url, gateway=False,
                              options=SpeakOptions(sample_rate=16000))


def _elevenlabs(url: str) -> WebSocketService:
    return ElevenLabsTTSService(voice_id="v", api_key="k", base_url=url, gateway=False,
                                output_format="pcm_16000")


@pytest.mark.parametrize("tts_name", ["cartesia", "deepgram", "elevenlabs"])
async def test_audio_in_to_audio_out_over_the_fakes(tts_name: str) -> None:
    contexts: list[LLMContext] = []
    async with FakeDeepgram({440: QUESTION}, ms_per_char=5) as dg, FakeOpenAI(
        [Reply(ANSWER)]
    ) as llm, FakeCartesia(ms_per_char=5) as car, FakeElevenLabs(ms_per_char=5) as el:
        tts_url = {"cartesia": car.url, "deepgram": dg.url, "elevenlabs": el.url}[tts_name]
        make_tts: TTSFactory = {"cartesia": _cartesia, "deepgram": _deepgram,
                                "elevenlabs": _elevenlabs}[tts_name]

        def bot(info: Any) -> list[Any]:
            context = LLMContext([dict(SYSTEM)])
            contexts.append(context)
            user, assistant = context_aggregators(context)
            return [
                DeepgramSTTService(api_key="k", base_url=dg.url, gateway=False,
                                   options=ListenOptions(endpointing=100)),
                TurnTaking(stt_stop_secs=0.1),
                user,
                OpenAILLMService(model="m", base_url=llm.base_url, api_key="sk-test"),
                make_tts(tts_url),
                assistant,
            ]

        server = WebSocketServer(bot, port=0, pace=False)
        await server.start()
        try:
            async with connect(f"ws://127.0.0.1:{server.port}/ws", proxy=None) as ws:
                speech = bytes(3200) + tone(440, 0.5) + bytes(6400)
                for i in range(0, len(speech), 640):
                    await ws.send(speech[i : i + 640])
                got = b""
                expected = len(ANSWER) * 80 * 2  # 5 ms a character at 16 kHz
                async with asyncio.timeout(15):
                    while len(got) < expected:
                        message = await ws.recv()
                        if isinstance(message, bytes):
                            got += message
                            await ws.send(bytes(640))  # the user is quiet, in step
                    while contexts[0].messages[-1]["role"] != "assistant":
                        await ws.send(bytes(640))  # until the bot's turn is in the context
                        await asyncio.sleep(0.02)
        finally:
            await server.close()
    assert len(got) >= expected
    assert np.abs(np.frombuffer(got, "<i2")).max() > 1000  # speech, not silence
    [request] = llm.requests
    assert request.messages == [SYSTEM, {"role": "user", "content": QUESTION}]
    assert contexts[0].messages[-1]["role"] == "assistant"
    assert contexts[0].messages[-1]["content"] == ANSWER


async def test_barge_in_cancels_the_tts_and_keeps_only_heard_words() -> None:
    long_answer = "One two three four five six seven eight nine ten eleven twelve."
    contexts: list[LLMContext] = []
    async with FakeDeepgram({440: QUESTION, 660: "Stop please."}) as dg, FakeOpenAI(
        [Reply(long_answer), Reply("Okay.")]
    ) as llm, FakeCartesia(ms_per_char=60, pace=1.0, chunk_ms=40) as car:

        def bot(info: Any) -> list[Any]:
            context = LLMContext([dict(SYSTEM)])
            contexts.append(context)
            user, assistant = context_aggregators(context)
            return [
                DeepgramSTTService(api_key="k", base_url=dg.url, gateway=False,
                                   options=ListenOptions(endpointing=100)),
                TurnTaking(stt_stop_secs=0.1),
                user,
                OpenAILLMService(model="m", base_url=llm.base_url, api_key="sk-test"),
                _cartesia(car.url),
                assistant,
            ]

        server = WebSocketServer(bot, port=0)  # paced: the answer plays in real time
        await server.start()
        try:
            async with connect(f"ws://127.0.0.1:{server.port}/ws", proxy=None) as ws:
                speech = bytes(3200) + tone(440, 0.5) + bytes(6400)
                for i in range(0, len(speech), 640):
                    await ws.send(speech[i : i + 640])
                got = 0
                async with asyncio.timeout(15):
                    while got < 16000 * 2 * 0.6:  # 0.6 s of the answer heard
                        message = await ws.recv()
                        got += len(message) if isinstance(message, bytes) else 0
                    barge = tone(660, 0.4) + bytes(6400)
                    for i in range(0, len(barge), 640):
                        await ws.send(barge[i : i + 640])
                    while len(llm.requests) < 2:
                        message = await ws.recv()
        finally:
            await server.close()
    assert len(car.cancelled) == 1
    _, second = llm.requests
    heard = second.messages[2]
    assert heard["role"] == "assistant"
    words = heard["content"].split()
    assert 1 <= len(words) < len(long_answer.split())
    assert long_answer.startswith(heard["content"])  # only what was played, word by word
    assert second.messages[3] == {"role": "user", "content": "Stop please."}

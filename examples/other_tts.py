"""The Deepgram → OpenAI voice bot with another voice: Deepgram's Aura or ElevenLabs.

The same conversation as ``examples/deepgram_openai_cartesia.py``; only the text-to-speech
service changes, so only that line differs::

    python examples/other_tts.py --tts deepgram      # DEEPGRAM_API_KEY does both ways
    python examples/other_tts.py --tts elevenlabs    # plus ELEVENLABS_API_KEY

Keys and base URLs come from the environment (``DEEPGRAM_API_KEY`` /
``DEEPGRAM_BASE_URL``, ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, ``ELEVENLABS_API_KEY``
/ ``ELEVENLABS_BASE_URL``); point the base URLs at ``wavewire fake deepgram|openai|
elevenlabs`` (with any key) to run it offline. ``DEEPGRAM_VOICE`` and ``ELEVENLABS_VOICE_ID`` pick the
voice, ``OPENAI_MODEL`` the model.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os

from wavewire import ConnectionInfo, FrameProcessor, WebSocketServer
from wavewire.context import LLMContext
from wavewire.processors.aggregators import context_aggregators
from wavewire.processors.turns import TurnTaking
from wavewire.serializers.deepgram_speak import SpeakOptions
from wavewire.services.deepgram import DeepgramSTTService, DeepgramTTSService
from wavewire.services.elevenlabs import ElevenLabsTTSService
from wavewire.services.openai import OpenAILLMService

SYSTEM_PROMPT = (
    "You are a friendly voice assistant. Your answers are spoken aloud, so keep them "
    "short and use no lists, markup or emoji."
)


def text_to_speech(tts: str) -> FrameProcessor:
    """The chosen TTS service, producing 16 kHz audio (what the browser page plays)."""
    if tts == "deepgram":
        # Deepgram's speak socket: sentences go out as Speak + Flush, Clear on barge-in.
        voice = os.environ.get("DEEPGRAM_VOICE", "aura-2-thalia-en")
        return DeepgramTTSService(options=SpeakOptions(model=voice, sample_rate=16000))
    # ElevenLabs' stream-input socket: its alignment becomes word timestamps, so the
    # context keeps exactly the words the user heard when they interrupt.
    voice_id = os.environ.get("ELEVENLABS_VOICE_ID", "21m00Tcm4TlvDq8ikWAM")
    return ElevenLabsTTSService(voice_id=voice_id, output_format="pcm_16000")


def bot(info: ConnectionInfo, tts: str = "deepgram") -> list[FrameProcessor]:
    """One conversation: a new context, the same chain as the Cartesia example."""
    context = LLMContext([{"role": "system", "content": SYSTEM_PROMPT}])
    user, assistant = context_aggregators(context)
    return [
        DeepgramSTTService(),
        TurnTaking(),
        user,
        OpenAILLMService(model=os.environ.get("OPENAI_MODEL", "gpt-4.1-mini")),
        text_to_speech(tts),
        assistant,
    ]


async def main(tts: str, host: str = "127.0.0.1", port: int = 8765) -> None:
    async with WebSocketServer(functools.partial(bot, tts=tts), host=host,
                               port=port) as server:
        print(f"voice bot ({tts} TTS) on ws://{host}:{server.port}/ws", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tts", choices=["deepgram", "elevenlabs"], default="deepgram")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    args = parser.parse_args()
    asyncio.run(main(args.tts, args.host, args.port))

"""A voice bot: Deepgram hears the user, an OpenAI model answers, Cartesia speaks.

Each browser tab (or any client) that connects to ``/ws`` gets its own conversation::

    user audio ─▶ Deepgram STT ─▶ turn taking ─▶ user context ─▶ OpenAI LLM
                                                                    │
    bot audio  ◀─ assistant context ◀─────────── Cartesia TTS ◀─────┘

Run it with real keys::

    export DEEPGRAM_API_KEY=... OPENAI_API_KEY=... CARTESIA_API_KEY=...
    python examples/deepgram_openai_cartesia.py          # then open http://127.0.0.1:8765

or offline, against wavewire's fakes (each in its own terminal)::

    WAVEWIRE_FAKE_DEEPGRAM_TRANSCRIPTS='{"*": "hello"}' wavewire fake deepgram --port 9001
    wavewire fake openai --port 9002
    wavewire fake cartesia --port 9003
    export DEEPGRAM_API_KEY=any OPENAI_API_KEY=any CARTESIA_API_KEY=any  # fakes take any
    DEEPGRAM_BASE_URL=ws://127.0.0.1:9001 OPENAI_BASE_URL=http://127.0.0.1:9002/v1 \\
    CARTESIA_BASE_URL=ws://127.0.0.1:9003 python examples/deepgram_openai_cartesia.py

(the fake LLM repeats what it heard; the fake TTS speaks in tones).

Every service reads its key and base URL from the environment (``DEEPGRAM_API_KEY`` /
``DEEPGRAM_BASE_URL``, ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, ``CARTESIA_API_KEY`` /
``CARTESIA_BASE_URL``); ``OPENAI_MODEL`` and ``CARTESIA_VOICE_ID`` pick the model and
voice. With ``CF_AIG_GATEWAY_URL`` set the speech services go through Cloudflare AI
Gateway on their own; ``examples/ai_gateway.py`` routes the LLM there too.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from wavewire import ConnectionInfo, FrameProcessor, WebSocketServer
from wavewire.context import LLMContext
from wavewire.processors.aggregators import context_aggregators
from wavewire.processors.turns import TurnTaking
from wavewire.services.cartesia import CartesiaTTSService
from wavewire.services.deepgram import DeepgramSTTService
from wavewire.services.openai import OpenAILLMService

SYSTEM_PROMPT = (
    "You are a friendly voice assistant. Your answers are spoken aloud, so keep them "
    "short and use no lists, markup or emoji."
)


def pipeline(context: LLMContext) -> list[FrameProcessor]:
    """The processors of one conversation, in the order frames flow through them."""
    # The two halves of the conversation's memory: ``user`` adds what the user said
    # (and asks the LLM to answer), ``assistant`` adds the words the user actually heard.
    user, assistant = context_aggregators(context)
    return [
        DeepgramSTTService(),  # audio in, transcriptions out (key and URL from the env)
        TurnTaking(),  # decides when the user has finished, and barges in on the bot
        user,
        OpenAILLMService(model=os.environ.get("OPENAI_MODEL", "gpt-4.1-mini")),
        CartesiaTTSService(  # sentences in, audio and word timestamps out
            voice_id=os.environ.get("CARTESIA_VOICE_ID", "a0e99841-438c-4a64-b679-ae501e7d6091"),
            sample_rate=16000,
        ),
        assistant,
    ]


def bot(info: ConnectionInfo) -> list[FrameProcessor]:
    """Called by the server once per connection: a new context for every conversation."""
    return pipeline(LLMContext([{"role": "system", "content": SYSTEM_PROMPT}]))


async def main(host: str = "127.0.0.1", port: int = 8765) -> None:
    async with WebSocketServer(bot, host=host, port=port) as server:
        # The port line tells a script (or a test) where to connect when --port is 0.
        print(f"voice bot on ws://{host}:{server.port}/ws (page: http://{host}:{server.port}/)",
              flush=True)
        await server.serve_forever()  # until Ctrl-C, which ends every call gracefully


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))

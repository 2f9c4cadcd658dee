"""The Deepgram → OpenAI → Cartesia voice bot, every provider reached through Cloudflare
AI Gateway (one place for logs, caching, rate limits and spend across providers).

Set the gateway and its token, and the providers' own keys as usual::

    export CF_AIG_GATEWAY_URL=https://gateway.ai.cloudflare.com/v1/<account_id>/<gateway_id>
    export CF_AIG_TOKEN=...            # the gateway's authentication token
    export DEEPGRAM_API_KEY=... OPENAI_API_KEY=... CARTESIA_API_KEY=...
    python examples/ai_gateway.py

The speech services find the gateway in the environment by themselves (Deepgram at
``{gateway}/deepgram/v1/listen``, Cartesia at ``{gateway}/cartesia``, each with a
``cf-aig-authorization`` header). The LLM is an HTTP client, so it is given the gateway's
OpenAI base URL (``{gateway}/openai``) and the same header here. ``OPENAI_BASE_URL``, if
set, replaces that base URL (for an OpenAI-compatible server behind the gateway's
"custom provider" route, or a local fake); the gateway header is still sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from wavewire import ConnectionInfo, FrameProcessor, WebSocketServer
from wavewire.context import LLMContext
from wavewire.processors.aggregators import context_aggregators
from wavewire.processors.turns import TurnTaking
from wavewire.services.cartesia import CartesiaTTSService
from wavewire.services.deepgram import DeepgramSTTService
from wavewire.services.gateway import AIGateway
from wavewire.services.openai import OpenAILLMService

SYSTEM_PROMPT = (
    "You are a friendly voice assistant. Your answers are spoken aloud, so keep them "
    "short and use no lists, markup or emoji."
)


def bot(info: ConnectionInfo) -> list[FrameProcessor]:
    """One conversation, every service through the gateway of CF_AIG_GATEWAY_URL."""
    gateway = AIGateway.from_env()  # CF_AIG_GATEWAY_URL and CF_AIG_TOKEN
    if gateway is None:
        raise RuntimeError("set CF_AIG_GATEWAY_URL (and CF_AIG_TOKEN)")
    context = LLMContext([{"role": "system", "content": SYSTEM_PROMPT}])
    user, assistant = context_aggregators(context)
    return [
        DeepgramSTTService(gateway=gateway),
        TurnTaking(),
        user,
        OpenAILLMService(
            model=os.environ.get("OPENAI_MODEL", "gpt-4.1-mini"),
            base_url=os.environ.get("OPENAI_BASE_URL") or gateway.openai_base_url(),
            extra_headers=gateway.headers,  # called per request: cf-aig-authorization
        ),
        CartesiaTTSService(
            gateway=gateway,
            voice_id=os.environ.get("CARTESIA_VOICE_ID", "a0e99841-438c-4a64-b679-ae501e7d6091"),
            sample_rate=16000,
        ),
        assistant,
    ]


async def main(host: str = "127.0.0.1", port: int = 8765) -> None:
    if AIGateway.from_env() is None:  # say so before anyone connects
        sys.exit("ai_gateway.py: set CF_AIG_GATEWAY_URL and CF_AIG_TOKEN")
    async with WebSocketServer(bot, host=host, port=port) as server:
        print(f"voice bot via AI Gateway on ws://{host}:{server.port}/ws", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))

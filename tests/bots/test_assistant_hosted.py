"""The hosted path: ``wavewire serve --stt deepgram --llm openai --tts cartesia`` with each
provider's base URL pointed at its shipped fake (loopback), spoken to over ``/ws``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time

import pytest
from websockets.asyncio.client import connect

from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.openai import FakeOpenAI, Reply, ToolCall

from ._voice import VoiceClient, clock_times, is_type

pytest.importorskip("webrtcvad")


def speechlike(seconds: float) -> bytes:
    """A loud vowel-like sound (harmonics of 150 Hz) the VAD and the fake both hear."""
    import numpy as np

    t = np.arange(int(16000 * seconds)) / 16000
    wave = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12))
    wave *= 0.8 + 0.2 * np.sin(2 * np.pi * 3 * t)  # a little movement, no pause
    return (6000 * wave / np.abs(wave).max()).astype("<i2").tobytes()


async def serve(*flags: str, env: dict[str, str]) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "serve", "--port", "0", *flags,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env)
    assert proc.stderr is not None
    lines = []
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stderr.readline()).decode()
            lines.append(line)
            assert line, f"wavewire serve exited: {''.join(lines)}"
            page = re.search(r"open http://127\.0\.0\.1:(\d+)/ in a browser", line)
            if page:
                return proc, int(page.group(1))


async def test_serve_with_deepgram_openai_and_cartesia_over_the_fakes():
    question = "What time is it?"
    script = [Reply("Hello, how can I help?"),
              Reply(tool_calls=[ToolCall("get_time", {}, id="c1")]),
              Reply("Here is the time.")]
    async with FakeDeepgram(default_transcript=question, ms_per_char=5) as dg, \
            FakeOpenAI(script, api_key="sk-test") as llm, FakeCartesia(ms_per_char=5) as tts:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OPENAI_", "DEEPGRAM_", "CARTESIA_", "CF_AIG_"))}
        env.update(PYTHONPATH=os.getcwd(), OPENAI_BASE_URL=llm.base_url,
                   OPENAI_API_KEY="sk-test", DEEPGRAM_BASE_URL=dg.url, DEEPGRAM_API_KEY="k",
                   CARTESIA_BASE_URL=tts.url, CARTESIA_API_KEY="k")
        proc, port = await serve("--stt", "deepgram", "--llm", "openai", "--tts", "cartesia",
                                 env=env)
        try:
            async with connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as ws, \
                    VoiceClient(ws) as client:
                await client.send_rtvi("client-ready", {"version": "1.0.0", "about": {}})
                i, _, _ = await client.wait_for(is_type("bot-stopped-speaking"))  # greeting
                asked_at = time.time()
                await client.speak(speechlike(0.8), silence_s=1.0)
                j, _, _ = await client.wait_for(
                    lambda m: m["type"] == "bot-llm-text" and "time" in m["data"]["text"],
                    after=i)
                await client.wait_for(is_type("bot-stopped-speaking"), after=j)
        finally:
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await proc.wait()
    finals = [m["data"]["text"] for m in client.of_type("user-transcription", i)
              if m["data"]["final"]]
    assert finals and finals[-1] == question
    _greeting, asked, answered = llm.requests
    assert asked.messages[-1] == {"role": "user", "content": question}
    assert answered.messages[-1]["role"] == "tool"
    assert answered.messages[-1]["content"] in clock_times(asked_at)
    assert sum(n for _, n in client.audio) > 0  # Cartesia's (fake) voice reached the client
    heard = [m["data"]["text"] for m in client.of_type("bot-output", j)
             if m["data"]["spoken_status"] == "completed"]
    assert heard and "Here is the time." in " ".join(heard)

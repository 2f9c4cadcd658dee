"""The voice-bot examples run as the README says, offline: each example is started as a
script (``--port 0``) with its providers' ``*_BASE_URL`` pointed at wavewire's fakes; a
client on ``/ws`` says two things; the bot's spoken answer comes back as audio, the
first question reaches the LLM, and the second request carries the first answer (it
reached the context). Loopback only; every wait has a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs
from wavewire.testing.fakes.gateway import FakeAIGateway
from wavewire.testing.fakes.openai import FakeOpenAI, Reply

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QUESTION = "What is the weather today?"
ANSWER = "It is sunny today. Enjoy it!"
THANKS = "Thank you."
MS_PER_CHAR = 5  # the TTS fakes' speech: 5 ms a character
TOKEN = "cfut_example_0123456789"
DEADLINE = 30.0  # seconds for a whole conversation (the machine may be loaded)


def tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any real provider or gateway settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEEPGRAM_", "OPENAI_", "CARTESIA_", "ELEVENLABS_", "CF_AIG_"))}
    root = str(EXAMPLES.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def example(name: str, args: Sequence[str], env: dict[str, str]) -> AsyncIterator[int]:
    """Runs ``examples/<name>.py --port 0 *args``; yields the port it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / f"{name}.py"), "--port", "0", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    try:
        output = b""
        async with asyncio.timeout(DEADLINE):
            while (match := re.search(rb"ws://[\d.]+:(\d+)/ws", output)) is None:
                line = await proc.stdout.readline()
                if not line:
                    raise AssertionError(f"{name} exited: {output.decode(errors='replace')}")
                output += line
        yield int(match.group(1))
        proc.terminate()  # SIGTERM: the server ends its sessions and exits cleanly
        async with asyncio.timeout(DEADLINE):
            rest = await proc.stdout.read()
            assert await proc.wait() == 0, rest.decode(errors="replace")[-2000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def say(ws: Any, pcm: bytes) -> None:
    for i in range(0, len(pcm), 640):
        await ws.send(pcm[i : i + 640])


async def converse(port: int, llm: FakeOpenAI) -> bytes:
    """Asks QUESTION, hears the answer to its end, says THANKS; returns the answer's
    audio once the LLM got the second request."""
    async with connect(f"ws://127.0.0.1:{port}/ws", proxy=None) as ws:
        await say(ws, bytes(3200) + tone(440, 0.5) + bytes(6400))
        got = b""
        expected = len(ANSWER) * MS_PER_CHAR * 16 * 2 * 9 // 10  # 16 kHz, 16-bit, 90 %
        async with asyncio.timeout(DEADLINE):
            while len(got) < expected:
                message = await ws.recv()
                if isinstance(message, bytes):
                    got += message
                    await ws.send(bytes(640))  # the user is quiet, in step
            await say(ws, bytes(6400) + tone(660, 0.4) + bytes(6400))
            while len(llm.requests) < 2:
                await ws.send(bytes(640))
                await asyncio.sleep(0.02)
    return got


def check(got: bytes, llm: FakeOpenAI) -> None:
    assert np.abs(np.frombuffer(got, "<i2")).max() > 1000  # speech, not silence
    first, second = llm.requests[:2]
    assert first.body["messages"][0]["role"] == "system"
    assert first.body["messages"][1:] == [{"role": "user", "content": QUESTION}]
    assert second.body["messages"][1:] == [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": ANSWER},  # every word was played: all of it
        {"role": "user", "content": THANKS},
    ]


def fakes() -> tuple[FakeDeepgram, FakeOpenAI]:
    return (FakeDeepgram({440: QUESTION, 660: THANKS}, ms_per_char=MS_PER_CHAR),
            FakeOpenAI([Reply(ANSWER), Reply("You are welcome.")], api_key="sk-test"))


async def test_deepgram_openai_cartesia_example() -> None:
    dg, llm = fakes()
    async with dg, llm, FakeCartesia(ms_per_char=MS_PER_CHAR) as car:
        env = clean_env(DEEPGRAM_API_KEY="dg", DEEPGRAM_BASE_URL=dg.url,
                        OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                        CARTESIA_API_KEY="car", CARTESIA_BASE_URL=car.url)
        async with example("deepgram_openai_cartesia", [], env) as port:
            got = await converse(port, llm)
    check(got, llm)
    assert [hs.path for hs in car.handshakes][:1] == ["/tts/websocket"]


@pytest.mark.parametrize("tts", ["deepgram", "elevenlabs"])
async def test_other_tts_example(tts: str) -> None:
    dg, llm = fakes()
    async with dg, llm, FakeElevenLabs(ms_per_char=MS_PER_CHAR) as el:
        env = clean_env(DEEPGRAM_API_KEY="dg", DEEPGRAM_BASE_URL=dg.url,
                        OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url,
                        ELEVENLABS_API_KEY="el", ELEVENLABS_BASE_URL=el.url)
        async with example("other_tts", ["--tts", tts], env) as port:
            got = await converse(port, llm)
    check(got, llm)
    speak = [hs for hs in dg.handshakes if hs.path == "/v1/speak"]
    assert (len(speak) > 0) == (tts == "deepgram")
    assert (len(el.handshakes) > 0) == (tts == "elevenlabs")


async def test_ai_gateway_example() -> None:
    dg, _ = fakes()
    # The fake gateway relays WebSockets; the LLM fake stands at the gateway's /openai
    # path on a port of its own (the example's OPENAI_BASE_URL override).
    llm = FakeOpenAI([Reply(ANSWER), Reply("You are welcome.")], api_key="sk-test",
                     prefix="/v1/acc123/gw1/openai")
    async with dg, llm, FakeCartesia(ms_per_char=MS_PER_CHAR, api_key="car") as car:
        gw = FakeAIGateway({"deepgram": dg.url, "cartesia": car.url}, token=TOKEN)
        async with gw:
            env = clean_env(CF_AIG_GATEWAY_URL=gw.base_url(), CF_AIG_TOKEN=TOKEN,
                            DEEPGRAM_API_KEY="dg", CARTESIA_API_KEY="car",
                            OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=llm.base_url)
            async with example("ai_gateway", [], env) as port:
                got = await converse(port, llm)
    check(got, llm)
    providers = [p for p, _ in gw.forwarded]
    assert "deepgram" in providers and "cartesia" in providers
    assert not gw.rejected
    assert all(r.headers.get("cf-aig-authorization") == f"Bearer {TOKEN}"
               for r in llm.requests)

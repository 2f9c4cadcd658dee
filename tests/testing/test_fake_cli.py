"""``wavewire fake NAME`` in a subprocess: it prints its address, serves the provider's
protocol there, and stops on Ctrl-C (SIGINT) within a deadline."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = re.compile(r"fake (\w+) on (ws://[\d.]+:\d+)")


async def _start(name: str) -> tuple[asyncio.subprocess.Process, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["WAVEWIRE_FAKE_DEEPGRAM_TRANSCRIPTS"] = '{"440": "hello there"}'
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "fake", name, "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        line = (await proc.stdout.readline()).decode()
    m = ADDRESS.search(line)
    assert m and m.group(1) == name, line
    return proc, m.group(2)


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        return await proc.wait()


@pytest.mark.parametrize(
    ("name", "path", "headers", "first"),
    [
        ("deepgram", "/v1/speak?model=aura-2-thalia-en", {"Authorization": "Token k"}, None),
        ("cartesia", "/tts/websocket?api_key=k&cartesia_version=2025-04-16", {},
         '{"context_id":"c","cancel":true}'),
        ("elevenlabs", "/v1/text-to-speech/v/stream-input?model_id=m&output_format=pcm_16000",
         {"xi-api-key": "k"}, '{"text":" "}'),
    ],
)  # fmt: skip
async def test_fake_subcommand_serves_and_stops(
    name: str, path: str, headers: dict[str, str], first: str | None
) -> None:
    proc, url = await _start(name)
    try:
        async with connect(url + path, additional_headers=headers, proxy=None) as ws:
            if name == "deepgram":
                async with asyncio.timeout(10):
                    assert json.loads(await ws.recv())["type"] == "Metadata"
            else:
                assert first is not None
                await ws.send(first)
                await ws.send('{"text":""}' if name == "elevenlabs" else first)
                if name == "elevenlabs":
                    async with asyncio.timeout(10):
                        assert json.loads(await ws.recv()) == {"isFinal": True}
    finally:
        code = await _stop(proc)
    assert code == 130


async def test_fake_deepgram_takes_its_transcripts_from_the_environment() -> None:
    import numpy as np

    proc, url = await _start("deepgram")
    try:
        t = np.arange(8000) / 16000
        tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
        path = "/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000&endpointing=100"
        async with connect(url + path, additional_headers={"Authorization": "Token k"},
                           proxy=None) as ws:
            await ws.send(tone + bytes(6400))
            async with asyncio.timeout(10):
                result = json.loads(await ws.recv())
        assert result["is_final"]
        assert result["channel"]["alternatives"][0]["transcript"] == "hello there"
    finally:
        await _stop(proc)


async def test_fake_openai_subcommand_runs_the_llm_fake() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "fake", "openai", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        assert re.search(r"on http://[\d.]+:\d+", line), line
    finally:
        code = await _stop(proc)
    assert code == 130

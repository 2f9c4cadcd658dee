"""Shared helpers for the provider and emulator tests: a wavewire server on an ephemeral
loopback port serving the provider routes with the echo bot, and a speech-like WAV."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from wavewire.audio.wav import wav_bytes
from wavewire.bots.echo import echo_bot
from wavewire.transports.providers import provider_routes
from wavewire.transports.server import WebSocketServer

from .._http import http_request
from ..transports.conftest import running

HOST = "127.0.0.1"


def speech_like(seconds: float = 1.6, rate: int = 16000, seed: int = 7) -> bytes:
    """Band-limited noise (300-3400 Hz) under a syllable-rate envelope, s16le mono: has a
    single clear cross-correlation peak, survives μ-law and 8 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    x = np.fft.irfft(spectrum, n)
    t = np.arange(n) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)) ** 2
    envelope *= (np.sin(2 * np.pi * 0.7 * t) > -0.6)  # pauses between "phrases"
    x = x * envelope
    x *= 9000 / (np.max(np.abs(x)) or 1)
    return x.astype("<i2").tobytes()


@pytest.fixture
def speech_wav(tmp_path: Path) -> Path:
    """A 1.6 s speech-like 16 kHz mono WAV file."""
    path = tmp_path / "in.wav"
    path.write_bytes(wav_bytes(speech_like(), 16000, 1))
    return path


def serving(bot: Any = echo_bot, **kwargs: Any) -> AbstractAsyncContextManager[WebSocketServer]:
    """The transport tests' running server (ephemeral port, checked clean afterwards),
    serving the provider routes."""
    kwargs.setdefault("routes", provider_routes())
    return running(bot, **kwargs)


def ws_url(server: WebSocketServer, path: str) -> str:
    return f"ws://{HOST}:{server.port}{path}"


async def http_get(server: WebSocketServer, path: str) -> tuple[int, str]:
    """GET ``path`` from the server (status, body as text)."""
    status, _, body = await http_request(HOST, server.port, path)
    return status, body.decode()


def metric(text: str, name: str) -> float:
    """The value of one sample line (``name`` including labels) of a /metrics body."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll until ``predicate()`` is true (the deadline guards against hangs only)."""
    import asyncio

    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the server
            await asyncio.sleep(0.005)


def assert_echoed(summary: dict[str, Any]) -> None:
    """What came back is the audio that was played: correlated, within 500 ms, no errors."""
    assert summary["frames_out"] > 0 and summary["frames_in"] > 0, summary
    assert summary["correlation"] > 0.5, summary
    assert summary["latency_ms"] is not None and 0 <= summary["latency_ms"] < 500, summary
    assert summary["errors"] == [], summary

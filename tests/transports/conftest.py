"""Helpers for the transport tests: a server on an ephemeral loopback port, a plain
``websockets`` client, and PCM test signals."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from wavewire.bots.echo import echo_bot
from wavewire.transports.server import WebSocketServer

from .._http import http_request

HOST = "127.0.0.1"


def pcm(n_samples: int, seed: int = 0, channels: int = 1) -> bytes:
    """Deterministic non-trivial s16le PCM (a ramp mixed with the seed)."""
    return b"".join(
        struct.pack("<h", ((i * 37 + seed * 101) % 20000) - 10000)
        for i in range(n_samples * channels)
    )


@contextlib.asynccontextmanager
async def running(bot: Any = echo_bot, **kwargs: Any) -> AsyncIterator[WebSocketServer]:
    """A started server on an ephemeral port, closed (and checked clean) afterwards."""
    kwargs.setdefault("port", 0)
    kwargs.setdefault("host", HOST)
    server = WebSocketServer(bot, **kwargs)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
    assert not server.sessions, "sessions left after close"
    assert server.metrics.connections_active == 0


def ws_url(server: WebSocketServer, path: str = "/ws") -> str:
    return f"ws://{HOST}:{server.port}{path}"


def http_url(server: WebSocketServer, path: str) -> str:
    return f"http://{HOST}:{server.port}{path}"


async def http_get(server: WebSocketServer, path: str,
                   headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from the server: status, headers, body."""
    return await http_request(HOST, server.port, path, headers)


async def recv_bytes(ws: ClientConnection, n: int, timeout: float = 20.0) -> bytes:
    """Receive binary messages until ``n`` bytes have arrived (text messages skipped)."""
    got = bytearray()
    async with asyncio.timeout(timeout):
        while len(got) < n:
            message = await ws.recv()
            if isinstance(message, bytes):
                got += message
    return bytes(got)


async def echo_roundtrip(url: str, audio: bytes, chunk: int = 640, **kw: Any) -> bytes:
    """Send ``audio`` in chunks over one connection and collect the same amount back."""
    async with connect(url, compression=None, proxy=None, **kw) as ws:
        for i in range(0, len(audio), chunk):
            await ws.send(audio[i : i + chunk])
        return await recv_bytes(ws, len(audio))


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    """Poll ``predicate`` (every event-loop turn, then every ms) until true; a deadline
    guards against hangs, never a timed assertion."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned elsewhere
            await asyncio.sleep(0.001)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""Hostile messages against a running server (issue 15, holes 4, 5 and 7): each is
refused with a typed error and counted, the session goes on (never 1011), and what a
peer sent reaches log lines and ErrorFrames only clipped."""

from __future__ import annotations

import json

import pytest
from loguru import logger
from websockets.asyncio.client import connect

from wavewire.errors import PEER_TEXT_LIMIT, clip

from .conftest import pcm, recv_bytes, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


def test_clip_bounds_and_escapes_peer_text():
    assert clip("short") == "short"
    long = clip("x" * 250_000)
    assert len(long) < PEER_TEXT_LIMIT + 30 and long.endswith("…(+249800 chars)")
    assert clip("a\nb\r\x1b[31m\ud800") == "a\\nb\\r\\x1b[31m\\ud800"  # one line, no escapes
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    assert len(clip(nested)) <= PEER_TEXT_LIMIT + 30  # no RecursionError, no huge repr
    assert len(clip({"k": "v" * 10**6}, 50)) <= 50 + 30


@pytest.fixture
def log_lines():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    yield lines
    logger.remove(sink)


async def test_huge_vapi_control_values_grow_the_log_by_little(log_lines):
    async with running() as server:
        async with connect(ws_url(server, "/vapi"), proxy=None, max_size=None) as ws:
            for i in range(12):
                await ws.send(json.dumps({"type": "control", "control": "abcdefghijkl"[i] * 250_000}))
            await wait_for(lambda: server.sessions
                           and server.sessions[0].input_edge.stats.protocol_errors == 12)
            await ws.send(pcm(320, 1))
            assert await recv_bytes(ws, 640) == pcm(320, 1)  # the session goes on
        await wait_for(lambda: not server.sessions)
    logged = sum(len(line) for line in log_lines)
    assert logged < 12 * 1000, logged  # was 2.5 MB
    assert server.metrics.closes.get(1011, 0) == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/ws", "[" * 984),
        ("/ws", "[" * 200_000),
        ("/twilio", "[" * 984),
        ("/vapi", "[" * 984),
        ("/vapi", '{"type":"control","control":{}}'),
        ("/vapi", '{"type":"say","content":"\\ud800"}'),
    ],
)
async def test_bad_json_is_a_counted_protocol_error_not_1011(path, message, log_lines):
    async with running() as server:
        async with connect(ws_url(server, path), proxy=None) as ws:
            await ws.send(message)
            await wait_for(lambda: server.sessions
                           and server.sessions[0].input_edge.stats.protocol_errors == 1)
            assert server.sessions[0].live
        await wait_for(lambda: not server.sessions)
    assert server.metrics.closes.get(1011, 0) == 0
    assert not any("RecursionError" in line or "TypeError" in line for line in log_lines)

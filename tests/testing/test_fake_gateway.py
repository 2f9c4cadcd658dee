"""The AI Gateway fake's relay in front of the Deepgram fake, with a plain ``websockets``
client: the upstream's refusals keep their status (and ``Retry-After``), a close the
upstream sends reaches the client with its code and reason, a dropped upstream is a
dropped client, and a client's close reaches the upstream. Loopback only; every wait has
a deadline."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wavewire.serializers.deepgram import ListenOptions
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.gateway import FakeAIGateway

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

KEY = "dg_test_key"
TOKEN = "cfut_gateway_token"
HEADERS = {"Authorization": f"Token {KEY}", "cf-aig-authorization": f"Bearer {TOKEN}"}
T = 5.0  # deadline for any one wait


def listen_url(gw: FakeAIGateway, **options: object) -> str:
    base = gw.base_url().replace("http://", "ws://")
    return f"{base}/deepgram{ListenOptions(**options).path()}"  # type: ignore[arg-type]


def tone(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


async def test_upstream_refusals_keep_their_status_and_retry_after() -> None:
    async with FakeDeepgram(api_key=KEY) as dg, FakeAIGateway({"deepgram": dg.url},
                                                               token=TOKEN) as gw:
        dg.rate_limit(1)
        with pytest.raises(InvalidStatus) as refused:
            await connect(listen_url(gw), additional_headers=HEADERS, proxy=None)
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "1"
        wrong = {**HEADERS, "Authorization": "Token wrong"}
        with pytest.raises(InvalidStatus) as refused:
            await connect(listen_url(gw), additional_headers=wrong, proxy=None)
        assert refused.value.response.status_code == 401
        assert [s for s, _ in gw.rejected] == [429, 401] and gw.forwarded == []


async def test_an_upstream_close_reaches_the_client_with_its_code() -> None:
    async with FakeDeepgram(api_key=KEY, idle_timeout=0.2) as dg, FakeAIGateway(
        {"deepgram": dg.url}, token=TOKEN
    ) as gw:
        async with connect(listen_url(gw), additional_headers=HEADERS, proxy=None) as ws:
            async with asyncio.timeout(T):
                await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1011, "NET-0001")
        assert dg.closes == [(1011, "NET-0001")]


async def test_a_dropped_upstream_drops_the_client() -> None:
    async with FakeDeepgram({440: "hi"}, api_key=KEY) as dg, FakeAIGateway(
        {"deepgram": dg.url}, token=TOKEN
    ) as gw:
        dg.drop_after(1)
        async with connect(listen_url(gw, endpointing=100), additional_headers=HEADERS,
                           proxy=None) as ws:
            pcm = tone(0.2) + bytes(6400)
            for i in range(0, len(pcm), 640):
                await ws.send(pcm[i : i + 640])
            async with asyncio.timeout(T):
                await ws.recv()  # the one message relayed, then both sockets are gone
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1006


async def test_a_client_close_reaches_the_upstream() -> None:
    async with FakeDeepgram(api_key=KEY) as dg, FakeAIGateway({"deepgram": dg.url},
                                                               token=TOKEN) as gw:
        async with connect(listen_url(gw), additional_headers=HEADERS, proxy=None) as ws:
            async with asyncio.timeout(T):
                while dg.active == 0:  # noqa: ASYNC110 - the fake's own count
                    await asyncio.sleep(0.01)
            await ws.close(1000)
        async with asyncio.timeout(T):
            while dg.active:  # noqa: ASYNC110 - the fake's own count
                await asyncio.sleep(0.01)
        assert dg.connections == 1 and gw.forwarded[0][0] == "deepgram"

"""The AI Gateway fake relays exactly: the subprotocol the upstream chose, an upstream
refusal's status, headers (``Retry-After``, ``WWW-Authenticate``) and body (credentials
redacted); a client that drops makes the upstream see a drop (1006); a client that
leaves while the upstream is still being dialed leaves no upstream connection. The
upstream is wavewire's raw server, the client plain ``websockets``. Loopback only; every
wait has a deadline."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wavewire.testing.fakes.gateway import FakeAIGateway
from wavewire.transports.http import Request, Response, respond
from wavewire.transports.raw_server import Accept, RawConnection, serve

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

HOST = "127.0.0.1"
T = 5.0  # deadline for any one wait
TOKEN = "cfut_gateway_token"
HEADERS = {"cf-aig-authorization": f"Bearer {TOKEN}"}


class Upstream:
    """The provider behind the gateway: answers each handshake with ``answer(request)``
    and records how each accepted connection ended (the close code it saw)."""

    def __init__(self) -> None:
        self.answer: object = None
        self.ended: asyncio.Queue[int | None] = asyncio.Queue()
        self.opened = asyncio.Event()

    async def on_request(self, request: Request) -> Response | Accept | None:
        answer = self.answer
        if callable(answer):
            answer = answer(request)
            if asyncio.iscoroutine(answer):
                answer = await answer
        return answer  # type: ignore[return-value]

    async def handler(self, conn: RawConnection) -> None:
        self.opened.set()
        async for message in conn:
            await conn.send(message)
        await self.ended.put(conn.close_code)


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most ``T`` seconds) until ``condition()``: a count the server keeps."""
    async with asyncio.timeout(T):
        while not condition():  # noqa: ASYNC110 - the server's own count
            await asyncio.sleep(0.01)


def url(gw: FakeAIGateway, path: str = "/up/v1/x") -> str:
    return gw.base_url().replace("http://", "ws://") + path


async def test_the_upstreams_subprotocol_reaches_the_client() -> None:
    up = Upstream()
    up.answer = lambda request: Accept("second")
    async with serve(up.handler, HOST, 0, on_request=up.on_request) as server, \
            FakeAIGateway({"up": server.url}, token=TOKEN) as gw:
        async with connect(url(gw), additional_headers=HEADERS, proxy=None,
                           subprotocols=["first", "second"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "second"
            await ws.send("ping")
            async with asyncio.timeout(T):
                assert await ws.recv() == "ping"


async def test_a_429s_retry_after_and_a_401s_challenge_and_body_pass_exactly() -> None:
    up = Upstream()
    when = "Wed, 21 Oct 2037 07:28:00 GMT"

    def limited(request: Request) -> Response:
        response = respond(429, b"slow down\n", "text/plain")
        response.headers["Retry-After"] = when
        return response

    def unauthorized(request: Request) -> Response:
        body = b'{"err_code":"INVALID_AUTH","api_key":"dg_live_0123456789"}'
        response = respond(401, body, "application/json")
        response.headers["WWW-Authenticate"] = 'Token realm="Deepgram"'
        return response

    async with serve(up.handler, HOST, 0, on_request=up.on_request) as server, \
            FakeAIGateway({"up": server.url}, token=TOKEN) as gw:
        up.answer = limited
        with pytest.raises(InvalidStatus) as refused:
            await connect(url(gw), additional_headers=HEADERS, proxy=None)
        response = refused.value.response
        assert response.status_code == 429 and response.headers["Retry-After"] == when
        assert response.body == b"slow down\n"
        up.answer = unauthorized
        with pytest.raises(InvalidStatus) as refused:
            await connect(url(gw), additional_headers=HEADERS, proxy=None)
        response = refused.value.response
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Token realm="Deepgram"'
        assert response.headers["Content-Type"] == "application/json"
        assert response.body == b'{"err_code":"INVALID_AUTH","api_key":"***"}'
        assert [s for s, _ in gw.rejected] == [429, 401] and gw.forwarded == []


async def test_a_dropped_client_is_a_dropped_upstream() -> None:
    up = Upstream()
    async with serve(up.handler, HOST, 0, on_request=up.on_request) as server, \
            FakeAIGateway({"up": server.url}, token=TOKEN) as gw:
        ws = await connect(url(gw), additional_headers=HEADERS, proxy=None)
        await ws.send("ping")
        async with asyncio.timeout(T):
            assert await ws.recv() == "ping"
        ws.transport.abort()  # the client's network goes: no close frame
        async with asyncio.timeout(T):
            assert await up.ended.get() == 1006  # nor any on the upstream leg
        async with asyncio.timeout(T):
            await ws.wait_closed()


async def test_a_client_that_leaves_mid_dial_leaves_no_upstream_connection() -> None:
    up = Upstream()
    dialed = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(request: Request) -> None:
        dialed.set()
        try:
            await asyncio.sleep(3600)  # the upstream takes its time to answer
        except asyncio.CancelledError:
            cancelled.set()
            raise

    up.answer = slow
    async with serve(up.handler, HOST, 0, on_request=up.on_request) as server, \
            FakeAIGateway({"up": server.url}, token=TOKEN) as gw:
        loop = asyncio.get_running_loop()
        with socket.socket() as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, (HOST, gw.port))
            await loop.sock_sendall(sock, (
                f"GET /v1/acc123/gw1/up/v1/x HTTP/1.1\r\nHost: x\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"cf-aig-authorization: Bearer {TOKEN}\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            async with asyncio.timeout(T):
                await dialed.wait()
            assert server.connections == 1
        # the client has gone while the upstream was still answering its handshake
        async with asyncio.timeout(T):
            await cancelled.wait()  # the upstream saw the dial's TCP connection end
        await until(lambda: server.connections == 0)
        assert not up.opened.is_set() and gw.forwarded == []

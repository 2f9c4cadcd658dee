"""The raw WebSocket server (a handler per connection): accepting with a subprotocol,
refusing with any HTTP answer, a failing handler closing only its own connection with
1011, and close() leaving no task and no socket. The peers are ``websockets`` clients
(an independent implementation) and wavewire's own client."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wavewire.errors import AuthError, RateLimitError
from wavewire.serializers.base import FrameSerializer
from wavewire.transports.client import WebSocketClient
from wavewire.transports.connection import Connection, ConnState, send
from wavewire.transports.http import Request, text_response
from wavewire.transports.raw_server import Accept, RawConnection, serve

from .._http import http_request

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

HOST = "127.0.0.1"
T = 10.0  # deadline of every wait (a guard against hangs, not a timed assertion)


async def echo(conn: RawConnection) -> None:
    async for message in conn:
        await conn.send(message)


def url(server: object, path: str = "/") -> str:
    return f"ws://{HOST}:{server.port}{path}"  # type: ignore[attr-defined]


async def test_accepts_with_the_subprotocol_headers_and_state_on_request_chose() -> None:
    seen: list[tuple[str, object, str | None]] = []

    def on_request(request: Request) -> Accept:
        offered = request.headers.get("Sec-WebSocket-Protocol") or ""
        chosen = "chat.v2" if "chat.v2" in offered else None
        return Accept(chosen, headers=[("X-Served-By", "raw")], data={"user": "ada"})

    async def handler(conn: RawConnection) -> None:
        seen.append((conn.path, conn.data, conn.subprotocol))
        await echo(conn)

    async with serve(handler, HOST, 0, on_request=on_request) as server:
        async with connect(url(server, "/room?x=1"), subprotocols=["chat.v1", "chat.v2"],  # type: ignore[list-item]
                           proxy=None) as ws:
            assert ws.subprotocol == "chat.v2"
            assert ws.response is not None and ws.response.headers["X-Served-By"] == "raw"
            await ws.send(b"\x01\x02" * 100)
            await ws.send("héllo")
            async with asyncio.timeout(T):
                assert await ws.recv() == b"\x01\x02" * 100
                assert await ws.recv() == "héllo"
    assert seen == [("/room?x=1", {"user": "ada"}, "chat.v2")]


async def test_a_raw_connection_meets_the_connection_contract() -> None:
    seen: list[tuple[bool, ConnState, int, int]] = []

    async def handler(conn: RawConnection) -> None:
        message = await conn.recv()
        await conn.wait_writable()  # the peer keeps up: returns at once
        await send(conn, message)
        seen.append((isinstance(conn, Connection), conn.state, conn.stats.messages_in,
                     conn.stats.messages_out))
        await conn.close()
        seen.append((True, conn.state, 0, 0))

    async with serve(handler, HOST, 0) as server:
        async with connect(url(server), proxy=None) as ws:
            await ws.send(b"\x05" * 320)
            async with asyncio.timeout(T):
                assert await ws.recv() == b"\x05" * 320
                await ws.wait_closed()
    assert seen == [(True, ConnState.OPEN, 1, 1), (True, ConnState.CLOSED, 0, 0)]


async def test_refuses_with_401_and_429_and_their_headers() -> None:
    answers = iter([
        text_response(401, "bad key\n"),
        text_response(429, "slow down\n"),
        text_response(429, "slow down\n"),
    ])
    handled: list[RawConnection] = []

    async def on_request(request: Request) -> object:  # async: awaited by the server
        await asyncio.sleep(0)
        response = next(answers)
        if response.status_code == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="fake"'
        else:
            response.headers["Retry-After"] = "7"
        return response

    async def handler(conn: RawConnection) -> None:
        handled.append(conn)

    async with serve(handler, HOST, 0, on_request=on_request) as server:  # type: ignore[arg-type]
        with pytest.raises(InvalidStatus) as refused:
            await connect(url(server), proxy=None)
        response = refused.value.response
        assert response.status_code == 401 and response.body == b"bad key\n"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="fake"'
        with pytest.raises(InvalidStatus) as refused:
            await connect(url(server), proxy=None)
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "7"
        # wavewire's own client types the same answer
        client = WebSocketClient(url(server), FrameSerializer(), reconnect=None, proxy=None)
        with pytest.raises(RateLimitError) as limited:
            await client.connect()
        assert limited.value.retry_after == 7.0
        await client.close()
        assert not server.group.tasks
    assert handled == []


async def test_wavewire_client_gets_an_auth_error_without_retrying() -> None:
    asked: list[str] = []

    def on_request(request: Request) -> object:
        asked.append(request.path)
        return text_response(401, "no\n")

    async with serve(echo, HOST, 0, on_request=on_request) as server:  # type: ignore[arg-type]
        client = WebSocketClient(url(server, "/v1"), FrameSerializer(), proxy=None)
        with pytest.raises(AuthError):
            await client.connect()
        await client.close()
    assert asked == ["/v1"]  # once: auth failures are never retried


async def test_plain_http_gets_426_and_a_failing_on_request_500() -> None:
    def on_request(request: Request) -> None:
        if request.path == "/boom":
            raise RuntimeError("on_request bug")

    async with serve(echo, HOST, 0, on_request=on_request,
                     log=logging.getLogger("tests.raw")) as server:
        status, headers, _ = await http_request(HOST, server.port, "/")
        assert status == 426 and headers["upgrade"] == "websocket"
        with pytest.raises(InvalidStatus) as failed:
            await connect(url(server, "/boom"), proxy=None)
        assert failed.value.response.status_code == 500


async def test_a_failing_handler_closes_its_connection_1011_and_the_server_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(conn: RawConnection) -> None:
        message = await conn.recv()
        if message == "fail":
            raise ValueError("handler bug, Authorization: Bearer sk-live-0123456789abcdef")
        await conn.send(message)
        await echo(conn)

    caplog.set_level(logging.ERROR, "tests.raw")
    async with serve(handler, HOST, 0, log=logging.getLogger("tests.raw")) as server:
        async with connect(url(server), proxy=None) as ws:
            await ws.send("fail")
            async with asyncio.timeout(T):
                await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1011, "internal error")
        async with connect(url(server), proxy=None) as ws:
            await ws.send("still here")
            async with asyncio.timeout(T):
                assert await ws.recv() == "still here"
    [record] = [r for r in caplog.records if r.name == "tests.raw"]
    assert "handler failed" in record.getMessage() and "ValueError" in record.getMessage()
    assert "sk-live-0123456789abcdef" not in record.getMessage()


async def test_a_handler_that_returns_closes_1000_and_abort_drops() -> None:
    async def handler(conn: RawConnection) -> None:
        message = await conn.recv()
        if message == "drop":
            conn.abort()
            await conn.wait_closed()

    async with serve(handler, HOST, 0) as server:
        async with connect(url(server), proxy=None) as ws:
            await ws.send("bye")
            async with asyncio.timeout(T):
                await ws.wait_closed()
            assert ws.close_code == 1000
        async with connect(url(server), proxy=None) as ws:
            await ws.send("drop")
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1006  # no close frame


async def test_the_message_limit_of_accept_applies() -> None:
    async with serve(echo, HOST, 0, on_request=lambda r: Accept(max_size=100)) as server:
        async with connect(url(server), proxy=None) as ws:
            await ws.send(bytes(50))
            async with asyncio.timeout(T):
                assert await ws.recv() == bytes(50)
            await ws.send(bytes(101))
            async with asyncio.timeout(T):
                await ws.wait_closed()
            assert ws.close_code == 1009


async def test_close_closes_every_connection_cancels_every_task_and_stops_listening() -> None:
    entered = asyncio.Event()

    async def stuck(conn: RawConnection) -> None:
        entered.set()
        await asyncio.sleep(3600)  # cancelled by close()

    server = await serve(stuck, HOST, 0, close_timeout=2.0)
    port = server.port
    ws = await connect(url(server), proxy=None)
    # and a connection that never sends its request head
    reader, writer = await asyncio.open_connection(HOST, port)
    async with asyncio.timeout(T):
        await entered.wait()
        while server.connections < 2:  # noqa: ASYNC110 - the server's own count
            await asyncio.sleep(0.01)
    assert len(server.group.tasks) == 1
    await server.close()
    assert not server.group.tasks
    assert server.connections == 0 and not server.serving
    async with asyncio.timeout(T):
        await ws.wait_closed()
        assert await reader.read() == b""  # the server closed the silent one too
    assert ws.close_code == 1001
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection(HOST, port)
    await server.close()  # idempotent

"""What a relay needs from ``WebSocketClient``, against wavewire's raw server on loopback:
the subprotocol the server chose, ``abort()`` (the peer sees 1006, no close frame; a
dial under way is cut), a refused handshake's status, headers and body on the typed
error (credentials redacted, the body bounded), a ``connect()`` cancelled mid-handshake
that leaves no connection behind, and the raw server cancelling an ``on_request`` whose
peer left. Every wait has a deadline."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from wavewire.errors import REFUSAL_BODY_LIMIT, AuthError, ConnectError, RateLimitError
from wavewire.serializers.base import FrameSerializer
from wavewire.transports.backoff import handshake_error, redacted_answer
from wavewire.transports.client import WebSocketClient
from wavewire.transports.http import Request, respond
from wavewire.transports.raw_server import Accept, RawConnection, serve

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

HOST = "127.0.0.1"
T = 5.0  # deadline for any one wait


def client(url: str, **kw: object) -> WebSocketClient:
    return WebSocketClient(url, FrameSerializer(), reconnect=None, proxy=None,
                           close_timeout=1.0, **kw)  # type: ignore[arg-type]


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most ``T`` seconds) until ``condition()``: a count the server keeps."""
    async with asyncio.timeout(T):
        while not condition():  # noqa: ASYNC110 - the server's own count
            await asyncio.sleep(0.01)


class Upstream:
    """A raw server that records how each connection ended (the peer's close code)."""

    def __init__(self) -> None:
        self.ended: asyncio.Queue[int | None] = asyncio.Queue()

    async def handler(self, conn: RawConnection) -> None:
        async for message in conn:
            await conn.send(message)
        await self.ended.put(conn.close_code)


async def test_the_chosen_subprotocol_is_public() -> None:
    def pick_second(request: Request) -> Accept:
        offered = [p.strip() for p in request.headers["Sec-WebSocket-Protocol"].split(",")]
        return Accept(offered[1])

    up = Upstream()
    async with serve(up.handler, HOST, 0, on_request=pick_second) as server:
        ws = client(server.url, subprotocols=["a.v1", "b.v2"])
        assert ws.subprotocol is None
        await ws.connect()
        assert ws.subprotocol == "b.v2"
        await ws.close()
        assert ws.subprotocol == "b.v2"  # the last connection's, once closed


async def test_abort_cuts_the_connection_and_the_peer_sees_1006() -> None:
    up = Upstream()
    async with serve(up.handler, HOST, 0) as server:
        ws = client(server.url)
        codes: list[int] = []
        ws.add_event_handler("on_disconnected", lambda _c, code, _r: _note(codes, code))
        await ws.connect()
        await ws.send(b"hi")
        ws.abort()
        async with asyncio.timeout(T):
            assert await up.ended.get() == 1006  # no close frame reached the server
        assert await ws.wait_closed(T) and ws.error is None
        assert codes == [1006]
        await ws.close()  # still fine after abort()


async def _note(codes: list[int], code: int) -> None:
    codes.append(code)


async def test_abort_before_connect_stops_the_client() -> None:
    ws = client("ws://127.0.0.1:9/never")
    ws.abort()
    assert ws.closed


async def test_a_refusal_keeps_its_headers_and_body_redacted() -> None:
    body = b'{"err_msg":"Invalid credentials","api_key":"dg_live_0123456789"}'

    def refuse(request: Request) -> object:
        response = respond(401, body, "application/json")
        response.headers["WWW-Authenticate"] = 'Token realm="Deepgram"'
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        response.headers["X-Request-Id"] = "r-1"
        return response

    async with serve(Upstream().handler, HOST, 0, on_request=refuse) as server:
        ws = client(server.url)
        with pytest.raises(AuthError) as refused:
            await ws.connect()
        await ws.close()
    error = refused.value
    assert error.status == 401
    assert [v for k, v in error.headers if k.lower() == "www-authenticate"] == [
        'Token realm="Deepgram"', 'Bearer realm="api"']
    assert error.header("x-request-id") == "r-1"
    assert error.header("Content-Type") == "application/json"
    assert error.body == b'{"err_msg":"Invalid credentials","api_key":"***"}'
    assert "dg_live_0123456789" not in str(error) and "Invalid credentials" in str(error)


async def test_a_429_keeps_retry_after_as_sent() -> None:
    def refuse(request: Request) -> object:
        response = respond(429, b"slow down\n", "text/plain")
        response.headers["Retry-After"] = "Wed, 21 Oct 2037 07:28:00 GMT"
        return response

    async with serve(Upstream().handler, HOST, 0, on_request=refuse) as server:
        ws = client(server.url)
        with pytest.raises(RateLimitError) as refused:
            await ws.connect()
        await ws.close()
    assert refused.value.header("retry-after") == "Wed, 21 Oct 2037 07:28:00 GMT"
    assert refused.value.body == b"slow down\n" and refused.value.retry_after is not None


def test_refusal_details_are_bounded_and_redacted() -> None:
    headers = {"Authorization": "Bearer abcdefgh", "Location": "/x?token=abcdefgh",
               "Sec-WebSocket-Protocol": "bearer.abcdefgh"}
    pairs, body = redacted_answer(headers, b"\xff" + b"y" * (REFUSAL_BODY_LIMIT * 2))
    assert dict(pairs) == {"Authorization": "***", "Location": "/x?token=***",
                           "Sec-WebSocket-Protocol": "***"}
    assert len(body) == REFUSAL_BODY_LIMIT and body[:1] == b"\xff"  # not UTF-8: kept
    error = handshake_error("ws://h/x", 500, None, b"oops")
    assert type(error) is ConnectError and error.body == b"oops" and error.headers == []


async def test_connect_cancelled_mid_handshake_leaves_no_connection() -> None:
    deciding = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(request: Request) -> object:
        deciding.set()
        try:
            await asyncio.sleep(3600)  # answers only when cancelled: the peer left
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return None

    async with serve(Upstream().handler, HOST, 0, on_request=slow) as server:
        ws = client(server.url, open_timeout=30.0)
        dialing = asyncio.ensure_future(ws.connect())
        async with asyncio.timeout(T):
            await deciding.wait()
        assert server.connections == 1
        dialing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await dialing
        async with asyncio.timeout(T):
            await cancelled.wait()  # the server saw the TCP connection end
        await until(lambda: server.connections == 0)
        await ws.close()


async def test_abort_cuts_a_dial_under_way() -> None:
    deciding = asyncio.Event()

    async def slow(request: Request) -> object:
        deciding.set()
        await asyncio.sleep(3600)
        return None

    async with serve(Upstream().handler, HOST, 0, on_request=slow) as server:
        ws = client(server.url, open_timeout=30.0)
        dialing = asyncio.ensure_future(ws.connect())
        async with asyncio.timeout(T):
            await deciding.wait()
        ws.abort()
        async with asyncio.timeout(T):
            with pytest.raises(ConnectError):
                await dialing
        await until(lambda: server.connections == 0)
        assert ws.closed
        await ws.close()


async def test_the_raw_server_cancels_on_request_when_the_peer_leaves() -> None:
    deciding = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(request: Request) -> object:
        deciding.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return None

    async with serve(Upstream().handler, HOST, 0, on_request=slow) as server:
        loop = asyncio.get_running_loop()
        with socket.socket() as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, (HOST, server.port))
            await loop.sock_sendall(sock, (
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"))
            async with asyncio.timeout(T):
                await deciding.wait()
        async with asyncio.timeout(T):
            await cancelled.wait()
        await until(lambda: not server.group.tasks)


async def test_a_dial_through_an_http_proxy_still_works() -> None:
    """The dial opens its own socket (to the proxy here), then tunnels through it."""
    tunnels: list[bytes] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        tunnels.append(head.split(b"\r\n", 1)[0])
        host, port = head.split()[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    up = Upstream()
    async with serve(up.handler, HOST, 0) as server:
        port = server.port
        listener = await asyncio.start_server(proxy, HOST, 0)
        proxy_url = f"http://{HOST}:{listener.sockets[0].getsockname()[1]}"
        try:
            ws = WebSocketClient(server.url, FrameSerializer(), reconnect=None,
                                 proxy=proxy_url, close_timeout=1.0)
            got: asyncio.Queue[object] = asyncio.Queue()
            await ws.connect(got.put)
            await ws.send("through")
            async with asyncio.timeout(T):
                assert await got.get() == "through"
            await ws.close()
            async with asyncio.timeout(T):
                assert await up.ended.get() == 1000
        finally:
            listener.close()
            async with asyncio.timeout(T):
                await listener.wait_closed()
    assert tunnels == [f"CONNECT {HOST}:{port} HTTP/1.1".encode()]

"""A scriptable loopback WebSocket peer (plain ``websockets``) for client and service
tests: it records every handshake and every message per connection, can refuse
handshakes with chosen statuses and headers, and replies through a test-given function."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

PEER_LOGGER = "tests.peer"
"""The peer's own log (it stands for the provider: it sees the credentials)."""

Reply = Callable[[ServerConnection, Any], Awaitable[None]]


class Peer:
    """What the peer saw, and how it behaves."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply = reply
        self.refusals: list[tuple[int, dict[str, str]]] = []
        """Handshake answers still to give, in order (then connections are accepted)."""
        self.requests: list[Request] = []
        """Every handshake request, accepted or not."""
        self.connections: list[list[Any]] = []
        """Messages received, one list per accepted connection."""
        self.live: list[ServerConnection] = []
        self.port = 0

    def refuse(self, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next ``times`` handshakes with HTTP ``status``."""
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        self.refusals.extend([(status, hdrs)] * times)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def received(self) -> list[Any]:
        """Every message of every connection, in order."""
        return [m for conn in self.connections for m in conn]

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.refusals:
            status, headers = self.refusals.pop(0)
            response = conn.respond(status, "refused\n")
            for name, value in headers.items():
                response.headers[name] = value
            return response
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        seen: list[Any] = []
        self.connections.append(seen)
        self.live.append(ws)
        try:
            async for message in ws:
                seen.append(message)
                if self.reply is not None:
                    await self.reply(ws, message)
        except ConnectionClosed:
            pass
        finally:
            self.live.remove(ws)

    async def drop(self) -> None:
        """Drop every live connection without a close frame (a dead provider)."""
        for ws in list(self.live):
            ws.transport.abort()

    async def close_all(self, code: int, reason: str = "") -> None:
        """Close every live connection with ``code``."""
        for ws in list(self.live):
            await ws.close(code, reason)


@contextlib.asynccontextmanager
async def peer(reply: Reply | None = None, **kwargs: Any) -> AsyncIterator[Peer]:
    """A started :class:`Peer` on an ephemeral loopback port."""
    p = Peer(reply)
    kwargs.setdefault("compression", None)
    kwargs.setdefault("logger", logging.getLogger(PEER_LOGGER))
    async with serve(p._handler, "127.0.0.1", 0, process_request=p._process_request,
                     **kwargs) as server:
        p.port = server.sockets[0].getsockname()[1]
        yield p
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true; the deadline only guards against hangs."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling state owned elsewhere
            await asyncio.sleep(0.001)

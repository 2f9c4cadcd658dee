"""One accepted connection of a raw WebSocket server (:mod:`.raw_server`), as its handler
sees it: :class:`RawConnection`, a :class:`~wavewire.transports.connection.Connection`
plus the request and receiving; and :class:`Accept`, what ``on_request`` answers to take
a connection.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConnectionClosedError
from .connection import ConnectionStats, ConnState, Message, send
from .http import Request
from .wire import ServerConnection

__all__ = ["Accept", "RawConnection", "cut"]


@dataclass(slots=True)
class Accept:
    """``on_request``'s answer that takes the connection."""

    subprotocol: str | None = None
    """The subprotocol selected (one the client offered), or none."""
    headers: Sequence[tuple[str, str]] = ()
    """Extra headers on the 101 response."""
    data: Any = None
    """Anything the handler needs about this connection (:attr:`RawConnection.data`)."""
    max_size: int | None = None
    """Largest message accepted, bytes (``None``: the server's ``max_size``)."""


class RawConnection:
    """One accepted WebSocket connection, as a handler sees it: a
    :class:`~wavewire.transports.connection.Connection`, plus the request and receiving."""

    __slots__ = ("_conn", "_context", "request", "data")

    def __init__(self, conn: ServerConnection, request: Request, data: Any,
                 context: contextvars.Context | None) -> None:
        self._conn = conn
        self._context = context
        self.request = request
        """The upgrade request (path with query, headers)."""
        self.data = data
        """What ``on_request`` put in :attr:`Accept.data`."""

    @property
    def path(self) -> str:
        """The request target (path and query)."""
        return self.request.path

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol selected, if any."""
        return self._conn.subprotocol

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life."""
        return self._conn.state

    @property
    def stats(self) -> ConnectionStats:
        """What went over the connection."""
        return self._conn.stats

    @property
    def remote_address(self) -> Any:
        """The peer's address (host, port)."""
        return self._conn.remote_address

    # -- receiving ---------------------------------------------------------------------

    async def recv(self) -> Message:
        """The next message; :class:`~wavewire.errors.ConnectionClosedError` when none
        will come."""
        return await self._conn.recv()

    def __aiter__(self) -> RawConnection:
        return self

    async def __anext__(self) -> Message:
        """The next message; the iteration ends when the connection closes."""
        try:
            return await self._conn.recv()
        except ConnectionClosedError:
            raise StopAsyncIteration from None

    async def consume(self, handler: Callable[[Message], Coroutine[Any, Any, None]]) -> None:
        """``await handler(message)`` for every message, in order (those that arrive
        while it is idle run inline), until the connection closes
        (:class:`~wavewire.errors.ConnectionClosedError`)."""
        await self._conn.consume(handler, self._context)

    # -- sending -----------------------------------------------------------------------

    def send_nowait(self, message: Message) -> bool:
        """Send at once unless the peer is not keeping up (``False``: await :meth:`send`)."""
        return self._conn.send_nowait(message)

    async def wait_writable(self) -> None:
        """Return once :meth:`send_nowait` may write again (or the connection closed)."""
        await self._conn.wait_writable()

    async def send(self, message: Message) -> None:
        """Send one message, waiting while the peer is not keeping up."""
        conn = self._conn
        if not conn.send_nowait(message):
            await send(conn, message)

    # -- closing -----------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` and wait (bounded) until it has closed."""
        await self._conn.close(code, reason)

    def abort(self) -> None:
        """Cut the TCP connection now, with no close frame (the peer sees 1006)."""
        cut(self._conn)

    async def wait_closed(self) -> None:
        """Return once the connection has closed."""
        await self._conn.wait_closed()

    @property
    def closed(self) -> bool:
        """The TCP connection is gone."""
        return self._conn.closed

    @property
    def close_code(self) -> int | None:
        """The close code the peer sent (1006 if it dropped); ``None`` while open."""
        return self._conn.close_code

    @property
    def close_reason(self) -> str:
        """The close reason the peer sent."""
        return self._conn.rcvd_reason

    def __repr__(self) -> str:
        return f"<RawConnection {self._conn!r}>"


def cut(conn: ServerConnection) -> None:
    """Drop ``conn``'s TCP connection at once (no close frame)."""
    transport = conn.transport
    if transport is not None:
        transport.abort()

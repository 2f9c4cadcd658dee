"""The connection contract: what every message connection in wavewire offers.

A :class:`Connection` carries whole messages (``bytes`` or ``str``) to one peer. The
server's WebSocket connections, the client's, and :class:`wavewire.testing.FakeConnection`
all satisfy it, and everything that sends -- the output edge, a server session, the
client, a provider service -- sends through it, in one way:

* :meth:`Connection.send_nowait` writes the message at once and says ``True``, or says
  ``False`` *without writing anything* when the peer is not keeping up (the write buffer
  is above its high-water mark). It raises :class:`~wavewire.errors.ConnectionClosedError`
  when the connection is not open.
* :func:`send` is the one "now, else wait" path: it tries :meth:`~Connection.send_nowait`
  and, while that says ``False``, awaits :meth:`~Connection.wait_writable`. Hot paths
  call ``send_nowait`` first and await :func:`send` only when it said ``False``, so the
  usual message costs no coroutine.

Messages that cannot go anywhere yet (no socket attached, a client reconnecting) wait
in an :class:`Outbox`: bounded, with one stated overflow policy (drop the oldest: stale
audio is worth less than fresh audio), and every drop counted.

The connection's lifecycle is :class:`ConnState`; what went over it is in
:class:`ConnectionStats`.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ConnState", "ConnectionStats", "Connection", "send", "Outbox"]

Message = bytes | str
"""One whole message on a connection (a WebSocket binary or text message)."""


class ConnState(enum.IntEnum):
    """Where a connection is in its life (RFC 6455's states, used for every connection)."""

    CONNECTING = 0
    """Opening: the handshake is under way; nothing can be sent yet."""
    OPEN = 1
    """Messages flow both ways."""
    CLOSING = 2
    """A close was sent or received; no more sends, the rest of the close is awaited."""
    CLOSED = 3
    """Finished; the socket is gone."""


@dataclass(slots=True)
class ConnectionStats:
    """What went over one connection."""

    messages_in: int = 0
    """Messages received."""
    messages_out: int = 0
    """Messages written."""
    bytes_in: int = 0
    """Payload bytes received (text counted as its UTF-8 encoding)."""
    bytes_out: int = 0
    """Payload bytes written."""
    waits: int = 0
    """Sends that had to wait for the peer (``send_nowait`` said ``False``)."""


@runtime_checkable
class Connection(Protocol):
    """One message connection to a peer (see the module docstring)."""

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life."""
        ...

    @property
    def stats(self) -> ConnectionStats:
        """What went over the connection."""
        ...

    def send_nowait(self, message: Message) -> bool:
        """Write ``message`` now (``True``), or write nothing and say ``False`` when the peer
        is not keeping up. Raises :class:`~wavewire.errors.ConnectionClosedError` when the
        connection is not open."""
        ...

    async def wait_writable(self) -> None:
        """Return once :meth:`send_nowait` may write again, or once the connection is no
        longer open (the next ``send_nowait`` then raises)."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (a WebSocket close handshake with ``code``/``reason``),
        waiting at most the connection's close deadline."""
        ...


async def send(conn: Connection, message: Message) -> None:
    """Send ``message`` on ``conn``, waiting for the peer as long as it is not keeping up:
    the one "now, else wait" path of every sender. Raises
    :class:`~wavewire.errors.ConnectionClosedError` if the connection is not open."""
    while not conn.send_nowait(message):
        conn.stats.waits += 1
        await conn.wait_writable()


class Outbox:
    """Messages waiting for a connection that cannot take them yet.

    At most ``size`` messages; putting one more drops the *oldest* (stale audio is
    worth less than fresh audio). Every message dropped -- by overflow, :meth:`clear` or
    a ``size`` of 0 -- is counted in :attr:`dropped` and reported to ``on_drop(n)``.
    """

    __slots__ = ("size", "dropped", "held", "_items", "_on_drop")

    def __init__(self, size: int, on_drop: Callable[[int], None] | None = None) -> None:
        self.size = max(0, size)
        self.dropped = 0
        """Messages dropped (overflow and :meth:`clear`)."""
        self.held = 0
        """Messages ever put here (sent later or dropped)."""
        self._items: deque[Message] = deque()
        self._on_drop = on_drop

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def _drop(self, n: int) -> None:
        self.dropped += n
        if self._on_drop is not None:
            self._on_drop(n)

    def put(self, message: Message) -> None:
        """Hold ``message``, dropping the oldest held message if the outbox is full."""
        self.held += 1
        if self.size == 0:
            self._drop(1)
            return
        items = self._items
        if len(items) >= self.size:
            items.popleft()
            self._drop(1)
        items.append(message)

    def clear(self) -> int:
        """Drop everything held (counted); returns how many."""
        n = len(self._items)
        if n:
            self._items.clear()
            self._drop(n)
        return n

    async def flush(self, conn: Connection) -> int:
        """Send everything held, in order, on ``conn`` (including messages put while it
        waits for the peer); a message leaves the outbox only once written. Returns how
        many were sent. :class:`~wavewire.errors.ConnectionClosedError` leaves the rest
        held."""
        items = self._items
        sent = 0
        while items:
            message = items[0]
            if not conn.send_nowait(message):
                await send(conn, message)
            if items and items[0] is message:
                items.popleft()
            sent += 1
        return sent

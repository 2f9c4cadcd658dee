"""``FakeConnection``: a :class:`~wavewire.transports.connection.Connection` with no socket.

Edges, bots, server sessions and services send to it and read from it exactly as they
would over a WebSocket; the test decides when the peer keeps up
(:meth:`FakeConnection.set_writable`), what it says (:meth:`FakeConnection.feed`) and when
it hangs up (:meth:`FakeConnection.peer_close`), and reads what was sent
(:attr:`FakeConnection.sent`).
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..errors import ConnectionClosedError
from ..transports.connection import ConnectionStats, ConnState, Message

__all__ = ["FakeConnection"]


def _size(message: Message) -> int:
    return len(message.encode("utf-8")) if isinstance(message, str) else len(message)


class FakeConnection:
    """An open in-memory connection (see the module docstring).

    :param writable: whether :meth:`send_nowait` writes at first (see :meth:`set_writable`).
    :param state: the state it starts in (``CONNECTING`` refuses sends until :meth:`open`).
    """

    def __init__(self, *, writable: bool = True, state: ConnState = ConnState.OPEN) -> None:
        self.sent: list[Message] = []
        """Every message written, in order."""
        self.close_code: int | None = None
        """The close code once closed (by either side), else ``None``."""
        self.close_reason = ""
        """The close reason once closed."""
        self.closed_by_peer = False
        """The peer closed it (:meth:`peer_close`), rather than this side (:meth:`close`)."""
        self._state = state
        self._stats = ConnectionStats()
        self._writable = writable
        self._inbox: deque[Message] = deque()
        self._events: list[asyncio.Event] = []  # woken on any change (lazy: no loop here)

    # -- the contract --------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life."""
        return self._state

    @property
    def stats(self) -> ConnectionStats:
        """What went over the connection."""
        return self._stats

    def send_nowait(self, message: Message) -> bool:
        """Record ``message`` (True), or record nothing and say False while not writable.
        Raises :class:`~wavewire.errors.ConnectionClosedError` when not open."""
        if self._state is not ConnState.OPEN:
            raise self._closed_error()
        if not self._writable:
            return False
        self.sent.append(message)
        stats = self._stats
        stats.messages_out += 1
        stats.bytes_out += _size(message)
        return True

    async def wait_writable(self) -> None:
        """Return once writable again, or no longer open."""
        while self._writable is False and self._state is ConnState.OPEN:
            await self._changed()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from this side with ``code`` (at once: there is no peer to wait for)."""
        self._finish(code, reason, by_peer=False)

    # -- reading ------------------------------------------------------------------------

    async def recv(self) -> Message:
        """The next message the peer sent (:meth:`feed`), waiting for it. Raises
        :class:`~wavewire.errors.ConnectionClosedError` once closed and nothing is left."""
        while not self._inbox:
            if self._state is not ConnState.OPEN:
                raise self._closed_error()
            await self._changed()
        message = self._inbox.popleft()
        return message

    def __aiter__(self) -> FakeConnection:
        return self

    async def __anext__(self) -> Message:
        try:
            return await self.recv()
        except ConnectionClosedError:
            raise StopAsyncIteration from None

    # -- what the test does --------------------------------------------------------------

    def feed(self, *messages: Message) -> None:
        """The peer sends ``messages`` (read with :meth:`recv` or ``async for``)."""
        for message in messages:
            self._inbox.append(message)
            self._stats.messages_in += 1
            self._stats.bytes_in += _size(message)
        self._notify()

    def set_writable(self, writable: bool = True) -> None:
        """Whether the peer keeps up: while False, :meth:`send_nowait` says False and
        :meth:`wait_writable` waits."""
        self._writable = writable
        self._notify()

    def open(self) -> None:
        """A connection built ``CONNECTING`` finishes its handshake."""
        if self._state is ConnState.CONNECTING:
            self._state = ConnState.OPEN
            self._notify()

    def peer_close(self, code: int = 1000, reason: str = "") -> None:
        """The peer closes the connection (1006: it dropped without a close frame)."""
        self._finish(code, reason, by_peer=True)

    @property
    def closed(self) -> bool:
        """The connection is closed."""
        return self._state is ConnState.CLOSED

    # -- internals -----------------------------------------------------------------------

    def _finish(self, code: int, reason: str, *, by_peer: bool) -> None:
        if self._state is ConnState.CLOSED:
            return
        self._state = ConnState.CLOSED
        self.close_code, self.close_reason, self.closed_by_peer = code, reason, by_peer
        self._notify()

    def _closed_error(self) -> ConnectionClosedError:
        if self._state is ConnState.CONNECTING:
            return ConnectionClosedError(1006, "not open yet")
        code = self.close_code if self.close_code is not None else 1006
        sent = None if self.closed_by_peer else code
        return ConnectionClosedError(code, self.close_reason, sent)

    async def _changed(self) -> None:
        event = asyncio.Event()
        self._events.append(event)
        try:
            await event.wait()
        finally:
            if event in self._events:
                self._events.remove(event)

    def _notify(self) -> None:
        events, self._events = self._events, []
        for event in events:
            event.set()

    def __repr__(self) -> str:
        return f"<FakeConnection {self._state.name.lower()} sent={len(self.sent)}>"

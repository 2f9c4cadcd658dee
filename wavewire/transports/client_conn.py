"""One WebSocket connection of a :class:`~wavewire.transports.client.WebSocketClient`, over
``picows``: the :class:`~wavewire.transports.connection.Connection` contract plus what
the client's reader needs.

``picows`` frames, masks and parses (in Cython) and calls a listener for each frame;
:class:`ClientConnection` is that listener. It keeps what ``picows`` leaves to its user:

* **messages**: fragmented messages are reassembled, text is checked to be UTF-8
  (close 1007 otherwise), a message over ``max_size`` closes with 1009; whole messages
  wait in an inbox for the reader (:meth:`~ClientConnection.recv`), and reading from the
  socket pauses while the reader is :data:`INBOX_HIGH` messages behind;
* **sending** per the contract: :meth:`~ClientConnection.send_nowait` writes at once or
  says ``False`` while the socket's write buffer is above its high-water mark
  (``picows`` reports it through ``pause_writing``/``resume_writing``);
* **closing**: a close the peer sends is answered and the socket closed;
  :meth:`~ClientConnection.close` sends a close and waits (at most ``close_timeout``)
  for the peer's answer; :meth:`~ClientConnection.ended` says how it ended.

It holds no task: the reader that drains the inbox is the client's, owned by the
client's owner.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from picows import WSCloseCode, WSListener, WSMsgType

from ..errors import ConnectionClosedError
from .connection import ConnectionStats, ConnState

if TYPE_CHECKING:
    from picows import WSFrame, WSTransport

    from ..serializers.base import Message

__all__ = ["ClientConnection", "INBOX_HIGH", "INBOX_LOW"]

INBOX_HIGH = 64
"""Messages waiting for the reader at which reading from the socket pauses."""
INBOX_LOW = 16
"""Messages waiting for the reader at which reading resumes."""

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
_OPEN = ConnState.OPEN
_NO_CODE = frozenset({0, 1005, 1006})


def _resolve(fut: asyncio.Future[None] | None) -> None:
    if fut is not None and not fut.done():
        fut.set_result(None)


class ClientConnection(WSListener):  # type: ignore[misc]
    """One client connection (module docstring); made by ``picows.ws_connect`` through
    :func:`~wavewire.transports.client_dial.dial`.

    :param max_size: the largest message accepted, bytes (``None``: no limit).
    :param close_timeout: how long :meth:`close` waits for the peer's close.
    """

    def __init__(self, max_size: int | None, close_timeout: float) -> None:
        super().__init__()
        self.max_size = max_size
        self.close_timeout = close_timeout
        self.stats = ConnectionStats()
        self.subprotocol: str | None = None
        """The subprotocol the server chose (``None``: none)."""
        self.failure: BaseException | None = None
        """What ``picows`` reported when it closed the connection itself (a broken frame,
        a frame over the limit), if anything."""
        self._state = ConnState.CONNECTING
        self._transport: WSTransport | None = None
        self._paused = False
        self._writable: asyncio.Future[None] | None = None
        self._inbox: deque[Message] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._parts: list[bytes] = []
        self._part_type = _BINARY
        self._part_size = 0
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- the contract ------------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life."""
        return self._state

    def send_nowait(self, message: Message) -> bool:
        """Write ``message`` now (``True``), or write nothing and say ``False`` while the
        socket's write buffer is above its high-water mark. Raises
        :class:`~wavewire.errors.ConnectionClosedError` when the connection is not open."""
        if self._state is not _OPEN:
            raise self._closed_error()
        if self._paused:
            return False
        stats = self.stats
        transport: WSTransport = self._transport  # type: ignore[assignment]  # set when OPEN
        if type(message) is bytes:
            transport.send(_BINARY, message)
            stats.bytes_out += len(message)
        elif isinstance(message, str):
            data = message.encode()
            transport.send(_TEXT, data)
            stats.bytes_out += len(data)
        else:  # another bytes-like object
            transport.send(_BINARY, message)
            stats.bytes_out += len(message)
        stats.messages_out += 1
        return True

    async def wait_writable(self) -> None:
        """Return once the write buffer drained below its low-water mark, or once the
        connection is no longer open."""
        if not self._paused or self._state is not _OPEN:
            return
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._writable)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close with ``code``/``reason`` and wait, at most ``close_timeout``, for
        the peer's close and the socket to go; then drop the socket if it has not."""
        transport = self._transport
        if transport is None:
            return
        if self._state is _OPEN:
            self._state = ConnState.CLOSING
            reason_bytes = reason.encode()[:123].decode(errors="ignore").encode()
            transport.send_close(WSCloseCode(code), reason_bytes)
        if not self._done.done():
            try:
                async with asyncio.timeout(self.close_timeout):
                    await asyncio.shield(self._done)
            except TimeoutError:
                pass
        self.abort()

    # -- for the client ------------------------------------------------------------------------

    async def recv(self) -> Message:
        """The next message; raises :class:`~wavewire.errors.ConnectionClosedError` once
        the connection has closed and every message received before was taken."""
        inbox = self._inbox
        while not inbox:
            if self._state is ConnState.CLOSED or self._done.done():
                raise self._closed_error()
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        message = inbox.popleft()
        if self._reading_paused and len(inbox) <= INBOX_LOW:
            self._reading_paused = False
            if self._transport is not None and not self._transport.is_disconnected:
                self._transport.underlying_transport.resume_reading()
        return message

    async def wait_closed(self) -> None:
        """Wait until the socket is gone (no deadline: the caller sets one)."""
        await asyncio.shield(self._done)

    def abort(self) -> None:
        """Drop the socket now, with no close handshake."""
        transport = self._transport
        if transport is not None and not transport.is_disconnected:
            transport.disconnect(graceful=False)
        if self._state is not ConnState.CLOSED:
            self._state = ConnState.CLOSING

    def ended(self) -> tuple[int, str, bool]:
        """``(code, reason, sent_by_us)`` of the close: the close frame that came first,
        or 1006 when the socket dropped without one."""
        handshake = self._transport.close_handshake if self._transport is not None else None
        if handshake is not None:
            recv, sent = handshake.recv, handshake.sent
            if recv is not None and (sent is None or handshake.recv_then_sent):
                code = int(recv.code.value)
                return (1005 if code == 0 else code), recv.reason, False
            if sent is not None:
                return int(sent.code.value), sent.reason, True
        return 1006, "", False

    def _closed_error(self) -> ConnectionClosedError:
        code, reason, by_us = self.ended()
        return ConnectionClosedError(code, reason, code if by_us else None)

    # -- picows' listener ------------------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._transport = transport
        self._state = _OPEN

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _BINARY or kind is _TEXT:
            if self._parts:
                self._fail(transport, 1002, "a new message inside a fragmented one")
            elif frame.fin:
                self._message(transport, kind, frame.get_payload_as_bytes())
            else:
                self._part_type = kind
                self._part_size = 0
                self._fragment(transport, frame)
        elif kind is _CONT:
            if not self._parts:
                self._fail(transport, 1002, "a continuation frame with no message")
            else:
                self._fragment(transport, frame)
        elif kind is _CLOSE:  # the peer closes: answer (with its code) and hang up
            if self._state is _OPEN:
                self._state = ConnState.CLOSING
            code = int(frame.get_close_code().value)
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode(1000 if code in _NO_CODE else code))
            transport.disconnect()

    def _fragment(self, transport: WSTransport, frame: WSFrame) -> None:
        part = frame.get_payload_as_bytes()
        self._part_size += len(part)
        if self.max_size is not None and self._part_size > self.max_size:
            self._parts.clear()
            self._fail(transport, 1009, "message too big")
            return
        self._parts.append(part)
        if frame.fin:
            data = b"".join(self._parts)
            self._parts.clear()
            self._message(transport, self._part_type, data)

    def _message(self, transport: WSTransport, kind: WSMsgType, data: bytes) -> None:
        if self.max_size is not None and len(data) > self.max_size:
            self._fail(transport, 1009, "message too big")
            return
        stats = self.stats
        stats.messages_in += 1
        stats.bytes_in += len(data)
        message: Message = data
        if kind is _TEXT:
            try:
                message = data.decode()
            except UnicodeDecodeError:
                self._fail(transport, 1007, "invalid UTF-8 in a text message")
                return
        inbox = self._inbox
        inbox.append(message)
        _resolve(self._waiter)
        if len(inbox) >= INBOX_HIGH and not self._reading_paused:
            self._reading_paused = True
            transport.underlying_transport.pause_reading()

    def _fail(self, transport: WSTransport, code: int, reason: str) -> None:
        """The peer broke the protocol: close with ``code`` and hang up."""
        if self._state is _OPEN:
            self._state = ConnState.CLOSING
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._state = ConnState.CLOSED
        self._paused = False
        _resolve(self._writable)
        _resolve(self._waiter)
        _resolve(self._done)
        asyncio.get_running_loop().call_soon(self._collect, transport)

    def _collect(self, transport: WSTransport) -> None:
        """Take the exception ``picows`` keeps when it closed the connection itself
        (nobody else awaits it: unread, asyncio would report it as lost)."""
        waiting = transport.wait_disconnected()
        try:
            waiting.send(None)
        except StopIteration:
            pass
        except Exception as exc:  # what made picows close
            self.failure = exc
        else:  # not finished yet: cannot happen after on_ws_disconnected
            waiting.close()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        _resolve(self._writable)

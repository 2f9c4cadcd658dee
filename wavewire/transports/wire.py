"""The server side of a WebSocket connection: an asyncio driver for the sans-I/O protocol.

:class:`ServerConnection` is the asyncio protocol the server's listener creates per
accepted socket. It owns what needs the event loop -- the transport, deadlines, the
keepalive timer, flow control, the task that consumes messages -- and leaves the
WebSocket itself to :class:`~wavewire.transports.ws.protocol.WebSocketProtocol` (framing,
the rules and their close codes, the closing handshake, the state table) and
:mod:`~wavewire.transports.ws.handshake`.

Why not ``websockets``' server: on the per-frame path of a voice session its layers (a
reader task per connection feeding an assembler, a generator-based frame parser, an async
context manager around every send, a keepalive task) cost about three times what a voice
session itself does. Here a frame is parsed in ``buffer_updated`` straight from a read
buffer shared by the server's connections, a send is one ``transport.write``, and
keepalive, handshake and close deadlines are event-loop timers, not tasks.

The handshake is split between this module and the server: the connection reads the
request head (:func:`.http.parse_request`) and hands it to the server's ``on_request``
callback, which answers with :meth:`~ServerConnection.reject` (an HTTP response) or
:meth:`~ServerConnection.accept` (after :func:`upgrade_error` found the request a valid
upgrade).

Delivery: :meth:`ServerConnection.consume` runs a handler for every message, in order, in
the task that calls it. A message that arrives while that task is idle is handled right
away inside the read callback, *as* that task (see :mod:`.inbox`). Flow control: when
more than ``max_queue`` messages wait unread, reading from the socket pauses (TCP pushes
back on the peer) until half of them are taken. When the transport's write buffer is
above its high-water mark, :meth:`~ServerConnection.send_nowait` says so and
:meth:`~ServerConnection.send` waits for it to drain.

:class:`ServerConnection` is a :class:`~wavewire.transports.connection.Connection`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..errors import ConnectionClosedError
from . import connection
from .connection import ConnectionStats, ConnState
from .http import Request, Response
from .inbox import Inbox
from .ws.handshake import accept_key, upgrade_error
from .ws.protocol import WebSocketProtocol

__all__ = ["ServerConnection", "ConnectionClosed", "upgrade_error", "accept_key", "bound_port"]

def bound_port(listener: asyncio.Server | None, default: int) -> int:
    """The TCP port ``listener`` is bound to (what ``port=0`` picked), or ``default``
    while it is not listening."""
    if listener is not None:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return default


ConnectionClosed = ConnectionClosedError
"""The name this module's callers use for :class:`~wavewire.errors.ConnectionClosedError`."""

CONNECTING, OPEN, CLOSING, CLOSED = (ConnState.CONNECTING, ConnState.OPEN, ConnState.CLOSING,
                                     ConnState.CLOSED)

MAX_EARLY = 1 << 16
"""Bytes sent after the head and before the server answers; more pause reading."""


class ServerConnection(Inbox, asyncio.BufferedProtocol):
    """One server-side connection: HTTP request head, then WebSocket messages.

    :param on_request: called once with ``(connection, request)`` when the request head
        has arrived; it must end with :meth:`accept` or :meth:`reject`.
    :param connections: a set the connection is in from ``connection_made`` until
        ``connection_lost`` (the server's view of its open connections).
    :param open_timeout: deadline for the request head and the server's answer.
    :param close_timeout: deadline for the peer's close frame after ours.
    :param ping_interval: seconds between keepalive pings (``None``: none).
    :param ping_timeout: seconds to wait for the pong before failing with 1011.
    :param max_queue: received messages held unread before reading pauses.
    :param read_buffer: where the transport reads into (shared by a server's connections:
        the bytes are copied out at once). Reading into a preallocated buffer saves the
        three memory-mapping system calls that a fresh 256 KiB ``recv`` buffer costs per
        read.
    """

    def __init__(
        self,
        on_request: Callable[[ServerConnection, Request], None],
        connections: set[ServerConnection] | None = None,
        *,
        open_timeout: float | None = 10.0,
        close_timeout: float = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_queue: int = 64,
        read_buffer: memoryview | None = None,
    ) -> None:
        self._on_request = on_request
        self._connections = connections
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.subprotocol: str | None = None
        self.remote_address: Any = None
        self.transport: asyncio.Transport | None = None
        self.paused = False
        """The transport's write buffer is above its high-water mark."""
        # (Every attribute counts: past 30, CPython 3.11 gives the instance a plain dict
        # and each attribute read on the per-frame path gets slower.)
        self._ws = WebSocketProtocol(
            on_message=self._deliver, write=self._write, on_end=self._ended,
            on_request=self._request_arrived,
            read_buffer=read_buffer if read_buffer is not None else memoryview(bytearray(16384)),
        )
        self._init_inbox(asyncio.get_running_loop(), max_queue)
        self._drain: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._timer: asyncio.TimerHandle | None = None  # handshake / close deadline
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None

    # -- the Connection contract -------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        """Where the connection is in its life."""
        return self._ws.state

    @property
    def stats(self) -> ConnectionStats:
        """What went over the connection (messages and payload bytes each way)."""
        return self._ws.stats

    def send_nowait(self, message: bytes | str) -> bool:
        """Sends ``message`` at once unless the write buffer is full (False: await
        :meth:`send`). :class:`ConnectionClosed` if the connection is not open."""
        if self.paused:
            if self._ws.state is not OPEN:
                raise self._ws.closed_error()
            return False
        data = self._ws.encode(message)  # raises if not open
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)
        return True

    async def wait_writable(self) -> None:
        """Returns once the write buffer has drained below its low-water mark, or the
        connection is no longer open."""
        while self.paused and self._ws.state is OPEN:
            drain = self._drain = self._loop.create_future()
            try:
                await drain
            finally:
                self._drain = None

    async def send(self, message: bytes | str) -> None:
        """Sends ``message``, first waiting for the write buffer to drain if it is full
        (:func:`wavewire.transports.connection.send`)."""
        await connection.send(self, message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake (if open) and waits until the connection has
        closed: at most ``close_timeout`` for the peer's answer, then it is cut."""
        ws = self._ws
        transport = self.transport
        if ws.state is OPEN:
            ws.close(code, reason)
            self._end_input()
            self._cancel_timer()
            self._timer = self._loop.call_later(self.close_timeout, self._abort)
        elif ws.state is CONNECTING and transport is not None:
            ws.reject()
        if ws.state is not CLOSED:
            try:
                await asyncio.wait_for(asyncio.shield(self._closed), self.close_timeout + 1.0)
            except TimeoutError:
                if transport is not None:
                    transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        self.remote_address = transport.get_extra_info("peername")
        if self._connections is not None:
            self._connections.add(self)
        if self.open_timeout is not None:
            self._timer = self._loop.call_later(self.open_timeout, self._open_expired)

    def data_received(self, data: bytes) -> None:
        if self._ws.state is CONNECTING:
            self._handshake_data(data)
        else:
            self._ws.receive_data(data)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._ws.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        ws = self._ws
        if ws.state is not CONNECTING:
            ws.receive_into(nbytes)
        else:
            self._handshake_data(bytes(ws.read_buffer[:nbytes]))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._ws.connection_lost()
        self._eof = True
        for timer in (self._timer, self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._ping_timer = self._pong_timer = None
        for fut in (self._waiter, self._drain):
            if fut is not None and not fut.done():
                fut.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)
        if self._connections is not None:
            self._connections.discard(self)

    # -- what the protocol asks for ----------------------------------------------------------

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _ended(self) -> None:
        """The protocol is done (close frame answered, a failure, a refusal): no more
        messages, and the server closes TCP first."""
        self._end_input()
        if self.transport is not None:
            self.transport.close()

    def _closed_error(self) -> ConnectionClosedError:
        return self._ws.closed_error()

    def _pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._ws.state is OPEN and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    # -- handshake -----------------------------------------------------------------------------

    def _handshake_data(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)  # the request head; then frames, held until accept()
        if ws.request is not None and ws.state is CONNECTING and ws.buffered > MAX_EARLY:
            self._reading_paused = True
            self._pause_reading()

    def _request_arrived(self, request: Request) -> None:
        self._on_request(self, request)

    @property
    def request(self) -> Request | None:
        """The request head, once it has arrived."""
        return self._ws.request

    def _open_expired(self) -> None:
        self._timer = None
        if self._ws.state is CONNECTING and self.transport is not None:
            self.transport.abort()

    def reject(self, response: Response) -> None:
        """Answers the request with ``response`` and closes the connection."""
        if self._ws.state is not CONNECTING or self.transport is None:
            return
        self._cancel_timer()
        self._ws.reject(response.serialize())

    def accept(
        self,
        subprotocol: str | None = None,
        *,
        max_size: int | None = 1 << 20,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Completes the opening handshake (101) and starts delivering messages."""
        ws = self._ws
        request = ws.request
        transport = self.transport
        if ws.state is not CONNECTING or request is None or transport is None:
            raise ws.closed_error()
        self._cancel_timer()
        self.subprotocol = subprotocol
        ws.max_size = max_size
        if self.ping_interval:
            self._ping_timer = self._loop.call_later(self.ping_interval, self._ping)
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        ws.accept(request.headers["Sec-WebSocket-Key"], subprotocol, headers or ())

    @property
    def max_size(self) -> int | None:
        """Largest message accepted (bytes); larger ones fail the connection with 1009."""
        return self._ws.max_size

    @max_size.setter
    def max_size(self, value: int | None) -> None:
        self._ws.max_size = value

    # -- keepalive -------------------------------------------------------------------------------

    def _ping(self) -> None:
        self._ping_timer = None
        ws = self._ws
        if ws.state is not OPEN:
            return
        if ws.ping_payload is None:  # the last one was answered
            payload = ws.ping()
            if self.ping_timeout:
                self._pong_timer = self._loop.call_later(self.ping_timeout, self._pong_missing,
                                                         payload)
        if self.ping_interval:
            self._ping_timer = self._loop.call_later(self.ping_interval, self._ping)

    def _pong_missing(self, payload: bytes) -> None:
        self._pong_timer = None
        ws = self._ws
        if ws.state is OPEN and ws.ping_payload == payload:
            ws.fail(1011, "keepalive ping timeout")

    # -- closing -------------------------------------------------------------------------------

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _abort(self) -> None:
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Returns once the connection has closed."""
        await asyncio.shield(self._closed)

    @property
    def rcvd_code(self) -> int | None:
        """The close code received (1005: a close frame without one; 1006: none came)."""
        return self._ws.rcvd_code

    @property
    def rcvd_reason(self) -> str:
        """The close reason received."""
        return self._ws.rcvd_reason

    @property
    def sent_code(self) -> int | None:
        """The close code this side sent, if any."""
        return self._ws.sent_code

    @property
    def close_code(self) -> int | None:
        """The close code received from the peer (1006 if it dropped), ``None`` while
        the connection is not closed."""
        return self._ws.rcvd_code

    @property
    def closed(self) -> bool:
        """The TCP connection is gone."""
        return self._ws.state is CLOSED

    def __repr__(self) -> str:
        return f"<ServerConnection {self._ws.state.name.lower()}>"

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
away inside the read callback, *as* that task (see :mod:`.inline`). Flow control: when
more than ``max_queue`` messages wait unread, reading from the socket pauses (TCP pushes
back on the peer) until half of them are taken. When the transport's write buffer is
above its high-water mark, :meth:`~ServerConnection.send_nowait` says so and
:meth:`~ServerConnection.send` waits for it to drain.

:class:`ServerConnection` is a :class:`~wavewire.transports.connection.Connection`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from ..errors import ConnectionClosedError
from . import connection
from .connection import ConnectionStats, ConnState
from .http import HTTPError, Request, Response, parse_request, text_response
from .inline import DONE, Handler, enter_task, finish, leave_task, pump, reraise
from .ws.handshake import accept_key, find_head_end, upgrade_error
from .ws.protocol import WebSocketProtocol

__all__ = ["ServerConnection", "ConnectionClosed", "upgrade_error", "accept_key"]

ConnectionClosed = ConnectionClosedError
"""The name this module's callers use for :class:`~wavewire.errors.ConnectionClosedError`."""

CONNECTING, OPEN, CLOSING, CLOSED = (ConnState.CONNECTING, ConnState.OPEN, ConnState.CLOSING,
                                     ConnState.CLOSED)

MAX_HEAD = 16384
"""Largest request head accepted, bytes (larger: 431)."""
MAX_EARLY = 1 << 16
"""Bytes sent after the head and before the server answers; more pause reading."""


class ServerConnection(asyncio.BufferedProtocol):
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
        self.max_queue = max(2, max_queue)
        self.request: Request | None = None
        self.subprotocol: str | None = None
        self.remote_address: Any = None
        self.transport: asyncio.Transport | None = None
        self.paused = False
        """The transport's write buffer is above its high-water mark."""
        self._rbuf = read_buffer if read_buffer is not None else memoryview(bytearray(16384))
        self._ws = WebSocketProtocol(on_message=self._deliver, write=self._write,
                                     on_end=self._ended, read_buffer=self._rbuf)
        self._stats = ConnectionStats()
        self._loop = asyncio.get_running_loop()
        self._head = bytearray()
        self._inbox: deque[bytes | str] = deque()
        self._reading_paused = False
        self._waiter: asyncio.Future[Any] | None = None
        self._handler: Handler | None = None
        self._handler_task: asyncio.Task[Any] | None = None
        self._handler_context: contextvars.Context | None = None
        self._pump: Generator[Any, Any, None] | None = None  # runs the handler inline
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
        ws, stats = self._ws, self._stats
        stats.messages_in, stats.bytes_in = ws.messages_in, ws.bytes_in
        stats.messages_out, stats.bytes_out = ws.messages_out, ws.bytes_out
        return stats

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
            self._wake_reader()
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
            self._head_data(data)
        else:
            self._ws.receive_data(data)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rbuf

    def buffer_updated(self, nbytes: int) -> None:
        ws = self._ws
        if ws.state is not CONNECTING:
            ws.receive_into(nbytes)
        else:
            self._head_data(bytes(self._rbuf[:nbytes]))

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
        self._wake_reader()
        if self.transport is not None:
            self.transport.close()

    # -- handshake -----------------------------------------------------------------------------

    def _head_data(self, data: bytes) -> None:
        if self.request is not None:  # waiting for the server's answer: frames are held
            self._ws.receive_data(data)
            if self._ws.buffered > MAX_EARLY and self.transport is not None:
                self.transport.pause_reading()
                self._reading_paused = True
            return
        head = self._head
        start = max(0, len(head) - 3)
        head += data
        found = find_head_end(head, start)  # CRLF CRLF, or bare LFs (RFC 9112 §2.2)
        if found is None:
            if len(head) > MAX_HEAD:
                self.reject(text_response(431, "request head too large\n"))
            return
        end, after = found
        rest = bytes(head[after:])
        raw = bytes(head[:end])
        self._head = bytearray()
        try:
            request = parse_request(raw)
        except HTTPError as exc:
            self.reject(text_response(exc.status, f"{exc}\n"))
            return
        self.request = request
        if rest:
            self._ws.receive_data(rest)  # held until accept()
        self._on_request(self, request)

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
        request = self.request
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

    # -- receiving ------------------------------------------------------------------------------

    def _deliver(self, message: bytes | str) -> None:
        inbox = self._inbox
        waiter = self._waiter
        context = self._handler_context
        if context is not None and not inbox and waiter is not None and not waiter.done():
            # The consuming task is idle: handle the message here, as that task.
            task = self._handler_task
            handling = self._pump
            if handling is None:
                assert self._handler is not None
                handling = self._pump = pump(self._handler)
                handling.send(None)  # to its first yield: no handler code runs yet
            assert task is not None
            try:
                enter_task(self._loop, task)
            except RuntimeError:  # called from inside a running task: queue it instead
                pass
            else:
                # While the handler runs here, this call is the consuming task: nothing
                # else may complete its waiter (the handler closing the connection would).
                self._waiter = None
                try:
                    yielded = context.run(handling.send, message)
                except BaseException as exc:  # the task raises it where it waits
                    self._pump = None
                    waiter.set_result(reraise(exc))
                    return
                finally:
                    leave_task(self._loop, task)
                if yielded is not DONE:  # it suspended
                    waiter.set_result(finish(handling, yielded, self._forget_pump))
                    return
                self._waiter = waiter  # done: the task waits for the next message again
                if self._ws.state is not OPEN:
                    waiter.set_result(None)  # ... or finds there will be none
                return
        inbox.append(message)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(inbox) >= self.max_queue and not self._reading_paused:
            self._reading_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    def _forget_pump(self, handling: Generator[Any, Any, None]) -> None:
        if self._pump is handling:
            self._pump = None

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> bytes | str:
        """The next message (``bytes`` or ``str``); :class:`ConnectionClosed` when there is
        none and none will come. (Not while :meth:`consume` runs.)"""
        inbox = self._inbox
        while not inbox:
            if self._ws.state > OPEN:
                raise self._ws.closed_error()
            waiter = self._waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        message = inbox.popleft()
        if self._reading_paused and len(inbox) <= self.max_queue >> 1:
            self._resume_reading()
        return message

    async def consume(self, handler: Handler, context: contextvars.Context | None = None) -> None:
        """Runs ``await handler(message)`` for every message, in order, until the
        connection closes (then raises :class:`ConnectionClosed`; a handler's exception
        propagates). Messages that arrive while the handler is idle run inline (see
        :mod:`.inline`) when ``context`` is the calling task's context -- create the task
        with ``context=`` to allow it (on Python 3.12+ the task's own context is used)."""
        task = asyncio.current_task()
        if context is None and task is not None and hasattr(task, "get_context"):
            context = task.get_context()
        self._handler = handler
        self._handler_task = task
        if enter_task is not None and task is not None:
            self._handler_context = context
        inbox = self._inbox
        ws = self._ws
        try:
            while True:
                while not inbox:
                    if ws.state > OPEN:
                        raise ws.closed_error()
                    waiter = self._waiter = self._loop.create_future()
                    try:
                        handoff = await waiter
                    except BaseException:
                        if waiter.done() and not waiter.cancelled() and waiter.result():
                            waiter.result().close()  # cancelled before taking it over
                        raise
                    finally:
                        self._waiter = None
                    if handoff is not None:
                        await handoff  # an inline call suspended (or raised): finish it
                message = inbox.popleft()
                if self._reading_paused and len(inbox) <= self.max_queue >> 1:
                    self._resume_reading()
                await handler(message)
        finally:
            self._handler = self._handler_task = self._handler_context = None
            self._pump = None

    def _resume_reading(self) -> None:
        if self._ws.state is OPEN and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    def __aiter__(self) -> ServerConnection:
        return self

    async def __anext__(self) -> bytes | str:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    @property
    def pending(self) -> int:
        """Messages received and not taken yet."""
        return len(self._inbox)

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

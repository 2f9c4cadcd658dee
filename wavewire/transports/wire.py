"""The server side of a WebSocket connection (RFC 6455), as an asyncio protocol.

Why not ``websockets``' server: on the per-frame path of a voice session its layers
(a reader task per connection feeding an assembler, a generator-based frame parser, an
async context manager around every send, a keepalive task) cost about three times what
a voice session itself does. Here a frame is parsed in ``data_received`` with plain
byte arithmetic and lands in a deque; the one task that serves the connection takes it
with :meth:`ServerConnection.recv`, which only suspends when the deque is empty; a send
is one ``transport.write``. Keepalive, handshake and close deadlines are event-loop
timers, not tasks. ``websockets`` is still the client library (and the peer in tests).

The handshake is split between this module and the server: the connection parses the
request head (:func:`.http.parse_request`) and hands it to the server's ``on_request``
callback, which answers with :meth:`~ServerConnection.reject` (an HTTP response) or
:meth:`~ServerConnection.accept` (after :func:`upgrade_error` found the request a valid
upgrade). No extension is negotiated (PCM barely compresses).

Protocol rules enforced, each failing the connection with its close code:

* client frames must be masked, reserved bits clear, opcodes known (1002);
* control frames at most 125 bytes and not fragmented; continuation frames only inside a
  fragmented message (1002);
* a message larger than the connection's ``max_size`` (1009), checked from the frame
  header before its payload is buffered;
* text (and close reasons) must be valid UTF-8 (1007); close codes must be valid (1002).

Delivery: :meth:`ServerConnection.consume` runs a handler for every message, in order, in
the task that calls it. A message that arrives while that task is idle is handled right
away inside ``data_received``, *as* that task (it is made the current task, and the
handler runs in the task's context, so ``asyncio.current_task()``, ``asyncio.timeout()``
and context variables behave as they would in the task): when the handler finishes
without suspending -- the usual case for a voice frame -- the message cost neither a
future nor a task switch nor an extra event-loop turn. If the handler suspends, the
suspended coroutine is handed to the task, which finishes it before taking the next
message, so order is kept.

Flow control: when more than ``max_queue`` messages wait unread, reading from the socket
pauses (TCP pushes back on the peer) until half of them are taken. When the transport's
write buffer is above its high-water mark, :meth:`~ServerConnection.send_nowait` says so
and :meth:`~ServerConnection.send` waits for it to drain.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import struct
import sys
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from ..errors import ConnectionClosedError
from .http import HTTPError, Request, Response, parse_request, text_response

__all__ = ["ServerConnection", "ConnectionClosed", "upgrade_error", "accept_key"]

_HEAD_END = re.compile(rb"\r?\n\r?\n")
"""The empty line that ends a request head: CRLF CRLF, or LF line endings, which
RFC 9112 lets a server accept (answering them at once instead of at the timeout)."""

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_H16 = struct.Struct("!BBH")
_H64 = struct.Struct("!BBQ")
_CLOSE = struct.Struct("!H")

CONNECTING, OPEN, CLOSING, CLOSED = range(4)

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

# Codes a peer may send in a close frame (RFC 6455 §7.4, IANA registry).
_VALID_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                          1014))


ConnectionClosed = ConnectionClosedError
"""The name this module's callers use for :class:`~wavewire.errors.ConnectionClosedError`."""


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode()


def _tokens(values: list[str]) -> list[str]:
    return [t.strip().lower() for v in values for t in v.split(",") if t.strip()]


def upgrade_error(request: Request) -> Response | None:
    """Why ``request`` is not a valid WebSocket opening handshake, as the response to
    send (426 for a plain request, 400 for a malformed upgrade), or ``None``."""
    headers = request.headers
    if request.method != "GET":
        return text_response(405, "method not allowed\n")
    if "websocket" not in _tokens(headers.get_all("Upgrade")) or "upgrade" not in _tokens(
        headers.get_all("Connection")
    ):
        response = text_response(426, "this route speaks WebSocket\n")
        response.headers["Upgrade"] = "websocket"
        return response
    if headers.get("Sec-WebSocket-Version") != "13":
        response = text_response(426, "unsupported WebSocket version\n")
        response.headers["Sec-WebSocket-Version"] = "13"
        return response
    keys = headers.get_all("Sec-WebSocket-Key")
    try:
        ok = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        return text_response(400, "bad Sec-WebSocket-Key\n")
    return None


def _load_apply_mask() -> Callable[[Any, Any], bytes] | None:
    """``websockets``' C ``apply_mask`` (SIMD XOR), loaded from its extension file
    without running the ``websockets`` package's ``__init__`` (which costs ~20 ms of
    imports). None when it is not there (a pure-Python install): numpy is used then."""
    module = sys.modules.get("websockets.speedups")
    if module is None:
        try:
            spec = importlib.util.find_spec("websockets")
        except (ImportError, ValueError):
            return None
        folders = (spec.submodule_search_locations or []) if spec is not None else []
        for folder in folders:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(folder, "speedups" + suffix)
                if os.path.exists(path):
                    loader = importlib.machinery.ExtensionFileLoader("websockets.speedups", path)
                    module = importlib.util.module_from_spec(
                        importlib.util.spec_from_loader(loader.name, loader)  # type: ignore[arg-type]
                    )
                    loader.exec_module(module)
                    break
            if module is not None:
                break
    return getattr(module, "apply_mask", None)


_apply_mask = _load_apply_mask()
_NUMPY_FROM = 128  # without the C apply_mask: payloads this long are unmasked with numpy


def _py_unmask(payload: bytes | memoryview, mask: bytes | memoryview) -> bytes:
    """``payload`` XOR the repeated 4-byte ``mask`` (without the C ``apply_mask``)."""
    n = len(payload)
    if not n:
        return b""
    mask = bytes(mask)
    if n >= _NUMPY_FROM:
        np = _numpy()
        return (np.frombuffer(payload, np.uint8, n)  # type: ignore[no-any-return]
                ^ np.frombuffer(mask * ((n >> 2) + 1), np.uint8, n)).tobytes()
    key = int.from_bytes(mask * ((n >> 2) + 1), "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(n + 4, "little")[:n]


_unmask: Callable[[Any, Any], bytes] = _apply_mask or _py_unmask
"""``_unmask(payload, mask)``: the payload (bytes or a memoryview slice) unmasked."""


_np: Any = None


def _numpy() -> Any:
    global _np
    if _np is None:
        import numpy

        _np = numpy
    return _np


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return _H16.pack(0x80 | opcode, 126, n) + payload
    return _H64.pack(0x80 | opcode, 127, n) + payload


try:  # what asyncio's eager tasks use to make a task current while running it inline
    from asyncio.tasks import _enter_task, _leave_task
except ImportError:  # pragma: no cover - every CPython 3.11-3.14 has them
    _enter_task = _leave_task = None  # type: ignore[assignment]

Handler = Callable[[bytes | str], Coroutine[Any, Any, None]]


_DONE = object()  # what a pump yields when it has finished a message


@types.coroutine
def _pump(handler: Handler) -> Generator[Any, Any, None]:
    """Runs ``await handler(message)`` for each message sent in, yielding ``_DONE``
    after each. Handling a message inline is then one ``send`` that returns ``_DONE``:
    no coroutine returns, so no ``StopIteration`` is raised per message. A handler's
    exception ends the pump (its owner starts a new one)."""
    message = yield _DONE
    while True:
        yield from handler(message)
        message = yield _DONE


@types.coroutine
def _finish(conn: ServerConnection, pump: Generator[Any, Any, None],
            yielded: Any) -> Generator[Any, Any, None]:
    """Finish the message ``pump`` is handling, which suspended (yielding ``yielded``)
    while run inline: the consuming task awaits this and so takes over from that point,
    in its own context (the one the inline steps ran in), until the pump is done."""
    while yielded is not _DONE:
        try:
            try:
                sent = yield yielded
            except BaseException as exc:  # cancellation and other throws go to the handler
                yielded = pump.throw(exc)
            else:
                yielded = pump.send(sent)
        except BaseException:
            if conn._pump is pump:
                conn._pump = None
            raise


async def _reraise(exc: BaseException) -> None:
    raise exc


class _Failure(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


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
        self.max_size: int | None = 1 << 20
        """Largest message accepted (bytes); larger ones fail the connection with 1009."""
        self.state = CONNECTING
        self.request: Request | None = None
        self.subprotocol: str | None = None
        self.remote_address: Any = None
        self.transport: asyncio.Transport | None = None
        self.rcvd_code: int | None = None
        self.rcvd_reason = ""
        self.sent_code: int | None = None
        self.paused = False
        """The transport's write buffer is above its high-water mark."""
        self._loop = asyncio.get_running_loop()
        self._rbuf = read_buffer if read_buffer is not None else memoryview(bytearray(16384))
        self._head = bytearray()
        self._rest = b""
        self._frag_op = 0
        self._frags: list[bytes] = []
        self._frag_size = 0
        self._inbox: deque[bytes | str] = deque()
        self._eof = False
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
        self._ping_payload: bytes | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not subclasses
        self.remote_address = transport.get_extra_info("peername")
        if self._connections is not None:
            self._connections.add(self)
        if self.open_timeout is not None:
            self._timer = self._loop.call_later(self.open_timeout, self._open_expired)

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == OPEN or state == CLOSING:
            self._frames(data)
        elif state == CONNECTING:
            self._head_data(data)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._rbuf

    def buffer_updated(self, nbytes: int) -> None:
        if self.state == OPEN and not self._rest:
            # Frames are parsed straight from the (shared) read buffer; what outlives
            # this call (payloads, an incomplete tail) is copied out.
            buf = self._rbuf
            if nbytes > 8 and buf[0] == 0x82 and buf[1] == 0xFE and not self._frag_op:
                # The usual read: exactly one whole, masked, unfragmented binary frame of
                # 126..65535 bytes (a 20 ms audio message). Same checks as _frames.
                length = (buf[2] << 8) | buf[3]
                limit = self.max_size
                if length + 8 == nbytes and (limit is None or length <= limit):
                    self._deliver(_unmask(buf[8:nbytes], buf[4:8]))
                    return
                self._audio_frames(buf, nbytes)  # several, when the loop fell behind
                return
            self._frames(buf[:nbytes])
        else:
            self.data_received(bytes(self._rbuf[:nbytes]))

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
        self.state = CLOSED
        self._eof = True
        if self.rcvd_code is None:
            self.rcvd_code = 1006
        for timer in (self._timer, self._ping_timer, self._pong_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._ping_timer = self._pong_timer = None
        for fut in (self._waiter, self._drain):
            if fut is not None and not fut.done():
                fut.set_result(None)
        self._frags = []
        self._rest = b""
        if not self._closed.done():
            self._closed.set_result(None)
        if self._connections is not None:
            self._connections.discard(self)

    # -- handshake -----------------------------------------------------------------------------

    def _head_data(self, data: bytes) -> None:
        if self.request is not None:  # waiting for the server's answer: hold frames
            self._rest += data
            if len(self._rest) > 1 << 16 and self.transport is not None:
                self.transport.pause_reading()
                self._reading_paused = True
            return
        head = self._head
        start = max(0, len(head) - 3)
        head += data
        found = _HEAD_END.search(head, start)  # CRLF CRLF, or bare LFs (RFC 9112 §2.2)
        if found is None:
            if len(head) > 16384:
                self.reject(text_response(431, "request head too large\n"))
            return
        self._rest = bytes(head[found.end():])
        raw = bytes(head[:found.start()])
        self._head = bytearray()
        try:
            request = parse_request(raw)
        except HTTPError as exc:
            self.reject(text_response(exc.status, f"{exc}\n"))
            return
        self.request = request
        self._on_request(self, request)

    def _open_expired(self) -> None:
        self._timer = None
        if self.state == CONNECTING and self.transport is not None:
            self.transport.abort()

    def reject(self, response: Response) -> None:
        """Answers the request with ``response`` and closes the connection."""
        if self.state != CONNECTING or self.transport is None:
            return
        self.state = CLOSING
        self._cancel_timer()
        self.transport.write(response.serialize())
        self.transport.close()

    def accept(
        self,
        subprotocol: str | None = None,
        *,
        max_size: int | None = 1 << 20,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Completes the opening handshake (101) and starts delivering messages."""
        request = self.request
        transport = self.transport
        if self.state != CONNECTING or request is None or transport is None:
            raise ConnectionClosed(self.rcvd_code or 1006)
        self._cancel_timer()
        key = request.headers["Sec-WebSocket-Key"]
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {accept_key(key)}",
        ]
        if subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        lines.extend(f"{k}: {v}" for k, v in headers or ())
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.subprotocol = subprotocol
        self.max_size = max_size
        self.state = OPEN
        if self.ping_interval:
            self._ping_timer = self._loop.call_later(self.ping_interval, self._ping)
        if self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()
        rest, self._rest = self._rest, b""
        if rest:
            self._frames(rest)

    # -- receiving ------------------------------------------------------------------------------

    def _audio_frames(self, buf: memoryview, nbytes: int) -> None:
        """``buffer_updated``'s loop over a read that starts with whole audio frames
        (masked, unfragmented binary, 126..65535 bytes): each is delivered straight from
        the read buffer; ``_frames`` takes over at anything else (with the same checks)."""
        pos = 0
        limit = self.max_size
        while nbytes - pos > 8 and buf[pos] == 0x82 and buf[pos + 1] == 0xFE:
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            end = pos + 8 + length
            if end > nbytes or (limit is not None and length > limit):
                break
            self._deliver(_unmask(buf[pos + 8:end], buf[pos + 4:pos + 8]))
            pos = end
            if pos == nbytes:
                return
            if self.state != OPEN:  # the handler closed it: _frames knows what to keep
                break
        self._frames(buf[pos:nbytes])

    def _frames(self, data: bytes | memoryview) -> None:
        if self._rest:
            data = self._rest + data
            self._rest = b""
        n = len(data)
        pos = 0
        try:
            while n - pos >= 2:
                b0 = data[pos]
                b1 = data[pos + 1]
                length = b1 & 0x7F
                h = pos + 2
                if length == 126:
                    if n - h < 2:
                        break
                    length = (data[h] << 8) | data[h + 1]
                    h += 2
                elif length == 127:
                    if n - h < 8:
                        break
                    length = int.from_bytes(data[h:h + 8], "big")
                    h += 8
                    if length >> 63:
                        raise _Failure(1002, "bad frame length")
                if not b1 & 0x80:
                    raise _Failure(1002, "client frames must be masked")
                if b0 & 0x70:
                    raise _Failure(1002, "reserved bits set")
                opcode = b0 & 0x0F
                fin = b0 & 0x80
                if opcode >= 8:
                    if length > 125 or not fin:
                        raise _Failure(1002, "bad control frame")
                else:
                    limit = self.max_size
                    if limit is not None and self._frag_size + length > limit:
                        raise _Failure(1009, f"message over {limit} bytes")
                end = h + 4 + length
                if end > n:
                    break
                payload = _unmask(data[h + 4:h + 4 + length], data[h:h + 4])
                pos = end
                if self.state != OPEN and opcode != OP_CLOSE:
                    continue  # closing: only the peer's close frame matters now
                if opcode == OP_BINARY or opcode == OP_TEXT:
                    if self._frag_op:
                        raise _Failure(1002, "expected a continuation frame")
                    if fin:
                        self._deliver(payload if opcode == OP_BINARY else _text(payload))
                    else:
                        self._frag_op = opcode
                        self._frags = [payload]
                        self._frag_size = length
                elif opcode == OP_CONT:
                    if not self._frag_op:
                        raise _Failure(1002, "continuation without a message")
                    self._frags.append(payload)
                    self._frag_size += length
                    if fin:
                        whole = b"".join(self._frags)
                        op = self._frag_op
                        self._frag_op = 0
                        self._frags = []
                        self._frag_size = 0
                        self._deliver(whole if op == OP_BINARY else _text(whole))
                elif opcode == OP_CLOSE:
                    self._close_received(payload)
                    return
                elif opcode == OP_PING:
                    self._write(OP_PONG, payload)
                elif opcode == OP_PONG:
                    if payload == self._ping_payload:
                        self._ping_payload = None
                        if self._pong_timer is not None:
                            self._pong_timer.cancel()
                            self._pong_timer = None
                else:
                    raise _Failure(1002, f"unknown opcode {opcode}")
        except _Failure as failure:
            self._fail(failure.code, failure.reason)
            return
        if pos < n:
            self._rest = bytes(data[pos:])

    def _deliver(self, message: bytes | str) -> None:
        inbox = self._inbox
        waiter = self._waiter
        context = self._handler_context
        if context is not None and not inbox and waiter is not None and not waiter.done():
            # The consuming task is idle: handle the message here, as that task.
            task = self._handler_task
            pump = self._pump
            if pump is None:
                assert self._handler is not None
                pump = self._pump = _pump(self._handler)
                pump.send(None)  # to its first yield: no handler code runs yet
            assert task is not None
            try:
                _enter_task(self._loop, task)
            except RuntimeError:  # called from inside a running task: queue it instead
                pass
            else:
                # While the handler runs here, this call is the consuming task: nothing
                # else may complete its waiter (the handler closing the connection would).
                self._waiter = None
                try:
                    yielded = context.run(pump.send, message)
                except BaseException as exc:  # the task raises it where it waits
                    self._pump = None
                    waiter.set_result(_reraise(exc))
                    return
                finally:
                    _leave_task(self._loop, task)
                if yielded is not _DONE:  # it suspended
                    waiter.set_result(_finish(self, pump, yielded))
                    return
                self._waiter = waiter  # done: the task waits for the next message again
                if self._eof:
                    waiter.set_result(None)  # ... or finds there will be none
                return
        inbox.append(message)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(inbox) >= self.max_queue and not self._reading_paused:
            self._reading_paused = True
            if self.transport is not None:
                self.transport.pause_reading()

    def _close_received(self, payload: bytes) -> None:
        code, reason = 1005, ""
        if payload:
            if len(payload) < 2:
                self._fail(1002, "bad close frame")
                return
            code = _CLOSE.unpack_from(payload)[0]
            if code not in _VALID_CODES and not 3000 <= code <= 4999:
                self._fail(1002, "bad close code")
                return
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(1007, "close reason is not UTF-8")
                return
        self.rcvd_code, self.rcvd_reason = code, reason
        self._eof = True
        self._wake_reader()
        if self.state == OPEN:  # echo it, then close the TCP connection (server first)
            self._send_close(code if payload else None, "")
        self.state = CLOSING
        if self.transport is not None:
            self.transport.close()

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def recv(self) -> bytes | str:
        """The next message (``bytes`` or ``str``); :class:`ConnectionClosed` when there is
        none and none will come. (Not while :meth:`consume` runs.)"""
        inbox = self._inbox
        while not inbox:
            if self._eof:
                raise self._closed_error()
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
        propagates). Messages that arrive while the handler is idle run inline (see the
        module docstring) when ``context`` is the calling task's context -- create the task
        with ``context=`` to allow it (on Python 3.12+ the task's own context is used)."""
        task = asyncio.current_task()
        if context is None and task is not None and hasattr(task, "get_context"):
            context = task.get_context()
        self._handler = handler
        self._handler_task = task
        if _enter_task is not None and task is not None:
            self._handler_context = context
        inbox = self._inbox
        try:
            while True:
                while not inbox:
                    if self._eof:
                        raise self._closed_error()
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
        if self.state == OPEN and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()

    def __aiter__(self) -> ServerConnection:
        return self

    async def __anext__(self) -> bytes | str:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None

    def _closed_error(self) -> ConnectionClosed:
        return ConnectionClosed(self.rcvd_code or 1006, self.rcvd_reason, self.sent_code)

    @property
    def pending(self) -> int:
        """Messages received and not taken yet."""
        return len(self._inbox)

    # -- sending -------------------------------------------------------------------------------

    def _write(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(_frame(opcode, payload))

    def send_nowait(self, message: bytes | str) -> bool:
        """Sends ``message`` at once unless the write buffer is full (False: await
        :meth:`send`). :class:`ConnectionClosed` if the connection is not open."""
        if self.state != OPEN:
            raise self._closed_error()
        if self.paused:
            return False
        if type(message) is str:
            self._write(OP_TEXT, message.encode("utf-8"))
            return True
        transport = self.transport
        n = len(message)
        if transport is not None and not transport.is_closing():
            if 125 < n < 65536:  # _frame(), inlined for the usual audio message
                transport.write(_H16.pack(0x82, 126, n) + message)  # type: ignore[operator]
            else:
                transport.write(_frame(OP_BINARY, message))  # type: ignore[arg-type]
        return True

    async def send(self, message: bytes | str) -> None:
        """Sends ``message``, first waiting for the write buffer to drain if it is full."""
        while True:
            if self.state != OPEN:
                raise self._closed_error()
            if not self.paused:
                break
            drain = self._drain = self._loop.create_future()
            try:
                await drain
            finally:
                self._drain = None
        if isinstance(message, str):
            self._write(OP_TEXT, message.encode("utf-8"))
        else:
            self._write(OP_BINARY, bytes(message))

    # -- keepalive -------------------------------------------------------------------------------

    def _ping(self) -> None:
        self._ping_timer = None
        if self.state != OPEN:
            return
        interval = self.ping_interval
        if self._ping_payload is None:  # the last one was answered
            self._ping_payload = os.urandom(4)
            self._write(OP_PING, self._ping_payload)
            if self.ping_timeout:
                self._pong_timer = self._loop.call_later(self.ping_timeout, self._pong_missing)
        if interval:
            self._ping_timer = self._loop.call_later(interval, self._ping)

    def _pong_missing(self) -> None:
        self._pong_timer = None
        if self.state == OPEN:
            self._fail(1011, "keepalive ping timeout")

    # -- closing -------------------------------------------------------------------------------

    def _send_close(self, code: int | None, reason: str) -> None:
        if code is None:
            payload = b""
        else:
            payload = _CLOSE.pack(code) + reason.encode("utf-8")[:123]
            self.sent_code = code
        self._write(OP_CLOSE, payload)

    def _fail(self, code: int, reason: str) -> None:
        """Fails the connection: a close frame with ``code``, then the TCP close."""
        if self.state == OPEN:
            self._send_close(code, reason)
        self.state = CLOSING
        self._eof = True
        self._frags = []
        self._wake_reader()
        if self.transport is not None:
            self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _abort(self) -> None:
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the closing handshake (if open) and waits until the connection has
        closed: at most ``close_timeout`` for the peer's answer, then it is cut."""
        transport = self.transport
        if self.state == OPEN:
            self._send_close(code, reason)
            self.state = CLOSING
            self._eof = True
            self._wake_reader()
            self._cancel_timer()
            self._timer = self._loop.call_later(self.close_timeout, self._abort)
        elif self.state == CONNECTING and transport is not None:
            self.state = CLOSING
            transport.close()
        if self.state != CLOSED:
            try:
                await asyncio.wait_for(asyncio.shield(self._closed), self.close_timeout + 1.0)
            except TimeoutError:
                if transport is not None:
                    transport.abort()

    async def wait_closed(self) -> None:
        """Returns once the connection has closed."""
        await asyncio.shield(self._closed)

    @property
    def close_code(self) -> int | None:
        """The close code received from the peer (1006 if it dropped), ``None`` while
        the connection is not closed."""
        return self.rcvd_code

    @property
    def closed(self) -> bool:
        """The TCP connection is gone."""
        return self.state == CLOSED

    def __repr__(self) -> str:
        return f"<ServerConnection {('connecting', 'open', 'closing', 'closed')[self.state]}>"


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise _Failure(1007, "text message is not UTF-8") from None

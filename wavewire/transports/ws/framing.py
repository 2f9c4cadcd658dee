"""WebSocket frames (RFC 6455 §5): the one serializer and the one parser.

:class:`FrameCodec` is both, for one end of a connection (client or server).
:meth:`FrameCodec.encode` turns a message or a control payload into a frame, masked with a
fresh key when the client sends it. :meth:`FrameCodec.receive_data` turns the byte stream
from the peer into whole messages and control frames, enforcing the framing rules, each
failing the connection with its close code:

* frames from a client must be masked and frames from a server must not be; reserved
  bits clear; opcodes known (1002);
* control frames at most 125 bytes and not fragmented; continuation frames only inside
  a fragmented message, and no new data message inside one (1002);
* a message larger than ``max_size`` (1009), checked from the frame header, before its
  payload is buffered;
* text must be valid UTF-8 (1007).

The codec is the base of :class:`~wavewire.transports.ws.protocol.WebSocketProtocol`,
which says what a control frame does, what failing means and what comes before the
handshake completes (:meth:`FrameCodec.control`, :meth:`FrameCodec.fail`,
:meth:`FrameCodec.handshake_data`); data messages go to :attr:`FrameCodec.on_message`
while the connection is open.

One case is special inside the parser, because it is nearly every frame of a voice
session: a masked, unfragmented binary frame of 126..65535 bytes (a 20 ms audio chunk).
When a read holds exactly one, it is unmasked straight out of the read buffer and
delivered; when it holds several, each is taken with a shorter test. The rules above are
checked for it just the same.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from ...errors import ConnectionClosedError, ProtocolError
from ..connection import ConnState
from .mask import apply_mask

__all__ = [
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "FrameCodec",
]

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

_H16 = struct.Struct("!BBH")
_H64 = struct.Struct("!BBQ")
_OPEN = ConnState.OPEN
_CONNECTING = ConnState.CONNECTING
_NO_LIMIT = 1 << 63

MAX_VIEWS = 16
"""Frame positions in the read buffer whose views a connection keeps (see
:meth:`FrameCodec._views_at`): a memoryview slice costs as much as the rest of taking a
frame, and audio frames land at the same few places read after read."""


def _failure(reason: str, code: int = 1002) -> ProtocolError:
    return ProtocolError(reason, close_code=code, fatal=True)


def _text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise _failure("text message is not UTF-8", 1007) from None


class FrameCodec:
    """One end's frames: messages to bytes (:meth:`encode`), bytes from the peer to whole
    messages and control frames (:meth:`receive_data`, :meth:`receive_into`).

    :param client: this side is the client (the peer's frames are unmasked).
    :param max_size: largest message accepted, in bytes (``None``: no limit).
    :param on_message: called with each message (``bytes`` or ``str``) while
        :attr:`state` is OPEN.
    """

    __slots__ = ("state", "on_message", "messages_in", "bytes_in", "messages_out", "bytes_out",
                 "client", "read_buffer", "_limit", "_masked", "_fast_b1", "_rest", "_frag_op",
                 "_frags", "_frag_size", "_done", "_key", "_body", "_body_end", "_views")

    def __init__(self, *, client: bool = False, max_size: int | None = 1 << 20,
                 on_message: Callable[[bytes | str], None] | None = None,
                 read_buffer: memoryview | None = None) -> None:
        self.state = _CONNECTING
        """Where the connection is (only the subclass's transitions change it)."""
        self.on_message: Callable[[bytes | str], None] = on_message or _ignore
        self.messages_in = 0
        """Messages received (delivered or, while closing, dropped); a read of several
        is added once it has been parsed."""
        self.bytes_in = 0
        """Payload bytes of those messages."""
        self.messages_out = 0
        """Data messages encoded."""
        self.bytes_out = 0
        """Their payload bytes (text as UTF-8)."""
        self.client = client
        """This end is the client: its frames are masked, the peer's must not be."""
        self._limit = _NO_LIMIT if max_size is None else max_size
        self._masked = 0 if client else 1  # the mask bit the peer's frames must have
        self._fast_b1 = 0xFE if not client else -1  # second byte of the usual frame
        self._rest = b""  # an incomplete frame (or, before the handshake, all of it)
        self._frag_op = 0  # opcode of the fragmented message under way (0: none)
        self._frags: list[bytes] = []
        self._frag_size = 0
        self._done = False  # no more input is read: a close frame came, or a failure
        if read_buffer is None:
            read_buffer = memoryview(bytearray(1 << 16))
        self.read_buffer = read_buffer
        """Where :meth:`receive_into` finds the bytes read (a driver reads into it)."""
        # Views of the read buffer where the usual frame's masking key and payload sit,
        # made once (the payload's again only when the frame size changes): a memoryview
        # slice costs as much as the rest of taking the frame.
        self._key = read_buffer[4:8]
        self._body = read_buffer[8:8]
        self._body_end = 8
        self._views: dict[int, tuple[int, memoryview, memoryview]] = {}  # see _views_at

    @property
    def max_size(self) -> int | None:
        """Largest message accepted, in bytes (``None``: no limit)."""
        return None if self._limit == _NO_LIMIT else self._limit

    @max_size.setter
    def max_size(self, value: int | None) -> None:
        self._limit = _NO_LIMIT if value is None else value

    @property
    def buffered(self) -> int:
        """Bytes received and not parsed yet (held before the handshake completes, or
        an incomplete frame)."""
        return len(self._rest)

    # -- output -------------------------------------------------------------------------------

    def encode(self, message: bytes | bytearray | memoryview | str, opcode: int = 0) -> bytes:
        """The frame carrying ``message``, masked with a fresh key if this end is the
        client. With ``opcode`` 0 it is a data message -- text for a ``str``, else binary
        -- counted in :attr:`messages_out`, and only while the connection is open
        (:class:`~wavewire.errors.ConnectionClosedError` otherwise); any other ``opcode``
        makes a control frame of ``message`` (bytes)."""
        if opcode == 0:
            if self.state is not _OPEN:
                raise self.closed_error()
            if type(message) is str:
                message = message.encode("utf-8")
                b0 = 0x81
            else:
                b0 = 0x82
            self.messages_out += 1
            self.bytes_out += len(message)
        else:
            b0 = 0x80 | opcode
        n = len(message)
        if not self.client:
            if 125 < n < 65536:
                return _H16.pack(b0, 126, n) + message  # type: ignore[operator]
            if n < 126:
                return bytes((b0, n)) + message  # type: ignore[operator]
            return _H64.pack(b0, 127, n) + message  # type: ignore[operator]
        if n < 126:
            head = bytes((b0, 0x80 | n))
        elif n < 65536:
            head = _H16.pack(b0, 0xFE, n)
        else:
            head = _H64.pack(b0, 0xFF, n)
        key = os.urandom(4)
        return head + key + apply_mask(message, key)

    # -- what the subclass provides ------------------------------------------------------

    def control(self, opcode: int, payload: bytes) -> None:
        """A control frame (close, ping or pong) arrived."""
        raise NotImplementedError

    def fail(self, code: int, reason: str) -> None:
        """The peer broke a rule: fail the connection with ``code``."""
        raise NotImplementedError

    def handshake_data(self, data: bytes | memoryview) -> None:
        """Bytes that came before the handshake completed: held, and read once it has."""
        self._rest += data

    def closed_error(self) -> ConnectionClosedError:
        """The error of a send on this end once it is not open."""
        return ConnectionClosedError(1006)

    # -- input ----------------------------------------------------------------------------

    def receive_into(self, nbytes: int) -> None:
        """The peer sent ``nbytes``, read into the start of :attr:`read_buffer` (which
        the next read reuses: what must outlive this call is copied out of it)."""
        buf = self.read_buffer
        if self.state is _OPEN and not self._rest:
            if nbytes > 8 and buf[0] == 0x82 and buf[1] == self._fast_b1 and not self._frag_op:
                # The usual read: exactly one whole audio frame (see the module docstring).
                length = (buf[2] << 8) | buf[3]
                if length + 8 == nbytes and length <= self._limit:
                    if nbytes != self._body_end:
                        self._body = buf[8:nbytes]
                        self._body_end = nbytes
                    self.messages_in += 1
                    self.bytes_in += length
                    self.on_message(apply_mask(self._body, self._key))
                    return
            try:  # several frames, or anything else: parsed in place
                self._parse(buf, nbytes)
            except ProtocolError as exc:
                self.fail(exc.close_code, str(exc))
            return
        self.receive_data(buf[:nbytes])

    def receive_data(self, data: bytes | memoryview) -> None:
        """The peer sent ``data`` (which may be a view of a reused buffer)."""
        if self._done:
            return
        if self.state is _CONNECTING:
            self.handshake_data(data)
            return
        try:
            self._parse(data, len(data))
        except ProtocolError as exc:
            self.fail(exc.close_code, str(exc))

    def _views_at(self, pos: int, end: int) -> tuple[int, memoryview, memoryview]:
        """``(end, key, payload)``: views of the read buffer for the usual frame at
        ``pos``..``end``, kept for the next read with a frame there (reads that hold
        several audio frames hold them at the same places), at most :data:`MAX_VIEWS`."""
        views = self._views
        found = views.get(pos)
        if found is None or found[0] != end:
            buf = self.read_buffer
            found = (end, buf[pos + 4:pos + 8], buf[pos + 8:end])
            if len(views) < MAX_VIEWS or pos in views:
                views[pos] = found
        return found

    def _parse(self, data: bytes | memoryview, n: int) -> None:
        """Take the frames in ``data[:n]`` (after the incomplete frame held from before);
        keep a copy of what is left of an incomplete one."""
        rest = self._rest
        if rest:
            data = rest + data[:n]
            n = len(data)
            self._rest = b""
        in_buffer = data is self.read_buffer
        views = self._views
        pos = 0
        limit = self._limit
        masked = self._masked
        fast_b1 = self._fast_b1
        count = size = 0  # messages and their bytes: added to the totals once per read
        try:
            while n - pos >= 2:
                b0 = data[pos]
                b1 = data[pos + 1]
                if b0 == 0x82 and b1 == fast_b1 and not self._frag_op and self.state is _OPEN:
                    # The usual frame: masked, unfragmented, binary, 126..65535 bytes.
                    if n - pos < 8:
                        break
                    length = (data[pos + 2] << 8) | data[pos + 3]
                    if length > limit:
                        raise _failure(f"message over {limit} bytes", 1009)
                    end = pos + 8 + length
                    if end > n:
                        break
                    count += 1
                    size += length
                    if in_buffer:
                        found = views.get(pos)
                        if found is None or found[0] != end:
                            found = self._views_at(pos, end)
                        self.on_message(apply_mask(found[2], found[1]))
                    else:
                        self.on_message(apply_mask(data[pos + 8:end], data[pos + 4:pos + 8]))
                    pos = end
                    continue
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
                        raise _failure("bad frame length")
                if b1 >> 7 != masked:
                    raise _failure("client frames must be masked" if masked
                                   else "server frames must not be masked")
                if b0 & 0x70:
                    raise _failure("reserved bits set")
                opcode = b0 & 0x0F
                fin = b0 & 0x80
                if opcode >= 8:
                    if opcode > OP_PONG:
                        raise _failure(f"unknown opcode {opcode}")
                    if length > 125 or not fin:
                        raise _failure("bad control frame")
                else:
                    if opcode > OP_BINARY:
                        raise _failure(f"unknown opcode {opcode}")
                    if opcode == OP_CONT:
                        if not self._frag_op:
                            raise _failure("continuation without a message")
                    elif self._frag_op:
                        raise _failure("expected a continuation frame")
                    if self._frag_size + length > limit:
                        raise _failure(f"message over {limit} bytes", 1009)
                if masked:
                    end = h + 4 + length
                    if end > n:
                        break
                    payload = apply_mask(data[h + 4:end], data[h:h + 4])
                else:
                    end = h + length
                    if end > n:
                        break
                    payload = bytes(data[h:end])
                pos = end
                if opcode == OP_CONT:
                    self._frags.append(payload)
                    self._frag_size += length
                    if not fin:
                        continue
                    payload = b"".join(self._frags)
                    opcode = self._frag_op
                    self._frag_op = self._frag_size = 0
                    self._frags = []
                elif opcode >= 8:
                    self.control(opcode, payload)
                    if self._done:  # the close frame: nothing after it is read
                        return
                    continue
                elif not fin:
                    self._frag_op = opcode
                    self._frags = [payload]
                    self._frag_size = length
                    continue
                message = _text(payload) if opcode == OP_TEXT else payload
                count += 1
                size += len(payload)
                if self.state is _OPEN:  # closing: only the peer's close frame matters now
                    self.on_message(message)
        finally:
            if count:
                self.messages_in += count
                self.bytes_in += size
        if pos < n:
            self._rest = bytes(data[pos:n])

    def _end_input(self) -> None:
        """Read nothing more (the peer's close frame came, the connection failed or is
        gone)."""
        self._done = True
        self._rest = b""
        self._frags = []
        self._frag_op = self._frag_size = 0


def _ignore(message: bytes | str) -> None:
    """The default :attr:`FrameCodec.on_message`: messages are dropped (counted)."""

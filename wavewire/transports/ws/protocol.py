"""A WebSocket connection without I/O (RFC 6455): bytes in, messages out, bytes to write.

:class:`WebSocketProtocol` is one end of a connection, client or server. Its owner (a
driver, such as :class:`~wavewire.transports.wire.ServerConnection`, or a test) hands it
what the peer sent (:meth:`~FrameCodec.receive_data`,
:meth:`~FrameCodec.receive_into`) and gives it callables:

* ``on_request(request)`` -- a server end: the client's request head arrived (a
  malformed one is answered with its HTTP error by the protocol itself); the owner
  answers with :meth:`~WebSocketProtocol.accept` or :meth:`~WebSocketProtocol.reject`;
* ``on_message(message)`` -- each whole message, ``bytes`` or ``str``, while open;
* ``write(data)`` -- bytes to send to the peer (pongs, close frames, the handshake answer);
* ``on_end()`` -- the protocol is done with the connection: the peer's close frame
  arrived (and was answered), the peer broke a rule (a close frame with the error's code
  went out), or the handshake was refused. A server closes the TCP connection then; a
  client waits for the server to close it.

Data messages are framed by :meth:`~.framing.FrameCodec.encode`, which returns the bytes for
the caller to write (the hot path keeps that to one call). Keepalive and deadlines are
the driver's (they need a clock); the protocol sends the ping and says whether its pong
came (:attr:`~WebSocketProtocol.ping_payload`).

The lifecycle is :class:`~wavewire.transports.connection.ConnState`, moved only by
:func:`next_state` over the table :data:`TRANSITIONS` (h11 style): any other
(state, event) pair is a bug and raises :class:`~wavewire.errors.InvalidStateError`.
Close codes received are checked (1002 for one that may not be sent, 1007 for a reason
that is not UTF-8); the framing rules are :mod:`.framing`'s.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Callable, Sequence

from ...errors import ConnectionClosedError, InvalidStateError, ProtocolError
from ..connection import ConnectionStats, ConnState
from ..http import MAX_HEAD, HTTPError, Request, parse_request, text_response
from .framing import OP_CLOSE, OP_PING, OP_PONG, FrameCodec
from .handshake import accept_response, find_head_end

__all__ = ["ConnEvent", "TRANSITIONS", "next_state", "valid_close_code", "WebSocketProtocol"]

CONNECTING, OPEN, CLOSING, CLOSED = (ConnState.CONNECTING, ConnState.OPEN, ConnState.CLOSING,
                                     ConnState.CLOSED)

_CLOSE = struct.Struct("!H")

# Codes a peer may send in a close frame (RFC 6455 §7.4, IANA registry); 3000-4999 too.
_VALID_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                          1014))


def valid_close_code(code: int) -> bool:
    """``code`` may be sent in a close frame."""
    return code in _VALID_CODES or 3000 <= code <= 4999


class ConnEvent(enum.Enum):
    """What moves a connection from one :class:`ConnState` to the next."""

    ACCEPT = "accept"
    """The opening handshake completed (the server sent its 101, or the client got it)."""
    REJECT = "reject"
    """The opening handshake ended without a WebSocket (an HTTP refusal, or abandoned)."""
    CLOSE_SENT = "close sent"
    """This side started the closing handshake."""
    CLOSE_RECEIVED = "close received"
    """The peer's close frame arrived (starting the closing handshake, or answering ours)."""
    FAIL = "fail"
    """The peer broke a rule, or a keepalive went unanswered: the connection fails."""
    LOST = "lost"
    """The transport is gone."""


TRANSITIONS: dict[tuple[ConnState, ConnEvent], ConnState] = {
    (CONNECTING, ConnEvent.ACCEPT): OPEN,
    (CONNECTING, ConnEvent.REJECT): CLOSING,
    (CONNECTING, ConnEvent.LOST): CLOSED,
    (OPEN, ConnEvent.CLOSE_SENT): CLOSING,
    (OPEN, ConnEvent.CLOSE_RECEIVED): CLOSING,
    (OPEN, ConnEvent.FAIL): CLOSING,
    (OPEN, ConnEvent.LOST): CLOSED,
    (CLOSING, ConnEvent.CLOSE_RECEIVED): CLOSING,
    (CLOSING, ConnEvent.FAIL): CLOSING,
    (CLOSING, ConnEvent.LOST): CLOSED,
}
"""Every legal (state, event) pair and the state it leads to."""


def next_state(state: ConnState, event: ConnEvent) -> ConnState:
    """The state ``event`` leads to from ``state``;
    :class:`~wavewire.errors.InvalidStateError` if the table has no such pair."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise InvalidStateError(f"WebSocket: {event.value!r} is not legal when "
                                f"{state.name.lower()}") from None


def _nothing() -> None:
    pass


def _discard(data: bytes) -> None:
    pass


def _unanswered(request: Request) -> None:
    pass


class WebSocketProtocol(FrameCodec):
    """One end of a WebSocket connection, without I/O (see the module docstring).

    :param client: this end is the client (its frames are masked, the peer's must not
        be).
    :param max_size: largest message accepted, in bytes; larger fails with 1009.
    :param on_message: each message received while open.
    :param write: bytes to send to the peer.
    :param on_end: the protocol is done with the connection (see the module docstring).
    :param on_request: a server end: the client's request head arrived; the owner
        answers with :meth:`accept` or :meth:`reject`.
    :param read_buffer: where a driver reads into before calling
        :meth:`~FrameCodec.receive_into` (default: a 64 KiB buffer of its own).
    """

    __slots__ = ("write", "on_end", "on_request", "request", "rcvd_code", "rcvd_reason",
                 "sent_code", "ping_payload", "_head", "_stats")

    def __init__(self, *, client: bool = False, max_size: int | None = 1 << 20,
                 on_message: Callable[[bytes | str], None] | None = None,
                 write: Callable[[bytes], None] | None = None,
                 on_end: Callable[[], None] | None = None,
                 on_request: Callable[[Request], None] | None = None,
                 read_buffer: memoryview | None = None) -> None:
        super().__init__(client=client, max_size=max_size, on_message=on_message,
                         read_buffer=read_buffer)
        self.write: Callable[[bytes], None] = write or _discard
        self.on_end: Callable[[], None] = on_end or _nothing
        self.on_request: Callable[[Request], None] = on_request or _unanswered
        self.request: Request | None = None
        """The client's request head (a server end), once it has arrived."""
        self._head = bytearray()
        self._stats = ConnectionStats()
        self.rcvd_code: int | None = None
        """The close code the peer sent (1005: none in its close frame; 1006: the
        connection went without one), ``None`` until then."""
        self.rcvd_reason = ""
        self.sent_code: int | None = None
        """The close code this end sent, if any."""
        self.ping_payload: bytes | None = None
        """The payload of the ping whose pong has not come yet."""

    def _to(self, event: ConnEvent) -> None:
        """The one place the state changes (raising, before anything is written, on a
        pair the table does not have)."""
        self.state = next_state(self.state, event)

    @property
    def stats(self) -> ConnectionStats:
        """What went over the connection (one object, updated when read)."""
        stats = self._stats
        stats.messages_in, stats.bytes_in = self.messages_in, self.bytes_in
        stats.messages_out, stats.bytes_out = self.messages_out, self.bytes_out
        return stats

    # -- handshake ---------------------------------------------------------------------------

    def handshake_data(self, data: bytes | memoryview) -> None:
        """Bytes before the handshake completed. A server end reads the request head
        from them (a malformed or oversized one is answered with its HTTP error), hands
        it to ``on_request`` and holds what follows until :meth:`accept`; a client end
        holds everything (its driver reads the response head, see :mod:`.handshake`)."""
        if self.client or self.request is not None:
            self._rest += data
            return
        head = self._head
        start = max(0, len(head) - 3)
        head += data
        found = find_head_end(head, start)
        if found is None:
            if len(head) > MAX_HEAD:
                self.reject(text_response(431, "request head too large\n").serialize())
            return
        end, after = found
        self._rest = bytes(head[after:])
        raw = bytes(head[:end])
        self._head = bytearray()
        try:
            request = parse_request(raw)
        except HTTPError as exc:
            self.reject(text_response(exc.status, f"{exc}\n").serialize())
            return
        self.request = request
        self.on_request(request)

    def accept(self, key: str | None = None, subprotocol: str | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> None:
        """The handshake completed. A server passes the request's ``Sec-WebSocket-Key``
        (``key``): its 101 response is written first. Then whatever the peer sent early
        is read."""
        self._to(ConnEvent.ACCEPT)
        if key is not None:
            self.write(accept_response(key, subprotocol, headers))
        held, self._rest = self._rest, b""
        if held:
            self.receive_data(held)

    def reject(self, response: bytes = b"") -> None:
        """The handshake ends without a WebSocket; ``response`` (an HTTP response) is
        written first."""
        self._to(ConnEvent.REJECT)
        if response:
            self.write(response)
        self._end_input()
        self.on_end()

    # -- sending -------------------------------------------------------------------------------

    def send(self, message: bytes | bytearray | memoryview | str) -> None:
        """Write the data message ``message`` (:meth:`~FrameCodec.encode`, then ``write``;
        a driver on a hot path encodes and writes itself)."""
        self.write(self.encode(message))

    def _control_frame(self, opcode: int, payload: bytes) -> None:
        self.write(self.encode(payload, opcode))

    def ping(self) -> bytes:
        """Send a ping with a fresh payload (returned, and kept in :attr:`ping_payload`
        until its pong comes)."""
        payload = self.ping_payload = os.urandom(4)
        self._control_frame(OP_PING, payload)
        return payload

    def _send_close(self, code: int | None, reason: str) -> None:
        if code is None:
            payload = b""
        else:
            payload = _CLOSE.pack(code) + reason.encode("utf-8")[:123]
            self.sent_code = code
        self._control_frame(OP_CLOSE, payload)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake: a close frame with ``code`` and ``reason`` (cut
        to 123 bytes). Messages that arrive until the peer answers are dropped."""
        self._to(ConnEvent.CLOSE_SENT)
        self._send_close(code, reason)

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection: a close frame with ``code`` (if none was sent yet), no
        more input, and the end."""
        was_open = self.state is OPEN
        self._to(ConnEvent.FAIL)
        if was_open:
            self._send_close(code, reason)
        self._end_input()
        self.on_end()

    def connection_lost(self) -> None:
        """The transport is gone (a peer that sent no close frame: 1006)."""
        self._to(ConnEvent.LOST)
        if self.rcvd_code is None:
            self.rcvd_code = 1006
        self._end_input()

    def closed_error(self) -> ConnectionClosedError:
        """The error of a send or receive on this connection once it is not open."""
        return ConnectionClosedError(self.rcvd_code or 1006, self.rcvd_reason, self.sent_code)

    # -- control frames ---------------------------------------------------------------------

    def control(self, opcode: int, payload: bytes) -> None:
        """A close, ping or pong frame arrived."""
        if opcode == OP_CLOSE:
            self._close_received(payload)
        elif opcode == OP_PING:
            if self.state is OPEN:
                self._control_frame(OP_PONG, payload)
        elif payload == self.ping_payload:  # the pong to our ping (any other is ignored)
            self.ping_payload = None

    def _close_received(self, payload: bytes) -> None:
        code, reason = 1005, ""
        if payload:
            if len(payload) < 2:
                raise ProtocolError("bad close frame", close_code=1002, fatal=True)
            code = _CLOSE.unpack_from(payload)[0]
            if not valid_close_code(code):
                raise ProtocolError("bad close code", close_code=1002, fatal=True)
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError("close reason is not UTF-8", close_code=1007,
                                    fatal=True) from None
        self.rcvd_code, self.rcvd_reason = code, reason
        was_open = self.state is OPEN
        self._to(ConnEvent.CLOSE_RECEIVED)
        if was_open:  # answer with the same code
            self._send_close(code if payload else None, "")
        self._end_input()
        self.on_end()

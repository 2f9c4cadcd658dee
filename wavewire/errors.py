"""The whole exception tree of wavewire, in one place.

::

    WavewireError
    ├── InvalidStateError        an illegal lifecycle transition (send after close, …)
    │   ├── SessionClosedError     input fed to a session that takes no more
    │   └── ConnectionClosedError  a send or receive on a connection that is not open
    ├── FrameFormatError         audio whose bytes, rate or channels do not fit (ValueError)
    ├── ProtocolError            bad input on a wire; carries the close code to use
    │   └── MessageTooLargeError   over the protocol's size limit (close 1009)
    └── ServiceError             a provider or peer failed; the shared taxonomy for reconnects
        ├── ConnectError           could not connect (DNS, refused, handshake)
        ├── AuthError              credentials refused (401/403, close 1008 on auth)
        ├── RateLimitError         too many requests / concurrency (429, ``retry_after``)
        ├── RemoteClosedError      the peer closed the connection
        └── ServiceTimeoutError    a deadline passed (also a TimeoutError)

Messages never include secrets: tokens and keys are redacted before they get here.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "WavewireError",
    "InvalidStateError",
    "SessionClosedError",
    "ConnectionClosedError",
    "FrameFormatError",
    "ProtocolError",
    "MessageTooLargeError",
    "ServiceError",
    "ConnectError",
    "AuthError",
    "RateLimitError",
    "RemoteClosedError",
    "ServiceTimeoutError",
]
# ``clip``, ``PEER_TEXT_LIMIT`` and ``REFUSAL_BODY_LIMIT`` (below) are helpers for the
# modules that build error messages and log lines, not part of the package's top-level API.


class WavewireError(Exception):
    """Base of every error wavewire raises on purpose."""


class InvalidStateError(WavewireError):
    """An operation is not legal in the object's current lifecycle state."""


class SessionClosedError(InvalidStateError):
    """Input was fed to a session that no longer takes any (it closed or is cancelling)."""


class ConnectionClosedError(InvalidStateError):
    """A connection is closed (or closing): nothing more can be sent or received.

    :ivar code: the close code received from the peer (1005: a close frame without one;
        1006: the connection dropped without a close frame).
    :ivar reason: the close reason received.
    :ivar sent_code: the close code this side sent, if any (e.g. 1009 after an oversize
        message).
    """

    def __init__(self, code: int, reason: str = "", sent_code: int | None = None) -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason
        self.sent_code = sent_code


class FrameFormatError(WavewireError, ValueError):
    """Audio whose byte count, sample rate or channel count does not fit."""


class ProtocolError(WavewireError):
    """A wire message could not be understood or breaks the protocol's rules.

    ``close_code`` is the WebSocket close code a transport should use if the error
    ends the connection (1003 unsupported data, 1007 invalid payload, 1008 policy,
    1009 too big); ``fatal`` says whether the connection must end at all (most bad
    messages are counted and skipped)."""

    def __init__(self, message: str, *, close_code: int = 1007, fatal: bool = False) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.fatal = fatal


class MessageTooLargeError(ProtocolError):
    """A message exceeds the protocol's maximum size."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message, close_code=1009, fatal=fatal)


class ServiceError(WavewireError):
    """A remote service or peer failed. ``retryable`` tells reconnect logic what to do.

    When the service answered with an HTTP status (a refused WebSocket handshake),
    ``status``, ``headers`` and ``body`` are that answer, so a relay can pass it on:
    ``headers`` as ``(name, value)`` pairs in the order sent, ``body`` its start (at most
    :data:`REFUSAL_BODY_LIMIT` bytes); both with credentials redacted."""

    retryable: bool = True

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers: list[tuple[str, str]] = list(headers)
        self.body = body

    def header(self, name: str) -> str | None:
        """The first value of the answer's header ``name`` (any case), if it was sent."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


class ConnectError(ServiceError):
    """The connection could not be established."""


class AuthError(ServiceError):
    """The credentials were refused. Not retryable."""

    retryable = False


class RateLimitError(ServiceError):
    """Too many requests or too much concurrency; retry later.

    ``retry_after`` is how many seconds the service asked to wait (its ``Retry-After``
    header), if it said; reconnect logic waits at least that long."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 retry_after: float | None = None, headers: Sequence[tuple[str, str]] = (),
                 body: bytes = b"") -> None:
        super().__init__(message, status=status, code=code, headers=headers, body=body)
        self.retry_after = retry_after


class RemoteClosedError(ServiceError):
    """The peer closed the connection."""

    def __init__(self, message: str, *, close_code: int | None = None, reason: str = ""):
        super().__init__(message, code=reason or None)
        self.close_code = close_code
        self.reason = reason


class ServiceTimeoutError(ServiceError, TimeoutError):
    """A deadline passed while waiting for the service."""


REFUSAL_BODY_LIMIT = 4096
"""Most bytes of a refused handshake's body that a :class:`ServiceError` keeps."""

PEER_TEXT_LIMIT = 200
"""Most characters of peer-supplied text that :func:`clip` lets through."""

_reprs: object = None


def clip(value: object, limit: int = PEER_TEXT_LIMIT) -> str:
    """Peer-supplied text made fit for a log line or an error message.

    A ``str`` is taken as it is, anything else as a size-bounded ``repr`` (never the
    repr of a whole large or deeply nested value); the result is cut to ``limit``
    characters (the rest is counted, not shown) and every character that could break
    a log line (control characters, lone surrogates) is escaped. Every error message
    and log line that quotes what a peer sent goes through this, so one message can
    never make a line longer than a few hundred characters."""
    global _reprs
    if isinstance(value, str):
        text = value
    else:
        if _reprs is None:
            import reprlib

            r = reprlib.Repr()
            r.maxstring = r.maxother = r.maxlong = limit
            r.maxlevel = 4
            _reprs = r
        text = _reprs.repr(value)  # type: ignore[attr-defined]
    extra = len(text) - limit
    if extra > 0:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return f"{text}…(+{extra} chars)" if extra > 0 else text

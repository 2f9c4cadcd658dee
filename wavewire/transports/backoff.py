"""The reconnect policy of :class:`~wavewire.transports.client.WebSocketClient`: how long to
wait (:class:`Backoff`), which failures are worth another attempt, and which typed error
each failure is (:func:`handshake_error`, :func:`close_error`).

* A refused handshake: HTTP 401/403 → :class:`~wavewire.errors.AuthError` (never
  retried); 429 → :class:`~wavewire.errors.RateLimitError` whose ``retry_after`` comes
  from the ``Retry-After`` header (seconds or an HTTP date) and is honoured as the
  least delay before the next attempt; 408 and 5xx → retryable
  :class:`~wavewire.errors.ConnectError`; any other status → a ``ConnectError`` that is
  not retried (the same request would be refused the same way). The error keeps the
  answer's headers and the start of its body, redacted (:func:`redacted_answer`).
* A closed connection: 1000 is a normal end (no error); 1001, 1005, 1006, 1011-1014 (the
  peer went away or was busy) are retried; a close the peer sent with any other code
  (1002, 1003, 1007-1010, 4xxx) is a :class:`~wavewire.errors.RemoteClosedError` that is
  not retried; a close this side sent because the peer broke the protocol is a fatal
  :class:`~wavewire.errors.ProtocolError` (:class:`~wavewire.errors.MessageTooLargeError`
  for a message over ``max_size``); a keepalive ping that got no pong is a
  :class:`~wavewire.errors.ServiceTimeoutError` (retried).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import (
    REFUSAL_BODY_LIMIT,
    AuthError,
    ConnectError,
    MessageTooLargeError,
    ProtocolError,
    RateLimitError,
    RemoteClosedError,
    ServiceError,
    ServiceTimeoutError,
    WavewireError,
    clip,
)
from ..secrets import REDACTED, is_secret_header, redact_subprotocols, redact_text

if TYPE_CHECKING:
    from ..clock import Clock

__all__ = [
    "Backoff",
    "Waiter",
    "retry",
    "RETRY_CLOSE_CODES",
    "parse_retry_after",
    "handshake_error",
    "redacted_answer",
    "close_error",
    "gave_up_error",
]

RETRY_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014})
"""Close codes after which the client reconnects (the peer went away or was busy)."""

MAX_RETRY_AFTER = 3600.0
"""Seconds: a ``Retry-After`` longer than this is taken as this (a bad header must not
park a client for days)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial * factor**(attempt-1)``, capped at ``max``, each
    multiplied by a random factor in ``1 ± jitter``; give up after ``max_attempts``
    consecutive failures (``None``: never)."""

    initial: float = 0.5
    """First delay, seconds."""
    max: float = 10.0
    """Largest delay, seconds."""
    factor: float = 2.0
    """Growth per attempt."""
    jitter: float = 0.25
    """Relative spread of each delay (0 … 1)."""
    max_attempts: int | None = 8
    """Consecutive failed attempts before the client gives up."""

    def __post_init__(self) -> None:
        if self.initial < 0 or self.max < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("Backoff: need initial, max >= 0, factor >= 1, 0 <= jitter <= 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("Backoff: max_attempts must be at least 1 (or None)")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        base = min(self.max, self.initial * self.factor ** max(0, attempt - 1))
        return max(0.0, base * (1.0 - self.jitter + 2.0 * self.jitter * rand()))

    def delay_after(self, attempt: int, error: BaseException | None,
                    rand: Callable[[], float] = random.random) -> float:
        """:meth:`delay`, but never less than a rate limit's ``retry_after``."""
        delay = self.delay(attempt, rand)
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            delay = max(delay, error.retry_after)
        return delay


class Waiter:
    """Backoff waits on a clock that :meth:`wake` cuts short (a client closing)."""

    __slots__ = ("clock", "_fut")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._fut: asyncio.Future[None] | None = None

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds of the clock, or until :meth:`wake`."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fut = fut
        handle = self.clock.call_later(delay, _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            self._fut = None

    def wake(self) -> None:
        """End the current wait now."""
        if self._fut is not None:
            _resolve(self._fut)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def retry(
    backoff: Backoff | None,
    attempt: Callable[[], Awaitable[None]],
    error: WavewireError | None,
    *,
    where: str,
    waiter: Waiter,
    stopped: Callable[[], bool],
    on_wait: Callable[[int, float], Awaitable[None]],
) -> tuple[bool, WavewireError | None]:
    """Call ``attempt`` after each backoff wait until it succeeds: ``(True, None)``.
    ``(False, error)`` when a failure is not retryable or the attempts run out (``error``
    says why), ``(False, None)`` when ``stopped()``. ``error`` is the failure that made
    the retries necessary; ``on_wait(n, delay)`` is told of each wait. With no
    ``backoff`` there is no other attempt: ``(False, error)``."""
    if backoff is None:
        return False, error
    n = 0
    while not stopped():
        n += 1
        if backoff.max_attempts is not None and n > backoff.max_attempts:
            return False, gave_up_error(where, backoff.max_attempts, error)
        delay = backoff.delay_after(n, error)
        await on_wait(n, delay)
        if stopped():
            break
        await waiter.sleep(delay)
        if stopped():
            break
        try:
            await attempt()
            return True, None
        except ServiceError as exc:
            error = exc
            if not exc.retryable:
                return False, exc
    return False, None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value: a number of seconds or an
    HTTP date (``now`` is the wall-clock time to measure from, default the current one).
    ``None`` for a missing or unreadable value; capped at :data:`MAX_RETRY_AFTER`."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def handshake_error(where: str, status: int, headers: Mapping[str, str] | None = None,
                    body: bytes | None = None) -> ServiceError:
    """The typed error of a handshake refused with HTTP ``status``; ``where`` names the
    (redacted) URL. ``retryable`` says whether another attempt could succeed. The answer's
    ``headers`` (every pair, in order) and ``body`` are kept on the error, redacted and
    the body bounded (:func:`redacted_answer`); the body's start is in the message."""
    pairs, kept = redacted_answer(headers, body)
    message = f"{where}: refused with HTTP {status}"
    detail = f": {clip(kept.decode('utf-8', 'replace'))}" if kept.strip() else ""
    answer: dict[str, Any] = {"status": status, "headers": pairs, "body": kept}
    if status in (401, 403):
        return AuthError(message + detail, **answer)
    if status == 429:
        retry_after = parse_retry_after(_header(headers, "retry-after"))
        if retry_after is not None:
            message += f" (retry after {retry_after:g} s)"
        return RateLimitError(message + detail, retry_after=retry_after, **answer)
    err = ConnectError(message + detail, **answer)
    err.retryable = status == 408 or status >= 500
    return err


def redacted_answer(headers: Mapping[str, str] | None, body: bytes | None
                    ) -> tuple[list[tuple[str, str]], bytes]:
    """A refusal's headers (every ``(name, value)`` pair, in order) and body, each with
    credentials replaced by ``***`` (:mod:`wavewire.secrets`; an authentication
    challenge such as ``WWW-Authenticate`` is kept as sent); the body cut to
    :data:`~wavewire.errors.REFUSAL_BODY_LIMIT` bytes. Bytes that are not UTF-8 are kept
    as they are."""
    pairs: list[tuple[str, str]] = []
    if headers is not None:
        items = headers.raw_items() if hasattr(headers, "raw_items") else headers.items()
        for name, value in items:
            if is_secret_header(name):
                value = REDACTED
            elif name.lower() == "sec-websocket-protocol":
                value = ", ".join(redact_subprotocols(value.split(",")))
            elif not name.lower().endswith("-authenticate"):  # a challenge holds no secret
                value = redact_text(value)
            pairs.append((name, value))
    data = bytes(body or b"")[:REFUSAL_BODY_LIMIT]
    if data:
        text = data.decode("utf-8", "surrogateescape")
        data = redact_text(text).encode("utf-8", "surrogateescape")[:REFUSAL_BODY_LIMIT]
    return pairs, data


def close_error(
    where: str,
    code: int | None,
    reason: str,
    *,
    sent_by_us: bool = False,
    custom: Callable[[int | None, str], WavewireError | None] | None = None,
) -> WavewireError | None:
    """The typed error of a connection that closed with ``code`` (``None``: the TCP
    connection dropped with no close frame), or ``None`` for a normal close (1000).

    ``sent_by_us``: this side sent the close (the client's connection does when the
    peer breaks the protocol; ``picows`` does, with 1001 and a reason naming the ping,
    when a keepalive ping gets no pong). The error's ``retryable`` says
    whether to reconnect (a :class:`~wavewire.errors.ProtocolError` never is).
    ``custom(code, reason)`` types a close the peer sent first (a provider's own codes);
    when it returns ``None`` the rules above apply."""
    if custom is not None and not sent_by_us:
        error = custom(code, reason)
        if error is not None:
            return error
    if code == 1000:
        return None
    shown = f"{code}" + (f" ({reason})" if reason else "")
    if sent_by_us and code in (1001, 1011) and "ping" in reason:
        return ServiceTimeoutError(f"{where}: no pong to a keepalive ping, closed")
    if sent_by_us and code == 1009:
        return MessageTooLargeError(f"{where}: the peer sent a message over the size limit",
                                    fatal=True)
    if sent_by_us and code is not None and code not in RETRY_CLOSE_CODES:
        return ProtocolError(f"{where}: the peer broke the protocol, closed {shown}",
                             close_code=code, fatal=True)
    err = RemoteClosedError(
        f"{where}: " + (f"closed by the peer with {shown}" if code not in (None, 1006)
                        else "connection dropped"),
        close_code=code, reason=reason,
    )
    err.retryable = code is None or code in RETRY_CLOSE_CODES
    return err


def gave_up_error(where: str, attempts: int, last: WavewireError | None) -> WavewireError:
    """The error of a client that ran out of attempts: the last one itself, unless it was
    a plain connection failure (then one that says how many attempts were made)."""
    if last is not None and type(last) is not ConnectError:
        return last
    detail = f": {last}" if last is not None else ""
    err = ConnectError(f"{where}: gave up after {attempts} attempts{detail}")
    err.retryable = False
    return err


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value

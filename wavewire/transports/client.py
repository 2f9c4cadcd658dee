"""``WebSocketClient``: one logical connection to a WebSocket peer that survives drops.

Used by ``wavewire connect`` (a bot running as a client, see :mod:`.client_session`) and
by services, which compose a client with a serializer. The client

* connects with extra headers and subprotocols, no compression (audio barely
  compresses);
* sends its serializer's ``open()`` messages on *every* connection, first or not;
* reconnects with exponential backoff and jitter (:class:`Backoff`) after the peer goes
  away (close codes 1001, 1005, 1006, 1011-1014 or a dropped TCP connection), up to
  ``max_attempts`` consecutive failures. A normal close (1000) ends the client unless
  ``reconnect_on_normal_close``; a protocol close (1002, 1003, 1007-1010, 4xxx) and a
  refused handshake (HTTP 401/403 → :class:`~wavewire.errors.AuthError`, other 4xx) end
  it at once, since retrying would fail the same way;
* calls ``on_message`` for each received message from one reader task, owned by the
  client and stopped by :meth:`WebSocketClient.close`.

**Sending while disconnected** (between a drop and the next connection): messages wait
in a bounded buffer of ``buffer_size`` messages (default 50, one second of 20 ms audio),
sent right after ``open()`` on reconnection; when it is full the *oldest* is dropped and
counted in :attr:`ClientStats.dropped`. ``buffer_size=0`` drops everything sent while
disconnected (counted).

Events: ``on_connected(client)``, ``on_disconnected(client, code, reason)``,
``on_reconnecting(client, attempt, delay)``. URLs in errors and logs are redacted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..errors import AuthError, ConnectError, ProtocolError
from ..events import EventEmitter
from ..pipelines.taskgroup import SessionTaskGroup
from ._fastsend import send_now
from .auth import RedactingFilter, redact_text

if TYPE_CHECKING:
    import ssl as ssl_module

    from ..frames import Frame
    from ..serializers.base import FrameSerializer, Message

__all__ = ["Backoff", "ClientStats", "WebSocketClient", "RETRY_CLOSE_CODES"]

RETRY_CLOSE_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014})
"""Close codes after which the client reconnects (the peer went away or was busy)."""


def _client_logger() -> logging.Logger:
    """The logger given to ``websockets`` (debug output shows URLs and headers)."""
    log = logging.getLogger("wavewire.websockets.client")
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log


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


@dataclass(slots=True)
class ClientStats:
    """What happened on a client's connection(s)."""

    connects: int = 0
    """Successful connections (first one included)."""
    failed_attempts: int = 0
    """Connection attempts that failed."""
    messages_in: int = 0
    """Messages received."""
    messages_out: int = 0
    """Messages sent (including ``open()``/``close()`` and flushed ones)."""
    buffered: int = 0
    """Messages that waited in the buffer while disconnected."""
    dropped: int = 0
    """Messages dropped while disconnected (buffer full, or closed)."""


class WebSocketClient(EventEmitter):
    """A reconnecting WebSocket connection driven by a serializer (module docstring).

    :param url: ``ws://`` or ``wss://`` URL.
    :param serializer_factory: called once; the serializer lives across reconnects
        (:attr:`serializer`) and its ``open()`` is sent on every connection.
    :param headers: extra handshake headers (e.g. ``Authorization``).
    :param subprotocols: subprotocols to offer.
    :param reconnect: backoff policy (``None``: never reconnect).
    :param reconnect_on_normal_close: also reconnect after a close with code 1000.
    :param buffer_size: messages kept while disconnected (oldest dropped beyond).
    """

    def __init__(
        self,
        url: str,
        serializer_factory: Callable[[], FrameSerializer] | FrameSerializer,
        *,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] | None = None,
        reconnect: Backoff | None = Backoff(),
        reconnect_on_normal_close: bool = False,
        buffer_size: int = 50,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 5.0,
        max_size: int | None = 1 << 20,
        ssl: ssl_module.SSLContext | None = None,
        proxy: str | bool | None = True,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.serializer: FrameSerializer = (
            serializer_factory() if callable(serializer_factory) else serializer_factory
        )
        self.headers = dict(headers or {})
        self.subprotocols = list(subprotocols or [])
        self.reconnect = reconnect
        self.reconnect_on_normal_close = reconnect_on_normal_close
        self.buffer_size = max(0, buffer_size)
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.max_size = max_size
        self.ssl = ssl
        self.proxy = proxy
        self.name = name or f"WebSocketClient({redact_text(url)})"
        self.stats = ClientStats()
        self.error: Exception | None = None
        """Why the client stopped, when it did not stop because of :meth:`close`."""
        self.close_code: int | None = None
        """The code of the last close seen."""
        self._conn: ClientConnection | None = None
        self._on_message: Callable[[Message], Awaitable[None]] | None = None
        self._held: deque[Message] = deque()
        self._group = SessionTaskGroup(self.name)
        self._closing = False
        self._started = False
        self._done = asyncio.Event()
        self._init_events("on_connected", "on_disconnected", "on_reconnecting")

    # -- state ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._conn is not None

    @property
    def closed(self) -> bool:
        """True once the client has stopped for good."""
        return self._done.is_set()

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the client stops for good; True if it did within ``timeout``."""
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- connecting ----------------------------------------------------------------------

    async def connect(
        self, on_message: Callable[[Message], Awaitable[None]] | None = None
    ) -> None:
        """Connect (retrying per :attr:`reconnect`) and start receiving.

        Raises :class:`~wavewire.errors.AuthError` or
        :class:`~wavewire.errors.ConnectError` if no connection could be made."""
        if self._started:
            raise RuntimeError(f"{self.name}: connect() was already called")
        self._started = True
        self._on_message = on_message
        try:
            await self._open()
        except AuthError as exc:
            self._stop(exc)
            raise
        except ConnectError as exc:
            if self.reconnect is None or not await self._retry():
                self._stop(self.error or exc)
                raise (self.error or exc) from None
        self._group.create_task(self._run(), f"{self.name}:reader")

    async def _open(self) -> None:
        url = self.url
        extra: dict[str, Any] = {"ssl": self.ssl} if self.ssl is not None else {}
        try:
            conn = await ws_connect(
                url,
                additional_headers=self.headers or None,
                subprotocols=self.subprotocols or None,  # type: ignore[arg-type]
                compression=None,
                open_timeout=self.open_timeout,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                close_timeout=self.close_timeout,
                max_size=self.max_size,
                proxy=self.proxy,  # type: ignore[arg-type]
                logger=_client_logger(),
                **extra,
            )
        except InvalidStatus as exc:
            self.stats.failed_attempts += 1
            status = exc.response.status_code
            where = redact_text(url)
            if status in (401, 403):
                raise AuthError(f"{where}: refused with HTTP {status}", status=status) from None
            err = ConnectError(f"{where}: refused with HTTP {status}", status=status)
            err.retryable = status in (408, 429) or status >= 500
            raise err from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            self.stats.failed_attempts += 1
            err = ConnectError(f"{redact_text(url)}: {type(exc).__name__}: "
                               f"{redact_text(str(exc))}")
            err.retryable = not isinstance(exc, InvalidURI)
            raise err from None
        try:
            for message in self.serializer.open():
                await conn.send(message)
                self.stats.messages_out += 1
            held = self._held
            while held:  # sends made meanwhile join the buffer and go out too
                await conn.send(held.popleft())
                self.stats.messages_out += 1
        except ConnectionClosed as exc:
            self.stats.failed_attempts += 1
            raise ConnectError(f"{redact_text(url)}: closed while opening ({exc})") from None
        self._conn = conn
        self.stats.connects += 1
        await self.call_event_handler("on_connected")

    async def _retry(self) -> bool:
        """Reconnect with backoff; False when giving up (``error`` says why)."""
        backoff = self.reconnect
        if backoff is None:
            return False
        attempt = 0
        while not self._closing:
            attempt += 1
            if backoff.max_attempts is not None and attempt > backoff.max_attempts:
                self.error = ConnectError(
                    f"{redact_text(self.url)}: gave up after {backoff.max_attempts} attempts"
                )
                return False
            delay = backoff.delay(attempt)
            await self.call_event_handler("on_reconnecting", attempt, delay)
            await asyncio.sleep(delay)
            if self._closing:
                return False
            try:
                await self._open()
                return True
            except AuthError as exc:
                self.error = exc
                return False
            except ConnectError as exc:
                if not exc.retryable:
                    self.error = exc
                    return False
        return False

    def _should_reconnect(self, code: int | None) -> bool:
        if self._closing or self.reconnect is None:
            return False
        if code == 1000:
            return self.reconnect_on_normal_close
        return code is None or code in RETRY_CLOSE_CODES

    # -- the reader ----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                conn = self._conn
                if conn is None:
                    break
                code, reason = await self._read(conn)
                self._conn = None
                self.close_code = code
                await self.call_event_handler("on_disconnected", code, reason)
                if not self._should_reconnect(code) or not await self._retry():
                    break
        finally:
            self._conn = None
            self._stop(self.error)

    async def _read(self, conn: ClientConnection) -> tuple[int | None, str]:
        on_message = self._on_message
        stats = self.stats
        recv = conn.recv
        try:
            while True:
                message = await recv()
                stats.messages_in += 1
                if on_message is not None:
                    await on_message(message)
        except ConnectionClosed as exc:
            close = exc.rcvd or exc.sent
            return (close.code if close else 1006), (close.reason if close else "")
        except ProtocolError as exc:  # a fatal protocol error: close, do not come back
            self.error = exc
            self._closing = True
            await conn.close(exc.close_code, str(exc)[:120])
            return exc.close_code, "protocol error"

    # -- sending ---------------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Send one message, or buffer it while disconnected (see the module docstring)."""
        conn = self._conn
        if conn is not None:
            try:
                if not send_now(conn, message):
                    await conn.send(message)
                self.stats.messages_out += 1
                return
            except ConnectionClosed:
                pass
        self._hold(message)

    async def send_frame(self, frame: Frame) -> None:
        """Encode ``frame`` with the serializer and send the messages."""
        for message in self.serializer.encode(frame):
            await self.send(message)

    def _hold(self, message: Message) -> None:
        if self._closing or self.closed or self.buffer_size == 0:
            self.stats.dropped += 1
            return
        held = self._held
        if len(held) >= self.buffer_size:
            held.popleft()
            self.stats.dropped += 1
        held.append(message)
        self.stats.buffered += 1

    # -- closing ---------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Send the serializer's ``close()`` messages, close, stop the reader (bounded by
        ``close_timeout``). Idempotent."""
        self._closing = True
        conn = self._conn
        if conn is not None:
            try:
                async with asyncio.timeout(self.close_timeout):
                    for message in self.serializer.close():
                        await conn.send(message)
                        self.stats.messages_out += 1
                    await conn.close(code, reason)
            except (ConnectionClosed, TimeoutError):
                pass
        await self._group.close(self.close_timeout)
        if self._conn is not None:  # the reader was cancelled before it saw the close
            self._conn.transport.abort()
            self._conn = None
        self._stop(self.error)

    def _stop(self, error: Exception | None) -> None:
        self.error = error
        if self._held:
            self.stats.dropped += len(self._held)
            self._held.clear()
        self._done.set()

    async def __aenter__(self) -> WebSocketClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "connected" if self.connected else "idle"
        return f"<{self.name} {state}>"


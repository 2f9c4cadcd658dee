"""One connection of a :class:`~wavewire.transports.client.WebSocketClient`: opening it,
reading it, how it ended; and the client's counters and task owner.

:func:`dial` wraps ``websockets``' client handshake for
:class:`~wavewire.transports.client.WebSocketClient`: no compression, a redacting logger,
and each failure mapped per :mod:`.backoff` (HTTP refusals by status, a handshake that
takes longer than ``open_timeout`` → :class:`~wavewire.errors.ServiceTimeoutError`, DNS,
refused or broken handshakes → :class:`~wavewire.errors.ConnectError`).
:func:`read_messages` receives until the connection closes, passing each message on
and decoding it through the serializer (bad messages counted and reported; a fatal
:class:`~wavewire.errors.ProtocolError` closes with its ``close_code``).
:func:`close_of` reads how a connection ended from ``websockets``' exception.
:class:`HeldMessages` keeps what is sent while no connection is open.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from ..errors import ConnectError, ProtocolError, ServiceTimeoutError
from ..secrets import redact_text, redacting_logger
from .backoff import handshake_error

if TYPE_CHECKING:
    import ssl as ssl_module

    from ..frames import Frame
    from ..serializers.base import FrameSerializer, Message

__all__ = [
    "ClientStats",
    "HeldMessages",
    "TaskOwner",
    "dial",
    "read_messages",
    "close_of",
    "periodic_sender",
]

LOGGER_NAME = "wavewire.websockets.client"
"""The logger given to ``websockets`` (its debug output shows URLs, headers and frames;
a :class:`~wavewire.secrets.RedactingFilter` scrubs them)."""


class TaskOwner(Protocol):
    """Whoever owns a client's tasks: a
    :class:`~wavewire.pipelines.taskgroup.TaskGroup` or a processor."""

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str | None = None
                    ) -> asyncio.Task:
        """Start ``coro`` as a task this owner cancels when it closes."""
        ...


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
    """Messages sent (including ``open()``/``close()``, periodic and flushed ones)."""
    buffered: int = 0
    """Messages that waited in the buffer while disconnected."""
    dropped: int = 0
    """Messages dropped while disconnected (buffer full, cleared, or closed)."""
    cleared: int = 0
    """Of ``dropped``: held messages discarded by ``WebSocketClient.clear()``."""
    decode_errors: int = 0
    """Received messages the serializer (or ``on_message``) rejected."""
    periodic: int = 0
    """Messages sent by periodic hooks (keep-alives)."""


class HeldMessages:
    """Messages sent while disconnected, sent first on the next connection: at most
    ``size`` (the oldest dropped beyond); every message dropped is counted in
    ``stats.dropped``."""

    __slots__ = ("size", "_items", "_stats")

    def __init__(self, size: int, stats: ClientStats) -> None:
        self.size = max(0, size)
        self._items: deque[Message] = deque()
        self._stats = stats

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._items)

    def hold(self, message: Message) -> None:
        """Keep ``message`` (dropping the oldest if full)."""
        stats = self._stats
        if self.size == 0:
            stats.dropped += 1
            return
        items = self._items
        if len(items) >= self.size:
            items.popleft()
            stats.dropped += 1
        items.append(message)
        stats.buffered += 1

    def discard(self) -> int:
        """Drop everything held (counted); returns how many."""
        n = len(self._items)
        self._items.clear()
        self._stats.dropped += n
        return n

    async def flush(self, conn: ClientConnection) -> None:
        """Send everything held, in order, on ``conn`` (messages held meanwhile too);
        a message leaves the buffer once sent."""
        items, stats = self._items, self._stats
        while items:
            message = items[0]
            await conn.send(message)
            if items and items[0] is message:
                items.popleft()
            stats.messages_out += 1


async def dial(
    url: str,
    *,
    where: str,
    headers: Mapping[str, str] | None,
    subprotocols: Sequence[str] | None,
    open_timeout: float,
    ping_interval: float | None,
    ping_timeout: float | None,
    close_timeout: float,
    max_size: int | None,
    ssl: ssl_module.SSLContext | None,
    proxy: str | bool | None,
) -> ClientConnection:
    """Open a connection to ``url`` (``where`` is its redacted form, for messages).
    Raises :class:`~wavewire.errors.ServiceError` subclasses whose ``retryable`` says
    whether another attempt could succeed."""
    extra: dict[str, Any] = {"ssl": ssl} if ssl is not None else {}
    try:
        return await ws_connect(
            url,
            additional_headers=headers or None,
            subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
            compression=None,
            open_timeout=open_timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
            max_size=max_size,
            proxy=proxy,  # type: ignore[arg-type]
            logger=redacting_logger(LOGGER_NAME),
            **extra,
        )
    except InvalidStatus as exc:
        response = exc.response
        raise handshake_error(where, response.status_code, response.headers) from None
    except TimeoutError:
        raise ServiceTimeoutError(f"{where}: no handshake within {open_timeout:g} s") from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        err = ConnectError(f"{where}: {type(exc).__name__}: {redact_text(str(exc))}")
        err.retryable = not isinstance(exc, InvalidURI)
        raise err from None


def close_of(exc: ConnectionClosed) -> tuple[int, str, bool]:
    """``(code, reason, sent_by_us)`` of a closed connection: the close frame that came
    first, or 1006 when the TCP connection dropped without one."""
    rcvd, sent = exc.rcvd, exc.sent
    if rcvd is not None and (sent is None or exc.rcvd_then_sent):
        return rcvd.code, rcvd.reason, False
    if sent is not None:
        return sent.code, sent.reason, True
    return 1006, "", False


async def read_messages(
    conn: ClientConnection,
    serializer: FrameSerializer,
    stats: ClientStats,
    on_message: Callable[[Message], Awaitable[None]] | None,
    on_frames: Callable[[list[Frame]], Awaitable[None]] | None,
    on_bad: Callable[[ProtocolError], Awaitable[None]],
) -> tuple[int, str, bool, ProtocolError | None]:
    """Receive on ``conn`` until it closes; ``(code, reason, sent_by_us, error)``.

    Each message goes to ``on_message``, then (with ``on_frames``) is decoded and its
    frames passed on. A ``ProtocolError`` from either is counted; a non-fatal one goes to
    ``on_bad`` and reading goes on, a fatal one closes the connection with its
    ``close_code`` and is returned."""
    decode = serializer.decode
    recv = conn.recv
    try:
        while True:
            message = await recv()
            stats.messages_in += 1
            try:
                if on_message is not None:
                    await on_message(message)
                if on_frames is not None:
                    try:
                        frames = decode(message)
                    except ProtocolError:
                        raise
                    except Exception as exc:  # a serializer bug: a bad message all the same
                        raise ProtocolError(
                            f"{serializer.protocol}: cannot decode: {type(exc).__name__}: {exc}"
                        ) from exc
                    if frames:
                        await on_frames(frames)
            except ProtocolError as exc:
                stats.decode_errors += 1
                if exc.fatal:  # close, do not come back
                    await conn.close(exc.close_code, str(exc)[:120])
                    return exc.close_code, "protocol error", True, exc
                await on_bad(exc)
    except ConnectionClosed as closed:
        return (*close_of(closed), None)


def periodic_sender(
    conn: ClientConnection,
    current: Callable[[], ClientConnection | None],
    stats: ClientStats,
) -> Callable[[Message], Awaitable[bool]]:
    """How periodic messages go out on ``conn``: False (the ticker stops) once ``conn``
    is no longer the client's ``current()`` connection or has closed."""

    async def send(message: Message) -> bool:
        if current() is not conn:
            return False
        try:
            await conn.send(message)
        except ConnectionClosed:
            return False
        stats.messages_out += 1
        stats.periodic += 1
        return True

    return send

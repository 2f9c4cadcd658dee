"""What a :class:`~wavewire.transports.client.WebSocketClient` does on one open connection:
start it (:func:`open_messages`), read it (:func:`read_messages`), send its periodic
messages (:func:`periodic_sender`), end it (:func:`close_connection`) and stop the
client's tasks (:func:`stop_tasks`); and the client's counters (:class:`ClientStats`) and
task owner (:class:`TaskOwner`).

:func:`read_messages` receives until the connection closes, passing each message on and
decoding it through the serializer: a bad message is counted and reported, a fatal
:class:`~wavewire.errors.ProtocolError` closes with its ``close_code``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConnectionClosedError, ProtocolError
from .connection import Outbox, send

if TYPE_CHECKING:
    from ..frames import Frame
    from ..pipelines.taskgroup import TaskGroup
    from ..serializers.base import FrameSerializer, Message
    from .client_conn import ClientConnection

__all__ = ["ClientStats", "TaskOwner", "open_messages", "read_messages", "periodic_sender",
           "close_connection", "stop_tasks"]


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


async def open_messages(
    conn: ClientConnection,
    messages: Iterable[Message],
    outbox: Outbox,
    stats: ClientStats,
) -> None:
    """Start a new connection: send ``messages`` (the serializer's ``open()``), then what
    ``outbox`` held. If the connection closes meanwhile (``ConnectionClosedError``) or
    anything else goes wrong (cancelled, a serializer bug), it is dropped and the error
    raised; what was not sent stays in the outbox."""
    try:
        for message in messages:
            await send(conn, message)
            stats.messages_out += 1
        stats.messages_out += await outbox.flush(conn)
    except BaseException:
        conn.abort()
        raise


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
    except ConnectionClosedError:
        return (*conn.ended(), None)


def periodic_sender(
    conn: ClientConnection,
    current: Callable[[], ClientConnection | None],
    stats: ClientStats,
) -> Callable[[Message], Awaitable[bool]]:
    """How periodic messages go out on ``conn``: False (the ticker stops) once ``conn``
    is no longer the client's ``current()`` connection or has closed."""

    async def send_periodic(message: Message) -> bool:
        if current() is not conn:
            return False
        try:
            if not conn.send_nowait(message):
                await send(conn, message)
        except ConnectionClosedError:
            return False
        stats.messages_out += 1
        stats.periodic += 1
        return True

    return send_periodic


async def close_connection(conn: ClientConnection, messages: Iterable[Message],
                           stats: ClientStats, code: int, reason: str, *, drain: float,
                           timeout: float) -> None:
    """End ``conn``: send ``messages`` (the serializer's ``close()``); with ``drain``,
    wait up to that many seconds for the peer to close by itself (so the replies those
    messages asked for are received); then close with ``code`` and ``reason``. All of it
    within ``timeout + drain`` seconds; a connection that closes meanwhile is no error."""
    try:
        async with asyncio.timeout(timeout + max(0.0, drain)):
            for message in messages:
                await send(conn, message)
                stats.messages_out += 1
            if drain > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(drain):
                        await conn.wait_closed()
            await conn.close(code, reason)
    except (ConnectionClosedError, TimeoutError):
        pass


async def stop_tasks(tasks: set[asyncio.Task], group: TaskGroup, timeout: float) -> None:
    """Cancel ``tasks`` (but the current one) and close ``group``, waiting at most
    ``timeout`` seconds for each."""
    current = asyncio.current_task()
    running = [t for t in tasks if t is not current]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=timeout)
    await group.close(timeout)

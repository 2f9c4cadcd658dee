"""Timed messages of a :class:`~wavewire.transports.client.WebSocketClient`: keep-alives
and anything else a provider wants every so often (Deepgram's ``KeepAlive`` during
silence, a heartbeat…).

A :class:`PeriodicMessages` hook is registered with ``client.every(interval_s,
make_messages)`` and kept in the client's :class:`Schedule`. While a connection is
open, one ticker task (:func:`run_ticker`, started by the schedule on each connection,
owned by the client's owner and stopped when the connection drops) sleeps on the client's
clock until the earliest hook is due, calls its ``make_messages()`` and sends what it
returns. Each new connection re-arms every hook: the first messages go out
``interval_s`` after connecting. With ``idle_only`` a hook fires only after
``interval_s`` without any message sent by the client (a keep-alive during silence:
audio flowing postpones it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from ..log import logger

if TYPE_CHECKING:
    from ..clock import Clock
    from ..serializers.base import Message

__all__ = ["PeriodicMessages", "Schedule", "run_ticker"]


class PeriodicMessages:
    """One periodic hook (what :meth:`WebSocketClient.every` returns)."""

    __slots__ = ("interval", "make_messages", "idle_only", "last", "fired", "cancelled",
                 "_on_cancel")

    def __init__(
        self,
        interval: float,
        make_messages: Callable[[], Sequence[Message]],
        *,
        idle_only: bool = False,
        on_cancel: Callable[[PeriodicMessages], None] | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError("a periodic interval must be positive seconds")
        self.interval = interval
        """Seconds between two firings."""
        self.make_messages = make_messages
        """Called when due; returns the messages to send (may be empty)."""
        self.idle_only = idle_only
        """Fire only after ``interval`` seconds without any message sent."""
        self.last = 0.0
        """Clock time this hook last fired (or its connection opened)."""
        self.fired = 0
        """How many times it fired."""
        self.cancelled = False
        self._on_cancel = on_cancel

    def due(self, last_sent: float) -> float:
        """Clock time the hook is next due, given when the client last sent anything."""
        base = max(self.last, last_sent) if self.idle_only else self.last
        return base + self.interval

    def cancel(self) -> None:
        """Stop this hook (on every connection, present and future)."""
        if not self.cancelled:
            self.cancelled = True
            if self._on_cancel is not None:
                self._on_cancel(self)

    def __repr__(self) -> str:
        kind = "idle" if self.idle_only else "every"
        return f"<PeriodicMessages {kind} {self.interval:g}s fired={self.fired}>"


async def run_ticker(
    hooks: Sequence[PeriodicMessages],
    clock: Clock,
    last_sent: Callable[[], float],
    send: Callable[[Message], Awaitable[bool]],
) -> None:
    """Fire ``hooks`` on ``clock`` until none is left or ``send`` returns False (the
    connection is gone). ``hooks`` is read afresh each round (hooks may be added or
    cancelled meanwhile; the caller restarts the ticker when one is added)."""
    while True:
        live = [h for h in hooks if not h.cancelled]
        if not live:
            return
        now = clock.now()
        sent_at = last_sent()
        due_at = min(h.due(sent_at) for h in live)
        if due_at > now:
            await clock.sleep(due_at - now)
            continue
        for hook in live:
            if hook.cancelled or hook.due(last_sent()) > clock.now():
                continue
            hook.last = clock.now()
            hook.fired += 1
            try:
                messages = list(hook.make_messages())
            except Exception as exc:
                logger.warning(f"periodic messages {hook!r} failed: {type(exc).__name__}: {exc}")
                continue
            for message in messages:
                if not await send(message):
                    return


class Schedule:
    """The hooks of one client and the ticker task of its current connection.

    :param clock: what the ticker sleeps on.
    :param spawn: starts the ticker as a task the client's owner owns.
    :param last_sent: clock time the client last sent a message.
    """

    __slots__ = ("hooks", "_clock", "_spawn", "_last_sent", "_send", "_task")

    def __init__(
        self,
        clock: Clock,
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task],
        last_sent: Callable[[], float],
    ) -> None:
        self.hooks: list[PeriodicMessages] = []
        self._clock = clock
        self._spawn = spawn
        self._last_sent = last_sent
        self._send: Callable[[Message], Awaitable[bool]] | None = None
        self._task: asyncio.Task | None = None

    def add(self, interval: float, make_messages: Callable[[], Sequence[Message]],
            idle_only: bool) -> PeriodicMessages:
        """Register a hook; while a connection is open it is due ``interval`` from now."""
        hook = PeriodicMessages(interval, make_messages, idle_only=idle_only,
                                on_cancel=self.hooks.remove)
        hook.last = self._clock.now()
        self.hooks.append(hook)
        if self._send is not None:
            self.start(self._send, rearm=False)
        return hook

    def start(self, send: Callable[[Message], Awaitable[bool]], *, rearm: bool) -> None:
        """Run the hooks through ``send`` (one connection's); ``rearm``: a new connection,
        every hook is next due one interval from now."""
        self.stop()
        self._send = send
        if rearm:
            now = self._clock.now()
            for hook in self.hooks:
                hook.last = now
        if self.hooks:
            self._task = self._spawn(run_ticker(self.hooks, self._clock, self._last_sent, send))

    def stop(self) -> None:
        """Stop the ticker (the connection is gone)."""
        self._send = None
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

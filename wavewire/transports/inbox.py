"""Received messages and the task that consumes them: queued, or handled inline.

:class:`Inbox` is the receiving half of the server's connections (a mixin of
:class:`~wavewire.transports.wire.ServerConnection`): messages are taken with
:meth:`~Inbox.recv`, or handled by :meth:`~Inbox.consume`, which runs a handler for each,
in order, in the task that calls it. When more than ``max_queue`` messages wait unread,
the host pauses reading until half of them are taken.

The server handles a message that arrives while its consuming task is idle right away,
inside the transport's read callback: it makes that task the current task, runs the
handler's coroutine one step in the task's context, and restores the previous current
task. ``asyncio.current_task()``, ``asyncio.timeout()`` and context variables then behave
as they would in the task, and a handler that finishes without suspending (the usual
case for a voice frame) cost neither a future nor a task switch nor an extra event-loop
turn. If it suspends, the suspended coroutine is handed to the task, which completes
it before taking the next message, so order is kept.

Making a task current from outside it takes asyncio's private ``_enter_task`` and
``_leave_task`` (what asyncio's own eager tasks use; present in CPython 3.11-3.14).
This module is the only place that names them: :data:`enter_task` and
:data:`leave_task` are those functions, or ``None`` when asyncio lacks them (then
messages are simply queued for the task).
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Self

from ..errors import ConnectionClosedError

__all__ = ["Inbox", "Handler", "enter_task", "leave_task"]

try:
    from asyncio.tasks import _enter_task as enter_task
    from asyncio.tasks import _leave_task as leave_task
except ImportError:  # pragma: no cover - every CPython 3.11-3.14 has them
    enter_task = leave_task = None  # type: ignore[assignment]

Handler = Callable[[bytes | str], Coroutine[Any, Any, None]]
"""What handles one message: ``await handler(message)``."""

_DONE = object()
"""What a :func:`_pump` yields when it has finished a message."""


def _no_step(message: Any) -> Any:
    raise RuntimeError("no handler is running")


@types.coroutine
def _pump(handler: Handler) -> Generator[Any, Any, None]:
    """Runs ``await handler(message)`` for each message sent in, yielding ``_DONE``
    after each. Handling a message inline is then one ``send`` that returns ``_DONE``:
    no coroutine returns, so no ``StopIteration`` is raised per message. A handler's
    exception ends the pump (its owner starts a new one). Prime it with ``send(None)``."""
    message = yield _DONE
    while True:
        yield from handler(message)
        message = yield _DONE


@types.coroutine
def _finish(pump: Generator[Any, Any, None], yielded: Any,
           on_error: Callable[[Generator[Any, Any, None]], None]) -> Generator[Any, Any, None]:
    """Finish the message ``pump`` is handling, which suspended (yielding ``yielded``)
    while run inline: the consuming task awaits this and so takes over from that point,
    in its own context, until the pump is done. If the handler raises (or the task is
    cancelled through it), ``on_error(pump)`` is called before the error propagates."""
    while yielded is not _DONE:
        try:
            try:
                sent = yield yielded
            except BaseException as exc:  # cancellation and other throws go to the handler
                yielded = pump.throw(exc)
            else:
                yielded = pump.send(sent)
        except BaseException:
            on_error(pump)
            raise


async def _reraise(exc: BaseException) -> None:
    """Raise ``exc`` in the task that awaits this (a handler's error, caught inline)."""
    raise exc


class Inbox:
    """The receiving half of a connection, as a mixin (see the module docstring).

    The host calls :meth:`_init_inbox` from its ``__init__``, hands each message to
    :meth:`_deliver`, calls :meth:`_end_input` once no more messages will come, and
    provides ``_closed_error()`` (what a receive raises then), ``_pause_reading()`` and
    ``_resume_reading()`` (which clears ``_reading_paused`` if it resumed).
    """

    _loop: asyncio.AbstractEventLoop
    max_queue: int

    def _init_inbox(self, loop: asyncio.AbstractEventLoop, max_queue: int) -> None:
        self._loop = loop
        self.max_queue = max(2, max_queue)
        """Received messages held unread before reading pauses."""
        self._inbox: deque[bytes | str] = deque()
        self._eof = False  # no more messages will come
        self._reading_paused = False
        self._waiter: asyncio.Future[Any] | None = None  # the idle consumer's
        self._handler: Handler | None = None
        self._handler_task: asyncio.Task[Any] | None = None
        self._handler_context: contextvars.Context | None = None
        self._running: Generator[Any, Any, None] | None = None  # runs the handler inline
        self._step: Callable[[Any], Any] = _no_step  # its ``send``, bound once (not per message)

    def _closed_error(self) -> ConnectionClosedError:
        raise NotImplementedError

    def _pause_reading(self) -> None:
        raise NotImplementedError

    def _resume_reading(self) -> None:
        raise NotImplementedError

    def _deliver(self, message: bytes | str) -> None:
        """A message arrived: handle it now as the idle consumer, or queue it."""
        inbox = self._inbox
        waiter = self._waiter
        context = self._handler_context
        if context is not None and not inbox and waiter is not None and not waiter.done():
            # The consuming task is idle: handle the message here, as that task.
            task = self._handler_task
            running = self._running
            if running is None:
                assert self._handler is not None
                running = self._running = _pump(self._handler)
                self._step = running.send
                running.send(None)  # to its first yield: no handler code runs yet
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
                    yielded = context.run(self._step, message)
                except BaseException as exc:  # the task raises it where it waits
                    self._running, self._step = None, _no_step
                    waiter.set_result(_reraise(exc))
                    return
                finally:
                    leave_task(self._loop, task)
                if yielded is not _DONE:  # it suspended
                    waiter.set_result(_finish(running, yielded, self._forget))
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
            self._pause_reading()

    def _forget(self, running: Generator[Any, Any, None]) -> None:
        if self._running is running:
            self._running, self._step = None, _no_step

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end_input(self) -> None:
        """No more messages will come: a waiting reader wakes up to that."""
        self._eof = True
        self._wake_reader()

    async def recv(self) -> bytes | str:
        """The next message (``bytes`` or ``str``);
        :class:`~wavewire.errors.ConnectionClosedError` when there is none and none will
        come. (Not while :meth:`consume` runs.)"""
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
        """Runs ``await handler(message)`` for every message, in order, until no more
        will come (then raises :class:`~wavewire.errors.ConnectionClosedError`; a
        handler's exception propagates). Messages that arrive while the handler is idle run inline (see the
        module docstring) when ``context`` is the calling task's context -- create the
        task with ``context=`` to allow it (on Python 3.12+ the task's own context is
        used)."""
        task = asyncio.current_task()
        if context is None and task is not None and hasattr(task, "get_context"):
            context = task.get_context()
        self._handler = handler
        self._handler_task = task
        if enter_task is not None and task is not None:
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
            self._running, self._step = None, _no_step

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes | str:
        try:
            return await self.recv()
        except ConnectionClosedError:
            raise StopAsyncIteration from None

    @property
    def pending(self) -> int:
        """Messages received and not taken yet."""
        return len(self._inbox)

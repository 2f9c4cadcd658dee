"""Running a task's handler inline, from a protocol callback, *as* that task.

The server handles a message that arrives while its consuming task is idle right away,
inside the transport's read callback: it makes that task the current task, runs the
handler's coroutine one step in the task's context, and restores the previous current
task. ``asyncio.current_task()``, ``asyncio.timeout()`` and context variables then behave
as they would in the task, and a handler that finishes without suspending (the usual
case for a voice frame) cost neither a future nor a task switch nor an extra event-loop
turn. If it suspends, the suspended coroutine is handed to the task (:func:`finish`),
which completes it before taking the next message, so order is kept.

Making a task current from outside it takes asyncio's private ``_enter_task`` and
``_leave_task`` (what asyncio's own eager tasks use; present in CPython 3.11-3.14).
This module is the only place that names them: :data:`enter_task` and
:data:`leave_task` are those functions, or ``None`` when asyncio lacks them (then
messages are simply queued for the task).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["enter_task", "leave_task", "DONE", "Handler", "pump", "finish", "reraise"]

try:
    from asyncio.tasks import _enter_task as enter_task
    from asyncio.tasks import _leave_task as leave_task
except ImportError:  # pragma: no cover - every CPython 3.11-3.14 has them
    enter_task = leave_task = None  # type: ignore[assignment]

Handler = Callable[[bytes | str], Coroutine[Any, Any, None]]
"""What handles one message: ``await handler(message)``."""

DONE = object()
"""What a :func:`pump` yields when it has finished a message."""


@types.coroutine
def pump(handler: Handler) -> Generator[Any, Any, None]:
    """Runs ``await handler(message)`` for each message sent in, yielding :data:`DONE`
    after each. Handling a message inline is then one ``send`` that returns ``DONE``:
    no coroutine returns, so no ``StopIteration`` is raised per message. A handler's
    exception ends the pump (its owner starts a new one). Prime it with ``send(None)``."""
    message = yield DONE
    while True:
        yield from handler(message)
        message = yield DONE


@types.coroutine
def finish(pump: Generator[Any, Any, None], yielded: Any,
           on_error: Callable[[Generator[Any, Any, None]], None]) -> Generator[Any, Any, None]:
    """Finish the message ``pump`` is handling, which suspended (yielding ``yielded``)
    while run inline: the consuming task awaits this and so takes over from that point,
    in its own context, until the pump is done. If the handler raises (or the task is
    cancelled through it), ``on_error(pump)`` is called before the error propagates."""
    while yielded is not DONE:
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


async def reraise(exc: BaseException) -> None:
    """Raise ``exc`` in the task that awaits this (a handler's error, caught inline)."""
    raise exc

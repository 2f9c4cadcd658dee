"""A task group (:class:`TaskGroup`): every background task of a pipeline task (and of the
server) belongs to one, and closing it cancels them all within a deadline (trio's
nurseries, for asyncio code that cannot use ``async with`` around a whole session)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from ..errors import InvalidStateError

__all__ = ["TaskGroup"]


class TaskGroup:
    """Owns tasks; reports a task's unexpected exception to ``on_error``."""

    __slots__ = ("name", "_tasks", "_on_error", "_closed")

    def __init__(
        self, name: str, on_error: Callable[[BaseException, asyncio.Task], None] | None = None
    ) -> None:
        self.name = name
        self._tasks: set[asyncio.Task] = set()
        self._on_error = on_error
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> frozenset[asyncio.Task]:
        """The tasks still running."""
        return frozenset(self._tasks)

    def create_task(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str | None = None,
        *,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task:
        """Start ``coro`` as a task of this group (in ``context`` if given)."""
        if self._closed:
            coro.close()
            raise InvalidStateError(f"{self.name}: session is closed, no new tasks")
        task = asyncio.get_running_loop().create_task(coro, name=name, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self._on_error is not None:
            self._on_error(exc, task)

    async def close(self, timeout: float) -> int:
        """Cancel every task and wait up to ``timeout`` seconds for them to finish.

        Returns how many did not finish in time (they stay cancelled)."""
        self._closed = True
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if not tasks:
            return 0
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return len(pending)


SessionTaskGroup = TaskGroup
"""Former name of :class:`TaskGroup`."""

"""``TaskContext``: what a processor sees of the task it runs in.

A processor reaches its task only through this small interface: the task's clock, its
interruption epoch, whether it takes input, its task group (``create_task``) and its
drop counters. :class:`~wavewire.PipelineTask` is the real one; a plain
``TaskContext()`` stands in for a processor that is not attached to a task yet (it
passes input on, refuses background work and counts nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import InvalidStateError
from ..frames import InterruptionFrame
from .direction import DOWNSTREAM

if TYPE_CHECKING:
    from ..clock import Clock
    from .base import FrameProcessor

__all__ = ["TaskContext", "SessionContext"]


class TaskContext:
    """What a processor sees of the task it runs in (its clock, epoch, task group and drop
    counters). :class:`~wavewire.PipelineTask` is one; this base stands in for processors
    that are not attached to a task yet."""

    epoch: int = 0
    """Interruption epoch: how many interruptions this session has seen."""

    accepting: bool = True
    """The session takes input (a task: while starting, running or ending; a processor
    not attached to a task yet passes input straight on)."""

    @property
    def clock(self) -> Clock:
        from ..clock import MonotonicClock

        return MonotonicClock()

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        coro.close()
        raise InvalidStateError("processor is not attached to a running session")

    def count_drop(self, reason: str, n: int = 1) -> None:
        """Count frames dropped for ``reason``."""

    async def interrupt(self, origin: FrameProcessor) -> None:
        """Advance the epoch and send an interruption through the whole pipeline."""
        await origin.push(InterruptionFrame(), DOWNSTREAM)


SessionContext = TaskContext
"""Former name of :class:`TaskContext`."""


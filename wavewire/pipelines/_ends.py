"""The two processors a :class:`~.task.PipelineTask` puts around its pipeline.

:class:`TaskSource` is the head: frames queued from outside enter the pipeline here, and
frames travelling upstream end here (an ErrorFrame is reported, an end or cancel request
is acted on). :class:`TaskSink` is the tail: it discards data frames older than the
last interruption (counted), counts what reaches the end, notes activity for the idle
timeout and sees the EndFrame that finishes a graceful end. Both are parts of the task
and call its private hooks, which is why this module is private to the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..frames import DATA, CancelTaskFrame, EndFrame, EndTaskFrame, ErrorFrame, Frame
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

if TYPE_CHECKING:
    from .task import PipelineTask

__all__ = ["TaskSource", "TaskSink"]


class TaskSource(FrameProcessor):
    """Head of every session: frames from outside enter here; upstream frames end here."""

    def __init__(self, task: PipelineTask) -> None:
        super().__init__(name=f"{task.name}::source")
        self._owner = task
        self.upstream_hook: Any = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is DOWNSTREAM:
            await self.push(frame, DOWNSTREAM)
            return
        task = self._owner
        if isinstance(frame, ErrorFrame):
            await task._on_error(frame)
        elif isinstance(frame, EndTaskFrame):
            task._schedule_end(frame.reason or "end requested")
        elif isinstance(frame, CancelTaskFrame):
            task._request_cancel(frame.reason or "cancel requested")
        hook = self.upstream_hook
        if hook is not None:
            hook(frame)


class TaskSink(FrameProcessor):
    """Tail of every session: drops stale data, tracks activity, sees the EndFrame."""

    def __init__(self, task: PipelineTask) -> None:
        super().__init__(name=f"{task.name}::sink")
        self._owner = task
        self.downstream_hook: Any = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        task = self._owner
        if direction is UPSTREAM:
            await self.push(frame, UPSTREAM)
            return
        if frame.tier == DATA and frame.epoch < task.epoch:
            task.count_drop(f"{self.name}:stale")
            return
        task.stats.frames_out += 1
        if task._idle_frames and isinstance(frame, task._idle_frames):
            task._last_activity = task.clock.now()
        hook = self.downstream_hook
        if hook is not None:
            hook(frame)
        if isinstance(frame, EndFrame):
            task._end_reached(frame)

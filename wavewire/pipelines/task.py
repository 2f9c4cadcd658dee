"""``PipelineTask``: one session (a call, a connection, or a pair of connections).

It owns the session's task group, its interruption epoch, its clock and its
statistics, and walks the lifecycle table of :mod:`.lifecycle`: an illegal transition
raises :class:`~wavewire.errors.InvalidStateError`, so "send after close" cannot happen
quietly. :class:`EndFrame` drains (everything queued before it is delivered) within
``end_timeout``; :class:`CancelFrame` stops at once. When the task is closed every task
it started is gone.

An idle session costs one asyncio task (the one running :meth:`PipelineTask.run`):
timers use the clock's ``call_later``, and frames queued from outside are pushed
directly into the pipeline by the caller.

Its parts live beside it (and are importable from here): settings and counters in
:mod:`.params`, states in :mod:`.lifecycle`, the processors at the pipeline's two ends
in ``_ends``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..clock import Clock, MonotonicClock
from ..errors import InvalidStateError
from ..events import EventEmitter
from ..frames import CancelFrame, EndFrame, ErrorFrame, Frame, InterruptionFrame, StartFrame
from ..log import logger
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor, TaskContext
from ._ends import TaskSink, TaskSource
from .lifecycle import _ACCEPTING, _TRANSITIONS, TaskState
from .observers import BaseObserver, observe_pushes
from .params import DEFAULT_IDLE_FRAMES as DEFAULT_IDLE_FRAMES
from .params import PipelineParams, TaskStats
from .pipeline import Pipeline
from .taskgroup import TaskGroup
from .timeouts import Timeouts

__all__ = ["TaskState", "PipelineParams", "TaskStats", "PipelineTask"]

_task_ids = itertools.count()


class PipelineTask(TaskContext, EventEmitter):
    """Runs one pipeline as one session.

    :param pipeline: a processor (usually a :class:`Pipeline`) or a list of processors.
    :param params: session settings.
    :param observers: see every push (no cost when empty).
    :param clock: the session's clock (tests pass a ``FakeClock``).

    Events: ``on_pipeline_started(task, frame)``, ``on_pipeline_ended(task, frame)``
    (after a graceful end *or* a cancel; the frame says which),
    ``on_pipeline_cancelled(task, frame)``, ``on_pipeline_error(task, error_frame)``,
    ``on_idle_timeout(task)``.
    """

    def __init__(
        self,
        pipeline: FrameProcessor | Sequence[FrameProcessor],
        *,
        params: PipelineParams | None = None,
        observers: Iterable[BaseObserver] = (),
        clock: Clock | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name or f"PipelineTask#{next(_task_ids)}"
        self.params = params or PipelineParams()
        self.epoch = 0
        self.stats = TaskStats()
        self._clock: Clock = clock or MonotonicClock()
        if not isinstance(pipeline, FrameProcessor):
            pipeline = Pipeline(list(pipeline))
        self.pipeline = pipeline
        self._source = TaskSource(self)
        self._sink = TaskSink(self)
        self._source.link(pipeline)
        pipeline.link(self._sink)
        self._procs: list[FrameProcessor] = [self._source, *pipeline.processors(), self._sink]
        self._state = TaskState.IDLE
        self.accepting = False
        self._pending: list[tuple[Frame, FrameDirection]] = []
        self._done: asyncio.Future[tuple[str, Any]] | None = None
        self._closed = asyncio.Event()
        self._started = asyncio.Event()
        self._group: TaskGroup | None = None
        self._run_task: asyncio.Task | None = None
        self.timeouts = Timeouts(self._clock)
        """Every timer of this session (:mod:`.timeouts`), cancelled when it ends."""
        self._idle_frames = self.params.idle_frames if self.params.idle_timeout else ()
        self._last_activity = 0.0
        self._observers = list(observers)
        if self._observers:
            for proc in self._procs:
                observe_pushes(proc, self._observers, self._clock)
        self._init_events(
            "on_pipeline_started",
            "on_pipeline_ended",
            "on_pipeline_cancelled",
            "on_pipeline_error",
            "on_idle_timeout",
        )

    # -- state ---------------------------------------------------------------------

    @property
    def state(self) -> TaskState:
        """Where the session is in its lifecycle."""
        return self._state

    @property
    def clock(self) -> Clock:
        return self._clock

    def has_finished(self) -> bool:
        """True once the session is closed."""
        return self._state is TaskState.CLOSED

    def _transition(self, event: str) -> None:
        nxt = _TRANSITIONS.get((self._state, event))
        if nxt is None:
            raise InvalidStateError(f"{self.name}: cannot {event} while {self._state.value}")
        self._state = nxt
        self.accepting = nxt in _ACCEPTING

    def set_taps(
        self,
        down: Callable[[Frame], None] | None = None,
        up: Callable[[Frame], None] | None = None,
    ) -> None:
        """See every frame that reaches the end of the pipeline (``down``, after stale data
        was discarded) or its top (``up``). For tests and diagnostics; keep them quick."""
        self._sink.downstream_hook = down
        self._source.upstream_hook = up

    # -- TaskContext ------------------------------------------------------------

    def create_task(self, coro: Any, name: str | None = None) -> asyncio.Task:
        group = self._group
        if group is None:
            coro.close()
            raise InvalidStateError(f"{self.name}: not running, cannot start {name or 'a task'}")
        return group.create_task(coro, name)

    @property
    def tasks(self) -> frozenset[asyncio.Task]:
        """Background tasks the session owns right now."""
        return self._group.tasks if self._group is not None else frozenset()

    def count_drop(self, reason: str, n: int = 1) -> None:
        dropped = self.stats.dropped
        dropped[reason] = dropped.get(reason, 0) + n

    async def interrupt(self, origin: FrameProcessor | None = None) -> None:
        """Advance the epoch and send an InterruptionFrame from the top of the pipeline."""
        await self._source.push(InterruptionFrame(), DOWNSTREAM)

    # -- frames from outside -------------------------------------------------------

    async def queue_frame(self, frame: Frame, direction: FrameDirection = DOWNSTREAM) -> None:
        """Send a frame into the session: downstream from the top (default) or upstream
        from the bottom. Before the session runs, frames wait and go in after start."""
        self.stats.frames_queued += 1
        state = self._state
        if state is TaskState.RUNNING or state is TaskState.ENDING:
            if isinstance(frame, EndFrame):
                if state is TaskState.ENDING:
                    return  # already draining; one EndFrame is enough
                self._begin_end()
            elif isinstance(frame, CancelFrame):
                self._request_cancel(frame.reason or "cancel frame")
                return
            if direction is DOWNSTREAM:
                await self._source.push(frame, DOWNSTREAM)
            else:
                await self._sink.push(frame, UPSTREAM)
        elif state is TaskState.IDLE or state is TaskState.STARTING:
            if len(self._pending) >= 10_000:
                raise InvalidStateError(f"{self.name}: too many frames queued before start")
            self._pending.append((frame, direction))
        elif state is TaskState.CANCELLING:
            self.count_drop("task:cancelling")
        else:
            raise InvalidStateError(f"{self.name}: closed, cannot queue {frame.name}")

    async def queue_frames(self, frames: Iterable[Frame]) -> None:
        """:meth:`queue_frame` for each frame, in order."""
        for frame in frames:
            await self.queue_frame(frame)

    async def stop_when_done(self, reason: str = "") -> None:
        """End gracefully: an EndFrame drains the pipeline (within ``end_timeout``).

        Returns at once; the EndFrame travels in a task the session owns, so a processor
        that holds it cannot trap the caller (:meth:`wait_closed` waits for the end)."""
        state = self._state
        if state is TaskState.RUNNING:
            self._begin_end()
            self.create_task(self._source.push(EndFrame(reason), DOWNSTREAM), "end")
        elif state is TaskState.IDLE or state is TaskState.STARTING:
            await self.queue_frame(EndFrame(reason))

    async def cancel(self, reason: str = "cancelled", *, timeout: float | None = None) -> None:
        """Stop at once. Waits (up to ``cancel_timeout`` + slack) for the session to close
        unless called from inside the session itself."""
        if self._state is TaskState.IDLE:
            self._transition("cancel")
            self._started.set()
            self._closed.set()
            return
        self._request_cancel(reason)
        current = asyncio.current_task()
        if current is self._run_task or (self._group and current in self._group.tasks):
            return
        wait = timeout if timeout is not None else self.params.cancel_timeout * 3 + 1.0
        try:
            await asyncio.wait_for(self._closed.wait(), wait)
        except TimeoutError:
            logger.warning(f"{self.name}: did not close within {wait:.1f}s of cancel")

    async def wait_started(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the session runs (or has already ended);
        True if it is running."""
        try:
            await asyncio.wait_for(self._started.wait(), timeout)
        except TimeoutError:
            return False
        return self._state is TaskState.RUNNING or self._state is TaskState.ENDING

    async def wait_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the session to close; True if it did."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # -- internal transitions ------------------------------------------------------

    def _begin_end(self) -> None:
        self._transition("end")
        self.timeouts.after(self.params.end_timeout, self._end_overdue)

    def _end_overdue(self) -> None:
        if self._state is TaskState.ENDING:
            logger.warning(
                f"{self.name}: EndFrame did not drain in {self.params.end_timeout}s, cancelling"
            )
            self.count_drop("task:end-timeout")
            self._request_cancel("end timeout")

    def _end_reached(self, frame: EndFrame) -> None:
        if self._state is TaskState.RUNNING:  # an EndFrame pushed from inside the pipeline
            self._transition("end")
        if self._done is not None and not self._done.done():
            self._done.set_result(("ended", frame))

    def _request_cancel(self, reason: str) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(("cancel", reason))

    def _schedule_end(self, reason: str) -> None:
        if self._state is TaskState.RUNNING:
            self._begin_end()
            self.create_task(self._source.push(EndFrame(reason), DOWNSTREAM), "end")

    async def _on_error(self, frame: ErrorFrame) -> None:
        self.stats.errors += 1
        logger.warning(f"{self.name}: {frame.error}{' (fatal)' if frame.fatal else ''}")
        await self.call_event_handler("on_pipeline_error", frame)
        if frame.fatal:
            self._request_cancel(f"fatal error: {frame.error}")

    def _task_failed(self, exc: BaseException, task: asyncio.Task) -> None:
        err = ErrorFrame(
            f"task {task.get_name()} failed: {type(exc).__name__}: {exc}", exception=exc
        )
        if self._group is not None and self._state in (TaskState.RUNNING, TaskState.ENDING):
            self._group.create_task(self._on_error(err), "error")
        else:
            self.stats.errors += 1

    def _idle_check(self) -> None:
        timeout = self.params.idle_timeout
        if timeout is None or self._state is not TaskState.RUNNING:
            return
        idle_for = self._clock.now() - self._last_activity
        if idle_for >= timeout:
            self.create_task(self._idle_fired(), "idle-timeout")
        else:
            self.timeouts.after(timeout - idle_for, self._idle_check)

    async def _idle_fired(self) -> None:
        await self.call_event_handler("on_idle_timeout")
        if self.params.cancel_on_idle_timeout:
            self._request_cancel("idle timeout")
        elif self.params.idle_timeout is not None:
            self._last_activity = self._clock.now()
            self.timeouts.after(self.params.idle_timeout, self._idle_check)

    def _max_duration_reached(self) -> None:
        self._schedule_end("max duration")

    # -- running -------------------------------------------------------------------

    async def run(self) -> None:
        """Run the session until it ends or is cancelled; everything it started is gone
        when this returns."""
        self._transition("start")
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._run_task = asyncio.current_task()
        self._group = TaskGroup(self.name, on_error=self._task_failed)
        params = self.params
        start = StartFrame(
            sample_rate=params.sample_rate,
            num_channels=params.num_channels,
            allow_interruptions=params.allow_interruptions,
            metadata=dict(params.metadata),
        )
        external_cancel = False
        outcome: tuple[str, Any] = ("cancel", "start failed")
        try:
            try:
                for proc in self._procs:
                    await proc._attach(self, start)
                await self._source.push(start, DOWNSTREAM)
            except Exception as exc:
                await self._on_error(
                    ErrorFrame(f"start failed: {type(exc).__name__}: {exc}", exception=exc)
                )
                self._request_cancel("start failed")
            if self._state is TaskState.STARTING and not self._done.done():
                self._transition("started")
                self._started.set()
                await self.call_event_handler("on_pipeline_started", start)
                self._arm_timers()
                pending, self._pending = self._pending, []
                for frame, direction in pending:
                    if self._state not in (TaskState.RUNNING, TaskState.ENDING):
                        break
                    await self.queue_frame(frame, direction)
                self.stats.frames_queued -= len(pending)
            outcome = await self._done
        except asyncio.CancelledError:
            external_cancel = True
            outcome = ("cancel", "run() cancelled")
        finally:
            await self._shutdown(outcome)
        if external_cancel:
            raise asyncio.CancelledError

    def _arm_timers(self) -> None:
        params, clock = self.params, self._clock
        if params.idle_timeout:
            self._last_activity = clock.now()
            self.timeouts.after(params.idle_timeout, self._idle_check)
        if params.max_duration:
            self.timeouts.after(params.max_duration, self._max_duration_reached)

    async def _shutdown(self, outcome: tuple[str, Any]) -> None:
        kind, detail = outcome
        self.timeouts.cancel()
        timeout = self.params.cancel_timeout
        final: EndFrame | CancelFrame
        if kind == "ended":
            final = detail
        else:
            final = CancelFrame(str(detail))
            if self._state is not TaskState.CANCELLING:
                self._transition("cancel")
            try:
                async with asyncio.timeout(timeout):
                    await self._source.push(final, DOWNSTREAM)
            except (TimeoutError, Exception) as exc:
                logger.warning(f"{self.name}: CancelFrame did not go through cleanly: {exc!r}")
        for proc in self._procs:
            try:
                async with asyncio.timeout(timeout):
                    await proc._detach(final)
            except (TimeoutError, Exception) as exc:
                self.stats.errors += 1
                logger.warning(f"{self.name}: {proc.name} failed to stop: {exc!r}")
        assert self._group is not None
        stuck = await self._group.close(timeout)
        if stuck:
            logger.warning(f"{self.name}: {stuck} task(s) did not stop within {timeout}s")
        self._pending.clear()
        self._transition("ended" if kind == "ended" else "cancelled")
        self._started.set()  # nobody waits for a start that will never come
        self._closed.set()
        if kind != "ended":
            await self.call_event_handler("on_pipeline_cancelled", final)
        await self.call_event_handler("on_pipeline_ended", final)

    def __repr__(self) -> str:
        return f"<{self.name} {self._state.value}>"

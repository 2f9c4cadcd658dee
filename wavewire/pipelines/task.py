"""``PipelineTask``: one session (a call, a connection, or a pair of connections).

It owns the session's task group, its interruption epoch, its clock and its
statistics, and walks an explicit lifecycle table::

    IDLE ──start──▶ STARTING ──started──▶ RUNNING ──end──▶ ENDING ──ended──▶ CLOSED
      │                │                     │               │
      └──cancel──▶ CLOSED  └─────cancel──────┴────cancel─────┴──▶ CANCELLING ──cancelled──▶ CLOSED

An illegal transition raises :class:`~wavewire.errors.InvalidStateError`, so "send after
close" cannot happen quietly. :class:`EndFrame` drains (everything queued before it is
delivered) within ``end_timeout``; :class:`CancelFrame` stops at once. When the task is
closed every task it started is gone.

An idle session costs one asyncio task (the one running :meth:`PipelineTask.run`):
timers use the clock's ``call_later``, and frames queued from outside are pushed
directly into the pipeline by the caller.
"""

from __future__ import annotations

import asyncio
import itertools
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .._log import logger
from ..clock import Clock, MonotonicClock
from ..errors import InvalidStateError
from ..events import EventEmitter
from ..frames import (
    DATA,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    ErrorFrame,
    Frame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    StartFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from ..processors.base import (
    DOWNSTREAM,
    UPSTREAM,
    FrameDirection,
    FrameProcessor,
    TaskContext,
)
from .observers import BaseObserver, FramePushed
from .pipeline import Pipeline
from .taskgroup import TaskGroup
from .timeouts import Timeouts

__all__ = ["TaskState", "PipelineParams", "TaskStats", "PipelineTask"]

_task_ids = itertools.count()


class TaskState(Enum):
    """Lifecycle states of a session."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    ENDING = "ending"
    CANCELLING = "cancelling"
    CLOSED = "closed"


_S = TaskState
_ACCEPTING = frozenset({_S.STARTING, _S.RUNNING, _S.ENDING})
_TRANSITIONS: dict[tuple[TaskState, str], TaskState] = {
    (_S.IDLE, "start"): _S.STARTING,
    (_S.IDLE, "cancel"): _S.CLOSED,
    (_S.STARTING, "started"): _S.RUNNING,
    (_S.STARTING, "cancel"): _S.CANCELLING,
    (_S.RUNNING, "end"): _S.ENDING,
    (_S.RUNNING, "cancel"): _S.CANCELLING,
    (_S.ENDING, "ended"): _S.CLOSED,
    (_S.ENDING, "cancel"): _S.CANCELLING,
    (_S.CANCELLING, "cancelled"): _S.CLOSED,
}
"""The lifecycle table: (state, event) → next state. Anything else is illegal."""


DEFAULT_IDLE_FRAMES: tuple[type[Frame], ...] = (
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    TranscriptionFrame,
    InterimTranscriptionFrame,
)


@dataclass(slots=True)
class PipelineParams:
    """Settings of one session."""

    sample_rate: int = 16000
    """The pipeline's audio rate; edges convert to and from it."""
    num_channels: int = 1
    """The pipeline's channel count."""
    allow_interruptions: bool = True
    """Whether user speech may interrupt the bot."""
    idle_timeout: float | None = None
    """Seconds without activity (see ``idle_frames``) before ``on_idle_timeout``."""
    idle_frames: tuple[type[Frame], ...] = DEFAULT_IDLE_FRAMES
    """Frames that count as activity for the idle timeout."""
    cancel_on_idle_timeout: bool = True
    """Cancel the session when the idle timeout fires (else only the event fires)."""
    max_duration: float | None = None
    """Absolute session limit in seconds: then the session ends (and drains)."""
    end_timeout: float = 10.0
    """Deadline for an EndFrame to drain through the pipeline before cancelling."""
    cancel_timeout: float = 2.0
    """Deadline for the CancelFrame, hooks and tasks when cancelling."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Copied into the StartFrame."""


@dataclass(slots=True)
class TaskStats:
    """What happened in a session. Every drop is counted by reason."""

    frames_queued: int = 0
    """Frames given to :meth:`PipelineTask.queue_frame`."""
    frames_out: int = 0
    """Frames that reached the end of the pipeline."""
    errors: int = 0
    """ErrorFrames that reached the session."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Frames dropped, by ``processor:reason``."""

    @property
    def total_dropped(self) -> int:
        """All drops together."""
        return sum(self.dropped.values())


class _TaskSource(FrameProcessor):
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


class _TaskSink(FrameProcessor):
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
        self._source = _TaskSource(self)
        self._sink = _TaskSink(self)
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
                self._observe(proc)
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

    # -- observers -------------------------------------------------------------------

    def _observe(self, proc: FrameProcessor) -> None:
        observers = self._observers
        clock = self._clock
        plain_push = FrameProcessor.push

        async def observed_push(
            self_: FrameProcessor, frame: Frame, direction: FrameDirection = DOWNSTREAM
        ) -> None:
            dest = self_._next if direction is DOWNSTREAM else self_._prev
            data = FramePushed(self_, dest, frame, direction, clock.now())
            for obs in observers:
                await obs.on_push_frame(data)
            await plain_push(self_, frame, direction)

        proc.push = types.MethodType(observed_push, proc)  # type: ignore[method-assign]

    def __repr__(self) -> str:
        return f"<{self.name} {self._state.value}>"

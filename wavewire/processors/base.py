"""``FrameProcessor``: the unit of a pipeline, and how frames move between processors.

Passing a frame on is a direct ``await`` of the next processor's :meth:`process_frame`:
no task and no queue per processor (Pipecat spends ~10-18 µs per hop on those; a direct
hop costs a fraction of a microsecond). Concurrency exists only where a processor asks
for it with ``queued=True``: it then gets one bounded queue and one worker task. System
frames overtake that queue (they are processed at once, in the caller's task) and an
interruption empties it of data frames.

The pieces a processor is built from live in their own modules and are importable from
here too: :mod:`.direction` (``FrameDirection``), :mod:`.taskcontext` (``TaskContext``,
what a processor sees of its task) and :mod:`.queue` (``FrameQueue``, the queue of a
queued processor; the worker that drains it is :meth:`FrameProcessor._work`).

Writing a processor::

    class Upper(FrameProcessor):
        async def process_frame(self, frame, direction):
            if isinstance(frame, TextFrame):
                frame = TextFrame(frame.text.upper())
            await self.push(frame, direction)

Rules of the road:

* Push every frame you do not consume, in the direction it came (the default
  :meth:`process_frame` does exactly that). Always pass lifecycle frames on.
* A processor may be entered from two tasks at once (the transport's reader and a
  service's receive task): do not keep state across an ``await`` that another frame
  could change under you.
* Use :meth:`create_task` for background work: the task belongs to the session and is
  cancelled when it ends. Never use ``asyncio.create_task`` directly.
* An exception raised by :meth:`process_frame` becomes an :class:`ErrorFrame` pushed
  upstream from the failing processor; the session decides what happens (fatal errors
  cancel it). The frame that failed is counted as dropped.
* To interrupt the bot, ``await self.interrupt()``: the session's epoch advances and an
  :class:`InterruptionFrame` travels from the top of the pipeline to every processor.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import clip
from ..events import EventEmitter
from ..frames import (
    DATA,
    SYSTEM,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    StartFrame,
)
from .direction import DOWNSTREAM, UPSTREAM, FrameDirection
from .queue import FrameQueue
from .taskcontext import SessionContext, TaskContext

if TYPE_CHECKING:
    from ..clock import Clock

__all__ = [
    "FrameDirection",
    "DOWNSTREAM",
    "UPSTREAM",
    "FrameProcessor",
    "FrameQueue",
    "TaskContext",
    "SessionContext",
]


_ids = itertools.count()

_DETACHED = TaskContext()


async def _void_entry(frame: Frame, direction: FrameDirection) -> None:
    """Where frames go past the ends of an unattached chain."""


class FrameProcessor(EventEmitter):
    """Receives frames, does something, pushes frames on. Subclass and override
    :meth:`process_frame`; override :meth:`on_start`, :meth:`on_end`,
    :meth:`on_cancel` for set-up and tear-down.

    :param name: for logs and metrics (default ``ClassName#n``).
    :param queued: give this processor a bounded queue and a worker task of its own
        (for slow, CPU-heavy or blocking work). Data and control frames wait in the
        queue in order; system frames are processed at once.
    :param queue_size: capacity of that queue; a full queue makes the pushing task wait
        (back-pressure), it never drops.
    :param cancel_on_interruption: with ``queued``, also cancel the frame being
        processed when an interruption arrives (the worker restarts).
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        queued: bool = False,
        queue_size: int = 64,
        cancel_on_interruption: bool = True,
    ) -> None:
        self.name = name or f"{type(self).__name__}#{next(_ids)}"
        self._next: FrameProcessor | None = None
        self._prev: FrameProcessor | None = None
        self._down: Callable[[Frame, FrameDirection], Coroutine[Any, Any, None]] = _void_entry
        self._up: Callable[[Frame, FrameDirection], Coroutine[Any, Any, None]] = _void_entry
        self._task: TaskContext = _DETACHED
        self._queue: FrameQueue | None = FrameQueue(queue_size) if queued else None
        self._cancel_on_interruption = cancel_on_interruption
        self._worker: asyncio.Task | None = None
        self._busy_with_data = False
        # The entry point other processors call; a queued processor enqueues instead.
        self._entry = self._enqueue if queued else self.process_frame
        self._init_events()

    # -- wiring --------------------------------------------------------------------

    def _first(self) -> FrameProcessor:
        """The processor that receives frames sent into this one (composites differ)."""
        return self

    def _last(self) -> FrameProcessor:
        """The processor whose downstream output leaves this one."""
        return self

    def _set_next(self, nxt: FrameProcessor | None) -> None:
        self._next = nxt
        self._down = nxt._entry if nxt is not None else _void_entry

    def _set_prev(self, prev: FrameProcessor | None) -> None:
        self._prev = prev
        self._up = prev._entry if prev is not None else _void_entry

    def link(self, nxt: FrameProcessor) -> FrameProcessor:
        """Connect ``nxt`` downstream of this processor; returns ``nxt`` for chaining."""
        last, first = self._last(), nxt._first()
        last._set_next(first)
        first._set_prev(last)
        return nxt

    def processors(self) -> list[FrameProcessor]:
        """This processor and every processor inside it, in order (composites expand)."""
        return [self]

    @property
    def next(self) -> FrameProcessor | None:
        """The processor downstream of this one."""
        return self._next

    @property
    def previous(self) -> FrameProcessor | None:
        """The processor upstream of this one."""
        return self._prev

    # -- the task it runs in ----------------------------------------------------------

    @property
    def task(self) -> TaskContext:
        """The task this processor runs in (a :class:`~wavewire.PipelineTask`, or a
        detached stand-in before it is attached)."""
        return self._task

    session = task
    """Former name of :attr:`task`."""

    @property
    def epoch(self) -> int:
        """The session's current interruption epoch (see :attr:`Frame.epoch`)."""
        return self._task.epoch

    @property
    def clock(self) -> Clock:
        """The session's clock."""
        return self._task.clock

    def create_task(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task:
        """Start background work owned by the session (cancelled when it ends)."""
        return self._task.create_task(coro, f"{self.name}:{name or 'task'}")

    async def interrupt(self) -> None:
        """Interrupt the bot: advance the epoch and send an interruption from the top of
        the pipeline, so every processor sees it (and stale data is discarded)."""
        await self._task.interrupt(self)

    def count_drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` frames this processor dropped on purpose (every drop is counted)."""
        self._task.count_drop(f"{self.name}:{reason}", n)

    async def _attach(self, session: TaskContext, frame: StartFrame) -> None:
        """Called by the task, in pipeline order, before the StartFrame flows."""
        self._task = session
        if self._queue is not None:
            self._worker = session.create_task(self._work(), f"{self.name}:queue")
        await self.on_start(frame)

    async def _detach(self, frame: EndFrame | CancelFrame) -> None:
        """Called by the task after the session ended or was cancelled."""
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait({worker}, timeout=1.0)
        if self._queue is not None:
            dropped = self._queue.clear()
            if dropped:
                self.count_drop("closed", dropped)
        if isinstance(frame, EndFrame):
            await self.on_end(frame)
        else:
            await self.on_cancel(frame)

    # -- overridable ---------------------------------------------------------------

    async def on_start(self, frame: StartFrame) -> None:
        """The session is starting (before ``frame`` flows through the pipeline)."""

    async def on_end(self, frame: EndFrame) -> None:
        """The session ended gracefully (the EndFrame went all the way through)."""

    async def on_cancel(self, frame: CancelFrame) -> None:
        """The session was cancelled or its drain deadline passed."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Handle one frame. The default passes it on unchanged."""
        await self.push(frame, direction)

    # -- pushing -------------------------------------------------------------------

    async def push(self, frame: Frame, direction: FrameDirection = DOWNSTREAM) -> None:
        """Send ``frame`` to the next processor in ``direction`` (a direct await).

        The first push stamps the frame with the session's epoch; the first push of an
        :class:`InterruptionFrame` advances the epoch."""
        if frame.epoch < 0:  # _stamp(), inlined: this is every hop's path
            session = self._task
            if type(frame) is InterruptionFrame:
                session.epoch += 1
            frame.epoch = session.epoch
        if direction is DOWNSTREAM:
            try:
                await self._down(frame, direction)
            except Exception as exc:
                await self._failed(self._next, frame, exc)
        else:
            try:
                await self._up(frame, direction)
            except Exception as exc:
                await self._failed(self._prev, frame, exc)

    def _stamp(self, frame: Frame) -> None:
        """Stamp ``frame`` with the session's epoch (an interruption advances it first)."""
        session = self._task
        if type(frame) is InterruptionFrame:
            session.epoch += 1
        frame.epoch = session.epoch

    async def push_error(self, error: str, *, fatal: bool = False,
                         exception: BaseException | None = None) -> None:
        """Report an error upstream; the session decides (``fatal`` cancels it)."""
        await self.push(
            ErrorFrame(error, fatal=fatal, exception=exception, processor=self.name), UPSTREAM
        )

    async def _failed(self, target: FrameProcessor | None, frame: Frame, exc: Exception) -> None:
        where = target or self
        where.count_drop("error")
        err = ErrorFrame(
            f"{where.name} failed on {frame.name}: {type(exc).__name__}: {clip(str(exc))}",
            exception=exc,
            processor=where.name,
        )
        # Upstream from the processor that failed: never back into it, so a processor
        # that fails on every frame cannot loop; each retry is one step further up.
        await where.push(err, UPSTREAM)

    # -- the optional queue ---------------------------------------------------------

    async def _enqueue(self, frame: Frame, direction: FrameDirection) -> None:
        queue = self._queue
        assert queue is not None
        if frame.tier != SYSTEM:
            await queue.put(frame, direction)
            return
        if type(frame) is InterruptionFrame:
            dropped = queue.drop_data()
            if dropped:
                self.count_drop("interrupted", dropped)
            worker = self._worker
            if self._cancel_on_interruption and self._busy_with_data and worker is not None:
                worker.cancel()
                self._worker = self._task.create_task(self._work(), f"{self.name}:queue")
        await self.process_frame(frame, direction)

    async def _work(self) -> None:
        queue = self._queue
        assert queue is not None
        session = self._task
        while True:
            frame, direction = await queue.get()
            if frame.tier == DATA and frame.epoch < session.epoch and direction is DOWNSTREAM:
                self.count_drop("stale")
                continue
            self._busy_with_data = frame.tier == DATA
            try:
                await self.process_frame(frame, direction)
            except Exception as exc:
                await self._failed(self, frame, exc)
            finally:
                self._busy_with_data = False

    def __repr__(self) -> str:
        return f"<{self.name}>"

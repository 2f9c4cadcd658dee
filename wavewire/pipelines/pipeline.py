"""``Pipeline`` and ``ParallelPipeline``: composing processors.

A :class:`Pipeline` costs nothing at run time: linking it links its first and last
inner processors directly to its neighbours, so nesting adds no hop.

A :class:`ParallelPipeline` sends every frame into each branch in turn (fan-out) and
merges what comes out (fan-in). A frame that was fanned out and comes out of several
branches is forwarded once: system frames and data frames on their first arrival, an
:class:`EndFrame` only when it has come out of *every* branch, so the parallel pipeline
ends when all its branches have ended. Frames a branch makes itself pass straight on.
The same holds upstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from ..frames import EndFrame, Frame
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

__all__ = ["Pipeline", "ParallelPipeline"]


class _PassThrough(FrameProcessor):
    """Stands in for an empty pipeline."""


class Pipeline(FrameProcessor):
    """Processors in a chain. Nestable; a pipeline adds no hop of its own."""

    def __init__(self, processors: Sequence[FrameProcessor], *, name: str | None = None) -> None:
        super().__init__(name=name)
        procs = list(processors) or [_PassThrough()]
        for proc in procs:
            if not isinstance(proc, FrameProcessor):
                raise TypeError(f"Pipeline takes FrameProcessors, not {type(proc).__name__}")
        if len({id(p) for p in procs}) != len(procs):
            raise ValueError("a processor can appear only once in a pipeline")
        for a, b in pairwise(procs):
            a.link(b)
        self._procs = procs

    def _first(self) -> FrameProcessor:
        return self._procs[0]._first()

    def _last(self) -> FrameProcessor:
        return self._procs[-1]._last()

    def processors(self) -> list[FrameProcessor]:
        return [p for proc in self._procs for p in proc.processors()]

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        # Only reached when someone calls the pipeline object itself.
        if direction is DOWNSTREAM:
            await self._first()._entry(frame, direction)
        else:
            await self._last()._entry(frame, direction)


class _Merger:
    """Fan-in bookkeeping for one direction of a :class:`ParallelPipeline`."""

    __slots__ = ("_branches", "_pending", "_keep_late", "_limit")

    def __init__(self, branches: int, keep_late: bool, limit: int = 1024) -> None:
        self._branches = branches
        # id(frame) -> [frame, arrivals, forwarded]; the frame is held so its id
        # cannot be reused while the entry lives.
        self._pending: dict[int, list] = {}
        self._keep_late = keep_late
        self._limit = limit

    def begin(self, frame: Frame) -> None:
        self._pending[id(frame)] = [frame, 0, False]

    def arrive(self, frame: Frame) -> bool:
        """True if ``frame`` should be forwarded now."""
        entry = self._pending.get(id(frame))
        if entry is None or entry[0] is not frame:
            return True  # made inside a branch
        entry[1] += 1
        if isinstance(frame, EndFrame):
            forward = entry[1] >= self._branches
        else:
            forward = not entry[2]
            entry[2] = True
        if entry[1] >= self._branches:
            del self._pending[id(frame)]
        return forward

    def finish(self, frame: Frame) -> None:
        """Fan-out of ``frame`` returned from every branch."""
        key = id(frame)
        entry = self._pending.get(key)
        if entry is None or entry[0] is not frame:
            return
        if isinstance(frame, EndFrame):
            return  # wait for every branch, however long (the task's end deadline bounds it)
        if not self._keep_late:
            # No branch queues frames, so whatever was coming has come.
            del self._pending[key]
        elif len(self._pending) > self._limit:
            # Queued branches may deliver later; keep a bounded history.
            for old in list(self._pending)[: len(self._pending) - self._limit]:
                if not isinstance(self._pending[old][0], EndFrame):
                    del self._pending[old]


class _FanIn(FrameProcessor):
    def __init__(self, parent: ParallelPipeline) -> None:
        super().__init__(name=f"{parent.name}::fan-in")
        self._parent = parent

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        parent = self._parent
        if direction is DOWNSTREAM:  # out of a branch's tail
            if parent._merge_down.arrive(frame):
                await self.push(frame, DOWNSTREAM)
        else:  # from downstream, into every branch's tail
            await parent._fan_out(frame, UPSTREAM)


class ParallelPipeline(FrameProcessor):
    """Branches that each see every frame; their outputs merge (see module docs)."""

    def __init__(
        self, *branches: Sequence[FrameProcessor] | FrameProcessor, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        if not branches:
            raise ValueError("ParallelPipeline needs at least one branch")
        self._branches: list[FrameProcessor] = [
            b if isinstance(b, FrameProcessor) else Pipeline(list(b)) for b in branches
        ]
        self._fan_in = _FanIn(self)
        for branch in self._branches:
            branch._first()._set_prev(self)
            branch._last()._set_next(self._fan_in)
        queued = any(p._queue is not None for b in self._branches for p in b.processors())
        self._merge_down = _Merger(len(self._branches), queued)
        self._merge_up = _Merger(len(self._branches), queued)

    def _first(self) -> FrameProcessor:
        return self

    def _last(self) -> FrameProcessor:
        return self._fan_in

    def processors(self) -> list[FrameProcessor]:
        inner = [p for b in self._branches for p in b.processors()]
        return [self, *inner, self._fan_in]

    async def _fan_out(self, frame: Frame, direction: FrameDirection) -> None:
        merger = self._merge_down if direction is DOWNSTREAM else self._merge_up
        if frame.epoch < 0:
            self._stamp(frame)
        merger.begin(frame)
        try:
            for branch in self._branches:
                target = branch._first() if direction is DOWNSTREAM else branch._last()
                try:
                    await target._entry(frame, direction)
                except Exception as exc:
                    await self._failed(target, frame, exc)
        finally:
            merger.finish(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is DOWNSTREAM:  # from upstream, into every branch's head
            await self._fan_out(frame, DOWNSTREAM)
        elif self._merge_up.arrive(frame):  # out of a branch's head, going up
            await self.push(frame, UPSTREAM)

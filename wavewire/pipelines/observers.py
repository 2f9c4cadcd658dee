"""Observers: see every frame a processor pushes, without being part of the pipeline.

They cost nothing when none are attached: a task with observers replaces ``push`` on
its processors' instances (:func:`observe_pushes`); a task without them leaves the plain
method in place.
Observers run inline in the pushing task, so keep them quick (count, copy, or hand the
frame to your own queue).
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..processors.base import DOWNSTREAM, FrameProcessor

if TYPE_CHECKING:
    from ..clock import Clock
    from ..frames import Frame
    from ..processors.base import FrameDirection

__all__ = ["FramePushed", "BaseObserver", "observe_pushes"]


@dataclass(slots=True)
class FramePushed:
    """One push, as an observer sees it."""

    source: FrameProcessor
    """The processor that pushed."""
    destination: FrameProcessor | None
    """The processor that receives it (``None`` past the end of the chain)."""
    frame: Frame
    """The frame."""
    direction: FrameDirection
    """Which way it goes."""
    timestamp: float
    """The session clock's time of the push, in seconds."""


class BaseObserver:
    """Override :meth:`on_push_frame`."""

    async def on_push_frame(self, data: FramePushed) -> None:
        """Called for every push in the observed session."""


def observe_pushes(
    proc: FrameProcessor, observers: Sequence[BaseObserver], clock: Clock
) -> None:
    """Make every push of ``proc`` reach ``observers`` first (with ``clock``'s time),
    then go on as the plain :meth:`FrameProcessor.push` would."""
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

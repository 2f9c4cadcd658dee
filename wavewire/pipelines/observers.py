"""Observers: see every frame a processor pushes, without being part of the pipeline.

They cost nothing when none are attached: a task with observers replaces ``push`` on
its processors' instances; a task without them leaves the plain method in place.
Observers run inline in the pushing task, so keep them quick (count, copy, or hand the
frame to your own queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..frames import Frame
    from ..processors.base import FrameDirection, FrameProcessor

__all__ = ["FramePushed", "BaseObserver"]


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

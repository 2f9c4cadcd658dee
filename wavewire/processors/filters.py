"""Built-in pass-through and filtering processors."""

from __future__ import annotations

from collections.abc import Callable

from ..frames import SYSTEM, EndFrame, Frame
from .base import FrameDirection, FrameProcessor

__all__ = ["Identity", "FrameFilter", "FunctionFilter"]


class Identity(FrameProcessor):
    """Passes every frame on unchanged (a placeholder, or a tap for observers)."""


class FunctionFilter(FrameProcessor):
    """Passes the frames for which ``predicate(frame)`` is true.

    System frames and the EndFrame always pass (filtering them would break the session's
    lifecycle); ``direction`` limits filtering to one direction (the other passes all).
    Frames filtered out are counted as drops with reason ``filtered``.
    """

    def __init__(
        self,
        predicate: Callable[[Frame], bool],
        *,
        direction: FrameDirection | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self._predicate = predicate
        self._direction = direction

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if (
            frame.tier == SYSTEM
            or isinstance(frame, EndFrame)
            or (self._direction is not None and direction is not self._direction)
            or self._predicate(frame)
        ):
            await self.push(frame, direction)
        else:
            self.count_drop("filtered")


class FrameFilter(FunctionFilter):
    """Passes only frames of the given types (plus system frames and the EndFrame)."""

    def __init__(
        self,
        types: type[Frame] | tuple[type[Frame], ...],
        *,
        direction: FrameDirection | None = None,
        name: str | None = None,
    ) -> None:
        self.types = types if isinstance(types, tuple) else (types,)
        wanted = self.types
        super().__init__(lambda f: isinstance(f, wanted), direction=direction, name=name)

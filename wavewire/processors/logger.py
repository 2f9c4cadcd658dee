"""``FrameLogger``: log the frames that pass, for debugging a pipeline."""

from __future__ import annotations

from ..frames import Frame, InputAudioFrame, OutputAudioFrame
from ..log import logger
from .base import DOWNSTREAM, FrameDirection, FrameProcessor

__all__ = ["FrameLogger"]


class FrameLogger(FrameProcessor):
    """Logs each frame (except the ``ignore`` types) and passes it on.

    Audio is summarised (bytes, rate, channels), never dumped. Nothing is formatted
    unless the level is enabled for the logger.
    """

    def __init__(
        self,
        prefix: str = "",
        *,
        level: str = "DEBUG",
        ignore: tuple[type[Frame], ...] = (InputAudioFrame, OutputAudioFrame),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.prefix = prefix or self.name
        self.level = level
        self.ignore = ignore

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if not isinstance(frame, self.ignore):
            arrow = "→" if direction is DOWNSTREAM else "←"
            logger.opt(lazy=True).log(
                self.level, "{} {} {}", lambda: self.prefix, lambda: arrow, lambda: repr(frame)
            )
        await self.push(frame, direction)

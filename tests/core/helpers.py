"""Small processors used by the core tests."""

from __future__ import annotations

import asyncio

from wavewire.frames import Frame, TextFrame
from wavewire.processors.base import FrameDirection, FrameProcessor


class Recorder(FrameProcessor):
    """Records every frame it sees (with direction) and passes it on."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[Frame, FrameDirection]] = []

    async def process_frame(self, frame, direction):
        self.seen.append((frame, direction))
        await self.push(frame, direction)

    def types(self) -> list[type]:
        return [type(f) for f, _ in self.seen]


class Suffix(FrameProcessor):
    """Appends a suffix to text frames (makes new frames)."""

    def __init__(self, suffix: str, **kw) -> None:
        super().__init__(**kw)
        self.suffix = suffix

    async def process_frame(self, frame, direction):
        if isinstance(frame, TextFrame):
            frame = TextFrame(frame.text + self.suffix)
        await self.push(frame, direction)


class Slow(FrameProcessor):
    """Sleeps on every text frame before passing it on (a suspending hop)."""

    def __init__(self, delay: float = 0.005, **kw) -> None:
        super().__init__(**kw)
        self.delay = delay

    async def process_frame(self, frame, direction):
        if isinstance(frame, TextFrame):
            await asyncio.sleep(self.delay)
        await self.push(frame, direction)


class Gate(FrameProcessor):
    """Holds text frames until ``open`` is set (a queued processor's blocked worker)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.open = asyncio.Event()
        self.entered = asyncio.Event()

    async def process_frame(self, frame, direction):
        if isinstance(frame, TextFrame):
            self.entered.set()
            await self.open.wait()
        await self.push(frame, direction)

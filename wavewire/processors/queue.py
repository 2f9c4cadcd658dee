"""``FrameQueue``: the bounded queue of a queued processor.

A processor built with ``queued=True`` (see :class:`~.base.FrameProcessor`) gets one of
these and one worker task that drains it. The queue is a FIFO of ``(frame, direction)``
with a fixed capacity: a full queue makes the pushing task wait (back-pressure, never a
silent drop), and an interruption removes the data frames waiting in it while control
frames keep their order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from ..frames import DATA, Frame

if TYPE_CHECKING:
    from .direction import FrameDirection

__all__ = ["FrameQueue"]



class FrameQueue:
    """A bounded FIFO of ``(frame, direction)`` with back-pressure (``put`` waits when
    full) and :meth:`drop_data`, which an interruption uses to discard data frames while
    keeping control frames in order."""

    __slots__ = ("_items", "_maxsize", "_getter", "_putters")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self._items: deque[tuple[Frame, FrameDirection]] = deque()
        self._maxsize = maxsize
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, frame: Frame, direction: FrameDirection) -> None:
        while len(self._items) >= self._maxsize:
            fut = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            finally:
                if not fut.done():
                    fut.cancel()
                try:
                    self._putters.remove(fut)
                except ValueError:
                    pass
        self._items.append((frame, direction))
        getter = self._getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self) -> tuple[Frame, FrameDirection]:
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        item = self._items.popleft()
        self._wake_putter()
        return item

    def _wake_putter(self) -> None:
        while self._putters:
            fut = self._putters.popleft()
            if not fut.done():
                fut.set_result(None)
                break

    def drop_data(self) -> int:
        """Remove every data frame; return how many were removed."""
        kept = deque(item for item in self._items if item[0].tier != DATA)
        dropped = len(self._items) - len(kept)
        self._items = kept
        for _ in range(dropped):
            self._wake_putter()
        return dropped

    def clear(self) -> int:
        """Remove everything; return how many frames were removed."""
        n = len(self._items)
        self._items.clear()
        for _ in range(n):
            self._wake_putter()
        return n


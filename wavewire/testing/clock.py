"""``FakeClock``: time that moves only when a test says so."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["FakeClock"]


class _Timer:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A :class:`~wavewire.clock.Clock` for tests: ``now()`` changes only through
    :meth:`advance`, which fires due timers and wakes due sleepers in time order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> _Timer:
        timer = _Timer(self._now + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await fut
        finally:
            timer.cancel()

    @property
    def pending(self) -> int:
        """Timers and sleepers not yet due."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    async def advance(self, seconds: float, *, settle: int = 5) -> None:
        """Move time forward by ``seconds``, firing everything due on the way, in order,
        and letting woken tasks run (``settle`` event-loop turns after each step).

        Tasks that were already runnable run first, at the current time, so work started
        just before the call is not skewed to the end of the step."""
        for _ in range(settle):
            await asyncio.sleep(0)
        target = self._now + seconds
        while self._heap and self._heap[0][0] <= target:
            when, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback(*timer.args)
            for _ in range(settle):
                await asyncio.sleep(0)
        self._now = target
        for _ in range(settle):
            await asyncio.sleep(0)

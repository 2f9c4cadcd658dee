"""Clocks: the one place wavewire reads time, so tests can replace it.

:class:`MonotonicClock` is the real one (``time.monotonic()``, the clock asyncio's loop
uses).
:class:`~wavewire.testing.FakeClock` moves only when a test advances it, which makes
pacing, idle timeouts and drain deadlines deterministic and instant to test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "TimerHandle", "MonotonicClock"]


class TimerHandle(Protocol):
    """What :meth:`Clock.call_later` returns."""

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""


class Clock(Protocol):
    """Time for one session: now, sleep and timers, all in seconds."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend for ``seconds`` of this clock's time."""
        ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` after ``delay`` seconds; the handle cancels it."""
        ...


class MonotonicClock:
    """Monotonic time: ``time.monotonic()``, which is what asyncio's own loop returns from
    ``loop.time()`` (uvloop's is the same clock, cached per loop turn at millisecond
    resolution). Read directly because ``asyncio.get_running_loop()`` checks the process
    id with a ``getpid`` system call on every call (Python 3.11), and the output edge reads
    the time several times per frame. Timers take relative delays, so they agree with it
    on either loop."""

    __slots__ = ()

    now = staticmethod(time.monotonic)
    """Monotonic seconds (``clock.now()`` is a direct call of ``time.monotonic``)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback, *args)

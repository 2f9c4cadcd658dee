"""Clocks: the one place wavewire reads time, so tests can replace it.

:class:`MonotonicClock` is the real one (``time.monotonic()``, the clock asyncio's loop
uses).
:class:`~wavewire.testing.FakeClock` moves only when a test advances it, which makes
pacing, idle timeouts and drain deadlines deterministic and instant to test.
"""

from __future__ import annotations

import asyncio
import heapq
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Clock", "TimerHandle", "MonotonicClock", "coarse_timer", "COARSE_RESOLUTION"]

COARSE_RESOLUTION = 0.01
"""Seconds: how late a :func:`coarse_timer` may run a callback."""


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


def coarse_timer(clock: Clock) -> Callable[..., TimerHandle]:
    """A ``call_later(delay, callback, *args)`` for deadlines that may run up to
    :data:`COARSE_RESOLUTION` late (never early), for a caller that arms many of them.

    On the real clock, deadlines that fall in the same 10 ms slot share one timer of
    the running loop, so arming one is a list append (an event-loop timer costs several
    microseconds on uvloop): made for every speaking session's end-of-playback check,
    re-armed about ten times a second. Any other clock's own (exact) ``call_later``."""
    if isinstance(clock, MonotonicClock):
        return _slots().call_later
    return clock.call_later


class _CoarseHandle:
    """One deadline in a :class:`_Slots`; ``cancel`` forgets the callback at once."""

    __slots__ = ("_args", "_callback")

    def __init__(self, callback: Callable[..., Any] | None, args: tuple[Any, ...]) -> None:
        self._callback = callback
        self._args = args

    def cancel(self) -> None:
        self._callback = None
        self._args = ()

    def cancelled(self) -> bool:
        """True once cancelled (or run)."""
        return self._callback is None


_monotonic = time.monotonic
_RATE = round(1 / COARSE_RESOLUTION)  # slots per second
_UV_EARLY = 0.001  # uvloop rounds timers to whole ms: arm this much after the boundary


class _Slots:
    """Coarse deadlines of one event loop. A deadline goes in the slot of the first
    10 ms boundary at or after it; one loop timer is set for the earliest slot and
    runs every slot whose boundary has passed."""

    __slots__ = ("_armed", "_keys", "_slots", "_timer")

    # No reference to the loop itself: it keys the WeakKeyDictionary that holds this.

    def __init__(self) -> None:
        self._slots: dict[int, list[_CoarseHandle]] = {}
        self._keys: list[int] = []  # a heap of the slots' keys (boundary times x _RATE)
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0  # the key the loop timer is set for

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> _CoarseHandle:
        key = int((_monotonic() + delay) * _RATE) + 1  # a past deadline: due at once
        handle = _CoarseHandle(callback, args)
        slot = self._slots.get(key)
        if slot is not None:
            slot.append(handle)
            return handle
        self._slots[key] = [handle]
        heapq.heappush(self._keys, key)
        if self._timer is None or key < self._armed:
            self._arm(key)
        return handle

    def _arm(self, key: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = key
        delay = key / _RATE - time.monotonic() + _UV_EARLY
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._fire)

    def _fire(self) -> None:
        self._timer = None
        limit = time.monotonic() * _RATE
        keys = self._keys
        due = []
        while keys and keys[0] <= limit:
            due.append(self._slots.pop(heapq.heappop(keys)))
        # Slots added by the callbacks below wait for the next timer: none can be due
        # before it, and this loop stays bounded.
        for slot in due:
            for handle in slot:
                callback, args = handle._callback, handle._args
                if callback is None:
                    continue
                handle.cancel()
                try:
                    callback(*args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    asyncio.get_running_loop().call_exception_handler(
                        {"message": f"exception in coarse timer callback {callback!r}",
                         "exception": exc}
                    )
        if keys and self._timer is None:
            self._arm(keys[0])


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = weakref.WeakKeyDictionary()


def _slots() -> _Slots:
    loop = asyncio.get_running_loop()
    slots = _by_loop.get(loop)
    if slots is None:
        slots = _by_loop[loop] = _Slots()
    return slots

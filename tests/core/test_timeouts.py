"""The one owner of a session's timers: deadlines, quiet counters, cancel-all."""

from __future__ import annotations

from wavewire.pipelines.timeouts import Timeouts
from wavewire.testing import FakeClock


async def test_after_fires_once_and_cancel_stops_everything() -> None:
    clock = FakeClock()
    timeouts = Timeouts(clock)
    fired: list[str] = []
    timeouts.after(1.0, fired.append, "a")
    timeouts.after(3.0, fired.append, "b")
    await clock.advance(1.5)
    assert fired == ["a"]
    timeouts.cancel()
    await clock.advance(5.0)
    assert fired == ["a"]  # "b" was cancelled with the session
    timeouts.after(0.1, fired.append, "late")  # refused once the session has ended
    await clock.advance(1.0)
    assert fired == ["a"] and timeouts.closed and len(timeouts) == 0


async def test_quiet_fires_between_one_and_one_and_a_half_timeouts_after_the_last_change() -> None:
    clock = FakeClock()
    timeouts = Timeouts(clock)
    counter = [0]
    fired: list[float] = []
    timeouts.quiet(2.0, lambda: counter[0], lambda: fired.append(clock.now()))
    for _ in range(4):  # active: the counter grows every half second
        await clock.advance(0.5)
        counter[0] += 1
    last_change = clock.now()
    await clock.advance(10.0)
    assert len(fired) == 1
    assert last_change + 2.0 <= fired[0] <= last_change + 3.0

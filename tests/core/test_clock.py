"""The real clock's coarse timers: never early, at most one slot late, one loop timer
per slot, cancellable, and a failing callback is reported without stopping the rest.

Nothing here bounds how late the machine runs a timer: the slot arithmetic is checked
with the time source and the loop timers under the test's control (``FakeTime``), and the
real-clock tests wait on the event itself, with a deadline, and check only lower bounds
and order."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from wavewire.clock import COARSE_RESOLUTION, MonotonicClock, coarse_timer
from wavewire.testing import FakeClock

from .._optional import need

LOOPS = ["asyncio", "uvloop"]  # uvloop is in the dev extra: CI runs both


def _run(kind: str, coro_fn):  # type: ignore[no-untyped-def]
    if kind == "uvloop":
        return need("uvloop").run(coro_fn())
    return asyncio.run(coro_fn())


class FakeTime:
    """The coarse timers' time source and loop timers, moved by hand: ``now`` is what
    ``time.monotonic()`` returns inside ``wavewire.clock``, and the loop timers the slots
    arm are recorded (not scheduled) so the test fires each one exactly when it is due."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float) -> None:
        import wavewire.clock as clock_module

        self.now = start
        self.armed: list[tuple[float, Callable[[], Any], list[bool]]] = []
        monkeypatch.setattr(clock_module, "_monotonic", self.monotonic)
        monkeypatch.setattr(clock_module, "time", SimpleNamespace(monotonic=self.monotonic))

    def monotonic(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], Any], *args: Any) -> Any:
        cancelled = [False]
        self.armed.append((self.now + delay, lambda: callback(*args), cancelled))
        return SimpleNamespace(cancel=lambda: cancelled.__setitem__(0, True))

    def live(self) -> list[tuple[float, Callable[[], Any], list[bool]]]:
        return [a for a in self.armed if not a[2][0]]

    def fire_next(self) -> float:
        """Move time to the one live loop timer and run it; returns the time it ran."""
        (timer,) = self.live()  # the slots keep exactly one loop timer armed
        self.armed.remove(timer)
        self.now = max(self.now, timer[0])
        timer[1]()
        return self.now


@pytest.mark.parametrize("kind", LOOPS)
def test_deadlines_run_in_order_and_never_early(kind: str) -> None:
    async def main() -> list[tuple[float, float]]:
        call_later = coarse_timer(MonotonicClock())
        done = asyncio.get_running_loop().create_future()
        seen: list[tuple[float, float]] = []
        delays = [0.05, 0.0, 0.013, 0.031, 0.002, 0.05, -1.0]

        def fire(deadline: float) -> None:
            seen.append((deadline, time.monotonic()))
            if len(seen) == len(delays):
                done.set_result(None)

        for delay in delays:
            # Each deadline from the time it is armed (a loaded machine may pause between
            # two arms); a past one is due now.
            call_later(delay, fire, time.monotonic() + max(delay, 0.0))
        await asyncio.wait_for(done, 10)
        return seen

    seen = _run(kind, main)
    # Slots run in time order; within one slot, in the order they were armed. So a
    # deadline never runs after one that is more than a slot (plus the microseconds
    # between the test's clock reading and the timer's) later than it.
    for i, (earlier, _) in enumerate(seen):
        for later, _ in seen[i + 1:]:
            assert earlier <= later + COARSE_RESOLUTION + 0.001, seen
    for deadline, ran in seen:
        assert ran >= deadline  # never early


def test_deadlines_run_at_most_one_slot_late(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop's own lateness is the machine's; what the slots decide is when they arm
    # the loop timer. With time and loop timers under the test's control, each deadline
    # must run at its slot's boundary: never early, at most one slot (plus the 1 ms the
    # slots add so uvloop's whole-millisecond timers are not early) late.
    fake = FakeTime(monkeypatch, start=1000.0042)

    async def main() -> list[tuple[float, float]]:
        asyncio.get_running_loop().call_later = fake.call_later  # type: ignore[method-assign]
        call_later = coarse_timer(MonotonicClock())
        seen: list[tuple[float, float]] = []
        delays = [0.05, 0.0, 0.013, 0.031, 0.002, 0.0581, 0.0099, -1.0, 0.2]
        for delay in delays:
            deadline = fake.now + max(delay, 0.0)
            call_later(delay, lambda d=deadline: seen.append((d, fake.now)))
        while len(seen) < len(delays):
            fake.fire_next()
        assert fake.live() == []  # nothing left armed
        return seen

    seen = asyncio.run(main())
    assert len(seen) == 9 and [r for _, r in seen] == sorted(r for _, r in seen)
    for deadline, ran in seen:
        assert deadline <= ran <= deadline + COARSE_RESOLUTION + 0.001 + 1e-9, (deadline, ran)


def test_deadlines_in_one_slot_share_one_loop_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime(monkeypatch, start=1000.0015)  # just after a slot boundary

    async def main() -> tuple[int, list[int]]:
        asyncio.get_running_loop().call_later = fake.call_later  # type: ignore[method-assign]
        call_later = coarse_timer(MonotonicClock())
        ran: list[int] = []
        for i in range(200):
            fake.now += 0.00001  # time passes while arming, within the slot
            call_later(0.0005, ran.append, i)
        armed = len(fake.armed)
        fake.fire_next()
        return armed, ran

    armed, ran = asyncio.run(main())
    assert armed == 1
    assert ran == list(range(200))


def test_a_cancelled_deadline_never_runs_and_holds_nothing() -> None:
    async def main() -> tuple[list[str], bool]:
        call_later = coarse_timer(MonotonicClock())
        kept = asyncio.get_running_loop().create_future()

        class Owner:
            def on(self) -> None:
                ran.append("cancelled one ran")

        ran: list[str] = []
        owner = Owner()
        handle = call_later(0.01, owner.on)
        call_later(0.02, kept.set_result, "kept")  # a slot at or after the cancelled one's
        handle.cancel()
        import weakref

        ref = weakref.ref(owner)
        del owner
        gc.collect()
        gone = ref() is None  # the cancelled handle let go of its callback at once
        ran.append(await asyncio.wait_for(kept, 10))  # slots run in order: its slot is past
        return ran, gone

    ran, gone = asyncio.run(main())
    assert ran == ["kept"] and gone


def test_a_failing_callback_is_reported_and_the_others_still_run() -> None:
    async def main() -> tuple[list[str], list[dict[str, object]]]:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, object]] = []
        loop.set_exception_handler(lambda _, context: errors.append(context))
        call_later = coarse_timer(MonotonicClock())
        ran: list[str] = []
        later = loop.create_future()

        def boom() -> None:
            raise ValueError("boom")

        call_later(0.0, boom)
        call_later(0.0, ran.append, "after")
        call_later(0.03, later.set_result, "later")
        ran.append(await asyncio.wait_for(later, 10))
        return ran, errors

    ran, errors = asyncio.run(main())
    assert ran == ["after", "later"]
    assert len(errors) == 1 and isinstance(errors[0]["exception"], ValueError)


def test_a_callback_that_re_arms_itself_runs_once_per_slot() -> None:
    async def main() -> list[float]:
        call_later = coarse_timer(MonotonicClock())
        runs: list[float] = []
        done = asyncio.get_running_loop().create_future()

        def again() -> None:
            runs.append(time.monotonic())
            if len(runs) == 5:
                done.set_result(None)
                return
            call_later(0.0, again)  # due at once, yet never in the same pass

        call_later(0.0, again)
        await asyncio.wait_for(done, 10)
        return runs

    runs = asyncio.run(main())
    slots = [int(t / COARSE_RESOLUTION) for t in runs]
    assert slots == sorted(set(slots)), slots  # strictly later each time: one run per slot


def test_each_loop_has_its_own_slots() -> None:
    results = []

    async def main(tag: str) -> None:
        done = asyncio.get_running_loop().create_future()
        coarse_timer(MonotonicClock())(0.01, done.set_result, tag)
        results.append(await asyncio.wait_for(done, 10))

    asyncio.run(main("first"))
    asyncio.run(main("second"))
    assert results == ["first", "second"]


async def test_another_clock_keeps_its_own_exact_timers() -> None:
    clock = FakeClock()
    ran: list[int] = []
    call_later = coarse_timer(clock)
    call_later(0.25, ran.append, 1)
    await clock.advance(0.2)
    assert ran == []
    await clock.advance(0.05)
    assert ran == [1]

"""The real clock's coarse timers: never early, at most one slot late, one loop timer
per slot, cancellable, and a failing callback is reported without stopping the rest."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from wavewire.clock import COARSE_RESOLUTION, MonotonicClock, coarse_timer
from wavewire.testing import FakeClock


def _loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


def _run(kind: str, coro_fn):  # type: ignore[no-untyped-def]
    if kind == "uvloop":
        import uvloop

        return uvloop.run(coro_fn())
    return asyncio.run(coro_fn())


@pytest.mark.parametrize("kind", _loops())
def test_deadlines_run_in_order_never_early_and_at_most_one_slot_late(kind: str) -> None:
    async def main() -> list[tuple[float, float]]:
        call_later = coarse_timer(MonotonicClock())
        done = asyncio.get_running_loop().create_future()
        seen: list[tuple[float, float]] = []
        delays = [0.05, 0.0, 0.013, 0.031, 0.002, 0.05, -1.0]

        def fire(deadline: float) -> None:
            seen.append((deadline, time.monotonic()))
            if len(seen) == len(delays):
                done.set_result(None)

        now = time.monotonic()
        for delay in delays:
            call_later(delay, fire, now + max(delay, 0.0))  # a past one: due now
        await asyncio.wait_for(done, 2)
        return seen

    seen = _run(kind, main)
    deadlines = [d for d, _ in seen]
    assert deadlines == sorted(deadlines)  # slots run in time order
    for deadline, ran in seen:
        assert ran >= deadline  # never early
        assert ran - deadline < COARSE_RESOLUTION + 0.05  # one slot, plus a busy CI's slack


def test_deadlines_in_one_slot_share_one_loop_timer() -> None:
    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        armed = 0
        real = loop.call_later

        def counting(*args):  # type: ignore[no-untyped-def]
            nonlocal armed
            armed += 1
            return real(*args)

        call_later = coarse_timer(MonotonicClock())
        ran: list[int] = []
        # Start just after a slot boundary, so all 200 deadlines fall into the next slot.
        await asyncio.sleep(COARSE_RESOLUTION - time.monotonic() % COARSE_RESOLUTION + 0.001)
        loop.call_later = counting  # type: ignore[method-assign]
        for i in range(200):
            call_later(0.0005, ran.append, i)
        del loop.call_later  # back to the loop's own (asyncio.sleep uses it)
        await asyncio.sleep(0.05)
        return armed, len(ran)

    armed, n = asyncio.run(main())
    assert n == 200
    assert armed == 1


def test_a_cancelled_deadline_never_runs_and_holds_nothing() -> None:
    async def main() -> tuple[list[str], bool]:
        call_later = coarse_timer(MonotonicClock())

        class Owner:
            def on(self) -> None:
                ran.append("cancelled one ran")

        ran: list[str] = []
        owner = Owner()
        handle = call_later(0.01, owner.on)
        call_later(0.01, ran.append, "kept")
        handle.cancel()
        import weakref

        ref = weakref.ref(owner)
        del owner
        gc.collect()
        gone = ref() is None  # the cancelled handle let go of its callback at once
        await asyncio.sleep(0.05)
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

        def boom() -> None:
            raise ValueError("boom")

        call_later(0.0, boom)
        call_later(0.0, ran.append, "after")
        call_later(0.03, ran.append, "later")
        await asyncio.sleep(0.08)
        return ran, errors

    ran, errors = asyncio.run(main())
    assert ran == ["after", "later"]
    assert len(errors) == 1 and isinstance(errors[0]["exception"], ValueError)


def test_a_callback_that_re_arms_itself_runs_once_per_slot() -> None:
    async def main() -> int:
        call_later = coarse_timer(MonotonicClock())
        count = 0

        def again() -> None:
            nonlocal count
            count += 1
            call_later(0.0, again)  # due at once, yet never in the same pass

        call_later(0.0, again)
        await asyncio.sleep(0.1)
        return count

    count = asyncio.run(main())
    assert 3 <= count <= round(0.1 / COARSE_RESOLUTION) + 2


def test_each_loop_has_its_own_slots() -> None:
    results = []

    async def main(tag: str) -> None:
        done = asyncio.get_running_loop().create_future()
        coarse_timer(MonotonicClock())(0.01, done.set_result, tag)
        results.append(await asyncio.wait_for(done, 1))

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

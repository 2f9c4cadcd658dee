"""Periodic messages on a ``FakeClock`` with no socket: fixed-rate and idle-only hooks,
a failing hook that does not stop the others, cancellation, and a ticker that stops when
its connection is gone."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.testing import FakeClock
from wavewire.transports.periodic import PeriodicMessages, Schedule, run_ticker

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


class Link:
    """Stands for one connection: what was sent, and when the client last sent."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str]] = []
        self.last_sent = 0.0
        self.open = True

    async def send(self, message: str) -> bool:
        if not self.open:
            return False
        self.sent.append((self.clock.now(), message))
        return True


async def test_fixed_rate_and_idle_only_hooks():
    clock = FakeClock()
    link = Link(clock)
    tasks: list[asyncio.Task] = []

    def spawn(coro):
        tasks.append(asyncio.ensure_future(coro))
        return tasks[-1]

    schedule = Schedule(clock, spawn, lambda: link.last_sent)
    schedule.add(2.0, lambda: ["tick"], idle_only=False)
    schedule.add(3.0, lambda: ["idle"], idle_only=True)
    schedule.start(link.send, rearm=True)
    await clock.advance(2.5)
    link.last_sent = 2.5  # the client sent audio: the idle hook waits 3 s from here
    await clock.advance(4.0)
    assert link.sent == [(2.0, "tick"), (4.0, "tick"), (5.5, "idle"), (6.0, "tick")]
    schedule.stop()
    await asyncio.wait(tasks, timeout=1)
    assert all(t.cancelled() for t in tasks)


async def test_a_failing_hook_is_logged_and_the_others_go_on_then_cancel_stops_it():
    clock = FakeClock()
    link = Link(clock)

    def broken():
        raise RuntimeError("bug")

    bad = PeriodicMessages(1.0, broken)
    good = PeriodicMessages(1.0, lambda: ["ok"])
    hooks = [bad, good]
    ticker = asyncio.ensure_future(run_ticker(hooks, clock, lambda: 0.0, link.send))
    await clock.advance(2.0)
    assert [m for _, m in link.sent] == ["ok", "ok"] and bad.fired == 2
    good.cancel()
    bad.cancel()
    await clock.advance(1.0)
    await asyncio.wait_for(ticker, 1)  # no hook left: the ticker ends
    assert len(link.sent) == 2


async def test_the_ticker_ends_when_its_connection_is_gone():
    clock = FakeClock()
    link = Link(clock)
    ticker = asyncio.ensure_future(
        run_ticker([PeriodicMessages(1.0, lambda: ["ka"])], clock, lambda: 0.0, link.send))
    await clock.advance(1.0)
    link.open = False
    await clock.advance(1.0)
    await asyncio.wait_for(ticker, 1)
    assert link.sent == [(1.0, "ka")]


def test_interval_must_be_positive():
    with pytest.raises(ValueError):
        PeriodicMessages(0, lambda: [])

"""PipelineRunner (signals, many tasks), the FakeClock and run_test's assertions."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from wavewire.frames import CancelFrame, EndFrame, TextFrame
from wavewire.pipelines import PipelineRunner, PipelineTask, TaskState
from wavewire.processors import FrameProcessor, Identity
from wavewire.testing import FakeClock, run_test

from .helpers import Recorder

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_runner_runs_many_sessions_to_completion():
    recs = [Recorder() for _ in range(20)]
    tasks = [PipelineTask([r]) for r in recs]
    for t in tasks:
        await t.queue_frames([TextFrame("hi"), EndFrame()])
    await asyncio.wait_for(PipelineRunner(handle_sigint=False).run(*tasks), 5)
    assert all(t.state is TaskState.CLOSED for t in tasks)
    assert all(r.types()[-1] is EndFrame for r in recs)


class HoldsEnd(FrameProcessor):
    """Holds the EndFrame for a while (a drain that takes time)."""

    def __init__(self, hold: float, **kw):
        super().__init__(**kw)
        self.hold = hold

    async def process_frame(self, frame, direction):
        if isinstance(frame, EndFrame):
            await asyncio.sleep(self.hold)
        await self.push(frame, direction)


async def test_sigterm_drains_sessions_then_second_signal_cancels():
    quick, stuck = Recorder(), Recorder()
    t1 = PipelineTask([HoldsEnd(0.01), quick])
    t2 = PipelineTask([HoldsEnd(60), stuck])
    runner = PipelineRunner(handle_sigint=True, drain_timeout=30)
    run = asyncio.create_task(runner.run(t1, t2))
    assert await t1.wait_started(5) and await t2.wait_started(5)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(t1.wait_closed(5), 5)
    assert quick.types()[-1] is EndFrame
    assert t2.state is TaskState.ENDING
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(run, 5)
    assert stuck.types()[-1] is CancelFrame


async def test_fake_clock_fires_in_time_order():
    clock = FakeClock()
    fired = []
    clock.call_later(2, fired.append, "b")
    clock.call_later(1, fired.append, "a")
    cancelled = clock.call_later(1.5, fired.append, "x")
    cancelled.cancel()
    woke = []

    async def sleeper():
        await clock.sleep(1.2)
        woke.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    await clock.advance(3)
    await task
    assert fired == ["a", "b"] and woke == [1.2] and clock.now() == 3


async def test_run_test_reports_type_mismatch_clearly():
    with pytest.raises(AssertionError, match=r"expected \['EndFrame'\], got \['TextFrame'\]"):
        await run_test([Identity()], frames_to_send=[TextFrame("x")], expected_down=[EndFrame])

"""Pipeline nesting and ParallelPipeline fan-out / fan-in."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.frames import (
    EndFrame,
    InterruptionFrame,
    StartFrame,
    TextFrame,
    UserStartedSpeakingFrame,
)
from wavewire.pipelines import ParallelPipeline, Pipeline, PipelineParams, PipelineTask
from wavewire.processors import FrameProcessor, FunctionFilter, Identity
from wavewire.testing import FakeClock, Up, run_test, start_task

from .helpers import Gate, Recorder, Suffix

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_nested_pipelines_link_directly_without_extra_hops():
    a, b, c = Suffix("a"), Suffix("b"), Suffix("c")
    inner = Pipeline([b, Pipeline([c])])
    outer = Pipeline([a, inner])
    assert outer.processors() == [a, b, c]
    assert a.next is b and b.next is c and c.previous is b
    result = await run_test(outer, frames_to_send=[TextFrame("")], expected_down=[TextFrame])
    assert result.down[0].text == "abc"


async def test_empty_pipeline_passes_frames():
    await run_test(Pipeline([]), frames_to_send=[TextFrame("x")], expected_down=[TextFrame])


def test_pipeline_rejects_bad_members():
    with pytest.raises(TypeError):
        Pipeline([object()])  # type: ignore[list-item]
    p = Identity()
    with pytest.raises(ValueError):
        Pipeline([p, p])


async def test_parallel_fans_out_and_merges_without_duplicates():
    left, right = Recorder(name="L"), Recorder(name="R")
    par = ParallelPipeline([left, Suffix("-l")], [right, Suffix("-r")])
    out = Recorder(name="out")
    result = await run_test(
        [par, out],
        frames_to_send=[TextFrame("t"), UserStartedSpeakingFrame(), InterruptionFrame()],
        ignore_start=False,
    )
    for branch in (left, right):
        assert branch.types()[:4] == [StartFrame, TextFrame, UserStartedSpeakingFrame, InterruptionFrame]
    kinds = out.types()
    # Each system frame once; each branch's own text frame passes.
    assert kinds.count(StartFrame) == 1
    assert kinds.count(UserStartedSpeakingFrame) == 1
    assert kinds.count(InterruptionFrame) == 1
    assert kinds.count(EndFrame) == 1
    assert sorted(f.text for f in result.down if isinstance(f, TextFrame)) == ["t-l", "t-r"]


async def test_parallel_forwards_a_shared_data_frame_once():
    out = Recorder()
    await run_test(
        [ParallelPipeline([Identity()], [Identity()], [Identity()]), out],
        frames_to_send=[TextFrame("same")],
        expected_down=[TextFrame],
    )


async def test_parallel_upstream_merge():
    par = ParallelPipeline([Suffix("1")], [Identity()])
    result = await run_test(
        [par], frames_to_send=[Up(TextFrame("u"))], expected_up=[TextFrame, TextFrame]
    )
    assert sorted(f.text for f in result.up) == ["u", "u1"]


async def test_parallel_end_waits_for_every_branch_including_queued_ones():
    gate = Gate(queued=True, name="slow-branch")
    out = Recorder()
    task = PipelineTask([ParallelPipeline([gate], [Identity()]), out])
    runner = await start_task(task)
    await task.queue_frame(TextFrame("x"))
    await task.stop_when_done()
    await asyncio.sleep(0.01)
    # The fast branch passed the EndFrame but the slow one still holds "x" and the end.
    assert EndFrame not in out.types()
    assert [f.text for f, _ in out.seen if isinstance(f, TextFrame)] == ["x"]
    gate.open.set()
    await asyncio.wait_for(runner, 2)
    kinds = out.types()
    assert kinds.count(EndFrame) == 1 and kinds[-1] is EndFrame
    assert kinds.count(TextFrame) == 1  # the late copy from the slow branch is merged


async def test_parallel_branch_that_swallows_end_is_cancelled_at_the_deadline():
    clock = FakeClock()
    swallow = FunctionFilter(lambda f: True)

    class EatEnd(FrameProcessor):
        async def process_frame(self, frame, direction):
            if not isinstance(frame, EndFrame):
                await self.push(frame, direction)

    task = PipelineTask(
        [ParallelPipeline([EatEnd()], [swallow])],
        params=PipelineParams(end_timeout=3.0),
        clock=clock,
    )
    runner = await start_task(task)
    await task.stop_when_done()
    await clock.advance(2.9)
    assert not runner.done() and task.state.value == "ending"
    await clock.advance(0.2)
    await asyncio.wait_for(runner, 2)
    assert task.has_finished()
    assert task.stats.dropped.get("task:end-timeout") == 1

"""PipelineTask: the lifecycle table, drain, cancel, timeouts, errors, no leaked tasks."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.errors import InvalidStateError
from wavewire.frames import (
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    ErrorFrame,
    StartFrame,
    TextFrame,
    UserStartedSpeakingFrame,
)
from wavewire.pipelines import BaseObserver, PipelineParams, PipelineTask, TaskState
from wavewire.pipelines.task import _TRANSITIONS
from wavewire.processors import FrameProcessor, Identity
from wavewire.processors.base import UPSTREAM
from wavewire.testing import FakeClock, run_test, start_task

from .helpers import Gate, Recorder

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")




def test_lifecycle_table_has_cancel_from_every_live_state_and_nothing_after_closed():
    for state in (TaskState.IDLE, TaskState.STARTING, TaskState.RUNNING, TaskState.ENDING):
        assert (state, "cancel") in _TRANSITIONS
    assert not any(s is TaskState.CLOSED for s, _ in _TRANSITIONS)


async def test_illegal_transitions_raise():
    task = PipelineTask([Identity()])
    await run_test([Identity()], frames_to_send=[])  # sanity: a normal run
    runner = await start_task(task)
    with pytest.raises(InvalidStateError):
        await task.run()  # already running
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    assert task.state is TaskState.CLOSED
    with pytest.raises(InvalidStateError, match="closed"):
        await task.queue_frame(TextFrame("too late"))
    with pytest.raises(InvalidStateError):
        await task.run()


async def test_frames_queued_before_start_go_in_after_the_start_frame():
    rec = Recorder()
    task = PipelineTask([rec])
    await task.queue_frame(TextFrame("early"))
    await task.queue_frame(EndFrame())
    await asyncio.wait_for(task.run(), 2)
    assert rec.types() == [StartFrame, TextFrame, EndFrame]


async def test_end_frame_drains_everything_queued_before_it():
    gate = Gate(queued=True, queue_size=100)
    out = Recorder()
    task = PipelineTask([gate, out])
    runner = await start_task(task)
    for i in range(20):
        await task.queue_frame(TextFrame(str(i)))
    await task.stop_when_done()
    assert task.state is TaskState.ENDING
    gate.open.set()
    await asyncio.wait_for(runner, 2)
    assert [f.text for f, _ in out.seen if isinstance(f, TextFrame)] == [str(i) for i in range(20)]
    assert out.types()[-1] is EndFrame


async def test_cancel_stops_at_once_and_delivers_no_queued_data():
    gate = Gate(queued=True, queue_size=100)
    out = Recorder()
    task = PipelineTask([gate, out])
    ended = []
    task.add_event_handler("on_pipeline_ended", lambda t, f: ended.append(f))
    runner = await start_task(task)
    for i in range(5):
        await task.queue_frame(TextFrame(str(i)))
    await task.cancel("user hung up")
    assert runner.done() and task.state is TaskState.CLOSED
    assert TextFrame not in out.types()
    assert CancelFrame in out.types()
    assert isinstance(ended[0], CancelFrame) and ended[0].reason == "user hung up"
    assert sum(v for k, v in task.stats.dropped.items() if k.endswith(":closed")) == 4


async def test_cancel_before_start_closes_without_running():
    task = PipelineTask([Identity()])
    await task.cancel()
    assert task.state is TaskState.CLOSED
    with pytest.raises(InvalidStateError):
        await task.run()


async def test_idle_timeout_fires_and_activity_resets_it():
    clock = FakeClock()
    task = PipelineTask(
        [Identity()], params=PipelineParams(idle_timeout=10.0), clock=clock
    )
    fired = []
    task.add_event_handler("on_idle_timeout", lambda t: fired.append(clock.now()))
    runner = await start_task(task)
    await clock.advance(8)
    await task.queue_frame(UserStartedSpeakingFrame())  # activity at t=8
    await clock.advance(8)  # t=16: idle only 8 s
    assert not fired and not runner.done()
    await clock.advance(2.5)  # t=18.5 > 8 + 10
    await asyncio.wait_for(runner, 2)
    assert fired == [18.0]
    assert task.state is TaskState.CLOSED


async def test_max_duration_ends_the_session_gracefully():
    clock = FakeClock()
    out = Recorder()
    task = PipelineTask([out], params=PipelineParams(max_duration=60.0), clock=clock)
    runner = await start_task(task)
    await clock.advance(59)
    assert not runner.done()
    await clock.advance(2)
    await asyncio.wait_for(runner, 2)
    assert out.types()[-1] is EndFrame and out.seen[-1][0].reason == "max duration"


class Requests(FrameProcessor):
    def __init__(self, frame, **kw):
        super().__init__(**kw)
        self.request = frame

    async def process_frame(self, frame, direction):
        await self.push(frame, direction)
        if isinstance(frame, TextFrame):
            await self.push(self.request, UPSTREAM)


@pytest.mark.parametrize("request_frame,final", [(EndTaskFrame(), EndFrame), (CancelTaskFrame(), CancelFrame)])
async def test_processors_can_ask_the_session_to_end_or_cancel(request_frame, final):
    out = Recorder()
    task = PipelineTask([Requests(request_frame), out])
    await task.queue_frame(TextFrame("bye"))
    await asyncio.wait_for(task.run(), 2)
    assert out.types()[-1] is final


class StartsBackgroundWork(FrameProcessor):
    async def on_start(self, frame):
        self.create_task(self._forever(), "forever")

    async def _forever(self):
        await asyncio.Event().wait()  # never set: runs until the session cancels it


class RaisesOnStart(FrameProcessor):
    async def on_start(self, frame):
        raise RuntimeError("no credentials")


class RaisesEverywhere(FrameProcessor):
    async def process_frame(self, frame, direction):
        if isinstance(frame, TextFrame):
            raise ValueError("bad frame")
        await self.push(frame, direction)


@pytest.mark.parametrize(
    "procs,owned",
    [
        ([StartsBackgroundWork()], 1),
        ([StartsBackgroundWork(), Gate(queued=True)], 2),
        ([RaisesEverywhere(queued=True), StartsBackgroundWork()], 2),
        ([RaisesEverywhere(), RaisesEverywhere()], 0),
    ],
)
async def test_a_closed_session_leaves_no_task_behind(procs, owned):
    before = set(asyncio.all_tasks())
    task = PipelineTask(procs)
    runner = await start_task(task)
    assert len(task.tasks) == owned
    await task.queue_frame(TextFrame("x"))
    await task.stop_when_done()
    if any(isinstance(p, Gate) for p in procs):
        await task.cancel()
    await asyncio.wait_for(runner, 3)
    await asyncio.sleep(0)
    assert set(asyncio.all_tasks()) == before
    assert not task.tasks


async def test_failing_on_start_cancels_without_hanging():
    errors = []
    task = PipelineTask([RaisesOnStart(), StartsBackgroundWork()])
    task.add_event_handler("on_pipeline_error", lambda t, e: errors.append(e))
    before = set(asyncio.all_tasks())
    await asyncio.wait_for(task.run(), 3)
    assert task.state is TaskState.CLOSED
    assert "no credentials" in errors[0].error
    assert set(asyncio.all_tasks()) == before


async def test_background_task_failure_is_reported():
    class Crashes(FrameProcessor):
        async def on_start(self, frame):
            self.create_task(self._crash())

        async def _crash(self):
            raise ConnectionError("socket died")

    errors: list[ErrorFrame] = []
    task = PipelineTask([Crashes()])
    task.add_event_handler("on_pipeline_error", lambda t, e: errors.append(e))
    runner = await start_task(task)
    for _ in range(5):
        await asyncio.sleep(0)
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    assert errors and "socket died" in errors[0].error


async def test_external_cancellation_of_run_still_cleans_up():
    task = PipelineTask([StartsBackgroundWork()])
    before = set(asyncio.all_tasks())
    runner = await start_task(task)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert task.state is TaskState.CLOSED
    await asyncio.sleep(0)
    assert set(asyncio.all_tasks()) == before


class Counting(BaseObserver):
    def __init__(self):
        self.pushes = []

    async def on_push_frame(self, data):
        self.pushes.append((data.source.name, type(data.frame), data.destination))


async def test_observers_see_pushes_and_cost_nothing_when_absent():
    obs = Counting()
    a = Identity(name="a")
    await run_test([a], frames_to_send=[TextFrame("x")], observers=[obs])
    assert ("a", TextFrame, a.next) in obs.pushes
    assert "push" in vars(a)  # instrumented instance
    b = Identity(name="b")
    await run_test([b], frames_to_send=[TextFrame("x")])
    assert "push" not in vars(b)  # plain class method: no observer cost


async def test_queue_frame_while_cancelling_is_counted_not_lost_silently():
    # The race for real: the session is cancelling (its CancelFrame is still on its way
    # through the pipeline, held here) when a producer queues a frame.
    class HoldsCancel(FrameProcessor):
        def __init__(self) -> None:
            super().__init__()
            self.holding = asyncio.Event()
            self.release = asyncio.Event()
            self.texts: list[str] = []

        async def process_frame(self, frame, direction):
            if isinstance(frame, CancelFrame):
                self.holding.set()
                await self.release.wait()
            elif isinstance(frame, TextFrame):
                self.texts.append(frame.text)
            await self.push(frame, direction)

    holder = HoldsCancel()
    task = PipelineTask([holder])
    runner = await start_task(task)
    await task.queue_frame(TextFrame("before"))
    cancelling = asyncio.ensure_future(task.cancel("test"))
    try:
        await asyncio.wait_for(holder.holding.wait(), 5)
        assert task.state is TaskState.CANCELLING
        await task.queue_frame(TextFrame("racing"))  # a producer that has not noticed yet
        assert task.stats.dropped == {"task:cancelling": 1}
    finally:
        holder.release.set()
        await asyncio.wait_for(cancelling, 5)
        await asyncio.wait_for(runner, 5)
    assert holder.texts == ["before"]  # the racing frame never ran, and it was counted
    assert task.state is TaskState.CLOSED

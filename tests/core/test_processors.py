"""FrameProcessor: direction, events, errors, filters, lifecycle hooks, the optional queue."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.frames import (
    CancelFrame,
    EndFrame,
    ErrorFrame,
    InterruptionFrame,
    StartFrame,
    TextFrame,
    TranscriptionFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
)
from wavewire.pipelines import PipelineTask
from wavewire.processors import (
    DOWNSTREAM,
    UPSTREAM,
    FrameFilter,
    FrameLogger,
    FrameProcessor,
    FunctionFilter,
    Identity,
)
from wavewire.processors.base import FrameQueue
from wavewire.testing import Up, run_test, start_task

from .helpers import Gate, Recorder, Suffix

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_downstream_order_and_transformation():
    result = await run_test(
        [Suffix("1"), Suffix("2")],
        frames_to_send=[TextFrame("a"), TextFrame("b"), TextFrame("c")],
        expected_down=[TextFrame] * 3,
    )
    assert [f.text for f in result.down] == ["a12", "b12", "c12"]


async def test_upstream_frames_come_out_at_the_top_in_reverse_path():
    rec_top, rec_bottom = Recorder(), Recorder()
    result = await run_test(
        [rec_top, Suffix("!"), rec_bottom],
        frames_to_send=[Up(TextFrame("up")), TextFrame("down")],
        expected_down=[TextFrame],
        expected_up=[TextFrame],
    )
    assert result.up[0].text == "up!"
    assert result.down[0].text == "down!"
    assert (result.up[0], UPSTREAM) in rec_top.seen
    assert any(d is UPSTREAM and f.text == "up" for f, d in rec_bottom.seen if isinstance(f, TextFrame))


async def test_event_handlers_sync_async_and_failing():
    proc = FrameProcessor()
    proc.register_event_handler("on_thing")
    calls = []

    @proc.event_handler("on_thing")
    def first(p, value):
        calls.append(("sync", p, value))
        raise RuntimeError("handler bug")

    @proc.event_handler("on_thing")
    async def second(p, value):
        calls.append(("async", p, value))

    await proc.call_event_handler("on_thing", 42)
    assert calls == [("sync", proc, 42), ("async", proc, 42)]
    with pytest.raises(ValueError, match="on_thng"):
        proc.add_event_handler("on_thng", second)


class Explodes(FrameProcessor):
    async def process_frame(self, frame, direction):
        if isinstance(frame, TextFrame) and frame.text == "boom":
            raise RuntimeError("kaboom")
        await self.push(frame, direction)


async def test_exception_becomes_error_frame_upstream_and_session_goes_on():
    bad = Explodes(name="bad")
    task = PipelineTask([Identity(), bad])
    down: list = []
    up: list = []
    task.set_taps(down=down.append, up=up.append)
    errors: list = []
    cancelled: list = []
    ended: list = []
    task.add_event_handler("on_pipeline_error", lambda t, f: errors.append(f))
    task.add_event_handler("on_pipeline_cancelled", lambda t, f: cancelled.append(f))
    task.add_event_handler("on_pipeline_ended", lambda t, f: ended.append(f))
    runner = await start_task(task)
    for text in ("ok1", "boom", "ok2"):
        await task.queue_frame(TextFrame(text))
    await task.stop_when_done()
    await asyncio.wait_for(runner, 5)
    (err,) = [f for f in up if isinstance(f, ErrorFrame)]
    assert err.processor == "bad" and not err.fatal
    assert isinstance(err.exception, RuntimeError) and "kaboom" in err.error
    assert [f.text for f in down if isinstance(f, TextFrame)] == ["ok1", "ok2"]
    assert task.stats.errors == 1
    assert task.stats.dropped == {"bad:error": 1}
    assert errors == [err]  # the session saw the error once...
    assert cancelled == [] and len(ended) == 1 and isinstance(ended[0], EndFrame)  # ...and went on


async def test_fatal_error_cancels_the_session():
    class Fatal(FrameProcessor):
        async def process_frame(self, frame, direction):
            if isinstance(frame, TextFrame):
                await self.push_error("cannot go on", fatal=True)
                return
            await self.push(frame, direction)

    rec = Recorder()
    task = PipelineTask([Fatal(), rec])
    cancelled = []
    task.add_event_handler("on_pipeline_cancelled", lambda t, f: cancelled.append(f))
    await task.queue_frame(TextFrame("x"))
    await asyncio.wait_for(task.run(), 2)
    assert task.has_finished()
    assert len(cancelled) == 1 and isinstance(cancelled[0], CancelFrame)
    assert "cannot go on" in cancelled[0].reason
    assert CancelFrame in rec.types()


async def test_filters_pass_lifecycle_and_count_drops():
    result = await run_test(
        [FrameFilter(TranscriptionFrame, name="f")],
        frames_to_send=[TextFrame("no"), TranscriptionFrame("yes"), UserStartedSpeakingFrame()],
        expected_down=[TranscriptionFrame, UserStartedSpeakingFrame],
    )
    assert result.task.stats.dropped == {"f:filtered": 1}


async def test_function_filter_only_in_its_direction():
    result = await run_test(
        [FunctionFilter(lambda f: False, direction=DOWNSTREAM)],
        frames_to_send=[TextFrame("down"), Up(TextFrame("up"))],
        expected_down=[],
        expected_up=[TextFrame],
    )
    assert result.up[0].text == "up"


async def test_frame_logger_passes_everything():
    await run_test(
        [FrameLogger("t")],
        frames_to_send=[TextFrame("a"), InterruptionFrame()],
        expected_down=[TextFrame, InterruptionFrame],
    )


async def test_lifecycle_hooks_in_order():
    log = []

    class Hooked(FrameProcessor):
        async def on_start(self, frame):
            log.append((self.name, "start", type(frame)))

        async def on_end(self, frame):
            log.append((self.name, "end", type(frame)))

        async def on_cancel(self, frame):
            log.append((self.name, "cancel", type(frame)))

    await run_test([Hooked(name="a"), Hooked(name="b")], frames_to_send=[TextFrame("x")])
    assert log == [
        ("a", "start", StartFrame),
        ("b", "start", StartFrame),
        ("a", "end", EndFrame),
        ("b", "end", EndFrame),
    ]
    log.clear()
    await run_test([Hooked(name="c")], frames_to_send=[], send_end_frame=False)
    assert log == [("c", "start", StartFrame), ("c", "cancel", CancelFrame)]


async def test_queued_processor_keeps_order_and_lets_system_frames_overtake():
    gate = Gate(queued=True, name="gate")
    rec = Recorder()
    task = PipelineTask([gate, rec])
    runner = await start_task(task)
    for i in range(3):
        await task.queue_frame(TextFrame(str(i)))
    await task.queue_frame(TTSStoppedFrame())
    await asyncio.wait_for(gate.entered.wait(), 1)
    await task.queue_frame(UserStartedSpeakingFrame())
    # The worker is blocked on frame "0"; the system frame went past it.
    assert rec.types()[-1] is UserStartedSpeakingFrame
    assert not any(isinstance(f, TextFrame) for f, _ in rec.seen)
    gate.open.set()
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    texts = [f.text for f, _ in rec.seen if isinstance(f, TextFrame)]
    assert texts == ["0", "1", "2"]
    kinds = rec.types()
    assert kinds.index(TTSStoppedFrame) > kinds.index(TextFrame)
    assert kinds[-1] is EndFrame


async def test_interruption_empties_queue_of_data_but_keeps_control():
    gate = Gate(queued=True, name="gate", cancel_on_interruption=True)
    rec = Recorder()
    task = PipelineTask([gate, rec])
    runner = await start_task(task)
    for i in range(4):
        await task.queue_frame(TextFrame(str(i)))
    await task.queue_frame(TTSStoppedFrame())
    await asyncio.wait_for(gate.entered.wait(), 1)
    await task.interrupt()
    gate.open.set()
    await task.queue_frame(TextFrame("after"))
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    texts = [f.text for f, _ in rec.seen if isinstance(f, TextFrame)]
    assert texts == ["after"]
    assert TTSStoppedFrame in rec.types()
    # 3 queued data frames dropped by the interruption; the one in flight was cancelled.
    assert task.stats.dropped["gate:interrupted"] == 3


async def test_frame_queue_back_pressure():
    q = FrameQueue(2)
    await q.put(TextFrame("a"), DOWNSTREAM)
    await q.put(TextFrame("b"), DOWNSTREAM)
    blocked = asyncio.create_task(q.put(TextFrame("c"), DOWNSTREAM))
    await asyncio.sleep(0.01)
    assert not blocked.done() and len(q) == 2
    frame, _ = await q.get()
    assert frame.text == "a"
    await asyncio.wait_for(blocked, 1)
    assert len(q) == 2
    assert q.drop_data() == 2 and len(q) == 0
    with pytest.raises(ValueError):
        FrameQueue(0)


async def test_processor_without_session_cannot_start_tasks():
    proc = FrameProcessor()

    async def nothing():
        pass

    from wavewire.errors import InvalidStateError

    with pytest.raises(InvalidStateError):
        proc.create_task(nothing())


async def test_a_huge_exception_message_is_clipped_in_the_error_frame():
    from wavewire import ErrorFrame, TextFrame
    from wavewire.testing import run_test

    class Boom(FrameProcessor):
        async def process_frame(self, frame, direction):
            if isinstance(frame, TextFrame):
                raise ValueError("x" * 100_000 + "\x00\n")
            await self.push(frame, direction)

    result = await run_test([Boom()], frames_to_send=[TextFrame("hi")])
    [err] = [f for f in result.up if isinstance(f, ErrorFrame)]
    assert "ValueError" in err.error and len(err.error) < 1000
    assert "\n" not in err.error and "\x00" not in err.error

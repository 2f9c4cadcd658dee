"""Interruptions: prompt everywhere, and no data produced before one is delivered after it."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.frames import (
    InputAudioFrame,
    InterruptionFrame,
    TextFrame,
    TTSStoppedFrame,
)
from wavewire.pipelines import PipelineTask
from wavewire.processors import FrameProcessor
from wavewire.testing import start_task

from .helpers import Gate, Recorder, Slow

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")




class Source(FrameProcessor):
    """A producer in the middle of the pipeline (like a service's receive task)."""


async def test_two_concurrent_producers_never_deliver_stale_data_after_interruption():
    """Producer A streams text through a suspending hop; producer B interrupts.

    Each frame carries the epoch at the moment it was produced (its first push); at the
    output, nothing produced before the interruption may come after it."""
    producer = Source(name="producer")
    slow = Slow(delay=0.002)
    out = Recorder(name="out")
    task = PipelineTask([producer, slow, out])
    delivered: list = []
    task.set_taps(down=delivered.append)
    runner = await start_task(task)

    produced_epoch: dict[str, int] = {}

    async def stream():
        for i in range(40):
            frame = TextFrame(f"a{i}")
            produced_epoch[frame.text] = task.epoch
            await producer.push(frame)

    async def interrupter():
        await asyncio.sleep(0.02)
        await task.interrupt()
        await asyncio.sleep(0.02)
        await task.interrupt()

    await asyncio.gather(stream(), stream(), interrupter())
    await task.stop_when_done()
    await asyncio.wait_for(runner, 5)

    seen = delivered
    interrupt_positions = [i for i, f in enumerate(seen) if isinstance(f, InterruptionFrame)]
    assert len(interrupt_positions) == 2
    epoch_at_output = 0
    for frame in seen:
        if isinstance(frame, InterruptionFrame):
            epoch_at_output += 1
        elif isinstance(frame, TextFrame):
            assert produced_epoch[frame.text] >= epoch_at_output, (
                f"{frame.text} from epoch {produced_epoch[frame.text]} "
                f"delivered after interruption #{epoch_at_output}"
            )
    # Stale frames really were in flight past the interruption (the recorder in the
    # middle saw them) and were dropped at the end; fresh ones survived.
    assert task.stats.total_dropped > 0
    assert len([f for f, _ in out.seen if isinstance(f, TextFrame)]) > len(
        [f for f in seen if isinstance(f, TextFrame)]
    )
    assert any(isinstance(f, TextFrame) for f in seen)
    assert task.epoch == 2


async def test_interruption_reaches_every_processor_while_data_is_queued():
    gate = Gate(queued=True, name="gate")
    recs = [Recorder(name=f"r{i}") for i in range(3)]
    task = PipelineTask([recs[0], gate, recs[1], recs[2]])
    runner = await start_task(task)
    for i in range(10):
        await task.queue_frame(TextFrame(str(i)))
    await asyncio.wait_for(gate.entered.wait(), 1)
    await task.interrupt()
    # Synchronously through every processor, including past the blocked queue.
    for rec in recs:
        assert InterruptionFrame in rec.types(), rec.name
    gate.open.set()
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    assert not any(isinstance(f, TextFrame) for f, _ in recs[2].seen)


async def test_system_and_control_frames_survive_interruption():
    gate = Gate(queued=True)
    out = Recorder()
    task = PipelineTask([gate, out])
    runner = await start_task(task)
    await task.queue_frame(TextFrame("held"))
    await asyncio.wait_for(gate.entered.wait(), 1)
    await task.queue_frame(TextFrame("queued"))
    await task.queue_frame(TTSStoppedFrame())
    await task.interrupt()
    await task.queue_frame(InputAudioFrame(b"\x00\x00", 16000))
    gate.open.set()
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    kinds = out.types()
    assert TTSStoppedFrame in kinds and InputAudioFrame in kinds
    assert TextFrame not in kinds


async def test_producer_can_stamp_frames_with_the_epoch_its_work_began():
    out = Recorder()
    producer = Source()
    task = PipelineTask([producer, out])
    delivered: list = []
    task.set_taps(down=delivered.append)
    runner = await start_task(task)
    started_in = producer.epoch
    await task.interrupt()
    late = TextFrame("late result of old work")
    late.epoch = started_in
    await producer.push(late)
    fresh = TextFrame("new work")
    await producer.push(fresh)
    await task.stop_when_done()
    await asyncio.wait_for(runner, 2)
    texts = [f.text for f in delivered if isinstance(f, TextFrame)]
    assert texts == ["new work"]

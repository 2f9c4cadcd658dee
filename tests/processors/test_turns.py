"""TurnTaking: user turn boundaries from VAD and STT evidence, on the session clock."""

from __future__ import annotations

import asyncio
from array import array

from wavewire.frames import (
    BotStartedSpeakingFrame,
    InputAudioFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    STTTurnFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.pipelines import PipelineParams, PipelineTask
from wavewire.processors.base import UPSTREAM
from wavewire.processors.turns import TurnTaking
from wavewire.testing import FakeClock, start_task


class Session:
    """TurnTaking in a session on a FakeClock, with the turn frames that come out."""

    def __init__(self, **kw) -> None:
        self.clock = FakeClock()
        self.turns = TurnTaking(**kw)
        self.task = PipelineTask([self.turns], clock=self.clock,
                                 params=PipelineParams(allow_interruptions=True))
        self.down: list = []
        self.task.set_taps(down=self.down.append)

    async def start(self) -> Session:
        self.runner = await start_task(self.task)
        return self

    def kinds(self) -> list[type]:
        wanted = (UserStartedSpeakingFrame, UserStoppedSpeakingFrame, InterruptionFrame)
        return [type(f) for f in self.down if isinstance(f, wanted)]

    async def stop(self) -> None:
        await self.task.stop_when_done()
        await self.clock.advance(1)
        await self.runner


async def test_vad_stop_plus_silence_ends_the_turn_and_speech_in_between_keeps_it():
    s = await Session(stop_secs=0.6).start()
    await s.task.queue_frame(VADUserStartedSpeakingFrame())
    assert s.kinds() == [UserStartedSpeakingFrame, InterruptionFrame]
    await s.task.queue_frame(VADUserStoppedSpeakingFrame())
    await s.clock.advance(0.4)
    await s.task.queue_frame(VADUserStartedSpeakingFrame())  # a pause, not the end
    await s.clock.advance(1.0)
    assert s.kinds() == [UserStartedSpeakingFrame, InterruptionFrame]
    await s.task.queue_frame(VADUserStoppedSpeakingFrame())
    await s.clock.advance(0.59)
    assert UserStoppedSpeakingFrame not in s.kinds()
    await s.clock.advance(0.02)
    assert s.kinds() == [UserStartedSpeakingFrame, InterruptionFrame, UserStoppedSpeakingFrame]
    assert s.task.epoch == 1
    await s.stop()


async def test_stt_turn_events_and_words_alone_drive_turns():
    s = await Session(stt_stop_secs=0.8).start()
    await s.task.queue_frame(STTTurnFrame("start"))
    await s.task.queue_frame(STTTurnFrame("end", transcript="hi"))
    assert s.kinds() == [UserStartedSpeakingFrame, InterruptionFrame, UserStoppedSpeakingFrame]
    s.down.clear()
    # Words with no VAD and no turn open: an emulated turn that ends after the silence.
    await s.task.queue_frame(InterimTranscriptionFrame("hel"))
    await s.clock.advance(0.5)
    await s.task.queue_frame(TranscriptionFrame("hello"))
    await s.clock.advance(0.7)
    assert s.kinds() == [UserStartedSpeakingFrame, InterruptionFrame]
    await s.clock.advance(0.2)
    started, _, stopped = [f for f in s.down if isinstance(
        f, UserStartedSpeakingFrame | UserStoppedSpeakingFrame | InterruptionFrame)]
    assert started.emulated and stopped.emulated
    await s.stop()


async def test_no_interruption_when_disabled_but_bot_speech_is_tracked():
    s = await Session(interruptions=False).start()
    await s.task.queue_frame(BotStartedSpeakingFrame(), UPSTREAM)
    assert s.turns.bot_speaking
    await s.task.queue_frame(VADUserStartedSpeakingFrame())
    assert s.kinds() == [UserStartedSpeakingFrame] and s.task.epoch == 0
    await s.stop()


class Model:
    """An end-of-turn model stand-in: says what it is told, records what it was given."""

    sample_rate = 16000

    def __init__(self, answers: list[float]) -> None:
        self.answers = answers
        self.seen: list[int] = []

    def predict(self, pcm: bytes) -> float:
        self.seen.append(len(pcm))
        return self.answers.pop(0)


async def test_an_end_of_turn_model_ends_complete_turns_at_once_and_waits_on_others():
    model = Model([0.1, 0.9])
    s = await Session(end_of_turn=model, max_stop_secs=3.0).start()

    async def until(predicate) -> None:
        for _ in range(200):  # the model runs in a thread: wait for it, with a deadline
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("timed out")

    await s.task.queue_frame(VADUserStartedSpeakingFrame())
    await s.task.queue_frame(InputAudioFrame(bytes(3200), 16000))
    await s.task.queue_frame(VADUserStoppedSpeakingFrame())
    await until(lambda: model.seen == [3200] and s.clock.pending)
    await s.clock.advance(2.9)
    assert UserStoppedSpeakingFrame not in s.kinds()  # incomplete: waits for more
    await s.task.queue_frame(VADUserStartedSpeakingFrame())
    await s.task.queue_frame(InputAudioFrame(bytes(3200), 16000))
    await s.task.queue_frame(VADUserStoppedSpeakingFrame())
    await until(lambda: UserStoppedSpeakingFrame in s.kinds())
    assert model.seen == [3200, 6400]  # the whole turn's audio
    await s.stop()


async def test_input_edge_can_send_raw_vad_evidence_for_turn_taking():
    from wavewire.audio.vad import VAD, EnergyVAD, VADParams
    from wavewire.serializers.raw import RawSerializer
    from wavewire.transports.edges import InputEdge

    tone = bytes(array("h", [8000, -8000] * 160))
    edge = InputEdge(RawSerializer(), vad=VAD(EnergyVAD(16000), VADParams(start_ms=60,
                                                                          stop_ms=200)),
                     vad_frames=True)
    task = PipelineTask([edge])
    down: list = []
    task.set_taps(down=down.append)
    runner = await start_task(task)
    for chunk in [bytes(640)] * 5 + [tone] * 20 + [bytes(640)] * 20:
        await edge.feed(chunk)
    await task.stop_when_done()
    await runner
    kinds = [type(f) for f in down if isinstance(
        f, VADUserStartedSpeakingFrame | VADUserStoppedSpeakingFrame | UserStartedSpeakingFrame
        | InterruptionFrame)]
    assert kinds == [VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame]
    assert task.epoch == 0  # turn taking decides about interruptions


async def test_turns_decided_upstream_are_followed_not_doubled():
    s = await Session().start()
    await s.task.queue_frame(UserStartedSpeakingFrame())  # e.g. an input edge's own VAD
    await s.task.queue_frame(TranscriptionFrame("hello"))
    await s.task.queue_frame(UserStoppedSpeakingFrame())
    await s.clock.advance(2)
    assert s.kinds() == [UserStartedSpeakingFrame, UserStoppedSpeakingFrame]
    assert s.task.epoch == 0 and not s.turns.in_turn
    await s.stop()


async def test_the_model_gets_the_turn_at_its_own_rate():
    model = Model([0.9])
    s = await Session(end_of_turn=model).start()
    await s.task.queue_frame(VADUserStartedSpeakingFrame())
    await s.task.queue_frame(InputAudioFrame(bytes(1600), 8000))  # 100 ms at 8 kHz
    await s.task.queue_frame(VADUserStoppedSpeakingFrame())
    for _ in range(200):
        if UserStoppedSpeakingFrame in s.kinds():
            break
        await asyncio.sleep(0.01)
    assert model.seen == [3200]  # 100 ms at 16 kHz
    await s.stop()

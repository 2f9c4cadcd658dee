"""The conversation loop end to end, with the fake OpenAI-compatible LLM on loopback:
turn taking → user aggregator → LLM → sentences → a recording TTS stand-in → assistant
aggregator (→ the output edge, for barge-in)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from wavewire.context import LLMContext
from wavewire.frames import (
    Frame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.pipelines import PipelineTask
from wavewire.processors.aggregators import context_aggregators
from wavewire.processors.base import DOWNSTREAM, FrameDirection, FrameProcessor
from wavewire.processors.sentences import SentenceAggregator
from wavewire.processors.turns import TurnTaking
from wavewire.serializers.raw import RawSerializer
from wavewire.services.openai import OpenAILLMService
from wavewire.testing import FakeClock, start_task
from wavewire.testing.fakes.openai import FakeOpenAI, Reply
from wavewire.transports.edges import OutputEdge

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

SYSTEM = {"role": "system", "content": "You are a voice assistant."}


class RecordingTTS(FrameProcessor):
    """A TTS stand-in: records each piece of text it is given and 'speaks' it: one
    TTSTextFrame per word with word timestamps (``word_s`` per word), then the audio."""

    def __init__(self, word_s: float = 0.3, timestamps: bool = True) -> None:
        super().__init__()
        self.word_s = word_s
        self.timestamps = timestamps
        self.spoken: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is not DOWNSTREAM or not isinstance(frame, LLMTextFrame):
            await self.push(frame, direction)
            return
        self.spoken.append(frame.text)
        words = frame.text.split()
        await self.push(TTSStartedFrame())
        for i, word in enumerate(words):
            if self.timestamps:
                await self.push(TTSTextFrame(word, start_s=i * self.word_s,
                                             end_s=(i + 1) * self.word_s - 0.05))
            else:
                await self.push(TTSTextFrame(word))
        await self.push(TTSAudioFrame(bytes(int(32000 * self.word_s) * len(words)), 16000))
        await self.push(TTSStoppedFrame())


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait (real time, the LLM is on a socket) until ``predicate()``, with a deadline."""
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


class Loop:
    """The loop in a session on a FakeClock (the LLM itself runs in real time)."""

    def __init__(self, fake: FakeOpenAI, *, edge: bool = False, timestamps: bool = True) -> None:
        self.clock = FakeClock()
        self.context = LLMContext([dict(SYSTEM)])
        self.user, self.assistant = context_aggregators(self.context)
        self.llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test")
        self.tts = RecordingTTS(timestamps=timestamps)
        self.sent: list = []

        async def send(message) -> None:
            self.sent.append(message)

        procs: list[FrameProcessor] = [TurnTaking(stop_secs=0.6), self.user, self.llm,
                                       SentenceAggregator(), self.tts, self.assistant]
        if edge:
            procs.append(OutputEdge(RawSerializer(), send))
        self.task = PipelineTask(procs, clock=self.clock)

    async def start(self) -> Loop:
        self.runner = await start_task(self.task)
        return self

    async def say(self, text: str) -> None:
        """A user turn: speech starts, words, speech stops, then the silence."""
        await self.task.queue_frame(VADUserStartedSpeakingFrame())
        await self.task.queue_frame(TranscriptionFrame(text))
        await self.task.queue_frame(VADUserStoppedSpeakingFrame())
        await self.clock.advance(0.6)

    def last(self) -> dict:
        return self.context.messages[-1]

    async def close(self) -> None:
        await self.task.cancel("test over")
        await asyncio.wait_for(self.runner, 5)


async def test_transcript_in_request_out_sentences_to_tts_and_the_answer_in_context():
    async with FakeOpenAI([Reply("Sure, Dr. Who is in. It costs 3.5 euros today!")]) as fake:
        loop = await Loop(fake).start()
        await loop.say("Is the doctor in?")
        await until(lambda: loop.last()["role"] == "assistant", "the answer")
        await loop.close()
    (request,) = fake.requests
    assert request.messages == [SYSTEM, {"role": "user", "content": "Is the doctor in?"}]
    assert loop.tts.spoken == ["Sure, Dr. Who is in.", " It costs 3.5 euros today!"]
    assert loop.last() == {"role": "assistant",
                           "content": "Sure, Dr. Who is in. It costs 3.5 euros today!"}


@pytest.mark.parametrize("timestamps", [True, False], ids=["word-timestamps", "proportion"])
async def test_barge_in_keeps_only_the_words_played_and_the_next_request_carries_them(
        timestamps):
    """With word timestamps, the words whose audio ended; without, the text's share of
    the audio played (1.0 s of 1.8 s: 15 of 28 characters), rounded down to a word."""
    script = [Reply("One two three four five six."), Reply("Okay, stopping.")]
    async with FakeOpenAI(script) as fake:
        loop = await Loop(fake, edge=True, timestamps=timestamps).start()
        await loop.say("Count to six.")
        await until(lambda: loop.last()["role"] == "assistant", "the answer")
        assert loop.last()["content"] == "One two three four five six."  # all of it, so far
        for _ in range(50):  # 1 s of playback: words end at 0.25, 0.55, 0.85, 1.15 s…
            await loop.clock.advance(0.02)
        await loop.say("Stop!")  # barge-in
        await until(lambda: fake.request_count == 2, "the second request")
        await until(lambda: loop.last()["content"] == "Okay, stopping.", "the second answer")
        await loop.close()
    heard = {"role": "assistant", "content": "One two three"}
    assert fake.requests[1].messages == [
        SYSTEM, {"role": "user", "content": "Count to six."}, heard,
        {"role": "user", "content": "Stop!"}]
    assert loop.context.messages[:4] == fake.requests[1].messages
    played = sum(len(m) for m in loop.sent if isinstance(m, bytes)) / 32  # ms
    assert 1000 <= played < 1150  # audio stopped at the barge-in, before the fourth word ended

"""espeak-ng TTS: the ctypes engine (audio and word positions in memory, off the loop)
and the service (utterance framing, word timing, sentence gathering, interruptions)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from wavewire.errors import ServiceError
from wavewire.frames import (
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.pipelines.task import PipelineParams, PipelineTask
from wavewire.processors.base import FrameProcessor
from wavewire.services.espeak import EspeakTTSService
from wavewire.services.espeak_engine import EspeakEngine, Synthesis
from wavewire.testing import run_test, start_task


class Recorder(FrameProcessor):
    """Keeps every downstream frame the TTS pushed, stale or not."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame, direction):
        self.seen.append(frame)
        self.changed.set()
        await self.push(frame, direction)

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.seen):
                self.changed.clear()
                await self.changed.wait()


def rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


async def test_engine_speaks_into_memory_with_word_positions():
    engine = EspeakEngine.shared()
    text = "Hello world, what time is it? It's 3:45."
    s = await engine.run(text)
    assert s.sample_rate == 22050 and not s.aborted
    seconds = len(s.pcm) / 2 / s.sample_rate
    assert 1.5 < seconds < 6.0
    assert rms(s.pcm) > 500  # speech, not silence
    # One word per whitespace token, as written, even where espeak-ng splits a token.
    assert [w.text for w in s.words] == text.split()
    starts = [w.start for w in s.words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert all(w.start <= w.end <= len(s.pcm) // 2 for w in s.words)
    # Each word's audio is speech: its span is louder than the silence espeak-ng emits.
    for w in s.words:
        assert rms(s.pcm[w.start * 2 : w.end * 2]) > 300, w


async def test_engine_resamples_and_scales_word_positions():
    engine = EspeakEngine.shared()
    native = await engine.run("what time is it")
    at16 = await engine.run("what time is it", out_rate=16000)
    assert at16.sample_rate == 16000
    # espeak-ng's output varies by a few milliseconds from call to call.
    assert len(at16.pcm) / 2 / 16000 == pytest.approx(len(native.pcm) / 2 / 22050, rel=0.02)
    for a, b in zip(native.words, at16.words, strict=True):
        assert b.start / 16000 == pytest.approx(a.start / 22050, abs=0.02)
    assert at16.words[-1].end <= len(at16.pcm) // 2


async def test_engine_runs_on_its_own_thread(monkeypatch):
    engine = EspeakEngine.shared()
    threads: list[str] = []
    real = engine.synthesize

    def spy(*args, **kwargs) -> Synthesis:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "synthesize", spy)
    await engine.run("one")
    await engine.run("two")
    assert len(threads) == 2 and all(t.startswith("espeak-ng") for t in threads)
    assert threading.current_thread().name not in threads


async def test_cancelling_the_caller_aborts_the_synthesis(monkeypatch):
    engine = EspeakEngine.shared()
    text = "This is a long sentence that takes a few seconds to say. " * 3
    full = await engine.run(text)
    loop = asyncio.get_running_loop()
    entered, cancelled = asyncio.Event(), threading.Event()
    results: list[Synthesis] = []
    real = engine.synthesize

    def held(*args, **kwargs) -> Synthesis:
        # Starts on the engine thread, then waits until the caller has been cancelled.
        loop.call_soon_threadsafe(entered.set)
        cancelled.wait(5)
        results.append(real(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(engine, "synthesize", held)
    caller = asyncio.ensure_future(engine.run(text))
    await asyncio.wait_for(entered.wait(), 5)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    cancelled.set()
    monkeypatch.setattr(engine, "synthesize", real)
    again = await engine.run(text)  # queued behind the aborted one on the engine thread
    assert results[0].aborted and len(results[0].pcm) < len(full.pcm) / 4
    assert not again.aborted and len(again.pcm) == pytest.approx(len(full.pcm), rel=0.02)


async def test_unknown_voice_is_a_service_error():
    with pytest.raises(ServiceError, match="no voice"):
        await EspeakEngine.shared().run("hi", voice="no-such-voice-xyz")
    ok = await EspeakEngine.shared().run("hi")
    assert ok.pcm


async def test_service_frames_an_utterance_with_word_timing():
    tts = EspeakTTSService()
    result = await run_test(
        [tts], frames_to_send=[TTSSpeakFrame("What time is it?")],
        params=PipelineParams(sample_rate=24000),
    )
    down = result.down
    assert isinstance(down[0], TTSStartedFrame) and isinstance(down[-1], TTSStoppedFrame)
    assert down[0].context_id == down[-1].context_id is not None
    words = [f for f in down if isinstance(f, TTSTextFrame)]
    assert [w.text for w in words] == ["What", "time", "is", "it?"]
    audio = [f for f in down if isinstance(f, TTSAudioFrame)]
    assert audio and all(a.sample_rate == 24000 and a.num_channels == 1 for a in audio)
    assert all(a.duration <= 0.1 + 1e-9 for a in audio)  # chunk_ms
    # Each word frame comes right before its own audio: the audio pushed before it
    # is exactly its start time.
    pushed = 0.0
    for f in down[1:-1]:
        if isinstance(f, TTSTextFrame):
            assert f.start_s is not None and f.end_s is not None
            if f is not words[0]:
                assert f.start_s == pytest.approx(pushed, abs=1 / 24000)
            assert f.start_s <= f.end_s
        else:
            pushed += f.duration
    assert words[-1].end_s <= pushed + 1e-6


async def test_plain_text_is_spoken_but_tts_text_passes_through():
    echo = TTSTextFrame("already spoken", 0.0, 1.0)
    result = await run_test([EspeakTTSService()], frames_to_send=[TextFrame("Hi."), echo])
    kinds = [type(f) for f in result.down]
    assert kinds[0] is TTSStartedFrame and TTSStoppedFrame in kinds
    assert result.down[-1] is echo


async def test_llm_text_is_gathered_into_sentences():
    chunks = ["Hello", " there. How", " are", " you"]
    frames = [LLMFullResponseStartFrame(), *map(LLMTextFrame, chunks), LLMFullResponseEndFrame()]
    result = await run_test([EspeakTTSService()], frames_to_send=frames)
    down = result.down
    assert isinstance(down[0], LLMFullResponseStartFrame)
    assert isinstance(down[-1], LLMFullResponseEndFrame)
    starts = [i for i, f in enumerate(down) if isinstance(f, TTSStartedFrame)]
    assert len(starts) == 2
    utterances = [
        " ".join(
            f.text
            for f in down[a:]
            if isinstance(f, TTSTextFrame) and f.context_id == down[a].context_id
        )
        for a in starts
    ]
    assert utterances == ["Hello there.", "How are you"]
    assert not any(isinstance(f, LLMTextFrame) for f in down)


class GatedEngine(EspeakEngine):
    """The real engine, but each synthesis waits for the test to open the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def run(self, text, **kwargs):
        self.waiting.set()
        await self.gate.wait()
        return await super().run(text, **kwargs)


async def test_interruption_during_synthesis_pushes_no_audio():
    engine = GatedEngine()
    tts, rec = EspeakTTSService(engine=engine), Recorder()

    async def interrupt_then_release():
        await asyncio.wait_for(engine.waiting.wait(), 5)
        await tts.interrupt()
        engine.gate.set()

    task = PipelineTask([tts, rec])
    runner = await start_task(task)
    await task.queue_frame(TTSSpeakFrame("You will never hear this sentence."))
    await interrupt_then_release()
    await task.queue_frame(TTSSpeakFrame("Next."))
    await task.stop_when_done()
    await asyncio.wait_for(runner, 10)
    kinds = [type(f) for f in rec.seen]
    first_stop = kinds.index(TTSStoppedFrame)
    assert InterruptionFrame in kinds[:first_stop]
    assert not any(k in (TTSAudioFrame, TTSTextFrame) for k in kinds[:first_stop])
    assert any(k is TTSAudioFrame for k in kinds[first_stop:])  # the next one is spoken
    assert task.stats.dropped.get(f"{tts.name}:interrupted") == 1


async def test_sentence_rules_are_the_aggregators():
    frames = [LLMTextFrame("Dr. Smith"), LLMTextFrame(" is here. Bye"), LLMFullResponseEndFrame()]
    result = await run_test([EspeakTTSService()], frames_to_send=frames)
    starts = [f for f in result.down if isinstance(f, TTSStartedFrame)]
    words = [[w.text for w in result.down if isinstance(w, TTSTextFrame) and w.context_id == s.context_id]
             for s in starts]
    assert words == [["Dr.", "Smith", "is", "here."], ["Bye"]]


async def test_behind_a_sentence_aggregator_each_piece_is_spoken_at_once():
    from wavewire.processors.sentences import SentenceAggregator

    tts, rec = EspeakTTSService(aggregate_sentences=False), Recorder()
    task = PipelineTask([SentenceAggregator(early_first=False), tts, rec])
    runner = await start_task(task)
    await task.queue_frame(LLMFullResponseStartFrame())
    for token in ["The time", " is noon.", " And"]:
        await task.queue_frame(LLMTextFrame(token))
    # The first sentence is heard before the response ends (its end frame is not sent yet).
    await rec.wait_for(lambda seen: any(isinstance(f, TTSStoppedFrame) for f in seen))
    spoken = [f.text for f in rec.seen if isinstance(f, TTSTextFrame)]
    assert spoken == ["The", "time", "is", "noon."]
    await task.queue_frame(LLMFullResponseEndFrame())
    await task.stop_when_done()
    await asyncio.wait_for(runner, 10)
    assert [f.text for f in rec.seen if isinstance(f, TTSTextFrame)][-1] == "And"

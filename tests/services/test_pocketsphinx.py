"""pocketsphinx STT: espeak-ng speech recognised exactly against a phrase grammar (the
offline assistant's core), interim results, timing, resampling, errors, threads."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("pocketsphinx")
pytest.importorskip("espeakng_loader")

from wavewire.frames import (
    ErrorFrame,
    InputAudioFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.pipelines.task import PipelineTask
from wavewire.processors.base import FrameProcessor
from wavewire.services.espeak_engine import EspeakEngine
from wavewire.services.pocketsphinx import PocketsphinxSTTService, phrases_grammar
from wavewire.testing import run_test, start_task

PHRASES = ["what time is it", "what is the date", "set a timer for five minutes", "hello"]
CHUNK = 640  # 20 ms at 16 kHz


async def speech(text: str, rate: int = 16000, lead_s: float = 0.5) -> bytes:
    s = await EspeakEngine.shared().run(text, out_rate=rate)
    pad = b"\0" * int(rate * lead_s) * 2
    return pad + s.pcm + pad


def frames(pcm: bytes, rate: int = 16000) -> list[InputAudioFrame]:
    step = rate * 2 // 50
    return [InputAudioFrame(pcm[i : i + step], rate) for i in range(0, len(pcm), step)]


def utterance(pcm: bytes, rate: int = 16000, start_after: int = 20, vad: bool = True) -> list:
    """Audio with the VAD's start reported ``start_after`` chunks in (later than the
    speech really began, as a VAD does) and its stop at the end."""
    chunks = frames(pcm, rate)
    start, stop = (
        (VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame())
        if vad
        else (UserStartedSpeakingFrame(), UserStoppedSpeakingFrame())
    )
    return [*chunks[:start_after], start, *chunks[start_after:], stop]


def finals(result) -> list[TranscriptionFrame]:
    return [f for f in result.down if isinstance(f, TranscriptionFrame)]


@pytest.mark.parametrize("text", PHRASES[:3])
async def test_espeak_phrase_is_recognised_exactly(text):
    pcm = await speech(text)
    result = await run_test([PocketsphinxSTTService(phrases=PHRASES)], frames_to_send=utterance(pcm))
    [final] = finals(result)
    assert final.text == text and final.language == "en-US" and final.timestamp
    assert [w.text for w in final.words] == text.split()
    # Word times are in the stream: speech begins after the half second of silence.
    assert 0.3 <= final.words[0].start_s <= 0.9
    assert final.words[-1].end_s <= len(pcm) / 2 / 16000
    assert all(a.end_s <= b.start_s + 1e-9 for a, b in zip(final.words, final.words[1:], strict=False))
    # Every frame passes on, audio included.
    assert sum(isinstance(f, InputAudioFrame) for f in result.down) == len(frames(pcm))


async def test_general_model_hears_the_keywords():
    pcm = await speech("what time is it")
    # The general model decodes ~30x slower than a grammar: on a loaded machine the
    # final result can take seconds, so the end waits for it as long as the test does.
    stt = PocketsphinxSTTService(end_timeout=60)
    result = await run_test([stt], frames_to_send=utterance(pcm), timeout=90)
    [final] = finals(result)
    assert "time" in final.text.split()


async def test_user_turn_frames_also_bound_the_utterance_and_8khz_is_resampled():
    pcm = await speech("what is the date", rate=8000)
    result = await run_test(
        [PocketsphinxSTTService(phrases=PHRASES)], frames_to_send=utterance(pcm, 8000, vad=False)
    )
    assert [f.text for f in finals(result)] == ["what is the date"]


async def test_audio_outside_speech_is_not_transcribed():
    pcm = await speech("hello")
    sent = [*frames(pcm), VADUserStoppedSpeakingFrame()]  # no start: never an utterance
    result = await run_test([PocketsphinxSTTService(phrases=PHRASES)], frames_to_send=sent)
    assert not any(isinstance(f, (TranscriptionFrame, InterimTranscriptionFrame)) for f in result.down)


class Recorder(FrameProcessor):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list = []
        self.changed = asyncio.Event()

    async def process_frame(self, frame, direction):
        self.seen.append(frame)
        self.changed.set()
        await self.push(frame, direction)

    async def wait_for(self, kind, timeout: float = 10.0):
        async with asyncio.timeout(timeout):
            while True:
                found = [f for f in self.seen if isinstance(f, kind)]
                if found:
                    return found
                self.changed.clear()
                await self.changed.wait()


async def test_interim_results_while_speaking_then_the_final():
    pcm = await speech("set a timer for five minutes")
    chunks = frames(pcm)
    stt, rec = PocketsphinxSTTService(phrases=PHRASES), Recorder()
    task = PipelineTask([stt, rec])
    runner = await start_task(task)
    await task.queue_frame(VADUserStartedSpeakingFrame())
    half = len(chunks) * 2 // 3
    for chunk in chunks[:half]:
        await task.queue_frame(chunk)
    interim = await rec.wait_for(InterimTranscriptionFrame)
    assert not any(isinstance(f, TranscriptionFrame) for f in rec.seen)
    assert interim[0].text and set(interim[0].text.split()) <= set("set a timer for five minutes".split())
    for chunk in chunks[half:]:
        await task.queue_frame(chunk)
    await task.queue_frame(VADUserStoppedSpeakingFrame())
    [final] = await rec.wait_for(TranscriptionFrame)
    assert final.text == "set a timer for five minutes"
    assert rec.seen.index(final) > rec.seen.index(interim[-1])
    await task.stop_when_done()
    await asyncio.wait_for(runner, 10)


async def test_decoding_runs_on_the_pool_not_the_loop(monkeypatch):
    threads: list[str] = []
    real = PocketsphinxSTTService._run_ops

    def spy(self, decoder, ops):
        threads.append(threading.current_thread().name)
        return real(self, decoder, ops)

    monkeypatch.setattr(PocketsphinxSTTService, "_run_ops", spy)
    pcm = await speech("hello")
    result = await run_test([PocketsphinxSTTService(phrases=PHRASES)], frames_to_send=utterance(pcm))
    assert [f.text for f in finals(result)] == ["hello"]
    assert threads and all(t.startswith("pocketsphinx") for t in threads)


async def test_a_word_outside_the_dictionary_is_a_clear_fatal_error():
    stt = PocketsphinxSTTService(phrases=["hello wavewirezzz"])
    task = PipelineTask([stt])
    errors: list[ErrorFrame] = []
    task.set_taps(up=lambda f: errors.append(f) if isinstance(f, ErrorFrame) else None)
    runner = await start_task(task)
    await asyncio.wait_for(runner, 10)  # the fatal error cancels the session
    assert any("not in the dictionary: wavewirezzz" in e.error and e.fatal for e in errors)


def test_phrases_grammar_normalises_and_rejects_empty():
    g = phrases_grammar(["What time is it?", "what time is it", "Hello!"])
    assert g.endswith("public <phrase> = what time is it | hello;\n")
    with pytest.raises(ValueError):
        phrases_grammar(["?!", ""])
    with pytest.raises(ValueError):
        PocketsphinxSTTService(phrases=["a"], grammar=g)


async def test_a_decoder_busy_when_its_session_ends_is_reused_only_after(monkeypatch):
    real = PocketsphinxSTTService._run_ops
    gate = threading.Event()
    loop, a_entered = asyncio.get_running_loop(), asyncio.Event()
    busy: set[int] = set()
    overlaps: list[int] = []
    used: list[tuple[str, int]] = []

    def spy(self, decoder, ops):
        key = id(decoder)
        if key in busy:
            overlaps.append(key)
        busy.add(key)
        used.append((self.name, key))
        try:
            if self.name == "A":
                loop.call_soon_threadsafe(a_entered.set)
                gate.wait(10)  # A's batch is still on the pool when A is cancelled
            return real(self, decoder, ops)
        finally:
            busy.discard(key)

    monkeypatch.setattr(PocketsphinxSTTService, "_run_ops", spy)
    grammar = phrases_grammar(["a decoder reuse test"])
    pcm = await speech("hello")

    a = PipelineTask([PocketsphinxSTTService(grammar=grammar, name="A")])
    runner = await start_task(a)
    for frame in utterance(pcm)[:30]:
        await a.queue_frame(frame)
    await asyncio.wait_for(a_entered.wait(), 10)
    await a.cancel("test")
    await asyncio.wait_for(runner, 10)

    await run_test([PocketsphinxSTTService(grammar=grammar, name="B")], frames_to_send=utterance(pcm))
    gate.set()
    # Once its batch ends, A's decoder goes back to the pool and later sessions get it
    # (never two sessions one decoder at the same time).
    async with asyncio.timeout(10):
        while True:
            await asyncio.gather(
                *(
                    run_test([PocketsphinxSTTService(grammar=grammar, name=n)],
                             frames_to_send=utterance(pcm))
                    for n in ("C1", "C2")
                )
            )
            decoders = dict(used)
            if decoders["A"] in (decoders["C1"], decoders["C2"]):
                break
    assert decoders["B"] != decoders["A"]
    assert not overlaps


async def test_audio_beyond_the_backlog_is_dropped_and_counted(monkeypatch):
    real = PocketsphinxSTTService._run_ops
    gate, loop, entered = threading.Event(), asyncio.get_running_loop(), asyncio.Event()

    def held(self, decoder, ops):
        loop.call_soon_threadsafe(entered.set)
        gate.wait(10)  # the decoder falls behind
        return real(self, decoder, ops)

    monkeypatch.setattr(PocketsphinxSTTService, "_run_ops", held)
    stt = PocketsphinxSTTService(phrases=PHRASES, max_backlog_s=0.2)
    task = PipelineTask([stt])
    runner = await start_task(task)
    try:
        await task.queue_frame(VADUserStartedSpeakingFrame())
        chunks = frames(await speech("hello"))
        await asyncio.wait_for(entered.wait(), 10)  # the first batch: the start alone
        for chunk in chunks[:50]:  # one second while that batch is held
            await task.queue_frame(chunk)
        # 0.2 s fit in the backlog (10 chunks of 20 ms); the other 40 are dropped.
        assert task.stats.dropped.get(f"{stt.name}:backlog") == 40
    finally:
        gate.set()
        await task.cancel("test")
        await asyncio.wait_for(runner, 10)

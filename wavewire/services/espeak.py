"""Offline text-to-speech with espeak-ng: :class:`EspeakTTSService`, the pipeline
processor over :class:`~wavewire.services.espeak_engine.EspeakEngine` (the ``offline``
extra; espeak-ng is GPL-3.0, so it is never a core dependency).

The service speaks :class:`~wavewire.frames.TTSSpeakFrame` and
:class:`~wavewire.frames.TextFrame` at once (each is taken as a sentence) and gathers
:class:`~wavewire.frames.LLMTextFrame` tokens into sentences by the rules of
:func:`~wavewire.processors.sentences.split_sentences` (the rest is flushed at
:class:`~wavewire.frames.LLMFullResponseEndFrame`). Behind a
:class:`~wavewire.processors.sentences.SentenceAggregator`, whose pieces are sentences
already, pass ``aggregate_sentences=False`` so each is spoken as soon as it arrives. Each utterance goes out as
:class:`TTSStartedFrame`, then for each word a :class:`TTSTextFrame` (with ``start_s`` /
``end_s``) followed by that word's :class:`TTSAudioFrame` chunks at the pipeline's rate,
then :class:`TTSStoppedFrame`. Synthesis runs on the engine's thread, never on the event
loop. An interruption aborts the synthesis in progress, drops the gathered text and stops
the audio not pushed yet; the frames already pushed carry the epoch of the utterance, so
the boundaries after this one discard them.
"""

from __future__ import annotations

import itertools

from ..frames import (
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    StartFrame,
    TextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from ..processors.base import FrameDirection, FrameProcessor
from ..processors.sentences import split_sentences
from .espeak_engine import DEFAULT_VOICE, EspeakEngine

__all__ = ["DEFAULT_VOICE", "EspeakEngine", "EspeakTTSService"]

class EspeakTTSService(FrameProcessor):
    """Text to speech with espeak-ng, off the event loop (see the module docstring).

    :param voice: an espeak-ng voice name, with an optional ``+variant``.
    :param rate_wpm: speaking rate in words per minute (espeak-ng's default if ``None``).
    :param pitch: base pitch, 0-100 (the voice's default if ``None``).
    :param chunk_ms: longest audio frame pushed (a word boundary also starts a frame).
    :param aggregate_sentences: gather LLM tokens into sentences (``False``: each
        :class:`LLMTextFrame` is spoken as it comes, as behind a ``SentenceAggregator``).
    :param engine: the engine to use (the process's shared one by default).
    """

    def __init__(
        self,
        *,
        voice: str = DEFAULT_VOICE,
        rate_wpm: int | None = None,
        pitch: int | None = None,
        chunk_ms: int = 100,
        aggregate_sentences: bool = True,
        engine: EspeakEngine | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name, queued=True, cancel_on_interruption=False)
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self.voice = voice
        self.rate_wpm = rate_wpm
        self.pitch = pitch
        self.chunk_ms = chunk_ms
        self.aggregate_sentences = aggregate_sentences
        self._engine = engine or EspeakEngine.shared()
        self._sample_rate = 16000
        self._pending = ""  # LLM text gathered until a sentence ends
        self._utterances = 0

    async def on_start(self, frame: StartFrame) -> None:
        self._sample_rate = frame.sample_rate

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is FrameDirection.UPSTREAM:
            await self.push(frame, direction)
        elif type(frame) is InterruptionFrame:
            self._pending = ""
            await self.push(frame, direction)
        elif isinstance(frame, LLMTextFrame):
            if not self.aggregate_sentences:
                await self.speak(frame.text, frame.epoch)
                return
            self._pending += frame.text
            pieces, self._pending = split_sentences(self._pending)
            for piece in pieces:
                await self.speak(piece, frame.epoch)
        elif isinstance(frame, LLMFullResponseEndFrame):
            text, self._pending = self._pending, ""
            await self.speak(text, frame.epoch)
            await self.push(frame, direction)
        elif isinstance(frame, TTSSpeakFrame) or (
            isinstance(frame, TextFrame) and not isinstance(frame, TTSTextFrame)
        ):
            await self.speak(frame.text, frame.epoch)
        else:
            await self.push(frame, direction)

    async def speak(self, text: str, epoch: int | None = None) -> None:
        """Synthesise ``text`` and push the utterance, unless an interruption came after
        ``epoch`` (the session's current one by default)."""
        if not text.strip():
            return
        if epoch is None or epoch < 0:
            epoch = self.epoch
        if epoch < self.epoch:
            self.count_drop("interrupted")
            return
        self._utterances += 1
        context_id = f"{self.name}:{self._utterances}"
        await self.push(TTSStartedFrame(context_id))
        try:
            await self._synthesize_and_push(text, epoch, context_id)
        finally:
            await self.push(TTSStoppedFrame(context_id))

    async def _synthesize_and_push(self, text: str, epoch: int, context_id: str) -> None:
        rate = self._sample_rate
        synthesis = await self._engine.run(
            text, voice=self.voice, rate_wpm=self.rate_wpm, pitch=self.pitch, out_rate=rate
        )
        pcm, words = synthesis.pcm, synthesis.words
        if synthesis.aborted or epoch < self.epoch:
            self.count_drop("interrupted")
            return
        chunk = max(2, rate * self.chunk_ms // 1000 * 2)
        # Audio before the first word (leading silence) goes out with the first word.
        bounds = [0] + [w.start * 2 for w in words[1:]] + [len(pcm)]
        for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
            if epoch < self.epoch:
                self.count_drop("interrupted")
                return
            if i < len(words):
                word = words[i]
                out = TTSTextFrame(word.text, word.start / rate, word.end / rate, context_id)
                out.epoch = epoch
                await self.push(out)
            for offset in range(start, stop, chunk):
                if epoch < self.epoch:
                    self.count_drop("interrupted")
                    return
                audio = TTSAudioFrame(
                    pcm[offset : min(offset + chunk, stop)], rate, context_id=context_id
                )
                audio.epoch = epoch
                await self.push(audio)

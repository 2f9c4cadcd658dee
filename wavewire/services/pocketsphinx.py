"""Offline speech-to-text with pocketsphinx: :class:`PocketsphinxSTTService`.

pocketsphinx (BSD) ships an en-us acoustic model, dictionary and language model in its
wheel (the ``offline`` extra). The service decodes the user's audio as it arrives:

* An utterance starts at :class:`~wavewire.frames.VADUserStartedSpeakingFrame` or
  :class:`~wavewire.frames.UserStartedSpeakingFrame`, with the last ``preroll_ms`` of
  audio before it (the VAD reports speech a little after it began).
* While it lasts, each new partial hypothesis goes out as an
  :class:`~wavewire.frames.InterimTranscriptionFrame`.
* It ends at :class:`~wavewire.frames.VADUserStoppedSpeakingFrame` or
  :class:`~wavewire.frames.UserStoppedSpeakingFrame`: the final
  :class:`~wavewire.frames.TranscriptionFrame` carries the words with their times in the
  session's audio stream and their confidence (nothing is pushed if nothing was heard).

Recognition is open (the general language model) unless ``phrases`` or a JSGF
``grammar`` restrict it: then the result is exactly one of the phrases, which is what a
command interface and the tests want. Decoding runs on a small process-wide thread pool,
one batch of audio at a time per session, never on the event loop; decoders are built
there too and reused by later sessions with the same settings. Every frame passes on.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ..errors import ServiceError
from ..frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
    Word,
)
from ..processors.base import FrameDirection, FrameProcessor

__all__ = ["PocketsphinxSTTService", "phrases_grammar", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'wavewire[offline]'"
RATE = 16000
"""The rate the en-us model expects; other input is resampled to it."""
_FRAME_S = 0.01  # pocketsphinx's default frame rate: 100 frames per second
_FILLERS = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+.*\+)$")
_STARTS = (VADUserStartedSpeakingFrame, UserStartedSpeakingFrame)
_STOPS = (VADUserStoppedSpeakingFrame, UserStoppedSpeakingFrame)

_executor: ThreadPoolExecutor | None = None
_pool: dict[str, list[Any]] = {}  # idle decoders by grammar ("" = the general model)
_pool_lock = threading.Lock()
_POOL_MAX = 8


def _threads() -> ThreadPoolExecutor:
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pocketsphinx")
        return _executor


def phrases_grammar(phrases: Sequence[str]) -> str:
    """A JSGF grammar whose sentences are exactly ``phrases`` (case and punctuation are
    dropped: pocketsphinx's dictionary is lower case, without punctuation)."""
    alternatives = []
    for phrase in phrases:
        words = re.findall(r"[a-z0-9']+", phrase.lower())
        if words:
            alternatives.append(" ".join(words))
    if not alternatives:
        raise ValueError("phrases: need at least one phrase with words in it")
    return "#JSGF V1.0;\ngrammar phrases;\npublic <phrase> = " + " | ".join(
        dict.fromkeys(alternatives)
    ) + ";\n"


def _build(grammar: str) -> Any:
    """A decoder for ``grammar`` ("" = the general model). Blocking (0.1-0.4 s)."""
    try:
        import pocketsphinx
    except ImportError:
        raise ServiceError(
            f"pocketsphinx is not installed (the offline extra): {INSTALL_HINT}"
        ) from None
    if not grammar:
        return pocketsphinx.Decoder(loglevel="FATAL")
    decoder = pocketsphinx.Decoder(loglevel="FATAL", lm=None)
    words = set(re.findall(r"(?<![<#\w])[a-z0-9'][a-z0-9'_-]*", grammar.split(";", 2)[-1]))
    unknown = sorted(w for w in words if decoder.lookup_word(w) is None)
    if unknown:
        raise ServiceError(f"pocketsphinx: not in the dictionary: {', '.join(unknown)}")
    try:
        decoder.add_jsgf_string("wavewire", grammar)
    except (ValueError, RuntimeError) as exc:
        raise ServiceError(f"pocketsphinx: invalid JSGF grammar: {exc}") from None
    decoder.activate_search("wavewire")
    return decoder


def _acquire(grammar: str) -> Any:
    with _pool_lock:
        idle = _pool.get(grammar)
        if idle:
            return idle.pop(0)  # oldest first: every pooled decoder takes its turn
    return _build(grammar)


def _release(grammar: str, decoder: Any, in_utterance: bool) -> None:
    if in_utterance:
        decoder.end_utt()
    with _pool_lock:
        idle = _pool.setdefault(grammar, [])
        if len(idle) < _POOL_MAX:
            idle.append(decoder)


def _words(decoder: Any, offset_s: float) -> list[Word]:
    words = []
    for seg in decoder.seg():
        if _FILLERS.match(seg.word):
            continue
        text = re.sub(r"\(\d+\)$", "", seg.word)  # alternative pronunciations: "the(2)"
        words.append(
            Word(
                text,
                offset_s + seg.start_frame * _FRAME_S,
                offset_s + (seg.end_frame + 1) * _FRAME_S,
                min(1.0, max(0.0, float(seg.prob))),
            )
        )
    return words


class PocketsphinxSTTService(FrameProcessor):
    """Streaming offline recognition (see the module docstring).

    :param phrases: recognise exactly one of these phrases (a grammar is built from them).
    :param grammar: a JSGF grammar (instead of ``phrases``).
    :param preroll_ms: audio kept from before the start of speech.
    :param max_backlog_s: audio waiting for the decoder beyond this is dropped (counted).
    :param language: the language reported in the transcriptions.
    :param user_id: who speaks, for the transcriptions.
    :param end_timeout: how long an EndFrame waits for the audio before it to be decoded.
    """

    def __init__(
        self,
        *,
        phrases: Sequence[str] | None = None,
        grammar: str | None = None,
        preroll_ms: int = 500,
        max_backlog_s: float = 10.0,
        language: str = "en-US",
        user_id: str = "",
        end_timeout: float = 2.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if phrases is not None and grammar is not None:
            raise ValueError("give phrases or grammar, not both")
        self.grammar = phrases_grammar(phrases) if phrases is not None else (grammar or "")
        self.language = language
        self.user_id = user_id
        self._preroll: deque[bytes] = deque()
        self._preroll_bytes = 0
        self._preroll_max = RATE * 2 * preroll_ms // 1000
        self._backlog_max = int(RATE * 2 * max_backlog_s)
        self._ops: list[tuple[str, Any]] = []  # ("start", offset s) ("audio", pcm) ("end", None)
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._in_speech = False
        self._position = 0  # samples at 16 kHz received so far: the stream's clock
        self._resampler: Any = None
        self._decoder: Any = None
        self._decode_task: asyncio.Task | None = None
        self._batch: asyncio.Future | None = None  # the batch running on the pool
        self._idle = asyncio.Event()  # set while nothing waits for the decoder
        self._idle.set()
        self.end_timeout = end_timeout
        """How long an EndFrame waits for the audio before it to be decoded."""
        # Decoder state, used on the pool only (one batch at a time).
        self._in_utt = False
        self._offset = 0.0
        self._partial = ""

    async def on_start(self, frame: StartFrame) -> None:
        self._decode_task = self.create_task(self._decode_loop(), "decode")

    async def on_end(self, frame: EndFrame) -> None:
        await self._stop()

    async def on_cancel(self, frame: CancelFrame) -> None:
        await self._stop()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is FrameDirection.DOWNSTREAM:
            if type(frame) is InputAudioFrame:
                self._audio(frame)
            elif isinstance(frame, _STARTS):
                self._start_utterance()
            elif isinstance(frame, _STOPS):
                self._end_utterance()
            elif isinstance(frame, EndFrame):
                await self._drain()
        await self.push(frame, direction)

    # -- on the loop: turn frames into decoder operations ------------------------------

    def _audio(self, frame: InputAudioFrame) -> None:
        pcm = frame.audio
        if frame.num_channels != 1:
            from ..audio.channels import convert_channels

            pcm = convert_channels(pcm, frame.num_channels, 1)
        if frame.sample_rate != RATE:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                from ..audio.resample import StreamResampler

                self._resampler = StreamResampler(frame.sample_rate, RATE)
            pcm = self._resampler.process(pcm)
        self._position += len(pcm) // 2
        if self._in_speech:
            self._add_op("audio", pcm, len(pcm))
            return
        self._preroll.append(pcm)
        self._preroll_bytes += len(pcm)
        while self._preroll_bytes - len(self._preroll[0]) >= self._preroll_max:
            self._preroll_bytes -= len(self._preroll.popleft())

    def _start_utterance(self) -> None:
        if self._in_speech:
            return
        self._in_speech = True
        audio = b"".join(self._preroll)
        self._preroll.clear()
        self._preroll_bytes = 0
        self._add_op("start", (self._position - len(audio) // 2) / RATE)
        if audio:
            self._add_op("audio", audio, len(audio))

    def _end_utterance(self) -> None:
        if self._in_speech:
            self._in_speech = False
            self._add_op("end", None)

    def _add_op(self, op: str, value: Any, size: int = 0) -> None:
        if size and self._queued_bytes + size > self._backlog_max:
            self.count_drop("backlog")  # the decoder is this far behind: lose audio, not time
            return
        self._ops.append((op, value))
        self._queued_bytes += size
        self._idle.clear()
        self._wake.set()

    async def _drain(self) -> None:
        """Wait (within ``end_timeout``) until everything queued has been decoded and
        pushed, so a graceful end delivers the last transcription."""
        self._end_utterance()
        if self._decode_task is None or self._decode_task.done():
            return
        try:
            async with asyncio.timeout(self.end_timeout):
                await self._idle.wait()
        except TimeoutError:
            self.count_drop("end-timeout")

    # -- the decode task: one batch at a time on the thread pool -----------------------

    async def _decode_loop(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._decoder = await loop.run_in_executor(_threads(), _acquire, self.grammar)
        except ServiceError as exc:
            await self.push_error(str(exc), fatal=True, exception=exc)
            return
        while True:
            await self._wake.wait()
            self._wake.clear()
            ops, self._ops, self._queued_bytes = self._ops, [], 0
            self._batch = loop.run_in_executor(_threads(), self._run_ops, self._decoder, ops)
            # Shielded: cancelling this task must not mark the batch done while the pool
            # thread still uses the decoder (_stop waits for it before reusing it).
            results = await asyncio.shield(self._batch)
            for final, text, words in results:
                await self._publish(final, text, words)
            if not self._ops:
                self._idle.set()

    def _run_ops(
        self, decoder: Any, ops: list[tuple[str, Any]]
    ) -> list[tuple[bool, str, list[Word]]]:
        """On the pool: feed the decoder; return the transcriptions to push."""
        out: list[tuple[bool, str, list[Word]]] = []
        for op, value in ops:
            if op == "start":
                if self._in_utt:
                    decoder.end_utt()
                decoder.start_utt()
                self._in_utt, self._offset, self._partial = True, value, ""
            elif op == "audio" and self._in_utt:
                decoder.process_raw(value, False, False)
            elif op == "end" and self._in_utt:
                decoder.end_utt()
                self._in_utt = False
                hyp = decoder.hyp()
                text = hyp.hypstr.strip() if hyp is not None else ""
                if text:
                    out.append((True, text, _words(decoder, self._offset)))
        if self._in_utt:
            hyp = decoder.hyp()
            text = hyp.hypstr.strip() if hyp is not None else ""
            if text and text != self._partial:
                self._partial = text
                out.append((False, text, []))
        return out

    async def _publish(self, final: bool, text: str, words: list[Word]) -> None:
        stamp = datetime.now(UTC).isoformat()
        kind = TranscriptionFrame if final else InterimTranscriptionFrame
        await self.push(kind(text, self.user_id, stamp, self.language, words=words))

    async def _stop(self) -> None:
        worker, self._decode_task = self._decode_task, None
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait({worker}, timeout=2.0)
        batch, self._batch = self._batch, None
        decoder, self._decoder = self._decoder, None
        if decoder is not None:
            grammar = self.grammar

            def release(done: asyncio.Future | None = None) -> None:
                if done is not None and not done.cancelled():
                    done.exception()  # retrieved: nobody awaits it any more
                _threads().submit(_release, grammar, decoder, self._in_utt)

            # The pool thread cannot be stopped: a batch still running keeps its decoder
            # until it finishes, and only then is the decoder reset and reused.
            if batch is None or batch.done():
                release()
            else:
                batch.add_done_callback(release)
        dropped = sum(1 for op, _ in self._ops if op == "audio")
        if dropped:
            self.count_drop("closed", dropped)
        self._ops.clear()

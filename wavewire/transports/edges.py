"""The edges of every session: where wire messages become frames and frames become wire
messages. Every transport (WebSocket server, client, anything else) uses these two.

:class:`InputEdge` (first processor): decodes each message with the connection's
serializer, checks the audio's declared format, converts it to the pipeline's rate and
channels, runs the VAD, and pushes user started/stopped speaking (and, when allowed, an
interruption) ahead of the audio.

:class:`OutputEdge` (last processor): converts output audio to the wire format, chunks it
to the wire's frame size, and plays it out from a bounded queue paced by a media clock
(send time = start + samples sent ÷ rate; being late never adds permanent delay). It
emits bot started/stopped speaking when playback really starts and ends, clears its queue
at once on an interruption (and lets the serializer tell the peer, e.g. Twilio
``clear``), and reports how much of each bot utterance was actually played
(:class:`~wavewire.frames.BotUtterancePlayedFrame`, upstream), so a context aggregator
can keep only what the user heard.

Queue policy (OutputEdge): the playback queue holds up to ``max_queue_ms`` of audio. A
producer that gets further ahead waits (back-pressure) until playback catches up, so TTS
that runs a thousand times faster than real time loses nothing; nothing is dropped except
by an interruption, a cancel, a failed send or a frame the protocol refuses, and each of
those drops is counted. Messages keep their order with the audio, except that the last
partial chunk of audio (< one wire frame) waits for more audio (or the end) and so may
be sent after a message that followed it: padding it with silence mid-stream would put
gaps into the speech.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import coarse_timer
from ..errors import FrameFormatError, ProtocolError, SessionClosedError, clip
from ..frames import (
    DATA,
    SYSTEM,
    AudioFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    Frame,
    InputAudioFrame,
    InputDTMFFrame,
    InputImageFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    PlaybackMarkFrame,
    StartFrame,
    TextFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..serializers.base import FrameSerializer, Message

__all__ = ["EdgeStats", "InputEdge", "OutputEdge"]

_REPORTED_ERRORS = 10
"""Bad messages reported as ErrorFrames per connection; later ones are only counted,
so a hostile peer cannot flood the logs."""
_REPORTED_LENGTH = 400
"""Longest text of a reported ErrorFrame (what a peer sent may be quoted in it)."""

_INPUT_ONLY = (InputAudioFrame, InputTransportMessageFrame, InputDTMFFrame, InputImageFrame)
_TO_TASK = (EndTaskFrame, CancelTaskFrame)


@dataclass(slots=True)
class EdgeStats:
    """Counters of one edge (every drop is counted here and in the session's stats)."""

    messages_in: int = 0
    """Wire messages received."""
    frames_in: int = 0
    """Frames pushed into the pipeline."""
    protocol_errors: int = 0
    """Messages the serializer rejected."""
    format_errors: int = 0
    """Audio frames with an impossible format (odd bytes, bad rate or channels, empty)."""
    messages_out: int = 0
    """Wire messages sent."""
    audio_ms_sent: float = 0.0
    """Milliseconds of audio sent."""
    dropped: int = 0
    """Audio chunks or messages dropped (interruption, cancel, failed send, stale)."""
    send_errors: int = 0
    """Sends that raised (the peer went away)."""


def _converter(
    in_rate: int, in_channels: int, out_rate: int, out_channels: int
) -> Callable[[bytes], bytes] | None:
    """A stateful function converting s16le PCM between formats (None if equal)."""
    if in_rate == out_rate and in_channels == out_channels:
        return None
    from ..audio.channels import convert_channels
    from ..audio.resample import StreamResampler

    # Change channels on the side with fewer of them, so the resampler does less work.
    mid_channels = min(in_channels, out_channels)
    resampler = StreamResampler(in_rate, out_rate, mid_channels)

    def convert(pcm: bytes) -> bytes:
        if in_channels != mid_channels:
            pcm = convert_channels(pcm, in_channels, mid_channels)
        pcm = resampler.process(pcm)
        if mid_channels != out_channels:
            pcm = convert_channels(pcm, mid_channels, out_channels)
        return pcm

    convert.resampler = resampler  # type: ignore[attr-defined]
    return convert


class _Conversion:
    """Checks each frame's declared format and converts it to one target format, with a
    stateful converter per source format, built on first use."""

    __slots__ = ("_by_source", "channels", "rate")

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self._by_source: dict[tuple[int, int], Callable[[bytes], bytes]] = {}

    def __call__(self, audio: bytes, rate: int, channels: int, *, allow_empty: bool) -> bytes:
        if channels < 1 or rate <= 0 or len(audio) % (2 * channels) or not (audio or allow_empty):
            raise FrameFormatError(f"{len(audio)} bytes, {rate} Hz, {channels} channel(s)")
        if rate == self.rate and channels == self.channels:
            return audio
        convert = self._by_source.get((rate, channels))
        if convert is None:
            convert = _converter(rate, channels, self.rate, self.channels)
            assert convert is not None
            self._by_source[rate, channels] = convert
        return convert(audio)

    def reset(self) -> None:
        """Forget filter history (after an interruption the stream restarts)."""
        for convert in self._by_source.values():
            convert.resampler.reset()  # type: ignore[attr-defined]


class InputEdge(FrameProcessor):
    """First processor of a session: wire messages in, frames out.

    :param serializer: the connection's protocol object.
    :param vad: a per-session :class:`~wavewire.audio.vad.VAD`; its analyzer's rate may
        differ from the pipeline's (the edge converts for it).
    :param interrupt_on_speech: with a VAD, interrupt the bot when the user starts
        speaking (if the session allows interruptions).
    :param vad_frames: with a VAD, push its raw evidence
        (:class:`~wavewire.frames.VADUserStartedSpeakingFrame` /
        :class:`~wavewire.frames.VADUserStoppedSpeakingFrame`) and leave turns and
        interruptions to a :class:`~wavewire.processors.turns.TurnTaking` downstream.
    """

    def __init__(
        self,
        serializer: FrameSerializer,
        *,
        vad: VAD | None = None,
        interrupt_on_speech: bool = True,
        vad_frames: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.serializer = serializer
        self.vad = vad
        self.interrupt_on_speech = interrupt_on_speech
        self.vad_frames = vad_frames
        self.stats = EdgeStats()
        self._rate = 16000
        self._channels = 1
        self._allow_interruptions = True
        self._to_pipeline = _Conversion(self._rate, self._channels)
        self._vad_convert: Callable[[bytes], bytes] | None = None
        self._reported = 0
        self._decode = serializer.decode
        self._pass_rate = 0  # audio at this rate (and _channels) needs no work: see on_start
        self._pcm_pass = False  # binary messages are pipeline-ready PCM: see on_start

    async def on_start(self, frame: StartFrame) -> None:
        self._rate = frame.sample_rate
        self._channels = frame.num_channels
        self._pass_rate = self._rate if self.vad is None else 0  # a VAD sees every frame
        wire = self.serializer.wire
        self._pcm_pass = (
            self.serializer.pcm_binary
            and wire.sample_rate == self._pass_rate
            and wire.num_channels == self._channels
        )
        self._to_pipeline = _Conversion(self._rate, self._channels)
        self._allow_interruptions = frame.allow_interruptions
        if self.vad is not None:
            self._vad_convert = _converter(
                self._rate, self._channels, self.vad.analyzer.sample_rate, 1
            )

    async def feed(self, message: Message) -> None:
        """Decode one wire message and push its frames. Non-fatal protocol and format
        errors are counted and reported upstream; a fatal ``ProtocolError`` is raised so
        the transport closes with its ``close_code``. Raises
        :class:`~wavewire.errors.SessionClosedError` once the session takes no input."""
        session = self._task
        if not session.accepting:
            raise SessionClosedError(f"{self.name}: the session takes no more input")
        stats = self.stats
        stats.messages_in += 1
        if self._pcm_pass and type(message) is bytes and message:
            if not len(message) % (2 * self._channels):
                # The message is the audio, already in the pipeline's format (raw).
                stats.frames_in += 1
                await self.push(InputAudioFrame(message, self._rate, self._channels), DOWNSTREAM)
                return
        try:
            frames = self._decode(message)
        except ProtocolError as exc:
            stats.protocol_errors += 1
            self.count_drop("protocol")
            if exc.fatal:
                raise
            text, protocol = str(exc), self.serializer.protocol
            if not text.startswith(f"{protocol}:"):  # most protocols' errors name themselves
                text = f"{protocol}: {text}"
            await self._report(text, exc)
            return
        for frame in frames:
            if type(frame) is InputAudioFrame:
                n = len(frame.audio)
                if (
                    frame.sample_rate != self._pass_rate
                    or frame.num_channels != self._channels
                    or not n
                    or n % (2 * self._channels)
                ):
                    await self._audio(frame)  # converted, checked or analysed there
                    continue
                # Already in the pipeline's format, no VAD: straight on (the usual case).
                stats.frames_in += 1
                await self.push(frame, DOWNSTREAM)
            else:
                stats.frames_in += 1
                # Requests to the session itself (the peer hung up...) go to the task.
                direction = UPSTREAM if isinstance(frame, _TO_TASK) else DOWNSTREAM
                await self.push(frame, direction)

    def count_protocol_error(self) -> None:
        """Count a message refused before it reached :meth:`feed`: too large for the
        socket (closed with 1009), or rejected by the serializer of an output-only
        socket. The edge owns its counters; the server reports these here."""
        self.stats.protocol_errors += 1

    async def _report(self, error: str, exc: Exception) -> None:
        self._reported += 1
        if self._reported <= _REPORTED_ERRORS:  # bounded in number and, by clip, in size
            await self.push_error(clip(error, _REPORTED_LENGTH), exception=exc)

    async def _audio(self, frame: InputAudioFrame) -> None:
        audio = frame.audio
        try:
            converted = self._to_pipeline(
                audio, frame.sample_rate, frame.num_channels, allow_empty=False
            )
        except FrameFormatError as exc:
            self.stats.format_errors += 1
            self.count_drop("format")
            await self._report(f"bad input audio: {exc}", exc)
            return
        if converted is not audio:
            audio = converted
            frame = InputAudioFrame(audio, self._rate, self._channels, frame.pts)
        if self.vad is not None:
            await self._run_vad(audio)
        self.stats.frames_in += 1
        await self.push(frame, DOWNSTREAM)

    async def _run_vad(self, audio: bytes) -> None:
        assert self.vad is not None
        if self._vad_convert is not None:
            audio = self._vad_convert(audio)
        for event in self.vad.process(audio):
            if self.vad_frames:
                started = event.kind == "started"
                await self.push(
                    VADUserStartedSpeakingFrame() if started else VADUserStoppedSpeakingFrame(),
                    DOWNSTREAM,
                )
            elif event.kind == "started":
                await self.push(UserStartedSpeakingFrame(), DOWNSTREAM)
                if self._allow_interruptions and self.interrupt_on_speech:
                    await self.interrupt()
            else:
                await self.push(UserStoppedSpeakingFrame(), DOWNSTREAM)


# --- output ------------------------------------------------------------------------

_AUDIO, _MESSAGE, _UTT_END, _END = range(4)


def _not_started(*args: Any) -> Any:
    raise RuntimeError("the output edge has not started")


class OutputEdge(FrameProcessor):
    """Last processor of a session: frames in, paced wire messages out.

    :param serializer: the connection's protocol object (its ``wire`` is the target format).
    :param send: coroutine function that sends one message to the peer.
    :param send_nowait: optional function that sends one message at once if it can (True)
        or says the edge must ``await send(message)`` instead (False), which spares a
        coroutine per message when the peer keeps up. Both raise when the peer is gone.
    :param max_queue_ms: audio the playback queue may hold before producers wait.
    :param pace: send audio in real time from the media clock (turn off for peers that
        buffer themselves, e.g. a file writer).
    :param stop_grace: seconds after the last audio has played before the bot counts as
        stopped speaking (bridges gaps between TTS chunks). On the real clock the check
        is a coarse timer, so the stop is reported up to 10 ms after that.
    :param reset_after: pacing timeline policy (see below).

    Pacing timeline: audio is sent on one timeline (chunk *n* due at start + *n* frames)
    for as long as the stream lasts. A stream that falls behind (the producer stalled,
    or a peer's backlog arrived in a burst) catches up by sending the late audio at
    once, back on its original timeline, so a stall never adds lasting delay. The
    timeline restarts from "now" only where a new utterance really begins: on a
    :class:`TTSStartedFrame` after the bot stopped speaking, after an interruption, or
    when the stream was silent for more than ``reset_after`` seconds. So a catch-up burst
    is never longer than ``reset_after`` of audio.
    """

    def __init__(
        self,
        serializer: FrameSerializer,
        send: Callable[[Message], Awaitable[Any]],
        *,
        send_nowait: Callable[[Message], bool] | None = None,
        max_queue_ms: int = 30_000,
        pace: bool = True,
        max_lead: float = 0.04,
        stop_grace: float = 0.1,
        reset_after: float = 0.5,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        if max_queue_ms <= 0:
            raise ValueError("max_queue_ms must be positive")
        self.serializer = serializer
        self._send = send
        self._send_nowait = send_nowait
        self._encode_audio = serializer.encode_audio
        self._pcm_out = serializer.pcm_binary
        self.max_queue_ms = max_queue_ms
        self.pace = pace
        self.max_lead = max_lead
        self.stop_grace = stop_grace
        self.reset_after = reset_after
        self.stats = EdgeStats()
        wire = serializer.wire
        self._wire_rate = wire.sample_rate
        self._wire_channels = wire.num_channels
        self._bytes_per_ms = wire.sample_rate * wire.num_channels * 2 / 1000
        self._align = 2 * wire.num_channels  # bytes per sample frame
        self._now: Callable[[], float] = time.monotonic  # the session's clock, from on_start
        self._playq: deque[tuple[int, int, Any]] = deque()  # (kind, epoch, payload)
        self._queued_ms = 0.0
        self._wake: asyncio.Event | None = None
        self._space: asyncio.Event | None = None
        self._player: asyncio.Task | None = None
        self._busy = False
        self._watching = False  # the player is timing the end of playback
        self._end_timer: Any = None
        self._call_coarse: Callable[..., Any] = _not_started  # the running loop's, on_start
        self._to_wire = _Conversion(wire.sample_rate, wire.num_channels)
        self._chunker: Any = None
        self._pacer: Any = None
        self._speaking = False
        self._utt_ms = 0.0  # audio queued in the current utterance
        self._utt_played_ms = 0.0
        self._utt_text: list[tuple[float, str]] = []  # (position ms, text)
        self._tts_base_ms = 0.0  # where the current TTS utterance's audio starts
        self._mark_seq = 0
        self._marks_out: set[str] = set()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------------------

    async def on_start(self, frame: StartFrame) -> None:
        from ..audio.chunker import Chunker
        from ..audio.pacer import MediaPacer

        self._chunker = Chunker(self.serializer.wire.frame_bytes)
        self._now = self.clock.now
        self._call_coarse = coarse_timer(self.clock)
        self._pacer = MediaPacer(
            self._wire_rate, self.clock, max_lead=self.max_lead, max_lag=self.reset_after
        )
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._player = self.create_task(self._play(), "playback")

    async def on_cancel(self, frame: CancelFrame) -> None:
        self._drop_queue("cancelled")

    # -- frames in -----------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is UPSTREAM or not isinstance(frame, AudioFrame):
            await self._process_other(frame, direction)
            return
        # Output audio (data): the per-frame path, kept in this one coroutine.
        if frame.epoch < self._task.epoch:
            self._count("stale")
            return
        audio = frame.audio
        try:
            if (
                frame.sample_rate != self._wire_rate
                or frame.num_channels != self._wire_channels
                or len(audio) % self._align
            ):
                audio = self._to_wire(
                    audio, frame.sample_rate, frame.num_channels, allow_empty=True
                )
            chunks = self._chunker.push(audio)
        except FrameFormatError as exc:
            self._count("format")
            await self.push_error(f"bad output audio: {exc}", exception=exc)
            return
        if not chunks:
            return
        bytes_per_ms = self._bytes_per_ms
        chunk_ms = len(chunks[0]) / bytes_per_ms
        due_now = not self.pace or self._pacer.admit(  # one clock read for it all
            len(audio) / bytes_per_ms * 0.001, self._queued_ms * 0.001, self._now()
        ) == 0.0
        if not (due_now and len(chunks) == 1 and not self._playq and not self._busy):
            await self._queue_chunks(chunks, chunk_ms, frame.epoch)
            return
        # Fast path: nothing queued, player idle, audio due now -> send inline.
        self._utt_ms += chunk_ms
        chunk = chunks[0]
        messages = None
        if self._speaking and self._send_nowait is not None:
            if self._pcm_out:
                messages = [chunk]  # the chunk is its own message (raw)
            else:
                try:
                    messages = self._encode_audio(chunk)
                except Exception:
                    messages = None  # _send_chunk encodes it again, and reports the error
        if messages is None or len(messages) != 1 or not self._sent_now(chunk, messages[0]):
            await self._send_chunk(chunk, messages)
        if not self._watching:
            # The player sleeps until woken; it must start watching for the end of
            # playback. While it watches, its timer re-checks by itself: waking it for
            # every inline chunk would cost a task switch per frame.
            self._wake_player()

    async def _process_other(self, frame: Frame, direction: FrameDirection) -> None:
        """Every frame but downstream audio."""
        if direction is UPSTREAM:
            await self.push(frame, direction)
            return
        tier = frame.tier
        if tier == SYSTEM:
            await self._system(frame)
        elif isinstance(frame, EndFrame):
            self._put(_END, frame)
        elif tier == DATA and frame.epoch < self.epoch:
            self._count("stale")
        else:
            if isinstance(frame, TextFrame):
                # Where in the utterance's audio this text is heard, for "what was heard":
                # from the TTS's word timestamps when it gives them (the word's end, so a
                # word cut short does not count; relative to the start of its audio), else
                # where the audio queued so far ends.
                at_s = getattr(frame, "end_s", None)
                if at_s is None:
                    at_s = getattr(frame, "start_s", None)
                pos = self._utt_ms if at_s is None else self._tts_base_ms + at_s * 1000
                self._utt_text.append((pos, frame.text))
            elif isinstance(frame, TTSStartedFrame):
                self._tts_base_ms = self._utt_ms
            self._put(_MESSAGE, frame)
            if isinstance(frame, TTSStoppedFrame):
                self._put(_UTT_END, None)
            await self.push(frame, DOWNSTREAM)

    async def _system(self, frame: Frame) -> None:
        if isinstance(frame, _INPUT_ONLY):
            pass  # reached the end of the pipeline; never sent back out
        elif type(frame) is InterruptionFrame:
            await self._interrupted(frame)
        elif type(frame) is PlaybackMarkFrame:
            self._mark_returned(frame.name)  # the peer's echo; ends here
            return
        elif type(frame) is CancelFrame:
            self._drop_queue("cancelled")
        elif type(frame) is not StartFrame:
            await self._send_now(frame)  # urgent messages, speaking events (protocol decides)
        await self.push(frame, DOWNSTREAM)

    async def _queue_chunks(self, chunks: list[bytes], chunk_ms: float, epoch: int) -> None:
        """Queue audio chunks for the player, waiting while the queue is full."""
        space = self._space
        assert space is not None
        for i, chunk in enumerate(chunks):
            while self._queued_ms >= self.max_queue_ms and not self._closing:
                if self._pacer is not None:
                    self._pacer.held()  # its arrival rate is now the queue's drain rate
                space.clear()
                await space.wait()  # playback frees space in real time; clears release it
                if epoch < self.epoch:
                    self._count("stale", len(chunks) - i)
                    return
            self._put(_AUDIO, chunk, epoch)
            self._queued_ms += chunk_ms
            self._utt_ms += chunk_ms

    def _resync(self) -> None:
        """Restart the timeline after a silence longer than ``reset_after``."""
        pacer = self._pacer
        if pacer.started and pacer.lag() > self.reset_after:
            pacer.reset()

    def _put(self, kind: int, payload: Any, epoch: int | None = None) -> None:
        self._playq.append((kind, self.epoch if epoch is None else epoch, payload))
        self._wake_player()

    def _wake_player(self) -> None:
        wake = self._wake
        if wake is not None:
            wake.set()

    def _count(self, reason: str, n: int = 1) -> None:
        self.stats.dropped += n
        self.count_drop(reason, n)

    def _drop_queue(self, reason: str) -> None:
        """Drop queued audio and data messages (counted); control frames and the EndFrame
        survive, in order."""
        kept: deque[tuple[int, int, Any]] = deque()
        dropped = 0
        for item in self._playq:
            kind, _, payload = item
            if kind == _END or (kind == _MESSAGE and payload.tier != DATA):
                kept.append(item)
            elif kind != _UTT_END:
                dropped += 1
        if dropped:
            self._count(reason, dropped)
        self._playq = kept
        self._queued_ms = 0.0
        if self._chunker is not None:
            pending = self._chunker.clear()
            if pending:
                self._count(reason)
        if self._space is not None:
            self._space.set()

    # -- interruption, marks, speaking state ---------------------------------------------

    async def _interrupted(self, frame: InterruptionFrame) -> None:
        self._drop_queue("interrupted")
        self._to_wire.reset()
        if self._pacer is not None:
            self._pacer.reset()
        await self._send_now(frame)  # e.g. Twilio "clear"
        self._marks_out.clear()
        if self._speaking:
            await self._stopped_speaking(interrupted=True)

    def _mark_returned(self, name: str) -> None:
        if name in self._marks_out:
            self._marks_out.discard(name)
            if not self._marks_out and self._speaking and not self._playq:
                self._wake_player()

    async def _started_speaking(self) -> None:
        self._speaking = True
        self._utt_played_ms = 0.0
        await self.push(BotStartedSpeakingFrame(), UPSTREAM)
        await self.push(BotStartedSpeakingFrame(), DOWNSTREAM)

    async def _stopped_speaking(self, interrupted: bool = False) -> None:
        self._speaking = False
        played, total = self._utt_played_ms, max(self._utt_ms, self._utt_played_ms)
        heard = " ".join(t for pos, t in self._utt_text if pos <= played or not interrupted)
        self._utt_text.clear()
        self._tts_base_ms = max(0.0, self._tts_base_ms - self._utt_ms)
        self._utt_ms = 0.0
        await self.push(BotStoppedSpeakingFrame(interrupted=interrupted), UPSTREAM)
        await self.push(BotStoppedSpeakingFrame(interrupted=interrupted), DOWNSTREAM)
        await self.push(
            BotUtterancePlayedFrame(heard.strip(), played, total, interrupted), UPSTREAM
        )

    # -- sending -----------------------------------------------------------------------------

    async def _deliver(self, messages: list[Message]) -> bool:
        send_nowait = self._send_nowait
        try:
            for message in messages:
                if send_nowait is None or not send_nowait(message):
                    await self._send(message)
                self.stats.messages_out += 1
            return True
        except Exception:
            self._send_failed()
            return False

    def _send_failed(self) -> None:
        self.stats.send_errors += 1
        self._count("send-failed")

    async def _send_now(self, frame: Frame) -> None:
        try:
            messages = self.serializer.encode(frame)
        except Exception as exc:  # the protocol refused it (too big, bad state...)
            self._count("encode")
            await self.push_error(f"{self.serializer.protocol}: {exc}", exception=exc)
            return
        if messages:
            await self._deliver(messages)

    async def _send_chunk(self, chunk: bytes, messages: list[Message] | None = None) -> None:
        """Send one chunk of wire audio (``messages``: the chunk, already encoded) and
        move the media clock past it, whether or not the send worked."""
        if not self._speaking:
            await self._started_speaking()
        if messages is None:
            try:
                messages = self._encode_audio(chunk)
            except Exception as exc:
                self._count("encode")
                await self.push_error(f"{self.serializer.protocol}: {exc}", exception=exc)
                self._advance(chunk, played=False)
                return
        if len(messages) == 1 and self._send_nowait is not None and self._sent_now(
            chunk, messages[0]
        ):
            return
        self._advance(chunk, await self._deliver(messages))

    def _sent_now(self, chunk: bytes, message: Message) -> bool:
        """``_send_chunk``'s usual case without a coroutine: the chunk's one message goes
        at once (or the peer is gone: counted). False, with nothing done, when the send
        must be awaited."""
        try:
            if not self._send_nowait(message):  # type: ignore[misc]
                return False
        except Exception:
            self._send_failed()
            self._advance(chunk, played=False)
        else:
            self.stats.messages_out += 1
            self._advance(chunk, played=True)
        return True

    def _advance(self, chunk: bytes, played: bool) -> None:
        """Move the media clock past ``chunk``, counting it as played if it was sent."""
        if played:
            ms = len(chunk) / self._bytes_per_ms
            self.stats.audio_ms_sent += ms
            self._utt_played_ms += ms
        self._pacer.advance(len(chunk) // self._align)

    async def _end_utterance_mark(self) -> None:
        if not self.serializer.playback_marks:
            return
        self._mark_seq += 1
        name = f"{self.name}-utt-{self._mark_seq}"
        self._marks_out.add(name)
        await self._send_now(PlaybackMarkFrame(name))

    # -- the playback task ---------------------------------------------------------------------

    async def _play(self) -> None:
        wake = self._wake
        assert wake is not None
        queue = self._playq
        while True:
            queue = self._playq
            if not queue:
                if self._speaking:
                    self._watching = True
                    try:
                        await self._idle_while_speaking()
                    finally:
                        self._watching = False
                    continue
                wake.clear()
                await wake.wait()
                continue
            kind, epoch, payload = queue.popleft()
            self._busy = True
            try:
                if kind == _AUDIO:
                    self._queued_ms = max(0.0, self._queued_ms - len(payload) / self._bytes_per_ms)
                    if self._space is not None:
                        self._space.set()
                    if epoch < self.epoch:
                        self._count("stale")
                        continue
                    if self.pace:
                        self._resync()
                        await self._pacer.wait()
                        if epoch < self.epoch:  # interrupted while waiting
                            self._count("interrupted")
                            continue
                    await self._send_chunk(payload)
                elif kind == _MESSAGE:
                    if type(payload) is TTSStartedFrame and not self._speaking:
                        self._pacer.reset()  # a new utterance: a fresh timeline
                    await self._send_now(payload)
                elif kind == _UTT_END:
                    if self._speaking:
                        await self._end_utterance_mark()
                else:  # _END
                    await self._finish(payload)
                    return
            finally:
                self._busy = False

    async def _idle_while_speaking(self) -> None:
        """Nothing queued but the bot is speaking: wait for the audio already sent to
        play out (or for the peer's mark), then declare the utterance over."""
        wake = self._wake
        assert wake is not None
        if self._marks_out:
            wake.clear()
            await wake.wait()  # the mark comes back, or more audio arrives
            if self._marks_out or self._playq:
                return
            await self._stopped_speaking()
            return
        remaining = self._pacer.due() - self.clock.now() + self.stop_grace
        if remaining > 0:
            # A timer that re-arms itself while inline sends keep extending playback, so
            # the player task wakes once when playback ends, not every stop_grace.
            wake.clear()
            self._end_timer = self._call_coarse(remaining, self._check_end)
            try:
                await wake.wait()
            finally:
                if self._end_timer is not None:
                    self._end_timer.cancel()
                    self._end_timer = None
            if self._playq or self._pacer.due() - self.clock.now() + self.stop_grace > 1e-6:
                return
        if self.serializer.playback_marks and not self._marks_out:
            await self._end_utterance_mark()
            return
        await self._stopped_speaking()

    def _check_end(self) -> None:
        self._end_timer = None
        remaining = self._pacer.due() - self.clock.now() + self.stop_grace
        if remaining > 1e-6 and not self._playq:
            self._end_timer = self._call_coarse(remaining, self._check_end)
            return
        self._wake_player()

    async def _finish(self, frame: EndFrame) -> None:
        """Drain: the EndFrame reached the head of the queue, so everything before it was
        sent. Flush the last partial chunk, let it play, say goodbye, pass the EndFrame."""
        self._closing = True
        tail = self._chunker.flush(pad=True)
        if tail:
            if self.pace:
                await self._pacer.wait()
            await self._send_chunk(tail)
        if self._speaking:
            if self.pace:
                remaining = self._pacer.due() - self.clock.now()
                if remaining > 0:
                    await self.clock.sleep(remaining)
            await self._stopped_speaking()
        await self._deliver(self.serializer.close())
        await self.push(frame, DOWNSTREAM)

"""The output edge: the last processor of every session, where frames become paced wire
messages.

:class:`OutputEdge` converts output audio to the wire format
(:class:`~wavewire.audio.convert.Conversion`), chunks it to the wire's frame size, and
plays it out through its :class:`~.player.Player` (a bounded queue paced by a media
clock: send time = start + samples sent ÷ rate; being late never adds permanent delay).
It emits bot started/stopped speaking when playback really starts and ends, clears its
queue at once on an interruption (and lets the serializer tell the peer, e.g. Twilio
``clear``), and reports how much of each bot utterance was actually played
(:class:`~wavewire.frames.BotUtterancePlayedFrame`, upstream, from its
:class:`~.utterance.Utterance`), so a context aggregator can keep only what the user heard.

It sends to a :class:`~wavewire.transports.connection.Connection` (a server session,
the client, :class:`wavewire.testing.FakeConnection`) the contract's way:
``send_nowait`` first, and only when that says ``False``, an awaited send. Audio has one
encode-send-advance path (:meth:`OutputEdge._audio_now`, finished by
:meth:`OutputEdge._audio_rest` when the peer must be awaited): each chunk is encoded
once, and the media clock moves past it whether or not the send worked.

Order: messages keep their order with the audio, except that the last partial chunk of
audio (< one wire frame) waits for more audio (or the end) and so may be sent after a
message that followed it: padding it with silence mid-stream would put gaps into the
speech.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..audio.convert import Conversion
from ..errors import FrameFormatError
from ..frames import (
    DATA,
    SYSTEM,
    AudioFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
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
)
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor
from .connection import Connection
from .connection import send as send_message
from .edge_stats import EdgeStats
from .player import END, MESSAGE, UTT_END, Player
from .utterance import Utterance

if TYPE_CHECKING:
    from ..serializers.base import FrameSerializer, Message

__all__ = ["OutputEdge"]

_INPUT_ONLY = (InputAudioFrame, InputTransportMessageFrame, InputDTMFFrame, InputImageFrame)


class OutputEdge(FrameProcessor):
    """Last processor of a session: frames in, paced wire messages out.

    :param serializer: the connection's protocol object (its ``wire`` is the target format).
    :param send: the :class:`~wavewire.transports.connection.Connection` to send to; or a
        coroutine function that sends one message (then ``send_nowait``, if given, is the
        function that sends at once when it can, ``True``, or says the edge must await
        ``send``, ``False``). Sends raise when the peer is gone.
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
        send: Connection | Callable[[Message], Awaitable[Any]],
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
        self._send_nowait: Callable[[Message], bool] | None
        self._send_wait: Callable[[Message], Awaitable[Any]]
        if isinstance(send, Connection):
            self._send_nowait = send.send_nowait
            self._send_wait = partial(send_message, send)
        else:  # a coroutine function (and perhaps its send_nowait)
            self._send_nowait = send_nowait
            self._send_wait = send
        self._encode_audio = serializer.encode_audio
        self._pcm_out = serializer.pcm_binary
        self.max_lead = max_lead
        self.stats = EdgeStats()
        wire = serializer.wire
        self._wire_rate = wire.sample_rate
        self._wire_channels = wire.num_channels
        self._bytes_per_ms = wire.sample_rate * wire.num_channels * 2 / 1000
        self._align = 2 * wire.num_channels  # bytes per sample frame
        self._now: Callable[[], float] = time.monotonic  # the session's clock, from on_start
        self._to_wire = Conversion(wire.sample_rate, wire.num_channels)
        self.utterance = Utterance()
        """The bot's current utterance: speaking, marks, what was heard."""
        self.player = Player(
            self, self.utterance, pace=pace, max_queue_ms=max_queue_ms,
            stop_grace=stop_grace, reset_after=reset_after,
            marks=serializer.playback_marks, bytes_per_ms=self._bytes_per_ms,
        )
        """The playback queue and its task."""
        self._chunker: Any = None  # the player's, for the per-frame path
        self._pacer: Any = None  # the player's media clock, for the per-frame path

    @property
    def pace(self) -> bool:
        """Audio is sent in real time from the media clock."""
        return self.player.pace

    @property
    def max_queue_ms(self) -> int:
        """Audio the playback queue may hold before producers wait."""
        return self.player.max_queue_ms

    @property
    def stop_grace(self) -> float:
        """Seconds after the last audio has played before the bot stops speaking."""
        return self.player.stop_grace

    @property
    def reset_after(self) -> float:
        """Silence after which the pacing timeline restarts."""
        return self.player.reset_after

    # -- lifecycle ---------------------------------------------------------------------

    async def on_start(self, frame: StartFrame) -> None:
        from ..audio.chunker import Chunker
        from ..audio.pacer import MediaPacer

        clock = self.clock
        self._now = clock.now
        self._chunker = Chunker(self.serializer.wire.frame_bytes)
        self._pacer = MediaPacer(
            self._wire_rate, clock, max_lead=self.max_lead, max_lag=self.reset_after
        )
        self.player.start(clock, self._chunker, self._pacer)
        self.create_task(self.player.run(), "playback")

    async def on_cancel(self, frame: CancelFrame) -> None:
        self.player.drop("cancelled")

    # -- frames in -----------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is UPSTREAM or not isinstance(frame, AudioFrame):
            await self._process_other(frame, direction)
            return
        # Output audio (data): the per-frame path, kept in this one coroutine.
        if frame.epoch < self._task.epoch:
            self.count_dropped("stale")
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
            self.count_dropped("format")
            await self.push_error(f"bad output audio: {exc}", exception=exc)
            return
        if not chunks:
            return
        player = self.player
        bytes_per_ms = self._bytes_per_ms
        chunk_ms = len(chunks[0]) / bytes_per_ms
        due_now = not player.pace or self._pacer.admit(  # one clock read for it all
            len(audio) / bytes_per_ms * 0.001, player.queued_ms * 0.001, self._now()
        ) == 0.0
        if not (due_now and len(chunks) == 1 and not player.queue and not player.busy):
            await player.queue_chunks(chunks, chunk_ms, frame.epoch)
            return
        # Fast path: nothing queued, player idle, audio due now -> send inline.
        utterance = self.utterance
        utterance.queued_ms += chunk_ms
        chunk = chunks[0]
        if utterance.speaking:
            rest = self._audio_now(chunk, self._pcm_out)
            if rest is not None:
                await self._audio_rest(chunk, rest)
        else:
            await self.play_chunk(chunk)
        if not player.watching:
            # The player sleeps until woken; it must start watching for the end of
            # playback. While it watches, its timer re-checks by itself: waking it for
            # every inline chunk would cost a task switch per frame.
            player.wake_up()

    async def _process_other(self, frame: Frame, direction: FrameDirection) -> None:
        """Every frame but downstream audio."""
        if direction is UPSTREAM:
            await self.push(frame, direction)
            return
        tier = frame.tier
        if tier == SYSTEM:
            await self._system(frame)
        elif isinstance(frame, EndFrame):
            self.player.put(END, frame, self.epoch)
        elif tier == DATA and frame.epoch < self.epoch:
            self.count_dropped("stale")
        else:
            if isinstance(frame, (TextFrame, TTSStartedFrame)):
                self.utterance.note(frame)
            self.player.put(MESSAGE, frame, self.epoch)
            if isinstance(frame, TTSStoppedFrame):
                self.player.put(UTT_END, None, self.epoch)
            await self.push(frame, DOWNSTREAM)

    async def _system(self, frame: Frame) -> None:
        if isinstance(frame, _INPUT_ONLY):
            pass  # reached the end of the pipeline; never sent back out
        elif type(frame) is InterruptionFrame:
            await self._interrupted(frame)
        elif type(frame) is PlaybackMarkFrame:
            # The peer's echo; ends here.
            if self.utterance.mark_returned(frame.name) and self.utterance.speaking:
                if not self.player.queue:
                    self.player.wake_up()
            return
        elif type(frame) is CancelFrame:
            self.player.drop("cancelled")
        elif type(frame) is not StartFrame:
            await self.play_message(frame)  # urgent messages, speaking events (protocol decides)
        await self.push(frame, DOWNSTREAM)

    async def _interrupted(self, frame: InterruptionFrame) -> None:
        self.player.drop("interrupted")
        self._to_wire.reset()
        if self._pacer is not None:
            self._pacer.reset()
        await self.play_message(frame)  # e.g. Twilio "clear"
        self.utterance.marks_out.clear()
        if self.utterance.speaking:
            await self._stopped_speaking(interrupted=True)

    def count_dropped(self, reason: str, n: int = 1) -> None:
        """Count ``n`` chunks or messages dropped for ``reason`` (here and in the task)."""
        self.stats.dropped += n
        self.count_drop(reason, n)

    # -- speaking ------------------------------------------------------------------------

    async def _started_speaking(self) -> None:
        self.utterance.start()
        await self.push(BotStartedSpeakingFrame(), UPSTREAM)
        await self.push(BotStartedSpeakingFrame(), DOWNSTREAM)

    async def _stopped_speaking(self, interrupted: bool = False) -> None:
        played = self.utterance.end(interrupted)
        await self.push(BotStoppedSpeakingFrame(interrupted=interrupted), UPSTREAM)
        await self.push(BotStoppedSpeakingFrame(interrupted=interrupted), DOWNSTREAM)
        await self.push(played, UPSTREAM)

    async def stop_speaking(self) -> None:
        """Playback of the utterance ended (the player saw it): the bot stopped speaking."""
        await self._stopped_speaking()

    async def mark_utterance_end(self) -> None:
        """Ask the peer to echo a mark once the utterance's audio has played."""
        if self.serializer.playback_marks:
            await self.play_message(PlaybackMarkFrame(self.utterance.new_mark(self.name)))

    # -- sending -------------------------------------------------------------------------

    async def play_chunk(self, chunk: bytes) -> None:
        """Send one chunk of wire audio now, starting the utterance if it is the first."""
        if not self.utterance.speaking:
            await self._started_speaking()
        rest = self._audio_now(chunk, False)
        if rest is not None:
            await self._audio_rest(chunk, rest)

    def _audio_now(self, chunk: bytes, raw: bool) -> Any:
        """The one encode-send-advance path, as far as it goes without waiting: encode
        ``chunk`` once (``raw``: it is its own message, as the per-frame path sends it for a
        ``pcm_binary`` protocol), send its messages while the peer takes them at once, and
        move the media clock past it (counted as played if sent). Returns ``None`` when
        done, else what :meth:`_audio_rest` must finish: the encoder's error to report, or
        the messages still to send (nothing of them written yet)."""
        try:
            messages = [chunk] if raw else self._encode_audio(chunk)
        except Exception as exc:  # the protocol refused it
            self.count_dropped("encode")
            self._advance(chunk, played=False)
            return exc
        nowait = self._send_nowait
        if nowait is None:
            return messages
        sent = 0
        try:
            for message in messages:
                if not nowait(message):
                    self.stats.messages_out += sent
                    return messages[sent:]
                sent += 1
        except Exception:
            self.stats.messages_out += sent
            self._send_failed()
            self._advance(chunk, played=False)
            return None
        self.stats.messages_out += sent
        self._advance(chunk, played=True)
        return None

    async def _audio_rest(self, chunk: bytes, rest: Any) -> None:
        """Finish what :meth:`_audio_now` could not: report the encoder's error, or await
        the peer for the messages left, then move the media clock past ``chunk``."""
        if isinstance(rest, Exception):
            await self.push_error(f"{self.serializer.protocol}: {rest}", exception=rest)
            return
        self._advance(chunk, played=await self._deliver(rest))

    def _advance(self, chunk: bytes, played: bool) -> None:
        """Move the media clock past ``chunk``, counting it as played if it was sent."""
        if played:
            ms = len(chunk) / self._bytes_per_ms
            self.stats.audio_ms_sent += ms
            self.utterance.played_ms += ms
        self._pacer.advance(len(chunk) // self._align)

    async def play_message(self, frame: Frame) -> None:
        """Send a frame's messages now (if the protocol has any for it)."""
        try:
            messages = self.serializer.encode(frame)
        except Exception as exc:  # the protocol refused it (too big, bad state...)
            self.count_dropped("encode")
            await self.push_error(f"{self.serializer.protocol}: {exc}", exception=exc)
            return
        if messages:
            await self._deliver(messages)

    async def close_output(self, frame: EndFrame) -> None:
        """Everything was played: send the protocol's goodbye and pass the EndFrame on."""
        await self._deliver(self.serializer.close())
        await self.push(frame, DOWNSTREAM)

    async def _deliver(self, messages: list[Message]) -> bool:
        """Send ``messages`` in order, each at once or awaiting the peer; False (counted)
        if the peer is gone."""
        nowait = self._send_nowait
        try:
            for message in messages:
                if nowait is None or not nowait(message):
                    await self._send_wait(message)
                self.stats.messages_out += 1
            return True
        except Exception:
            self._send_failed()
            return False

    def _send_failed(self) -> None:
        self.stats.send_errors += 1
        self.count_dropped("send-failed")

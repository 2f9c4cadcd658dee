"""The input edge: the first processor of every session, where wire messages become frames.

:class:`InputEdge` decodes each message with the connection's serializer, checks the
audio's declared format, converts it to the pipeline's rate and channels
(:class:`~wavewire.audio.convert.Conversion`), runs the VAD, and pushes user
started/stopped speaking (and, when allowed, an interruption) ahead of the audio.
Protocol and format errors are counted; the first few are reported as ErrorFrames.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..audio.convert import Conversion, converter
from ..errors import FrameFormatError, ProtocolError, SessionClosedError, clip
from ..frames import (
    CancelTaskFrame,
    EndTaskFrame,
    InputAudioFrame,
    StartFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameProcessor
from .edge_stats import EdgeStats

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..serializers.base import FrameSerializer, Message

__all__ = ["InputEdge"]

_REPORTED_ERRORS = 10
"""Bad messages reported as ErrorFrames per connection; later ones are only counted,
so a hostile peer cannot flood the logs."""
_REPORTED_LENGTH = 400
"""Longest text of a reported ErrorFrame (what a peer sent may be quoted in it)."""

_TO_TASK = (EndTaskFrame, CancelTaskFrame)


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
        self._to_pipeline = Conversion(self._rate, self._channels)
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
        self._to_pipeline = Conversion(self._rate, self._channels)
        self._allow_interruptions = frame.allow_interruptions
        if self.vad is not None:
            self._vad_convert = converter(
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

"""``TurnTaking``: decides when the user's turn starts and ends.

Evidence in (each passes on unchanged): the VAD's
:class:`~wavewire.frames.VADUserStartedSpeakingFrame` /
:class:`~wavewire.frames.VADUserStoppedSpeakingFrame` (an
:class:`~wavewire.transports.edges.InputEdge` with ``vad_frames=True`` sends them), an
STT's :class:`~wavewire.frames.STTTurnFrame`, and transcriptions (final or interim).

Turns out: :class:`~wavewire.frames.UserStartedSpeakingFrame` when speech starts (VAD or
STT start, or words with no turn open: ``emulated``), then — if the session allows
interruptions — an interruption, which cancels the bot's response in flight and clears
its queued audio. :class:`~wavewire.frames.UserStoppedSpeakingFrame` when the turn is
over: ``stop_secs`` of silence after the VAD's stop (``stt_stop_secs`` after the last
words when no VAD speaks), or the STT's end of turn at once. An optional end-of-turn
model (:class:`EndOfTurn`, e.g. :class:`~wavewire.processors.smart_turn.SmartTurn`) is
asked at the VAD's stop: a complete turn ends at once, an incomplete one waits up to
``max_stop_secs``. Timers run on the session's clock, so a ``FakeClock`` drives them.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioFrame,
    InterimTranscriptionFrame,
    StartFrame,
    STTTurnFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from .base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

__all__ = ["EndOfTurn", "TurnTaking"]


class EndOfTurn(Protocol):
    """An end-of-turn model: given the turn's audio (16 kHz mono s16le), the probability
    that the user has finished speaking."""

    sample_rate: int

    def predict(self, pcm: bytes) -> float:
        """Probability in [0, 1] that the turn is complete."""
        ...


class TurnTaking(FrameProcessor):
    """User turn boundaries from VAD and STT evidence (see the module docstring).

    :param stop_secs: silence after the VAD's stop before the turn ends.
    :param stt_stop_secs: silence after the last transcription (no VAD speaking) before
        the turn ends.
    :param interruptions: interrupt the bot when a user turn starts (if the session
        allows interruptions).
    :param end_of_turn: an optional end-of-turn model, asked at each VAD stop.
    :param threshold: the model's probability from which a turn counts as complete.
    :param max_stop_secs: silence after which an incomplete turn ends anyway.
    :param max_turn_audio_s: the turn's audio kept for the model (its last seconds).
    :param model_timeout: seconds the model may take; with no answer by then the turn
        ends (counted as a drop, ``end-of-turn-timeout``).
    """

    def __init__(
        self,
        *,
        stop_secs: float = 0.6,
        stt_stop_secs: float = 0.8,
        interruptions: bool = True,
        end_of_turn: EndOfTurn | None = None,
        threshold: float = 0.5,
        max_stop_secs: float = 3.0,
        max_turn_audio_s: float = 8.0,
        model_timeout: float = 2.0,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.stop_secs = stop_secs
        self.stt_stop_secs = stt_stop_secs
        self.interruptions = interruptions
        self.end_of_turn = end_of_turn
        self.threshold = threshold
        self.max_stop_secs = max_stop_secs
        self.model_timeout = model_timeout
        self._max_audio = max_turn_audio_s
        self._allow = True
        self.in_turn = False
        """A user turn is open."""
        self._vad_speaking = False
        self._bot_speaking = False
        self._emulated = False  # the open turn was started by STT evidence
        self._timer: Any = None
        self._generation = 0  # bumps whenever a pending end is superseded
        self._audio: list[bytes] = []
        self._audio_bytes = 0
        self._audio_format = (16000, 1)  # (rate, channels) of the kept audio

    async def on_start(self, frame: StartFrame) -> None:
        self._allow = frame.allow_interruptions

    @property
    def bot_speaking(self) -> bool:
        """The output edge says the bot is speaking."""
        return self._bot_speaking

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if direction is UPSTREAM:
            if isinstance(frame, BotStartedSpeakingFrame):
                self._bot_speaking = True
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self._bot_speaking = False
            await self.push(frame, direction)
            return
        if type(frame) is InputAudioFrame:
            if self.end_of_turn is not None and self.in_turn:
                self._keep_audio(frame)
            await self.push(frame, direction)
            return
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._vad_speaking = True
            self._cancel_end()
            await self.push(frame, direction)
            if not self.in_turn:
                await self._start_turn(emulated=False)
            return
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            self._vad_speaking = False
            await self.push(frame, direction)
            if self.in_turn:
                await self._vad_stopped()
            return
        if isinstance(frame, UserStartedSpeakingFrame | UserStoppedSpeakingFrame):
            # A turn decided upstream (an input edge's own VAD, a provider's events):
            # follow it, so words that come with it do not start another one.
            self._cancel_end()
            self.in_turn = isinstance(frame, UserStartedSpeakingFrame)
            self._emulated = frame.emulated
            await self.push(frame, direction)
            return
        if isinstance(frame, STTTurnFrame):
            await self.push(frame, direction)
            if frame.event == "start" and not self.in_turn:
                await self._start_turn(emulated=True)
            elif frame.event == "end" and self.in_turn:
                await self._end_turn(self._generation)
            elif frame.event == "resumed":
                self._cancel_end()
            return
        if isinstance(frame, TranscriptionFrame | InterimTranscriptionFrame) and frame.text.strip():
            if not self.in_turn:
                await self._start_turn(emulated=True)
            if not self._vad_speaking:
                self._arm_end(self.stt_stop_secs)
        await self.push(frame, direction)

    # -- turn boundaries ------------------------------------------------------------------

    async def _start_turn(self, emulated: bool) -> None:
        self.in_turn = True
        self._emulated = emulated
        self._audio, self._audio_bytes = [], 0
        await self.push(UserStartedSpeakingFrame(emulated=emulated), DOWNSTREAM)
        if self.interruptions and self._allow:
            await self.interrupt()

    async def _end_turn(self, generation: int) -> None:
        if generation != self._generation or not self.in_turn:
            return  # superseded by newer speech
        self._cancel_end()
        self.in_turn = False
        self._audio, self._audio_bytes = [], 0
        await self.push(UserStoppedSpeakingFrame(emulated=self._emulated), DOWNSTREAM)

    async def _vad_stopped(self) -> None:
        model = self.end_of_turn
        if model is None:
            self._arm_end(self.stop_secs)
            return
        generation = self._generation
        pcm = b"".join(self._audio)
        if self._audio_format != (model.sample_rate, 1):
            from ..audio.channels import convert_channels
            from ..audio.resample import resample

            rate, channels = self._audio_format
            pcm = convert_channels(pcm, channels, 1) if channels != 1 else pcm
            pcm = resample(pcm, rate, model.sample_rate)
        try:
            probability = await asyncio.wait_for(asyncio.to_thread(model.predict, pcm),
                                                 self.model_timeout)
        except TimeoutError:
            self.count_drop("end-of-turn-timeout")
            probability = 1.0  # no answer in time: the silence decides
        except Exception as exc:
            await self.push_error(f"{self.name}: end-of-turn model failed: {exc}", exception=exc)
            probability = 1.0
        if generation != self._generation or not self.in_turn or self._vad_speaking:
            return  # speech resumed while the model ran
        if probability >= self.threshold:
            await self._end_turn(generation)
        else:
            self._arm_end(self.max_stop_secs)

    def _arm_end(self, delay: float) -> None:
        self._cancel_end()
        generation = self._generation
        self._timer = self.clock.call_later(delay, self._fire, generation)

    def _fire(self, generation: int) -> None:
        self._timer = None
        if generation == self._generation and self.in_turn:
            self.create_task(self._end_turn(generation), "turn-end")

    def _cancel_end(self) -> None:
        self._generation += 1
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _keep_audio(self, frame: InputAudioFrame) -> None:
        """The turn's last ``max_turn_audio_s`` of audio, for the end-of-turn model."""
        self._audio_format = (frame.sample_rate, frame.num_channels)
        self._audio.append(frame.audio)
        self._audio_bytes += len(frame.audio)
        limit = int(self._max_audio * frame.sample_rate * 2 * frame.num_channels)
        while self._audio_bytes > limit and len(self._audio) > 1:
            self._audio_bytes -= len(self._audio.pop(0))

"""``RTVIProcessor``: tells an RTVI client what happens in the session.

Place it right before the output edge: it sees the frames going out and the frames the
edge sends back up (bot speaking events, what was played), and pushes each RTVI event
(:mod:`wavewire.serializers.rtvi`) downstream to the edge as a transport message, next
to the frame that caused it, which it passes on unchanged:

==========================================  ===========================================
frame                                       message
==========================================  ===========================================
User/VADUser Started/StoppedSpeakingFrame   ``user-`` / ``vad-user-started-speaking``…
InterimTranscriptionFrame / Transcription   ``user-transcription`` (final false / true)
Bot Started/StoppedSpeakingFrame (up)       ``bot-started-speaking`` / ``-stopped-``
LLMFullResponseStart / LLMText / End        ``bot-llm-started`` / ``-text`` / ``-stopped``
TTSStartedFrame / TTSStoppedFrame           ``bot-tts-started`` / ``bot-tts-stopped``
TTSTextFrame (a word being spoken)          ``bot-output`` in progress, in order with
                                            the audio (sent when that word plays)
BotUtterancePlayedFrame (up)                ``bot-output`` completed: what was heard
FunctionCallInProgress / Result             ``llm-function-call-in-progress`` / ``-stopped``
MetricsFrame / ErrorFrame                   ``metrics`` / ``error``
==========================================  ===========================================

Every message but the in-order ``bot-output`` is urgent (sent at once, ahead of queued
audio). A word's ``bot-output`` carries the epoch of its word, so an interruption drops
it with the audio it belongs to.
"""

from __future__ import annotations

from typing import Any

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from ..serializers import rtvi
from .base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor

__all__ = ["RTVIProcessor"]

_SIMPLE: dict[type[Frame], str] = {
    UserStartedSpeakingFrame: "user-started-speaking",
    UserStoppedSpeakingFrame: "user-stopped-speaking",
    VADUserStartedSpeakingFrame: "vad-user-started-speaking",
    VADUserStoppedSpeakingFrame: "vad-user-stopped-speaking",
    LLMFullResponseStartFrame: "bot-llm-started",
    LLMFullResponseEndFrame: "bot-llm-stopped",
    TTSStartedFrame: "bot-tts-started",
    TTSStoppedFrame: "bot-tts-stopped",
}
_FROM_EDGE: dict[type[Frame], str] = {
    BotStartedSpeakingFrame: "bot-started-speaking",
    BotStoppedSpeakingFrame: "bot-stopped-speaking",
}


class RTVIProcessor(FrameProcessor):
    """Turns pipeline frames into RTVI events (see the module docstring).

    :param metrics: send ``metrics`` messages.
    :param llm_text: send ``bot-llm-text`` for each LLM chunk.
    """

    def __init__(self, *, metrics: bool = True, llm_text: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.metrics = metrics
        self.llm_text = llm_text
        self._segment = 0  # bot-output segment: one per bot utterance
        self._spoken: list[str] = []  # words of the current segment pushed so far

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        kind = type(frame)
        if direction is UPSTREAM:
            await self.push(frame, direction)
            name = _FROM_EDGE.get(kind)
            if name is not None:
                await self._send(rtvi.message(name))
            elif kind is BotUtterancePlayedFrame:
                await self._played(frame)  # type: ignore[arg-type]
            elif kind is ErrorFrame:
                await self._error(frame)  # type: ignore[arg-type]
            return
        name = _SIMPLE.get(kind)
        if name is not None:
            await self._send(rtvi.message(name))
        elif kind is TranscriptionFrame or kind is InterimTranscriptionFrame:
            t: Any = frame
            await self._send(rtvi.user_transcription(
                t.text, kind is TranscriptionFrame, t.user_id, t.timestamp
            ))
        elif isinstance(frame, LLMTextFrame):
            if self.llm_text:
                await self._send(rtvi.message("bot-llm-text", {"text": frame.text}))
        elif isinstance(frame, TTSTextFrame):
            await self._word(frame)
        elif kind is FunctionCallInProgressFrame:
            call: Any = frame
            await self._send(rtvi.message("llm-function-call-in-progress", {
                "tool_call_id": call.tool_call_id, "function_name": call.function_name,
                "arguments": call.arguments,
            }))
        elif kind is FunctionCallResultFrame:
            res: Any = frame
            await self._send(rtvi.message("llm-function-call-stopped", {
                "tool_call_id": res.tool_call_id, "function_name": res.function_name,
                "cancelled": False,
                "result": res.result if res.error is None else {"error": res.error},
            }))
        elif kind is MetricsFrame:
            if self.metrics and frame.data:  # type: ignore[attr-defined]
                await self._send(rtvi.metrics(frame.data))  # type: ignore[attr-defined]
        elif kind is ErrorFrame:
            await self._error(frame)  # type: ignore[arg-type]
        elif kind is InterruptionFrame:
            self._spoken.clear()  # the edge reports what was heard of it
        await self.push(frame, direction)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.push(OutputTransportMessageUrgentFrame(message), DOWNSTREAM)

    async def _word(self, frame: TTSTextFrame) -> None:
        if not self._spoken:
            self._segment += 1
        self._spoken.append(frame.text)
        out = OutputTransportMessageFrame(rtvi.bot_output(
            frame.text, "word", segment_id=self._segment, completed=False,
            accumulated=" ".join(self._spoken),
        ))
        out.epoch = frame.epoch  # dropped with its word's audio by an interruption
        await self.push(out, DOWNSTREAM)

    async def _played(self, frame: BotUtterancePlayedFrame) -> None:
        self._spoken.clear()
        if frame.text:
            await self._send(rtvi.bot_output(
                frame.text, "sentence", segment_id=self._segment, completed=True,
                accumulated=frame.text,
            ))

    async def _error(self, frame: ErrorFrame) -> None:
        await self._send(rtvi.error(frame.error, frame.fatal))

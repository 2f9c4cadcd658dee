"""Every frame type that flows through a wavewire pipeline.

Frames are slotted dataclasses in three tiers, as Pipecat users know them:

* :class:`SystemFrame` -- never queued behind data, never discarded by an
  interruption (start, cancel, interruption, speaking events, errors, metrics,
  and *input* audio, see below).
* :class:`DataFrame` -- ordered, and discarded when an interruption arrives
  (output audio, text, transcriptions, LLM messages, outbound transport messages).
* :class:`ControlFrame` -- ordered and survive interruptions (end, TTS
  started/stopped, LLM response start/end).

Input audio and inbound transport messages are system frames, as in Pipecat: what the
user says is never stale, and it is often the very thing that caused the interruption,
so a boundary that clears its queue must not throw it away.

Interruptions use *epochs*. Every session counts interruptions; a data frame is stamped
with the session's epoch when it is first pushed (or earlier by its producer, see
:attr:`Frame.epoch`), and every boundary that holds frames (a queued processor, the
output edge, the task's sink) discards data frames from an older epoch. So a frame
produced before an interruption is never delivered after it, even if its producer was
suspended mid-chain while the interruption went by.

Frames are deliberately cheap (no ids, no clocks, no validation in ``__init__``):
formats are checked at the boundaries that receive them.

The frames live in the package's modules by kind -- :mod:`.base` (the tiers),
:mod:`.system` (lifecycle, interruptions, turn taking), :mod:`.audio`,
:mod:`.conversation` (text, transcriptions, LLM, tools, TTS) and :mod:`.messages`
(transport messages, marks, metrics) -- and are all imported from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .audio import AudioFrame, InputAudioFrame, InputImageFrame, OutputAudioFrame, TTSAudioFrame
from .base import CONTROL, DATA, SYSTEM, ControlFrame, DataFrame, Frame, SystemFrame
from .conversation import (
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterimTranscriptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesFrame,
    LLMRunFrame,
    LLMTextFrame,
    TextFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    Word,
)
from .messages import (
    InputDTMFFrame,
    InputTransportMessageFrame,
    MetricsData,
    MetricsFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    PlaybackMarkFrame,
    TransportMessageFrame,
)
from .system import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    CancelFrame,
    CancelTaskFrame,
    EndFrame,
    EndTaskFrame,
    ErrorFrame,
    InterruptionFrame,
    StartFrame,
    STTTurnFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)

if TYPE_CHECKING:
    from ..context import LLMContext

__all__ = [
    "SYSTEM",
    "DATA",
    "CONTROL",
    "Frame",
    "SystemFrame",
    "DataFrame",
    "ControlFrame",
    "StartFrame",
    "EndFrame",
    "CancelFrame",
    "EndTaskFrame",
    "CancelTaskFrame",
    "ErrorFrame",
    "InterruptionFrame",
    "UserStartedSpeakingFrame",
    "UserStoppedSpeakingFrame",
    "BotStartedSpeakingFrame",
    "BotStoppedSpeakingFrame",
    "AudioFrame",
    "InputAudioFrame",
    "OutputAudioFrame",
    "TTSAudioFrame",
    "InputImageFrame",
    "TextFrame",
    "LLMTextFrame",
    "TTSTextFrame",
    "TTSSpeakFrame",
    "Word",
    "TranscriptionFrame",
    "InterimTranscriptionFrame",
    "VADUserStartedSpeakingFrame",
    "VADUserStoppedSpeakingFrame",
    "STTTurnFrame",
    "LLMMessagesFrame",
    "LLMContext",
    "LLMContextFrame",
    "LLMRunFrame",
    "LLMFullResponseStartFrame",
    "LLMFullResponseEndFrame",
    "FunctionCallInProgressFrame",
    "FunctionCallResultFrame",
    "TTSStartedFrame",
    "TTSStoppedFrame",
    "TransportMessageFrame",
    "InputTransportMessageFrame",
    "OutputTransportMessageFrame",
    "OutputTransportMessageUrgentFrame",
    "InputDTMFFrame",
    "MetricsData",
    "MetricsFrame",
    "BotUtterancePlayedFrame",
    "PlaybackMarkFrame",
]



def __getattr__(name: str) -> Any:
    """``LLMContext`` (of :mod:`wavewire.context`), imported on first use: no frame needs
    it to exist, and most sessions never build one."""
    if name == "LLMContext":
        from ..context import LLMContext

        globals()[name] = LLMContext
        return LLMContext
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

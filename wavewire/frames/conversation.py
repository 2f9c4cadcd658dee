"""The conversation's frames: text for and from the TTS, transcriptions of the user,
LLM runs and responses, tool calls, TTS utterance boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .base import ControlFrame, DataFrame, _frame

if TYPE_CHECKING:  # only an annotation here: the context module loads when first used
    from ..context import LLMContext

__all__ = [
    "TextFrame",
    "LLMTextFrame",
    "TTSTextFrame",
    "TTSSpeakFrame",
    "Word",
    "TranscriptionFrame",
    "InterimTranscriptionFrame",
    "LLMMessagesFrame",
    "LLMContextFrame",
    "LLMRunFrame",
    "LLMFullResponseStartFrame",
    "LLMFullResponseEndFrame",
    "FunctionCallInProgressFrame",
    "FunctionCallResultFrame",
    "TTSStartedFrame",
    "TTSStoppedFrame",
]

# --- text ------------------------------------------------------------------------


@_frame
class TextFrame(DataFrame):
    """A chunk of text (bot output, usually on its way to TTS)."""

    text: str
    """The text."""


@_frame
class LLMTextFrame(TextFrame):
    """A text chunk streamed by an LLM."""


@_frame
class TTSTextFrame(TextFrame):
    """Text that a TTS service has spoken (with timing when the provider gives it)."""

    start_s: float | None = None
    """Start time in seconds within the utterance's audio, when the TTS gives word
    timestamps; the output edge uses it to tell what the user heard."""
    end_s: float | None = None
    """End time in seconds within the utterance's audio, when known."""
    context_id: str | None = None
    """The TTS generation this text belongs to, when the provider has one."""


@_frame
class TTSSpeakFrame(DataFrame):
    """Ask the TTS to speak this text now, bypassing the LLM."""

    text: str
    """What to say."""


@dataclass(slots=True)
class Word:
    """One recognised or spoken word with its timing."""

    text: str
    """The word as it should be shown (punctuated when the provider punctuates)."""
    start_s: float
    """Start time in seconds (of the audio stream for STT, of the utterance for TTS)."""
    end_s: float
    """End time in seconds, same origin as :attr:`start_s`."""
    confidence: float | None = None
    """Recognition confidence in [0, 1], when the provider gives one."""


@_frame
class _Transcription(DataFrame):
    """Fields shared by final and interim transcriptions."""

    text: str
    """The transcribed text (so far, for an interim one)."""
    user_id: str = ""
    """Who spoke."""
    timestamp: str = ""
    """ISO-8601 time of the transcription."""
    language: str | None = None
    """Detected or configured language, when known."""
    result: Any = field(default=None, repr=False)
    """The provider's raw result, for those who need more."""
    words: list[Word] = field(default_factory=list)
    """The words with their timing, when the provider gives them."""


@_frame
class TranscriptionFrame(_Transcription):
    """A final transcription of user speech.

    Not a :class:`TextFrame` subclass, so a TTS never speaks the user's words back."""


@_frame
class InterimTranscriptionFrame(_Transcription):
    """A partial transcription that may still change (not a final one)."""


# --- LLM -------------------------------------------------------------------------


@_frame
class LLMMessagesFrame(DataFrame):
    """Replace the conversation with these messages and run the LLM."""

    messages: list[dict[str, Any]]
    """Chat messages."""


@_frame
class LLMContextFrame(DataFrame):
    """Run the LLM on this context."""

    context: LLMContext
    """The conversation to complete."""


@_frame
class LLMRunFrame(DataFrame):
    """Run the LLM on the context it already holds (after a greeting is added, say)."""


@_frame
class LLMFullResponseStartFrame(ControlFrame):
    """An LLM response begins."""


@_frame
class LLMFullResponseEndFrame(ControlFrame):
    """An LLM response is complete."""


@_frame
class FunctionCallInProgressFrame(ControlFrame):
    """The LLM asked for a tool call and it is running (one frame per call; parallel
    calls give several). Survives interruptions so the context never keeps half a call."""

    tool_call_id: str
    """The id the LLM gave the call; its result must carry the same id."""
    function_name: str
    """Name of the tool."""
    arguments: dict[str, Any] = field(default_factory=dict)
    """Decoded arguments."""


@_frame
class FunctionCallResultFrame(ControlFrame):
    """A tool call finished: its result (or error) goes into the context as a ``tool``
    message, answering the call with the same :attr:`tool_call_id`."""

    tool_call_id: str
    """The call this answers."""
    function_name: str
    """Name of the tool."""
    arguments: dict[str, Any] = field(default_factory=dict)
    """The arguments it ran with."""
    result: Any = None
    """A JSON-able result (``None`` when it failed)."""
    error: str | None = None
    """Why the call failed (raised, timed out, unknown tool), else ``None``."""


@_frame
class TTSStartedFrame(ControlFrame):
    """A TTS utterance begins."""

    context_id: str | None = None
    """The provider's generation id, when it has one."""


@_frame
class TTSStoppedFrame(ControlFrame):
    """A TTS utterance is complete."""

    context_id: str | None = None
    """The provider's generation id, when it has one."""

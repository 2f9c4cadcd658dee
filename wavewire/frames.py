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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # numpy is imported lazily: it costs ~60 ms at import time
    import numpy as np

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
    "TranscriptionFrame",
    "InterimTranscriptionFrame",
    "LLMMessagesFrame",
    "LLMContext",
    "LLMContextFrame",
    "LLMFullResponseStartFrame",
    "LLMFullResponseEndFrame",
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

SYSTEM = 0
"""Tier constant of :class:`SystemFrame` (see :attr:`Frame.tier`)."""
DATA = 1
"""Tier constant of :class:`DataFrame`."""
CONTROL = 2
"""Tier constant of :class:`ControlFrame`."""


@dataclass(slots=True)
class Frame:
    """Base of every frame. Use one of the three tiers, never this class directly."""

    tier: ClassVar[int] = DATA

    epoch: int = field(default=-1, init=False, repr=False, compare=False)
    """Interruption epoch this frame belongs to; -1 until the first push stamps it.

    A producer that starts work in one epoch and delivers it later (a service's receive
    task, say) sets this itself from :attr:`FrameProcessor.epoch` taken when the work
    began, so that the work is discarded if an interruption came in between."""

    @property
    def name(self) -> str:
        """The frame's class name, for logs."""
        return type(self).__name__


@dataclass(slots=True)
class SystemFrame(Frame):
    """Out-of-band frame: processed at once, never queued behind data, never discarded
    by an interruption."""

    tier: ClassVar[int] = SYSTEM


@dataclass(slots=True)
class DataFrame(Frame):
    """Ordered content; discarded by an interruption."""

    tier: ClassVar[int] = DATA


@dataclass(slots=True)
class ControlFrame(Frame):
    """Ordered control; survives interruptions."""

    tier: ClassVar[int] = CONTROL


# --- lifecycle -------------------------------------------------------------------


@dataclass(slots=True)
class StartFrame(SystemFrame):
    """First frame of every session, pushed downstream before any other."""

    sample_rate: int = 16000
    """The pipeline's audio sample rate (Hz); edges convert to and from it."""
    num_channels: int = 1
    """The pipeline's channel count."""
    allow_interruptions: bool = True
    """Whether user speech during bot speech may interrupt the bot (barge-in)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Free-form session details (route, call id, …) for processors that need them."""


@dataclass(slots=True)
class EndFrame(ControlFrame):
    """Graceful end: ordered behind the data already queued, so everything before it is
    delivered; the session closes when it has reached the end of the pipeline."""

    reason: str = ""
    """Why the session ends, for logs and events."""


@dataclass(slots=True)
class CancelFrame(SystemFrame):
    """Immediate stop: overtakes queued data; nothing else is delivered."""

    reason: str = ""
    """Why the session was cancelled."""


@dataclass(slots=True)
class EndTaskFrame(SystemFrame):
    """Pushed *upstream* by a processor to ask its session to end gracefully."""

    reason: str = ""
    """Why the processor asks to end."""


@dataclass(slots=True)
class CancelTaskFrame(SystemFrame):
    """Pushed *upstream* by a processor to ask its session to stop at once."""

    reason: str = ""
    """Why the processor asks to cancel."""


@dataclass(slots=True)
class ErrorFrame(SystemFrame):
    """An error, usually travelling upstream to the session, which decides what to do."""

    error: str
    """Human-readable description (never contains secrets)."""
    fatal: bool = False
    """If true the session cancels itself when this reaches it."""
    exception: BaseException | None = field(default=None, repr=False)
    """The exception behind the error, if any."""
    processor: str | None = None
    """Name of the processor where the error happened."""


# --- interruptions and turn-taking ----------------------------------------------


@dataclass(slots=True)
class InterruptionFrame(SystemFrame):
    """Barge-in: every boundary that sees it clears its queue of data frames and
    cancels generation in flight; the session's epoch advances."""


@dataclass(slots=True)
class UserStartedSpeakingFrame(SystemFrame):
    """The VAD (or the provider) detected the start of user speech."""

    emulated: bool = False
    """True when derived from a transcription rather than from audio."""


@dataclass(slots=True)
class UserStoppedSpeakingFrame(SystemFrame):
    """The VAD (or the provider) detected the end of user speech."""

    emulated: bool = False
    """True when derived from a transcription rather than from audio."""


@dataclass(slots=True)
class BotStartedSpeakingFrame(SystemFrame):
    """The output edge really started playing bot audio."""


@dataclass(slots=True)
class BotStoppedSpeakingFrame(SystemFrame):
    """The output edge finished (or was interrupted while) playing bot audio."""

    interrupted: bool = False
    """True when playback stopped because of an interruption."""


@dataclass(slots=True)
class BotUtterancePlayedFrame(SystemFrame):
    """How much of one bot utterance the user actually heard, sent upstream by the output
    edge when the utterance ends or is interrupted, so the context keeps only that."""

    text: str
    """The text of the utterance that was heard (all of it if not interrupted)."""
    played_ms: float
    """Milliseconds of audio actually played."""
    total_ms: float
    """Milliseconds of audio the utterance had in all (known so far)."""
    interrupted: bool = False
    """True when the user cut the utterance short."""


# --- audio -----------------------------------------------------------------------


class _AudioMixin:
    """Helpers shared by the audio frames (kept out of the dataclass hierarchy)."""

    __slots__ = ()
    audio: bytes
    sample_rate: int
    num_channels: int

    @property
    def num_frames(self) -> int:
        """Number of sample frames (samples per channel)."""
        return len(self.audio) // (2 * self.num_channels)

    @property
    def duration(self) -> float:
        """Duration in seconds, from the sample count."""
        return len(self.audio) / (2 * self.num_channels * self.sample_rate)

    @property
    def samples(self) -> np.ndarray:
        """Zero-copy int16 numpy view: shape ``(n,)`` for mono, ``(n, channels)`` else.

        Read-only when :attr:`audio` is ``bytes``."""
        import numpy as np

        view = np.frombuffer(self.audio, dtype="<i2")
        if self.num_channels > 1:
            view = view.reshape(-1, self.num_channels)
        return view


@dataclass(slots=True)
class AudioFrame(_AudioMixin, DataFrame):
    """16-bit little-endian PCM audio. Base of the audio frames; edges check the format."""

    audio: bytes
    """Interleaved signed 16-bit little-endian PCM."""
    sample_rate: int
    """Samples per second per channel."""
    num_channels: int = 1
    """Interleaved channel count."""
    pts: int | None = None
    """Presentation time in samples from the start of the stream, when known."""


@dataclass(slots=True)
class InputAudioFrame(_AudioMixin, SystemFrame):
    """Audio from the user (the transport's input). A system frame: never discarded by an
    interruption, since it is what the user is saying now."""

    audio: bytes
    """Interleaved signed 16-bit little-endian PCM."""
    sample_rate: int
    """Samples per second per channel."""
    num_channels: int = 1
    """Interleaved channel count."""
    pts: int | None = None
    """Presentation time in samples from the start of the stream, when known."""


@dataclass(slots=True)
class OutputAudioFrame(AudioFrame):
    """Audio for the transport's output (what the user will hear)."""


@dataclass(slots=True)
class TTSAudioFrame(OutputAudioFrame):
    """Output audio produced by a TTS service."""

    context_id: str | None = None
    """The TTS generation this audio belongs to, when the provider has one."""


@dataclass(slots=True)
class InputImageFrame(SystemFrame):
    """An image from the transport's input (e.g. a JPEG from a video egress)."""

    image: bytes
    """Encoded image bytes."""
    format: str = "jpeg"
    """Encoding of :attr:`image`."""
    timestamp: int | None = None
    """Provider timestamp, when present."""


# --- text ------------------------------------------------------------------------


@dataclass(slots=True)
class TextFrame(DataFrame):
    """A chunk of text (bot output, usually on its way to TTS)."""

    text: str
    """The text."""


@dataclass(slots=True)
class LLMTextFrame(TextFrame):
    """A text chunk streamed by an LLM."""


@dataclass(slots=True)
class TTSTextFrame(TextFrame):
    """Text that a TTS service has spoken (with timing when the provider gives it)."""

    start_s: float | None = None
    """Start time in seconds within the utterance, when known."""


@dataclass(slots=True)
class TTSSpeakFrame(DataFrame):
    """Ask the TTS to speak this text now, bypassing the LLM."""

    text: str
    """What to say."""


@dataclass(slots=True)
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


@dataclass(slots=True)
class TranscriptionFrame(_Transcription):
    """A final transcription of user speech.

    Not a :class:`TextFrame` subclass, so a TTS never speaks the user's words back."""


@dataclass(slots=True)
class InterimTranscriptionFrame(_Transcription):
    """A partial transcription that may still change (not a final one)."""


# --- LLM -------------------------------------------------------------------------


@dataclass(slots=True)
class LLMContext:
    """A conversation: OpenAI-style messages and tools, shared by the aggregators."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    """Chat messages (``{"role": ..., "content": ...}``)."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Tool (function) definitions in the OpenAI format."""

    def add_message(self, message: dict[str, Any]) -> None:
        """Append one message."""
        self.messages.append(message)


@dataclass(slots=True)
class LLMMessagesFrame(DataFrame):
    """Replace the conversation with these messages and run the LLM."""

    messages: list[dict[str, Any]]
    """Chat messages."""


@dataclass(slots=True)
class LLMContextFrame(DataFrame):
    """Run the LLM on this context."""

    context: LLMContext
    """The conversation to complete."""


@dataclass(slots=True)
class LLMFullResponseStartFrame(ControlFrame):
    """An LLM response begins."""


@dataclass(slots=True)
class LLMFullResponseEndFrame(ControlFrame):
    """An LLM response is complete."""


@dataclass(slots=True)
class TTSStartedFrame(ControlFrame):
    """A TTS utterance begins."""

    context_id: str | None = None
    """The provider's generation id, when it has one."""


@dataclass(slots=True)
class TTSStoppedFrame(ControlFrame):
    """A TTS utterance is complete."""

    context_id: str | None = None
    """The provider's generation id, when it has one."""


# --- transport messages ------------------------------------------------------------


@dataclass(slots=True)
class TransportMessageFrame(DataFrame):
    """A JSON-able or text message carried beside the media (pub/sub, provider control).

    Use the input/output subclasses; output edges send only the output ones."""

    message: Any
    """The payload: a JSON-able value, or a string."""
    topic: str | None = None
    """Pub/sub topic, for protocols that have topics (VideoSDK)."""


@dataclass(slots=True)
class InputTransportMessageFrame(SystemFrame):
    """A message that arrived from the transport's peer (never discarded)."""

    message: Any
    """The decoded payload (JSON value or string)."""
    topic: str | None = None
    """Pub/sub topic, when the protocol has topics."""


@dataclass(slots=True)
class OutputTransportMessageFrame(TransportMessageFrame):
    """A message for the transport to send, in order with the audio."""


@dataclass(slots=True)
class OutputTransportMessageUrgentFrame(SystemFrame):
    """A message for the transport to send at once, ahead of queued audio."""

    message: Any
    """The payload: a JSON-able value, or a string."""
    topic: str | None = None
    """Pub/sub topic, for protocols that have topics."""


@dataclass(slots=True)
class InputDTMFFrame(SystemFrame):
    """A keypad digit pressed by the caller."""

    digit: str
    """One of ``0-9 * # A-D``."""


@dataclass(slots=True)
class PlaybackMarkFrame(SystemFrame):
    """A playback marker. Downstream, the output edge asks the serializer to send it
    after the audio queued so far (Twilio ``mark``); upstream from the input edge, the
    peer reports that everything before that mark has been played (or cleared)."""

    name: str
    """The mark's name, unique within the connection."""


# --- metrics ---------------------------------------------------------------------


@dataclass(slots=True)
class MetricsData:
    """One measurement."""

    processor: str
    """Who measured."""
    name: str
    """What was measured (``ttfb``, ``processing``, ``dropped``, …)."""
    value: float
    """The value, in the unit the name implies (seconds for times)."""


@dataclass(slots=True)
class MetricsFrame(SystemFrame):
    """Measurements, for observers and the metrics endpoint."""

    data: list[MetricsData] = field(default_factory=list)
    """The measurements."""

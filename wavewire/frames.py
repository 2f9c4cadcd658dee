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

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform

from .context import LLMContext

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

SYSTEM = 0
"""Tier constant of :class:`SystemFrame` (see :attr:`Frame.tier`)."""
DATA = 1
"""Tier constant of :class:`DataFrame`."""
CONTROL = 2
"""Tier constant of :class:`ControlFrame`."""


_T = TypeVar("_T")


@dataclass_transform(field_specifiers=(field,))
def _frame(cls: type[_T]) -> type[_T]:
    """``@dataclass(slots=True)`` that generates only ``__init__``: ``__repr__`` and
    ``__eq__`` are shared by :class:`Frame`, which halves the import cost of ~50 frame
    classes (dataclass code generation dominates this module's import time)."""
    return dataclass(slots=True, repr=False, eq=False)(cls)


def _field_names(cls: type) -> tuple[str, ...]:
    names = cls.__dict__.get("_wavewire_fields")
    if names is None:
        names = tuple(f.name for f in fields(cls) if f.repr)
        type.__setattr__(cls, "_wavewire_fields", names)
    return names


@_frame
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

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={getattr(self, n)!r}" for n in _field_names(type(self)))
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _field_names(type(self)))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


@_frame
class SystemFrame(Frame):
    """Out-of-band frame: processed at once, never queued behind data, never discarded
    by an interruption."""

    tier: ClassVar[int] = SYSTEM


@_frame
class DataFrame(Frame):
    """Ordered content; discarded by an interruption."""

    tier: ClassVar[int] = DATA


@_frame
class ControlFrame(Frame):
    """Ordered control; survives interruptions."""

    tier: ClassVar[int] = CONTROL


# --- lifecycle -------------------------------------------------------------------


@_frame
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


@_frame
class EndFrame(ControlFrame):
    """Graceful end: ordered behind the data already queued, so everything before it is
    delivered; the session closes when it has reached the end of the pipeline."""

    reason: str = ""
    """Why the session ends, for logs and events."""


@_frame
class CancelFrame(SystemFrame):
    """Immediate stop: overtakes queued data; nothing else is delivered."""

    reason: str = ""
    """Why the session was cancelled."""


@_frame
class EndTaskFrame(SystemFrame):
    """Pushed *upstream* by a processor to ask its session to end gracefully."""

    reason: str = ""
    """Why the processor asks to end."""


@_frame
class CancelTaskFrame(SystemFrame):
    """Pushed *upstream* by a processor to ask its session to stop at once."""

    reason: str = ""
    """Why the processor asks to cancel."""


@_frame
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


@_frame
class InterruptionFrame(SystemFrame):
    """Barge-in: every boundary that sees it clears its queue of data frames and
    cancels generation in flight; the session's epoch advances."""


@_frame
class UserStartedSpeakingFrame(SystemFrame):
    """The VAD (or the provider) detected the start of user speech."""

    emulated: bool = False
    """True when derived from a transcription rather than from audio."""


@_frame
class UserStoppedSpeakingFrame(SystemFrame):
    """The VAD (or the provider) detected the end of user speech."""

    emulated: bool = False
    """True when derived from a transcription rather than from audio."""


@_frame
class VADUserStartedSpeakingFrame(SystemFrame):
    """The VAD heard speech start (raw evidence; turn taking decides whether a user turn
    starts and pushes :class:`UserStartedSpeakingFrame`)."""


@_frame
class VADUserStoppedSpeakingFrame(SystemFrame):
    """The VAD heard speech stop (after its own short hangover; turn taking decides
    whether the user's turn is over)."""


@_frame
class STTTurnFrame(SystemFrame):
    """A turn event from a speech-to-text provider that detects turns itself (Deepgram
    Flux): evidence for turn taking, like the VAD frames."""

    event: str
    """``"start"`` (user began a turn), ``"end"`` (turn over), ``"eager_end"`` (likely
    over: a speculative LLM run may start) or ``"resumed"`` (the eager end was wrong)."""
    transcript: str = ""
    """The turn's transcript so far, when the provider sends it."""
    confidence: float | None = None
    """The provider's end-of-turn confidence, when it gives one."""


@_frame
class BotStartedSpeakingFrame(SystemFrame):
    """The output edge really started playing bot audio."""


@_frame
class BotStoppedSpeakingFrame(SystemFrame):
    """The output edge finished (or was interrupted while) playing bot audio."""

    interrupted: bool = False
    """True when playback stopped because of an interruption."""


@_frame
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


@_frame
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


@_frame
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


@_frame
class OutputAudioFrame(AudioFrame):
    """Audio for the transport's output (what the user will hear)."""


@_frame
class TTSAudioFrame(OutputAudioFrame):
    """Output audio produced by a TTS service."""

    context_id: str | None = None
    """The TTS generation this audio belongs to, when the provider has one."""


@_frame
class InputImageFrame(SystemFrame):
    """An image from the transport's input (e.g. a JPEG from a video egress)."""

    image: bytes
    """Encoded image bytes."""
    format: str = "jpeg"
    """Encoding of :attr:`image`."""
    timestamp: int | None = None
    """Provider timestamp, when present."""


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


# --- transport messages ------------------------------------------------------------


@_frame
class TransportMessageFrame(DataFrame):
    """A JSON-able or text message carried beside the media (pub/sub, provider control).

    Use the input/output subclasses; output edges send only the output ones."""

    message: Any
    """The payload: a JSON-able value, or a string."""
    topic: str | None = None
    """Pub/sub topic, for protocols that have topics (VideoSDK)."""


@_frame
class InputTransportMessageFrame(SystemFrame):
    """A message that arrived from the transport's peer (never discarded)."""

    message: Any
    """The decoded payload (JSON value or string)."""
    topic: str | None = None
    """Pub/sub topic, when the protocol has topics."""


@_frame
class OutputTransportMessageFrame(TransportMessageFrame):
    """A message for the transport to send, in order with the audio."""


@_frame
class OutputTransportMessageUrgentFrame(SystemFrame):
    """A message for the transport to send at once, ahead of queued audio."""

    message: Any
    """The payload: a JSON-able value, or a string."""
    topic: str | None = None
    """Pub/sub topic, for protocols that have topics."""


@_frame
class InputDTMFFrame(SystemFrame):
    """A keypad digit pressed by the caller."""

    digit: str
    """One of ``0-9 * # A-D``."""


@_frame
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


@_frame
class MetricsFrame(SystemFrame):
    """Measurements, for observers and the metrics endpoint."""

    data: list[MetricsData] = field(default_factory=list)
    """The measurements."""

"""System frames of a session's lifecycle, interruptions and turn taking: start, end,
cancel, errors, barge-in, the user's and the bot's speaking events."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from .base import ControlFrame, SystemFrame, _frame

__all__ = [
    "StartFrame",
    "EndFrame",
    "CancelFrame",
    "EndTaskFrame",
    "CancelTaskFrame",
    "ErrorFrame",
    "InterruptionFrame",
    "UserStartedSpeakingFrame",
    "UserStoppedSpeakingFrame",
    "VADUserStartedSpeakingFrame",
    "VADUserStoppedSpeakingFrame",
    "STTTurnFrame",
    "BotStartedSpeakingFrame",
    "BotStoppedSpeakingFrame",
    "BotUtterancePlayedFrame",
]

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

"""What a task is told and what it reports: :class:`PipelineParams` (the settings of one
session; the audio format, ``allow_interruptions`` and ``metadata`` travel on in its
StartFrame) and :class:`TaskStats` (its counters; every frame dropped is counted by
reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)

__all__ = ["PipelineParams", "TaskStats", "DEFAULT_IDLE_FRAMES"]


DEFAULT_IDLE_FRAMES: tuple[type[Frame], ...] = (
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    TranscriptionFrame,
    InterimTranscriptionFrame,
)


@dataclass(slots=True)
class PipelineParams:
    """Settings of one session."""

    sample_rate: int = 16000
    """The pipeline's audio rate; edges convert to and from it."""
    num_channels: int = 1
    """The pipeline's channel count."""
    allow_interruptions: bool = True
    """Whether user speech may interrupt the bot."""
    idle_timeout: float | None = None
    """Seconds without activity (see ``idle_frames``) before ``on_idle_timeout``."""
    idle_frames: tuple[type[Frame], ...] = DEFAULT_IDLE_FRAMES
    """Frames that count as activity for the idle timeout."""
    cancel_on_idle_timeout: bool = True
    """Cancel the session when the idle timeout fires (else only the event fires)."""
    max_duration: float | None = None
    """Absolute session limit in seconds: then the session ends (and drains)."""
    end_timeout: float = 10.0
    """Deadline for an EndFrame to drain through the pipeline before cancelling."""
    cancel_timeout: float = 2.0
    """Deadline for the CancelFrame, hooks and tasks when cancelling."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Copied into the StartFrame."""


@dataclass(slots=True)
class TaskStats:
    """What happened in a session. Every drop is counted by reason."""

    frames_queued: int = 0
    """Frames given to :meth:`PipelineTask.queue_frame`."""
    frames_out: int = 0
    """Frames that reached the end of the pipeline."""
    errors: int = 0
    """ErrorFrames that reached the session."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Frames dropped, by ``processor:reason``."""

    @property
    def total_dropped(self) -> int:
        """All drops together."""
        return sum(self.dropped.values())


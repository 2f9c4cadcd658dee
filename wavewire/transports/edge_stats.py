"""Counters of the session's edges (:class:`EdgeStats`): what each edge took in and sent
out, and every message or chunk it dropped (also counted in the task's drops, by reason)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EdgeStats"]


@dataclass(slots=True)
class EdgeStats:
    """Counters of one edge (every drop is counted here and in the session's stats)."""

    messages_in: int = 0
    """Wire messages received."""
    frames_in: int = 0
    """Frames pushed into the pipeline."""
    protocol_errors: int = 0
    """Messages the serializer rejected."""
    format_errors: int = 0
    """Audio frames with an impossible format (odd bytes, bad rate or channels, empty)."""
    messages_out: int = 0
    """Wire messages sent."""
    audio_ms_sent: float = 0.0
    """Milliseconds of audio sent."""
    dropped: int = 0
    """Audio chunks or messages dropped (interruption, cancel, failed send, stale)."""
    send_errors: int = 0
    """Sends that raised (the peer went away)."""

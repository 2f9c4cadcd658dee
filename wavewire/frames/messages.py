"""Frames carried beside the media: transport messages (in, out, urgent), keypad
digits, playback marks, and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import DataFrame, SystemFrame, _frame

__all__ = [
    "TransportMessageFrame",
    "InputTransportMessageFrame",
    "OutputTransportMessageFrame",
    "OutputTransportMessageUrgentFrame",
    "InputDTMFFrame",
    "PlaybackMarkFrame",
    "MetricsData",
    "MetricsFrame",
]

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

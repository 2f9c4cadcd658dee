"""RTVI: the client protocol of Pipecat's client SDKs (protocol 2.x, as pipecat-ai 1.14
speaks it), over the raw PCM WebSocket.

Every RTVI message is a JSON object ``{"label": "rtvi-ai", "type": ..., "id": ...,
"data": ...}`` in a text message; binary messages are raw s16le PCM, as in
:class:`~wavewire.serializers.raw.RawSerializer`.

Inbound (:class:`RTVISerializer`, strict): ``client-ready`` is answered at once with
``bot-ready`` (an :class:`~wavewire.frames.OutputTransportMessageUrgentFrame`, plus an
``error-response`` when the client's version is missing or of another major), and
``disconnect-bot`` asks the session to end (:class:`~wavewire.frames.EndTaskFrame`);
every known client message also reaches the pipeline as an
:class:`~wavewire.frames.InputTransportMessageFrame`; an unknown type gets an
``error-response``. Anything that is not an RTVI object (bad JSON, too deep, lone
surrogates, wrong field types) is a :class:`~wavewire.errors.ProtocolError`.

Outbound: the builders below make each server message as a plain dict (the shapes of
``pipecat.processors.frameworks.rtvi.models``); :class:`~wavewire.processors.rtvi.RTVIProcessor`
turns pipeline frames into them. The serializer sends them like any transport message.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import MessageTooLargeError, ProtocolError
from ..frames import (
    EndTaskFrame,
    InputTransportMessageFrame,
    MetricsData,
    OutputTransportMessageUrgentFrame,
)
from .fields import load_json
from .raw import RawSerializer

if TYPE_CHECKING:
    from ..frames import Frame
    from .base import Message

__all__ = [
    "LABEL",
    "PROTOCOL_VERSION",
    "CLIENT_TYPES",
    "RTVISerializer",
    "parse_message",
    "message",
    "bot_ready",
    "error_response",
    "error",
    "user_transcription",
    "bot_output",
    "metrics",
]

LABEL = "rtvi-ai"
"""The ``label`` of every RTVI message."""
PROTOCOL_VERSION = "2.2.0"
"""The RTVI protocol version this server speaks."""
CLIENT_TYPES = frozenset({
    "client-ready", "disconnect-bot", "client-message", "send-text", "send-file",
    "llm-function-call-result", "raw-audio", "raw-audio-batch", "dtmf", "ui-event",
    "ui-snapshot", "ui-cancel-job-group",
})
"""Client-to-server message types (others get an ``error-response``)."""

MAX_TEXT = 65536
"""Largest RTVI text message accepted, in characters."""
MAX_DEPTH = 32
"""Deepest JSON nesting accepted."""

_ids = itertools.count(1)


# --- outbound messages ------------------------------------------------------------------


def message(type: str, data: Any = None, *, id: str | None = None) -> dict[str, Any]:
    """One server message; ``data`` and ``id`` are left out when ``None``."""
    out: dict[str, Any] = {"label": LABEL, "type": type}
    if id is not None:
        out["id"] = id
    if data is not None:
        out["data"] = data
    return out


def bot_ready(request_id: str, version: str = PROTOCOL_VERSION,
              about: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``bot-ready``, answering the ``client-ready`` whose id was ``request_id``."""
    if about is None:
        from .. import __version__

        about = {"library": "wavewire", "library_version": __version__}
    data = {
        "version": version,
        "about": dict(about),
        "capabilities": {"audio_in": True, "audio_out": True, "video_in": False,
                         "video_out": False, "metrics": True},
    }
    return message("bot-ready", data, id=request_id)


def error_response(request_id: str, text: str) -> dict[str, Any]:
    """``error-response`` to the client request ``request_id``."""
    return message("error-response", {"error": text}, id=request_id)


def error(text: str, fatal: bool = False) -> dict[str, Any]:
    """``error``: something went wrong in the session (``fatal``: it has stopped)."""
    return message("error", {"error": text, "fatal": fatal})


def user_transcription(text: str, final: bool, user_id: str = "",
                       timestamp: str = "") -> dict[str, Any]:
    """``user-transcription`` (interim when not ``final``)."""
    data = {"text": text, "user_id": user_id, "timestamp": timestamp, "final": final}
    return message("user-transcription", data)


def bot_output(text: str, output_type: str, *, segment_id: int | None = None,
               completed: bool, accumulated: str) -> dict[str, Any]:
    """``bot-output``: text the bot is speaking (``completed`` once all of it was
    spoken), with what has been spoken of its segment so far."""
    data: dict[str, Any] = {
        "text": text,
        "output_type": output_type,
        "will_be_spoken": True,
        "spoken_status": "completed" if completed else "in-progress",
        "spoken_progress": {"accumulated_text": accumulated, "remaining_text": ""},
    }
    if segment_id is not None:
        data["segment_id"] = segment_id
    return message("bot-output", data)


def metrics(data: list[MetricsData]) -> dict[str, Any]:
    """``metrics``: measurements grouped by name (``ttfb``, ``processing``…), each
    ``{"processor", "value"}``, as Pipecat groups them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for d in data:
        grouped.setdefault(d.name, []).append({"processor": d.processor, "value": d.value})
    return message("metrics", grouped)


# --- inbound parsing -----------------------------------------------------------------------


def _check_value(value: Any) -> None:
    """Reject nesting deeper than :data:`MAX_DEPTH` and strings that are not valid
    Unicode (lone surrogates from ``\\ud800`` escapes), without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ProtocolError("rtvi: a string holds a lone surrogate") from None
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise ProtocolError(f"rtvi: JSON nested deeper than {MAX_DEPTH}")
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)


def parse_message(text: str) -> dict[str, Any]:
    """One client message, checked: a JSON object with ``label`` ``"rtvi-ai"``, a
    non-empty string ``type``, a string ``id`` when present and an object (or null)
    ``data``. Raises :class:`ProtocolError` otherwise."""
    if len(text) > MAX_TEXT:
        raise MessageTooLargeError(f"rtvi: text message of {len(text)} characters (max {MAX_TEXT})")
    value = load_json(text, "rtvi")  # typed errors, no parser internals in them
    if not isinstance(value, dict):
        raise ProtocolError(f"rtvi: expected a JSON object, got {type(value).__name__}")
    _check_value(value)
    if value.get("label") != LABEL:
        raise ProtocolError(f"rtvi: label must be {LABEL!r}")
    kind = value.get("type")
    if not isinstance(kind, str) or not kind:
        raise ProtocolError("rtvi: type must be a non-empty string")
    if "id" in value and not isinstance(value["id"], str):
        raise ProtocolError("rtvi: id must be a string")
    data = value.get("data")
    if data is not None and not isinstance(data, dict):
        raise ProtocolError(f"rtvi: data of {kind} must be an object")
    return value


def _version_problem(data: Mapping[str, Any] | None) -> str | None:
    version = data.get("version") if data else None
    if not isinstance(version, str):
        return "Client version unknown."
    parts = version.split(".")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts):
        return f"Invalid client version format ({version})."
    if int(parts[0]) not in (1, 2):
        return f"RTVI version {version} is not compatible with server protocol {PROTOCOL_VERSION}."
    return None


class RTVISerializer(RawSerializer):
    """Raw PCM in binary messages, RTVI in text messages (see the module docstring)."""

    protocol = "rtvi"

    def __init__(self, sample_rate: int = 16000, num_channels: int = 1,
                 about: Mapping[str, Any] | None = None) -> None:
        super().__init__(sample_rate, num_channels)
        self.about = about
        """What ``bot-ready`` says about the bot (wavewire and its version by default)."""
        self.client_ready = False
        """Whether the client has sent ``client-ready``."""
        self.client_version: str | None = None
        """The RTVI version the client declared."""

    def decode(self, message: Message) -> list[Frame]:
        if not isinstance(message, str):
            return super().decode(message)
        value = parse_message(message)
        kind = value["type"]
        request_id = value.get("id") or f"server-{next(_ids)}"
        data = value.get("data")
        if kind not in CLIENT_TYPES:
            reply = error_response(request_id, f"Unsupported type {kind}")
            return [OutputTransportMessageUrgentFrame(reply)]
        frames: list[Frame] = [InputTransportMessageFrame(value)]
        if kind == "client-ready":
            self.client_ready = True
            problem = _version_problem(data)
            version = PROTOCOL_VERSION
            if problem is None:
                self.client_version = data["version"] if data else None
                if self.client_version and self.client_version.startswith("1."):
                    version = self.client_version  # a 1.x client is answered in its version
            else:
                text = problem + " Compatibility issues may occur."
                frames.append(OutputTransportMessageUrgentFrame(error_response(request_id, text)))
            frames.append(OutputTransportMessageUrgentFrame(bot_ready(request_id, version, self.about)))
        elif kind == "disconnect-bot":
            frames.append(EndTaskFrame("rtvi: the client asked to disconnect"))
        return frames

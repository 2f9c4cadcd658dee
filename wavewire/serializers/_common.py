"""Helpers shared by the JSON and binary serializers: strict text/JSON/base64 decoding
with precise :class:`~wavewire.errors.ProtocolError` messages, compact JSON encoding,
and the outbound audio format check."""

from __future__ import annotations

import binascii
import json
from typing import TYPE_CHECKING, Any

from ..errors import FrameFormatError, ProtocolError

if TYPE_CHECKING:
    from ..frames import AudioFrame
    from .base import Message, WireFormat

__all__ = [
    "require_text",
    "require_bytes",
    "load_object",
    "b64decode",
    "b64encode",
    "dumps",
    "check_audio",
    "json_str",
]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


def dumps(value: Any) -> str:
    """Compact JSON (no spaces, UTF-8 kept as is), as the providers' examples show it."""
    return _dumps(value)


def json_str(value: str) -> str:
    """A JSON string literal, for building hot-path messages by formatting."""
    return _dumps(value)


def require_text(message: Message, protocol: str) -> str:
    """The text of a text message; a binary message is a protocol error (close 1003)."""
    if isinstance(message, str):
        return message
    raise ProtocolError(
        f"{protocol}: expected a text (JSON) message, got {len(message)} bytes of binary",
        close_code=1003,
    )


def require_bytes(message: Message, protocol: str) -> bytes:
    """The bytes of a binary message; a text message is a protocol error (close 1003)."""
    if isinstance(message, str):
        raise ProtocolError(
            f"{protocol}: expected a binary message, got text ({len(message)} characters)",
            close_code=1003,
        )
    return message


def load_object(text: str, protocol: str) -> dict[str, Any]:
    """Parse a JSON object; invalid JSON or another JSON type is a protocol error."""
    try:
        value = _loads(text)
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for lone surrogates
        raise ProtocolError(f"{protocol}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{protocol}: expected a JSON object, got {type(value).__name__}")
    return value


def b64decode(value: Any, protocol: str, what: str) -> bytes:
    """Strict base64 (standard alphabet, padding required); anything else raises."""
    if not isinstance(value, str):
        raise ProtocolError(
            f"{protocol}: {what} must be a base64 string, got {type(value).__name__}"
        )
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{protocol}: {what} is not valid base64: {exc}") from None


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """Standard base64 with padding, as text."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def check_audio(frame: AudioFrame, wire: WireFormat, protocol: str) -> None:
    """Outbound audio must already be in the wire's rate and channels (the output edge
    converts); a mismatch is a bug upstream, never silently sent."""
    if frame.sample_rate != wire.sample_rate or frame.num_channels != wire.num_channels:
        raise FrameFormatError(
            f"{protocol}: audio is {frame.sample_rate} Hz x{frame.num_channels}, the wire"
            f" wants {wire.sample_rate} Hz x{wire.num_channels}"
        )
    if len(frame.audio) % (2 * wire.num_channels):
        raise FrameFormatError(
            f"{protocol}: {len(frame.audio)} bytes of audio is not a whole number of"
            f" {wire.num_channels}-channel 16-bit sample frames"
        )

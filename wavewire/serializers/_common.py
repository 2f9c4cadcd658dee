"""Helpers shared by the JSON and binary serializers: strict text/JSON/base64 decoding
with precise :class:`~wavewire.errors.ProtocolError` messages, compact JSON encoding,
and the outbound audio format check.

What a peer sends is checked where it is read, so a decoder raises nothing but
:class:`~wavewire.errors.ProtocolError`:

* :func:`load_json` / :func:`load_object` turn every way JSON text can fail (syntax,
  nesting deep enough to exhaust the parser's recursion, numbers too long to convert)
  into a ``ProtocolError``;
* :func:`check_json` is applied to every JSON value a serializer passes on in a frame
  (or keeps): at most :data:`MAX_JSON_DEPTH` levels deep, and every string in it
  encodable as UTF-8 (no lone surrogate, which ``\\ud800`` escapes can produce), so
  whatever later re-encodes, logs or echoes it cannot fail;
* :func:`require_str` reads one string field (type and UTF-8 checked, length bounded).

Peer values quoted in error messages go through :func:`wavewire.errors.clip`."""

from __future__ import annotations

import binascii
import json
from typing import TYPE_CHECKING, Any

from ..errors import FrameFormatError, ProtocolError, clip

if TYPE_CHECKING:
    from ..frames import AudioFrame
    from .base import Message, WireFormat

__all__ = [
    "require_text",
    "require_bytes",
    "load_object",
    "load_json",
    "check_json",
    "require_str",
    "MAX_JSON_DEPTH",
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


def load_json(text: str, protocol: str, what: str = "message") -> Any:
    """Parse JSON text; every failure is a :class:`ProtocolError` (invalid JSON, nesting
    too deep for the parser, an integer too long to convert)."""
    try:
        return _loads(text)
    except ValueError as exc:  # JSONDecodeError, int digits limit, UnicodeDecodeError
        raise ProtocolError(
            f"{protocol}: invalid JSON ({what} is not JSON): {clip(str(exc))}"
        ) from None
    except RecursionError:
        raise ProtocolError(f"{protocol}: {what} is JSON nested too deeply") from None


def load_object(text: str, protocol: str) -> dict[str, Any]:
    """Parse a JSON object; invalid JSON or another JSON type is a protocol error."""
    value = load_json(text, protocol)
    if not isinstance(value, dict):
        raise ProtocolError(f"{protocol}: expected a JSON object, got {type(value).__name__}")
    return value


MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a serializer passes on (the top level is 1)."""


def check_json(value: Any, text: str, protocol: str, what: str = "message") -> None:
    """Check a value parsed from ``text`` before it is passed on: at most
    :data:`MAX_JSON_DEPTH` levels of nesting and no string (or key) that cannot be
    encoded as UTF-8. Two scans of ``text`` (C speed) clear the usual message; one that
    might break a rule is checked level by level (depth) and re-encoded (strings), each
    about as costly as parsing it."""
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH:
        level = [value] if type(value) is dict or type(value) is list else []
        depth = 0
        while level:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ProtocolError(
                    f"{protocol}: {what} is nested deeper than {MAX_JSON_DEPTH} levels"
                )
            level = [
                v
                for c in level
                for v in (c.values() if type(c) is dict else c)
                if type(v) is dict or type(v) is list
            ]
    if not text.isascii() or "\\u" in text:
        try:
            _dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(
                f"{protocol}: {what} has a string that is not valid Unicode (a lone surrogate)"
            ) from None


def _utf8(text: str, protocol: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(
            f"{protocol}: {what} has a string that is not valid Unicode (a lone surrogate)"
        ) from None


def require_str(
    value: Any, protocol: str, what: str, *, max_len: int | None = None, empty: bool = False
) -> str:
    """``value`` if it is a string fit to be kept and sent back: valid Unicode (no lone
    surrogate), non-empty unless ``empty``, at most ``max_len`` characters."""
    if not isinstance(value, str):
        raise ProtocolError(f"{protocol}: {what} must be a string, got {type(value).__name__}")
    if not value and not empty:
        raise ProtocolError(f"{protocol}: {what} is empty")
    if max_len is not None and len(value) > max_len:
        raise ProtocolError(
            f"{protocol}: {what} is {len(value)} characters, at most {max_len} allowed"
        )
    if not value.isascii():
        _utf8(value, protocol, what)
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

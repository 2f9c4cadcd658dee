"""Typed field readers and strict decoding, public for every protocol parser (the serializers
here and the LLM stream in :mod:`wavewire.services`): strict text/JSON/base64 decoding
with precise :class:`~wavewire.errors.ProtocolError` messages, typed field readers,
compact JSON encoding, and the outbound audio format check.

What a peer sends is checked where it is read, so a decoder raises nothing but
:class:`~wavewire.errors.ProtocolError`:

* :func:`load_json` / :func:`load_object` / :func:`load_message` turn every way JSON
  text can fail (syntax, nesting deep enough to exhaust the parser's recursion, numbers
  too long to convert) into a ``ProtocolError``;
* :func:`check_json` is applied to every JSON value a serializer passes on in a frame
  (or keeps): at most :data:`MAX_JSON_DEPTH` levels deep, and every string in it
  encodable as UTF-8 (no lone surrogate, which ``\\ud800`` escapes can produce), so
  whatever later re-encodes, logs or echoes it cannot fail; :func:`passed_on` applies it
  to a whole message;
* :func:`require_str` / :func:`require_num` check one value (a string: type and UTF-8
  checked, length bounded; a number: finite, never a boolean);
  the ``opt_*`` / ``req_*`` readers read one field of a message by type (strings UTF-8
  checked, numbers finite and in range, booleans never taken for numbers),
  :func:`message_type` its ``type``, and :func:`rows` parallel arrays (word timings);
* :func:`decode_pcm` turns received G.711 or 16-bit PCM audio into whole PCM samples.

Peer values quoted in error messages go through :func:`wavewire.errors.clip`."""

from __future__ import annotations

import binascii
import json
import math
from typing import TYPE_CHECKING, Any

from ..audio.g711 import alaw_decode, ulaw_decode
from ..errors import FrameFormatError, ProtocolError, clip
from .base import ALAW, MULAW

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
    "require_num",
    "load_message",
    "message_type",
    "passed_on",
    "opt_str",
    "req_str",
    "opt_num",
    "req_num",
    "opt_int",
    "opt_bool",
    "opt_obj",
    "opt_list",
    "rows",
    "decode_pcm",
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
            f"{protocol}: {what} is not valid Unicode text (a lone surrogate)"
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


def load_message(message: Message, protocol: str) -> dict[str, Any]:
    """The JSON object of a text message (a binary one is an error, close 1003)."""
    return load_object(require_text(message, protocol), protocol)


def message_type(msg: dict[str, Any], protocol: str) -> str:
    """The message's ``type``, which must be a string."""
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(f"{protocol}: message without a string 'type'")
    return kind


def passed_on(msg: dict[str, Any], message: Message, protocol: str) -> dict[str, Any]:
    """``msg`` (loaded from ``message``) checked by :func:`check_json` before it goes up
    whole in a frame: every field, read or not, fit to be re-encoded."""
    if isinstance(message, str):
        check_json(msg, message, protocol)
    return msg


def opt_str(msg: dict[str, Any], key: str, protocol: str, default: str | None = None) -> str | None:
    """``msg[key]`` as a string (:func:`require_str`, empty allowed), ``default`` when
    absent or null."""
    value = msg.get(key)
    if value is None:
        return default
    if type(value) is str and value.isascii():  # the usual case, nothing to check
        return value
    return require_str(value, protocol, f"'{key}'", empty=True)


def req_str(msg: dict[str, Any], key: str, protocol: str) -> str:
    """``msg[key]``, which must be a string (empty allowed)."""
    value = opt_str(msg, key, protocol)
    if value is None:
        raise ProtocolError(f"{protocol}: missing string '{key}'")
    return value


def require_num(value: object, protocol: str, what: str) -> float:
    """``value`` as a finite float (booleans refused, integers too large refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{protocol}: {what} must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ProtocolError(f"{protocol}: {what} is out of range") from None
    if not math.isfinite(number):
        raise ProtocolError(f"{protocol}: {what} must be finite")
    return number


def opt_num(msg: dict[str, Any], key: str, protocol: str) -> float | None:
    """``msg[key]`` as a finite float, ``None`` when absent or null (booleans refused)."""
    value = msg.get(key)
    if value is None:
        return None
    if type(value) is float and math.isfinite(value):  # the usual case, nothing to check
        return value
    return require_num(value, protocol, f"'{key}'")


def req_num(msg: dict[str, Any], key: str, protocol: str) -> float:
    """``msg[key]``, which must be a finite number."""
    value = opt_num(msg, key, protocol)
    if value is None:
        raise ProtocolError(f"{protocol}: missing number '{key}'")
    return value


def opt_int(msg: dict[str, Any], key: str, protocol: str, limit: int = 1 << 53) -> int | None:
    """``msg[key]`` as an integer with ``abs() <= limit``, ``None`` when absent or null."""
    value = msg.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{protocol}: '{key}' must be an integer, got {type(value).__name__}")
    if abs(value) > limit:
        raise ProtocolError(f"{protocol}: '{key}' is out of range")
    return value


def _typed(msg: dict[str, Any], key: str, protocol: str, kind: type, name: str) -> Any:
    value = msg.get(key)
    if value is not None and not isinstance(value, kind):
        raise ProtocolError(f"{protocol}: '{key}' must be {name}, got {type(value).__name__}")
    return value


def opt_bool(msg: dict[str, Any], key: str, protocol: str, default: bool = False) -> bool:
    """``msg[key]`` as a boolean, ``default`` when absent or null."""
    value = _typed(msg, key, protocol, bool, "a boolean")
    return default if value is None else value  # type: ignore[no-any-return]


def opt_obj(msg: dict[str, Any], key: str, protocol: str) -> dict[str, Any] | None:
    """``msg[key]`` as a JSON object, ``None`` when absent or null."""
    return _typed(msg, key, protocol, dict, "an object")  # type: ignore[no-any-return]


def opt_list(msg: dict[str, Any], key: str, protocol: str) -> list[Any]:
    """``msg[key]`` as a JSON array, ``[]`` when absent or null."""
    return _typed(msg, key, protocol, list, "an array") or []  # type: ignore[no-any-return]


def rows(protocol: str, what: str, *columns: list[Any]) -> zip[tuple[Any, ...]]:
    """Parallel arrays as one tuple per index (values still to be checked, with
    :func:`require_str` / :func:`require_num`); arrays of different lengths are a
    protocol error."""
    if len({len(column) for column in columns}) > 1:
        raise ProtocolError(f"{protocol}: {what} arrays differ in length")
    return zip(*columns, strict=True)


def decode_pcm(data: bytes, encoding: str, protocol: str) -> bytes:
    """16-bit PCM from received audio in a wire ``encoding`` (μ-law and A-law decoded);
    linear PCM that is not whole samples is a protocol error."""
    if encoding == MULAW:
        return ulaw_decode(data)
    if encoding == ALAW:
        return alaw_decode(data)
    if len(data) % 2:
        raise ProtocolError(f"{protocol}: {len(data)} bytes of 16-bit PCM is not whole samples")
    return bytes(data)


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

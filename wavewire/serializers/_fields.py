"""Typed field readers for the provider (speech service) serializers: every value read
from a provider message is checked where it is read, so wrong types, lone surrogates,
non-finite or huge numbers and deep nesting end as a :class:`~wavewire.errors.ProtocolError`
naming the protocol and the field, never as a stray ``TypeError`` or ``RecursionError``."""

from __future__ import annotations

import math
from typing import Any

from ..errors import ProtocolError
from ._common import check_json, load_object, require_text
from .base import Message

__all__ = [
    "load",
    "text_of",
    "opt_str",
    "req_str",
    "opt_num",
    "req_num",
    "opt_int",
    "opt_bool",
    "opt_obj",
    "opt_list",
    "clean",
    "passed_on",
]


def load(message: Message, protocol: str) -> dict[str, Any]:
    """The JSON object of a text message (a binary one is an error, close 1003)."""
    text = require_text(message, protocol)
    try:
        return load_object(text, protocol)
    except RecursionError:
        raise ProtocolError(f"{protocol}: JSON nested too deeply") from None


def passed_on(msg: dict[str, Any], message: Message, protocol: str) -> dict[str, Any]:
    """``msg`` (loaded from ``message``) checked before it goes up whole in a frame:
    every field, read or not, fit to be re-encoded (:func:`._common.check_json`)."""
    if isinstance(message, str):
        check_json(msg, message, protocol)
    return msg


def clean(value: str, protocol: str, what: str) -> str:
    """``value`` if it encodes as UTF-8 (no lone surrogates, which JSON escapes allow)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(f"{protocol}: {what} is not valid Unicode text") from None
    return value


def text_of(value: object, protocol: str, what: str) -> str:
    """An outbound text (from a frame or a caller) checked for type and valid Unicode."""
    if not isinstance(value, str):
        raise ProtocolError(f"{protocol}: {what} must be a string, got {type(value).__name__}")
    return clean(value, protocol, what)


def opt_str(msg: dict[str, Any], key: str, protocol: str, default: str | None = None) -> str | None:
    """``msg[key]`` as a string, ``default`` when absent or null."""
    value = msg.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ProtocolError(f"{protocol}: '{key}' must be a string, got {type(value).__name__}")
    return clean(value, protocol, f"'{key}'")


def req_str(msg: dict[str, Any], key: str, protocol: str) -> str:
    """``msg[key]``, which must be a string."""
    value = opt_str(msg, key, protocol)
    if value is None:
        raise ProtocolError(f"{protocol}: missing string '{key}'")
    return value


def _number(value: object, key: str, protocol: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{protocol}: '{key}' must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:
        raise ProtocolError(f"{protocol}: '{key}' is out of range") from None
    if not math.isfinite(number):
        raise ProtocolError(f"{protocol}: '{key}' must be finite")
    return number


def opt_num(msg: dict[str, Any], key: str, protocol: str) -> float | None:
    """``msg[key]`` as a finite float, ``None`` when absent or null (booleans refused)."""
    value = msg.get(key)
    return None if value is None else _number(value, key, protocol)


def req_num(msg: dict[str, Any], key: str, protocol: str) -> float:
    """``msg[key]``, which must be a finite number."""
    if msg.get(key) is None:
        raise ProtocolError(f"{protocol}: missing number '{key}'")
    return _number(msg[key], key, protocol)


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


def opt_bool(msg: dict[str, Any], key: str, protocol: str, default: bool = False) -> bool:
    """``msg[key]`` as a boolean, ``default`` when absent or null."""
    value = msg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ProtocolError(f"{protocol}: '{key}' must be a boolean, got {type(value).__name__}")
    return value


def opt_obj(msg: dict[str, Any], key: str, protocol: str) -> dict[str, Any] | None:
    """``msg[key]`` as a JSON object, ``None`` when absent or null."""
    value = msg.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError(f"{protocol}: '{key}' must be an object, got {type(value).__name__}")
    return value


def opt_list(msg: dict[str, Any], key: str, protocol: str) -> list[Any]:
    """``msg[key]`` as a JSON array, ``[]`` when absent or null."""
    value = msg.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"{protocol}: '{key}' must be an array, got {type(value).__name__}")
    return value

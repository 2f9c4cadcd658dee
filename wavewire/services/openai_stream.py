"""The pure (sans-I/O) parsing of an OpenAI-compatible chat-completions stream
(``protocols.md`` §9.2): SSE bytes to events, and each event's ``data`` to typed deltas.

:class:`SSEDecoder` turns the body's bytes, in pieces of any size, into each event's
``data`` (``data:`` lines joined, comments and other fields skipped; lines end in LF,
CRLF or CR; bytes that are not UTF-8 become U+FFFD, as the SSE standard says); a line or
an event longer than its limit is a :class:`~wavewire.errors.ProtocolError` (a peer
cannot make it buffer without bound).

:class:`StreamRound` is one streamed completion: :meth:`StreamRound.feed` reads one
event's data and merges it into the round (text returned, tool-call fragments merged by
``index``, usage, ``finish_reason``, ``[DONE]``). Every field is type-checked where it is
read (``null`` counts as absent), so a chunk that breaks the schema (a wrong type, a
string that is not valid Unicode, a huge or negative number, too many tool calls or
arguments) is a ``ProtocolError`` naming the field, never a stray ``TypeError``; an
``{"error": ...}`` event is a :class:`~wavewire.errors.ServiceError`. Data that is not a
JSON object at all (keep-alive noise, a garbled line) is not a chunk: it is counted in
:attr:`StreamRound.malformed` and skipped. Peer text in messages goes through
:func:`~wavewire.errors.clip`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError, ServiceError, clip
from ..serializers.fields import load_json
from .llm import Completion, ToolCallRequest
from .tools import MAX_ARGUMENTS

__all__ = ["PROTOCOL", "MAX_EVENT", "MAX_TOOL_CALLS", "SSEDecoder", "StreamRound"]

PROTOCOL = "openai-stream"
"""The protocol name in error messages."""
MAX_EVENT = 1 << 20
"""Most bytes of one SSE line, and characters of one event's data."""
MAX_TOOL_CALLS = 64
"""Most tool calls one round may ask for."""
MAX_TOKENS = 1 << 53
"""Largest token count accepted in ``usage``."""


class SSEDecoder:
    """Server-sent events from body bytes (see the module docstring)."""

    __slots__ = ("_data", "_error", "_pending", "_size", "_skip_lf")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[str] = []
        self._size = 0
        self._skip_lf = False
        self._error: ProtocolError | None = None

    def feed(self, piece: bytes) -> list[str]:
        """The data of every event completed by ``piece``. An event over the limit is
        raised once the events before it have been returned."""
        if self._error is not None:
            raise self._error
        out: list[str] = []
        try:
            self._feed(piece, out)
        except ProtocolError as exc:
            if not out:
                raise
            self._error = exc
        return out

    def _feed(self, piece: bytes, out: list[str]) -> None:
        if self._skip_lf and piece[:1] == b"\n":
            piece = piece[1:]
        self._skip_lf = False
        pending = self._pending + piece if self._pending else piece
        if b"\r" in pending:
            # CRLF and lone CR end lines too; a CR at the end may be half of a CRLF
            self._skip_lf = pending.endswith(b"\r")
            pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, rest = pending.split(b"\n")
        if len(rest) > MAX_EVENT:
            raise ProtocolError(f"{PROTOCOL}: an SSE line is longer than {MAX_EVENT} bytes")
        self._pending = rest
        for raw in lines:
            if not raw:
                if self._data:
                    out.append("\n".join(self._data))
                    self._data = []
                    self._size = 0
            elif raw.startswith(b"data:"):
                value = raw[6:] if raw[5:6] == b" " else raw[5:]
                text = value.decode("utf-8", "replace")
                self._size += len(text) + 1
                if self._size > MAX_EVENT:
                    raise ProtocolError(
                        f"{PROTOCOL}: an SSE event's data is longer than {MAX_EVENT} characters")
                self._data.append(text)
            # comments (":…") and other fields (event, id, retry) are not used

    def end(self) -> list[str]:
        """The last event, if the body ended without its blank line."""
        if self._pending:
            tail, self._pending = self._pending, b""
            return self.feed(tail + b"\n\n")
        if self._data:
            data, self._data, self._size = self._data, [], 0
            return ["\n".join(data)]
        return []


def _str(value: Any, what: str) -> str:
    """An optional string field (``None``: ``""``), valid Unicode."""
    if value is None:
        return ""
    if type(value) is not str:
        raise ProtocolError(f"{PROTOCOL}: {what} must be a string, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ProtocolError(f"{PROTOCOL}: {what} is not valid Unicode text") from None
    return value


def _obj(value: Any, what: str) -> dict[str, Any] | None:
    if value is None or type(value) is dict:
        return value
    raise ProtocolError(f"{PROTOCOL}: {what} must be an object, got {type(value).__name__}")


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if type(value) is not list:
        raise ProtocolError(f"{PROTOCOL}: {what} must be an array, got {type(value).__name__}")
    return value


def _int(value: Any, what: str, limit: int) -> int:
    """An optional count (``None``: 0) in ``[0, limit]``."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= limit:
        raise ProtocolError(
            f"{PROTOCOL}: {what} must be an integer from 0 to {limit}, got {clip(value, 40)}")
    return value


@dataclass(slots=True)
class StreamRound(Completion):
    """One streamed completion, merged from its events (see the module docstring)."""

    tokens_out: int = 0
    """Text deltas and tool-call fragments received."""
    done: bool = False
    """``[DONE]`` was received."""
    finished: bool = False
    """A ``finish_reason`` was received."""
    malformed: int = 0
    """Events skipped because their data was not a JSON object."""
    max_arguments: int = MAX_ARGUMENTS
    """Characters of one call's arguments kept; a call over it gets an error result
    (:meth:`~wavewire.services.tools.PendingCall.decode`)."""

    def feed(self, data: str, redact: Callable[[str], str] = str) -> str:
        """Merge one event's ``data``; returns its text (``""`` if none). Raises
        ``ProtocolError`` for a chunk that breaks the schema and ``ServiceError`` for an
        error event (its message passed through ``redact``)."""
        if data[:1] != "{":
            if data.strip() == "[DONE]":
                self.done = True
                return ""
            self.malformed += 1
            return ""
        try:
            chunk = load_json(data, PROTOCOL, "a chunk")
        except ProtocolError:
            self.malformed += 1
            return ""
        if type(chunk) is not dict:  # (a value after the "{", e.g. "{} 1", fails above)
            self.malformed += 1
            return ""
        if "error" in chunk:
            self._error(chunk["error"], redact)
        usage = _obj(chunk.get("usage"), "'usage'")
        if usage is not None:
            self.prompt_tokens = _int(usage.get("prompt_tokens"), "'usage.prompt_tokens'",
                                      MAX_TOKENS)
            self.completion_tokens = _int(usage.get("completion_tokens"),
                                          "'usage.completion_tokens'", MAX_TOKENS)
        text = ""
        for choice in _list(chunk.get("choices"), "'choices'"):
            if type(choice) is not dict:
                raise ProtocolError(f"{PROTOCOL}: a choice must be an object, got "
                                    f"{type(choice).__name__}")
            if _int(choice.get("index"), "'choices[].index'", MAX_TOKENS) != 0:
                continue  # (one choice is asked for; others are not this round's)
            if _str(choice.get("finish_reason"), "'finish_reason'"):
                self.finished = True
            delta = _obj(choice.get("delta"), "'delta'")
            if delta is None:
                continue
            for part in _list(delta.get("tool_calls"), "'delta.tool_calls'"):
                self._tool_fragment(part)
            content = _str(delta.get("content"), "'delta.content'")
            if content:
                self.tokens_out += 1
                text += content
        return text

    def _tool_fragment(self, part: Any) -> None:
        if type(part) is not dict:
            raise ProtocolError(f"{PROTOCOL}: a tool call must be an object, got "
                                f"{type(part).__name__}")
        index = _int(part.get("index"), "'tool_calls[].index'", MAX_TOOL_CALLS - 1)
        call = self.calls.get(index)
        if call is None:
            call = self.calls[index] = ToolCallRequest()
        fn = _obj(part.get("function"), "'tool_calls[].function'") or {}
        call.id = call.id or _str(part.get("id"), "'tool_calls[].id'")
        call.name = call.name or _str(fn.get("name"), "'tool_calls[].function.name'")
        arguments = _str(fn.get("arguments"), "'tool_calls[].function.arguments'")
        if arguments and len(call.arguments) <= self.max_arguments:
            # kept up to one fragment past the limit: the call's decoding reports it
            call.arguments += arguments
        self.tokens_out += 1

    def _error(self, error: Any, redact: Callable[[str], str]) -> None:
        if type(error) is dict:
            message, code = error.get("message"), error.get("code")
        else:
            message, code = error, None
        text = clip("" if message is None else message)
        code_text = code if type(code) is str else str(code) if type(code) is int else None
        raise ServiceError(redact(f"error in stream: {text}"),
                           code=None if code_text is None else clip(code_text, 80))

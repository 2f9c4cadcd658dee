"""What :class:`~wavewire.testing.fakes.openai.FakeOpenAI` answers, without its HTTP:
the script (:class:`Reply`, :class:`Failure`, :class:`ToolCall`, or a callable given the
:class:`RecordedRequest`), and :class:`Answers`, which turns a reply into the
chat-completions JSON (one ``chat.completion``, or the ``chat.completion.chunk`` objects
of a stream: the text one word per chunk, tool calls split into fragments, a usage
chunk when asked).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answers", "Failure", "RecordedRequest", "Reply", "Script", "ToolCall", "echo",
           "DEFAULT_ERRORS"]


@dataclass(slots=True)
class ToolCall:
    """A tool call the fake LLM makes."""

    name: str
    """Function name."""
    arguments: dict[str, Any] | str = field(default_factory=dict)
    """Arguments (a dict is sent as its JSON text; a string is sent as is)."""
    id: str | None = None
    """Call id (default ``call_<n>``)."""


@dataclass(slots=True)
class Reply:
    """One scripted answer: text and/or tool calls, streamed in many chunks."""

    text: str = ""
    """The answer's text; streamed one word (with its leading space) per chunk."""
    tool_calls: Sequence[ToolCall] = ()
    """Tool calls, streamed after the text; several are parallel calls."""
    arg_fragment: int = 6
    """Characters of tool-call arguments per chunk."""
    chunk_delay: float = 0.0
    """Seconds (real time) between chunks."""
    first_delay: float = 0.0
    """Seconds before the first chunk (after the response headers)."""
    drop_after: int | None = None
    """Close the connection abruptly after this many data chunks (a broken stream)."""
    hang_after: int | None = None
    """Stop sending after this many chunks and wait until the client closes."""
    error_after: int | None = None
    """After this many chunks, send ``data: {"error": ...}`` and end the stream."""
    malformed: bool = False
    """Mix malformed SSE lines (bad JSON, a stray field, a comment) into the stream."""
    hostile: bytes = b""
    """Bytes sent after ``hostile_after`` chunks, as they are (hostile SSE lines, a
    type-confused chunk, non-UTF-8…), in one well-formed HTTP chunk."""
    hostile_after: int = 1
    """How many chunks go before ``hostile``."""
    raw_hostile: bool = False
    """Write ``hostile`` on the socket without chunk framing (a broken chunked body), then
    close the connection."""


@dataclass(slots=True)
class Failure:
    """One scripted error response (before any streaming)."""

    status: int = 500
    """HTTP status."""
    message: str = ""
    """``error.message`` (default: the usual one for the status)."""
    type: str = ""
    """``error.type`` (default: the usual one for the status)."""
    code: str | None = None
    """``error.code``."""
    retry_after: float | None = None
    """``Retry-After`` header (seconds), for 429 and 503."""
    delay: float = 0.0
    """Seconds before answering."""


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received."""

    method: str
    """HTTP method."""
    path: str
    """Request path."""
    headers: dict[str, str]
    """Headers, names in lower case."""
    body: Any
    """The decoded JSON body (``None`` if it was not JSON)."""
    started_at: float = 0.0
    """``time.perf_counter()`` when the fake began reading the request (after its head
    arrived)."""
    finished_at: float = 0.0
    """``time.perf_counter()`` when the fake had written the whole response (0 if it did
    not finish). A reply without delays is written without yielding to the event loop, so
    ``finished_at - started_at`` is the fake's own time, for benchmarks to subtract."""
    query: str = ""
    """The request target's query string (after ``?``), if any."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's chat messages."""
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


Script = Callable[[RecordedRequest], "Reply | Failure"]
"""A script given as a callable: the answer to each request."""
_WORD = re.compile(r"\s*\S+")
DEFAULT_ERRORS = {
    400: ("Invalid request.", "invalid_request_error"),
    401: ("Incorrect API key provided.", "invalid_request_error"),
    403: ("Country, region, or territory not supported.", "invalid_request_error"),
    429: ("Rate limit reached for requests.", "requests"),
    500: ("The server had an error while processing your request.", "server_error"),
    503: ("The engine is currently overloaded, please try again later.", "server_error"),
}
"""``error.message`` and ``error.type`` for a :class:`Failure` that gives none, by
status (500's for an unlisted one)."""


def echo(request: RecordedRequest) -> Reply:
    """The default script: repeat the last user message."""
    users = [m for m in request.messages if m.get("role") == "user"]
    said = users[-1].get("content", "") if users else ""
    return Reply(f"You said: {said}" if isinstance(said, str) and said else "Hello!")


class Answers:
    """Chat-completions JSON for scripted replies; tool calls without an id are numbered
    ``call_<n>`` across every reply of one fake."""

    def __init__(self) -> None:
        self.calls = 0
        """Tool calls planned so far."""

    def plan(self, reply: Reply) -> tuple[list[dict[str, Any]], int]:
        """The reply's deltas (one per chunk) and its completion token count."""
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        tokens = _WORD.findall(reply.text)
        deltas += [{"content": t} for t in tokens]
        count = len(tokens)
        for index, call in enumerate(reply.tool_calls):
            self.calls += 1
            args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            deltas.append({"tool_calls": [{
                "index": index, "id": call.id or f"call_{self.calls}", "type": "function",
                "function": {"name": call.name, "arguments": ""}}]})
            step = max(1, reply.arg_fragment)
            for i in range(0, len(args), step):
                deltas.append({"tool_calls": [{
                    "index": index, "function": {"arguments": args[i:i + step]}}]})
                count += 1
        return deltas, count

    def completion(self, reply: Reply, body: dict[str, Any], number: int,
                   model: str) -> dict[str, Any]:
        """The whole ``chat.completion`` answering request ``number`` (``stream: false``)."""
        deltas, count = self.plan(reply)
        calls = [{"id": d["tool_calls"][0]["id"], "type": "function",
                  "function": {"name": d["tool_calls"][0]["function"]["name"], "arguments": ""}}
                 for d in deltas if "tool_calls" in d and "id" in d["tool_calls"][0]]
        for d in deltas:
            for tc in d.get("tool_calls", []):
                calls[tc["index"]]["function"]["arguments"] += tc["function"].get("arguments", "")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        prompt = prompt_tokens(body)
        return {"id": f"chatcmpl-{number}", "object": "chat.completion",
                "created": int(time.time()), "model": body.get("model", model),
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if calls else "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": count,
                          "total_tokens": prompt + count}}

    def chunks(self, reply: Reply, body: dict[str, Any], number: int,
               model: str) -> list[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of the stream answering request
        ``number``: one per delta, the finish, then the usage when the request asks."""
        base = {"id": f"chatcmpl-{number}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", model)}
        deltas, count = self.plan(reply)
        finish = "tool_calls" if reply.tool_calls else "stop"
        chunks = [{**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                  for d in deltas]
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt = prompt_tokens(body)
            chunks.append({**base, "choices": [], "usage": {
                "prompt_tokens": prompt, "completion_tokens": count,
                "total_tokens": prompt + count,
                "completion_tokens_details": {"reasoning_tokens": 0},
                "prompt_tokens_details": {"cached_tokens": 0}}})
        return chunks


def prompt_tokens(body: dict[str, Any]) -> int:
    """The fake's count of a request's prompt tokens (words of its messages, plus 4 each)."""
    return sum(len(str(m.get("content") or "").split()) + 4 for m in body["messages"]
               if isinstance(m, dict))

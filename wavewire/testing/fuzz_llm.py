"""Fuzz targets for the LLM service's stream parsing (``protocols.md`` §9.2), in the shape
of :mod:`.fuzz`'s serializer targets, so the suite (``tests/serializers/test_fuzz.py``)
and ``scripts/fuzz.py`` run them with the same oracle:

* ``openai-chunks``: each text message is one SSE event's data fed to a
  :class:`~wavewire.services.openai_stream.StreamRound` (templates: every chunk shape of
  §9.2, tool-call arguments that are deep, huge, not Unicode…); a binary message goes
  through the :class:`~wavewire.services.openai_stream.SSEDecoder` first (non-UTF-8,
  CR line ends, long lines);
* ``openai-http``: each binary message is a whole HTTP/1.1 response (status line,
  headers, ``Retry-After``, a chunked, sized or close-delimited body of SSE events),
  generated structure-aware and corrupted (bad chunk sizes, broken CRLFs, truncation).

After every message the tool calls merged so far are decoded as the service would
(:meth:`~wavewire.services.tools.PendingCall.decode`, which must not raise) and the
round's tool exchange must encode as the next request would send it. Needs
``hypothesis``."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from ..errors import WavewireError
from ..frames import Frame, LLMTextFrame
from ..serializers.base import FrameSerializer, Message
from ..services.http1 import MAX_RETRY_AFTER, ChunkedDecoder, head_end, is_chunked, parse_head
from ..services.http1 import retry_after as read_retry_after
from ..services.openai_stream import SSEDecoder, StreamRound
from ..services.tools import PendingCall, ToolResult, exchange_messages
from .fuzz import HOSTILE, FuzzTarget, json_messages, json_target, to_text

__all__ = ["OPENAI_CHUNKS", "TARGETS", "OpenAIStreamHarness", "http_responses"]

_BASE = {"id": "c1", "object": "chat.completion.chunk", "created": 1767225600, "model": "m",
         "system_fingerprint": "fp", "service_tier": "default", "obfuscation": "x"}


def _tool_chunk(arguments: str, **extra: Any) -> dict[str, Any]:
    return {**_BASE, "choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, **extra, "function": {"arguments": arguments}}]}, "finish_reason": None}]}


OPENAI_CHUNKS: list[Any] = [
    {**_BASE, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                           "logprobs": None, "finish_reason": None}], "usage": None},
    {**_BASE, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
    {**_BASE, "choices": [{"index": 0, "delta": {"refusal": "no"}, "finish_reason": None}]},
    {**_BASE, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None,
                                                 "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": None}]},
    _tool_chunk('{"city":'),
    _tool_chunk('"Paris"}'),
    _tool_chunk("[" * 3000),
    _tool_chunk('{"a":' * 70 + "1" + "}" * 70),
    _tool_chunk('{"a":"\\ud800"}'),
    _tool_chunk("9" * 5000),
    _tool_chunk("[1]"),
    _tool_chunk('{"city": "x"}', id="call_2", type="function"),
    {**_BASE, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    {**_BASE, "choices": [{"index": 1, "delta": {"content": "other"}, "finish_reason": "stop"}]},
    {**_BASE, "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 12,
                                       "total_tokens": 62,
                                       "completion_tokens_details": {"reasoning_tokens": 0},
                                       "prompt_tokens_details": {"cached_tokens": 0}}},
    {"error": {"message": "The model stopped.", "type": "server_error", "param": None,
               "code": None}},
    {"error": "overloaded"},
]
"""Every chunk shape of ``protocols.md`` §9.2 (and the error event), every field set."""


class OpenAIStreamHarness(FrameSerializer):
    """A stream round behind the serializer interface (see the module docstring).
    ``http``: a binary message is a whole HTTP response, not SSE bytes."""

    protocol = "openai-stream"

    def __init__(self, *, http: bool = False) -> None:
        self.http = http
        self.round = StreamRound()
        self.sse = SSEDecoder()

    def decode(self, message: Message) -> list[Frame]:
        try:
            if isinstance(message, str):
                events = [message]
            elif self.http:
                events = _response_events(message)
            else:
                events = self.sse.feed(message)
            frames: list[Frame] = []
            for data in events:
                text = self.round.feed(data)
                if text:
                    frames.append(LLMTextFrame(text))
        except WavewireError:
            self.round, self.sse = StreamRound(), SSEDecoder()  # the service ends the round
            raise
        self._check_calls()
        return frames

    def _check_calls(self) -> None:
        calls = [PendingCall.decode(c.id or f"call_{n}", c.name, c.arguments)
                 for n, c in sorted(self.round.calls.items())]
        for call in calls:  # what FunctionCallInProgressFrame carries, re-encodable
            json.dumps(call.args, ensure_ascii=False).encode("utf-8")
        results = [ToolResult(error=c.problem) if c.problem else ToolResult({"ok": True})
                   for c in calls]
        exchange = exchange_messages(calls, results)  # what the next request sends
        json.dumps(exchange, ensure_ascii=False).encode("utf-8")


def _response_events(raw: bytes) -> list[str]:
    """The SSE event data of a whole HTTP response, parsed as the lean client does (the
    body fed in small pieces); ``Retry-After`` read and checked too."""
    start, body_at = head_end(raw)
    if start < 0:
        return []
    status, headers = parse_head(raw[:start])
    wait = read_retry_after(headers.get("retry-after"), 1767225600.0)
    if wait is not None and not (math.isfinite(wait) and 0 <= wait <= MAX_RETRY_AFTER):
        raise AssertionError(f"Retry-After {headers.get('retry-after')!r} gave {wait!r}")
    body = raw[body_at:]
    sse = SSEDecoder()
    events: list[str] = []
    if is_chunked(headers):
        chunked = ChunkedDecoder()
        for i in range(0, len(body), 7):
            for piece in chunked.feed(body[i:i + 7]):
                events += sse.feed(piece)
    else:
        length = headers.get("content-length")
        if length is not None:
            body = body[:int(length)]
        for i in range(0, len(body), 5):
            events += sse.feed(body[i:i + 5])
        events += sse.end()
    return events if status < 400 else []


_EVENT_TEXT = json_messages(OPENAI_CHUNKS, binary=False)
_LINE_END = st.sampled_from([b"\n", b"\r\n", b"\r"])


@st.composite
def _sse_body(draw: Any) -> bytes:
    out = bytearray()
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 9))
        end = draw(_LINE_END)
        if kind == 0:
            out += b": keep-alive" + end
        elif kind == 1:
            out += b"data: " + draw(st.binary(max_size=40)) + end + end  # not UTF-8
        elif kind == 2:
            out += b"event: x" + end + b"id: 1" + end + b"retry: 9" + end
        elif kind == 3:
            out += b"data: [DONE]" + end + end
        else:
            data = draw(_EVENT_TEXT).encode("utf-8", "surrogatepass")
            out += b"data:" + data.replace(b"\n", b"\ndata:") + end + end
    return bytes(out)


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    out = bytearray()
    i = 0
    for n in sizes:
        piece = body[i:i + n]
        i += n
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    out += b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - i, body[i:]) if i < len(body) else b"0\r\n\r\n"
    return bytes(out)


_STATUS = st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.1 429 Too Many Requests",
                           b"HTTP/1.1 500 Internal Server Error", b"HTTP/1.0 200", b"HTTP/1.1 \xc2\xb200 x",
                           b"HTTP/1.1 2000 OK", b"HTTP/2 200", b"ICY 200 OK", b"", b"HTTP/1.1 +20 x"])
_HEADER = st.sampled_from([
    b"Content-Type: text/event-stream", b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked", b"Connection: close", b"Content-Length: 10",
    b"Content-Length: \xc2\xb2", b"Content-Length: 99999999999999999999", b"Content-Length: -1",
    b"Retry-After: 2", b"Retry-After: nan", b"Retry-After: -5", b"Retry-After: 1e999",
    b"Retry-After: Wed, 21 Oct 2015 07:28:00 GMT", b"Retry-After: Fri, 99 Foo 2026",
    b"Retry-After: 99999999999999999999999", b"Bad Header: x", b"NoColon", b" folded: x",
    b"X-\xff: \xff",
])


@st.composite
def http_responses(draw: Any) -> bytes:
    """A whole HTTP/1.1 response carrying an SSE body, hostile in any of its parts."""
    head = [draw(_STATUS), *draw(st.lists(_HEADER, max_size=4))]
    body = draw(_sse_body())
    framing = draw(st.sampled_from(["chunked", "chunked", "sized", "close", "bad-chunks"]))
    if framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        body = _chunked(body, draw(st.lists(st.integers(0, 30), max_size=4)))
    elif framing == "sized":
        head.append(b"Content-Length: %d" % (len(body) + draw(st.integers(-3, 3))))
    elif framing == "bad-chunks":
        head.append(b"Transfer-Encoding: chunked")
        size = draw(st.sampled_from([b"-5", b"0x10", b"1_0", b" 5", b"ffffffffffffffffff",
                                     b"fffffff", b"\xb2", b"5;ext=1", b"", b"zz"]))
        body = size + b"\r\n" + body[:20] + draw(st.sampled_from([b"\r\n", b"", b"\n", b"xx"]))
    sep = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    raw = sep.join(head) + sep + sep + body
    if draw(st.integers(0, 4)) == 0:
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


TARGETS: tuple[FuzzTarget, ...] = (
    json_target("openai-chunks", OpenAIStreamHarness, OPENAI_CHUNKS),
    FuzzTarget("openai-http", lambda: OpenAIStreamHarness(http=True),
               lambda: st.one_of(http_responses(), http_responses(), st.binary(max_size=300),
                                 HOSTILE.map(to_text))),
)
"""The LLM stream's fuzz targets (registered in :data:`.fuzz_targets.TARGETS`)."""

"""The LLM stream's parsing on hostile input (issue 15): the sans-I/O pieces
(wavewire.services.openai_stream, wavewire.services.http1, PendingCall.decode) raise only
typed errors, field by field; and through the fake server, a hostile stream is one
ErrorFrame and the session goes on to its next turn. The structure-aware fuzzing of the
same pieces is the "openai-chunks" and "openai-http" targets of
tests/serializers/test_fuzz.py (and scripts/fuzz.py)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavewire.context import LLMContext
from wavewire.errors import ProtocolError, RemoteClosedError, ServiceError
from wavewire.frames import ErrorFrame, LLMContextFrame, LLMFullResponseEndFrame, LLMTextFrame
from wavewire.pipelines.task import PipelineTask
from wavewire.processors.base import FrameProcessor
from wavewire.services.http1 import (
    MAX_RETRY_AFTER,
    ChunkedDecoder,
    head_end,
    parse_head,
    retry_after,
)
from wavewire.services.openai import OpenAILLMService
from wavewire.services.openai_stream import MAX_EVENT, SSEDecoder, StreamRound
from wavewire.services.tools import MAX_ARGUMENTS, PendingCall
from wavewire.testing import start_task
from wavewire.testing.fakes.openai import FakeOpenAI, Reply
from wavewire.testing.fuzz import FuzzTarget, UntypedError, check_messages
from wavewire.testing.fuzz_llm import OPENAI_CHUNKS, OpenAIStreamHarness
from wavewire.testing.fuzz_targets import TARGETS

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


def _id(value: object) -> str:
    return repr(value)[:40]


_VECTOR_TEXT = b"""data: {"id":"c1","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}

data: {"id":"c1","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: [DONE]

"""
_VECTOR_TOOL = b"""data: {"id":"c2","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}

data: {"id":"c2","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"city\\":"}}]},"finish_reason":null}]}

data: {"id":"c2","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":null}]}

data: {"id":"c2","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

data: {"id":"c2","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":12,"total_tokens":62}}

data: [DONE]

"""


def _feed(raw: bytes, step: int | None = None) -> tuple[StreamRound, str]:
    sse, rnd, text = SSEDecoder(), StreamRound(), ""
    step = step or len(raw)
    for i in range(0, len(raw), step):
        for data in sse.feed(raw[i:i + step]):
            text += rnd.feed(data)
    for data in sse.end():
        text += rnd.feed(data)
    return rnd, text


# --- the protocol's test vectors -------------------------------------------------------------


@pytest.mark.parametrize("step", ids=_id, argvalues=[None, 1, 2, 7, 64])
def test_section_9_vectors_in_pieces_of_any_size(step: int | None) -> None:
    rnd, text = _feed(_VECTOR_TEXT, step)
    assert text == "Hi" and rnd.done and rnd.finished and not rnd.calls and not rnd.malformed
    rnd, text = _feed(_VECTOR_TOOL, step)
    assert text == "" and rnd.done and rnd.finished
    (call,) = rnd.calls.values()
    assert (call.id, call.name, json.loads(call.arguments)) == ("call_1", "get_weather",
                                                                {"city": "Paris"})
    assert (rnd.prompt_tokens, rnd.completion_tokens) == (50, 12)


@pytest.mark.parametrize("end", ids=_id, argvalues=[b"\r\n", b"\r", b"\n"])
def test_sse_lines_may_end_in_crlf_cr_or_lf_and_data_lines_join(end: bytes) -> None:
    raw = (b": comment" + end + b"event: x" + end + b"data: a" + end + b"data:b" + end + end
           + b"data: [DONE]" + end + end)
    for step in (1, 2, 3, len(raw)):
        sse, out = SSEDecoder(), []
        for i in range(0, len(raw), step):
            out += sse.feed(raw[i:i + step])
        assert out == ["a\nb", "[DONE]"], step


def test_non_utf8_bytes_in_an_sse_line_become_replacement_characters() -> None:
    rnd, text = _feed(b'data: {"choices":[{"index":0,"delta":{"content":"a\xffb"}}]}\n\n')
    assert text == "a\ufffdb" and rnd.tokens_out == 1 and not rnd.malformed


def test_an_sse_line_or_event_over_the_limit_is_a_protocol_error() -> None:
    sse = SSEDecoder()
    sse.feed(b"data: " + b"x" * 1000)
    with pytest.raises(ProtocolError, match="longer than"):
        sse.feed(b"x" * MAX_EVENT)  # no newline yet: it cannot be buffered for ever
    many = b"".join(b"data: " + b"y" * 60000 + b"\n" for _ in range(MAX_EVENT // 60000 + 1))
    with pytest.raises(ProtocolError, match="longer than"):
        SSEDecoder().feed(many)


# --- the audit's holes, field by field ---------------------------------------------------------


@pytest.mark.parametrize("chunk", ids=_id, argvalues=[
    {"choices": [], "usage": {"prompt_tokens": "12"}},  # int("12x") raised ValueError
    {"choices": [], "usage": {"completion_tokens": [1]}},  # TypeError
    {"choices": [], "usage": {"prompt_tokens": 10 ** 30}},
    {"choices": [], "usage": {"prompt_tokens": -1}},
    {"choices": [], "usage": {"prompt_tokens": True}},
    {"choices": [], "usage": "lots"},
    {"choices": 5},
    {"choices": {"0": {}}},
    {"choices": ["x"]},
    {"choices": [{"index": "0", "delta": {"content": "x"}}]},
    {"choices": [{"index": 0, "delta": "text"}]},  # AttributeError
    {"choices": [{"index": 0, "delta": [1]}]},
    {"choices": [{"index": 0, "delta": {"content": 5}}]},
    {"choices": [{"index": 0, "delta": {"content": {"a": 1}}}]},
    {"choices": [{"index": 0, "delta": {"content": "\ud800"}}]},  # could not be sent on
    {"choices": [{"index": 0, "finish_reason": 1}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": {"index": 0}}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [5]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "1"}]}}]},  # int() raised
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1.5}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 10 ** 9}]}}]},  # memory
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": -1}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": "f"}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"name": 7}}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": ["x"]}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": {}}}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"name": "\udfff"}}]}}]},
])
def test_a_chunk_that_breaks_the_schema_is_a_protocol_error(chunk: dict) -> None:
    text = json.dumps(chunk)  # (a lone surrogate is written as its \\u escape)
    with pytest.raises(ProtocolError) as info:
        StreamRound().feed(text)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("data", ids=_id, argvalues=["[" * 100_000, '{"a":' * 5000, "{" + "9" * 5000 + "}",
                                  '{"usage":' + "9" * 5000 + "}", "[1, 2]", '"x"', "nul",
                                  "{broken", "\udcff{"])
def test_data_that_is_not_a_json_object_is_skipped_and_counted(data: str) -> None:
    rnd = StreamRound()
    assert rnd.feed(data) == "" and rnd.malformed == 1 and not rnd.done


@pytest.mark.parametrize(("error", "message", "code"), ids=_id, argvalues=[
    ({"message": "The model stopped.", "code": "server_error"}, "The model stopped.",
     "server_error"),
    ({"message": ["x"] * 10_000, "code": {"a": 1}}, "['x', 'x'", None),
    ({"message": "m" * 100_000, "code": 429}, "m" * 200, "429"),
    ("overloaded", "overloaded", None),
    (None, "error in stream", None),
    (5, "5", None),
])
def test_an_error_event_is_a_service_error_with_a_bounded_message(error, message, code):
    with pytest.raises(ServiceError) as info:
        StreamRound().feed(json.dumps({"error": error}), lambda t: t.replace("m" * 5, "#"))
    text = str(info.value)
    assert text.startswith("error in stream") and len(text) < 400
    assert message.replace("m" * 5, "#") in text and info.value.code == code


def test_a_calls_arguments_stop_growing_past_the_limit() -> None:
    rnd = StreamRound(max_arguments=100)
    part = json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "function": {"name": "f", "arguments": "x" * 60}}]}}]})
    for _ in range(1000):
        rnd.feed(part)
    assert len(rnd.calls[0].arguments) == 120 and rnd.tokens_out == 1000


# --- tool-call arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "problem"), ids=_id, argvalues=[
    ("[" * 30_000, "nested too deeply"),
    ('{"a":' * 70 + "1" + "}" * 70, "deeper than"),
    ('{"a":"\\ud800"}', "not valid Unicode"),
    ("{" * 10 + "9" * 5000, "invalid JSON"),
    ('{"n":' + "9" * 5000 + "}", "invalid JSON"),
    ("[1]", "not a JSON object"),
    ("x" * (MAX_ARGUMENTS + 1), "too large"),
    ("{'city': 'Paris'}", "invalid JSON"),
])
def test_bad_tool_arguments_are_the_calls_problem_not_an_exception(arguments, problem):
    call = PendingCall.decode("c1", "f", arguments)
    assert call.args == {} and call.problem is not None and problem in call.problem
    assert len(call.problem) < 400 and len(call.arguments) <= MAX_ARGUMENTS


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(), st.from_regex(r"[\[\]{}\":,0-9a-z\\ ]*", fullmatch=True)))
def test_any_arguments_text_decodes_or_is_a_problem(arguments: str) -> None:
    call = PendingCall.decode("c1", "f", arguments)
    if call.problem is None:
        assert call.args == (json.loads(arguments) if arguments.strip() else {})
    else:
        assert call.args == {} and len(call.problem) < 400
    json.dumps(call.args, ensure_ascii=False).encode("utf-8")


# --- HTTP/1.1 framing ---------------------------------------------------------------------------


def test_a_response_head_is_parsed_with_crlf_or_bare_lf() -> None:
    for sep in (b"\r\n", b"\n"):
        raw = sep.join([b"HTTP/1.1 429 Too Many Requests", b"Retry-After: 3",
                        b"Content-Length: 2", b"X-A: 1", b"x-a: 2", b"", b"{}"])
        start, body = head_end(raw)
        status, headers = parse_head(raw[:start])
        assert status == 429 and raw[body:] == b"{}"
        assert headers == {"retry-after": "3", "content-length": "2", "x-a": "1, 2"}


@pytest.mark.parametrize("head", ids=_id, argvalues=[
    b"", b"HTTP/1.1", b"HTTP/1.1 2000 OK", b"HTTP/1.1 \xc2\xb200 OK", b"HTTP/1.1 +20 OK",
    b"HTTP/2 200", b"ICY 200 OK", b"HTTP/1.1 200 OK\r\nNoColon",
    b"HTTP/1.1 200 OK\r\nBad Name: x", b"HTTP/1.1 200 OK\r\n folded: x",
    b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb2", b"HTTP/1.1 200 OK\r\nContent-Length: -1",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1_0",
    b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 30, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
])
def test_a_malformed_response_head_is_a_remote_closed_error(head: bytes) -> None:
    with pytest.raises(RemoteClosedError):
        parse_head(head)


def test_a_chunked_body_in_pieces_of_any_size_with_extensions_and_trailers() -> None:
    raw = b"5;x=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nNEXT"
    for step in range(1, len(raw) + 1):
        dec, out = ChunkedDecoder(), b""
        for i in range(0, len(raw), step):
            out += b"".join(dec.feed(raw[i:i + step]))
        assert out == b"hello 0123456789" and dec.done and dec.leftover == b"NEXT", step


@pytest.mark.parametrize("raw", ids=_id, argvalues=[
    b"-5\r\nhello\r\n", b"0x5\r\nhello\r\n", b"1_0\r\n", b"zz\r\n", b"\xc2\xb2\r\n",
    b"ffffffffffffffffff\r\n", b"7fffffff\r\n", b"5\r\nhelloXX", b"5\r\nhello\n",
    b"5" * 5000, b"\r\n", b"0\r\n" + b"t" * 5000,
])
def test_a_broken_chunked_body_is_a_remote_closed_error(raw: bytes) -> None:
    with pytest.raises(RemoteClosedError):
        ChunkedDecoder().feed(raw)


@pytest.mark.parametrize(("value", "seconds"), ids=_id, argvalues=[
    ("2", 2.0), ("1.5", 1.5), (" 7 ", 7.0), (None, None), ("", None), ("nan", None),
    ("inf", None), ("1e999", None), ("-5", 0.0), ("99999999999999999999999", MAX_RETRY_AFTER),
    ("²", None), ("soon", None), ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
    ("Fri, 99 Foo 2026", None),
])
def test_retry_after_is_finite_non_negative_and_bounded(value, seconds) -> None:
    assert retry_after(value, 1767225600.0) == seconds


# --- the oracle can fail ---------------------------------------------------------------------------


def test_the_oracle_catches_an_untyped_stream_parser() -> None:
    """The audit's first hole, put back: the fuzz target fails on it."""

    class Leaky(StreamRound):
        def feed(self, data, redact=str):  # type: ignore[no-untyped-def]
            chunk = json.loads(data)
            self.prompt_tokens = int((chunk.get("usage") or {}).get("prompt_tokens") or 0)
            return ""

    def make() -> OpenAIStreamHarness:
        harness = OpenAIStreamHarness()
        harness.round = Leaky()
        return harness

    target = FuzzTarget("leaky", make, TARGETS["openai-chunks"].messages)
    with pytest.raises(UntypedError):
        check_messages(target, False, ['{"choices":[],"usage":{"prompt_tokens":"many"}}'])
    assert OPENAI_CHUNKS and check_messages(TARGETS["openai-chunks"], False,
                                            ['{"choices":[],"usage":{"prompt_tokens":"x"}}']) == 1


# --- end to end: one ErrorFrame, the session goes on ---------------------------------------------


def _context() -> LLMContext:
    return LLMContext([{"role": "user", "content": "hi"}])


_CONFUSED = b'data: {"choices":[{"index":0,"delta":{"content":5}}]}\n\n'


@pytest.fixture(params=["lean", "httpx"])
async def via(request):
    if request.param == "lean":
        yield {}
        return
    async with httpx.AsyncClient() as client:
        yield {"http_client": client}


@pytest.mark.parametrize(("hostile", "raw", "expect"), ids=_id, argvalues=[
    (_CONFUSED, False, "delta.content"),
    (b'data: {"choices":[],"usage":{"prompt_tokens":"12"}}\n\n', False, "prompt_tokens"),
    (b'data: {"choices":[{"index":0,"delta":{"tool_calls":[7]}}]}\n\n', False, "tool call"),
    (b'data: {"choices":[{"index":0,"delta":{"content":"\\ud800"}}]}\n\n', False, "Unicode"),
    (b"data: " + b"x" * (MAX_EVENT + 10) + b"\n\n", False, "longer than"),
    (b"zz\r\n" + _CONFUSED, True, "stream broken"),
    (b"ffffffffffffff\r\ndata: x", True, "stream broken"),
])
async def test_a_hostile_stream_is_one_error_frame_and_the_next_turn_works(
        via, hostile: bytes, raw: bool, expect: str) -> None:
    script = [Reply("one two three", hostile=hostile, hostile_after=2, raw_hostile=raw),
              Reply("Second turn.")]
    async with FakeOpenAI(script) as fake:
        llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test", **via)
        ends = asyncio.Queue[None]()
        texts: list[str] = []
        errors: list[ErrorFrame] = []

        class Tap(FrameProcessor):
            async def process_frame(self, frame, direction):
                if isinstance(frame, LLMTextFrame):
                    texts.append(frame.text)
                elif isinstance(frame, ErrorFrame):
                    errors.append(frame)
                elif isinstance(frame, LLMFullResponseEndFrame):
                    ends.put_nowait(None)
                await self.push(frame, direction)

        task = PipelineTask([Tap(), llm, Tap()])
        runner = await start_task(task)
        await task.queue_frame(LLMContextFrame(_context()))
        await asyncio.wait_for(ends.get(), 10)
        first = "".join(texts)
        await task.queue_frame(LLMContextFrame(_context()))
        await asyncio.wait_for(ends.get(), 10)
        await task.stop_when_done()
        await asyncio.wait_for(runner, 5)
    assert first == "one" and "".join(texts) == "oneSecond turn."
    (error,) = errors
    assert expect in error.error and not error.fatal and len(error.error) < 400
    assert fake.request_count == 2


@pytest.mark.parametrize("value", [0.0, -5.0, float("nan"), float("inf")])
async def test_an_odd_retry_after_never_makes_a_busy_retry_loop(value: float) -> None:
    """Retry-After 0, negative, nan or inf: each 429 is waited out at least
    MIN_RETRY_WAIT, so a one-second deadline allows at most five requests."""
    from wavewire.services.openai import MIN_RETRY_WAIT
    from wavewire.testing import run_test
    from wavewire.testing.fakes.openai import Failure

    async with FakeOpenAI([Failure(429, retry_after=value)]) as fake:
        llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test",
                               rate_limit_deadline=1.0)
        result = await run_test(llm, frames_to_send=[LLMContextFrame(_context())])
    errors = [f for f in result.up if isinstance(f, ErrorFrame)]
    assert 1 <= fake.request_count <= 1 + int(1.0 / MIN_RETRY_WAIT)
    (error,) = errors
    assert "rate limited" in error.error


async def test_the_lean_client_reads_close_delimited_and_large_error_bodies() -> None:
    """A body without length or chunking ends with the connection; an error body is read
    up to its limit only."""
    from wavewire.services._stream import MAX_ERROR_BODY, SSEClient

    bodies = [b"HTTP/1.1 200 OK\r\n\r\n", b"data: a\n\n", b"data: b\n\n"]
    big = b'{"error":{"message":"' + b"m" * (4 * MAX_ERROR_BODY)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = await reader.readuntil(b"}")  # the request's JSON body
        if b"big" in head:
            writer.write(b"HTTP/1.1 500 x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        else:
            for part in bodies:
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = SSEClient(f"http://127.0.0.1:{port}")
    try:
        response = await client.post("/x", {"k": "v"}, {})
        assert [e async for e in response.events()] == ["a", "b"]
        await response.aclose()
        response = await client.post("/x", {"k": "big"}, {})
        raw = await response.read()
        await response.aclose()
        assert response.status == 500 and MAX_ERROR_BODY < len(raw) < 2 * MAX_ERROR_BODY
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()

"""The fake OpenAI-compatible server (§9) and the OpenAI LLM service against it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from httpx_sse import aconnect_sse

from wavewire.context import LLMContext
from wavewire.frames import (
    ErrorFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
)
from wavewire.pipelines.task import PipelineTask
from wavewire.processors.base import FrameProcessor
from wavewire.services.openai import OpenAILLMService
from wavewire.testing import run_test, start_task
from wavewire.testing.fakes.openai import Failure, FakeOpenAI, Reply, ToolCall

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

KEY = {"Authorization": "Bearer sk-test"}


async def _events(fake: FakeOpenAI, body: dict) -> list[str]:
    async with httpx.AsyncClient() as client, aconnect_sse(
        client, "POST", f"{fake.base_url}/chat/completions", json=body, headers=KEY
    ) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [event.data async for event in source.aiter_sse()]


# --- the fake ---------------------------------------------------------------------


async def test_fake_streams_text_tool_calls_and_usage_per_section_9():
    calls = [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"tz": "CET"})]
    async with FakeOpenAI([Reply("Hi there.", tool_calls=calls)]) as fake:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                "stream_options": {"include_usage": True}}
        events = await _events(fake, body)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hi there."
    merged: dict[int, dict] = {}
    fragments = 0
    for c in chunks:
        for tc in (c["choices"][0]["delta"].get("tool_calls") or []) if c["choices"] else []:
            slot = merged.setdefault(tc["index"], {"id": None, "name": None, "args": ""})
            slot["id"] = slot["id"] or tc.get("id")
            slot["name"] = slot["name"] or tc.get("function", {}).get("name")
            slot["args"] += tc.get("function", {}).get("arguments", "")
            fragments += 1
    assert [(m["name"], json.loads(m["args"])) for m in merged.values()] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {"tz": "CET"})]
    assert merged[0]["id"] != merged[1]["id"]
    assert fragments > 4  # split over many chunks
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls" and set(finish[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert fake.request_count == 1
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"
    assert fake.requests[0].messages == [{"role": "user", "content": "hi"}]


async def test_fake_error_bodies_wrong_key_and_retry_after():
    async with FakeOpenAI([Failure(429, retry_after=2)]) as fake, httpx.AsyncClient() as client:
        url = f"{fake.base_url}/chat/completions"
        body = {"model": "m", "messages": []}
        wrong = await client.post(url, json=body, headers={"Authorization": "Bearer nope"})
        limited = await client.post(url, json=body, headers=KEY)
        missing = await client.post(f"{fake.base_url}/nowhere", json=body, headers=KEY)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert set(wrong.json()["error"]) == {"message", "type", "param", "code"}
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert missing.status_code == 404
    assert fake.request_count == 3


async def test_fake_drop_and_malformed_lines():
    async with FakeOpenAI([Reply("one two three", malformed=True),
                           Reply("one two three", drop_after=2)]) as fake:
        body = {"model": "m", "messages": [], "stream": True}
        events = await _events(fake, body)
        assert any(e.startswith('{"id": "broken') for e in events)
        with pytest.raises(httpx.RemoteProtocolError):
            await _events(fake, body)


async def test_fake_answers_without_streaming_too():
    reply = Reply("Hi.", tool_calls=[ToolCall("f", {"x": 1}, id="c9")])
    async with FakeOpenAI([reply]) as fake, httpx.AsyncClient() as client:
        r = await client.post(f"{fake.base_url}/chat/completions", headers=KEY,
                              json={"model": "m", "messages": []})
    body = r.json()
    assert body["object"] == "chat.completion"
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "Hi."
    assert choice["message"]["tool_calls"] == [
        {"id": "c9", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]


async def test_fake_run_serves_the_echo_script_until_cancelled(capsys):
    import socket

    from wavewire.testing.fakes.openai import run

    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = asyncio.ensure_future(run("127.0.0.1", port))
    try:
        for _ in range(500):
            if "http://" in capsys.readouterr().out:
                break
            await asyncio.sleep(0.01)
        body = {"model": "m", "messages": [{"role": "user", "content": "ping"}],
                "stream": True}
        async with httpx.AsyncClient() as client, aconnect_sse(
            client, "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body
        ) as source:
            events = [e.data async for e in source.aiter_sse()]
    finally:
        server.cancel()
        await asyncio.wait({server}, timeout=5)
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert text == "You said: ping"


# --- the service ---------------------------------------------------------------------


def _context(text: str = "What's the weather in Paris?") -> LLMContext:
    return LLMContext([{"role": "system", "content": "You are a voice assistant."},
                       {"role": "user", "content": text}])


@pytest.fixture(params=["lean", "httpx"])
async def via(request):
    """Which HTTP client the service uses: its own, or an httpx.AsyncClient."""
    if request.param == "lean":
        yield {}
        return
    async with httpx.AsyncClient() as client:
        yield {"http_client": client}


async def _turn(fake: FakeOpenAI, *contexts: LLMContext, via: dict | None = None, **kw):
    llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key=kw.pop("api_key", "sk-test"),
                           **(via or {}), **kw)
    result = await run_test(llm, frames_to_send=[LLMContextFrame(c) for c in contexts])
    text = "".join(f.text for f in result.down if isinstance(f, LLMTextFrame))
    errors = [f for f in result.up if isinstance(f, ErrorFrame)]
    return llm, result, text, errors


async def test_a_turn_streams_tokens_between_start_and_end_with_usage_metrics(via):
    async with FakeOpenAI([Reply("It is sunny in Paris today.")]) as fake:
        ctx = _context()
        _, result, text, errors = await _turn(fake, ctx, via=via)
    assert text == "It is sunny in Paris today." and not errors
    kinds = [type(f) for f in result.down]
    assert kinds[0] is LLMFullResponseStartFrame and kinds[-1] is LLMFullResponseEndFrame
    assert kinds.count(LLMTextFrame) == 6  # one frame per streamed token
    (request,) = fake.requests
    assert request.body["messages"] == ctx.messages
    assert request.body["model"] == "m" and request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}
    assert request.headers["authorization"] == "Bearer sk-test"
    (metrics,) = [f for f in result.down if isinstance(f, MetricsFrame)]
    values = {d.name: d.value for d in metrics.data}
    assert values["completion_tokens"] == 6 and values["prompt_tokens"] > 0
    assert 0 <= values["ttfb"] <= values["processing"]


async def test_two_parallel_tool_calls_run_concurrently_and_the_llm_is_called_again(via):
    weather_started = asyncio.Event()

    async def get_weather(city: str) -> dict:
        """Current weather in a city.

        :param city: the city's name
        """
        weather_started.set()
        return {"city": city, "sky": "sunny"}

    async def get_time(tz: str) -> str:
        """The time in a time zone."""
        await asyncio.wait_for(weather_started.wait(), 2)  # only if both run at once
        return f"12:00 {tz}"

    script = [Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="c1"),
                                ToolCall("get_time", {"tz": "CET"}, id="c2")]),
              Reply("Sunny, and it is noon.")]
    async with FakeOpenAI(script) as fake:
        ctx = _context()
        _, result, text, errors = await _turn(fake, ctx, tools=[get_weather, get_time], via=via)
    assert text == "Sunny, and it is noon." and not errors
    first, second = fake.requests
    names = [t["function"]["name"] for t in first.body["tools"]]
    assert names == ["get_weather", "get_time"]
    assert first.body["tools"][0]["function"]["parameters"] == {
        "type": "object", "required": ["city"],
        "properties": {"city": {"type": "string", "description": "the city's name"}}}
    tail = second.messages[2:]
    assert tail[0]["role"] == "assistant" and [c["id"] for c in tail[0]["tool_calls"]] == ["c1", "c2"]
    assert json.loads(tail[0]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert tail[1] == {"role": "tool", "tool_call_id": "c1",
                       "content": json.dumps({"city": "Paris", "sky": "sunny"})}
    assert tail[2] == {"role": "tool", "tool_call_id": "c2", "content": "12:00 CET"}
    assert ctx.messages == second.messages  # the shared context holds the exchange
    started = [f for f in result.down if isinstance(f, FunctionCallInProgressFrame)]
    done = [f for f in result.down if isinstance(f, FunctionCallResultFrame)]
    assert [(f.tool_call_id, f.arguments) for f in started] == [("c1", {"city": "Paris"}),
                                                              ("c2", {"tz": "CET"})]
    assert [f.result for f in done] == [{"city": "Paris", "sky": "sunny"}, "12:00 CET"]


async def test_a_raising_tool_and_a_timing_out_tool_give_error_results_not_a_crash():
    never = asyncio.Event()

    def lookup(key: str) -> str:
        """Look a key up (sync)."""
        raise KeyError(key)

    async def slow() -> str:
        """Never answers."""
        await never.wait()
        return "late"

    script = [Reply(tool_calls=[ToolCall("lookup", {"key": "x"}), ToolCall("slow")]),
              Reply("Sorry, that failed.")]
    async with FakeOpenAI(script) as fake:
        _, result, text, errors = await _turn(fake, _context(), tools=[lookup, slow],
                                              tool_timeout=0.05)
    assert text == "Sorry, that failed." and not errors
    done = [f for f in result.down if isinstance(f, FunctionCallResultFrame)]
    assert "KeyError" in (done[0].error or "") and "timed out" in (done[1].error or "")
    contents = [json.loads(m["content"]) for m in fake.requests[1].messages if m["role"] == "tool"]
    assert "KeyError" in contents[0]["error"] and "timed out" in contents[1]["error"]


async def test_wrong_key_is_one_auth_error_and_one_request_and_the_session_goes_on(via):
    async with FakeOpenAI([Reply("hi")]) as fake:
        _, result, text, errors = await _turn(fake, _context(), api_key="sk-wrong-0123456789", via=via)
    assert fake.request_count == 1 and text == ""
    (error,) = errors
    assert "authentication" in error.error and "401" in error.error and not error.fatal
    assert "sk-wrong-0123456789" not in error.error
    assert type(result.down[-1]) is LLMFullResponseEndFrame


async def test_broken_stream_retries_once_before_the_first_token_and_reports_after(via):
    async with FakeOpenAI([Reply("lost", drop_after=1), Reply("Recovered.")]) as fake:
        _, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "Recovered." and not errors and fake.request_count == 2
    async with FakeOpenAI([Reply("one two three four", drop_after=3)]) as fake:
        _, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "one two" and fake.request_count == 1
    (error,) = errors
    assert "stream broken" in error.error


async def test_5xx_is_retried_once_then_reported(via):
    async with FakeOpenAI([Failure(503), Reply("ok")]) as fake:
        _, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "ok" and not errors and fake.request_count == 2
    async with FakeOpenAI([Failure(500)]) as fake:
        _, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "" and fake.request_count == 2 and "500" in errors[0].error


async def test_malformed_sse_lines_are_skipped_and_counted(via):
    async with FakeOpenAI([Reply("Still fine.", malformed=True)]) as fake:
        llm, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "Still fine." and not errors and llm.malformed == 1


async def test_429_waits_for_retry_after_within_the_deadline(via):
    async with FakeOpenAI([Failure(429, retry_after=0.05), Reply("ok")]) as fake:
        _, _, text, errors = await _turn(fake, _context(), via=via)
    assert text == "ok" and not errors and fake.request_count == 2
    async with FakeOpenAI([Failure(429, retry_after=60)]) as fake:
        _, _, text, errors = await _turn(fake, _context(), rate_limit_deadline=5, via=via)
    assert fake.request_count == 1 and "rate limited" in errors[0].error


async def test_an_interruption_closes_the_http_stream_at_once(via):
    async with FakeOpenAI([Reply("one two three", hang_after=2)]) as fake:
        llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test", **via)
        got = asyncio.Event()

        class Tap(FrameProcessor):
            async def process_frame(self, frame, direction):
                if isinstance(frame, LLMTextFrame):
                    got.set()
                await self.push(frame, direction)

        task = PipelineTask([llm, Tap()])
        runner = await start_task(task)
        await task.queue_frame(LLMContextFrame(_context()))
        await asyncio.wait_for(got.wait(), 5)
        await task.interrupt()
        assert await fake.wait_client_closed(5)
        await task.stop_when_done()
        await asyncio.wait_for(runner, 5)
    assert fake.client_closed == 1


async def test_extra_headers_are_sent_and_the_env_defaults_apply(monkeypatch):
    async with FakeOpenAI([Reply("ok")], api_key="sk-env") as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        llm = OpenAILLMService(model="m", extra_headers=lambda: {"cf-aig-authorization": "x"})
        assert "sk-env" not in repr(llm)
        await run_test(llm, frames_to_send=[LLMContextFrame(_context())])
    assert fake.requests[0].headers["cf-aig-authorization"] == "x"
    assert fake.requests[0].headers["authorization"] == "Bearer sk-env"


@pytest.mark.pipecat
async def test_pipecat_openai_service_completes_a_tool_turn_against_the_fake():
    """Cross-check of the fake: pipecat-ai's own OpenAILLMService (the openai SDK) runs a
    tool call round trip against it."""
    pytest.importorskip("pipecat.services.openai.llm")
    from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
    from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
    from pipecat.frames.frames import EndFrame as PcEndFrame
    from pipecat.frames.frames import LLMContextFrame as PcContextFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext as PcContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
    from pipecat.services.openai.llm import OpenAILLMService as PcOpenAI
    from pipecat.workers.runner import WorkerRunner

    script = [Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_w")]),
              Reply("It is sunny in Paris.")]
    async with FakeOpenAI(script) as fake:
        llm = PcOpenAI(api_key="sk-test", base_url=fake.base_url,
                       settings=PcOpenAI.Settings(model="m"))
        calls = []

        async def get_weather(params):
            calls.append(dict(params.arguments))
            await params.result_callback({"sky": "sunny"})

        llm.register_function("get_weather", get_weather)
        tools = ToolsSchema(standard_tools=[FunctionSchema(
            name="get_weather", description="Current weather",
            properties={"city": {"type": "string"}}, required=["city"])])
        ctx = PcContext([{"role": "user", "content": "Weather in Paris?"}], tools=tools)
        pair = LLMContextAggregatorPair(ctx)
        worker = PipelineWorker(Pipeline([llm, pair.assistant()]), cancel_on_idle_timeout=False)
        started = asyncio.Event()

        @worker.event_handler("on_pipeline_started")
        async def _started(worker, frame):
            started.set()

        runner = WorkerRunner()
        await runner.add_workers(worker)
        running = asyncio.ensure_future(runner.run())
        try:
            await asyncio.wait_for(started.wait(), 10)  # pipecat drops frames sent earlier
            await worker.queue_frame(PcContextFrame(ctx))
            for _ in range(200):
                if any(m.get("role") == "assistant" and m.get("content")
                       for m in ctx.get_messages()):
                    break
                await asyncio.sleep(0.025)
            await worker.queue_frame(PcEndFrame())
            await asyncio.wait_for(running, 10)
        finally:
            if not running.done():
                running.cancel()
    assert calls == [{"city": "Paris"}] and fake.request_count == 2
    follow_up = fake.requests[1].messages
    assert follow_up[1]["tool_calls"][0]["id"] == "call_w"
    assert follow_up[2]["role"] == "tool" and follow_up[2]["tool_call_id"] == "call_w"
    assert json.loads(follow_up[2]["content"]) == {"sky": "sunny"}
    assert ctx.get_messages()[-1] == {"role": "assistant", "content": "It is sunny in Paris."}


def test_tool_schema_from_signature_and_google_docstring():
    from typing import Literal

    from wavewire.services.tools import tool

    def forecast(city: str, days: int = 3, unit: Literal["C", "F"] = "C",
                 hours: list[int] | None = None) -> dict:
        """Weather forecast.

        Args:
            city: the city's name,
                in English.
            days: how many days
        """
        return {}

    spec = tool(forecast).schema()["function"]
    assert spec["description"] == "Weather forecast."
    assert spec["parameters"] == {"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "description": "the city's name, in English."},
        "days": {"type": "integer", "description": "how many days"},
        "unit": {"type": "string", "enum": ["C", "F"]},
        "hours": {"type": "array", "items": {"type": "integer"}}}}


async def test_tool_run_rejects_bad_arguments_without_calling():
    from wavewire.services.tools import tool

    called = []

    def f(x: int) -> int:
        """Double."""
        called.append(x)
        return 2 * x

    bad = await tool(f).run({"y": 1})
    good = await tool(f).run({"x": 2})
    assert "bad arguments" in (bad.error or "") and good.result == 4 and called == [2]


async def test_the_lean_client_keeps_its_connection_alive_and_survives_a_stale_one():
    async with FakeOpenAI([Reply("one."), Reply("two."), Reply("three.")]) as fake:
        llm = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test")
        done = []

        class Tap(FrameProcessor):
            async def process_frame(self, frame, direction):
                if isinstance(frame, LLMFullResponseEndFrame):
                    done.append(frame)
                await self.push(frame, direction)

        task = PipelineTask([llm, Tap()])
        runner = await start_task(task)
        for n in (1, 2):
            await task.queue_frame(LLMContextFrame(_context()))
            assert await llm.wait_idle(5) and len(done) == n
        assert fake.connections == 1  # the second request reused the first connection
        fake.drop_connections()  # the kept connection goes stale
        await asyncio.sleep(0)
        await task.queue_frame(LLMContextFrame(_context()))
        assert await llm.wait_idle(5)
        await task.stop_when_done()
        await asyncio.wait_for(runner, 5)
    assert fake.request_count == 3 and fake.connections == 2 and len(done) == 3


async def test_sse_parsing_joins_multi_line_data_and_reads_sized_bodies():
    from wavewire.services._stream import SSEClient

    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        body = (b": comment\r\nevent: x\r\ndata: {\"a\":\r\ndata:  1}\r\n\r\n"
                b"data: [DONE]\n\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = SSEClient(f"http://127.0.0.1:{port}/v1")
    response = await client.post("/chat/completions", {"x": 1}, {})
    events = [e async for e in response.events()]
    await response.aclose()
    await client.aclose()
    server.close()
    await server.wait_closed()
    assert response.status == 200 and events == ['{"a":\n 1}', "[DONE]"]


async def test_usage_and_timings_reach_the_servers_metrics():
    from wavewire.transports.metrics import ServerMetrics, SessionTotals, service_metrics

    def counter(name: str) -> float:
        return service_metrics.counters.get((name, "OpenAILLMService"), 0)

    hist = service_metrics.histograms.get(("ttfb", "OpenAILLMService"))
    before = (counter("completion_tokens"), hist.count if hist else 0)
    async with FakeOpenAI([Reply("one two three")]) as fake:
        await _turn(fake, _context())
    assert counter("completion_tokens") == before[0] + 3
    assert service_metrics.histograms["ttfb", "OpenAILLMService"].count == before[1] + 1
    text = ServerMetrics().render(SessionTotals(), 0, False)
    assert "# TYPE wavewire_service_ttfb_seconds histogram" in text
    assert 'wavewire_service_ttfb_seconds_bucket{service="OpenAILLMService",le="+Inf"}' in text
    assert 'wavewire_llm_completion_tokens_total{service="OpenAILLMService"}' in text
    assert text.count("# TYPE wavewire_service_processing_seconds histogram") == 1


async def test_query_in_base_url_is_kept_and_bad_headers_are_an_error_not_a_crash():
    async with FakeOpenAI([Reply("ok")], prefix="/openai") as fake:
        llm = OpenAILLMService(model="m", base_url=f"{fake.base_url}?api-version=2024-10-21",
                               api_key="sk-test")
        result = await run_test(llm, frames_to_send=[LLMContextFrame(_context())])
        assert "".join(f.text for f in result.down if isinstance(f, LLMTextFrame)) == "ok"
        bad = OpenAILLMService(model="m", base_url=fake.base_url, api_key="sk-test",
                               extra_headers={"x-evil": "a\r\nHost: other"})
        result = await run_test(bad, frames_to_send=[LLMContextFrame(_context())])
        (error,) = [f for f in result.up if isinstance(f, ErrorFrame)]
        assert "invalid HTTP header" in error.error and not error.fatal
    assert fake.request_count == 1 and fake.requests[0].query == "api-version=2024-10-21"
    assert fake.requests[0].path == "/openai/chat/completions"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (cert, key) paths."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )
    return crt, key


async def test_https_with_a_trusted_certificate_and_a_refused_one(certificate):
    import ssl

    crt, key = certificate
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(crt, key)
    async with FakeOpenAI([Reply("secure")], ssl=server_ctx) as fake:
        assert fake.base_url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(crt))
        _, _, text, errors = await _turn(fake, _context(), ssl_context=trusted)
        assert text == "secure" and not errors
        _, _, text, errors = await _turn(fake, _context())  # the system CAs refuse it
    assert text == "" and "could not connect" in errors[0].error
    assert fake.request_count == 1


async def test_a_configured_proxy_is_used(monkeypatch):
    """With HTTP_PROXY set, requests go through the proxy (httpx does the proxying): the
    fake, standing in for the proxy, receives the absolute-form request."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with FakeOpenAI([Reply("via proxy")]) as fake:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{fake.port}")
        llm = OpenAILLMService(model="m", base_url="http://llm.example.invalid/v1",
                               api_key="sk-test")
        result = await run_test(llm, frames_to_send=[LLMContextFrame(_context())])
    assert "".join(f.text for f in result.down if isinstance(f, LLMTextFrame)) == "via proxy"
    assert fake.requests[0].path == "/v1/chat/completions"
    assert fake.requests[0].headers["host"] == "llm.example.invalid"

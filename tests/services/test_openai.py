"""The fake OpenAI-compatible server (§9) and the OpenAI LLM service against it."""

from __future__ import annotations

import json

import httpx
import pytest
from httpx_sse import aconnect_sse

from wavewire.testing.fakes.openai import Failure, FakeOpenAI, Reply, ToolCall

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

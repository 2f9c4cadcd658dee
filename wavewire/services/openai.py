"""An LLM service for any OpenAI-compatible chat-completions server (``protocols.md`` §9):
OpenAI, vLLM, Ollama, llama.cpp server, Groq… Requests go through a lean built-in
HTTP/1.1 client, or through a given ``httpx.AsyncClient`` with ``httpx-sse`` (the
``openai`` extra).

:class:`OpenAILLMService` runs the LLM on an :class:`~wavewire.frames.LLMContextFrame`
(or :class:`~wavewire.frames.LLMMessagesFrame`, :class:`~wavewire.frames.LLMRunFrame`) in a
task of the session and pushes, downstream: ``LLMFullResponseStartFrame``, one
``LLMTextFrame`` per streamed token, ``FunctionCallInProgressFrame`` /
``FunctionCallResultFrame`` per tool call, a ``MetricsFrame`` (TTFB, processing time,
prompt and completion tokens) and ``LLMFullResponseEndFrame``.

Tool calls: the LLM's calls (parallel ones run concurrently, each under ``tool_timeout``)
and their results are appended to the context together, in one step, once every call
has finished: so the context never holds half a tool call, even when an interruption
cancels the tools. Then the LLM is called again, up to ``max_tool_rounds`` times.

An :class:`~wavewire.frames.InterruptionFrame` (or a newer context) cancels the response
in flight, which closes its HTTP stream at once.

Errors (an ``ErrorFrame`` upstream, never fatal; the session goes on):

* 401/403 → :class:`~wavewire.errors.AuthError`, never retried;
* 429 → :class:`~wavewire.errors.RateLimitError`, retried after ``Retry-After`` while
  that stays within ``rate_limit_deadline``;
* 5xx, a refused connection or a broken stream → retried once if no token was pushed yet,
  else reported;
* other statuses, an error event in the stream → reported.

The API key is sent only in the ``Authorization`` header and redacted from every
message.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..context import LLMContext
from ..errors import (
    ConnectError,
    RemoteClosedError,
    ServiceError,
    ServiceTimeoutError,
)
from ..frames import (
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesFrame,
    LLMRunFrame,
    LLMTextFrame,
    MetricsData,
    MetricsFrame,
    StartFrame,
)
from ..processors.base import DOWNSTREAM, FrameDirection, FrameProcessor
from ..secrets import REDACTED, redact_text
from ..transports.metrics import service_metrics
from ._stream import HttpxSSEClient, RateLimited, SSEClient, open_client, status_error
from .tools import PendingCall, Tool, exchange_messages, run_calls, tools_from

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["OpenAILLMService"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(slots=True)
class _Call:
    """One tool call being merged from stream fragments."""

    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Round:
    """What one streamed completion gave."""

    calls: dict[int, _Call] = field(default_factory=dict)
    tokens_out: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    done: bool = False
    finished: bool = False


class OpenAILLMService(FrameProcessor):
    """Chat completions over SSE, with tools.

    :param model: the model name sent in each request.
    :param api_key: defaults to ``OPENAI_API_KEY``; none sends no ``Authorization``.
    :param base_url: defaults to ``OPENAI_BASE_URL``, else OpenAI's.
    :param tools: typed Python functions (or :class:`~wavewire.services.tools.Tool`) the
        LLM may call; their schemas are sent unless the context declares its own tools.
    :param context: the conversation for :class:`~wavewire.frames.LLMRunFrame` (an
        ``LLMContextFrame`` replaces it).
    :param params: extra request fields (``temperature``, ``max_completion_tokens``…).
    :param tool_timeout: seconds each tool call may take.
    :param rate_limit_deadline: seconds a request may spend waiting out 429s.
    :param extra_headers: headers for every request, or a function returning them
        (called per request), e.g. a gateway's.
    :param http_client: an ``httpx.AsyncClient`` to send requests through (with
        ``httpx-sse``; for proxies or mock transports; not closed by the service). By
        default the service uses its own lean HTTP/1.1 client (see
        :mod:`wavewire.services._stream`), or an httpx client of its own when the
        environment configures a proxy for ``base_url``.
    :param ssl_context: the TLS context for ``https`` (default: the system's CAs).
    """

    def __init__(
        self,
        *,
        model: str = "gpt-4.1-mini",
        api_key: str | None = None,
        base_url: str | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        context: LLMContext | None = None,
        params: Mapping[str, Any] | None = None,
        tool_timeout: float = 10.0,
        max_tool_rounds: int = 4,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        rate_limit_deadline: float = 10.0,
        extra_headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
        http_client: httpx.AsyncClient | None = None,
        ssl_context: ssl.SSLContext | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.model = model
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base.rstrip("/")
        self.tools = tools_from(tools)
        self.context = context if context is not None else LLMContext()
        self.params = dict(params or {})
        self.tool_timeout = tool_timeout
        self.max_tool_rounds = max_tool_rounds
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.rate_limit_deadline = rate_limit_deadline
        self.extra_headers = extra_headers
        self._client = http_client
        self._ssl_context = ssl_context
        self._http: SSEClient | HttpxSSEClient | None = None
        self._running: asyncio.Task | None = None
        self.requests = 0
        """HTTP requests made (retries included)."""
        self.malformed = 0
        """SSE events skipped because they were not JSON chunks."""

    def __repr__(self) -> str:  # never the key
        return f"<{self.name} model={self.model} base_url={self.base_url}>"

    # -- lifecycle -------------------------------------------------------------------

    async def on_start(self, frame: StartFrame) -> None:
        if self._http is None:
            self._http = open_client(self.base_url, http_client=self._client,
                                     connect_timeout=self.connect_timeout,
                                     read_timeout=self.read_timeout,
                                     ssl_context=self._ssl_context)

    async def on_end(self, frame: EndFrame) -> None:
        await self._close()

    async def on_cancel(self, frame: CancelFrame) -> None:
        await self._close()

    async def _close(self) -> None:
        await self._stop_response()
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def _stop_response(self) -> None:
        task, self._running = self._running, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)

    # -- frames ----------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, LLMContextFrame | LLMMessagesFrame | LLMRunFrame):
            if isinstance(frame, LLMContextFrame):
                self.context = frame.context
            elif isinstance(frame, LLMMessagesFrame):
                self.context.messages = list(frame.messages)
            if frame.epoch >= 0 and frame.epoch < self.epoch:
                self.count_drop("stale")
                return
            self.run()
            return
        if isinstance(frame, EndFrame):
            # Graceful end: the response in flight finishes first (within its deadlines).
            await self.wait_idle(self.read_timeout + self.tool_timeout)
        elif isinstance(frame, InterruptionFrame):
            task, self._running = self._running, None
            if task is not None and not task.done():
                task.cancel()  # closes the HTTP stream; nothing is half-written to the context
        await self.push(frame, direction)

    def run(self) -> asyncio.Task:
        """Start a response on :attr:`context` (cancelling the one in flight, if any)."""
        previous = self._running
        if previous is not None and not previous.done():
            previous.cancel()
        self._running = self.create_task(self._respond(self.context, self.epoch), "response")
        return self._running

    async def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no response is in flight; False after ``timeout``."""
        task = self._running
        if task is None:
            return True
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return bool(done)

    # -- one response ------------------------------------------------------------------

    async def _send(self, frame: Frame, epoch: int) -> None:
        frame.epoch = epoch
        await self.push(frame, DOWNSTREAM)

    async def _respond(self, context: LLMContext, epoch: int) -> None:
        clock = self.clock
        started = clock.now()
        usage = [0, 0]
        ttfb: list[float] = []
        await self._send(LLMFullResponseStartFrame(), epoch)
        try:
            for _ in range(self.max_tool_rounds + 1):
                rnd = await self._complete(context, epoch, started, ttfb)
                usage[0] += rnd.prompt_tokens
                usage[1] += rnd.completion_tokens
                if not rnd.calls:
                    break
                await self._run_tools(context, rnd.calls, epoch)
            else:
                await self.push_error(f"{self.name}: stopped after {self.max_tool_rounds} "
                                      "tool rounds")
        except ServiceError as exc:
            await self.push_error(f"{self.name}: {exc}", exception=exc)
        except Exception as exc:  # a bug or bad settings: reported, the session goes on
            text = self._redact(f"{type(exc).__name__}: {exc}")
            await self.push_error(f"{self.name}: {text}", exception=exc)
        data = [MetricsData(self.name, "processing", clock.now() - started),
                MetricsData(self.name, "prompt_tokens", usage[0]),
                MetricsData(self.name, "completion_tokens", usage[1])]
        if ttfb:
            data.insert(0, MetricsData(self.name, "ttfb", ttfb[0]))
        service_metrics.record(type(self).__name__, data)
        await self._send(MetricsFrame(data), epoch)
        await self._send(LLMFullResponseEndFrame(), epoch)

    async def _complete(self, context: LLMContext, epoch: int, started: float,
                        ttfb: list[float]) -> _Round:
        """One completion with the retry policy; returns its merged tool calls."""
        clock = self.clock
        deadline = clock.now() + self.rate_limit_deadline
        retried = False
        while True:
            rnd = _Round()
            try:
                await self._stream(context, epoch, rnd, started, ttfb)
                return rnd
            except RateLimited as exc:
                wait = 1.0 if exc.retry_after is None else exc.retry_after
                if rnd.tokens_out or clock.now() + wait > deadline:
                    raise
                await clock.sleep(wait)
            except (ConnectError, RemoteClosedError, ServiceTimeoutError):
                if rnd.tokens_out or retried:
                    raise
                retried = True
            except ServiceError as exc:
                if rnd.tokens_out or retried or (exc.status or 0) < 500:
                    raise
                retried = True

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        extra = self.extra_headers
        if extra is not None:
            headers.update(extra() if callable(extra) else extra)
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _body(self, context: LLMContext) -> dict[str, Any]:
        body: dict[str, Any] = {**self.params, "model": self.model,
                                "messages": context.messages, "stream": True,
                                "stream_options": {"include_usage": True}}
        tools = context.tools or [t.schema() for t in self.tools.values()]
        if tools:
            body["tools"] = tools
        if context.tool_choice is not None:
            body["tool_choice"] = context.tool_choice
        return body

    async def _stream(self, context: LLMContext, epoch: int, rnd: _Round, started: float,
                      ttfb: list[float]) -> None:
        http = self._http
        if http is None:
            raise ConnectError("the service is not started")
        self.requests += 1
        try:
            response = await http.post("/chat/completions", self._body(context),
                                       self._headers())
        except ServiceError as exc:
            raise type(exc)(self._redact(str(exc))) from None
        try:
            if response.status >= 400:
                raise self._status_error(response.status, response.headers,
                                         await response.read())
            async for data in response.events():
                if rnd.done:
                    continue  # read to the body's end, so the connection is reused
                if data.strip() == "[DONE]":
                    rnd.done = True
                    continue
                await self._chunk(data, epoch, rnd, started, ttfb)
        finally:
            await response.aclose()  # at once, also when cancelled by an interruption
        if not rnd.done and not rnd.finished:
            raise RemoteClosedError("stream broken: it ended before [DONE]")

    async def _chunk(self, data: str, epoch: int, rnd: _Round, started: float,
                     ttfb: list[float]) -> None:
        try:
            chunk = json.loads(data)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            self.malformed += 1
            self.count_drop("malformed-sse")
            return
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {}
            raise ServiceError(self._redact(f"error in stream: {error.get('message', '')}"),
                               code=error.get("code"))
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            rnd.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            rnd.completion_tokens = int(usage.get("completion_tokens") or 0)
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason"):
                rnd.finished = True
            delta = choice.get("delta") or {}
            for part in delta.get("tool_calls") or ():
                call = rnd.calls.setdefault(int(part.get("index", 0)), _Call())
                call.id = call.id or part.get("id") or ""
                fn = part.get("function") or {}
                call.name = call.name or fn.get("name") or ""
                call.arguments += fn.get("arguments") or ""
                self._first_token(rnd, started, ttfb)
            text = delta.get("content")
            if text:
                self._first_token(rnd, started, ttfb)
                await self._send(LLMTextFrame(text), epoch)

    def _first_token(self, rnd: _Round, started: float, ttfb: list[float]) -> None:
        rnd.tokens_out += 1
        if not ttfb:
            ttfb.append(self.clock.now() - started)

    def _status_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> ServiceError:
        return status_error(status, headers, raw, self._redact)

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, REDACTED)
        return redact_text(text)

    # -- tools -------------------------------------------------------------------------

    async def _run_tools(self, context: LLMContext, calls: dict[int, _Call], epoch: int) -> None:
        pending = [PendingCall.decode(c.id or f"call_{epoch}_{n}", c.name, c.arguments)
                   for n, c in enumerate(calls[i] for i in sorted(calls))]
        for call in pending:
            await self._send(FunctionCallInProgressFrame(call.id, call.name, call.args), epoch)
        results = await run_calls(self.tools, pending, self.tool_timeout, self.create_task)
        # Appended together, with no await in between: never half a tool call.
        context.messages.extend(exchange_messages(pending, results))
        for call, res in zip(pending, results, strict=True):
            await self._send(FunctionCallResultFrame(call.id, call.name, call.args, res.result,
                                                     res.error), epoch)

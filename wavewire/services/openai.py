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
cancels the tools. Then the LLM is called again, up to ``max_tool_rounds`` times. That
lifecycle is :class:`~wavewire.services.llm.LLMService`'s, shared with the offline
responder; this module is the OpenAI-compatible round.

An :class:`~wavewire.frames.InterruptionFrame` (or a newer context) cancels the response
in flight, which closes its HTTP stream at once.

Errors (an ``ErrorFrame`` upstream, never fatal; the session goes on):

* 401/403 → :class:`~wavewire.errors.AuthError`, never retried;
* 429 → :class:`~wavewire.errors.RateLimitError`, retried after ``Retry-After`` (at
  least :data:`MIN_RETRY_WAIT`) while that stays within ``rate_limit_deadline``;
* 5xx, a refused connection or a broken stream → retried once if no token was pushed yet,
  else reported;
* other statuses, an error event in the stream → reported;
* a malformed response (a bad status line, header or chunk size) is a broken stream; a
  chunk that breaks the schema (``protocols.md`` §9.2, checked field by field by
  :class:`~wavewire.services.openai_stream.StreamRound`) →
  :class:`~wavewire.errors.ProtocolError`, reported, the stream closed; event data that
  is not a JSON object at all is skipped and counted (:attr:`OpenAILLMService.malformed`).

The API key is sent only in the ``Authorization`` header and redacted from every
message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..context import LLMContext
from ..errors import (
    ConnectError,
    RateLimitError,
    RemoteClosedError,
    ServiceError,
    ServiceTimeoutError,
)
from ..frames import CancelFrame, EndFrame, LLMTextFrame, StartFrame
from ..secrets import REDACTED, redact_text
from ._stream import HttpxSSEClient, SSEClient, open_client, status_error
from .llm import LLMService
from .openai_stream import StreamRound
from .tools import Tool

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["OpenAILLMService"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MIN_RETRY_WAIT = 0.25
"""Fewest seconds waited before retrying a 429, whatever its ``Retry-After`` says."""


class OpenAILLMService(LLMService):
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
        super().__init__(tools=tools, context=context, tool_timeout=tool_timeout,
                         max_tool_rounds=max_tool_rounds, name=name)
        self.model = model
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        base = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = base.rstrip("/")
        self.params = dict(params or {})
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.end_timeout = read_timeout
        self.rate_limit_deadline = rate_limit_deadline
        self.extra_headers = extra_headers
        self._client = http_client
        self._ssl_context = ssl_context
        self._http: SSEClient | HttpxSSEClient | None = None
        self.requests = 0
        """HTTP requests made (retries included)."""
        self.malformed = 0
        """SSE events skipped because their data was not a JSON object."""

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

    async def _complete(self, context: LLMContext, epoch: int, started: float,
                        ttfb: list[float]) -> StreamRound:
        """One completion with the retry policy; returns its merged tool calls."""
        clock = self.clock
        deadline = clock.now() + self.rate_limit_deadline
        retried = False
        while True:
            rnd = StreamRound()
            try:
                await self._stream(context, epoch, rnd, started, ttfb)
                return rnd
            except RateLimitError as exc:
                # (at least MIN_RETRY_WAIT: "Retry-After: 0" must not make a busy loop)
                wait = 1.0 if exc.retry_after is None else max(exc.retry_after, MIN_RETRY_WAIT)
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

    async def _stream(self, context: LLMContext, epoch: int, rnd: StreamRound, started: float,
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
                tokens, malformed = rnd.tokens_out, rnd.malformed
                text = rnd.feed(data, self._redact)
                if rnd.tokens_out != tokens and not ttfb:
                    ttfb.append(self.clock.now() - started)
                if text:
                    await self._send(LLMTextFrame(text), epoch)
                elif rnd.malformed != malformed:
                    self.malformed += 1
                    self.count_drop("malformed-sse")
        finally:
            await response.aclose()  # at once, also when cancelled by an interruption
        if not rnd.done and not rnd.finished:
            raise RemoteClosedError("stream broken: it ended before [DONE]")

    def _status_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> ServiceError:
        return status_error(status, headers, raw, self._redact)

    def _redact(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, REDACTED)
        return redact_text(text)

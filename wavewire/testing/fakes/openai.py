"""A fake OpenAI-compatible chat-completions server on loopback (``protocols.md`` §9).

``POST {base}/chat/completions`` with ``Authorization: Bearer <key>``; ``stream: true``
answers with ``text/event-stream`` chunks (``data: <JSON>`` + blank line, then
``data: [DONE]``), a final usage chunk when ``stream_options.include_usage`` is set, and
tool calls split over many chunks (``index``, then ``id``/``name`` on the first fragment,
then argument fragments); ``stream: false`` answers with one ``chat.completion``. Errors
before streaming carry ``{"error": {message, type, param, code}}`` (401 wrong key, 429
with ``Retry-After``, 5xx). A reply can also carry hostile bytes (malformed or
type-confused events, non-UTF-8, a broken chunked body), for the client's hardening.

Replies are scripted and deterministic: a list of :class:`Reply` / :class:`Failure`
(one per request, in order; the last one repeats) or a callable given the
:class:`RecordedRequest` (the script's types, and the JSON a reply becomes, are
:mod:`.openai_script`'s, imported here too). Every request is recorded. Plain asyncio
HTTP/1.1 with keep-alive and chunked streaming, so a dropped stream is a real protocol
error at the client::

    async with FakeOpenAI([Reply("Hello there.")], api_key="sk-test") as fake:
        ... # point a client at fake.base_url
        assert fake.requests[0].body["messages"][-1]["content"] == "hi"
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from .openai_script import (
    DEFAULT_ERRORS,
    Answers,
    Failure,
    RecordedRequest,
    Reply,
    Script,
    ToolCall,
    echo,
)

__all__ = ["FakeOpenAI", "Failure", "RecordedRequest", "Reply", "ToolCall", "echo", "run"]

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


class FakeOpenAI:
    """The fake server. ``script``: replies in order (the last repeats) or a callable;
    ``api_key``: the key to require (``None`` accepts any); ``prefix``: the base path;
    ``ssl``: a server ``ssl.SSLContext`` to serve ``https``."""

    def __init__(
        self,
        script: Sequence[Reply | Failure] | Script = echo,
        *,
        api_key: str | None = "sk-test",
        host: str = "127.0.0.1",
        port: int = 0,
        prefix: str = "/v1",
        model: str = "fake-gpt",
        ssl: Any = None,
    ) -> None:
        self.script = script
        self.api_key = api_key
        self.host = host
        self.port = port
        self.prefix = prefix.rstrip("/")
        self.model = model
        self.ssl = ssl
        self.requests: list[RecordedRequest] = []
        """Every request received, in order."""
        self.client_closed = 0
        """Streams the client closed before the fake finished them."""
        self.connections = 0
        """TCP connections accepted."""
        self._closed_event = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._answers = Answers()

    @property
    def base_url(self) -> str:
        """``http://host:port/v1`` (``https`` with ``ssl``): a client's ``base_url``."""
        scheme = "https" if self.ssl is not None else "http"
        return f"{scheme}://{self.host}:{self.port}{self.prefix}"

    @property
    def request_count(self) -> int:
        """How many requests arrived."""
        return len(self.requests)

    async def wait_client_closed(self, timeout: float = 5.0) -> bool:
        """Wait until the client closes a stream early; False after ``timeout``."""
        try:
            await asyncio.wait_for(self._closed_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def start(self) -> FakeOpenAI:
        """Start listening (the port is chosen by the OS when 0)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP -----------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Close every open connection at once (kept-alive ones too), as a server that
        restarts or times idle connections out would."""
        for writer in list(self._conns):
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._conns.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._conns.discard(writer)
            writer.transport.abort()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        started = time.perf_counter()
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if path.startswith(("http://", "https://")):  # absolute form: we are the proxy
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        target, _, query = path.partition("?")
        request = RecordedRequest(method, target, headers, body, started, query=query)
        self.requests.append(request)
        if request.path != f"{self.prefix}/chat/completions":
            await self._error(writer, 404, f"Unknown request URL: {method} {request.path}",
                              "invalid_request_error", "unknown_url")
        elif method != "POST":
            await self._error(writer, 405, "Method not allowed", "invalid_request_error")
        elif self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await self._error(writer, 401, "Incorrect API key provided.",
                              "invalid_request_error", "invalid_api_key")
        elif not isinstance(body, dict) or "model" not in body or "messages" not in body:
            await self._error(writer, 400, "'model' and 'messages' are required",
                              "invalid_request_error")
        else:
            answer = self._next(request)
            if isinstance(answer, Failure):
                await asyncio.sleep(answer.delay)
                extra = {}
                if answer.retry_after is not None:
                    extra["Retry-After"] = f"{answer.retry_after:g}"
                message, kind = DEFAULT_ERRORS.get(answer.status, DEFAULT_ERRORS[500])
                await self._error(writer, answer.status, answer.message or message,
                                  answer.type or kind, answer.code, extra)
            elif body.get("stream"):
                keep = await self._stream(reader, writer, body, answer)
                request.finished_at = time.perf_counter() if keep else 0.0
                return keep
            else:
                await self._complete(writer, body, answer)
        request.finished_at = time.perf_counter()
        return headers.get("connection", "").lower() != "close"

    def _next(self, request: RecordedRequest) -> Reply | Failure:
        script = self.script
        if callable(script):
            return script(request)
        if not script:
            return Failure(500, "fake: no scripted reply")
        return script[min(len(self.requests) - 1, len(script) - 1)]

    async def _respond(self, writer: asyncio.StreamWriter, status: int, body: bytes,
                       content_type: str = "application/json",
                       extra: dict[str, str] | None = None) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    async def _error(self, writer: asyncio.StreamWriter, status: int, message: str, kind: str,
                     code: str | None = None, extra: dict[str, str] | None = None) -> None:
        error = {"message": message, "type": kind, "param": None, "code": code}
        await self._respond(writer, status, json.dumps({"error": error}).encode(), extra=extra)

    # -- answers ----------------------------------------------------------------------

    async def _complete(self, writer: asyncio.StreamWriter, body: dict[str, Any],
                        reply: Reply) -> None:
        out = self._answers.completion(reply, body, len(self.requests), self.model)
        await self._respond(writer, 200, json.dumps(out).encode())

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      body: dict[str, Any], reply: Reply) -> bool:
        head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(head.encode())
        await writer.drain()

        async def send(payload: str) -> None:
            data = payload.encode()
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()

        chunks = self._answers.chunks(reply, body, len(self.requests), self.model)
        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)
        for n, chunk in enumerate(chunks):
            if n and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            if n == reply.drop_after:
                writer.transport.abort()
                return False
            if n == reply.hang_after:
                await reader.read()  # until the client goes away
                self.client_closed += 1
                self._closed_event.set()
                return False
            if n == reply.error_after:
                error = {"message": "The model stopped.", "type": "server_error",
                         "param": None, "code": None}
                await send(f"data: {json.dumps({'error': error})}\n\n")
                break
            if reply.hostile and n == reply.hostile_after:
                if reply.raw_hostile:
                    writer.write(reply.hostile)
                    await writer.drain()
                    writer.transport.close()
                    return False
                writer.write(b"%x\r\n%s\r\n" % (len(reply.hostile), reply.hostile))
                await writer.drain()
            if reply.malformed and n == 1:
                await send('data: {"id": "broken\n\nfoo\n\n: a comment\n\n')
            await send(f"data: {json.dumps(chunk)}\n\n")
        await send("data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


async def run(host: str, port: int) -> None:
    """Serve the fake (echo script, any API key) until cancelled; prints its base URL."""
    fake = FakeOpenAI(api_key=None, host=host, port=port)
    await fake.start()
    print(f"fake OpenAI-compatible server on {fake.base_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()

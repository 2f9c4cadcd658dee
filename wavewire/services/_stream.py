"""Streaming POST requests with server-sent events, for the LLM services.

:class:`SSEClient` is a small HTTP/1.1 client on asyncio streams: one kept-alive
connection per service (TLS for ``https``), chunked, sized or close-delimited bodies, and
an SSE parser (``data:`` lines joined per event, comments and other fields skipped). It
does a fraction of a general client's work per request and per chunk, which is most of
a conversation turn's framework time (``benchmarks/conversation.py`` measures both).
:class:`HttpxSSEClient` does the same through a caller's ``httpx.AsyncClient`` (proxies,
mock transports…) and ``httpx-sse``; :func:`open_client` picks one.

Both raise :class:`~wavewire.errors.ConnectError`,
:class:`~wavewire.errors.ServiceTimeoutError` or
:class:`~wavewire.errors.RemoteClosedError` (a broken, truncated or malformed response:
the lean client's parsing of heads, chunked bodies and ``Retry-After`` is the sans-I/O
:mod:`.http1`, its SSE parsing :class:`~.openai_stream.SSEDecoder`, which raises
:class:`~wavewire.errors.ProtocolError` for a line or event over its size limit).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    ConnectError,
    ProtocolError,
    RateLimitError,
    RemoteClosedError,
    ServiceError,
    ServiceTimeoutError,
    clip,
)
from ..serializers.fields import load_json
from .http1 import MAX_HEAD, ChunkedDecoder, head_end, is_chunked, parse_head, retry_after
from .openai_stream import MAX_EVENT, PROTOCOL, SSEDecoder

__all__ = ["HttpxSSEClient", "RateLimited", "SSEClient", "SSEResponse", "open_client",
           "status_error"]

MAX_ERROR_BODY = 64 * 1024
"""Most bytes of an error response's body read."""
_BAD_HEADER = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")


class RateLimited(RateLimitError):
    """A 429, with the server's ``Retry-After`` in seconds (``None`` if it gave none)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


def status_error(status: int, headers: Mapping[str, str], raw: bytes,
                 redact: Callable[[str], str]) -> ServiceError:
    """The error for a non-2xx response whose body is ``{"error": {"message", "code"…}}``
    (OpenAI's shape, which compatible servers share): 401/403 :class:`AuthError`, 429
    :class:`RateLimited`, else :class:`ServiceError`; ``redact`` cleans the message."""
    message, code = _error_body(raw)
    text = redact(f"HTTP {status}: {message}".strip())
    if status in (401, 403):
        return AuthError(f"authentication failed ({text})", status=status, code=code)
    if status == 429:
        return RateLimited(f"rate limited ({text})", status=status, code=code,
                           retry_after=retry_after(headers.get("retry-after"), time.time()))
    return ServiceError(text, status=status, code=code)


def _error_body(raw: bytes) -> tuple[str, str | None]:
    """The message and code of an error body, clipped; its start as text if it is not
    OpenAI's shape."""
    if raw[:1] == b"{":
        try:
            body = load_json(raw.decode("utf-8", "replace"), "http", "error body")
        except ProtocolError:
            body = None
        error = body.get("error") if type(body) is dict else None
        if type(error) is dict:
            message, code = error.get("message"), error.get("code")
            code_text = code if type(code) is str else str(code) if type(code) is int else None
            return (clip("" if message is None else message),
                    None if code_text is None else clip(code_text, 80))
        if type(error) is str:
            return clip(error), None
    return clip(raw[:200].decode("utf-8", "replace")), None


class SSEResponse:
    """One response: its status and headers, then its body as SSE data or bytes."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        """Header names in lower case."""

    async def read(self) -> bytes:
        """The whole body (for error responses)."""
        raise NotImplementedError

    def events(self) -> AsyncIterator[str]:
        """Each event's ``data``, in order, until the body ends."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Done with the response: its connection is kept for the next request if the
        body was read to its end, else closed at once."""
        raise NotImplementedError


class _Body(SSEResponse):
    """A response read from an :class:`SSEClient` connection (its framing parsed by
    :mod:`.http1`, its events by :class:`~.openai_stream.SSEDecoder`)."""

    def __init__(self, client: SSEClient, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, status: int, headers: dict[str, str],
                 buffer: bytearray) -> None:
        super().__init__(status, headers)
        self._client = client
        self._reader = reader
        self._writer = writer
        self._buf = buffer
        self._chunked = ChunkedDecoder() if is_chunked(headers) else None
        length = headers.get("content-length")
        self._left = int(length) if length is not None and self._chunked is None else -1
        self._reusable = headers.get("connection", "").lower() != "close" and (
            self._chunked is not None or self._left >= 0)
        self._ended = False

    async def _read(self) -> bytes:
        try:
            async with asyncio.timeout(self._client.read_timeout):
                data = await self._reader.read(65536)
        except TimeoutError:
            raise ServiceTimeoutError("timed out reading the response") from None
        except OSError as exc:
            raise RemoteClosedError(f"stream broken: {clip(str(exc))}") from None
        if not data:
            self._reusable = False
        return data

    async def _more(self) -> bytes:
        """The next bytes of a body that has not ended yet."""
        data = await self._read()
        if not data:
            raise RemoteClosedError(
                "stream broken: peer closed connection without sending complete message body")
        return data

    async def _pieces(self) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive."""
        buf, self._buf = bytes(self._buf), bytearray()
        chunked = self._chunked
        if chunked is not None:
            while True:
                for piece in chunked.feed(buf):
                    yield piece
                if chunked.done:
                    self._buf = bytearray(chunked.leftover)
                    break
                buf = await self._more()
        elif self._left >= 0:
            while self._left > 0:
                if not buf:
                    buf = await self._more()
                piece, buf = buf[:self._left], buf[self._left:]
                self._left -= len(piece)
                yield piece
            self._buf = bytearray(buf)
        else:
            while True:  # a close-delimited body ends at the end of the connection
                if buf:
                    yield buf
                buf = await self._read()
                if not buf:
                    break
        self._ended = True

    async def read(self) -> bytes:
        out = bytearray()
        pieces = self._pieces()
        async for piece in pieces:
            out += piece
            if len(out) > MAX_ERROR_BODY:
                self._reusable = False
                await pieces.aclose()
                break  # (an error body: its start is all that is read)
        return bytes(out)

    async def events(self) -> AsyncIterator[str]:
        sse = SSEDecoder()
        async for piece in self._pieces():
            for data in sse.feed(piece):
                yield data
        for data in sse.end():
            yield data

    async def aclose(self) -> None:
        if self._ended and self._reusable and not self._buf:
            self._client.keep(self._reader, self._writer)
        else:
            self._writer.transport.abort()


class SSEClient:
    """A streaming HTTP/1.1 client for one origin (see the module docstring)."""

    def __init__(self, base_url: str, *, connect_timeout: float = 10.0,
                 read_timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.query = f"?{parts.query}" if parts.query else ""  # e.g. Azure's api-version
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if self.port == default else f"{host}:{self.port}"
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._ssl: ssl.SSLContext | None = ssl_context

    def keep(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Keep a connection for the next request (one is kept; others are closed)."""
        if self._idle is not None:
            self._idle[1].transport.abort()
        self._idle = (reader, writer)

    async def aclose(self) -> None:
        """Close the kept connection."""
        idle, self._idle = self._idle, None
        if idle is not None:
            idle[1].transport.abort()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(
                    self.host, self.port, ssl=self._ssl if self.tls else None,
                    limit=MAX_HEAD)
        except TimeoutError:
            raise ServiceTimeoutError(f"timed out connecting to {self.authority}") from None
        except OSError as exc:
            raise ConnectError(f"could not connect to {self.authority}: {exc}") from None

    async def post(self, path: str, body: Any, headers: Mapping[str, str]) -> _Body:
        """POST ``body`` (JSON) to ``prefix + path``; returns once the response's head
        has arrived. The caller reads the body, then calls ``aclose()``."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        lines = [f"POST {self.prefix}{path}{self.query} HTTP/1.1", f"Host: {self.authority}",
                 f"Content-Length: {len(payload)}", "Accept-Encoding: identity"]
        for name, value in headers.items():
            if _BAD_HEADER.search(name) or "\r" in value or "\n" in value:
                raise ValueError(f"invalid HTTP header {name!r}")
            lines.append(f"{name}: {value}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        idle, self._idle = self._idle, None
        if idle is not None and (idle[0].at_eof() or idle[1].transport.is_closing()):
            idle[1].transport.abort()
            idle = None
        if idle is not None:
            try:
                return await self._exchange(*idle, request)
            except (RemoteClosedError, EOFError):
                pass  # the kept connection had gone stale: once more on a new one
        reader, writer = await self._connect()
        try:
            return await self._exchange(reader, writer, request)
        except EOFError:
            raise RemoteClosedError("the server closed the connection") from None

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes) -> _Body:
        try:
            writer.write(request)
            async with asyncio.timeout(self.read_timeout):
                await writer.drain()
                buf = bytearray()
                while (ends := head_end(buf))[0] < 0:
                    if len(buf) > MAX_HEAD:
                        writer.transport.abort()
                        raise RemoteClosedError("response head too large")
                    data = await reader.read(65536)
                    if not data:
                        writer.transport.abort()
                        raise EOFError
                    buf += data
        except TimeoutError:
            writer.transport.abort()
            raise ServiceTimeoutError("timed out waiting for the response") from None
        except OSError as exc:
            writer.transport.abort()
            raise RemoteClosedError(f"connection failed: {clip(str(exc))}") from None
        try:
            status, fields = parse_head(bytes(buf[:ends[0]]))
        except RemoteClosedError:
            writer.transport.abort()
            raise
        del buf[:ends[1]]
        return _Body(self, reader, writer, status, fields, buf)


def open_client(base_url: str, *, http_client: Any = None, connect_timeout: float = 10.0,
                read_timeout: float = 30.0,
                ssl_context: ssl.SSLContext | None = None) -> SSEClient | HttpxSSEClient:
    """The client for ``base_url``: through ``http_client`` (an ``httpx.AsyncClient``)
    when given; else an httpx client of its own when the environment configures a proxy
    for it (the lean client speaks no proxy protocol); else an :class:`SSEClient`."""
    if http_client is not None:
        return HttpxSSEClient(http_client, base_url)
    if _proxied(base_url):
        import httpx

        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        client = httpx.AsyncClient(timeout=timeout, verify=ssl_context or True)
        return HttpxSSEClient(client, base_url, owned=True)
    return SSEClient(base_url, connect_timeout=connect_timeout, read_timeout=read_timeout,
                     ssl_context=ssl_context)


def _proxied(url: str) -> bool:
    """Whether the environment sends requests to ``url`` through a proxy
    (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``, less ``NO_PROXY``)."""
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxies = getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(parts.hostname or "")


class HttpxSSEClient:
    """The same interface through an ``httpx.AsyncClient`` and ``httpx-sse``
    (``owned``: close the httpx client with this one)."""

    def __init__(self, client: Any, base_url: str, *, owned: bool = False) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.owned = owned

    async def aclose(self) -> None:
        """Close the httpx client if it is this one's own (the caller's stays open)."""
        if self.owned:
            await self.client.aclose()

    async def post(self, path: str, body: Any, headers: Mapping[str, str]) -> _HttpxBody:
        import httpx

        request = self.client.build_request("POST", f"{self.base_url}{path}", json=body,
                                            headers=dict(headers))
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise ConnectError(f"could not connect: {exc}") from None
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"connection failed: {type(exc).__name__}: {exc}") from None
        return _HttpxBody(response)


class _HttpxBody(SSEResponse):
    def __init__(self, response: Any) -> None:
        super().__init__(response.status_code,
                         {k.lower(): v for k, v in response.headers.items()})
        self._response = response

    async def read(self) -> bytes:
        import httpx

        try:
            return bytes(await self._response.aread())
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"stream broken: {type(exc).__name__}: {exc}") from None

    async def events(self) -> AsyncIterator[str]:
        import httpx
        from httpx_sse import EventSource

        try:
            async for event in EventSource(self._response).aiter_sse():
                if len(event.data) > MAX_EVENT:  # (as SSEDecoder's limit)
                    raise ProtocolError(
                        f"{PROTOCOL}: an SSE event's data is longer than {MAX_EVENT} characters")
                yield event.data
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"stream broken: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        await self._response.aclose()

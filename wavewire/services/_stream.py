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
:class:`~wavewire.errors.RemoteClosedError` (a broken or truncated stream).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import (
    AuthError,
    ConnectError,
    RateLimitError,
    RemoteClosedError,
    ServiceError,
    ServiceTimeoutError,
)

__all__ = ["HttpxSSEClient", "RateLimited", "SSEClient", "SSEResponse", "open_client",
           "status_error"]

_MAX_HEAD = 64 * 1024
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
    try:
        error = json.loads(raw).get("error") or {}
        message, code = str(error.get("message", "")), error.get("code")
    except Exception:
        message, code = raw[:200].decode("utf-8", "replace"), None
    text = redact(f"HTTP {status}: {message}".strip())
    if status in (401, 403):
        return AuthError(f"authentication failed ({text})", status=status, code=code)
    if status == 429:
        try:
            retry_after: float | None = float(headers.get("retry-after", ""))
        except ValueError:
            retry_after = None
        return RateLimited(f"rate limited ({text})", status=status, code=code,
                           retry_after=retry_after)
    return ServiceError(text, status=status, code=code)


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
    """A response read from an :class:`SSEClient` connection."""

    def __init__(self, client: SSEClient, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, status: int, headers: dict[str, str],
                 buffer: bytearray) -> None:
        super().__init__(status, headers)
        self._client = client
        self._reader = reader
        self._writer = writer
        self._buf = buffer
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length and length.isdigit() and not self._chunked else -1
        self._reusable = headers.get("connection", "").lower() != "close" and (
            self._chunked or self._left >= 0)
        self._ended = False

    async def _fill(self) -> None:
        try:
            async with asyncio.timeout(self._client.read_timeout):
                data = await self._reader.read(65536)
        except TimeoutError:
            raise ServiceTimeoutError("timed out reading the response") from None
        except OSError as exc:
            raise RemoteClosedError(f"stream broken: {exc}") from None
        if not data:
            raise EOFError
        self._buf += data

    async def _pieces(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        buf = self._buf
        try:
            if self._chunked:
                while True:
                    while (eol := buf.find(b"\r\n")) < 0:
                        await self._fill()
                    size_text = bytes(buf[:eol]).split(b";", 1)[0].strip()
                    try:
                        size = int(size_text, 16)
                    except ValueError:
                        raise RemoteClosedError("stream broken: bad chunk size") from None
                    while len(buf) < eol + 2 + size + 2:
                        await self._fill()
                    piece = bytes(buf[eol + 2:eol + 2 + size])
                    del buf[:eol + 2 + size + 2]
                    if size == 0:
                        break  # (trailers are not used by these servers)
                    yield piece
            elif self._left >= 0:
                while self._left > 0:
                    if not buf:
                        await self._fill()
                    piece = bytes(buf[:self._left])
                    del buf[:len(piece)]
                    self._left -= len(piece)
                    yield piece
            else:
                while True:
                    if buf:
                        piece = bytes(buf)
                        buf.clear()
                        yield piece
                    try:
                        await self._fill()
                    except EOFError:
                        break
        except EOFError:
            self._reusable = False
            raise RemoteClosedError(
                "stream broken: peer closed connection without sending complete message body"
            ) from None
        self._ended = True

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self._pieces()])

    async def events(self) -> AsyncIterator[str]:
        pending = b""
        data: list[str] = []
        async for piece in self._pieces():
            pending += piece
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if not line:
                    if data:
                        yield "\n".join(data)
                        data = []
                elif line.startswith("data:"):
                    value = line[5:]
                    data.append(value[1:] if value.startswith(" ") else value)
                # comments (":…") and other fields (event, id, retry) are not used
        if data:
            yield "\n".join(data)

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
                    limit=_MAX_HEAD)
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
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    if len(buf) > _MAX_HEAD:
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
            raise RemoteClosedError(f"connection failed: {exc}") from None
        head = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        try:
            status = int(head[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            writer.transport.abort()
            raise RemoteClosedError(f"not an HTTP response: {head[0][:80]!r}") from None
        fields: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
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
                yield event.data
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"stream broken: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        await self._response.aclose()

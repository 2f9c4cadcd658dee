"""Streaming POST requests with server-sent events, for the LLM services.

:class:`SSEClient` is a small HTTP/1.1 client on asyncio streams: one kept-alive
connection per service (TLS for ``https``), chunked, sized or close-delimited bodies, and
an SSE parser (``data:`` lines joined per event, comments and other fields skipped). It
does a fraction of a general client's work per request and per chunk, which is most of
a conversation turn's framework time (``benchmarks/conversation.py`` measures both).
:class:`HttpxSSEClient` (:mod:`.sse_httpx`, imported here too) does the same through a
caller's ``httpx.AsyncClient`` (proxies, mock transports…) and ``httpx-sse``;
:func:`open_client` picks one. Both return an :class:`~.sse.SSEResponse`, and turn a
non-2xx answer into an error with :func:`~.sse.status_error`.

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
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConnectError, RemoteClosedError, ServiceTimeoutError, clip
from .http1 import MAX_HEAD, ChunkedDecoder, head_end, is_chunked, parse_head
from .openai_stream import SSEDecoder
from .sse import MAX_ERROR_BODY, SSEResponse, status_error
from .sse_httpx import HttpxSSEClient

__all__ = ["HttpxSSEClient", "SSEClient", "SSEResponse", "open_client", "status_error",
           "MAX_ERROR_BODY"]

_BAD_HEADER = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")


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

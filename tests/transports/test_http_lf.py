"""A request head with LF-only line endings is answered at once (issue 15, hole 8): it
is accepted, as RFC 9112 allows, instead of waiting for the head timeout."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from wavewire.transports.http import HTTPError, parse_request

from .conftest import HOST, running

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def _exchange(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(head)
        async with asyncio.timeout(10):  # the server's open_timeout is 60 s
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
async def test_healthz_with_either_line_ending_is_answered_at_once(eol):
    async with running(open_timeout=60.0) as server:
        head = eol.join([b"GET /healthz HTTP/1.1", b"Host: x", b"", b""])
        response = await _exchange(server.port, head)
        assert response.startswith(b"HTTP/1.1 200")


async def test_websocket_upgrade_with_lf_only_line_endings():
    key = base64.b64encode(os.urandom(16))
    async with running(open_timeout=60.0) as server:
        head = b"\n".join([
            b"GET /ws HTTP/1.1", b"Host: x", b"Upgrade: websocket", b"Connection: Upgrade",
            b"Sec-WebSocket-Key: " + key, b"Sec-WebSocket-Version: 13", b"", b""])
        response = await _exchange(server.port, head)
        assert response.startswith(b"HTTP/1.1 101")


async def test_a_bare_cr_inside_a_line_is_refused_at_once():
    async with running(open_timeout=60.0) as server:
        response = await _exchange(server.port, b"GET / HTTP/1.1\nHost: a\rb\n\n")
        assert response.startswith(b"HTTP/1.1 400")


def test_parse_request_reads_lf_and_crlf_alike():
    for eol in ("\n", "\r\n"):
        request = parse_request(eol.join(["GET /p?q=1 HTTP/1.1", "Host: h", "X-A: b"]).encode())
        assert request.path == "/p?q=1" and request.headers.get("x-a") == "b"
    with pytest.raises(HTTPError):
        parse_request(b"GET / HTTP/1.1\r\r\nHost: h")

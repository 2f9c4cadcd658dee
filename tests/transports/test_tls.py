"""wss:// and https:// on one port with an ``ssl`` context: echo over TLS, the health
endpoint over HTTPS, and a client that fails the TLS handshake leaves the server
serving."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from .conftest import HOST, pcm, recv_bytes, running


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", f"subjectAltName=IP:{HOST}",
         "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )
    return crt, key


def contexts(cert: tuple[Path, Path]) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    crt, key = cert
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(crt, key)
    client = ssl.create_default_context(cafile=str(crt))
    return server, client


async def test_echo_over_wss_and_health_over_https(cert: tuple[Path, Path]) -> None:
    server_ctx, client_ctx = contexts(cert)
    async with running(ssl=server_ctx) as server:
        audio = pcm(3200, seed=7)
        async with connect(f"wss://{HOST}:{server.port}/ws", ssl=client_ctx, proxy=None) as ws:
            for i in range(0, len(audio), 640):
                await ws.send(audio[i:i + 640])
            assert await recv_bytes(ws, len(audio)) == audio

        reader, writer = await asyncio.open_connection(HOST, server.port, ssl=client_ctx)
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        async with asyncio.timeout(5):
            answer = await reader.read()
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body)["ok"] is True


async def test_a_failed_tls_handshake_leaves_the_server_serving(
    cert: tuple[Path, Path],
) -> None:
    server_ctx, client_ctx = contexts(cert)
    async with running(ssl=server_ctx) as server:
        # Plain text on the TLS port, then a client that does not trust the certificate.
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        async with asyncio.timeout(5):
            await reader.read()  # the server drops it
        writer.close()
        with pytest.raises(ssl.SSLError):
            async with connect(f"wss://{HOST}:{server.port}/ws", proxy=None,
                               ssl=ssl.create_default_context()):
                pass
        assert not server.sessions
        async with connect(f"wss://{HOST}:{server.port}/ws", ssl=client_ctx, proxy=None) as ws:
            audio = pcm(320, seed=1)  # 20 ms
            await ws.send(audio)
            assert await recv_bytes(ws, len(audio)) == audio

"""Handshake auth (query, header, subprotocol), refusals without a session, origins, and
secrets that never show up in logs, reprs, metrics, session details or errors."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from wavewire.bots.echo import echo_bot
from wavewire.errors import AuthError
from wavewire.serializers.raw import RawSerializer
from wavewire.transports.auth import (
    AuthRequest,
    RedactingFilter,
    extract_token,
    redact_headers,
    redact_query,
    redact_text,
    token_auth,
)
from wavewire.transports.client import Backoff, WebSocketClient

from .conftest import echo_roundtrip, http_get, pcm, running, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

TOKEN = "s3cr3t-Tok3n-value-xyz"


async def _status(url: str, **kw) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, proxy=None, **kw):
            pass
    return info.value.response.status_code


@pytest.mark.parametrize(
    ("suffix", "kw"),
    [
        ("", {}),
        ("?token=wrong", {}),
        ("?token=", {}),
        ("", {"additional_headers": {"Authorization": "Bearer wrong"}}),
        ("", {"additional_headers": {"Authorization": f"Basic {TOKEN}"}}),
        ("", {"subprotocols": ["bearer.wrong"]}),
    ],
    ids=["missing", "wrong-query", "empty-query", "wrong-header", "not-bearer", "wrong-subproto"],
)
async def test_refused_with_401_and_no_session(suffix, kw):
    async with running(auth=token_auth(TOKEN)) as server:
        assert await _status(ws_url(server, "/ws" + suffix), **kw) == 401
        assert await _status(ws_url(server, "/pipecat" + suffix), **kw) == 401
        assert server.metrics.refusals == {"auth": 2}
        assert server.metrics.sessions_total == 0
        assert server.metrics.connections_total == 0


@pytest.mark.parametrize(
    ("suffix", "kw"),
    [
        (f"?token={TOKEN}", {}),
        ("", {"additional_headers": {"Authorization": f"Bearer {TOKEN}"}}),
        ("", {"subprotocols": ["wavewire", f"bearer.{TOKEN}"]}),
    ],
    ids=["query", "header", "subprotocol"],
)
async def test_accepted_with_the_token(suffix, kw):
    async with running(auth=token_auth(TOKEN)) as server:
        audio = pcm(640)
        assert await echo_roundtrip(ws_url(server, "/ws" + suffix), audio, **kw) == audio
        assert server.metrics.refusals == {}


async def test_subprotocol_echo_prefers_the_entry_that_is_not_the_token():
    async with running(auth=token_auth(TOKEN)) as server:
        url = ws_url(server)
        async with connect(url, proxy=None, subprotocols=["wavewire", f"bearer.{TOKEN}"]) as ws:
            assert ws.subprotocol == "wavewire"


async def test_http_endpoints_need_no_token():
    async with running(auth=token_auth(TOKEN)) as server:
        status, _, _ = await http_get(server, "/healthz")
        assert status == 200


async def test_async_hook_and_hook_that_raises():
    async def hook(req: AuthRequest) -> bool:
        await asyncio.sleep(0)
        return req.params.get("x") is None and req.query.get("let") == "me"

    def broken(req: AuthRequest) -> bool:
        raise RuntimeError("boom")

    async with running(auth=hook) as server:
        assert await echo_roundtrip(ws_url(server, "/ws?let=me"), pcm(320)) == pcm(320)
        assert await _status(ws_url(server, "/ws?let=no")) == 401
    async with running(auth=broken) as server:
        assert await _status(ws_url(server)) == 401


async def test_origin_allowlist():
    async with running(origins=["https://good.example", None]) as server:
        assert await echo_roundtrip(ws_url(server), pcm(320)) == pcm(320)  # no Origin
        audio = pcm(320)
        got = await echo_roundtrip(ws_url(server), audio, origin="https://good.example")
        assert got == audio
        assert await _status(ws_url(server), origin="https://evil.example") == 403
        assert server.metrics.sessions_total == 2


async def test_client_auth_error_is_not_retried():
    async with running(auth=token_auth(TOKEN)) as server:
        client = WebSocketClient(ws_url(server), RawSerializer,
                                 headers={"Authorization": "Bearer nope"},
                                 reconnect=Backoff(initial=0.01, max_attempts=5))
        with pytest.raises(AuthError) as info:
            await client.connect()
        assert client.stats.failed_attempts == 1
        assert "nope" not in str(info.value)
        await client.close()


def test_token_auth_and_extraction():
    check = token_auth(TOKEN, "other")
    req = AuthRequest("/ws", {}, {"token": TOKEN}, {}, ())
    assert check(req) is True
    assert check(AuthRequest("/ws", {}, {"token": "other"}, {}, ())) is True
    assert check(AuthRequest("/ws", {}, {}, {"Authorization": f"bearer {TOKEN}"}, ())) is True
    assert check(AuthRequest("/ws", {}, {}, {}, ("x", f"bearer.{TOKEN}"))) is True
    assert check(AuthRequest("/ws", {}, {"token": TOKEN[:-1]}, {}, ())) is False
    assert extract_token(AuthRequest("/", {}, {}, {}, ("bearer.",))) is None
    assert TOKEN not in repr(req) and TOKEN not in repr(check)
    with pytest.raises(ValueError):
        token_auth("")


def test_redaction_helpers():
    q = redact_query({"token": TOKEN, "api_key": TOKEN, "deepgram_key": TOKEN, "rate": "8000"})
    assert q == {"token": "***", "api_key": "***", "deepgram_key": "***", "rate": "8000"}
    h = redact_headers({"Authorization": f"Bearer {TOKEN}", "X-Api-Key": TOKEN,
                        "Sec-WebSocket-Protocol": f"wavewire, bearer.{TOKEN}", "Host": "h"})
    assert h == {"authorization": "***", "x-api-key": "***",
                 "sec-websocket-protocol": "wavewire, ***", "host": "h"}
    text = f"GET /ws?rate=1&token={TOKEN}&key={TOKEN} HTTP/1.1\nAuthorization: Bearer {TOKEN}"
    out = redact_text(text)
    assert TOKEN not in out and "rate=1" in out


def test_redacting_filter_on_records():
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "< GET %s HTTP/1.1",
                               (f"/ws?token={TOKEN}",), None)
    assert RedactingFilter().filter(record)
    assert TOKEN not in record.getMessage()


async def test_secrets_never_reach_logs_metrics_details_or_reprs(caplog):
    from loguru import logger as loguru_logger

    seen: list[str] = []
    sink = loguru_logger.add(lambda m: seen.append(str(m)), level="TRACE")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("wavewire.websockets").setLevel(logging.DEBUG)
    logging.getLogger("wavewire.websockets.client").setLevel(logging.DEBUG)
    details: list[str] = []

    def bot(info):
        details.append(repr(info))
        details.append(str(dict(info.query)) + str(dict(info.headers)))
        return echo_bot(info)

    try:
        async with running(bot, auth=token_auth(TOKEN)) as server:
            sessions: list[str] = []
            server.add_event_handler("on_client_connected",
                                     lambda s, session, info: sessions.append(
                                         repr(session) + repr(info) + str(info.headers)))
            for suffix, kw in [
                (f"?token={TOKEN}&api_key={TOKEN}", {}),
                ("", {"additional_headers": {"Authorization": f"Bearer {TOKEN}"}}),
                ("", {"subprotocols": [f"bearer.{TOKEN}"]}),
            ]:
                await echo_roundtrip(ws_url(server, "/ws" + suffix), pcm(320), **kw)
            await _status(ws_url(server, f"/ws?token={TOKEN}x"))
            client = WebSocketClient(ws_url(server, f"/ws?token={TOKEN}x"), RawSerializer,
                                     reconnect=None)
            with pytest.raises(AuthError) as err:
                await client.connect()
            await client.close()
            _, _, metrics = await http_get(server, "/metrics")
            _, _, health = await http_get(server, "/healthz")
            blobs = [metrics.decode(), health.decode(), repr(server), repr(client),
                     str(err.value), *details, *sessions]
    finally:
        loguru_logger.remove(sink)
        logging.getLogger("wavewire.websockets").setLevel(logging.NOTSET)
    # the test's own plain websockets clients log under "websockets.client": not ours
    blobs += seen + [r.getMessage() for r in caplog.records if r.name != "websockets.client"]
    assert len(details) == 6 and len(sessions) == 3
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("wavewire")]
    assert any("GET" in m for m in ours)  # debug logging was on, server and client side
    leaks = [b for b in blobs if TOKEN in b]
    assert not leaks, leaks

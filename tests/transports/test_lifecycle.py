"""Server lifecycle: drain on shutdown, idle and absolute timeouts, events, the HTTP side
(/healthz, /metrics, the static page)."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import http_get, pcm, recv_bytes, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def test_drain_ends_sessions_with_1001_and_stops_listening():
    async with running(drain_timeout=5.0) as server:
        socks = [await connect(ws_url(server), proxy=None) for _ in range(3)]
        for ws in socks:
            await ws.send(pcm(320))
            await recv_bytes(ws, 640)
        port = server.port
        await server.drain()
        for ws in socks:
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
            assert ws.close_code == 1001
        assert not server.sessions
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)


async def test_drain_deadline_cancels_sessions_that_do_not_end():
    from wavewire.frames import EndFrame
    from wavewire.processors.base import FrameProcessor

    class Stuck(FrameProcessor):
        async def process_frame(self, frame, direction):
            if isinstance(frame, EndFrame):
                await asyncio.sleep(3600)  # never lets the EndFrame through
            await self.push(frame, direction)

    async with running(lambda info: [Stuck()], drain_timeout=0.05) as server:
        ws = await connect(ws_url(server), proxy=None)
        await wait_for(lambda: len(server.sessions) == 1)
        await server.drain()
        assert not server.sessions
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await ws.recv()


async def test_healthz_reports_sessions_and_draining():
    import json

    async with running() as server:
        ws = await connect(ws_url(server), proxy=None)
        await wait_for(lambda: len(server.sessions) == 1)
        status, hdrs, body = await http_get(server, "/healthz")
        assert status == 200 and hdrs["content-type"] == "application/json"
        assert json.loads(body) == {"ok": True, "sessions": 1, "draining": False}
        await ws.close()


async def test_metrics_exposition_format():
    async with running() as server:
        async with connect(ws_url(server), proxy=None) as ws:
            await ws.send(pcm(320))
            await recv_bytes(ws, 640)
            status, hdrs, body = await http_get(server, "/metrics")
        assert status == 200
        assert hdrs["content-type"].startswith("text/plain; version=0.0.4")
        text = body.decode()
        for line in text.splitlines():
            assert line.startswith("# HELP ") or line.startswith("# TYPE ") or " " in line
        values = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines() if not line.startswith("#")
        }
        assert values["wavewire_sessions_active"] == 1
        assert values["wavewire_messages_in_total"] == 1
        assert values["wavewire_messages_out_total"] >= 1
        assert values['wavewire_session_setup_seconds_bucket{le="+Inf"}'] == 1
        assert values["wavewire_session_setup_seconds_count"] == 1


async def test_static_page_types_and_404(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>w</title>")
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path / "style.css").write_text("body{}")
    (tmp_path / ".secret").write_text("no")
    async with running(web_dir=tmp_path) as server:
        status, hdrs, body = await http_get(server, "/")
        assert status == 200 and hdrs["content-type"] == "text/html; charset=utf-8"
        assert body.startswith(b"<!doctype html>")
        status, hdrs, _ = await http_get(server, "/app.js")
        assert status == 200 and hdrs["content-type"] == "text/javascript; charset=utf-8"
        status, hdrs, _ = await http_get(server, "/style.css")
        assert hdrs["content-type"] == "text/css; charset=utf-8"
        for bad in ("/.secret", "/../etc/passwd", "/%2e%2e/x", "/missing.js"):
            status, _, _ = await http_get(server, bad)
            assert status == 404, bad


async def test_empty_web_dir_gives_404_at_root(tmp_path):
    async with running(web_dir=tmp_path) as server:
        status, _, _ = await http_get(server, "/")
        assert status == 404


async def test_idle_timeout_fires_event_and_cancels():
    async with running(idle_timeout=0.05) as server:
        fired: list[str] = []
        server.add_event_handler("on_session_timeout", lambda s, sess, kind: fired.append(kind))
        ws = await connect(ws_url(server), proxy=None)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                await ws.recv()
        assert fired == ["idle"]
        assert server.metrics.timeouts == {"idle": 1}


async def test_session_timeout_ends_gracefully():
    async with running(session_timeout=0.05) as server:
        fired: list[str] = []
        server.add_event_handler("on_session_timeout", lambda s, sess, kind: fired.append(kind))
        ws = await connect(ws_url(server), proxy=None)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10):
                while True:
                    await ws.send(pcm(320))
                    await ws.recv()
        assert fired == ["max_duration"]
        assert ws.close_code == 1000


async def test_events_in_order():
    async with running() as server:
        events: list[str] = []
        server.add_event_handler("on_client_connected",
                                 lambda s, session, info: events.append("connected:" + info.route))
        server.add_event_handler("on_client_disconnected",
                                 lambda s, session, info: events.append("disconnected"))
        async with connect(ws_url(server), proxy=None) as ws:
            await ws.send(pcm(320))
            await recv_bytes(ws, 640)
        await wait_for(lambda: len(events) == 2)
        assert events == ["connected:/ws", "disconnected"]


async def test_websocket_ready_event():
    from wavewire.bots.echo import echo_bot
    from wavewire.transports.server import WebSocketServer

    server = WebSocketServer(echo_bot, port=0)
    ready: list[int] = []
    server.add_event_handler("on_websocket_ready", lambda s: ready.append(s.port))
    async with server:
        assert ready == [server.port] and server.port != 0

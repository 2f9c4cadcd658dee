"""``WebSocketService`` through a tiny service (``Shout``) in a real session against a
loopback peer: round trip with epochs and TTFB, interruption (provider told, held buffer
cleared, stale replies dropped), auth refusal (one error, no retry, the session goes on),
a dropped socket that loses no message, keep-alive on the session clock, AI Gateway
routing, a clean end that leaves no task."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from wavewire.errors import AuthError, ProtocolError, RemoteClosedError
from wavewire.frames import (
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    MetricsFrame,
    TextFrame,
    TranscriptionFrame,
    TTSStoppedFrame,
)
from wavewire.pipelines.task import PipelineTask
from wavewire.processors.base import DOWNSTREAM, FrameDirection
from wavewire.serializers.base import FrameSerializer
from wavewire.services.base import WebSocketService
from wavewire.services.gateway import AIGateway
from wavewire.testing import FakeClock, start_task
from wavewire.transports.backoff import Backoff

from .._ws_peer import Peer, peer, wait_for

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

KEY = "shout_key_0123456789"
FAST = Backoff(initial=0.01, max=0.05, jitter=0.0, max_attempts=20)


class ShoutSerializer(FrameSerializer):
    protocol = "shout"

    def open(self):
        return ['{"type": "hello"}']

    def encode(self, frame: Frame):
        if isinstance(frame, TextFrame):
            return [json.dumps({"type": "text", "text": frame.text})]
        if isinstance(frame, InterruptionFrame):
            return ['{"type": "clear"}']
        return []

    def decode(self, message):
        data = json.loads(message)
        if data.get("type") == "reply":
            return [TextFrame(data["text"])]
        if data.get("type") == "error":
            return [ErrorFrame(data["message"])]
        if data.get("type") == "stopped":
            return [TTSStoppedFrame()]
        raise ProtocolError(f"shout: unknown message {data.get('type')!r}")

    def close(self):
        return ['{"type": "close"}']


class Shout(WebSocketService):
    """Sends text, gets it back shouted (by the peer)."""

    api_key_env = "SHOUT_API_KEY"
    base_url_env = "SHOUT_BASE_URL"
    default_base_url = "wss://shout.invalid"
    keepalive_interval = 5.0

    def websocket_url(self) -> str:
        if self.gateway is not None:
            return self.gateway.provider_url("shout", "/ws", websocket=True)
        return f"{self.base_url}/ws"

    def make_serializer(self) -> FrameSerializer:
        return ShoutSerializer()

    def websocket_headers(self) -> dict[str, str]:
        headers = super().websocket_headers()
        if self.api_key is not None:
            headers["Authorization"] = f"Token {self.api_key.reveal()}"
        return headers

    def keepalive_messages(self):
        return ['{"type": "KeepAlive"}']

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, TextFrame) and direction is DOWNSTREAM:
            self.start_ttfb_metrics()
            await self.send_frame(frame)
            return
        await super().process_frame(frame, direction)

    async def on_service_frames(self, frames: list[Frame]) -> None:
        await self.stop_ttfb_metrics()
        await super().on_service_frames(frames)


async def shout_back(ws: Any, message: Any) -> None:
    data = json.loads(message)
    if data["type"] == "text":
        await ws.send(json.dumps({"type": "reply", "text": data["text"].upper()}))
    elif data["type"] == "close":
        await ws.close(1000)


class Session:
    """A running session of one service, with what came out of it."""

    def __init__(self, service: WebSocketService, clock: FakeClock | None = None) -> None:
        self.service = service
        self.task = PipelineTask([service], clock=clock)
        self.down: list[Frame] = []
        self.up: list[Frame] = []
        self.task.set_taps(down=self.down.append, up=self.up.append)
        self.runner: asyncio.Task | None = None

    async def __aenter__(self) -> Session:
        self.runner = await start_task(self.task)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        if not self.task.has_finished():
            await self.task.stop_when_done("test over")
        await asyncio.wait_for(self.runner, 20)
        assert not self.task.tasks

    def texts(self) -> list[str]:
        return [f.text for f in self.down if type(f) is TextFrame]

    async def send(self, frame: Frame) -> None:
        await self.task.queue_frame(frame)


def shout(p: Peer, **kw: Any) -> Shout:
    kw.setdefault("reconnect", FAST)
    return Shout(api_key=KEY, base_url=f"http://127.0.0.1:{p.port}", gateway=False, **kw)


async def test_round_trip_metrics_and_a_clean_end():
    async with peer(shout_back) as p:
        service = shout(p)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await s.send(TextFrame("hi"))
            await wait_for(lambda: s.texts() == ["HI"])
            await s.task.stop_when_done("done")
            await asyncio.wait_for(s.runner, 20)
        assert p.requests[0].headers["Authorization"] == f"Token {KEY}"
        assert p.requests[0].path == "/ws"  # the http:// base became ws://
        assert p.received == ['{"type": "hello"}', '{"type": "text", "text": "hi"}',
                              '{"type": "close"}']
        (reply,) = [f for f in s.down if type(f) is TextFrame]
        assert reply.epoch == 0
        metrics = [d for f in s.down if isinstance(f, MetricsFrame) for d in f.data]
        assert [(d.name, d.processor) for d in metrics] == [("ttfb", service.name)]
        assert isinstance(s.down[-1], EndFrame)
        assert service.client is not None and service.client.closed and not p.live


async def test_interruption_tells_the_provider_and_drops_stale_replies():
    async with peer() as p:  # the peer answers only when the test says
        service = shout(p)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await s.send(TextFrame("old"))
            await wait_for(lambda: len(p.received) == 2)
            await s.task.interrupt()
            await wait_for(lambda: p.received[-1] == '{"type": "clear"}')
            await p.live[0].send('{"type": "reply", "text": "OLD"}')  # late, stale
            await p.live[0].send('{"type": "stopped"}')  # control: passes, old epoch
            await wait_for(lambda: any(isinstance(f, TTSStoppedFrame) for f in s.down))
            assert s.task.stats.dropped.get(f"{service.name}:stale") == 1
            assert next(f for f in s.down if isinstance(f, TTSStoppedFrame)).epoch == 0
            await s.send(TextFrame("new"))
            await wait_for(lambda: len(p.received) == 4)
            await p.live[0].send('{"type": "reply", "text": "NEW"}')
            await wait_for(lambda: s.texts() == ["NEW"])
            assert next(f for f in s.down if type(f) is TextFrame).epoch == 1


async def test_interruption_while_reconnecting_clears_held_messages():
    clock = FakeClock()
    async with peer() as p:
        p.refuse(503)
        service = shout(p, reconnect=Backoff(initial=1.0, jitter=0.0))
        async with Session(service, clock) as s:
            await wait_for(lambda: clock.pending >= 1 and len(p.requests) == 1)
            await s.send(TextFrame("x"))
            await s.send(TextFrame("y"))
            assert service.client is not None and service.client.held == 2
            await s.task.interrupt()
            assert s.task.stats.dropped[f"{service.name}:interrupted"] == 2
            await clock.advance(1.0)
            assert await service.wait_connected(10)
            await wait_for(lambda: len(p.received) == 2)
            assert p.received == ['{"type": "hello"}', '{"type": "clear"}']
            assert service.client.stats.cleared == 2


async def test_auth_refusal_is_one_error_no_retry_and_the_session_goes_on():
    async with peer() as p:
        p.refuse(401, times=10)
        service = shout(p)
        async with Session(service) as s:
            await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
            (err,) = [f for f in s.up if isinstance(f, ErrorFrame)]
            assert not err.fatal and isinstance(err.exception, AuthError)
            assert "credentials refused" in err.error and KEY not in err.error
            await s.send(TextFrame("lost"))
            await s.send(TranscriptionFrame("passes", "user", "t"))
            await wait_for(lambda: any(isinstance(f, TranscriptionFrame) for f in s.down))
            assert s.task.stats.dropped[f"{service.name}:not-connected"] == 1
            assert s.task.has_finished() is False
        assert len(p.requests) == 1 and isinstance(service.failed, AuthError)


async def test_a_dropped_socket_loses_no_message_and_reopens():
    async with peer(shout_back) as p:
        service = shout(p)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            for word in ("one", "two"):
                await s.send(TextFrame(word))
            await wait_for(lambda: s.texts() == ["ONE", "TWO"])
            await p.drop()
            await wait_for(lambda: service.client is not None and not service.client.connected)
            for word in ("three", "four"):  # held while the provider is away
                await s.send(TextFrame(word))
            await wait_for(lambda: s.texts() == ["ONE", "TWO", "THREE", "FOUR"])
            assert p.connections[1][:3] == ['{"type": "hello"}',
                                            '{"type": "text", "text": "three"}',
                                            '{"type": "text", "text": "four"}']
            assert service.client.stats.connects == 2
            assert not s.task.stats.dropped


async def test_keepalive_on_the_session_clock_and_ttfb_in_its_time():
    clock = FakeClock()
    async with peer() as p:
        service = shout(p)
        async with Session(service, clock) as s:
            assert await service.wait_connected(10)
            await clock.advance(5.1)
            await wait_for(lambda: len(p.received) == 2)
            assert p.received[-1] == '{"type": "KeepAlive"}'
            await s.send(TextFrame("t"))
            await wait_for(lambda: len(p.received) == 3)
            await clock.advance(0.25)
            await p.live[0].send('{"type": "reply", "text": "T"}')
            await wait_for(lambda: any(isinstance(f, MetricsFrame) for f in s.down))
            (metric,) = [d for f in s.down if isinstance(f, MetricsFrame) for d in f.data]
            assert metric.name == "ttfb" and metric.value == pytest.approx(0.25)


async def test_provider_errors_and_bad_messages_go_upstream_not_fatal():
    async with peer() as p:
        service = shout(p)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await p.live[0].send('{"type": "error", "message": "quota"}')
            await p.live[0].send('{"type": "nonsense"}')
            await wait_for(lambda: len([f for f in s.up if isinstance(f, ErrorFrame)]) == 2)
            provider, bad = [f for f in s.up if isinstance(f, ErrorFrame)]
            assert provider.error == "quota" and provider.processor == service.name
            assert "bad message" in bad.error and not bad.fatal
            assert service.client is not None and service.client.connected


async def test_through_an_ai_gateway_with_key_and_url_from_the_environment(monkeypatch):
    async with peer(shout_back) as p:
        monkeypatch.setenv("SHOUT_API_KEY", KEY)
        monkeypatch.setenv("CF_AIG_GATEWAY_URL", f"http://127.0.0.1:{p.port}/v1/acc/gw")
        monkeypatch.setenv("CF_AIG_TOKEN", "cfut_gateway_token")
        service = Shout(reconnect=FAST)
        assert isinstance(service.gateway, AIGateway)
        async with Session(service) as s:
            await s.send(TextFrame("via"))
            await wait_for(lambda: s.texts() == ["VIA"])
        request = p.requests[0]
        assert request.path == "/v1/acc/gw/shout/ws"
        assert request.headers["cf-aig-authorization"] == "Bearer cfut_gateway_token"
        assert request.headers["Authorization"] == f"Token {KEY}"
        assert "cfut_gateway_token" not in repr(service.gateway)


def test_a_subclass_must_say_where_and_how():
    class Bare(WebSocketService):
        pass

    bare = Bare(gateway=False)
    with pytest.raises(NotImplementedError):
        bare.websocket_url()
    with pytest.raises(NotImplementedError):
        bare.make_serializer()
    assert Shout(gateway=False).base_url == "wss://shout.invalid"


@pytest.mark.parametrize("reconnects", [False, True])
async def test_a_provider_that_closes_normally_mid_session(reconnects):
    async with peer() as p:
        service = shout(p)
        service.reconnect_on_normal_close = reconnects
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await p.close_all(1000, "idle")
            if reconnects:
                await wait_for(lambda: len(p.requests) == 2 and service.client.connected)
                assert not any(isinstance(f, ErrorFrame) for f in s.up)
            else:
                await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
                (err,) = [f for f in s.up if isinstance(f, ErrorFrame)]
                assert isinstance(err.exception, RemoteClosedError) and not err.fatal
                assert "idle" in err.error
                await s.send(TextFrame("after"))
                assert s.task.stats.dropped[f"{service.name}:not-connected"] == 1


async def test_cancel_closes_at_once_and_processing_metrics_use_the_session_clock():
    clock = FakeClock()
    async with peer() as p:
        service = shout(p)
        async with Session(service, clock) as s:
            assert await service.wait_connected(10)
            service.start_processing_metrics()
            await clock.advance(0.5)
            assert await service.stop_processing_metrics() == pytest.approx(0.5)
            assert await service.stop_processing_metrics() is None  # not timing any more
            (metric,) = [d for f in s.down if isinstance(f, MetricsFrame) for d in f.data]
            assert (metric.name, metric.value) == ("processing", pytest.approx(0.5))
            await s.task.cancel("test")
            assert s.task.has_finished() and not s.task.tasks
            assert service.client is not None and service.client.closed
            await wait_for(lambda: not p.live)
        assert '{"type": "close"}' in p.received  # the serializer's close() went out


async def test_ending_while_still_connecting_counts_what_never_went_out():
    clock = FakeClock()
    async with peer() as p:
        p.refuse(503)
        service = shout(p, reconnect=Backoff(initial=30.0, jitter=0.0))
        async with Session(service, clock) as s:
            await wait_for(lambda: clock.pending >= 1 and len(p.requests) == 1)
            await s.send(TextFrame("unsent"))
            await s.task.stop_when_done("bye")
            await asyncio.wait_for(s.runner, 20)
            assert s.task.stats.dropped[f"{service.name}:closed"] == 1
        assert len(p.requests) == 1 and not p.received

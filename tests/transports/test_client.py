"""``WebSocketClient``: backoff, reconnect after a server restart with ``open()`` sent
again, the disconnected-send policy; ``ClientSession`` running a bot as a client."""

from __future__ import annotations

import asyncio

import pytest

from wavewire.errors import ConnectError
from wavewire.frames import InputTransportMessageFrame
from wavewire.processors.base import FrameProcessor
from wavewire.serializers.raw import RawSerializer
from wavewire.transports.client import Backoff, WebSocketClient
from wavewire.transports.client_session import ClientSession
from wavewire.transports.endpoints import raw_serializer
from wavewire.transports.routes import Route
from wavewire.transports.server import WebSocketServer

from .conftest import pcm, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


class Hello(RawSerializer):
    """Raw PCM whose ``open()`` says hello (as VideoSDK/Cartesia serializers do)."""

    def open(self):
        return ['{"hello": 1}']


class Recorder(FrameProcessor):
    """Remembers the transport messages of its session (in a shared list)."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen

    async def process_frame(self, frame, direction):
        if isinstance(frame, InputTransportMessageFrame):
            self.seen.append(frame.message)
        await self.push(frame, direction)


def test_backoff_delays():
    b = Backoff(initial=1.0, max=5.0, factor=2.0, jitter=0.5, max_attempts=3)
    assert [b.delay(n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
    assert b.delay(1, rand=lambda: 0.0) == 0.5 and b.delay(1, rand=lambda: 1.0) == 1.5
    with pytest.raises(ValueError):
        Backoff(factor=0.5)
    with pytest.raises(ValueError):
        Backoff(max_attempts=0)


async def test_gives_up_after_max_attempts():
    events: list[tuple] = []
    client = WebSocketClient("ws://127.0.0.1:9/ws", RawSerializer,
                             reconnect=Backoff(initial=0.001, max_attempts=3))
    client.add_event_handler("on_reconnecting", lambda c, n, d: events.append((n, d)))
    with pytest.raises(ConnectError):
        await client.connect()
    assert [n for n, _ in events] == [1, 2, 3]
    assert client.stats.failed_attempts == 4 and client.closed
    await client.close()


async def test_reconnects_after_server_restart_and_resends_open():
    seen: list = []
    routes = [Route("/ws", lambda info: Hello(), name="hello")]

    def bot(info):
        from wavewire.bots.echo import EchoProcessor

        return [Recorder(seen), EchoProcessor()]

    server = WebSocketServer(bot, port=0, routes=routes)
    await server.start()
    port = server.port
    received: list[bytes] = []

    async def on_message(message):
        if isinstance(message, bytes):  # the server's own open() hello is text
            received.append(message)

    events: list[str] = []
    client = WebSocketClient(f"ws://127.0.0.1:{port}/ws", Hello,
                             reconnect=Backoff(initial=0.01, max=0.05, max_attempts=None))
    client.add_event_handler("on_connected", lambda c: events.append("connected"))
    client.add_event_handler("on_disconnected", lambda c, code, r: events.append(f"down:{code}"))
    client.add_event_handler("on_reconnecting", lambda c, n, d: events.append("retry"))
    try:
        await client.connect(on_message)
        await client.send(pcm(320, 1))
        await wait_for(lambda: sum(map(len, received)) >= 640)
        await wait_for(lambda: seen == [{"hello": 1}])
        await server.drain()  # sessions end with 1001: the client comes back
        await wait_for(lambda: "down:1001" in events)
        await client.send(pcm(320, 2))  # while the server is away: buffered
        server = WebSocketServer(bot, port=port, routes=routes)
        await server.start()
        await wait_for(lambda: client.connected)
        await wait_for(lambda: seen == [{"hello": 1}, {"hello": 1}])  # open() again
        await wait_for(lambda: sum(map(len, received)) >= 1280)
        assert b"".join(received) == pcm(320, 1) + pcm(320, 2)
        assert client.stats.connects == 2 and client.stats.buffered == 1
        assert events[0] == "connected" and events.count("connected") == 2
    finally:
        await client.close()
        await server.close()


async def test_normal_close_ends_the_client_and_send_after_close_is_dropped():
    async with running() as server:
        client = WebSocketClient(ws_url(server), RawSerializer,
                                 reconnect=Backoff(initial=0.01))
        await client.connect()
        await wait_for(lambda: len(server.sessions) == 1)
        await server.sessions[0].task.stop_when_done("bye")  # server ends: close 1000
        assert await client.wait_closed(10)
        assert client.close_code == 1000 and client.stats.connects == 1
        await client.send(b"\x00\x00")
        assert client.stats.dropped == 1
        await client.close()


async def test_buffer_policy_drop_oldest():
    client = WebSocketClient("ws://127.0.0.1:9/ws", RawSerializer, buffer_size=2)
    for i in range(5):
        await client.send(bytes([i, 0]))
    assert list(client._held) == [bytes([3, 0]), bytes([4, 0])]
    assert client.stats.dropped == 3 and client.stats.buffered == 5
    await client.close()
    assert client.stats.dropped == 5  # closing discards what was still held


async def test_client_session_runs_a_bot_against_the_server():
    """``wavewire connect`` in-process: an echo bot as client of an echo server; the
    server's first 640 bytes bounce between them, so both count messages both ways."""
    from wavewire.bots.echo import echo_bot

    async with running() as server:
        client = WebSocketClient(ws_url(server), RawSerializer, reconnect=None)
        session = ClientSession(client, echo_bot(None))
        runner = asyncio.ensure_future(session.run())
        await wait_for(lambda: len(server.sessions) == 1)
        # kick it off: the server's output edge sends audio to the client bot, which
        # echoes it back, and so on
        (srv,) = server.sessions
        from wavewire.frames import OutputAudioFrame

        await srv.task.queue_frame(OutputAudioFrame(pcm(320), 16000, 1))
        await wait_for(lambda: session.input_edge.stats.messages_in >= 3)
        assert srv.input_edge.stats.messages_in >= 2
        await srv.task.stop_when_done("done")
        async with asyncio.timeout(20):
            await runner
        assert client.closed


async def test_client_session_raises_when_it_cannot_connect():
    from wavewire.bots.echo import echo_bot

    client = WebSocketClient("ws://127.0.0.1:9/ws", RawSerializer, reconnect=None)
    session = ClientSession(client, echo_bot(None))
    with pytest.raises(ConnectError):
        await session.run()
    assert session.task.has_finished()


def test_raw_route_factory_for_clients():
    # The /ws route's factory needs no server: it reads the format from the query.
    from wavewire.frames import InputAudioFrame, OutputAudioFrame
    from wavewire.transports.routes import ConnectionInfo

    def info(query: dict[str, str]) -> ConnectionInfo:
        return ConnectionInfo(route="/ws", role="both", path="/ws", params={}, query=query,
                              headers={})

    default = raw_serializer(info({}))
    assert (default.wire.sample_rate, default.wire.num_channels) == (16000, 1)
    stereo = raw_serializer(info({"sample_rate": "48000", "channels": "2"}))
    assert (stereo.wire.sample_rate, stereo.wire.num_channels) == (48000, 2)
    assert stereo.decode(b"\x01\x00\x02\x00") == [InputAudioFrame(b"\x01\x00\x02\x00", 48000, 2)]
    assert stereo.encode(OutputAudioFrame(b"\x05\x00\x06\x00", 48000, 2)) == [b"\x05\x00\x06\x00"]
    for bad in ({"sample_rate": "12345"}, {"channels": "3"}, {"sample_rate": "x"}):
        with pytest.raises(ValueError):
            raw_serializer(info(bad))

"""``WebSocketClient`` as services use it: the error taxonomy where it happens (429 with
``Retry-After``, auth, refused, timeout, remote close, protocol), backoff and keep-alives
on a ``FakeClock``, tasks owned by the caller's group, ``clear()``, decoding into frames,
draining on close."""

from __future__ import annotations

import asyncio
import json

import pytest

from wavewire.errors import (
    AuthError,
    ConnectError,
    MessageTooLargeError,
    ProtocolError,
    RateLimitError,
    RemoteClosedError,
    ServiceTimeoutError,
)
from wavewire.frames import Frame, TextFrame
from wavewire.pipelines.taskgroup import TaskGroup
from wavewire.serializers.base import FrameSerializer
from wavewire.testing import FakeClock
from wavewire.transports.backoff import close_error, parse_retry_after
from wavewire.transports.client import Backoff, WebSocketClient

from .._ws_peer import peer, wait_for

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

NO_JITTER = Backoff(initial=1.0, max=8.0, factor=2.0, jitter=0.0, max_attempts=5)


class Json(FrameSerializer):
    """``{"text": …}`` both ways; ``{"fatal": …}`` is a fatal protocol error."""

    protocol = "json-test"

    def open(self):
        return ['{"hello": 1}']

    def close(self):
        return ['{"bye": 1}']

    def encode(self, frame: Frame):
        return [json.dumps({"text": frame.text})] if isinstance(frame, TextFrame) else []

    def decode(self, message):
        try:
            data = json.loads(message)
        except ValueError:
            raise ProtocolError("json-test: not JSON") from None
        if "fatal" in data:
            raise ProtocolError("json-test: told to fail", close_code=1008, fatal=True)
        if "boom" in data:
            raise KeyError("a serializer bug")
        return [TextFrame(data["text"])] if "text" in data else []


# -- the policy, as pure functions ---------------------------------------------------------


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("999999") == 3600.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_honours_retry_after():
    limited = RateLimitError("x", status=429, retry_after=30.0)
    assert NO_JITTER.delay_after(1, limited) == 30.0
    assert NO_JITTER.delay_after(1, ConnectError("x")) == 1.0
    assert NO_JITTER.delay_after(5, RateLimitError("x", retry_after=None)) == 8.0


def test_close_codes_map_to_typed_errors():
    assert close_error("u", 1000, "") is None
    dropped = close_error("u", 1006, "")
    assert isinstance(dropped, RemoteClosedError) and dropped.retryable
    policy = close_error("u", 4001, "bad key")
    assert isinstance(policy, RemoteClosedError) and not policy.retryable
    assert policy.close_code == 4001 and policy.reason == "bad key"
    assert isinstance(close_error("u", 1011, "keepalive ping timeout", sent_by_us=True),
                      ServiceTimeoutError)
    ours = close_error("u", 1002, "bad frame", sent_by_us=True)
    assert isinstance(ours, ProtocolError) and ours.fatal and ours.close_code == 1002
    big = close_error("u", 1009, "too big", sent_by_us=True)
    assert isinstance(big, MessageTooLargeError) and big.fatal


# -- handshakes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [(401, AuthError, 1), (403, AuthError, 1), (404, ConnectError, 1)],
)
async def test_refusals_that_are_never_retried(status, error, attempts):
    async with peer() as p:
        p.refuse(status, times=5)
        client = WebSocketClient(p.url, Json, reconnect=Backoff(initial=0.001))
        with pytest.raises(error) as info:
            await client.connect()
        assert type(info.value) is error and info.value.status == status
        assert client.stats.failed_attempts == attempts == len(p.requests)
        assert client.closed
        await client.close()


async def test_429_waits_retry_after_on_the_clock_then_connects():
    clock = FakeClock()
    delays: list[float] = []
    async with peer() as p:
        p.refuse(429, Retry_After="7")
        client = WebSocketClient(p.url, Json, reconnect=NO_JITTER, clock=clock)
        client.add_event_handler("on_reconnecting", lambda c, n, d: delays.append(d))
        connecting = asyncio.ensure_future(client.connect())
        await wait_for(lambda: delays)
        assert delays == [7.0]  # Retry-After, not the 1 s of the first backoff step
        await clock.advance(6.9)
        assert len(p.requests) == 1 and not client.connected
        await clock.advance(0.2)
        await asyncio.wait_for(connecting, 10)
        assert client.connected and len(p.requests) == 2
        await wait_for(lambda: p.received == ['{"hello": 1}'])
        await client.close()


async def test_429_without_reconnect_raises_rate_limit_with_retry_after():
    async with peer() as p:
        p.refuse(429, Retry_After="12")
        client = WebSocketClient(p.url, Json, reconnect=None)
        with pytest.raises(RateLimitError) as info:
            await client.connect()
        assert info.value.retry_after == 12.0 and info.value.retryable
        await client.close()


async def test_5xx_is_retried_and_giving_up_says_so():
    clock = FakeClock()
    async with peer() as p:
        p.refuse(503, times=10)
        client = WebSocketClient(p.url, Json, clock=clock,
                                 reconnect=Backoff(initial=1.0, jitter=0.0, max_attempts=2))
        connecting = asyncio.ensure_future(client.connect())
        for expected in (2, 3):
            await wait_for(lambda: clock.pending == 1)  # waiting on the clock, not on asyncio
            await clock.advance(10)
            await wait_for(lambda n=expected: len(p.requests) == n)
        with pytest.raises(ConnectError, match="gave up after 2 attempts"):
            await asyncio.wait_for(connecting, 10)
        await client.close()


async def test_a_silent_server_is_a_service_timeout():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # takes the request, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = WebSocketClient(f"ws://127.0.0.1:{port}/", Json, reconnect=None,
                                 open_timeout=0.2)
        with pytest.raises(ServiceTimeoutError):
            await client.connect()
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_close_during_backoff_ends_the_wait_at_once():
    clock = FakeClock()
    client = WebSocketClient("ws://127.0.0.1:9/ws", Json, clock=clock,
                             reconnect=Backoff(initial=60.0, max_attempts=None))
    connecting = asyncio.ensure_future(client.connect())
    await wait_for(lambda: clock.pending == 1)
    await client.close()
    with pytest.raises(ConnectError):
        await asyncio.wait_for(connecting, 5)  # no clock advance was needed
    assert client.stats.failed_attempts == 1


# -- while connected ---------------------------------------------------------------------------


async def test_reader_belongs_to_the_owner_group_and_close_leaves_nothing():
    group = TaskGroup("session")
    async with peer() as p:
        client = WebSocketClient(p.url, Json, owner=group)
        await client.connect()
        names = [t.get_name() for t in group.tasks]
        assert len(names) == 1 and names[0].endswith(":reader")
        await client.close()
        assert not group.tasks and client.closed
    assert await group.close(1.0) == 0


async def test_decoding_counts_and_reports_bad_messages_and_fatal_ones_end_it():
    async def reply(ws, message):
        if message == "go":
            for out in ('{"text": "a"}', "not json", '{"boom": 1}', '{"text": "b"}',
                        '{"fatal": 1}', '{"text": "never"}'):
                await ws.send(out)

    frames: list[str] = []
    bad: list[ProtocolError] = []
    failed: list[Exception] = []
    async with peer(reply) as p:
        client = WebSocketClient(p.url, Json, reconnect=Backoff(initial=0.001))
        client.add_event_handler("on_decode_error", lambda c, e: bad.append(e))
        client.add_event_handler("on_failed", lambda c, e: failed.append(e))

        async def on_frames(got):
            frames.extend(f.text for f in got)

        await client.connect(on_frames=on_frames)
        await client.send("go")
        assert await client.wait_closed(10)
        assert frames == ["a", "b"]
        assert client.stats.decode_errors == 3 and len(bad) == 2
        assert "KeyError" in str(bad[1])  # a serializer bug is reported, not raised
        assert isinstance(client.error, ProtocolError) and client.close_code == 1008
        assert failed == [client.error]
        assert client.stats.connects == 1  # a fatal protocol error is not retried
        await client.close()


async def test_remote_close_with_a_policy_code_is_remote_closed_error():
    async with peer() as p:
        client = WebSocketClient(p.url, Json, reconnect=Backoff(initial=0.001))
        await client.connect()
        await wait_for(lambda: p.live)
        await p.close_all(4008, "no credit")
        assert await client.wait_closed(10)
        err = client.error
        assert isinstance(err, RemoteClosedError)
        assert (err.close_code, err.reason) == (4008, "no credit")
        assert len(p.requests) == 1
        await client.close()


async def test_close_errors_hook_types_provider_codes():
    async with peer() as p:
        client = WebSocketClient(
            p.url, Json, reconnect=Backoff(initial=0.001),
            close_errors=lambda code, reason: AuthError(reason) if code == 1008 else None,
        )
        await client.connect()
        await wait_for(lambda: p.live)
        await p.close_all(1008, "DATA-0000")
        assert await client.wait_closed(10)
        assert isinstance(client.error, AuthError) and len(p.requests) == 1
        await client.close()


async def test_clear_drops_held_messages_and_they_never_go_out():
    async with peer() as p:
        client = WebSocketClient(p.url, Json, reconnect=Backoff(initial=0.001))
        await client.send("stale-1")
        await client.send("stale-2")
        assert client.clear() == 2 and client.held == 0
        await client.send("fresh")
        await client.connect()
        await wait_for(lambda: len(p.received) == 2)
        assert p.received == ['{"hello": 1}', "fresh"]
        assert client.stats.cleared == 2 and client.stats.dropped == 2
        await client.close()


async def test_keepalive_every_interval_on_the_clock_and_rearmed_per_connection():
    clock = FakeClock()
    async with peer() as p:
        client = WebSocketClient(p.url, Json, clock=clock,
                                 reconnect=Backoff(initial=1.0, jitter=0.0))
        hook = client.every(5.0, lambda: ['{"type": "KeepAlive"}'], idle_only=True)
        await client.connect()
        await wait_for(lambda: len(p.received) == 1)
        await clock.advance(4.9)
        assert p.received == ['{"hello": 1}']
        await clock.advance(0.2)
        await wait_for(lambda: len(p.received) == 2)
        assert p.received[-1] == '{"type": "KeepAlive"}' and hook.fired == 1
        # audio flowing postpones an idle-only keep-alive
        for _ in range(3):
            await clock.advance(3.0)
            await client.send(b"\x00\x00")
        await wait_for(lambda: len(p.received) == 5)
        assert p.received[2:] == [b"\x00\x00"] * 3 and hook.fired == 1
        # a new connection re-arms it from the moment it opens
        await p.drop()
        await wait_for(lambda: not client.connected)
        await wait_for(lambda: clock.pending >= 1)
        await clock.advance(1.0)  # the backoff wait
        await wait_for(lambda: client.connected and len(p.connections) == 2)
        await wait_for(lambda: p.connections[1] == ['{"hello": 1}'])
        await clock.advance(4.0)
        assert p.connections[1] == ['{"hello": 1}']
        await clock.advance(1.1)
        await wait_for(lambda: len(p.connections[1]) == 2)
        assert p.connections[1][1] == '{"type": "KeepAlive"}'
        assert client.stats.periodic == 2
        hook.cancel()
        await clock.advance(20)
        assert client.stats.periodic == 2
        await client.close()


async def test_close_with_drain_receives_the_last_replies():
    async def reply(ws, message):
        if message == '{"bye": 1}':  # the provider flushes, then closes by itself
            await ws.send('{"text": "last words"}')
            await ws.close(1000)

    got: list[str] = []
    async with peer(reply) as p:
        client = WebSocketClient(p.url, Json)

        async def on_frames(frames):
            got.extend(f.text for f in frames)

        await client.connect(on_frames=on_frames)
        await client.close(drain=5.0)
        assert got == ["last words"] and client.close_code == 1000 and client.error is None


async def test_client_session_adopts_the_client_into_its_task_group():
    from wavewire.bots.echo import echo_bot
    from wavewire.serializers.raw import RawSerializer
    from wavewire.transports.client_session import ClientSession

    from .conftest import running, ws_url

    async with running() as server:
        client = WebSocketClient(ws_url(server), RawSerializer, reconnect=None)
        session = ClientSession(client, echo_bot(None))
        runner = asyncio.ensure_future(session.run())
        await wait_for(lambda: client.connected)
        assert any(t.get_name().endswith(":reader") for t in session.task.tasks)
        with pytest.raises(RuntimeError):
            client.owner = TaskGroup("too late")
        await wait_for(lambda: len(server.sessions) == 1)
        await server.sessions[0].task.stop_when_done("bye")
        await asyncio.wait_for(runner, 20)
        assert client.closed and not session.task.tasks


async def test_an_oversized_message_ends_the_client_without_retry():
    async def reply(ws, message):
        await ws.send("x" * 5000)

    async with peer(reply) as p:
        client = WebSocketClient(p.url, Json, max_size=1000, reconnect=Backoff(initial=0.001))
        await client.connect()
        await client.send("go")
        assert await client.wait_closed(10)
        assert isinstance(client.error, MessageTooLargeError) and client.close_code == 1009
        assert len(p.requests) == 1
        await client.close()

"""Refusals and bad input: session cap (1013), oversize messages (1009), malformed
protobuf and text where binary is expected, unknown paths (404) -- each counted, with
the server and the other sessions unaffected."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wavewire.frames import OutputAudioFrame
from wavewire.serializers.pipecat import PipecatSerializer
from wavewire.transports.endpoints import raw_serializer
from wavewire.transports.routes import Route

from .conftest import echo_roundtrip, http_get, pcm, recv_bytes, running, wait_for, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


async def _closed_code(ws) -> int | None:
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    return ws.close_code


async def test_cap_refuses_with_1013_and_admitted_sessions_keep_working():
    async with running(max_sessions=2) as server:
        a = await connect(ws_url(server), proxy=None)
        b = await connect(ws_url(server), proxy=None)
        await wait_for(lambda: len(server.sessions) == 2)
        c = await connect(ws_url(server), proxy=None)  # accepted, then closed
        assert await _closed_code(c) == 1013
        assert c.close_reason == "try again later"
        assert server.metrics.refusals == {"cap": 1}
        for ws, seed in ((a, 1), (b, 2)):
            await ws.send(pcm(320, seed))
            assert await recv_bytes(ws, 640) == pcm(320, seed)
        await a.close()
        await wait_for(lambda: len(server.sessions) == 1)
        assert await echo_roundtrip(ws_url(server), pcm(320)) == pcm(320)  # room again
        await b.close()
        assert server.metrics.sessions_total == 3


async def test_oversize_message_closes_1009_and_is_counted():
    route = Route("/small", raw_serializer, max_message_size=1000, name="small")
    async with running(routes=[route, Route("/ws", raw_serializer)]) as server:
        other = await connect(ws_url(server), proxy=None)
        ws = await connect(ws_url(server, "/small"), proxy=None, max_size=None)
        await ws.send(pcm(320))  # 640 bytes: fine
        assert await recv_bytes(ws, 640) == pcm(320)
        await ws.send(pcm(600))  # 1200 bytes: too big
        assert await _closed_code(ws) == 1009
        await wait_for(lambda: server.metrics.closes == {1009: 1})
        await other.send(pcm(320))
        assert await recv_bytes(other, 640) == pcm(320)
        await other.close()
        await wait_for(lambda: not server.sessions)
        assert server.metrics.ended.protocol_errors == 1


async def test_malformed_protobuf_and_text_on_pipecat_are_counted_not_fatal():
    async with running() as server:
        ser = PipecatSerializer()
        async with connect(ws_url(server, "/pipecat"), proxy=None) as ws:
            await ws.send(b"\x12\xff\xff\xff")  # truncated length-delimited field
            await ws.send("not protobuf")  # text where binary is expected
            await ws.send(b"\x12\x05\x1a\x03\x01\x02\x03")  # odd audio bytes, no rate
            audio = pcm(320, 5)
            for m in ser.encode(OutputAudioFrame(audio, 16000, 1)):
                await ws.send(m)
            got = b""
            async with asyncio.timeout(10):
                while len(got) < len(audio):
                    for f in ser.decode(await ws.recv()):
                        got += f.audio
            assert got == audio  # the session survived
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 3
            _, _, body = await http_get(server, "/metrics")
            assert b"wavewire_protocol_errors_total 3" in body
            assert session.task.stats.errors == 3  # reported upstream as ErrorFrames


async def test_invalid_json_text_on_raw_is_counted():
    async with running() as server:
        async with connect(ws_url(server), proxy=None) as ws:
            await ws.send("{not json")
            await ws.send(b"\x01")  # half a sample
            await ws.send(pcm(320))
            assert await recv_bytes(ws, 640) == pcm(320)
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 2


async def test_unknown_paths_are_404_and_counted():
    async with running() as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, "/nope"), proxy=None):
                pass
        assert info.value.response.status_code == 404
        status, _, _ = await http_get(server, "/also/nope")
        assert status == 404
        assert server.metrics.refusals == {"not_found": 2}
        assert await echo_roundtrip(ws_url(server), pcm(320)) == pcm(320)


async def test_plain_get_on_a_websocket_route_is_426():
    async with running() as server:
        status, _, _ = await http_get(server, "/ws")
        assert status == 426
        assert server.metrics.sessions_total == 0


async def test_bot_factory_failure_closes_1011_and_counts():
    def bot(info):
        raise RuntimeError("no bot today")

    async with running(bot) as server:
        ws = await connect(ws_url(server), proxy=None)
        assert await _closed_code(ws) == 1011
        assert server.metrics.refusals == {"bot_error": 1}
        assert not server.sessions


async def test_fatal_protocol_error_closes_with_its_code():
    from wavewire.errors import ProtocolError
    from wavewire.serializers.raw import RawSerializer

    class Strict(RawSerializer):
        def decode(self, message):
            if isinstance(message, str):
                raise ProtocolError("strict: no text", close_code=1003, fatal=True)
            return super().decode(message)

    route = Route("/strict", lambda info: Strict(), name="strict")
    async with running(routes=[route]) as server:
        ws = await connect(ws_url(server, "/strict"), proxy=None)
        await ws.send(pcm(320))
        assert await recv_bytes(ws, 640) == pcm(320)
        await ws.send("hello")
        assert await _closed_code(ws) == 1003
        assert "strict: no text" in (ws.close_reason or "")
        await wait_for(lambda: server.metrics.closes == {1003: 1})
        await wait_for(lambda: not server.sessions)

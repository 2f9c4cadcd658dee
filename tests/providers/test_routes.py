"""The provider routes on a live server with the echo bot: bad input gets a typed error,
is counted (session stats and ``/metrics``), and the session goes on or closes with the
documented code."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wavewire.audio.g711 import ulaw_encode
from wavewire.emulators.cloudflare import encode_packet
from wavewire.transports.auth import token_auth
from wavewire.transports.providers import (
    CLOUDFLARE_MAX_MESSAGE,
    cloudflare_routes,
    connect_protocols,
    provider_routes,
    vapi_client_headers,
)

from ..emulators.conftest import http_get, metric, serving, wait_until, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

STEREO_20MS = bytes(range(256)) * 15  # 3840 bytes: 20 ms of 48 kHz stereo
ULAW_20MS = ulaw_encode(bytes(range(256)) * 1 + bytes(64))  # 160 samples


def kw() -> dict:
    return {"compression": None, "proxy": None}


async def recv_json(ws: ClientConnection, event: str, key: str = "event") -> dict:
    async with asyncio.timeout(10):
        while True:
            message = await ws.recv()
            if isinstance(message, str):
                msg = json.loads(message)
                if msg.get(key) == event:
                    return msg


async def recv_binary(ws: ClientConnection) -> bytes:
    async with asyncio.timeout(10):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                return message


async def protocol_errors_metric(server) -> float:
    status, body = await http_get(server, "/metrics")
    assert status == 200
    return metric(body, "wavewire_protocol_errors_total")


# --- routes and factories ---------------------------------------------------------------


def test_provider_routes_and_partners():
    routes = {r.pattern: r for r in provider_routes()}
    assert set(routes) == {"/twilio", "/vapi", "/cloudflare/{call_id}/stream",
                           "/cloudflare/{call_id}/ingest"}
    stream, ingest = routes["/cloudflare/{call_id}/stream"], routes["/cloudflare/{call_id}/ingest"]
    assert stream.partner_of(ingest) and ingest.partner_of(stream)
    assert (stream.role, ingest.role) == ("input", "output")
    assert stream.resume_window == ingest.resume_window == 5.0
    assert stream.session_key({"call_id": "x"}) == "cloudflare:x"
    (s2, _) = cloudflare_routes("/sfu", resume_window=15.0)
    assert s2.pattern == "/sfu/{call_id}/stream" and s2.resume_window == 15.0


def test_client_protocols():
    protos = connect_protocols()
    assert set(protos) == {"videosdk", "vapi"}
    assert not protos["videosdk"].reconnect and not protos["vapi"].reconnect
    assert protos["videosdk"].serializer(16000, 1).wire.sample_rate == 8000
    assert protos["vapi"].serializer(24000, 1).wire.sample_rate == 24000
    assert protos["videosdk"].headers() == {}
    assert vapi_client_headers({"VAPI_API_KEY": "k1"}) == {"Authorization": "Bearer k1"}
    assert vapi_client_headers({}) == {}
    with pytest.raises(ValueError):
        protos["vapi"].serializer(16000, 2)


# --- Cloudflare ------------------------------------------------------------------------------


async def test_cloudflare_malformed_packet_is_counted_and_the_session_goes_on():
    async with serving() as server:
        async with connect(ws_url(server, "/cloudflare/m1/ingest"), **kw()) as ingest, \
                connect(ws_url(server, "/cloudflare/m1/stream"), **kw()) as stream:
            await stream.send(b"\x2a\x10\x01\x02")  # truncated payload
            await stream.send(b"\x0f")  # an invalid wire type
            await stream.send("ping")  # text: not a Packet
            for seq in range(1, 8):
                await stream.send(encode_packet(STEREO_20MS, seq, seq * 960))
            packet = await recv_binary(ingest)  # the echo still flows
            assert packet[:1] == b"\x2a" and len(packet) <= 16388
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 3
            assert await protocol_errors_metric(server) == 3
            assert session.live


async def test_cloudflare_message_over_the_limit_closes_1009_and_the_sfu_resumes():
    async with serving() as server:
        async with connect(ws_url(server, "/cloudflare/big/ingest"), **kw()) as ingest:
            async with connect(ws_url(server, "/cloudflare/big/stream"), **kw()) as stream:
                await stream.send(encode_packet(bytes(CLOUDFLARE_MAX_MESSAGE), 1, 960))
                await stream.wait_closed()
                assert stream.close_code == 1009
            await wait_until(lambda: server.metrics.closes == {1009: 1})
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 1
            # the SFU dials the same URL again within its window: same session
            async with connect(ws_url(server, "/cloudflare/big/stream"), **kw()) as stream:
                for seq in range(2, 9):
                    await stream.send(encode_packet(STEREO_20MS, seq, seq * 960))
                await recv_binary(ingest)
            assert server.metrics.sessions_total == 1
            assert session.input_serializer.connections == 2


async def test_cloudflare_second_ingest_socket_replaces_the_first_with_1008():
    async with serving() as server:
        async with connect(ws_url(server, "/cloudflare/dup/ingest"), **kw()) as first, \
                connect(ws_url(server, "/cloudflare/dup/stream"), **kw()) as stream:
            async with connect(ws_url(server, "/cloudflare/dup/ingest"), **kw()) as second:
                await first.wait_closed()
                assert (first.close_code, first.close_reason) == (
                    1008, "replaced by a newer connection")
                for seq in range(1, 8):
                    await stream.send(encode_packet(STEREO_20MS, seq, seq * 960))
                await recv_binary(second)  # the audio goes to the newer socket
                (session,) = server.sessions
                assert session.output_serializer.connections == 2  # counted
                assert server.metrics.sessions_total == 1


async def test_cloudflare_replaced_ingest_socket_shows_in_metrics():
    async with serving() as server:
        async with connect(ws_url(server, "/cloudflare/d2/ingest"), **kw()) as first, \
                connect(ws_url(server, "/cloudflare/d2/stream"), **kw()), \
                connect(ws_url(server, "/cloudflare/d2/ingest"), **kw()):
            await first.wait_closed()
            assert server.metrics.closes.get(1008) == 1


async def test_cloudflare_token_in_the_query_is_required_when_the_server_has_one():
    async with serving(auth=token_auth("t0k")) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(ws_url(server, "/cloudflare/a/stream"), **kw()):
                pass
        assert info.value.response.status_code == 401
        with pytest.raises(InvalidStatus):
            async with connect(ws_url(server, "/cloudflare/a/stream?token=wrong"), **kw()):
                pass
        assert server.metrics.refusals == {"auth": 2}
        async with connect(ws_url(server, "/cloudflare/a/stream?token=t0k"), **kw()):
            await wait_until(lambda: len(server.sessions) == 1)
            assert server.sessions[0].info.query == {"token": "***"}


# --- Twilio ---------------------------------------------------------------------------------


def start_message(sid: str = "MZ1", fmt: dict | None = None) -> str:
    return json.dumps({
        "event": "start", "sequenceNumber": "1", "streamSid": sid,
        "start": {"streamSid": sid, "callSid": "CA1", "accountSid": "AC1",
                  "tracks": ["inbound"], "customParameters": {"who": "test"},
                  "mediaFormat": fmt or {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                         "channels": 1}},
    })


def media_message(payload: str, sid: str = "MZ1") -> str:
    return json.dumps({"event": "media", "streamSid": sid,
                       "media": {"track": "inbound", "chunk": "1", "timestamp": "0",
                                 "payload": payload}})


async def test_twilio_bad_input_is_counted_and_the_call_goes_on():
    good = base64.b64encode(ULAW_20MS).decode()
    async with serving() as server:
        async with connect(ws_url(server, "/twilio"), **kw()) as ws:
            await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
            await ws.send(media_message(good))  # media before start
            await ws.send(start_message())
            await ws.send(media_message("not base64!"))  # bad base64
            await ws.send('{"event":"brand-new-event"}')  # unknown: counted, ignored
            await ws.send("{not json")  # invalid JSON
            await ws.send(b"\x00\x01")  # binary
            for _ in range(5):
                await ws.send(media_message(good))
            echo = await recv_json(ws, "media")
            assert echo["streamSid"] == "MZ1" and base64.b64decode(echo["media"]["payload"])
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 4
            assert session.input_serializer.unknown_events == 1
            assert session.input_serializer.call_sid == "CA1"
            assert await protocol_errors_metric(server) == 4
            assert session.live


async def test_twilio_unsupported_media_format_closes_1003():
    async with serving() as server:
        async with connect(ws_url(server, "/twilio"), **kw()) as ws:
            await ws.send(start_message(fmt={"encoding": "audio/x-l16", "sampleRate": 16000,
                                             "channels": 1}))
            await ws.wait_closed()
            assert ws.close_code == 1003
        await wait_until(lambda: server.metrics.closes == {1003: 1})


async def test_twilio_message_over_the_limit_closes_1009():
    async with serving() as server:
        async with connect(ws_url(server, "/twilio"), **kw()) as ws:
            await ws.send(start_message())
            await ws.send(media_message("A" * (64 * 1024)))
            await ws.wait_closed()
            assert ws.close_code == 1009
        await wait_until(lambda: server.metrics.closes == {1009: 1})


async def test_twilio_interruption_sends_clear():
    from wavewire.frames import InputAudioFrame
    from wavewire.processors.base import FrameProcessor

    class InterruptOnFirstAudio(FrameProcessor):
        def __init__(self) -> None:
            super().__init__(name="barge-in")
            self.done = False

        async def process_frame(self, frame, direction):
            await self.push(frame, direction)
            if isinstance(frame, InputAudioFrame) and not self.done:
                self.done = True
                await self.interrupt()

    async with serving(lambda info: [InterruptOnFirstAudio()]) as server:
        async with connect(ws_url(server, "/twilio"), **kw()) as ws:
            await ws.send(start_message())
            await ws.send(media_message(base64.b64encode(ULAW_20MS).decode()))
            clear = await recv_json(ws, "clear")
            assert clear == {"event": "clear", "streamSid": "MZ1"}


async def test_twilio_stop_ends_the_session():
    async with serving() as server:
        async with connect(ws_url(server, "/twilio"), **kw()) as ws:
            await ws.send(start_message())
            await ws.send('{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA1"}}')
            async with asyncio.timeout(3):
                await ws.wait_closed()
            assert ws.close_code == 1000


# --- Vapi (server side) ---------------------------------------------------------------------


async def test_vapi_route_format_from_the_query():
    async with serving() as server:
        for query in ("?format=opus", "?format=mulaw&sample_rate=16000", "?sample_rate=abc",
                      "?sample_rate=1000"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(ws_url(server, "/vapi" + query), **kw()):
                    pass
            assert info.value.response.status_code == 400
        assert server.metrics.refusals == {"bad_request": 4}
        async with connect(ws_url(server, "/vapi?format=mulaw"), **kw()) as ws:
            status = await recv_json(ws, "status-update", key="type")
            assert status["status"] == "in-progress"
            for _ in range(5):
                await ws.send(ULAW_20MS)
            assert len(await recv_binary(ws)) == 160  # 20 ms of μ-law back
        async with connect(ws_url(server, "/vapi?format=pcm_s16le&sampleRate=24000"),
                           **kw()) as ws:
            for _ in range(5):
                await ws.send(bytes(960))
            assert len(await recv_binary(ws)) == 960  # 20 ms of 24 kHz PCM back


async def test_vapi_bad_input_is_counted_and_the_call_goes_on():
    async with serving() as server:
        async with connect(ws_url(server, "/vapi"), **kw()) as ws:
            await ws.send("{not json")
            await ws.send('{"no":"type"}')
            await ws.send('{"type":"say"}')  # no content
            await ws.send('{"type":"control","control":"explode"}')
            await ws.send(b"\x01\x02\x03")  # not whole samples
            await ws.send('{"type":"brand-new-type"}')  # passed on, counted
            for _ in range(5):
                await ws.send(bytes(640))
            assert len(await recv_binary(ws)) == 640
            (session,) = server.sessions
            assert session.input_edge.stats.protocol_errors == 5
            assert session.input_serializer.unknown_types == 1
            assert await protocol_errors_metric(server) == 5


async def test_vapi_route_speaks_to_the_vapi_client_serializer():
    """A client written for Vapi's transport (our own client side) talks to a bot."""
    from wavewire.frames import InputAudioFrame
    from wavewire.serializers.vapi import VapiSerializer

    async with serving() as server:
        client = VapiSerializer("pcm_s16le", 16000)
        async with connect(ws_url(server, "/vapi"), **kw()) as ws:
            for _ in range(5):
                await ws.send(bytes(range(256)) * 2 + bytes(128))
            frames = client.decode(await recv_binary(ws))
            assert isinstance(frames[0], InputAudioFrame) and frames[0].sample_rate == 16000
            for message in client.end_call():
                await ws.send(message)
        await wait_until(lambda: not server.sessions)


async def test_videosdk_emulator_records_a_topic_too_long_from_a_raw_client(tmp_path):
    from wavewire.audio.wav import wav_bytes
    from wavewire.emulators.videosdk import VideoSDKEmulator

    wav = wav_bytes(bytes(3200), 8000, 1)  # 200 ms of silence
    async with VideoSDKEmulator(wav, linger=0.1, tail=0.1) as emu:
        async with connect(emu.url, **kw()) as ws:
            await ws.send('{"event":"start"}')
            await ws.send(json.dumps({"event": "message", "topic": "t" * 129, "data": "x"}))
            await ws.send(json.dumps({"event": "message", "topic": "ok", "data": "y" * 8001}))
            await ws.send('{"event":"media","payload":"@@@"}')
            await ws.send(json.dumps({"event": "message", "topic": "ok", "data": "fine"}))
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
        summary = await emu.wait(10)
    assert len(summary["errors"]) == 3
    assert "128" in summary["errors"][0] and "8000" in summary["errors"][1]
    assert emu.published == [{"topic": "ok", "data": "fine"}]


def test_one_client_protocol_registry():
    from wavewire.cli import build_parser
    from wavewire.transports.endpoints import client_protocols

    protos = client_protocols()
    assert set(protos) == {"raw", "pipecat", "videosdk", "vapi"}
    # the CLI's --protocol choices come from the same table
    connect = build_parser()._subparsers._group_actions[0].choices["connect"]  # type: ignore[union-attr]
    (action,) = [a for a in connect._actions if a.dest == "protocol"]
    assert set(action.choices) == set(protos) and action.default == "raw"
    # wavewire's own servers get the wavewire token and may reconnect; providers never do
    assert {n for n, p in protos.items() if p.token} == {"raw", "pipecat"}
    assert protos["raw"].reconnect and protos["pipecat"].reconnect
    assert protos["raw"].serializer(24000, 2).wire.sample_rate == 24000
    assert protos["pipecat"].serializer(16000, 1).protocol == "pipecat"


def test_packet_helpers_round_trip():
    from wavewire.errors import ProtocolError
    from wavewire.serializers.cloudflare import encode_packet, parse_packet

    assert parse_packet(encode_packet(STEREO_20MS, 7, 6720)) == (7, 6720, STEREO_20MS)
    assert parse_packet(encode_packet(b"\x01\x02\x03\x04")) == (0, 0, b"\x01\x02\x03\x04")
    with pytest.raises(ProtocolError):
        parse_packet(b"\x2a\x10\x01\x02")  # truncated payload

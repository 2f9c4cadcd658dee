"""Each platform's emulator against the echo bot on a real in-process wavewire server
(or, for VideoSDK and Vapi, the echo bot as a wavewire client of the emulator): what comes
back correlates with what was played."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from wavewire.audio.wav import read_wav
from wavewire.bots.echo import echo_bot
from wavewire.emulators import main as emulate_main
from wavewire.emulators.cloudflare import CloudflareEmulator
from wavewire.emulators.twilio import TwilioEmulator
from wavewire.emulators.vapi import VapiEmulator
from wavewire.emulators.videosdk import VideoSDKEmulator
from wavewire.errors import AuthError
from wavewire.frames import (
    Frame,
    InputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from wavewire.processors.base import DOWNSTREAM, FrameDirection, FrameProcessor
from wavewire.transports.auth import token_auth
from wavewire.transports.client import Backoff, WebSocketClient
from wavewire.transports.client_session import ClientSession
from wavewire.transports.providers import connect_protocols

from .conftest import assert_echoed, serving, ws_url

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


# --- platforms that dial the bot ------------------------------------------------------------


async def test_twilio_call_echoes_and_marks_come_back(speech_wav: Path, tmp_path: Path):
    async with serving() as server:
        out = tmp_path / "heard.wav"
        summary = await TwilioEmulator(ws_url(server, "/twilio"), speech_wav, out=out).run()
        assert_echoed(summary)
        # the output edge marked the end of the utterance; it came back once played
        assert summary["events"].get("mark", 0) >= 1
        assert summary["marks_echoed"] == summary["events"]["mark"]
        assert summary["loss"] < 0.1
        pcm, rate, channels = read_wav(out)
        assert (rate, channels) == (8000, 1) and len(pcm) > 0
        assert server.metrics.sessions_total == 1
        assert server.live_totals().protocol_errors + server.metrics.ended.protocol_errors == 0


@pytest.mark.parametrize("ingest_first", [True, False])
async def test_cloudflare_pair_joins_one_session_and_echoes(speech_wav: Path, ingest_first: bool):
    async with serving() as server:
        watch(server)
        emulator = CloudflareEmulator(
            ws_url(server, "/cloudflare"), speech_wav, call_id="c1", ingest_first=ingest_first
        )
        summary = await emulator.run()
        assert_echoed(summary)
        assert server.metrics.sessions_total == 1  # two sockets, one session
        assert summary["ingest_max_message_bytes"] <= 16388
        assert summary["close_code"] == 1000


def sessions_of(server) -> list:
    """Every session the server ran (they close with the emulator's clean hang-up)."""
    return list(dict.fromkeys(server._seen_sessions))


def watch(server):
    server._seen_sessions = []
    server.add_event_handler(
        "on_client_connected", lambda srv, session, info: srv._seen_sessions.append(session)
    )
    return server


async def test_cloudflare_counts_lost_packets(speech_wav: Path):
    async with serving() as server:
        watch(server)
        emulator = CloudflareEmulator(
            ws_url(server, "/cloudflare"), speech_wav, call_id="lossy", lose={10, 11, 40}
        )
        summary = await emulator.run()
        # lost input leaves holes the bot does not conceal, so later audio shifts in time
        # (underruns) and the global correlation is no test here; the counts are.
        assert summary["packets_lost_on_purpose"] == 3 and summary["frames_in"] > 60
        (session,) = sessions_of(server)
        stream = session.input_serializer
        assert (stream.lost, stream.gaps, stream.reordered) == (3, 2, 0)


async def test_cloudflare_stream_reconnect_resumes_the_same_session(speech_wav: Path):
    async with serving() as server:
        watch(server)
        emulator = CloudflareEmulator(
            ws_url(server, "/cloudflare"), speech_wav, call_id="flaky", reconnect_at=0.6,
            reconnect_gap=0.2,
        )
        summary = await emulator.run()
        assert summary["reconnects"] == 1
        assert_echoed(summary)
        assert server.metrics.sessions_total == 1
        (session,) = sessions_of(server)
        assert session.input_serializer.connections == 2  # the same session, resumed
        assert session.input_serializer.lost == 0  # the backlog filled the gap


async def test_cloudflare_with_a_token_in_the_query(speech_wav: Path):
    async with serving(auth=token_auth("sfu-secret")) as server:
        watch(server)
        emulator = CloudflareEmulator(
            ws_url(server, "/cloudflare"), speech_wav, call_id="auth", token="sfu-secret"
        )
        summary = await emulator.run()
        assert_echoed(summary)
        (session,) = sessions_of(server)
        assert session.info.query == {"token": "***"}  # redacted wherever it is kept


async def test_cli_entry_point_prints_the_summary(speech_wav: Path, tmp_path: Path, capsys):
    async with serving() as server:
        argv = ["twilio", "--url", ws_url(server, "/twilio"), "--wav", str(speech_wav),
                "--out", str(tmp_path / "o.wav")]
        assert await asyncio.to_thread(emulate_main, argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert_echoed(summary)
    assert emulate_main(["nope"]) == 2


# --- platforms the bot dials (the emulator is the server) -----------------------------------


class PubSubProbe(FrameProcessor):
    """Subscribes to CHAT at start, publishes one message with a legal topic and one with
    a topic over the limit, and keeps the messages it receives."""

    def __init__(self) -> None:
        super().__init__(name="probe")
        self.received: list[InputTransportMessageFrame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await self.push(frame, direction)
        if isinstance(frame, StartFrame):
            for message, topic in (
                ({"event": "subscribe", "topic": "CHAT"}, None),
                ({"hello": "room"}, "CHAT"),
                ({"too": "long"}, "x" * 129),
            ):
                await self.push(OutputTransportMessageUrgentFrame(message, topic=topic), DOWNSTREAM)
        elif isinstance(frame, InputTransportMessageFrame):
            self.received.append(frame)


def client_session(protocol: str, url: str, extra: list[FrameProcessor] | None = None,
                   rate: int = 16000) -> ClientSession:
    proto = connect_protocols()[protocol]
    client = WebSocketClient(url, lambda: proto.serializer(rate, 1), headers=proto.headers(),
                             reconnect=Backoff() if proto.reconnect else None)
    return ClientSession(client, [*(extra or []), *echo_bot()])


async def test_videosdk_client_echoes_pubsub_and_stops(speech_wav: Path):
    probe = PubSubProbe()
    async with VideoSDKEmulator(speech_wav, publish=[("CHAT", {"k": 1})], linger=5.0) as emu:
        session = client_session("videosdk", emu.url, [probe])
        runner = asyncio.ensure_future(session.run())
        await asyncio.wait_for(emu.played.wait(), 20)
        await session.task.stop_when_done("test over")  # the client ends the call: 'stop'
        await asyncio.wait_for(runner, 20)
        summary = await emu.wait(10)
    assert_echoed(summary)
    assert summary["started"] and summary["stopped_by_client"]
    assert summary["subscriptions"] == ["CHAT"]
    assert emu.published == [{"topic": "CHAT", "data": {"hello": "room"}}]  # not the long one
    # the long topic was refused before sending, counted, and the session went on
    assert any(k.endswith(":encode") for k in session.task.stats.dropped)
    assert [f.message["message"] for f in probe.received if f.topic == "CHAT"] == ['{"k":1}']


async def test_videosdk_server_closes_1008_without_start(speech_wav: Path):
    from websockets.asyncio.client import connect

    async with VideoSDKEmulator(speech_wav, start_timeout=0.2) as emu:
        async with connect(emu.url, proxy=None) as ws:
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1008, "start timeout")
        async with connect(emu.url, proxy=None) as ws:  # the ref was single-use
            await ws.wait_closed()
            assert (ws.close_code, ws.close_reason) == (1008, "invalid ref")
    assert emu.refused == [(1008, "start timeout"), (1008, "invalid ref")]


@pytest.mark.parametrize("audio_format", ["pcm_s16le", "mulaw"])
async def test_vapi_client_echoes(speech_wav: Path, audio_format: str, monkeypatch):
    monkeypatch.setenv("VAPI_API_KEY", "vapi-test-key")
    async with VapiEmulator(speech_wav, audio_format=audio_format, api_key="vapi-test-key",
                            linger=0.2) as emu:
        if audio_format == "mulaw":
            from wavewire.serializers.vapi import VapiSerializer

            proto = connect_protocols()["vapi"]
            client = WebSocketClient(emu.url, lambda: VapiSerializer("mulaw"),
                                     headers=proto.headers(), reconnect=None)
            session = ClientSession(client, echo_bot())
        else:
            session = client_session("vapi", emu.url)
        await asyncio.wait_for(session.run(), 30)
        summary = await emu.wait(10)
    assert_echoed(summary)
    assert summary["ended_reason"] == "assistant-ended-call"
    assert summary["audio_format"] == audio_format


async def test_vapi_client_without_the_key_is_refused(speech_wav: Path, monkeypatch):
    monkeypatch.delenv("VAPI_API_KEY", raising=False)
    async with VapiEmulator(speech_wav, api_key="vapi-test-key") as emu:
        session = client_session("vapi", emu.url)
        with pytest.raises(AuthError) as info:
            await asyncio.wait_for(session.run(), 30)
        assert "vapi-test-key" not in str(info.value)
    assert emu.refused == [(401, "unauthorized")]

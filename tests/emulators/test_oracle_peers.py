"""End to end against peers that share no code with wavewire: each provider's side of the
call is written here by hand from protocols.md (§1 Cloudflare, §3 VideoSDK, §4 Vapi,
§11 Twilio), with audio coded by ``audioop`` (G.711) and ``base64``, and Cloudflare's
Packets by the ``protobuf`` runtime. A misreading of a protocol shared by wavewire's
serializers and its emulators passes the emulator tests; it fails these."""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ..serializers._generated import load
from .conftest import serving, speech_like, ws_url
from .test_end_to_end import client_session

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the G.711 reference (audioop-lts on Python 3.13+, see the dev extra)

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


def correlation(sent: bytes, got: bytes, rate: int) -> tuple[float, float]:
    """Peak normalised cross-correlation of ``got`` against ``sent`` (s16le mono) over
    lags of 0-500 ms, and the lag in ms."""
    a = np.frombuffer(sent, "<i2").astype(float)
    b = np.frombuffer(got, "<i2").astype(float)
    best = (-1.0, 0.0)
    for lag in range(0, min(len(b) - rate // 10, rate // 2), max(1, rate // 8000)):
        x, y = a[: len(b) - lag], b[lag : lag + len(a)]
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        ncc = float(x @ y / ((np.linalg.norm(x) * np.linalg.norm(y)) or 1.0))
        best = max(best, (ncc, lag * 1000 / rate))
    return best


def assert_same_audio(sent: bytes, got: bytes, rate: int) -> None:
    assert len(got) >= len(sent) * 8 // 10, (len(got), len(sent))
    peak, lag_ms = correlation(sent, got, rate)
    assert peak > 0.9 and lag_ms < 500, (peak, lag_ms)


# --- Twilio dials the bot (§11) ---------------------------------------------------------


async def test_twilio_by_hand_against_the_server() -> None:
    sent = speech_like(seconds=1.0, rate=8000)
    stream = "MZ0123456789"
    async with serving() as server, connect(ws_url(server, "/twilio"), proxy=None) as ws:
        await ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        await ws.send(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": stream,
            "start": {"streamSid": stream, "accountSid": "AC1", "callSid": "CA1",
                      "tracks": ["inbound"], "customParameters": {},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}}))
        for i in range(0, len(sent), 320):  # 20 ms chunks of µ-law, coded by audioop
            n = i // 320
            await ws.send(json.dumps({
                "event": "media", "sequenceNumber": str(n + 2), "streamSid": stream,
                "media": {"track": "inbound", "chunk": str(n + 1), "timestamp": str(n * 20),
                          "payload": base64.b64encode(audioop.lin2ulaw(sent[i:i + 320], 2))
                          .decode()}}))
        got = bytearray()
        seq = len(sent) // 320 + 2
        async with asyncio.timeout(20):
            while len(got) < len(sent) * 9 // 10:
                msg = json.loads(await ws.recv())
                if msg["event"] == "media":
                    assert msg.keys() == {"event", "streamSid", "media"}, msg
                    assert msg["streamSid"] == stream and msg["media"].keys() == {"payload"}
                    got += audioop.ulaw2lin(base64.b64decode(msg["media"]["payload"]), 2)
                elif msg["event"] == "mark":  # Twilio echoes a mark once it has played
                    assert msg.keys() == {"event", "streamSid", "mark"}, msg
                    assert msg["streamSid"] == stream and isinstance(msg["mark"]["name"], str)
                    seq += 1
                    await ws.send(json.dumps({**msg, "sequenceNumber": str(seq)}))
                else:
                    assert msg == {"event": "clear", "streamSid": stream}, msg
        await ws.send(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1),
                                  "streamSid": stream,
                                  "stop": {"accountSid": "AC1", "callSid": "CA1"}}))
        async with asyncio.timeout(10):
            await ws.wait_closed()  # the call is over: the server hangs up
        assert server.metrics.ended.protocol_errors == 0
    assert_same_audio(sent, bytes(got), 8000)


# --- Cloudflare's SFU dials the bot twice (§1) -------------------------------------------


async def test_cloudflare_sfu_by_hand_against_the_server() -> None:
    pb = load("wavewire.protos.packet_pb2")
    rate = 48000
    mono = speech_like(seconds=1.0, rate=rate)
    stereo = np.repeat(np.frombuffer(mono, "<i2"), 2).astype("<i2").tobytes()
    async with serving() as server:
        ingest = await connect(ws_url(server, "/cloudflare/c9/ingest"), proxy=None)
        egress = await connect(ws_url(server, "/cloudflare/c9/stream"), proxy=None)
        try:
            for n, i in enumerate(range(0, len(stereo), 3840)):  # 20 ms per Packet
                packet = pb.Packet(sequenceNumber=n + 1, timestamp=n * 960,
                                   payload=stereo[i:i + 3840])
                await egress.send(packet.SerializeToString())
            got = bytearray()
            async with asyncio.timeout(20):
                while len(got) < len(stereo) * 9 // 10:
                    message = await ingest.recv()
                    assert isinstance(message, bytes) and len(message) <= 32000
                    packet = pb.Packet.FromString(message)
                    assert packet.sequenceNumber == 0 and packet.timestamp == 0  # ingest: payload only
                    assert len(packet.payload) % 4 == 0
                    got += packet.payload
        finally:
            await egress.close()
            await ingest.close()
        assert server.metrics.sessions_total == 1  # the two sockets were one call
    frames = np.frombuffer(bytes(got), "<i2").reshape(-1, 2)
    assert np.array_equal(frames[:, 0], frames[:, 1])
    assert_same_audio(mono, frames[:, 0].astype("<i2").tobytes(), rate)


# --- the bot dials VideoSDK (§3) and Vapi (§4) -------------------------------------------


class HandPeer:
    """A provider's server written here: what it received and the audio it got back."""

    def __init__(self, sent: bytes) -> None:
        self.sent = sent
        self.got = bytearray()
        self.texts: list[dict[str, Any]] = []
        self.done = asyncio.Event()


async def test_videosdk_by_hand_against_the_client() -> None:
    peer = HandPeer(speech_like(seconds=1.0, rate=8000))

    async def videosdk(ws: ServerConnection) -> None:
        first = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert first == {"event": "start"}, first  # within 5 s of opening, first of all
        for i in range(0, len(peer.sent), 320):  # 20 ms of 8 kHz PCM16LE, base64
            await ws.send(json.dumps({"event": "media", "payload":
                                      base64.b64encode(peer.sent[i:i + 320]).decode()}))
        try:
            async with asyncio.timeout(20):
                while len(peer.got) < len(peer.sent) * 9 // 10:
                    message = await ws.recv()
                    assert isinstance(message, str)  # JSON text frames only
                    msg = json.loads(message)
                    peer.texts.append(msg)
                    if msg["event"] == "media":
                        assert msg.keys() == {"event", "payload"}, msg
                        peer.got += base64.b64decode(msg["payload"])
            await ws.close(1000)
        finally:
            peer.done.set()

    async with serve(videosdk, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        session = client_session("videosdk", f"ws://127.0.0.1:{port}/videosdk?ref=vs_1",
                                 rate=8000)
        await asyncio.wait_for(session.run(), 30)  # the peer's hang-up ends the session
        await asyncio.wait_for(peer.done.wait(), 5)
    assert_same_audio(peer.sent, bytes(peer.got), 8000)


async def test_vapi_by_hand_against_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAPI_API_KEY", "vapi-hand-key")
    peer = HandPeer(speech_like(seconds=1.0, rate=16000))
    headers: list[str | None] = []

    async def vapi(ws: ServerConnection) -> None:
        headers.append(ws.request.headers.get("Authorization") if ws.request else None)
        await ws.send('{"type":"speech-update","status":"started","role":"user","turn":0,'
                      '"timestamp":1767225600000}')
        for i in range(0, len(peer.sent), 640):  # binary frames: 20 ms of 16 kHz pcm_s16le
            await ws.send(peer.sent[i:i + 640])
        try:
            async with asyncio.timeout(20):
                while len(peer.got) < len(peer.sent) * 9 // 10:
                    message = await ws.recv()
                    if isinstance(message, bytes):
                        peer.got += message
                    else:
                        peer.texts.append(json.loads(message))
            await ws.send('{"type":"status-update","status":"ended",'
                          '"endedReason":"customer-ended-call"}')
            await ws.close(1000)
        except ConnectionClosed:
            pass
        finally:
            peer.done.set()

    async with serve(vapi, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        session = client_session("vapi", f"ws://127.0.0.1:{port}/call-1/transport")
        await asyncio.wait_for(session.run(), 30)
        await asyncio.wait_for(peer.done.wait(), 5)
    assert headers == ["Bearer vapi-hand-key"]  # protocols.md §4.2: sent from servers
    assert all(isinstance(t.get("type"), str) for t in peer.texts)  # flat {"type": ...}
    assert_same_audio(peer.sent, bytes(peer.got), 16000)

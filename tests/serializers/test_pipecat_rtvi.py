"""RTVI inside Pipecat protobuf ``message`` frames, as ``@pipecat-ai/websocket-transport``
sends it: the server side of :class:`PipecatSerializer` (``rtvi=True``), the ``/pipecat``
route's choice of outbound rate, and the handshake over a real socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect

from wavewire.errors import ProtocolError
from wavewire.frames import (
    EndTaskFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
    TranscriptionFrame,
)
from wavewire.serializers.pipecat import PipecatSerializer
from wavewire.transports.endpoints import BROWSER_PIPECAT_RATE, pipecat_serializer
from wavewire.transports.routes import ConnectionInfo

from ._generated import load

pb = load("wavewire.protos.frames_pb2")


def js_message(value: Any) -> bytes:
    """A ``message`` frame as the JS transport's ProtobufFrameSerializer builds it."""
    frame = pb.Frame()
    frame.message.data = json.dumps(value)
    return frame.SerializeToString()


def js_audio(pcm: bytes, rate: int = 16000) -> bytes:
    """An ``audio`` frame as the JS transport sends the microphone (id 0, name "audio")."""
    frame = pb.Frame()
    frame.audio.name = "audio"
    frame.audio.audio = pcm
    frame.audio.sample_rate = rate
    frame.audio.num_channels = 1
    return frame.SerializeToString()


def client_ready(version: str = "2.1.0", id: str = "abcd1234") -> dict[str, Any]:
    return {"label": "rtvi-ai", "type": "client-ready", "id": id,
            "data": {"version": version,
                     "about": {"library": "@pipecat-ai/client-js", "library_version": "1.13.1"}}}


def sent_json(messages: list[Any]) -> list[dict[str, Any]]:
    """What the JS deserializer gets out of our messages: only ``message`` frames count."""
    out = []
    for raw in messages:
        frame = pb.Frame()
        frame.ParseFromString(raw)
        assert frame.WhichOneof("frame") == "message"
        out.append(json.loads(frame.message.data))
    return out


def test_client_ready_is_answered_with_bot_ready() -> None:
    ser = PipecatSerializer(24000, rtvi=True)
    frames = ser.decode(js_message(client_ready()))
    assert isinstance(frames[0], InputTransportMessageFrame)
    assert frames[0].message["type"] == "client-ready"
    replies = [f for f in frames if isinstance(f, OutputTransportMessageUrgentFrame)]
    assert len(replies) == 1 and ser.rtvi_client
    (ready,) = sent_json(ser.encode(replies[0]))
    assert ready["label"] == "rtvi-ai" and ready["type"] == "bot-ready"
    assert ready["id"] == "abcd1234"  # the request it answers
    assert ready["data"]["version"].split(".")[0] == "2"
    assert ready["data"]["about"]["library"] == "wavewire"


def test_bot_ready_validates_against_pipecat_models() -> None:
    from .._optional import need

    models = need("pipecat.processors.frameworks.rtvi.models")
    ser = PipecatSerializer(rtvi=True)
    reply = next(f for f in ser.decode(js_message(client_ready()))
                 if isinstance(f, OutputTransportMessageUrgentFrame))
    (ready,) = sent_json(ser.encode(reply))
    models.BotReady.model_validate(ready)


def test_other_messages() -> None:
    ser = PipecatSerializer(rtvi=True)
    plain = ser.decode(js_message({"type": "ping"}))  # not RTVI: passed on as before
    assert [type(f) for f in plain] == [InputTransportMessageFrame]
    bye = ser.decode(js_message({"label": "rtvi-ai", "type": "disconnect-bot", "id": "x"}))
    assert any(isinstance(f, EndTaskFrame) for f in bye)
    unknown = ser.decode(js_message({"label": "rtvi-ai", "type": "no-such-type", "id": "y"}))
    (reply,) = unknown
    assert isinstance(reply, OutputTransportMessageUrgentFrame)
    assert reply.message["type"] == "error-response" and reply.message["id"] == "y"
    with pytest.raises(ProtocolError):
        ser.decode(js_message({"label": "rtvi-ai", "type": 5}))
    with pytest.raises(ProtocolError):
        ser.decode(js_message({"label": "rtvi-ai", "type": "client-ready", "data": []}))


def test_client_side_leaves_rtvi_alone() -> None:
    """Without ``rtvi`` (a wavewire client of a Pipecat server) RTVI JSON is an ordinary
    transport message: a server's bot-ready must not be answered."""
    ser = PipecatSerializer()
    value = {"label": "rtvi-ai", "type": "bot-ready", "id": "1", "data": {"version": "2.2.0"}}
    (frame,) = ser.decode(js_message(value))
    assert isinstance(frame, InputTransportMessageFrame) and frame.message == value
    assert not ser.rtvi_client


def test_frames_the_js_sdk_cannot_parse_are_withheld_from_it() -> None:
    ser = PipecatSerializer(24000, rtvi=True)
    others = [TextFrame("hi"), TranscriptionFrame("hello", "u", "t"), InterruptionFrame()]
    assert all(ser.encode(f) for f in others)  # a Pipecat (Python) peer gets them
    ser.decode(js_message(client_ready()))
    assert [ser.encode(f) for f in others] == [[], [], []]
    assert ser.withheld == 3
    # audio and messages still go
    (audio,) = ser.encode(OutputAudioFrame(b"\x01\x00" * 480, 24000, 1))
    frame = pb.Frame()
    frame.ParseFromString(audio)
    assert frame.audio.sample_rate == 24000 and len(frame.audio.audio) == 960
    assert sent_json(ser.encode(OutputTransportMessageFrame({"label": "rtvi-ai", "type": "x"})))


def test_js_microphone_frames_decode() -> None:
    ser = PipecatSerializer(rtvi=True)
    (frame,) = ser.decode(js_audio(b"\x02\x00" * 256))
    assert isinstance(frame, InputAudioFrame)
    assert (frame.sample_rate, frame.num_channels, len(frame.audio)) == (16000, 1, 512)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(
    st.sampled_from(["label", "type", "id", "data"]),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                      max_size=3),
                 max_leaves=8),
).map(lambda d: {**d, "label": "rtvi-ai"}))
def test_rtvi_messages_only_raise_protocol_errors(value: dict[str, Any]) -> None:
    ser = PipecatSerializer(rtvi=True)
    try:
        frames = ser.decode(js_message(value))
    except ProtocolError:
        return
    for frame in frames:
        for raw in ser.encode(frame):
            assert isinstance(raw, bytes)


def _info(query: dict[str, str], headers: dict[str, str]) -> ConnectionInfo:
    return ConnectionInfo("/pipecat", "both", "/pipecat", {}, query, headers)


def test_route_rate() -> None:
    browser = {"origin": "http://127.0.0.1:8765"}
    assert pipecat_serializer(_info({}, browser)).wire.sample_rate == BROWSER_PIPECAT_RATE
    assert pipecat_serializer(_info({}, {})).wire.sample_rate == 16000
    chosen = pipecat_serializer(_info({"sample_rate": "48000"}, browser))
    assert chosen.wire.sample_rate == 48000
    assert pipecat_serializer(_info({}, {})).rtvi


async def test_handshake_and_audio_over_the_route() -> None:
    """The JS transport's conversation with ``/pipecat`` on a real socket: client-ready
    first, bot-ready back, microphone frames in at 16 kHz, the echo back at 24 kHz."""
    from ..transports.conftest import pcm, running, wait_for, ws_url

    async with running() as server:
        headers = {"Origin": "http://127.0.0.1"}
        async with connect(ws_url(server, "/pipecat"), additional_headers=headers,
                           proxy=None) as ws:
            await ws.send(js_message(client_ready()))
            audio = pcm(3200, seed=5)  # 200 ms at 16 kHz, in 16 ms messages as the SDK
            for i in range(0, len(audio), 512):
                await ws.send(js_audio(audio[i : i + 512]))
            ready: dict[str, Any] | None = None
            echoed = 0
            async with asyncio.timeout(10):
                while ready is None or echoed < 24000 * 0.15 * 2:
                    frame = pb.Frame()
                    frame.ParseFromString(await ws.recv())
                    kind = frame.WhichOneof("frame")
                    assert kind in ("audio", "message"), kind  # all the JS SDK parses
                    if kind == "message":
                        ready = json.loads(frame.message.data)
                    else:
                        assert frame.audio.sample_rate == 24000
                        assert frame.audio.num_channels == 1
                        echoed += len(frame.audio.audio)
            assert ready is not None and ready["type"] == "bot-ready"
        await wait_for(lambda: not server.sessions)
        assert server.metrics.ended.protocol_errors == 0

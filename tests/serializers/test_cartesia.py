"""Cartesia TTS WebSocket serializer: protocols.md §7 vectors, contexts, cancel, bad input."""

from __future__ import annotations

import json

import pytest

from wavewire.errors import ProtocolError
from wavewire.frames import (
    ErrorFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.serializers.cartesia import CartesiaSerializer

VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"
FIRST = (
    '{"model_id":"sonic-2","transcript":"Hello, ","voice":{"mode":"id","id":"' + VOICE + '"},'
    '"language":"en","context_id":"turn-1","output_format":{"container":"raw",'
    '"encoding":"pcm_s16le","sample_rate":16000},"add_timestamps":true,"continue":true}'
)


def ser(**kw: object) -> CartesiaSerializer:
    return CartesiaSerializer(VOICE, sample_rate=16000, context_prefix="turn", **kw)  # type: ignore[arg-type]


def test_request_vectors() -> None:
    s = ser()
    assert s.encode(LLMTextFrame("Hello, ")) == [FIRST]
    assert s.context_id == "turn-1"
    [second] = s.request("turn-1", "world.", more=False)
    assert json.loads(second) == {**json.loads(FIRST), "transcript": "world.", "continue": False}
    assert s.cancel("turn-1") == ['{"context_id":"turn-1","cancel":true}']
    assert json.loads(s.flush("turn-1")[0])["flush"] is True
    assert CartesiaSerializer.query_string("sk_car_x", "2024-06-10") == (
        "api_key=sk_car_x&cartesia_version=2024-06-10"
    )


def test_one_context_per_turn() -> None:
    s = ser()
    s.encode(LLMTextFrame("One. "))
    s.encode(LLMTextFrame("Two."))
    [end] = s.encode(LLMFullResponseEndFrame())
    assert json.loads(end)["continue"] is False and json.loads(end)["transcript"] == ""
    assert json.loads(end)["context_id"] == "turn-1" and s.context_id is None
    [nxt] = s.encode(LLMTextFrame("Next."))
    assert json.loads(nxt)["context_id"] == "turn-2"
    [speak] = s.encode(TTSSpeakFrame("Hi."))
    assert json.loads(speak)["context_id"] == "turn-3" and json.loads(speak)["continue"] is False
    assert s.context_id == "turn-2"  # a TTSSpeakFrame does not take over the open turn
    assert json.loads(s.encode(LLMFullResponseEndFrame())[0])["context_id"] == "turn-2"
    assert s.encode(LLMFullResponseEndFrame()) == []


def test_server_vectors() -> None:
    s = ser()
    [chunk] = s.decode(
        '{"type":"chunk","context_id":"turn-1","status_code":206,"done":false,'
        '"data":"AAAAABAA8P8=","step_time":12.5}'
    )
    assert chunk == TTSAudioFrame(
        b"\x00\x00\x00\x00\x10\x00\xf0\xff", 16000, 1, context_id="turn-1"
    )
    assert list(chunk.samples) == [0, 0, 16, -16]
    [word] = s.decode(
        '{"type":"timestamps","context_id":"turn-1","status_code":206,"done":false,'
        '"word_timestamps":{"words":["Hello,"],"start":[0.0],"end":[0.42]}}'
    )
    assert word == TTSTextFrame("Hello,", start_s=0.0, end_s=0.42, context_id="turn-1")
    assert s.decode('{"type":"done","context_id":"turn-1","status_code":206,"done":true}') == [
        TTSStoppedFrame(context_id="turn-1")
    ]
    flush = {"type": "flush_done", "context_id": "turn-1", "flush_id": 1, "flush_done": True}
    assert s.decode(json.dumps(flush)) == [InputTransportMessageFrame(message=flush)]
    [err] = s.decode('{"type":"error","context_id":"turn-1","error":"bad voice"}')
    assert isinstance(err, ErrorFrame) and "bad voice" in err.error


def test_cancel_drops_late_messages() -> None:
    s = ser()
    s.encode(LLMTextFrame("Hello. "))
    assert s.encode(InterruptionFrame()) == ['{"context_id":"turn-1","cancel":true}']
    assert s.decode('{"type":"chunk","context_id":"turn-1","data":"AAA=","done":false}') == []
    assert s.decode('{"type":"done","context_id":"turn-1","done":true}') == []
    assert s.dropped == 2
    assert s.encode(InterruptionFrame()) == []  # nothing open any more


def test_mulaw_output() -> None:
    s = CartesiaSerializer(VOICE, encoding="pcm_mulaw", sample_rate=8000)
    [chunk] = s.decode('{"type":"chunk","context_id":"c","data":"//8="}')
    assert isinstance(chunk, TTSAudioFrame) and len(chunk.audio) == 4
    with pytest.raises(ValueError):
        CartesiaSerializer(VOICE, sample_rate=12345)


@pytest.mark.parametrize(
    "message",
    [
        "{", "5", '{"type":null}', '{"type":"chunk","data":"A"}', '{"type":"chunk","data":7}',
        '{"type":"chunk","data":"AA=="}',  # 1 byte: not whole samples
        '{"type":"chunk","context_id":3,"data":"AAA="}',
        '{"type":"timestamps","word_timestamps":{"words":["a"],"start":[],"end":[]}}',
        '{"type":"timestamps","word_timestamps":{"words":[1],"start":[0],"end":[1]}}',
        '{"type":"timestamps","word_timestamps":{"words":["a"],"start":[1e999],"end":[1]}}',
        '{"type":"timestamps"}', '{"type":"done","status_code":"206"}',
        '{"type":"done","context_id":"\\udfff"}', "{" * 50000 + "}" * 50000, b"{}",
    ],
)  # fmt: skip
def test_bad_input_is_a_protocol_error(message: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        ser().decode(message)


def test_unknown_type_counted() -> None:
    s = ser()
    assert s.decode('{"type":"new_thing"}') == [] and s.unknown_types == 1

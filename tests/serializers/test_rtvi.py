"""RTVI: client messages in (strict), server events out; every message the server can
send validates against pipecat-ai's own pydantic models."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavewire.errors import MessageTooLargeError, ProtocolError
from wavewire.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    EndTaskFrame,
    ErrorFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsData,
    MetricsFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.processors.rtvi import RTVIProcessor
from wavewire.serializers.rtvi import PROTOCOL_VERSION, RTVISerializer
from wavewire.testing import Up, run_test

RTVI = pytest.importorskip("pipecat.processors.frameworks.rtvi.models")

MODELS = {
    "bot-ready": RTVI.BotReady,
    "error-response": RTVI.ErrorResponse,
    "error": RTVI.Error,
    "user-started-speaking": RTVI.UserStartedSpeakingMessage,
    "user-stopped-speaking": RTVI.UserStoppedSpeakingMessage,
    "vad-user-started-speaking": RTVI.VADUserStartedSpeakingMessage,
    "vad-user-stopped-speaking": RTVI.VADUserStoppedSpeakingMessage,
    "bot-started-speaking": RTVI.BotStartedSpeakingMessage,
    "bot-stopped-speaking": RTVI.BotStoppedSpeakingMessage,
    "user-transcription": RTVI.UserTranscriptionMessage,
    "bot-output": RTVI.BotOutputMessage,
    "bot-llm-started": RTVI.BotLLMStartedMessage,
    "bot-llm-text": RTVI.BotLLMTextMessage,
    "bot-llm-stopped": RTVI.BotLLMStoppedMessage,
    "bot-tts-started": RTVI.BotTTSStartedMessage,
    "bot-tts-stopped": RTVI.BotTTSStoppedMessage,
    "metrics": RTVI.MetricsMessage,
    "llm-function-call-in-progress": RTVI.LLMFunctionCallInProgressMessage,
    "llm-function-call-stopped": RTVI.LLMFunctionCallStoppedMessage,
}


def validate(message: dict) -> None:
    """The message, sent as JSON, parses as pipecat's model of its type (and back)."""
    wire = json.loads(RTVISerializer().encode(OutputTransportMessageUrgentFrame(message))[0])
    model = MODELS[wire["type"]].model_validate(wire)
    assert model.type == wire["type"] and model.label == "rtvi-ai"
    assert model.model_dump(exclude_none=True, mode="json").items() >= {
        k: v for k, v in wire.items() if k != "data"
    }.items()


def client(type_: str, data=None, id_: str | None = "c1") -> str:
    msg: dict = {"label": "rtvi-ai", "type": type_}
    if id_ is not None:
        msg["id"] = id_
    if data is not None:
        msg["data"] = data
    return json.dumps(msg)


READY = {"version": "2.2.0", "about": {"library": "@pipecat-ai/client-js", "library_version": "1.4"}}


def test_client_ready_is_answered_with_bot_ready():
    ser = RTVISerializer()
    frames = ser.decode(client("client-ready", READY, "r-7"))
    assert isinstance(frames[0], InputTransportMessageFrame) and frames[0].message["type"] == "client-ready"
    [reply] = [f for f in frames if isinstance(f, OutputTransportMessageUrgentFrame)]
    assert reply.message["type"] == "bot-ready" and reply.message["id"] == "r-7"
    assert reply.message["data"]["version"] == PROTOCOL_VERSION
    assert reply.message["data"]["about"]["library"] == "wavewire"
    validate(reply.message)
    assert ser.client_ready and ser.client_version == "2.2.0"
    # Pipecat's own client-ready model accepts what we accept here.
    RTVI.ClientReadyData.model_validate(READY)


@pytest.mark.parametrize(
    ("data", "problem", "version"),
    [
        (None, "Client version unknown", PROTOCOL_VERSION),
        ({"version": "3.0.0", "about": {"library": "x"}}, "not compatible", PROTOCOL_VERSION),
        ({"version": "two", "about": {"library": "x"}}, "Invalid client version", PROTOCOL_VERSION),
        ({"version": "1.4.1", "about": {"library": "x"}}, None, "1.4.1"),
    ],
)
def test_client_versions(data, problem, version):
    frames = RTVISerializer().decode(client("client-ready", data))
    replies = [f.message for f in frames if isinstance(f, OutputTransportMessageUrgentFrame)]
    assert replies[-1]["type"] == "bot-ready" and replies[-1]["data"]["version"] == version
    errors = [m for m in replies if m["type"] == "error-response"]
    if problem is None:
        assert not errors
    else:
        assert len(errors) == 1 and problem in errors[0]["data"]["error"]
    for m in replies:
        validate(m)


def test_other_client_messages():
    ser = RTVISerializer()
    [frame] = ser.decode(client("client-message", {"t": "hello", "d": {"x": 1}}))
    assert isinstance(frame, InputTransportMessageFrame) and frame.message["data"]["t"] == "hello"
    frames = ser.decode(client("disconnect-bot"))
    assert [type(f) for f in frames] == [InputTransportMessageFrame, EndTaskFrame]
    [reply] = ser.decode(client("make-coffee", {}, "q9"))
    assert isinstance(reply, OutputTransportMessageUrgentFrame)
    assert reply.message["type"] == "error-response" and reply.message["id"] == "q9"
    validate(reply.message)
    [audio] = ser.decode(b"\x01\x00\x02\x00")
    assert isinstance(audio, InputAudioFrame) and audio.sample_rate == 16000


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '"client-ready"',
        json.dumps({"type": "client-ready", "id": "1"}),
        json.dumps({"label": "other", "type": "client-ready"}),
        json.dumps({"label": "rtvi-ai", "type": 5}),
        json.dumps({"label": "rtvi-ai", "type": ""}),
        json.dumps({"label": "rtvi-ai", "type": "client-ready", "id": 5}),
        json.dumps({"label": "rtvi-ai", "type": "client-ready", "data": [1]}),
        '{"label": "rtvi-ai", "type": "send-text", "data": {"content": "\\ud800"}}',
        '{"label": "rtvi-ai", "type": "send-text", "\\udfff": 1}',
        '{"label": "rtvi-ai", "type": "client-message", "data": {"d": ' + "[" * 40 + "]" * 40 + "}}",
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 5000 + "1" + "}" * 5000,
    ],
)
def test_bad_input_is_a_protocol_error(text):
    with pytest.raises(ProtocolError):
        RTVISerializer().decode(text)


def test_oversized_message():
    with pytest.raises(MessageTooLargeError):
        RTVISerializer().decode(client("client-message", {"t": "x", "d": "y" * 70_000}))
    with pytest.raises(ProtocolError):
        RTVISerializer().decode(b"\x01")  # half a sample


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_any_text_decodes_or_is_a_protocol_error(text):
    try:
        RTVISerializer().decode(text)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["client-ready", "send-text", "client-message", "disconnect-bot", "x"]),
    json_values,
    json_values,
)
def test_fuzz_rtvi_shaped_messages(kind, data, id_):
    text = json.dumps({"label": "rtvi-ai", "type": kind, "id": id_, "data": data})
    try:
        frames = RTVISerializer().decode(text)
    except ProtocolError:
        return
    for f in frames:
        if isinstance(f, OutputTransportMessageUrgentFrame):
            validate(f.message)


async def test_processor_events_all_validate_against_pipecat():
    ser = RTVISerializer()
    sent = [
        UserStartedSpeakingFrame(),
        VADUserStartedSpeakingFrame(),
        InterimTranscriptionFrame("what time", "u1", "2026-01-01T00:00:00+00:00"),
        VADUserStoppedSpeakingFrame(),
        UserStoppedSpeakingFrame(),
        TranscriptionFrame("what time is it", "u1", "2026-01-01T00:00:01+00:00"),
        LLMFullResponseStartFrame(),
        FunctionCallInProgressFrame("call-1", "get_time", {"zone": "UTC"}),
        FunctionCallResultFrame("call-1", "get_time", {"zone": "UTC"}, {"time": "12:00"}),
        FunctionCallResultFrame("call-2", "get_time", {}, None, error="timed out"),
        LLMTextFrame("It is "),
        LLMTextFrame("noon."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame("c1"),
        TTSTextFrame("It", 0.0, 0.2, "c1"),
        TTSTextFrame("is", 0.2, 0.4, "c1"),
        TTSTextFrame("noon.", 0.4, 0.9, "c1"),
        TTSStoppedFrame("c1"),
        Up(BotStartedSpeakingFrame()),
        Up(BotStoppedSpeakingFrame()),
        Up(BotUtterancePlayedFrame("It is noon.", 900.0, 900.0)),
        MetricsFrame([MetricsData("stt", "ttfb", 0.12), MetricsData("tts", "processing", 0.01)]),
        Up(ErrorFrame("tts failed", fatal=False)),
    ]
    result = await run_test([RTVIProcessor()], frames_to_send=sent)
    out = [
        f for f in result.down
        if isinstance(f, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame)
    ]
    types = [f.message["type"] for f in out]
    for f in out:
        validate(f.message)
        assert ser.encode(f)  # the serializer sends each as one JSON text message
    required = set(MODELS) - {"bot-ready", "error-response"}  # those answer the client
    assert required <= set(types), required - set(types)
    # Transcriptions: interim then final, with their text.
    trans = [f.message["data"] for f in out if f.message["type"] == "user-transcription"]
    assert [(t["text"], t["final"]) for t in trans] == [("what time", False), ("what time is it", True)]
    # Word outputs go in order with the audio (not urgent), then what was heard.
    outputs = [f for f in out if f.message["type"] == "bot-output"]
    assert [type(f) for f in outputs] == [OutputTransportMessageFrame] * 3 + [OutputTransportMessageUrgentFrame]
    assert outputs[2].message["data"]["spoken_progress"]["accumulated_text"] == "It is noon."
    last = outputs[-1].message["data"]
    assert last["text"] == "It is noon." and last["spoken_status"] == "completed"
    failed = [f.message["data"] for f in out if f.message["type"] == "llm-function-call-stopped"][1]
    assert failed["result"] == {"error": "timed out"}
    # Every frame was passed on unchanged besides.
    assert sum(isinstance(f, TTSTextFrame) for f in result.down) == 3
    assert any(isinstance(f, BotStartedSpeakingFrame) for f in result.up)


async def test_word_output_carries_its_word_epoch():
    word = TTSTextFrame("hi", 0.0, 0.1)
    word.epoch = 0
    result = await run_test([RTVIProcessor()], frames_to_send=[word])
    [msg] = [f for f in result.down if isinstance(f, OutputTransportMessageFrame)]
    assert msg.epoch == word.epoch

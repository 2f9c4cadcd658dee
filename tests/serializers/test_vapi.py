"""Vapi WebSocket transport, client and server sides: protocols.md §4 vectors, typed
frames, end-call sent once, bad input."""

from __future__ import annotations

import json

import pytest

from wavewire.audio.g711 import ulaw_decode, ulaw_encode
from wavewire.errors import FrameFormatError, ProtocolError
from wavewire.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    EndTaskFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMTextFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from wavewire.serializers.vapi import VapiSerializer, VapiServerSerializer

SAY = (
    '{"type":"say","content":"One moment please.","endCallAfterSpoken":false,'
    '"interruptAssistantEnabled":false}'
)
ADD = (
    '{"type":"add-message","message":{"role":"system","content":"User is a VIP."},'
    '"triggerResponseEnabled":false}'
)


# --- client side: vectors ------------------------------------------------------------


def test_client_message_vectors() -> None:
    ser = VapiSerializer()
    assert ser.encode(TTSSpeakFrame("One moment please.")) == [SAY]
    assert ser.add_message("system", "User is a VIP.", trigger_response=False) == [ADD]
    assert ser.control("mute-assistant") == ['{"type":"control","control":"mute-assistant"}']
    assert ser.end_call() == ['{"type":"end-call"}']
    with pytest.raises(ValueError, match="unknown control"):
        ser.control("mute-everyone")


def test_server_message_vectors() -> None:
    ser = VapiSerializer()
    speech = '{"type":"speech-update","status":"started","role":"user","turn":2,"timestamp":1767225600000}'
    assert ser.decode(speech) == [UserStartedSpeakingFrame()]
    final = '{"type":"transcript","role":"user","transcriptType":"final","transcript":"Book a table for two."}'
    [tr] = ser.decode(final)
    assert isinstance(tr, TranscriptionFrame) and tr.text == "Book a table for two."
    [end] = ser.decode(
        '{"type":"status-update","status":"ended","endedReason":"customer-ended-call"}'
    )
    assert isinstance(end, EndTaskFrame) and "customer-ended-call" in end.reason
    assert ser.ended_reason == "customer-ended-call"
    assert ser.close() == []  # the call is over: no end-call


def test_binary_sizes() -> None:
    pcm = VapiSerializer()
    assert pcm.wire.frame_bytes == 640
    [m] = pcm.encode(OutputAudioFrame(bytes(640), 16000, 1))
    assert m == bytes(640)
    mulaw = VapiSerializer("mulaw")
    [m] = mulaw.encode(OutputAudioFrame(bytes(320), 8000, 1))
    assert m == ulaw_encode(bytes(320)) and len(m) == 160
    assert mulaw.decode(b"\xff" * 160) == [InputAudioFrame(ulaw_decode(b"\xff" * 160), 8000, 1)]
    assert VapiSerializer(sample_rate=24000).decode(bytes(960)) == [
        InputAudioFrame(bytes(960), 24000, 1)
    ]


def test_bad_formats() -> None:
    with pytest.raises(ValueError):
        VapiSerializer("mulaw", 16000)
    with pytest.raises(ValueError):
        VapiSerializer("opus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        VapiSerializer(sample_rate=2000)
    with pytest.raises(FrameFormatError):
        VapiSerializer().encode(OutputAudioFrame(bytes(320), 8000, 1))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('{"type":"speech-update","status":"started","role":"assistant","turn":0}',
         BotStartedSpeakingFrame()),
        ('{"type":"speech-update","status":"stopped","role":"assistant","turn":0}',
         BotStoppedSpeakingFrame()),
        ('{"type":"speech-update","status":"stopped","role":"user","turn":0}',
         UserStoppedSpeakingFrame()),
        ('{"type":"user-interrupted","turnId":"t1"}', InterruptionFrame()),
    ],
)  # fmt: skip
def test_typed_frames(message: str, expected: object) -> None:
    assert VapiSerializer().decode(message) == [expected]


def test_partial_user_and_assistant_transcripts() -> None:
    ser = VapiSerializer()
    [p] = ser.decode(
        '{"type":"transcript","role":"user","transcriptType":"partial","transcript":"Bo"}'
    )
    assert isinstance(p, InterimTranscriptionFrame) and p.text == "Bo"
    msg = {"type": "transcript", "role": "assistant", "transcriptType": "final", "transcript": "Hi"}
    assert ser.decode(json.dumps(msg)) == [InputTransportMessageFrame(message=msg)]


def test_the_rest_goes_up_as_transport_messages() -> None:
    ser = VapiSerializer()
    for msg in (
        {"type": "model-output", "output": "Hel", "turnId": "t"},
        {"type": "conversation-update", "messages": [], "messagesOpenAIFormatted": []},
        {"type": "status-update", "status": "in-progress"},
        {"type": "brand-new-thing"},
    ):
        assert ser.decode(json.dumps(msg)) == [InputTransportMessageFrame(message=msg)]
    assert ser.unknown_types == 1
    assert ser.status == "in-progress"


def test_wrapped_form_is_unwrapped() -> None:
    wrapped = '{"message":{"type":"user-interrupted"}}'
    assert VapiSerializer().decode(wrapped) == [InterruptionFrame()]


def test_end_call_is_sent_once() -> None:
    ser = VapiSerializer()
    assert ser.encode(EndFrame()) == ['{"type":"end-call"}']
    assert ser.encode(EndFrame()) == []
    assert ser.encode(OutputTransportMessageFrame(message={"type": "end-call"})) == []
    assert ser.close() == []
    assert VapiSerializer().close() == ['{"type":"end-call"}']


def test_transport_messages_pass_through() -> None:
    msg = {"type": "transfer", "destination": {"type": "number", "number": "+15550100"}}
    assert VapiSerializer().encode(OutputTransportMessageFrame(message=msg)) == [
        json.dumps(msg, separators=(",", ":"))
    ]


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ("{not json", "invalid JSON"),
        ('"hello"', "JSON object"),
        ('{"status":"ended"}', "string 'type'"),
        ('{"type":5}', "string 'type'"),
    ],
)
def test_bad_text(message: str, match: str) -> None:
    for ser in (VapiSerializer(), VapiServerSerializer()):
        with pytest.raises(ProtocolError, match=match):
            ser.decode(message)


def test_odd_pcm_bytes() -> None:
    with pytest.raises(ProtocolError, match="not whole samples"):
        VapiSerializer().decode(b"\x00\x01\x02")


# --- server side ---------------------------------------------------------------------


def test_server_decodes_client_vectors() -> None:
    ser = VapiServerSerializer()
    assert ser.decode(SAY) == [TTSSpeakFrame("One moment please.")]
    assert ser.decode(ADD) == [InputTransportMessageFrame(message=json.loads(ADD))]
    ctl = '{"type":"control","control":"mute-assistant"}'
    assert ser.decode(ctl) == [InputTransportMessageFrame(message=json.loads(ctl))]
    [end] = ser.decode('{"type":"end-call"}')
    assert isinstance(end, EndTaskFrame)
    assert ser.close() == [
        '{"type":"status-update","status":"ended","endedReason":"customer-ended-call"}'
    ]
    assert ser.close() == []


def test_server_say_then_end() -> None:
    msg = SAY.replace('"endCallAfterSpoken":false', '"endCallAfterSpoken":true')
    frames = VapiServerSerializer().decode(msg)
    assert [type(f) for f in frames] == [TTSSpeakFrame, EndTaskFrame]


def test_server_refuses_bad_control_and_say() -> None:
    with pytest.raises(ProtocolError, match="unknown control"):
        VapiServerSerializer().decode('{"type":"control","control":"explode"}')
    with pytest.raises(ProtocolError, match="'say' without"):
        VapiServerSerializer().decode('{"type":"say"}')


def test_server_encodes_a_conversation() -> None:
    ser = VapiServerSerializer()
    sent: list[object] = []
    sent += ser.open()
    for f in (
        UserStartedSpeakingFrame(),
        InterimTranscriptionFrame("Book a"),
        UserStoppedSpeakingFrame(),
        TranscriptionFrame("Book a table."),
        LLMTextFrame("Sure"),
        BotStartedSpeakingFrame(),
        BotStartedSpeakingFrame(),  # repeated: no second speech-update
        TTSTextFrame("Sure,"),
        OutputAudioFrame(bytes(640), 16000, 1),
        TTSTextFrame("done."),
        BotStoppedSpeakingFrame(),
        InterruptionFrame(),
        UserStartedSpeakingFrame(),
        EndFrame(),
        OutputAudioFrame(bytes(640), 16000, 1),  # after the end: nothing
    ):
        sent += ser.encode(f)
    sent += ser.close()
    texts = [json.loads(m) for m in sent if isinstance(m, str)]
    assert [m for m in sent if isinstance(m, bytes)] == [bytes(640)]
    assert texts == [
        {"type": "status-update", "status": "in-progress"},
        {"type": "speech-update", "status": "started", "role": "user", "turn": 0},
        {"type": "transcript", "role": "user", "transcriptType": "partial", "transcript": "Book a"},
        {"type": "speech-update", "status": "stopped", "role": "user", "turn": 0},
        {"type": "transcript", "role": "user", "transcriptType": "final",
         "transcript": "Book a table."},
        {"type": "model-output", "output": "Sure"},
        {"type": "speech-update", "status": "started", "role": "assistant", "turn": 0},
        {"type": "transcript", "role": "assistant", "transcriptType": "partial",
         "transcript": "Sure,"},
        {"type": "transcript", "role": "assistant", "transcriptType": "partial",
         "transcript": "Sure, done."},
        {"type": "speech-update", "status": "stopped", "role": "assistant", "turn": 0},
        {"type": "transcript", "role": "assistant", "transcriptType": "final",
         "transcript": "Sure, done."},
        {"type": "user-interrupted"},
        {"type": "speech-update", "status": "started", "role": "user", "turn": 1},
        {"type": "status-update", "status": "ended", "endedReason": "assistant-ended-call"},
    ]  # fmt: skip


def test_client_and_server_talk() -> None:
    """A Vapi client (ours) against our server: what one encodes the other decodes."""
    client, server = VapiSerializer(), VapiServerSerializer()
    [say] = client.encode(TTSSpeakFrame("hello"))
    assert server.decode(say) == [TTSSpeakFrame("hello")]
    [up] = server.encode(BotStartedSpeakingFrame())
    assert client.decode(up) == [BotStartedSpeakingFrame()]
    [audio] = server.encode(OutputAudioFrame(b"\x01\x00", 16000, 1))
    assert client.decode(audio) == [InputAudioFrame(b"\x01\x00", 16000, 1)]
    [end] = client.close()
    assert [type(f) for f in server.decode(end)] == [EndTaskFrame]
    [ended] = server.close()
    assert [type(f) for f in client.decode(ended)] == [EndTaskFrame]

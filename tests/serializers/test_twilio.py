"""Twilio Media Streams: protocols.md §11 vectors, the start/stop lifecycle, marks, DTMF,
media and barge-in cross-checked with pipecat-ai's TwilioFrameSerializer,
bad input."""

from __future__ import annotations

import asyncio
import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest

from wavewire.audio.g711 import ulaw_decode, ulaw_encode
from wavewire.errors import FrameFormatError, InvalidStateError, ProtocolError
from wavewire.frames import (
    EndFrame,
    EndTaskFrame,
    InputAudioFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    PlaybackMarkFrame,
)
from wavewire.serializers.twilio import TwilioSerializer

from .._optional import need

CONNECTED = '{"event":"connected","protocol":"Call","version":"1.0.0"}'
START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": "MZ123",
    "start": {
        "streamSid": "MZ123",
        "accountSid": "AC9",
        "callSid": "CA7",
        "tracks": ["inbound"],
        "customParameters": {"caller": "+15550100", "lang": "en"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}
MEDIA = (
    '{"event":"media","sequenceNumber":"3","streamSid":"MZ123","media":{"track":"inbound",'
    '"chunk":"2","timestamp":"40","payload":"//////////8="}}'
)


def started() -> TwilioSerializer:
    ser = TwilioSerializer()
    assert ser.decode(CONNECTED) == []
    ser.decode(json.dumps(START))
    return ser


def test_connected_and_start() -> None:
    ser = TwilioSerializer()
    assert ser.decode(CONNECTED) == []
    assert ser.protocol_version == "1.0.0"
    frames = ser.decode(json.dumps(START))
    assert frames == [InputTransportMessageFrame(message=START)]
    assert (ser.stream_sid, ser.call_sid, ser.account_sid) == ("MZ123", "CA7", "AC9")
    assert ser.custom_parameters == {"caller": "+15550100", "lang": "en"}
    assert ser.tracks == ["inbound"]
    assert ser.playback_marks is True


def test_media_vector_is_mulaw_silence() -> None:
    [frame] = started().decode(MEDIA)
    assert isinstance(frame, InputAudioFrame)
    assert (frame.sample_rate, frame.num_channels) == (8000, 1)
    assert frame.audio == ulaw_decode(b"\xff" * 8)
    assert len(frame.audio) == 16


def test_media_before_start() -> None:
    with pytest.raises(ProtocolError, match="'media' before 'start'"):
        TwilioSerializer().decode(MEDIA)


def test_outbound_track_is_dropped_and_counted() -> None:
    ser = started()
    assert ser.decode(MEDIA.replace('"track":"inbound"', '"track":"outbound"')) == []
    assert ser.ignored_media == 1


def test_encode_media_clear_mark() -> None:
    ser = started()
    pcm = bytes.fromhex("0000ff7f0080e803")
    [media] = ser.encode(OutputAudioFrame(pcm, 8000, 1))
    msg = json.loads(media)
    assert msg == {
        "event": "media",
        "streamSid": "MZ123",
        "media": {"payload": base64.b64encode(ulaw_encode(pcm)).decode()},
    }
    assert ser.encode(InterruptionFrame()) == ['{"event":"clear","streamSid":"MZ123"}']
    assert ser.encode(PlaybackMarkFrame("utt-1")) == [
        '{"event":"mark","streamSid":"MZ123","mark":{"name":"utt-1"}}'
    ]


def test_mark_echo_becomes_a_playback_mark() -> None:
    echo = '{"event":"mark","sequenceNumber":"57","streamSid":"MZ123","mark":{"name":"utt-1"}}'
    assert started().decode(echo) == [PlaybackMarkFrame("utt-1")]


def test_dtmf() -> None:
    ser = started()
    msg = '{"event":"dtmf","streamSid":"MZ123","dtmf":{"track":"inbound_track","digit":"5"}}'
    assert ser.decode(msg) == [InputDTMFFrame("5")]
    with pytest.raises(ProtocolError, match="invalid digit"):
        ser.decode(msg.replace('"5"', '"55"'))


def test_stop_ends_the_task_and_silences_output() -> None:
    ser = started()
    stop = '{"event":"stop","streamSid":"MZ123","stop":{"accountSid":"AC9","callSid":"CA7"}}'
    [frame] = ser.decode(stop)
    assert isinstance(frame, EndTaskFrame)
    assert ser.stopped
    assert ser.encode(OutputAudioFrame(bytes(320), 8000, 1)) == []


def test_sending_before_the_stream_is_known() -> None:
    ser = TwilioSerializer()
    with pytest.raises(InvalidStateError, match="before the 'start'"):
        ser.encode(OutputAudioFrame(bytes(320), 8000, 1))
    with pytest.raises(InvalidStateError):
        ser.encode(PlaybackMarkFrame("m"))
    assert ser.encode(InterruptionFrame()) == []
    known = TwilioSerializer(stream_sid='MZ"odd')
    [m] = known.encode(OutputAudioFrame(bytes(2), 8000, 1))
    assert json.loads(m)["streamSid"] == 'MZ"odd'  # the sid is JSON-escaped


def test_transport_messages_and_other_frames() -> None:
    ser = started()
    assert ser.encode(OutputTransportMessageFrame(message={"event": "custom"})) == [
        '{"event":"custom"}'
    ]
    assert ser.encode(EndFrame()) == []  # hang-up is a REST call


def test_output_format_is_checked() -> None:
    with pytest.raises(FrameFormatError):
        started().encode(OutputAudioFrame(bytes(640), 16000, 1))


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ('{"event":"media","media":{"payload":"//8"}}', "not valid base64"),
        ('{"event":"media","media":{"payload":"/ /8="}}', "not valid base64"),
        ('{"event":"media","media":{"payload":5}}', "base64 string"),
        ('{"event":"media"}', "without a media object"),
        ('{"event":"mark","mark":{}}', "mark.name"),
        ('{"event":"media"', "invalid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"sequenceNumber":"4"}', "without 'event'"),
    ],
)
def test_bad_messages(message: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        started().decode(message)


def test_bad_start_messages() -> None:
    with pytest.raises(ProtocolError, match="without streamSid"):
        TwilioSerializer().decode('{"event":"start","start":{}}')
    bad = json.loads(json.dumps(START))
    bad["start"]["mediaFormat"]["sampleRate"] = 16000
    with pytest.raises(ProtocolError, match="unsupported media format") as info:
        TwilioSerializer().decode(json.dumps(bad))
    assert info.value.fatal


def test_binary_where_text_expected() -> None:
    with pytest.raises(ProtocolError, match="expected a text") as info:
        started().decode(b"\xff\xff")
    assert info.value.close_code == 1003


def test_unknown_events_are_counted_and_ignored() -> None:
    ser = started()
    assert ser.decode('{"event":"transcription","x":1}') == []
    assert ser.unknown_events == 1


def test_round_trip_through_a_peer() -> None:
    """What we send as media is what a Twilio-side decoder hears (μ-law round trip)."""
    ser = started()
    pcm = b"".join(int(v).to_bytes(2, "little", signed=True) for v in range(-8000, 8000, 100))
    [m] = ser.encode(OutputAudioFrame(pcm, 8000, 1))
    payload = json.loads(m)["media"]["payload"]
    inbound = MEDIA.replace("//////////8=", payload)
    [frame] = started().decode(inbound)
    assert frame.audio == ulaw_decode(ulaw_encode(pcm))


# --- against pipecat-ai's TwilioFrameSerializer (an independent implementation) ----------


@pytest.fixture
def pipecat_twilio() -> Any:
    twilio = need("pipecat.serializers.twilio")
    params = twilio.TwilioFrameSerializer.InputParams(auto_hang_up=False, sample_rate=8000)
    theirs = twilio.TwilioFrameSerializer("MZ123", params=params)
    asyncio.run(theirs.setup(SimpleNamespace(audio_in_sample_rate=8000)))
    return need("pipecat.frames.frames"), theirs


def _payloads(messages: list[str]) -> tuple[bytes, list[dict[str, Any]]]:
    parsed = [json.loads(m) for m in messages]
    return b"".join(base64.b64decode(p["media"]["payload"]) for p in parsed), parsed


@pytest.mark.pipecat
def test_media_we_send_is_what_pipecat_sends(pipecat_twilio: Any) -> None:
    pf, theirs = pipecat_twilio
    pcm = b"".join(((i * 397) % 65536 - 32768).to_bytes(2, "little", signed=True)
                   for i in range(1600))  # 200 ms at 8 kHz sweeping the whole range
    ours, ours_parsed = _payloads(started().encode(OutputAudioFrame(pcm, 8000, 1)))
    expected, [their_msg] = _payloads(
        [asyncio.run(theirs.serialize(pf.OutputAudioRawFrame(audio=pcm, sample_rate=8000,
                                                             num_channels=1)))])
    assert ours == expected and len(ours) == 1600  # the same µ-law bytes
    for msg in ours_parsed:
        assert msg.keys() == their_msg.keys() == {"event", "streamSid", "media"}
        assert (msg["event"], msg["streamSid"]) == ("media", "MZ123")


@pytest.mark.pipecat
def test_media_we_receive_reads_as_pipecat_reads_it(pipecat_twilio: Any) -> None:
    pf, theirs = pipecat_twilio
    every_code = base64.b64encode(bytes(range(256))).decode()
    media = MEDIA.replace("//////////8=", every_code)
    got = asyncio.run(theirs.deserialize(media))
    assert type(got) is pf.InputAudioRawFrame and got.sample_rate == 8000
    [frame] = started().decode(media)
    assert isinstance(frame, InputAudioFrame)
    assert frame.audio == got.audio and len(frame.audio) == 512


@pytest.mark.pipecat
def test_barge_in_clear_is_what_pipecat_sends(pipecat_twilio: Any) -> None:
    pf, theirs = pipecat_twilio
    [ours] = started().encode(InterruptionFrame())
    assert json.loads(ours) == json.loads(asyncio.run(theirs.serialize(pf.InterruptionFrame())))

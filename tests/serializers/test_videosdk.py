"""VideoSDK custom WebSocket ingest, client and server sides: protocols.md §3 vectors,
pub/sub limits checked before sending, bad input."""

from __future__ import annotations

import base64
import json

import pytest

from wavewire.errors import MessageTooLargeError, ProtocolError
from wavewire.frames import (
    EndTaskFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from wavewire.serializers.videosdk import (
    MAX_PAYLOAD_BYTES,
    VideoSDKSerializer,
    VideoSDKServerSerializer,
)


def test_start_and_stop() -> None:
    ser = VideoSDKSerializer()
    assert ser.open() == ['{"event":"start"}']
    assert ser.close() == ['{"event":"stop"}']
    assert ser.close() == []


def test_silent_frame_vector() -> None:
    [m] = VideoSDKSerializer().encode(OutputAudioFrame(bytes(320), 8000, 1))
    # 428 characters; protocols.md says "all A", but 320 bytes need one "=" of padding
    assert m == '{"event":"media","payload":"' + "A" * 427 + '="}'


def test_two_sample_vector_both_ways() -> None:
    vector = '{"event":"media","payload":"AQD/fw=="}'
    pcm = b"\x01\x00\xff\x7f"
    assert VideoSDKSerializer().encode(OutputAudioFrame(pcm, 8000, 1)) == [vector]
    assert VideoSDKSerializer().decode(vector) == [InputAudioFrame(pcm, 8000, 1)]


def test_long_audio_is_split_into_20_ms_messages() -> None:
    pcm = bytes(range(256)) * 3  # 768 bytes = 48 ms
    msgs = VideoSDKSerializer().encode(OutputAudioFrame(pcm, 8000, 1))
    assert len(msgs) == 3
    back = b"".join(base64.b64decode(json.loads(m)["payload"]) for m in msgs)  # by hand
    assert back == pcm


def test_publish_vector_and_what_a_subscriber_receives() -> None:
    ser = VideoSDKSerializer()
    assert ser.encode(OutputTransportMessageFrame(message={"k": 1}, topic="CHAT")) == [
        '{"event":"message","topic":"CHAT","data":{"k":1}}'
    ]
    data = {
        "message": '{"k":1}',
        "senderId": "p-1",
        "senderName": "Bot",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "id": "m-1",
    }
    received = json.dumps({"event": "message", "topic": "CHAT", "data": data})
    assert ser.decode(received) == [InputTransportMessageFrame(message=data, topic="CHAT")]


def test_subscribe_helpers_and_resubscribe_on_reconnect() -> None:
    ser = VideoSDKSerializer()
    assert ser.subscribe("CHAT") == ['{"event":"subscribe","topic":"CHAT"}']
    assert ser.encode(
        OutputTransportMessageUrgentFrame(message={"event": "subscribe", "topic": "ALERTS"})
    ) == ['{"event":"subscribe","topic":"ALERTS"}']
    assert ser.open() == [
        '{"event":"start"}',
        '{"event":"subscribe","topic":"ALERTS"}',
        '{"event":"subscribe","topic":"CHAT"}',
    ]
    assert ser.unsubscribe("ALERTS") == ['{"event":"unsubscribe","topic":"ALERTS"}']
    assert ser.topics == {"CHAT"}


def test_default_topic() -> None:
    ser = VideoSDKSerializer(default_topic="BOT")
    [m] = ser.encode(OutputTransportMessageFrame(message="hello"))
    assert json.loads(m) == {"event": "message", "topic": "BOT", "data": "hello"}
    with pytest.raises(ProtocolError, match="needs a topic"):
        VideoSDKSerializer().encode(OutputTransportMessageFrame(message="hello"))


@pytest.mark.parametrize("topic", ["", "x" * 129, 5])
def test_bad_topics_are_refused_before_sending(topic: object) -> None:
    ser = VideoSDKSerializer()
    with pytest.raises(ProtocolError, match="topic"):
        ser.publish(topic, "hi")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="topic"):
        ser.subscribe(topic)  # type: ignore[arg-type]
    with pytest.raises(ProtocolError):
        VideoSDKSerializer(default_topic=topic)  # type: ignore[arg-type]


def test_topic_of_exactly_128_characters_is_fine() -> None:
    assert len(VideoSDKSerializer().publish("t" * 128, "x")) == 1


def test_payload_limit_counts_utf8_bytes() -> None:
    ser = VideoSDKSerializer()
    assert ser.publish("T", "a" * MAX_PAYLOAD_BYTES)
    with pytest.raises(MessageTooLargeError, match="8001 bytes"):
        ser.publish("T", "a" * (MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(MessageTooLargeError):  # 2 bytes per é: 4001 characters is too many
        ser.encode(OutputTransportMessageFrame(message="é" * 4001, topic="T"))
    big = {"k": "x" * MAX_PAYLOAD_BYTES}  # the serialized JSON is what counts
    with pytest.raises(MessageTooLargeError):
        ser.publish("T", big)


def test_extra_events_and_unknown_events() -> None:
    ser = VideoSDKSerializer()
    for msg in (
        {"event": "participant-joined", "participant": {"id": "p", "name": "A", "metadata": {}}},
        {"event": "participant-left", "participant": {"id": "p", "name": "A", "metadata": {}}},
        {"event": "meeting-joined", "roomId": "r-1", "sessionId": "s"},
        {"event": "meeting-left"},
    ):
        assert ser.decode(json.dumps(msg)) == [InputTransportMessageFrame(message=msg)]
    assert ser.room_id == "r-1"
    assert ser.decode('{"event":"recording-started"}') == []
    assert ser.unknown_events == 1


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ('{"event":"media","payload":"AQD/fw="}', "not valid base64"),
        ('{"event":"media","payload":"AQ=="}', "not whole samples"),
        ('{"event":"media"}', "base64 string"),
        ('{"payload":"AAAA"}', "without 'event'"),
        ("{", "invalid JSON"),
        ('{"event":"message","topic":"","data":"x"}', "topic"),
    ],
)
def test_bad_messages(message: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        VideoSDKSerializer().decode(message)


def test_binary_where_text_expected() -> None:
    for ser in (VideoSDKSerializer(), VideoSDKServerSerializer()):
        with pytest.raises(ProtocolError, match="expected a text") as info:
            ser.decode(bytes(320))
        assert info.value.close_code == 1003


# --- server side ----------------------------------------------------------------------


def test_server_session() -> None:
    client, server = VideoSDKSerializer(), VideoSDKServerSerializer()
    with pytest.raises(ProtocolError, match="before 'start'"):
        server.decode('{"event":"media","payload":"AQD/fw=="}')
    [start] = client.open()
    assert server.decode(start) == [InputTransportMessageFrame(message={"event": "start"})]
    assert server.started
    [media] = client.encode(OutputAudioFrame(b"\x01\x00\xff\x7f", 8000, 1))
    assert server.decode(media) == [InputAudioFrame(b"\x01\x00\xff\x7f", 8000, 1)]
    [sub] = client.subscribe("CHAT")
    [frame] = server.decode(sub)
    assert frame.topic == "CHAT" and server.topics == {"CHAT"}
    [pub] = client.publish("CHAT", {"k": 1})
    assert server.decode(pub) == [InputTransportMessageFrame(message={"k": 1}, topic="CHAT")]
    # server → client: only subscribed topics are delivered
    data = {"message": "hi", "senderId": "p-2", "senderName": "Ann"}
    [out] = server.encode(OutputTransportMessageFrame(message=data, topic="CHAT"))
    assert client.decode(out) == [InputTransportMessageFrame(message=data, topic="CHAT")]
    assert server.encode(OutputTransportMessageFrame(message=data, topic="OTHER")) == []
    joined = {"event": "participant-joined", "participant": {"id": "p-2", "name": "Ann"}}
    [j] = server.encode(OutputTransportMessageFrame(message=joined))
    assert client.decode(j) == [InputTransportMessageFrame(message=joined)]
    [mixed] = server.encode(OutputAudioFrame(bytes(320), 8000, 1))
    assert client.decode(mixed) == [InputAudioFrame(bytes(320), 8000, 1)]
    [stop] = client.close()
    assert [type(f) for f in server.decode(stop)] == [EndTaskFrame]


def test_server_enforces_limits_on_receipt() -> None:
    server = VideoSDKServerSerializer()
    big = json.dumps({"event": "message", "topic": "T", "data": "a" * (MAX_PAYLOAD_BYTES + 1)})
    with pytest.raises(MessageTooLargeError):
        server.decode(big)
    with pytest.raises(ProtocolError, match="128"):
        server.decode(json.dumps({"event": "subscribe", "topic": "t" * 129}))

"""Raw PCM + JSON: binary audio both ways, JSON transport messages, bad input."""

from __future__ import annotations

import pytest

from wavewire.errors import FrameFormatError, ProtocolError
from wavewire.frames import (
    InputAudioFrame,
    InputTransportMessageFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
)
from wavewire.serializers.raw import RawSerializer


def test_audio_both_ways() -> None:
    ser = RawSerializer()
    assert ser.encode(OutputAudioFrame(b"\x01\x00\xff\x7f", 16000, 1)) == [b"\x01\x00\xff\x7f"]
    assert ser.decode(b"\x01\x00\xff\x7f") == [InputAudioFrame(b"\x01\x00\xff\x7f", 16000, 1)]
    stereo = RawSerializer(48000, 2)
    assert stereo.decode(bytes(8)) == [InputAudioFrame(bytes(8), 48000, 2)]
    assert ser.decode(b"") == []


@pytest.mark.parametrize(("ser", "size"), [(RawSerializer(), 3), (RawSerializer(8000, 2), 6)])
def test_partial_sample_frames(ser: RawSerializer, size: int) -> None:
    with pytest.raises(ProtocolError, match="whole number"):
        ser.decode(bytes(size))


def test_messages_both_ways() -> None:
    ser = RawSerializer()
    assert ser.encode(OutputTransportMessageFrame(message={"a": 1})) == ['{"a":1}']
    assert ser.encode(OutputTransportMessageUrgentFrame(message="hi")) == ['"hi"']
    assert ser.decode('{"a": [1, 2]}') == [InputTransportMessageFrame(message={"a": [1, 2]})]
    assert ser.decode('"hi"') == [InputTransportMessageFrame(message="hi")]


def test_invalid_json() -> None:
    with pytest.raises(ProtocolError, match="invalid JSON"):
        RawSerializer().decode("{nope")


def test_format_checks_and_ignored_frames() -> None:
    with pytest.raises(FrameFormatError):
        RawSerializer().encode(OutputAudioFrame(bytes(4), 8000, 1))
    assert RawSerializer().encode(TextFrame("x")) == []
    with pytest.raises(ValueError):
        RawSerializer(0)


@pytest.mark.parametrize("channels", [1, 2])
def test_encode_audio_is_encode_of_an_output_audio_frame(channels: int) -> None:
    ser = RawSerializer(8000, channels)
    for size in (0, 2 * channels, 640 * channels, 1280 * channels):
        pcm = bytes(range(256)) * (size // 256) + bytes(size % 256)
        want = ser.encode(OutputAudioFrame(pcm, 8000, channels))
        assert ser.encode_audio(pcm) == want
    with pytest.raises(FrameFormatError):  # a partial sample frame, refused by both
        ser.encode_audio(bytes(2 * channels + 1))


def test_the_default_encode_audio_goes_through_encode() -> None:
    from wavewire.serializers.base import FrameSerializer, WireFormat

    class Tagged(FrameSerializer):
        wire = WireFormat(sample_rate=24000, num_channels=2)

        def encode(self, frame):  # type: ignore[no-untyped-def]
            return [f"{type(frame).__name__} {frame.sample_rate} {frame.num_channels} "
                    f"{len(frame.audio)}"]

    assert Tagged().encode_audio(bytes(960)) == ["OutputAudioFrame 24000 2 960"]

"""Pipecat protobuf frames: protocols.md §10 vectors, cross-checks with the generated
module and with pipecat-ai's own ProtobufFrameSerializer (when installed), bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wavewire.errors import FrameFormatError, ProtocolError
from wavewire.frames import (
    EndFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMTextFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
    TranscriptionFrame,
    TTSTextFrame,
)
from wavewire.serializers.pipecat import PipecatSerializer

from .._optional import need
from ._generated import load

TS = "2025-01-01T00:00:00Z"
VECTORS: list[tuple[Any, str]] = [
    (TextFrame("hi"), "0a041a026869"),
    (OutputAudioFrame(bytes.fromhex("01000200"), 16000, 1), "120b1a040100020020807d2801"),
    (
        TranscriptionFrame("hello", user_id="u1", timestamp=TS),
        "1a211a0568656c6c6f220275312a14" + TS.encode().hex(),
    ),
    (
        OutputTransportMessageFrame(message={"type": "ping"}),
        "22110a0f7b2274797065223a2270696e67227d",
    ),
    (InterruptionFrame(), "2a00"),
]


@pytest.mark.parametrize(("frame", "hex_"), VECTORS)
def test_encode_vectors(frame: Any, hex_: str) -> None:
    assert PipecatSerializer().encode(frame) == [bytes.fromhex(hex_)]


def test_decode_vectors() -> None:
    ser = PipecatSerializer()
    dec = [ser.decode(bytes.fromhex(h)) for _, h in VECTORS]
    assert dec == [
        [TextFrame("hi")],
        [InputAudioFrame(b"\x01\x00\x02\x00", 16000, 1)],
        [TranscriptionFrame("hello", user_id="u1", timestamp=TS)],
        [InputTransportMessageFrame(message={"type": "ping"})],
        [InterruptionFrame()],
    ]


def test_what_pipecat_really_emits_for_a_text_frame() -> None:
    # id 1 and name "TextFrame#0" are skipped, the text is kept
    data = bytes.fromhex("0a13080112" + "0b" + b"TextFrame#0".hex() + "1a026869")
    assert PipecatSerializer().decode(data) == [TextFrame("hi")]


def test_subclasses_and_urgent_messages() -> None:
    ser = PipecatSerializer()
    assert ser.encode(LLMTextFrame("a")) == ser.encode(TextFrame("a"))
    assert ser.encode(TTSTextFrame("a", start_s=0.5)) == ser.encode(TextFrame("a"))
    assert ser.encode(OutputTransportMessageUrgentFrame(message=[1])) == [
        bytes.fromhex("2205") + bytes.fromhex("0a03") + b"[1]"
    ]


def test_frames_pipecat_cannot_carry() -> None:
    ser = PipecatSerializer()
    assert ser.encode(EndFrame()) == []
    assert ser.encode(InterimTranscriptionFrame("x")) == []


def test_inbound_audio_keeps_its_own_format_and_pts() -> None:
    pb = load("wavewire.protos.frames_pb2")
    msg = pb.Frame(audio=pb.AudioRawFrame(audio=bytes(8), sample_rate=24000, num_channels=2))
    msg.audio.pts = 500_000_000  # 0.5 s in nanoseconds
    [frame] = PipecatSerializer(sample_rate=8000).decode(msg.SerializeToString())
    assert frame == InputAudioFrame(bytes(8), 24000, 2, pts=12000)


def test_outbound_pts_in_nanoseconds() -> None:
    pb = load("wavewire.protos.frames_pb2")
    [data] = PipecatSerializer().encode(OutputAudioFrame(bytes(4), 16000, 1, pts=16000))
    ref = pb.Frame.FromString(data)
    assert ref.audio.pts == 1_000_000_000 and ref.audio.HasField("pts")


def test_outbound_audio_format_is_checked() -> None:
    with pytest.raises(FrameFormatError):
        PipecatSerializer().encode(OutputAudioFrame(bytes(4), 8000, 1))


# --- cross-checks with the generated module ---------------------------------------------

texts = st.text(max_size=40)


@given(text=texts, user=texts, ts=texts)
def test_transcription_matches_generated(text: str, user: str, ts: str) -> None:
    pb = load("wavewire.protos.frames_pb2")
    [ours] = PipecatSerializer().encode(TranscriptionFrame(text, user_id=user, timestamp=ts))
    ref = pb.Frame(transcription=pb.TranscriptionFrame(text=text, user_id=user, timestamp=ts))
    assert ours == ref.SerializeToString()
    assert PipecatSerializer().decode(ref.SerializeToString()) == [
        TranscriptionFrame(text, user_id=user, timestamp=ts)
    ]


@given(
    samples=st.integers(0, 400),
    rate=st.sampled_from([8000, 16000, 24000, 48000]),
    channels=st.integers(1, 2),
    pts=st.one_of(st.none(), st.integers(0, 10**9)),
    junk_id=st.integers(0, 2**64 - 1),
    name=texts,
)
def test_audio_matches_generated(
    samples: int, rate: int, channels: int, pts: int | None, junk_id: int, name: str
) -> None:
    pb = load("wavewire.protos.frames_pb2")
    pcm = bytes(range(256)) * (samples * channels * 2 // 256) + bytes(samples * channels * 2 % 256)
    ser = PipecatSerializer(sample_rate=rate, num_channels=channels)
    msgs = ser.encode(OutputAudioFrame(pcm, rate, channels, pts=pts))
    ref = pb.Frame(audio=pb.AudioRawFrame(audio=pcm, sample_rate=rate, num_channels=channels))
    if pts is not None:
        ref.audio.pts = pts * 1_000_000_000 // rate
    assert msgs == ([ref.SerializeToString()] if samples else [])
    # inbound, with Pipecat's id/name present
    ref.audio.id = junk_id
    ref.audio.name = name
    frames = ser.decode(ref.SerializeToString())
    if samples:
        assert frames == [
            InputAudioFrame(
                pcm, rate, channels, None if pts is None else ref.audio.pts * rate // 10**9
            )
        ]
    else:
        assert frames == []


def _stricter_on_purpose(ref: Any) -> bool:
    """True if protobuf accepts ``ref`` but wavewire must refuse it (module docstring)."""
    which = ref.WhichOneof("frame")
    if which == "audio":
        a = ref.audio
        return not a.sample_rate or not a.num_channels or len(a.audio) % (2 * a.num_channels) != 0
    if which == "message":
        try:
            json.loads(ref.message.data)
        except ValueError:
            return True
    return False


@given(st.binary(max_size=60))
def test_random_bytes_either_decode_like_protobuf_or_raise(data: bytes) -> None:
    pb = load("wavewire.protos.frames_pb2")
    from google.protobuf.message import DecodeError

    try:
        ref = pb.Frame.FromString(data)
    except DecodeError:
        ref = None
    try:
        ours = PipecatSerializer().decode(data)
    except ProtocolError as exc:
        # Refusing is right only where protobuf refuses too, or where we are stricter on
        # purpose: audio without a format or not whole sample frames, JSON that is not
        # JSON. A decoder that refused anything else fails here.
        assert ref is None or _stricter_on_purpose(ref), (
            f"we refused {data.hex()} ({exc}), protobuf reads {ref.WhichOneof('frame')}")
        return
    assert ref is not None, f"protobuf refused {data.hex()} but we accepted it"
    which = ref.WhichOneof("frame")
    if which == "text":
        assert ours == [TextFrame(ref.text.text)]
    elif which == "interruption":
        assert ours == [InterruptionFrame()]
    elif which == "transcription":
        t = ref.transcription
        assert ours == [TranscriptionFrame(t.text, user_id=t.user_id, timestamp=t.timestamp)]
    elif which == "audio":
        assert ours == ([] if not ref.audio.audio else [InputAudioFrame(
            ref.audio.audio, ref.audio.sample_rate, ref.audio.num_channels,
            ref.audio.pts * ref.audio.sample_rate // 10**9 if ref.audio.HasField("pts") else None,
        )])  # fmt: skip
    elif which == "message":
        assert ours == [InputTransportMessageFrame(message=json.loads(ref.message.data))]
    else:
        assert ours == []


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("0a031a0368", "wants 3 bytes, 1 left"),  # text cut short inside
        ("0a08", "wants 8 bytes"),  # envelope cut short
        ("12", "truncated varint"),
        ("1206" + "1a0201002801", "sample_rate"),  # no sample rate
        ("120a" + "1a0301000020807d2801", "whole number"),  # odd audio
        ("22090a07" + b'{"a:1},'.hex(), "not JSON"),  # {"a:1}, + junk
        ("0a041a02ff68", "UTF-8"),
    ],
)
def test_malformed(data: str, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        PipecatSerializer().decode(bytes.fromhex(data))


def test_text_where_binary_expected() -> None:
    with pytest.raises(ProtocolError, match="expected a binary") as info:
        PipecatSerializer().decode('{"text": "hi"}')
    assert info.value.close_code == 1003


def test_empty_and_unknown_envelopes_are_counted_and_ignored() -> None:
    ser = PipecatSerializer()
    assert ser.decode(b"") == []
    assert ser.decode(bytes.fromhex("3a021a00")) == []  # field 7: a newer Pipecat's frame
    assert ser.unknown_messages == 2


def test_last_oneof_member_wins() -> None:
    data = bytes.fromhex("0a041a026869") + bytes.fromhex("2a00")
    assert PipecatSerializer().decode(data) == [InterruptionFrame()]


# --- against pipecat-ai itself ------------------------------------------------------------


@pytest.fixture(scope="module")
def pipecat() -> Any:
    pf = need("pipecat.frames.frames")
    return pf, need("pipecat.serializers.protobuf").ProtobufFrameSerializer()


@pytest.mark.pipecat
def test_pipecat_reads_what_we_write(pipecat: Any) -> None:
    pf, theirs = pipecat
    ser = PipecatSerializer()

    def read(frame: Any) -> Any:
        [data] = ser.encode(frame)
        return asyncio.run(theirs.deserialize(data))

    text = read(TextFrame("hello"))
    assert type(text) is pf.TextFrame and text.text == "hello"
    audio = read(OutputAudioFrame(b"\x01\x00\x02\x00", 16000, 1))
    assert type(audio) is pf.InputAudioRawFrame
    assert (audio.audio, audio.sample_rate, audio.num_channels) == (b"\x01\x00\x02\x00", 16000, 1)
    tr = read(TranscriptionFrame("hi there", user_id="u1", timestamp=TS))
    assert (type(tr), tr.text, tr.user_id, tr.timestamp) == (
        pf.TranscriptionFrame,
        "hi there",
        "u1",
        TS,
    )
    msg = read(OutputTransportMessageFrame(message={"a": [1, "é"]}))
    assert type(msg) is pf.InputTransportMessageFrame and msg.message == {"a": [1, "é"]}
    assert type(read(InterruptionFrame())) is pf.InterruptionFrame


@pytest.mark.pipecat
def test_we_read_what_pipecat_writes(pipecat: Any) -> None:
    pf, theirs = pipecat
    ser = PipecatSerializer()

    def write(frame: Any) -> list[Any]:
        data = asyncio.run(theirs.serialize(frame))
        return ser.decode(data)

    assert write(pf.TextFrame(text="hello")) == [TextFrame("hello")]
    assert write(pf.OutputAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1)) == [
        InputAudioFrame(bytes(640), 16000, 1)
    ]
    assert write(pf.TranscriptionFrame(text="yes", user_id="u", timestamp=TS)) == [
        TranscriptionFrame("yes", user_id="u", timestamp=TS)
    ]
    assert write(pf.OutputTransportMessageUrgentFrame(message={"k": 1})) == [
        InputTransportMessageFrame(message={"k": 1})
    ]
    assert write(pf.InterruptionFrame()) == [InterruptionFrame()]


@pytest.mark.pipecat
@settings(max_examples=30)
@given(text=st.text(max_size=30), user=st.text(max_size=10))
def test_pipecat_round_trip_property(text: str, user: str) -> None:
    theirs = need("pipecat.serializers.protobuf").ProtobufFrameSerializer()
    [data] = PipecatSerializer().encode(TranscriptionFrame(text, user_id=user, timestamp=TS))
    got = asyncio.run(theirs.deserialize(data))
    assert (got.text, got.user_id, got.timestamp) == (text, user, TS)

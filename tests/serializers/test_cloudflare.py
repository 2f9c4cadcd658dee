"""Cloudflare Realtime SFU WebSocket adapter: protocols.md §1.2 vectors, splitting at the
size limit, sequence accounting, JPEG detection, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavewire.errors import FrameFormatError, ProtocolError
from wavewire.frames import (
    InputAudioFrame,
    InputImageFrame,
    OutputAudioFrame,
    TextFrame,
)
from wavewire.serializers.cloudflare import CloudflareAdapterSerializer, max_payload_size

from ._generated import load


def packet(seq: int | None, payload: bytes, ts: int = 0) -> bytes:
    pb = load("wavewire.protos.packet_pb2")
    p = pb.Packet(payload=payload, timestamp=ts)
    if seq is not None:
        p.sequenceNumber = seq
    return p.SerializeToString()


def out(pcm: bytes) -> OutputAudioFrame:
    return OutputAudioFrame(pcm, 48000, 2)


# --- vectors ------------------------------------------------------------------------


def test_ingest_vector() -> None:
    ser = CloudflareAdapterSerializer("ingest")
    assert ser.encode(out(bytes.fromhex("0100ff7f"))) == [bytes.fromhex("2a040100ff7f")]


def test_egress_vector() -> None:
    ser = CloudflareAdapterSerializer("stream")
    [frame] = ser.decode(bytes.fromhex("080110c0072a0401000100"))
    assert frame == InputAudioFrame(b"\x01\x00\x01\x00", 48000, 2)
    assert (ser.packets, ser.lost, ser.duplicates) == (1, 0, 0)


def test_empty_packet_carries_nothing() -> None:
    ser = CloudflareAdapterSerializer("stream")
    assert ser.decode(b"") == []
    assert CloudflareAdapterSerializer("ingest").encode(out(b"")) == []


def test_reference_chunk_size_and_32764_byte_payload() -> None:
    ser = CloudflareAdapterSerializer("ingest")
    [msg] = ser.encode(out(bytes(16384)))
    assert len(msg) == 16388
    assert msg[:4] == b"\x2a\x80\x80\x01"
    big = CloudflareAdapterSerializer("ingest", max_message_size=32000)
    msgs = big.encode(out(bytes(32764)))
    assert len(msgs) == 2  # 32 764 bytes would make a 32 768-byte message: over 32 000
    assert all(len(m) <= 32000 for m in msgs)


# --- the size limit -----------------------------------------------------------------


@given(
    limit=st.integers(min_value=8, max_value=32000),
    frames=st.integers(min_value=1, max_value=20000),
)
def test_every_message_fits_and_the_audio_survives(limit: int, frames: int) -> None:
    pb = load("wavewire.protos.packet_pb2")
    pcm = bytes(range(256)) * (frames * 4 // 256) + bytes(frames * 4 % 256)
    ser = CloudflareAdapterSerializer("ingest", max_message_size=limit)
    msgs = ser.encode(out(pcm))
    assert all(isinstance(m, bytes) and len(m) <= limit for m in msgs)
    payloads = [pb.Packet.FromString(m).payload for m in msgs]
    assert all(len(p) % 4 == 0 for p in payloads)  # never split inside a sample frame
    assert b"".join(payloads) == pcm
    assert len(msgs) == -(-len(pcm) // max_payload_size(limit))


def test_max_payload_size_is_the_largest_that_fits() -> None:
    # The oracle is protobuf's own size of a Packet with that payload (protocols.md §1.2:
    # 1 tag byte + the varint length + the payload), not wavewire's varint.
    pb = load("wavewire.protos.packet_pb2")

    def size(n: int) -> int:
        return int(pb.Packet(payload=bytes(n)).ByteSize())

    for limit in (8, 9, 130, 131, 132, 16387, 16388, 16389, 32000):
        p = max_payload_size(limit)
        assert p > 0 and p % 4 == 0  # whole 48 kHz stereo sample frames
        assert size(p) <= limit < size(p + 4), (limit, p)  # fits; one more frame would not
    # by hand: 1 + 3 + 16384 (the reference's chunk), 1 + 2 + 16380, 1 + 3 + 31996, 1 + 1 + 4
    assert [max_payload_size(n) for n in (16388, 16387, 32000, 8)] == [16384, 16380, 31996, 4]


@pytest.mark.parametrize("limit", [7, 32001, 32768])
def test_limit_outside_the_allowed_range(limit: int) -> None:
    with pytest.raises(ValueError, match="max_message_size"):
        CloudflareAdapterSerializer("ingest", max_message_size=limit)


def test_bad_role() -> None:
    with pytest.raises(ValueError, match="role"):
        CloudflareAdapterSerializer("egress")  # type: ignore[arg-type]


def test_ingest_refuses_wrong_format_and_partial_sample_frames() -> None:
    ser = CloudflareAdapterSerializer("ingest")
    with pytest.raises(FrameFormatError):
        ser.encode(OutputAudioFrame(bytes(4), 16000, 1))
    with pytest.raises(FrameFormatError, match="whole number"):
        ser.encode(out(bytes(6)))


def test_roles_ignore_the_other_direction() -> None:
    assert CloudflareAdapterSerializer("stream").encode(out(bytes(8))) == []
    assert CloudflareAdapterSerializer("ingest").encode(TextFrame("hi")) == []
    ingest = CloudflareAdapterSerializer("ingest")
    assert ingest.decode(packet(1, bytes(8))) == []
    assert ingest.unexpected_messages == 1


# --- egress accounting --------------------------------------------------------------


def feed(ser: CloudflareAdapterSerializer, seqs: list[int]) -> list[int]:
    """Decode one packet per sequence number; return those that produced audio."""
    passed = []
    for s in seqs:
        frames = ser.decode(packet(s, s.to_bytes(4, "little")))
        if frames:
            passed.append(int.from_bytes(frames[0].audio, "little"))
    return passed


def test_in_order_stream() -> None:
    ser = CloudflareAdapterSerializer("stream")
    assert feed(ser, [5, 6, 7, 8]) == [5, 6, 7, 8]
    assert (ser.gaps, ser.lost, ser.reordered, ser.duplicates) == (0, 0, 0, 0)


def test_gap_then_late_packet_then_duplicate() -> None:
    ser = CloudflareAdapterSerializer("stream")
    passed = feed(ser, [1, 2, 5, 3, 3, 6, 6])
    assert passed == [1, 2, 5, 6]
    assert ser.gaps == 1
    assert ser.lost == 1  # 3 and 4 went missing, 3 arrived late
    assert ser.reordered == 1
    assert ser.duplicates == 2  # the second 3 and the second 6
    assert ser.packets == 7


def test_sequence_wraps_around_32_bits() -> None:
    ser = CloudflareAdapterSerializer("stream")
    assert feed(ser, [2**32 - 2, 2**32 - 1, 0, 1]) == [2**32 - 2, 2**32 - 1, 0, 1]
    assert (ser.gaps, ser.lost, ser.duplicates) == (0, 0, 0)
    feed(ser, [3])
    assert (ser.gaps, ser.lost) == (1, 1)


def test_trailing_partial_sample_frame_is_dropped_and_counted() -> None:
    ser = CloudflareAdapterSerializer("stream")
    [frame] = ser.decode(packet(1, bytes(3843)))
    assert len(frame.audio) == 3840
    assert ser.trimmed_bytes == 3
    assert ser.decode(packet(2, b"\x01")) == []
    assert ser.trimmed_bytes == 4


def test_jpeg_without_sequence_number_is_an_image() -> None:
    ser = CloudflareAdapterSerializer("stream")
    jpeg = b"\xff\xd8\xff\xe0" + bytes(20) + b"\xff\xd9"
    [frame] = ser.decode(packet(None, jpeg, ts=90000))
    assert frame == InputImageFrame(jpeg, "jpeg", 90000)
    assert ser.images == 1 and ser.packets == 0
    # the same bytes with a sequence number are audio
    [audio] = ser.decode(packet(7, jpeg[:24]))
    assert isinstance(audio, InputAudioFrame)


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("2a05010203"),  # payload cut short
        bytes.fromhex("08"),  # truncated varint
        bytes.fromhex("08ffffffffffffffffffff01"),  # 11-byte varint
        bytes.fromhex("0f00"),  # wire type 7
    ],
)
def test_malformed_packets(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        CloudflareAdapterSerializer("stream").decode(data)


def test_text_where_binary_expected() -> None:
    for role in ("stream", "ingest"):
        with pytest.raises(ProtocolError, match="expected a binary Packet") as info:
            CloudflareAdapterSerializer(role).decode("ping")  # type: ignore[arg-type]
        assert info.value.close_code == 1003


def test_unknown_fields_are_skipped() -> None:
    ser = CloudflareAdapterSerializer("stream")
    data = bytes.fromhex("0801") + b"\x1a\x02zz" + b"\x20\x07" + bytes.fromhex("2a0401000100")
    [frame] = ser.decode(data)
    assert frame.audio == b"\x01\x00\x01\x00"

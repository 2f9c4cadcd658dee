"""The hand-written proto3 codec: varints, skipping unknown fields, malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavewire.errors import ProtocolError
from wavewire.serializers._proto import LEN, VARINT, encode_varint, parse, read_varint

from ._generated import load


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(n: int) -> None:
    data = encode_varint(n)
    assert read_varint(data, 0, "t") == (n, len(data))
    assert len(data) == max(1, (n.bit_length() + 6) // 7)


def test_varint_known_bytes() -> None:
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(128) == b"\x80\x01"
    assert encode_varint(960) == b"\xc0\x07"
    assert encode_varint(16384) == b"\x80\x80\x01"


def test_truncated_varint() -> None:
    with pytest.raises(ProtocolError, match="truncated varint"):
        read_varint(b"\x80\x80", 0, "t")


def test_overlong_varint() -> None:
    with pytest.raises(ProtocolError, match="longer than 10 bytes"):
        read_varint(b"\xff" * 11 + b"\x01", 0, "t")


KNOWN = {1: VARINT, 2: VARINT, 5: LEN}


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        b"\x18\x96\x01"  # field 3 varint
        + b"\x21" + bytes(8)  # field 4 fixed64
        + b"\x35" + bytes(4)  # field 6 fixed32
        + b"\x3a\x03abc"  # field 7 bytes
        + b"\x43\x48\x01\x44"  # field 8 group containing field 9 varint
    )  # fmt: skip
    data = b"\x08\x01" + unknown + b"\x2a\x02hi"
    assert parse(data, "t", KNOWN) == {1: 1, 5: b"hi"}


def test_wrong_wire_type_for_a_known_field_is_skipped_like_protobuf() -> None:
    # field 5 as a varint: protobuf keeps it as an unknown field
    assert parse(b"\x28\x05\x08\x02", "t", KNOWN) == {1: 2}


def test_last_value_wins() -> None:
    assert parse(b"\x08\x01\x08\x02", "t", KNOWN) == {1: 2}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x2a\x05abc", "wants 5 bytes, 3 left"),
        (b"\x2a", "truncated varint"),
        (b"\x08", "truncated varint"),
        (b"\x08\x80", "truncated varint"),
        (b"\x00\x01", "field number 0"),
        (b"\x0f\x01", "invalid wire type 7"),
        (b"\x0e\x01", "invalid wire type 6"),
        (b"\x21\x00\x00", "truncated fixed-width"),
        (b"\x43\x48\x01", "truncated group"),
        (b"\x43\x4c", "end-group tag for field 9 inside group 8"),
        (b"\x3a\x80\x80\x80\x80\x10", "wants"),
    ],
)
def test_malformed_input_raises(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        parse(data, "t", KNOWN)


@given(
    seq=st.integers(0, 2**32 - 1),
    ts=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=300),
    junk=st.binary(max_size=40),
)
def test_parse_matches_generated_packet_on_any_bytes(
    seq: int, ts: int, payload: bytes, junk: bytes
) -> None:
    """Whatever bytes come in, our parser and protobuf agree on the known fields, or
    both refuse them."""
    pb = load("wavewire.protos.packet_pb2")
    from google.protobuf.message import DecodeError

    for data in (
        pb.Packet(sequenceNumber=seq, timestamp=ts, payload=payload).SerializeToString(),
        junk,
        pb.Packet(payload=payload).SerializeToString() + junk,
    ):
        try:
            ref = pb.Packet.FromString(data)
        except DecodeError:
            with pytest.raises(ProtocolError):
                parse(data, "t", KNOWN)
            continue
        try:
            ours = parse(data, "t", KNOWN)
        except ProtocolError:
            # protobuf accepts a few things we refuse on purpose? None are known: fail.
            pytest.fail(f"protobuf accepted {data.hex()} but we refused it")
        assert ours.get(1, 0) & 0xFFFFFFFF == ref.sequenceNumber
        assert ours.get(2, 0) & 0xFFFFFFFF == ref.timestamp
        assert ours.get(5, b"") == ref.payload


def test_field_key_above_32_bits_is_refused() -> None:
    # protobuf refuses field numbers above 2**29 - 1
    with pytest.raises(ProtocolError, match="field key too large"):
        parse(bytes.fromhex("ea8080801003000000"), "t", KNOWN)

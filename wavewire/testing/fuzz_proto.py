"""Hypothesis generators of hostile messages for protobuf protocols, for :mod:`.fuzz`:
encodings of a schema with every field given a wrong wire type, out-of-range varints,
bad lengths, unknown fields and groups, then sometimes truncated or bit-flipped; random
bytes; text where binary is expected. Needs ``hypothesis``.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

from ..serializers.base import Message
from .fuzz_json import json_messages

__all__ = ["ProtoSchema", "proto_messages"]


ProtoSchema = dict[int, Any]
"""``{field number: kind}``; kind is ``"varint"``, ``"bytes"``, ``"string"``, ``"json"``
(a string holding JSON) or a nested schema."""


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 70) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


_VARINTS = st.one_of(
    st.integers(0, 300), st.integers(0, 2**64 - 1), st.integers(2**64, 2**70 - 1),
    st.sampled_from([0, 1, 8000, 16000, 48000, 383999, 2**31, 2**32 - 1, 2**32, 2**63]),
)


@functools.cache
def _json_field() -> st.SearchStrategy[Message]:
    return json_messages([{"a": 1}, [1, "x"], "s"], binary=False)


@st.composite
def _proto(draw: Any, schema: ProtoSchema, depth: int = 0) -> bytes:
    parts: list[bytes] = []
    numbers = draw(st.lists(st.sampled_from(sorted(schema)), max_size=len(schema) + 2))
    for number in numbers:
        kind = schema[number]
        wrong = draw(st.integers(0, 9)) == 0
        if wrong:  # a wire type the schema does not expect, or an invalid one
            wt = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]))
            parts.append(_key(number, wt) + draw(st.binary(max_size=12)))
            continue
        if kind == "varint":
            parts.append(_key(number, 0) + _varint(draw(_VARINTS)))
            continue
        if isinstance(kind, dict):
            body = draw(_proto(kind, depth + 1)) if depth < 3 else b""
        elif kind == "json":
            body = draw(_json_field()).encode("utf-8", "surrogatepass")
        elif kind == "string":
            body = draw(st.one_of(st.text(max_size=30).map(lambda s: s.encode()),
                                  st.binary(max_size=30)))
        else:  # content from a few drawn bytes, length up to 2000 (drawing each is slow)
            head = draw(st.binary(max_size=16))
            body = head * (draw(st.integers(0, 2000)) // max(1, len(head)))
        length = len(body)
        if draw(st.integers(0, 19)) == 0:
            length = draw(st.sampled_from([length + 1, length + 1000, 2**63, 2**64 - 1]))
        parts.append(_key(number, 2) + _varint(length) + body)
    extra = draw(st.sampled_from([b"", b"", b"", b"\x00", b"\x78\x01", b"\x7b\x7c",
                                  b"\x1b\x08\x01\x1c", b"\xff" * 11, b"\x82\x80\x80\x80\x80\x01"]))
    return b"".join(parts) + extra


def proto_messages(schema: ProtoSchema) -> st.SearchStrategy[Message]:
    """Messages for a protobuf protocol: encodings of ``schema`` with hostile values,
    wrong wire types and lengths, then sometimes truncated or bit-flipped; random
    bytes; and text where binary is expected."""
    encoded = _proto(schema)
    return st.one_of(
        encoded, encoded, encoded,
        st.tuples(encoded, st.integers(0, 64)).map(lambda t: t[0][: t[1]]),
        st.tuples(encoded, st.integers(0, 255), st.integers(0, 2000)).map(
            lambda t: _flip(t[0], t[1], t[2])),
        st.binary(max_size=200),
        st.text(max_size=20),
    )


def _flip(data: bytes, byte: int, pos: int) -> bytes:
    if not data:
        return bytes((byte,))
    i = pos % len(data)
    return data[:i] + bytes((data[i] ^ byte,)) + data[i + 1:]

"""A small hand-written proto3 wire codec for the serializers' hot path.

Generated ``_pb2`` modules check the protobuf runtime's version and cost an import of
the protobuf package; the messages we speak (Cloudflare's ``Packet``, Pipecat's
``Frame``) are tiny, so encoding and decoding them by hand is both faster and free of
version skew. ``tests/serializers`` cross-check this codec against the generated modules.

Decoding follows protobuf's rules: fields may come in any order, the last value of a
scalar wins, repeated occurrences of an embedded message merge (their bytes
concatenate), unknown fields and fields with an unexpected wire type are skipped, and
truncated or malformed input raises :class:`~wavewire.errors.ProtocolError`. So does
a message (or group) of more than :data:`MAX_FIELDS` fields: the messages spoken here
have a handful, and a loop per field over a megabyte of two-byte fields would cost half
a second of CPU for one message.
"""

from __future__ import annotations

from ..errors import ProtocolError

__all__ = [
    "encode_varint",
    "read_varint",
    "parse",
    "parse_merging",
    "field_bytes",
    "VARINT",
    "LEN",
]

VARINT = 0
"""Wire type of varint fields (int32/64, uint32/64, bool, enum)."""
I64 = 1
"""Wire type of fixed 64-bit fields."""
LEN = 2
"""Wire type of length-delimited fields (bytes, string, embedded messages)."""
SGROUP = 3
EGROUP = 4
I32 = 5
"""Wire type of fixed 32-bit fields."""

_U64 = (1 << 64) - 1
MAX_FIELDS = 64
"""Most fields (known or not) one message or group may hold."""
_FIELDS = range(MAX_FIELDS)


def encode_varint(n: int) -> bytes:
    """The base-128 varint of a non-negative integer below 2**64."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field_bytes(tag: int, value: bytes) -> bytes:
    """One length-delimited field: ``tag`` (one byte, field < 16), length, ``value``."""
    return b"".join((bytes((tag,)), encode_varint(len(value)), value))


def read_varint(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    """Read a varint at ``pos``; returns ``(value, next_pos)``. Values above 64 bits
    are truncated as protobuf does; more than ten bytes or a cut-off varint raise."""
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise ProtocolError(f"{what}: truncated varint at byte {pos}")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _U64, pos
        shift += 7
        if shift >= 70:
            raise ProtocolError(f"{what}: varint longer than 10 bytes at byte {pos - 10}")


def _read_key(buf: bytes, pos: int, what: str) -> tuple[int, int]:
    """A field key: a varint of at most 32 bits (field numbers stop at 2**29 - 1)."""
    key, end = read_varint(buf, pos, what)
    if key > 0xFFFFFFFF:
        raise ProtocolError(f"{what}: field key too large at byte {pos}")
    return key, end


def _skip_group(
    buf: bytes, pos: int, field: int, what: str, depth: int, budget: list[int]
) -> int:
    """Skip a (deprecated) group up to its matching end-group tag. ``budget`` counts the
    fields left for the whole group, nested groups included."""
    if depth > 32:
        raise ProtocolError(f"{what}: groups nested too deeply")
    n = len(buf)
    while pos < n:
        budget[0] -= 1
        if budget[0] < 0:
            raise ProtocolError(f"{what}: group of more than {MAX_FIELDS} fields")
        key, pos = _read_key(buf, pos, what)
        wt = key & 7
        f = key >> 3
        if wt == EGROUP:
            if f != field:
                raise ProtocolError(f"{what}: end-group tag for field {f} inside group {field}")
            return pos
        pos = _skip(buf, pos, f, wt, what, depth + 1, budget)
    raise ProtocolError(f"{what}: truncated group (field {field})")


def _skip(
    buf: bytes, pos: int, field: int, wt: int, what: str, depth: int = 0,
    budget: list[int] | None = None,
) -> int:
    if wt == VARINT:
        return read_varint(buf, pos, what)[1]
    if wt == LEN:
        length, pos = read_varint(buf, pos, what)
        end = pos + length
        if end > len(buf):
            raise ProtocolError(
                f"{what}: field {field} wants {length} bytes, {len(buf) - pos} left"
            )
        return end
    if wt == I64 or wt == I32:
        end = pos + (8 if wt == I64 else 4)
        if end > len(buf):
            raise ProtocolError(f"{what}: truncated fixed-width field {field}")
        return end
    if wt == SGROUP:
        return _skip_group(buf, pos, field, what, depth, [MAX_FIELDS] if budget is None else budget)
    raise ProtocolError(f"{what}: invalid wire type {wt} for field {field}")


def parse(buf: bytes, what: str, known: dict[int, int]) -> dict[int, int | bytes]:
    """Decode one message into ``{field number: value}`` for the ``known`` fields.

    ``known`` maps each field number to its expected wire type (:data:`VARINT` or
    :data:`LEN`); other fields are skipped. Values are ``int`` for varints and
    ``bytes`` for length-delimited fields. The last occurrence of a field wins (see
    :func:`parse_merging` for embedded messages), and the dict's order is the order of
    last occurrence."""
    fields: dict[int, int | bytes] = {}
    pos = 0
    n = len(buf)
    for _ in _FIELDS:
        if pos >= n:
            return fields
        # inline single-byte key: field numbers below 16 with any wire type
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _read_key(buf, pos, what)
        field = key >> 3
        wt = key & 7
        if field == 0:
            raise ProtocolError(f"{what}: field number 0 at byte {pos - 1}")
        if known.get(field) != wt:
            pos = _skip(buf, pos, field, wt, what)
            continue
        # inline one- and two-byte varints (values below 16 384), the common case
        b0 = buf[pos] if pos < n else 0x80
        if b0 < 0x80:
            value = b0
            pos += 1
        elif pos + 1 < n and buf[pos + 1] < 0x80:
            value = (b0 & 0x7F) | buf[pos + 1] << 7
            pos += 2
        else:
            value, pos = read_varint(buf, pos, what)
        if wt == VARINT:
            fields.pop(field, None)
            fields[field] = value
        else:
            length = value
            end = pos + length
            if end > n:
                raise ProtocolError(f"{what}: field {field} wants {length} bytes, {n - pos} left")
            fields.pop(field, None)
            fields[field] = buf[pos:end]
            pos = end
    if pos < n:
        raise ProtocolError(f"{what}: more than {MAX_FIELDS} fields")
    return fields


def parse_merging(buf: bytes, what: str, known: dict[int, int]) -> dict[int, int | bytes]:
    """Like :func:`parse`, but repeated length-delimited fields concatenate, which is
    how protobuf merges repeated occurrences of an embedded message."""
    fields: dict[int, int | bytes] = {}
    pos = 0
    n = len(buf)
    for _ in _FIELDS:
        if pos >= n:
            return fields
        key, pos = _read_key(buf, pos, what)
        field = key >> 3
        wt = key & 7
        if field == 0:
            raise ProtocolError(f"{what}: field number 0 at byte {pos - 1}")
        if known.get(field) != wt:
            pos = _skip(buf, pos, field, wt, what)
            continue
        if wt == VARINT:
            value, pos = read_varint(buf, pos, what)
            fields.pop(field, None)
            fields[field] = value
        else:
            length, pos = read_varint(buf, pos, what)
            end = pos + length
            if end > n:
                raise ProtocolError(f"{what}: field {field} wants {length} bytes, {n - pos} left")
            old = fields.pop(field, None)
            chunk = buf[pos:end]
            fields[field] = old + chunk if isinstance(old, bytes) else chunk
            pos = end
    if pos < n:
        raise ProtocolError(f"{what}: more than {MAX_FIELDS} fields")
    return fields

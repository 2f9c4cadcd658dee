"""Structure-aware fuzzing of serializers: hypothesis generators and the oracle.

Shared by the test suite (``tests/serializers/test_fuzz.py``, a short run on every
serializer) and ``scripts/fuzz.py`` (a long run). Needs ``hypothesis`` (the ``dev``
extra); nothing in wavewire imports this module.

A :class:`FuzzTarget` names a serializer, how to make a fresh one, and the messages it
receives: *templates* (valid messages of every kind the protocol has, as JSON values or
protobuf field lists) from which the generators derive hostile variants — a field
replaced by a value of another type, deleted, or the message nested a few thousand
levels deep; huge numbers (``1e99999``, 5 000-digit integers); lone surrogates (escaped
or raw); non-UTF-8 and binary where text is expected; truncated or corrupted text; for
protobuf, every field with a wrong wire type, out-of-range varints, bad lengths, unknown
fields and groups. Every field of every template can be hit.

The oracle (:func:`check_messages`): a fresh serializer decodes the messages one by one
(after the target's *prime* messages when the case asks for them); a decode may raise
only a :class:`~wavewire.errors.WavewireError`. What it returns must be fit to pass on:
audio is whole sample frames; a transport message, re-encoded by the same serializer as
an echo bot would, must encode; and after every message the serializer must still
encode the usual outbound frames (audio, interruption, mark, a transport message) with
at most a typed error, every text message it produces being valid UTF-8 (a value it
could not send back would have been accepted silently, as a Twilio ``streamSid`` with a
lone surrogate once was).

The serializers fuzzed, with their templates, are in :mod:`.fuzz_targets`; adding one
is one line there (or :func:`~.fuzz_targets.register` from outside)::

    json_target("deepgram-listen", _speech("deepgram", "DeepgramListenSerializer"),
                DEEPGRAM_LISTEN),
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from time import process_time
from typing import Any

from hypothesis import strategies as st

from ..errors import WavewireError
from ..frames import (
    Frame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    PlaybackMarkFrame,
)
from ..serializers.base import FrameSerializer, Message

__all__ = [
    "FuzzTarget",
    "Raw",
    "json_target",
    "proto_target",
    "json_messages",
    "proto_messages",
    "pcm_messages",
    "cases",
    "check_messages",
    "UntypedError",
]


# --- building message text ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written into the message text as it is (numbers ``json.dumps``
    cannot write, deep nesting, invalid escapes)."""

    text: str


def to_text(value: Any) -> str:
    """JSON text of ``value``, with :class:`Raw` leaves written verbatim and strings kept
    as they are (lone surrogates included)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_text(str(k))}:{to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value != value:
        return "NaN"
    return json.dumps(value)


_DEEP = st.integers(60, 3000).flatmap(
    lambda n: st.sampled_from([Raw("[" * n + "]" * n), Raw('{"a":' * n + "1" + "}" * n),
                               Raw("[" * n + "{" + "}" + "]" * n)])
)
_HUGE = st.sampled_from(
    [Raw("9" * 5000), Raw("-" + "1" * 4400), Raw("1e99999"), Raw("-1e-99999"), Raw("NaN"),
     Raw("Infinity"), Raw("-Infinity"), Raw("1" * 300 + ".5"), Raw("18446744073709551617")]
)
_SURROGATE = st.sampled_from(
    [Raw('"\\ud800"'), Raw('"a\\udfffb"'), Raw('"\\udc00\\ud800"'), "\ud800", "x\udcff",
     Raw('"\\ud83d\\ude00"')]
)
_ODD_TEXT = st.sampled_from(
    ["²", "².0.0", "1.0.²", "\u0661.\u0660.\u0660", "\uff11.\uff10.\uff10", "½", "⑴", "1_000", " 1", "0x10", "1e3",
     "\x00", "\u202e", "\ufeff", "MZ" + "0" * 200]
)
"""Strings that pass one check and fail the next: digits ``isdigit()`` accepts and
``int()`` refuses, numbers with underscores or spaces, control and bidi characters."""
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
HOSTILE = st.one_of(
    _JSON, _DEEP, _HUGE, _SURROGATE, st.text(min_size=1000, max_size=5000),
    st.sampled_from([[], {}, "", 0, -1, 2**64, True, None, 1.5]),
    _ODD_TEXT,
)
"""One hostile JSON value: any JSON, deep nesting, huge numbers, lone surrogates, long
text, and the empty and edge values that confuse type checks."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@st.composite
def _mutated(draw: Any, template: Any) -> Any:
    """``template`` with one to three fields replaced, deleted, or added."""
    value = _copy(template)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:
            if op == "replace":
                value = draw(HOSTILE)
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(HOSTILE)
        else:
            parent[key] = draw(HOSTILE)
    return value


def json_messages(templates: Sequence[Any], *, binary: bool = True) -> st.SearchStrategy[Message]:
    """Messages for a JSON text protocol derived from ``templates`` (valid messages):
    templates as they are, mutated templates, corrupted text, arbitrary JSON, and text
    or binary that is not JSON (``binary``: also random binary messages)."""
    base = st.sampled_from(list(templates))
    texts = st.one_of(
        base.map(to_text),
        base.flatmap(_mutated).map(to_text),
        base.flatmap(_mutated).flatmap(_mutated).map(to_text),
        HOSTILE.map(to_text),
        st.tuples(base.map(to_text), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
        st.tuples(base.map(to_text), st.integers(0, 200), st.text(max_size=3)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1]:]),
        st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.text(max_size=64),
    )
    if not binary:
        return texts
    return st.one_of(texts, texts, texts, st.binary(max_size=700))


def pcm_messages() -> st.SearchStrategy[Message]:
    """Binary audio messages of any length (odd ones included)."""
    return st.binary(max_size=4000)


# --- protobuf ---------------------------------------------------------------------------

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


# --- targets and the oracle ---------------------------------------------------------------


@dataclass(frozen=True)
class FuzzTarget:
    """One serializer under fuzzing."""

    name: str
    """Short name (test ids, ``scripts/fuzz.py --only``)."""
    make: Callable[[], FrameSerializer]
    """A fresh serializer (one per case)."""
    messages: Callable[[], st.SearchStrategy[Message]]
    """The generator of received messages."""
    prime: Sequence[Message] = ()
    """Valid messages that bring a fresh serializer to its main state (Twilio's
    ``start``); a case feeds them first or not, at random."""
    outbound: Sequence[Frame] = field(default_factory=tuple)
    """Extra frames to encode after every message (beyond the usual ones)."""
    templates: Sequence[Any] = ()
    """The valid JSON messages the generator starts from (for :func:`.fuzz_mutate.field_sweep`)."""


class UntypedError(AssertionError):
    """A serializer raised something other than a wavewire error, or produced what it
    could not send back."""


def json_target(name: str, make: Callable[[], FrameSerializer], templates: Sequence[Any],
                *, prime: Sequence[Any] = (), binary: bool = True) -> FuzzTarget:
    """A target for a JSON text protocol from its valid message ``templates``."""
    return FuzzTarget(name, make, lambda: json_messages(templates, binary=binary),
                      tuple(to_text(p) for p in prime), templates=tuple(templates))


def proto_target(name: str, make: Callable[[], FrameSerializer], schema: ProtoSchema,
                 *, pcm: bool = False) -> FuzzTarget:
    """A target for a protobuf protocol (``pcm``: binary messages may also be plain
    PCM)."""
    if pcm:
        return FuzzTarget(name, make, lambda: st.one_of(proto_messages(schema), pcm_messages()))
    return FuzzTarget(name, make, lambda: proto_messages(schema))


def cases(
    target: FuzzTarget, min_size: int = 1, max_size: int = 6
) -> st.SearchStrategy[tuple[bool, list[Message]]]:
    """One case: whether to feed the prime messages first, then the messages."""
    return st.tuples(st.booleans(),
                     st.lists(target.messages(), min_size=min_size, max_size=max_size))


def _usual_outbound(ser: FrameSerializer) -> list[Frame]:
    wire = ser.wire
    n = max(1, wire.sample_rate * wire.frame_ms // 1000)
    return [
        OutputAudioFrame(b"\x01\x00" * n * wire.num_channels, wire.sample_rate, wire.num_channels),
        InterruptionFrame(),
        PlaybackMarkFrame("m1"),
        OutputTransportMessageFrame({"k": "v"}),
    ]


def _encode(ser: FrameSerializer, frame: Frame, what: str) -> None:
    try:
        out = ser.encode(frame)
    except WavewireError:
        return
    except Exception as exc:
        raise UntypedError(f"{ser.protocol}: encode({what}) raised {exc!r}") from exc
    for message in out:
        if isinstance(message, str):
            try:
                message.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise UntypedError(
                    f"{ser.protocol}: encode({what}) produced text it cannot send: {exc}"
                ) from exc


def _check_frame(ser: FrameSerializer, frame: Frame) -> None:
    if isinstance(frame, InputAudioFrame):
        if len(frame.audio) % (2 * frame.num_channels) or frame.sample_rate <= 0:
            raise UntypedError(f"{ser.protocol}: decoded audio is not whole samples: {frame!r}")
    elif isinstance(frame, InputTransportMessageFrame):
        # what an echo bot does: send the message back on the same connection
        _encode(ser, OutputTransportMessageFrame(frame.message, topic=frame.topic),
                "echoed transport message")
        try:
            json.dumps(frame.message, ensure_ascii=False).encode("utf-8")
        except (ValueError, TypeError, RecursionError) as exc:
            raise UntypedError(f"{ser.protocol}: passed on a value that cannot be "
                               f"re-encoded: {exc!r}") from exc
    text = getattr(frame, "text", None)
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UntypedError(f"{ser.protocol}: passed on text that is not Unicode") from exc


def check_messages(
    target: FuzzTarget,
    primed: bool,
    messages: Sequence[Message],
    observe: Callable[[Message, float], None] | None = None,
) -> int:
    """Run one case through the oracle (see the module docstring); returns the number of
    messages the serializer refused with a typed error. Raises :class:`UntypedError`.
    ``observe(message, seconds)`` is told the CPU time each decode took."""
    ser = target.make()
    ser.open()
    if primed:
        for message in target.prime:
            ser.decode(message)
    refused = 0
    outbound = [*_usual_outbound(ser), *target.outbound]
    for message in messages:
        t0 = process_time()
        try:
            frames = ser.decode(message)
        except WavewireError:
            refused += 1
            frames = []
        except Exception as exc:
            shown = message[:120] if isinstance(message, bytes | str) else message
            raise UntypedError(f"{target.name}: decode({shown!r}…) raised {exc!r}") from exc
        if observe is not None:
            observe(message, process_time() - t0)
        for frame in frames:
            _check_frame(ser, frame)
        for frame in outbound:
            _encode(ser, frame, frame.name)
    _encode(ser, InterruptionFrame(), "interruption")
    try:
        ser.close()
    except WavewireError:
        pass
    return refused

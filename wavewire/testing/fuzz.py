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

The generators are :mod:`.fuzz_json`'s and :mod:`.fuzz_proto`'s (imported here too).
The serializers fuzzed, with their templates, are in :mod:`.fuzz_targets`; adding one
is one line there (or :func:`~.fuzz_targets.register` from outside)::

    json_target("deepgram-listen", _speech("deepgram", "DeepgramListenSerializer"),
                DEEPGRAM_LISTEN),
"""

from __future__ import annotations

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
from .fuzz_json import HOSTILE, Raw, json_messages, pcm_messages, to_text
from .fuzz_proto import ProtoSchema, proto_messages

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
    "HOSTILE",
    "ProtoSchema",
    "to_text",
]


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

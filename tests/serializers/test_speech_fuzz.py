"""Fuzzing the speech-service serializers (Deepgram listen/Flux/speak, Cartesia,
ElevenLabs): valid messages with any one field (at any depth) replaced by any JSON value
(nested, type-confused, lone surrogates, huge and non-finite numbers), arbitrary text and
bytes. ``decode`` either returns frames whose text is valid Unicode or raises
wavewire's own typed error; nothing else escapes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wavewire.errors import WavewireError
from wavewire.frames import Frame
from wavewire.serializers.base import FrameSerializer
from wavewire.serializers.cartesia import CartesiaSerializer
from wavewire.serializers.deepgram import (
    DeepgramListenSerializer,
)
from wavewire.serializers.deepgram_flux import DeepgramFluxSerializer
from wavewire.serializers.deepgram_speak import DeepgramSpeakSerializer
from wavewire.serializers.elevenlabs import ElevenLabsSerializer
from wavewire.testing.fuzz_targets import (
    CARTESIA,
    DEEPGRAM_FLUX,
    DEEPGRAM_LISTEN,
    DEEPGRAM_SPEAK,
    ELEVENLABS,
)

TEMPLATES: dict[str, list[Any]] = {
    "listen": DEEPGRAM_LISTEN,
    "flux": DEEPGRAM_FLUX,
    "speak": DEEPGRAM_SPEAK,
    "cartesia": CARTESIA,
    "elevenlabs": ELEVENLABS,
}  # the valid messages of each kind, as the fuzzing module has them

FACTORIES = {
    "listen": DeepgramListenSerializer,
    "flux": DeepgramFluxSerializer,
    "speak": DeepgramSpeakSerializer,
    "cartesia": lambda: CartesiaSerializer("voice"),
    "elevenlabs": lambda: ElevenLabsSerializer("voice"),
}

any_text = st.text(alphabet=st.characters(codec=None), max_size=12) | st.sampled_from(
    ["\ud800", "a\udfffb", "Hi", ""]
)  # lone surrogates are rare among all characters: some are given outright
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    out = copy.deepcopy(value)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return out


def _check(ser: FrameSerializer, message: str | bytes) -> None:
    try:
        frames = ser.decode(message)
    except WavewireError:
        return
    for frame in frames:
        assert isinstance(frame, Frame)
        for name in ("text", "transcript", "error"):
            value = getattr(frame, name, None)
            if isinstance(value, str):
                value.encode("utf-8")  # never hands on a lone surrogate


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii_only=st.booleans())
def test_one_field_replaced_anywhere(kind: str, data: st.DataObject, ascii_only: bool) -> None:
    template = data.draw(st.sampled_from(TEMPLATES[kind]))
    path = data.draw(st.sampled_from(_paths(template)))
    message = _replace(template, path, data.draw(json_values))
    try:
        text = json.dumps(message, ensure_ascii=ascii_only)
    except ValueError:  # an integer too long for str(); not a message anyone can send
        return
    _check(FACTORIES[kind](), text)


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@settings(max_examples=100, deadline=None)
@given(message=st.text(alphabet=st.characters(codec=None)) | st.binary(max_size=64))
def test_arbitrary_messages(kind: str, message: str | bytes) -> None:
    _check(FACTORIES[kind](), message)


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("depth", [10, 5000, 200000])
def test_deep_nesting(kind: str, depth: int) -> None:
    for field in ("type", "channel", "audio", "word_timestamps", "alignment", "words"):
        _check(FACTORIES[kind](), '{"' + field + '":' + "[" * depth + "]" * depth + "}")
        _check(FACTORIES[kind](), '{"' + field + '":' + '{"a":' * depth + "1" + "}" * depth + "}")

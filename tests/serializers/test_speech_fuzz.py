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

WORD = {"word": "hello", "start": 0.08, "end": 0.4, "confidence": 0.99, "punctuated_word": "Hello"}
TEMPLATES: dict[str, list[dict[str, Any]]] = {
    "listen": [
        {"type": "Results", "channel_index": [0, 1], "duration": 1.0, "start": 0.0,
         "is_final": True, "speech_final": True, "from_finalize": False,
         "channel": {"alternatives": [{"transcript": "hello", "confidence": 0.9,
                                       "words": [WORD], "languages": ["en"]}]},
         "metadata": {"request_id": "r"}},
        {"type": "SpeechStarted", "channel": [0, 1], "timestamp": 9.5},
        {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": 2.3},
        {"type": "Metadata", "request_id": "r", "duration": 3.0, "channels": 1},
    ],
    "flux": [
        {"type": "TurnInfo", "event": "EndOfTurn", "turn_index": 0, "transcript": "yes",
         "words": [{"word": "yes", "confidence": 0.9, "start": 0.1, "end": 0.3}],
         "end_of_turn_confidence": 0.8, "audio_window_start": 0.0, "audio_window_end": 1.0,
         "request_id": "r", "sequence_id": 3},
        {"type": "TurnInfo", "event": "Update", "transcript": "ye", "words": [], "sequence_id": 2},
        {"type": "Connected", "request_id": "r", "sequence_id": 0},
        {"type": "Error", "sequence_id": 4, "code": "X", "description": "d"},
    ],
    "speak": [
        {"type": "Flushed", "sequence_id": 0}, {"type": "Cleared", "sequence_id": 1},
        {"type": "Metadata", "request_id": "r", "model_name": "aura"},
        {"type": "Warning", "description": "d", "code": "c"},
    ],
    "cartesia": [
        {"type": "chunk", "context_id": "c", "status_code": 206, "done": False,
         "data": "AAAAABAA8P8=", "step_time": 1.0, "flush_id": 1},
        {"type": "timestamps", "context_id": "c", "status_code": 206, "done": False,
         "word_timestamps": {"words": ["Hi", "there"], "start": [0.0, 0.3], "end": [0.2, 0.6]}},
        {"type": "done", "context_id": "c", "status_code": 206, "done": True},
        {"type": "flush_done", "context_id": "c", "flush_id": 1, "flush_done": True},
        {"type": "error", "context_id": "c", "error": "e"},
    ],
    "elevenlabs": [
        {"audio": "AQD/fw==", "isFinal": None, "contextId": "c",
         "alignment": {"chars": ["H", "i", " "], "charStartTimesMs": [0, 40, 80],
                       "charsDurationsMs": [40, 40, 40]}},
        {"isFinal": True, "contextId": "c"},
        {"message": "m", "error": "e"},
    ],
}  # fmt: skip

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

"""ElevenLabs ``stream-input`` serializer: protocols.md §8 vectors, alignment → word
timestamps, bad input."""

from __future__ import annotations

import base64
import json

import pytest

from wavewire.errors import ProtocolError
from wavewire.frames import (
    ErrorFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.serializers.elevenlabs import ElevenLabsSerializer

VOICE = "Xb7hH8MSUJpSbSDYk0k2"


def test_client_vectors() -> None:
    ser = ElevenLabsSerializer(
        VOICE,
        output_format="pcm_16000",
        voice_settings={"stability": 0.5, "similarity_boost": 0.8},
        chunk_length_schedule=[50, 90, 120, 150],
    )
    assert ser.path() == (
        f"/v1/text-to-speech/{VOICE}/stream-input?model_id=eleven_flash_v2_5"
        "&output_format=pcm_16000"
    )
    assert ser.open() == [
        '{"text":" ","voice_settings":{"stability":0.5,"similarity_boost":0.8},'
        '"generation_config":{"chunk_length_schedule":[50,90,120,150]}}'
    ]
    assert ser.encode(TTSSpeakFrame("Sure, I can help.")) == [
        '{"text":"Sure, I can help. ","flush":true}'
    ]
    assert ser.encode(LLMTextFrame("Hello world ")) == ['{"text":"Hello world "}']
    assert ser.encode(LLMFullResponseEndFrame()) == ['{"text":" ","flush":true}']
    assert ser.encode(LLMTextFrame("  ")) == []
    assert ser.close() == ['{"text":""}']
    keyed = ElevenLabsSerializer(VOICE, api_key="sk_x")
    assert json.loads(keyed.open()[0])["xi_api_key"] == "sk_x"


def test_server_vector() -> None:
    ser = ElevenLabsSerializer(VOICE, output_format="pcm_16000")
    frames = ser.decode(
        '{"audio":"AQD/fw==","isFinal":null,"normalizedAlignment":{"charStartTimesMs":[0,40],'
        '"charsDurationsMs":[40,35],"chars":["S","u"]}}'
    )
    assert frames == [TTSAudioFrame(b"\x01\x00\xff\x7f", 16000, 1)]  # alignment: not normalized
    assert ser.decode('{"isFinal":true}') == [TTSStoppedFrame()]


def _chunk(text: str, samples: int, step_ms: int = 50) -> str:
    return json.dumps(
        {
            "audio": base64.b64encode(bytes(2 * samples)).decode(),
            "isFinal": False,
            "alignment": {
                "chars": list(text),
                "charStartTimesMs": [i * step_ms for i in range(len(text))],
                "charsDurationsMs": [step_ms] * len(text),
            },
        }
    )


def test_alignment_becomes_words_across_chunks() -> None:
    ser = ElevenLabsSerializer(VOICE, output_format="pcm_16000")
    ser.context_id = "turn-1"
    first = ser.decode(_chunk("Hi the", 16000))  # 1 s of audio; "the" continues
    assert [type(f) for f in first] == [TTSAudioFrame, TTSTextFrame]
    assert first[1] == TTSTextFrame("Hi", start_s=0.0, end_s=0.1, context_id="turn-1")
    second = ser.decode(_chunk("re pal", 8000))  # chunk times are relative to the chunk
    words = [f for f in second if isinstance(f, TTSTextFrame)]
    assert words == [TTSTextFrame("there", start_s=0.15, end_s=1.1, context_id="turn-1")]
    end = ser.decode('{"isFinal":true}')
    assert end == [
        TTSTextFrame("pal", start_s=1.15, end_s=1.3, context_id="turn-1"),
        TTSStoppedFrame(context_id="turn-1"),
    ]
    again = ser.decode(_chunk("Ok ", 1600))  # timing restarts after isFinal
    assert again[1] == TTSTextFrame("Ok", start_s=0.0, end_s=0.1, context_id="turn-1")


def test_normalized_alignment_and_multi_context_spellings() -> None:
    ser = ElevenLabsSerializer(VOICE, output_format="pcm_16000", normalized=True)
    msg = json.loads(_chunk("a ", 160))
    msg["normalizedAlignment"] = msg.pop("alignment")
    msg["contextId"] = "c1"
    frames = ser.decode(json.dumps(msg))
    assert frames[1] == TTSTextFrame("a", start_s=0.0, end_s=0.05, context_id="c1")
    assert ser.decode('{"is_final":true,"context_id":"c1"}') == [TTSStoppedFrame(context_id="c1")]


def test_durations_under_either_spelling() -> None:
    ser = ElevenLabsSerializer(VOICE, output_format="pcm_16000")
    msg = json.loads(_chunk("ab ", 160))
    msg["alignment"]["charDurationsMs"] = msg["alignment"].pop("charsDurationsMs")
    frames = ser.decode(json.dumps(msg))
    assert frames[1] == TTSTextFrame("ab", start_s=0.0, end_s=0.1)


def test_error_and_unknown() -> None:
    ser = ElevenLabsSerializer(VOICE)
    [err] = ser.decode('{"message":"Invalid API key","error":"invalid_api_key","code":1008}')
    assert isinstance(err, ErrorFrame) and "Invalid API key" in err.error
    assert ser.decode('{"something":"else"}') == [] and ser.unknown_messages == 1


def test_ulaw_output() -> None:
    ser = ElevenLabsSerializer(VOICE, output_format="ulaw_8000")
    [audio] = ser.decode('{"audio":"//8="}')
    assert isinstance(audio, TTSAudioFrame) and audio.sample_rate == 8000 and len(audio.audio) == 4
    with pytest.raises(ValueError):
        ElevenLabsSerializer(VOICE, output_format="mp3_44100_128")


@pytest.mark.parametrize(
    "message",
    [
        "nope", "null", '{"audio":5}', '{"audio":"A"}', '{"audio":"AQ=="}',
        '{"isFinal":"true"}', '{"contextId":7,"isFinal":true}',
        '{"audio":"AAA=","alignment":[1]}',
        '{"audio":"AAA=","alignment":{"chars":["a"],"charStartTimesMs":[],"charsDurationsMs":[]}}',
        '{"audio":"AAA=","alignment":{"chars":[1],"charStartTimesMs":[0],"charsDurationsMs":[1]}}',
        '{"audio":"AAA=","alignment":{"chars":["\\ud800"],"charStartTimesMs":[0],'
        '"charsDurationsMs":[1]}}',
        '{"audio":"AAA=","alignment":{"chars":["a"],"charStartTimesMs":[true],'
        '"charsDurationsMs":[1]}}',
        '{"audio":"AAA=","alignment":{"chars":["a"],"charStartTimesMs":[Infinity],'
        '"charsDurationsMs":[1]}}',
        "[" * 100000, b"\xff\xfe",
    ],
)  # fmt: skip
def test_bad_input_is_a_protocol_error(message: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        ElevenLabsSerializer(VOICE).decode(message)

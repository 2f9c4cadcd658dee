"""Deepgram listen (``/v1/listen``, Flux ``/v2/listen``) and speak (``/v1/speak``)
serializers: protocols.md §5 and §6 vectors, typed frames, bad input."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from wavewire.audio.g711 import ulaw_decode, ulaw_encode
from wavewire.errors import FrameFormatError, ProtocolError, RemoteClosedError
from wavewire.frames import (
    ErrorFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMTextFrame,
    STTTurnFrame,
    TranscriptionFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
    Word,
)
from wavewire.serializers.deepgram import (
    DeepgramListenSerializer,
    ListenOptions,
    close_error,
)
from wavewire.serializers.deepgram_flux import DeepgramFluxSerializer, FluxOptions
from wavewire.serializers.deepgram_speak import (
    FLUSH_LIMIT,
    DeepgramSpeakSerializer,
    SpeakOptions,
)

RESULTS = (
    '{"type":"Results","channel_index":[0,1],"duration":1.04,"start":0.0,'
    '"is_final":true,"speech_final":true,"from_finalize":false,'
    '"channel":{"alternatives":[{"transcript":"hello there","confidence":0.98,'
    '"words":[{"word":"hello","start":0.08,"end":0.4,"confidence":0.99,"punctuated_word":"Hello"},'
    '{"word":"there","start":0.44,"end":0.9,"confidence":0.97,"punctuated_word":"there"}]}]},'
    '"metadata":{"request_id":"r-1","model_info":{"name":"general-nova-3","version":"x",'
    '"arch":"nova-3"},"model_uuid":"u-1"}}'
)


def results(transcript: str, *, final: bool, words: list[dict[str, object]] | None = None) -> str:
    return json.dumps(
        {
            "type": "Results", "channel_index": [0, 1], "duration": 1.0, "start": 0.0,
            "is_final": final, "speech_final": final,
            "channel": {"alternatives": [
                {"transcript": transcript, "confidence": 0.9, "words": words or []}
            ]},
            "metadata": {"request_id": "r"},
        }
    )  # fmt: skip


# --- listen: query ---------------------------------------------------------------------


def test_query_values_are_all_strings_in_order() -> None:
    opts = ListenOptions(
        model="nova-3", sample_rate=16000, interim_results=True, endpointing=300,
        utterance_end_ms=1000, vad_events=True, smart_format=True, keyterm=("wavewire",),
    )  # fmt: skip
    q = opts.query()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q)
    assert q == [
        ("model", "nova-3"), ("encoding", "linear16"), ("sample_rate", "16000"),
        ("channels", "1"), ("interim_results", "true"), ("language", "en"),
        ("endpointing", "300"), ("utterance_end_ms", "1000"), ("vad_events", "true"),
        ("smart_format", "true"), ("keyterm", "wavewire"),
    ]  # fmt: skip
    assert opts.path().startswith("/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000")
    assert dict(parse_qsl(ListenOptions(endpointing=False).query_string()))["endpointing"] == (
        "false"
    )


def test_query_rules() -> None:
    with pytest.raises(ValueError, match="interim_results"):
        ListenOptions(interim_results=False, utterance_end_ms=1000)
    with pytest.raises(ValueError, match="encoding"):
        ListenOptions(encoding="opus")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ListenOptions(endpointing=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        FluxOptions(sample_rate=22050)
    with pytest.raises(ValueError, match="eot_threshold"):
        FluxOptions(eot_threshold=0.2)
    flux = FluxOptions(eot_threshold=0.8, eot_timeout_ms=3000)
    assert flux.path() == (
        "/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000"
        "&eot_threshold=0.8&eot_timeout_ms=3000"
    )


# --- listen: client messages -------------------------------------------------------------


def test_client_messages() -> None:
    ser = DeepgramListenSerializer()
    assert ser.keep_alive() == ['{"type":"KeepAlive"}']
    assert ser.finalize() == ['{"type":"Finalize"}']
    assert ser.finalize(0) == ['{"type":"Finalize","channel":0}']
    assert ser.close() == ['{"type":"CloseStream"}']


def test_audio_out_is_binary_never_empty() -> None:
    ser = DeepgramListenSerializer()
    assert ser.encode(InputAudioFrame(bytes(640), 16000, 1)) == [bytes(640)]
    assert ser.encode(InputAudioFrame(b"", 16000, 1)) == []
    with pytest.raises(FrameFormatError):
        ser.encode(InputAudioFrame(bytes(640), 8000, 1))
    with pytest.raises(ProtocolError):
        ser.audio(bytes(3))
    mulaw = DeepgramListenSerializer(ListenOptions(encoding="mulaw", sample_rate=8000))
    pcm = (1000).to_bytes(2, "little", signed=True) * 160
    assert mulaw.encode(InputAudioFrame(pcm, 8000, 1)) == [ulaw_encode(pcm)]


# --- listen: server messages -------------------------------------------------------------


def test_results_vector_final_with_words() -> None:
    ser = DeepgramListenSerializer(user_id="u1")
    [frame] = ser.decode(RESULTS)
    assert isinstance(frame, TranscriptionFrame)
    assert frame.text == "hello there" and frame.user_id == "u1" and frame.language == "en"
    assert frame.words == [Word("Hello", 0.08, 0.4, 0.99), Word("there", 0.44, 0.9, 0.97)]
    assert frame.result["speech_final"] is True


def test_interim_then_final_then_utterance_end() -> None:
    ser = DeepgramListenSerializer(ListenOptions(utterance_end_ms=1000))
    [interim] = ser.decode(results("hel", final=False))
    assert isinstance(interim, InterimTranscriptionFrame) and interim.text == "hel"
    word = {"word": "hello", "start": 0.1, "end": 0.9, "confidence": 0.97}
    [final] = ser.decode(results("hello", final=True, words=[word]))
    assert isinstance(final, TranscriptionFrame) and final.words == [Word("hello", 0.1, 0.9, 0.97)]
    end = '{"type":"UtteranceEnd","channel":[0,1],"last_word_end":0.9}'
    assert ser.decode(end) == [VADUserStoppedSpeakingFrame()]


def test_time_offset_moves_word_times() -> None:
    ser = DeepgramListenSerializer()
    ser.time_offset = 10.0
    [frame] = ser.decode(RESULTS)
    assert isinstance(frame, TranscriptionFrame)
    assert [(w.start_s, w.end_s) for w in frame.words] == [(10.08, 10.4), (10.44, 10.9)]


def test_speech_started_metadata_empty_and_unknown() -> None:
    ser = DeepgramListenSerializer()
    speech = '{"type":"SpeechStarted","channel":[0,1],"timestamp":9.54}'
    assert ser.decode(speech) == [VADUserStartedSpeakingFrame()]
    meta = {
        "type": "Metadata", "transaction_key": "deprecated", "request_id": "r-9",
        "sha256": "abc", "created": "2026-01-01T00:00:00Z", "duration": 3.2, "channels": 1,
    }  # fmt: skip
    assert ser.decode(json.dumps(meta)) == [InputTransportMessageFrame(message=meta)]
    assert ser.metadata == meta and ser.request_id == "r-9"
    assert ser.decode(results("", final=True)) == []
    assert ser.empty_results == 1
    assert ser.decode('{"type":"SomethingNew"}') == [] and ser.unknown_types == 1


@pytest.mark.parametrize(
    "message",
    [
        "not json", "[1,2]", '{"no":"type"}', '{"type":7}', '{"type":"Results"}',
        '{"type":"Results","channel":{"alternatives":[{"transcript":5}]}}',
        '{"type":"Results","channel":{"alternatives":[7]}}',
        '{"type":"Results","is_final":"yes","channel":{"alternatives":[]}}',
        '{"type":"Results","channel":{"alternatives":[{"transcript":"a","words":[{"word":"a",'
        '"start":"0","end":1}]}]}}',
        '{"type":"Results","channel":{"alternatives":[{"transcript":"a","words":[{"word":"a",'
        '"start":NaN,"end":1}]}]}}',
        '{"type":"Results","channel":{"alternatives":[{"transcript":"\\ud800"}]}}',
        '{"type":"SpeechStarted","timestamp":true}',
        "[" * 100000 + "]" * 100000,
        b"\x00\x01",
    ],
)  # fmt: skip
def test_bad_listen_input_is_a_protocol_error(message: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        DeepgramListenSerializer().decode(message)


def test_close_codes() -> None:
    assert close_error(1000, "") is None
    net = close_error(1011, "NET-0001")
    assert isinstance(net, RemoteClosedError) and net.close_code == 1011 and net.retryable
    assert "NET-0001" in str(net)
    data = close_error(1008, "DATA-0000")
    assert isinstance(data, RemoteClosedError) and not data.retryable


# --- Flux --------------------------------------------------------------------------------


def test_flux_end_of_turn_vector() -> None:
    ser = DeepgramFluxSerializer()
    msg = (
        '{"type":"TurnInfo","event":"EndOfTurn","turn_index":0,"transcript":"yes please",'
        '"words":[{"word":"yes","confidence":0.9},{"word":"please","confidence":0.95}],'
        '"end_of_turn_confidence":0.86,"audio_window_start":0.0,"audio_window_end":1.6,'
        '"request_id":"r","sequence_id":7}'
    )
    final, turn = ser.decode(msg)
    assert isinstance(final, TranscriptionFrame) and final.text == "yes please"
    assert final.words == []  # Flux words without timing are not Words
    assert turn == STTTurnFrame("end", transcript="yes please", confidence=0.86)
    assert ser.sequence_id == 7


def test_flux_events() -> None:
    ser = DeepgramFluxSerializer()
    connected = {"type": "Connected", "request_id": "r-1", "sequence_id": 0}
    assert ser.decode(json.dumps(connected)) == [InputTransportMessageFrame(message=connected)]
    assert ser.request_id == "r-1"

    def turn(event: str, transcript: str = "", **extra: object) -> str:
        return json.dumps({"type": "TurnInfo", "event": event, "turn_index": 0,
                           "transcript": transcript, "words": [], **extra})  # fmt: skip

    assert ser.decode(turn("StartOfTurn")) == [STTTurnFrame("start")]
    timed = [{"word": "yes", "confidence": 0.9, "start": 0.1, "end": 0.3}]
    [update] = ser.decode(turn("Update", "yes", words=timed))
    assert isinstance(update, InterimTranscriptionFrame)
    assert update.words == [Word("yes", 0.1, 0.3, 0.9)]
    assert ser.decode(turn("Update")) == []
    assert ser.decode(turn("EagerEndOfTurn", "yes", end_of_turn_confidence=0.6)) == [
        STTTurnFrame("eager_end", transcript="yes", confidence=0.6)
    ]
    assert ser.decode(turn("TurnResumed", "yes")) == [STTTurnFrame("resumed", transcript="yes")]
    [err] = ser.decode('{"type":"Error","sequence_id":9,"code":"INTERNAL_SERVER_ERROR",'
                       '"description":"boom"}')  # fmt: skip
    assert isinstance(err, ErrorFrame) and "INTERNAL_SERVER_ERROR" in err.error
    assert not err.fatal
    [fail] = ser.decode('{"type":"ConfigureFailure","request_id":"r","sequence_id":10}')
    assert isinstance(fail, ErrorFrame)
    with pytest.raises(ProtocolError):
        ser.decode('{"type":"TurnInfo","event":"Update","sequence_id":-1}')


def test_flux_client_messages() -> None:
    ser = DeepgramFluxSerializer()
    assert ser.configure(eot_threshold=0.8, keyterms=["wave"]) == [
        '{"type":"Configure","thresholds":{"eot_threshold":0.8},"keyterms":["wave"]}'
    ]
    assert ser.force_end_turn() == ['{"type":"ForceEndTurn"}']
    assert ser.close() == ['{"type":"CloseStream"}']


# --- speak ---------------------------------------------------------------------------------


def test_speak_vectors() -> None:
    ser = DeepgramSpeakSerializer()
    assert ser.path() == "/v1/speak?model=aura-2-thalia-en&encoding=linear16&sample_rate=24000"
    assert ser.encode(TTSSpeakFrame("Hello, how can I help?")) == [
        '{"type":"Speak","text":"Hello, how can I help?"}'
    ]
    assert ser.encode(LLMTextFrame("")) == []
    assert ser.flush() == ['{"type":"Flush"}']
    [audio] = ser.decode(bytes(960))  # 20 ms of linear16 at 24 kHz
    assert isinstance(audio, TTSAudioFrame) and audio.sample_rate == 24000
    assert audio.duration == pytest.approx(0.02)
    flushed = {"type": "Flushed", "sequence_id": 0}
    assert ser.decode(json.dumps(flushed)) == [InputTransportMessageFrame(message=flushed)]
    assert ser.flushed == 1
    assert ser.close() == ['{"type":"Close"}']


def test_clear_drops_audio_in_flight_until_cleared() -> None:
    ser = DeepgramSpeakSerializer()
    assert ser.encode(InterruptionFrame()) == ['{"type":"Clear"}']
    assert ser.decode(bytes(960)) == []
    assert ser.dropped_audio_bytes == 960
    cleared = {"type": "Cleared", "sequence_id": 1}
    assert ser.decode(json.dumps(cleared)) == [InputTransportMessageFrame(message=cleared)]
    [audio] = ser.decode(bytes(960))
    assert isinstance(audio, TTSAudioFrame)


def test_flush_rate_limit() -> None:
    ser = DeepgramSpeakSerializer()
    for i in range(FLUSH_LIMIT):
        assert ser.flush_delay(float(i)) == 0.0
        ser.flush(float(i))
    assert ser.flush_delay(20.0) == pytest.approx(40.0)  # the first one leaves at t=60
    assert ser.flush_delay(60.0) == 0.0


def test_speak_warning_metadata_mulaw() -> None:
    ser = DeepgramSpeakSerializer(SpeakOptions(encoding="mulaw", sample_rate=8000))
    [warn] = ser.decode('{"type":"Warning","description":"too many flushes","code":"W-1"}')
    assert isinstance(warn, ErrorFrame) and "too many flushes" in warn.error and not warn.fatal
    [meta] = ser.decode('{"type":"Metadata","request_id":"r","model_name":"aura"}')
    assert isinstance(meta, InputTransportMessageFrame) and ser.metadata is not None
    [audio] = ser.decode(b"\xff" * 160)
    assert isinstance(audio, TTSAudioFrame) and audio.audio == ulaw_decode(b"\xff" * 160)
    with pytest.raises(ValueError):
        SpeakOptions(encoding="mulaw", sample_rate=24000)
    with pytest.raises(ProtocolError):
        DeepgramSpeakSerializer().decode(bytes(3))
    with pytest.raises(ProtocolError):
        ser.speak("\ud800")

"""The serializers :mod:`.fuzz` fuzzes: valid messages of every kind each receives
(the templates the generators mutate) and one :class:`~.fuzz.FuzzTarget` line each in
:data:`TARGETS`. Adding a serializer is one line here (plus its templates); ``tests/
serializers/test_fuzz.py`` and ``scripts/fuzz.py`` pick it up. Needs ``hypothesis``."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from ..serializers.base import FrameSerializer
from .fuzz import (
    FuzzTarget,
    ProtoSchema,
    json_messages,
    json_target,
    pcm_messages,
    proto_target,
)

__all__ = ["TARGETS", "register"]


def register(target: FuzzTarget) -> FuzzTarget:
    """Add ``target`` to :data:`TARGETS` (replacing one of the same name)."""
    TARGETS[target.name] = target
    return target




def _b64(n: int) -> str:
    return base64.b64encode(bytes(range(256)) * (n // 256) + bytes(n % 256)).decode()


_SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
TWILIO_START = {
    "event": "start", "sequenceNumber": "1", "streamSid": _SID,
    "start": {"accountSid": "AC1", "streamSid": _SID, "callSid": "CA1", "tracks": ["inbound"],
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
              "customParameters": {"caller": "+15550100"}},
}
TWILIO_MESSAGES = [
    {"event": "connected", "protocol": "Call", "version": "1.0.0"},
    TWILIO_START,
    {"event": "media", "sequenceNumber": "3", "streamSid": _SID,
     "media": {"track": "inbound", "chunk": "1", "timestamp": "5", "payload": _b64(160)}},
    {"event": "dtmf", "streamSid": _SID, "sequenceNumber": "5",
     "dtmf": {"track": "inbound_track", "digit": "1"}},
    {"event": "mark", "sequenceNumber": "4", "streamSid": _SID, "mark": {"name": "m1"}},
    {"event": "stop", "sequenceNumber": "5", "streamSid": _SID,
     "stop": {"accountSid": "AC1", "callSid": "CA1"}},
]
VAPI_CLIENT_TO_SERVER = [
    {"type": "say", "content": "hello", "endCallAfterSpoken": False,
     "interruptAssistantEnabled": True},
    {"type": "end-call"},
    {"type": "hangup"},
    {"type": "control", "control": "mute-assistant"},
    {"type": "add-message", "message": {"role": "system", "content": "x"},
     "triggerResponseEnabled": True},
    {"type": "transfer", "destination": {"type": "number", "number": "+15550100"}},
    {"message": {"type": "say", "content": "wrapped"}},
]
VAPI_SERVER_TO_CLIENT = [
    {"type": "transcript", "role": "user", "transcriptType": "final", "transcript": "hi"},
    {"type": "transcript", "role": "user", "transcriptType": "partial", "transcript": "h"},
    {"type": "speech-update", "status": "started", "role": "assistant", "turn": 0},
    {"type": "user-interrupted"},
    {"type": "status-update", "status": "ended", "endedReason": "customer-ended-call"},
    {"type": "model-output", "output": "x"},
    {"type": "conversation-update", "messages": [{"role": "user", "message": "hi"}]},
    {"message": {"type": "status-update", "status": "in-progress"}},
]
VIDEOSDK_TO_CLIENT = [
    {"event": "media", "payload": _b64(320)},
    {"event": "message", "topic": "chat",
     "data": {"message": "hi", "senderId": "u1", "senderName": "U", "timestamp": 1, "id": "x"}},
    {"event": "participant-joined", "participantId": "p1"},
    {"event": "meeting-joined", "roomId": "r1"},
    {"event": "meeting-left"},
]
VIDEOSDK_TO_SERVER = [
    {"event": "start"},
    {"event": "media", "payload": _b64(320)},
    {"event": "subscribe", "topic": "chat"},
    {"event": "unsubscribe", "topic": "chat"},
    {"event": "message", "topic": "chat", "data": "hello"},
    {"event": "message", "topic": "chat", "data": {"message": "hi"}},
    {"event": "stop"},
]
RTVI_CLIENT = [
    {"label": "rtvi-ai", "type": "client-ready", "id": "r1",
     "data": {"version": "2.0.0", "about": {"library": "pipecat-client-js"}}},
    {"label": "rtvi-ai", "type": "disconnect-bot", "id": "r2"},
    {"label": "rtvi-ai", "type": "client-message", "id": "r3",
     "data": {"t": "hello", "d": {"k": [1, "v"]}}},
    {"label": "rtvi-ai", "type": "send-text", "id": "r4",
     "data": {"content": "hi", "options": {"run_immediately": True}}},
    {"label": "rtvi-ai", "type": "llm-function-call-result", "id": "r5",
     "data": {"function_name": "f", "tool_call_id": "t1", "arguments": {}, "result": {}}},
    {"label": "rtvi-ai", "type": "dtmf", "data": {"button": "1"}},
    {"label": "rtvi-ai", "type": "no-such-type"},
]
_WORD = {"word": "hello", "start": 0.08, "end": 0.4, "confidence": 0.99,
         "punctuated_word": "Hello"}
DEEPGRAM_LISTEN = [
    {"type": "Results", "channel_index": [0, 1], "duration": 1.0, "start": 0.0,
     "is_final": True, "speech_final": True, "from_finalize": False,
     "channel": {"alternatives": [{"transcript": "hello", "confidence": 0.9,
                                   "words": [_WORD], "languages": ["en"]}]},
     "metadata": {"request_id": "r"}},
    {"type": "SpeechStarted", "channel": [0, 1], "timestamp": 9.5},
    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": 2.3},
    {"type": "Metadata", "request_id": "r", "duration": 3.0, "channels": 1},
]
DEEPGRAM_FLUX = [
    {"type": "TurnInfo", "event": "EndOfTurn", "turn_index": 0, "transcript": "yes",
     "words": [{"word": "yes", "confidence": 0.9, "start": 0.1, "end": 0.3}],
     "end_of_turn_confidence": 0.8, "audio_window_start": 0.0, "audio_window_end": 1.0,
     "request_id": "r", "sequence_id": 3},
    {"type": "TurnInfo", "event": "StartOfTurn", "turn_index": 1, "transcript": "",
     "words": [], "sequence_id": 4},
    {"type": "TurnInfo", "event": "Update", "transcript": "ye", "words": [], "sequence_id": 2},
    {"type": "Connected", "request_id": "r", "sequence_id": 0},
    {"type": "Error", "sequence_id": 4, "code": "X", "description": "d"},
]
DEEPGRAM_SPEAK = [
    {"type": "Flushed", "sequence_id": 0}, {"type": "Cleared", "sequence_id": 1},
    {"type": "Metadata", "request_id": "r", "model_name": "aura"},
    {"type": "Warning", "description": "d", "code": "c"},
]
CARTESIA = [
    {"type": "chunk", "context_id": "c", "status_code": 206, "done": False,
     "data": "AAAAABAA8P8=", "step_time": 1.0, "flush_id": 1},
    {"type": "timestamps", "context_id": "c", "status_code": 206, "done": False,
     "word_timestamps": {"words": ["Hi", "there"], "start": [0.0, 0.3], "end": [0.2, 0.6]}},
    {"type": "done", "context_id": "c", "status_code": 206, "done": True},
    {"type": "flush_done", "context_id": "c", "flush_id": 1, "flush_done": True},
    {"type": "error", "context_id": "c", "error": "e"},
]
ELEVENLABS = [
    {"audio": "AQD/fw==", "isFinal": None, "contextId": "c",
     "alignment": {"chars": ["H", "i", " "], "charStartTimesMs": [0, 40, 80],
                   "charsDurationsMs": [40, 40, 40]}},
    {"isFinal": True, "contextId": "c"},
    {"message": "m", "error": "e"},
]
PIPECAT_FRAME: ProtoSchema = {
    1: {1: "varint", 2: "string", 3: "string"},
    2: {1: "varint", 2: "string", 3: "bytes", 4: "varint", 5: "varint", 6: "varint"},
    3: {1: "varint", 2: "string", 3: "string", 4: "string", 5: "string"},
    4: {1: "json"},
    5: {1: "varint", 2: "string"},
}
CLOUDFLARE_PACKET: ProtoSchema = {1: "varint", 2: "varint", 5: "bytes"}


def _raw() -> FrameSerializer:
    from ..serializers.raw import RawSerializer

    return RawSerializer(16000, 2)


def _pipecat() -> FrameSerializer:
    from ..serializers.pipecat import PipecatSerializer

    return PipecatSerializer()


def _cloudflare(role: Any) -> Callable[[], FrameSerializer]:
    def make() -> FrameSerializer:
        from ..serializers.cloudflare import CloudflareAdapterSerializer

        return CloudflareAdapterSerializer(role)

    return make


def _rtvi() -> FrameSerializer:
    from ..serializers.rtvi import RTVISerializer

    return RTVISerializer()


def _speech(module: str, cls: str, *args: Any) -> Callable[[], FrameSerializer]:
    def make() -> FrameSerializer:
        import importlib

        return getattr(importlib.import_module(f"wavewire.serializers.{module}"), cls)(*args)

    return make


def _twilio() -> FrameSerializer:
    from ..serializers.twilio import TwilioSerializer

    return TwilioSerializer()


def _vapi(server: bool, encoding: Any) -> Callable[[], FrameSerializer]:
    def make() -> FrameSerializer:
        from ..serializers.vapi import VapiSerializer, VapiServerSerializer

        return (VapiServerSerializer if server else VapiSerializer)(encoding)

    return make


def _videosdk(server: bool) -> Callable[[], FrameSerializer]:
    def make() -> FrameSerializer:
        from ..serializers.videosdk import VideoSDKSerializer, VideoSDKServerSerializer

        return VideoSDKServerSerializer() if server else VideoSDKSerializer(default_topic="t")

    return make


TARGETS: dict[str, FuzzTarget] = {
    t.name: t
    for t in (
        FuzzTarget("raw", _raw, lambda: st.one_of(
            pcm_messages(), json_messages([{"a": [1, {"b": "c"}]}, [1, 2], "s", 1], binary=False))),
        proto_target("pipecat", _pipecat, PIPECAT_FRAME),
        proto_target("cloudflare-stream", _cloudflare("stream"), CLOUDFLARE_PACKET),
        proto_target("cloudflare-ingest", _cloudflare("ingest"), CLOUDFLARE_PACKET),
        json_target("rtvi", _rtvi, RTVI_CLIENT),
        json_target("twilio", _twilio, TWILIO_MESSAGES, prime=[TWILIO_START]),
        json_target("vapi-server", _vapi(True, "pcm_s16le"), VAPI_CLIENT_TO_SERVER),
        json_target("vapi-server-mulaw", _vapi(True, "mulaw"), VAPI_CLIENT_TO_SERVER),
        json_target("vapi-client", _vapi(False, "pcm_s16le"), VAPI_SERVER_TO_CLIENT),
        json_target("videosdk-client", _videosdk(False), VIDEOSDK_TO_CLIENT),
        json_target("videosdk-server", _videosdk(True), VIDEOSDK_TO_SERVER,
                    prime=[{"event": "start"}]),
        json_target("deepgram-listen", _speech("deepgram", "DeepgramListenSerializer"),
                    DEEPGRAM_LISTEN),
        json_target("deepgram-flux", _speech("deepgram_flux", "DeepgramFluxSerializer"),
                    DEEPGRAM_FLUX),
        json_target("deepgram-speak", _speech("deepgram_speak", "DeepgramSpeakSerializer"),
                    DEEPGRAM_SPEAK),
        json_target("cartesia", _speech("cartesia", "CartesiaSerializer", "voice"), CARTESIA),
        json_target("elevenlabs", _speech("elevenlabs", "ElevenLabsSerializer", "voice"),
                    ELEVENLABS),
    )
}
"""Every serializer fuzzed, by name. One line per serializer."""


def _llm_targets() -> None:
    from .fuzz_llm import TARGETS as LLM

    for target in LLM:
        register(target)


_llm_targets()

"""Vapi WebSocket transport (protocols.md §4), both sides of it.

Binary messages are raw audio in the call's ``audioFormat``: ``pcm_s16le`` (mono,
16 kHz by default, any rate the call was created with) or ``mulaw`` (G.711 μ-law,
8 kHz). Text messages are flat JSON objects with a ``type``.

:class:`VapiSerializer` — the *client* side: wavewire connects to a call's
``websocketCallUrl`` and Vapi runs the assistant. Inbound (server → client):

=========================  ==================================================
``transcript`` (user)       :class:`TranscriptionFrame` (``final``) or
                            :class:`InterimTranscriptionFrame` (``partial``)
``speech-update``           ``Bot``/``User`` ``Started``/``StoppedSpeakingFrame``
``user-interrupted``        :class:`InterruptionFrame` (drop assistant audio queued)
``status-update`` ended     :class:`EndTaskFrame` (reason = ``endedReason``)
anything else               :class:`InputTransportMessageFrame` (the whole object;
                            assistant transcripts included, so no TTS repeats them)
=========================  ==================================================

Outbound: audio → binary; :class:`TTSSpeakFrame` → ``say``; :class:`EndFrame` →
``end-call``; transport messages (e.g. ``add-message``, ``control``, ``transfer``) are
sent as their JSON. :meth:`VapiSerializer.say`, :meth:`~VapiSerializer.add_message`,
:meth:`~VapiSerializer.control` and :meth:`~VapiSerializer.end_call` build messages
directly. ``close()`` sends ``end-call`` unless one was sent or the call already ended.

:class:`VapiServerSerializer` — the *server* side, so a client written for Vapi's
transport can talk to a wavewire bot. Inbound (client → server): ``say`` →
:class:`TTSSpeakFrame` (followed by :class:`EndTaskFrame` when ``endCallAfterSpoken``);
``end-call`` (and the unconfirmed ``hangup``) → :class:`EndTaskFrame`; every other type
(``add-message``, ``control``, ``transfer``…) → :class:`InputTransportMessageFrame`.
Outbound (server → client): ``status-update`` (``in-progress`` on ``open()``, ``ended``
on :class:`EndFrame` or ``close()``, once), ``transcript`` (user from
:class:`TranscriptionFrame` / :class:`InterimTranscriptionFrame`; assistant partials
accumulated from :class:`TTSTextFrame`, final on :class:`BotStoppedSpeakingFrame`),
``speech-update`` from the speaking frames (``turn`` is the role's 0-based utterance
count — Vapi's exact numbering is unconfirmed), ``model-output`` from
:class:`LLMTextFrame`, ``user-interrupted`` from :class:`InterruptionFrame`. No
``timestamp`` is added: serializers read no clocks.

Policy (both sides): invalid JSON, a non-object, an object without a string ``type``,
JSON nested deeper than :data:`~wavewire.serializers.fields.MAX_JSON_DEPTH` levels or
holding a string that is not valid Unicode (lone surrogates), a field of the wrong type
where one is read, and audio that is not whole samples raise
:class:`~wavewire.errors.ProtocolError`.

Audio formats: ``pcm_s16le`` at one of :data:`~wavewire.audio.resample.STANDARD_RATES`
(8000-48000 Hz, the rates wavewire converts at a bounded cost) or ``mulaw`` at 8000 Hz;
anything else is refused when the serializer is made (``ValueError``; on the server
``/vapi`` answers the handshake with HTTP 400). The
SDK/webhook wrapper ``{"message": {...}}`` is unwrapped. Unknown types are passed on as
:class:`InputTransportMessageFrame` (Vapi adds message types often) and counted in
``unknown_types``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..audio.g711 import ulaw_decode, ulaw_encode
from ..audio.resample import STANDARD_RATES
from ..errors import ProtocolError, clip
from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    EndTaskFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    LLMTextFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from .base import MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat
from .fields import check_audio, check_json, dumps, load_object

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["VapiSerializer", "VapiServerSerializer", "CONTROLS"]

_P = "vapi"

SERVER_TYPES = frozenset(
    {
        "status-update", "transcript", "speech-update", "model-output",
        "conversation-update", "user-interrupted", "hang", "metadata", "tool-calls",
        "tool-calls-result", "transfer-update", "voice-input", "language-change-detected",
        "assistant.speechStarted", "assistant.started", "workflow.node.started",
        "function-call", "function-call-result", "end-of-call-report", "chat.created",
        "chat.deleted", "session.created", "session.updated", "session.deleted",
        "call.deleted", "call.delete.failed", "language-changed", "tool.completed",
    }
)  # fmt: skip
"""Server → client message types documented by Vapi (others are counted as unknown)."""

CLIENT_TYPES = frozenset(
    {"add-message", "control", "say", "end-call", "transfer", "send-transport-message",
     "handoff", "hangup"}
)  # fmt: skip
"""Client → server message types (``handoff`` and ``hangup`` unconfirmed on the socket)."""

CONTROLS = frozenset(
    {"mute-assistant", "unmute-assistant", "mute-customer", "unmute-customer",
     "say-first-message"}
)  # fmt: skip
"""Values of the ``control`` message."""


def _wire(encoding: str, sample_rate: int | None) -> WireFormat:
    if encoding == PCM_S16LE:
        rate = 16000 if sample_rate is None else sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int) or rate not in STANDARD_RATES:
            raise ValueError(
                f"vapi: pcm_s16le sample_rate must be one of {sorted(STANDARD_RATES)},"
                f" not {clip(rate)}"
            )
        return WireFormat(sample_rate=rate, num_channels=1, encoding=PCM_S16LE)
    if encoding == MULAW:
        if sample_rate not in (None, 8000):
            raise ValueError("vapi: mulaw audio is 8000 Hz")
        return WireFormat(sample_rate=8000, num_channels=1, encoding=MULAW)
    raise ValueError(f"vapi: encoding must be 'pcm_s16le' or 'mulaw', not {clip(repr(encoding))}")


class _VapiBase(FrameSerializer):
    """Audio and JSON plumbing shared by both sides."""

    protocol = "vapi"

    def __init__(self, encoding: Literal["pcm_s16le", "mulaw"], sample_rate: int | None) -> None:
        self.wire = _wire(encoding, sample_rate)
        self._mulaw = self.wire.encoding == MULAW
        self.unknown_types = 0
        """Messages whose ``type`` is not documented (passed on all the same)."""

    def _encode_audio(self, frame: OutputAudioFrame) -> list[Message]:
        check_audio(frame, self.wire, _P)
        if not frame.audio:
            return []
        return [ulaw_encode(frame.audio) if self._mulaw else bytes(frame.audio)]

    def _decode_audio(self, data: bytes) -> list[Frame]:
        if not data:
            return []
        if self._mulaw:
            return [InputAudioFrame(ulaw_decode(data), 8000, 1)]
        if len(data) % 2:
            raise ProtocolError(f"{_P}: {len(data)} bytes of pcm_s16le is not whole samples")
        return [InputAudioFrame(bytes(data), self.wire.sample_rate, 1)]

    def _load(self, text: str) -> tuple[str, dict[str, Any]]:
        msg = load_object(text, _P)
        kind = msg.get("type")
        if kind is None and isinstance(msg.get("message"), dict):
            msg = msg["message"]  # the SDK/webhook wrapper form
            kind = msg.get("type")
        if not isinstance(kind, str):
            raise ProtocolError(f"{_P}: message without a string 'type'")
        check_json(msg, text, _P)
        return kind, msg


class VapiSerializer(_VapiBase):
    """Client side of a Vapi WebSocket call (we connect to ``websocketCallUrl``).

    ``encoding``/``sample_rate`` must match the call's ``transport.audioFormat``."""

    def __init__(
        self,
        encoding: Literal["pcm_s16le", "mulaw"] = "pcm_s16le",
        sample_rate: int | None = None,
    ) -> None:
        super().__init__(encoding, sample_rate)
        self.status: str | None = None
        """Last ``status-update`` status (``in-progress``, ``ended``…)."""
        self.ended_reason: str | None = None
        """``endedReason`` of the ``ended`` status, once received."""
        self._end_sent = False

    # --- helpers that build client → server messages ------------------------------

    def say(
        self,
        content: str,
        *,
        end_call_after_spoken: bool = False,
        interrupt_assistant: bool = False,
    ) -> list[Message]:
        """``say``: the assistant speaks ``content`` now."""
        return [
            dumps(
                {
                    "type": "say",
                    "content": content,
                    "endCallAfterSpoken": end_call_after_spoken,
                    "interruptAssistantEnabled": interrupt_assistant,
                }
            )
        ]

    def add_message(
        self, role: str, content: str, *, trigger_response: bool = True
    ) -> list[Message]:
        """``add-message``: append a message to the conversation."""
        return [
            dumps(
                {
                    "type": "add-message",
                    "message": {"role": role, "content": content},
                    "triggerResponseEnabled": trigger_response,
                }
            )
        ]

    def control(self, control: str) -> list[Message]:
        """``control``: one of :data:`CONTROLS` (mute/unmute, say-first-message)."""
        if control not in CONTROLS:
            raise ValueError(f"vapi: unknown control {control!r}; one of {sorted(CONTROLS)}")
        return [dumps({"type": "control", "control": control})]

    def end_call(self) -> list[Message]:
        """``end-call``, at most once per connection (later calls return ``[]``)."""
        if self._end_sent or self.status == "ended":
            return []
        self._end_sent = True
        return ['{"type":"end-call"}']

    # --- contract -----------------------------------------------------------------

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, OutputAudioFrame):
            return self._encode_audio(frame)
        if isinstance(frame, TTSSpeakFrame):
            return self.say(frame.text)
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            msg = frame.message
            if isinstance(msg, dict) and msg.get("type") == "end-call":
                return self.end_call()
            return [dumps(msg)]
        if isinstance(frame, EndFrame):
            return self.end_call()
        return []

    def close(self) -> list[Message]:
        return self.end_call()

    def decode(self, message: Message) -> list[Frame]:
        if not isinstance(message, str):
            return self._decode_audio(message)
        kind, msg = self._load(message)
        if kind == "transcript":
            text = msg.get("transcript")
            if msg.get("role") == "user" and isinstance(text, str):
                if msg.get("transcriptType") == "partial":
                    return [InterimTranscriptionFrame(text, user_id="user", result=msg)]
                return [TranscriptionFrame(text, user_id="user", result=msg)]
            return [InputTransportMessageFrame(message=msg)]
        if kind == "speech-update":
            role = msg.get("role")
            status = msg.get("status")
            if role == "assistant":
                if status == "started":
                    return [BotStartedSpeakingFrame()]
                if status == "stopped":
                    return [BotStoppedSpeakingFrame()]
            elif role == "user":
                if status == "started":
                    return [UserStartedSpeakingFrame()]
                if status == "stopped":
                    return [UserStoppedSpeakingFrame()]
            return [InputTransportMessageFrame(message=msg)]
        if kind == "user-interrupted":
            return [InterruptionFrame()]
        if kind == "status-update":
            status = msg.get("status")
            self.status = status if isinstance(status, str) else None
            if status == "ended":
                reason = msg.get("endedReason")
                self.ended_reason = reason if isinstance(reason, str) else ""
                return [EndTaskFrame(reason=f"vapi: call ended ({self.ended_reason})")]
            return [InputTransportMessageFrame(message=msg)]
        if kind not in SERVER_TYPES:
            self.unknown_types += 1
        return [InputTransportMessageFrame(message=msg)]


class VapiServerSerializer(_VapiBase):
    """Server side of Vapi's WebSocket transport: a Vapi client talks to a wavewire bot."""

    def __init__(
        self,
        encoding: Literal["pcm_s16le", "mulaw"] = "pcm_s16le",
        sample_rate: int | None = None,
    ) -> None:
        super().__init__(encoding, sample_rate)
        self.ended_reason: str | None = None
        """Why the call ended (``customer-ended-call``, ``assistant-ended-call``…), once it
        has; the ``ended`` status-update is sent at most once."""
        self._ended_sent = False
        self._turns = {"assistant": 0, "user": 0}
        self._speaking: set[str] = set()
        self._assistant_text = ""

    def open(self) -> list[Message]:
        if self._ended_sent:
            return []
        return ['{"type":"status-update","status":"in-progress"}']

    def _ended(self, reason: str) -> list[Message]:
        if self._ended_sent:
            return []
        self._ended_sent = True
        self.ended_reason = self.ended_reason or reason
        return [
            dumps({"type": "status-update", "status": "ended", "endedReason": self.ended_reason})
        ]

    def _speech(self, role: str, started: bool) -> list[Message]:
        if started:
            if role in self._speaking:
                return []
            self._speaking.add(role)
        else:
            if role not in self._speaking:
                return []
            self._speaking.discard(role)
        msg = dumps(
            {
                "type": "speech-update",
                "status": "started" if started else "stopped",
                "role": role,
                "turn": self._turns[role],
            }
        )
        if not started:
            self._turns[role] += 1
        return [msg]

    def encode(self, frame: Frame) -> list[Message]:
        if self._ended_sent:
            return []
        if isinstance(frame, OutputAudioFrame):
            return self._encode_audio(frame)
        if isinstance(frame, TTSTextFrame):
            self._assistant_text = f"{self._assistant_text} {frame.text}".strip()
            return [_transcript("assistant", "partial", self._assistant_text)]
        if isinstance(frame, LLMTextFrame):
            return [dumps({"type": "model-output", "output": frame.text})]
        if isinstance(frame, TranscriptionFrame):
            return [_transcript("user", "final", frame.text)]
        if isinstance(frame, InterimTranscriptionFrame):
            return [_transcript("user", "partial", frame.text)]
        if isinstance(frame, BotStartedSpeakingFrame):
            return self._speech("assistant", True)
        if isinstance(frame, BotStoppedSpeakingFrame):
            out = self._speech("assistant", False)
            if self._assistant_text:
                out.append(_transcript("assistant", "final", self._assistant_text))
                self._assistant_text = ""
            return out
        if isinstance(frame, UserStartedSpeakingFrame):
            return self._speech("user", True)
        if isinstance(frame, UserStoppedSpeakingFrame):
            return self._speech("user", False)
        if isinstance(frame, InterruptionFrame):
            return ['{"type":"user-interrupted"}']
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return [dumps(frame.message)]
        if isinstance(frame, EndFrame):
            return self._ended("assistant-ended-call")
        return []

    def close(self) -> list[Message]:
        return self._ended("assistant-ended-call")

    def decode(self, message: Message) -> list[Frame]:
        if not isinstance(message, str):
            return self._decode_audio(message)
        kind, msg = self._load(message)
        if kind == "say":
            content = msg.get("content")
            if not isinstance(content, str):
                raise ProtocolError(f"{_P}: 'say' without a string 'content'")
            frames: list[Frame] = [TTSSpeakFrame(content)]
            if msg.get("endCallAfterSpoken") is True:
                self.ended_reason = self.ended_reason or "assistant-said-end-call-phrase"
                frames.append(EndTaskFrame(reason="vapi: say with endCallAfterSpoken"))
            return frames
        if kind == "end-call" or kind == "hangup":
            self.ended_reason = self.ended_reason or "customer-ended-call"
            return [EndTaskFrame(reason="vapi: client sent end-call")]
        if kind == "control":
            control = msg.get("control")
            if not isinstance(control, str) or control not in CONTROLS:
                raise ProtocolError(f"{_P}: unknown control {clip(repr(control))}")
        if kind not in CLIENT_TYPES:
            self.unknown_types += 1
        return [InputTransportMessageFrame(message=msg)]


def _transcript(role: str, kind: str, text: str) -> str:
    return dumps({"type": "transcript", "role": role, "transcriptType": kind, "transcript": text})

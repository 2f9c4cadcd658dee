"""The server side of Vapi's WebSocket transport (protocols.md §4), so a client written
for Vapi's transport can talk to a wavewire bot (route ``/vapi``).

The wire format and error policy are :mod:`.vapi_wire`'s. Inbound (client → server):
``say`` → :class:`TTSSpeakFrame` (followed by :class:`EndTaskFrame` when
``endCallAfterSpoken``);
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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..errors import ProtocolError, clip
from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    EndTaskFrame,
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
from .base import Message
from .fields import dumps
from .vapi_wire import _P, CLIENT_TYPES, CONTROLS, VapiBase

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["VapiServerSerializer"]


class VapiServerSerializer(VapiBase):
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

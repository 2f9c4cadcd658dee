"""Vapi WebSocket transport (protocols.md §4), both sides of it.

The wire format (audio formats, message types, the error policy) is
:mod:`.vapi_wire`'s.

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

:class:`~wavewire.serializers.vapi_server.VapiServerSerializer` — the *server* side, so
a client written for Vapi's transport can talk to a wavewire bot — is in
:mod:`.vapi_server`, and imported here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndFrame,
    EndTaskFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from .base import Message
from .fields import dumps
from .vapi_server import VapiServerSerializer
from .vapi_wire import CLIENT_TYPES, CONTROLS, SERVER_TYPES, VapiBase

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["VapiSerializer", "VapiServerSerializer", "CONTROLS", "CLIENT_TYPES", "SERVER_TYPES"]


class VapiSerializer(VapiBase):
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

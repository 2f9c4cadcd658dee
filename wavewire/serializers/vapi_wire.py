"""Vapi's WebSocket wire format (protocols.md §4), shared by both sides of it.

Binary messages are raw audio in the call's ``audioFormat``: ``pcm_s16le`` (mono,
16 kHz by default, any rate the call was created with) or ``mulaw`` (G.711 μ-law,
8 kHz). Text messages are flat JSON objects with a ``type``; :data:`SERVER_TYPES`,
:data:`CLIENT_TYPES` and :data:`CONTROLS` list the documented ones.

:class:`VapiBase` is the audio and JSON plumbing that
:class:`~wavewire.serializers.vapi.VapiSerializer` (the client side) and
:class:`~wavewire.serializers.vapi_server.VapiServerSerializer` (the server side) share.

Policy (both sides): invalid JSON, a non-object, an object without a string ``type``,
JSON nested deeper than :data:`~wavewire.serializers.fields.MAX_JSON_DEPTH` levels or
holding a string that is not valid Unicode (lone surrogates), a field of the wrong type
where one is read, and audio that is not whole samples raise
:class:`~wavewire.errors.ProtocolError`.

Audio formats: ``pcm_s16le`` at one of :data:`~wavewire.audio.resample.STANDARD_RATES`
(8000-48000 Hz, the rates wavewire converts at a bounded cost) or ``mulaw`` at 8000 Hz;
anything else is refused when the serializer is made (``ValueError``; on the server
``/vapi`` answers the handshake with HTTP 400). The SDK/webhook wrapper
``{"message": {...}}`` is unwrapped. Unknown types are passed on as
:class:`~wavewire.frames.InputTransportMessageFrame` (Vapi adds message types often)
and counted in ``unknown_types``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ..audio.g711 import ulaw_decode, ulaw_encode
from ..audio.resample import STANDARD_RATES
from ..errors import ProtocolError, clip
from ..frames import InputAudioFrame, OutputAudioFrame
from .base import MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat
from .fields import check_audio, check_json, load_object

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["VapiBase", "SERVER_TYPES", "CLIENT_TYPES", "CONTROLS"]

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


class VapiBase(FrameSerializer):
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

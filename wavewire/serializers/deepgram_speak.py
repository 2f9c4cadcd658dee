"""Deepgram streaming text-to-speech, Aura ``/v1/speak`` (protocols.md §6), client side.

:class:`SpeakOptions` is the typed query (model, ``encoding``, ``sample_rate``, ``speed``).

:class:`DeepgramSpeakSerializer`. Outbound: a :class:`TextFrame` (LLM text) or a
:class:`TTSSpeakFrame` → ``Speak``; :class:`InterruptionFrame` → ``Clear``;
:meth:`~DeepgramSpeakSerializer.flush` → ``Flush`` (at the end of a sentence or of the
LLM response); ``close()`` → ``Close``. Flushes are limited to 20 per 60 s:
:meth:`~DeepgramSpeakSerializer.flush_delay` says how long to wait before the next one
is allowed (time is passed in; serializers read no clock).

Inbound: binary audio → :class:`TTSAudioFrame` (PCM at the socket's rate; μ-law and
A-law decoded); audio that arrives after a ``Clear`` and before its ``Cleared`` is
dropped and counted in ``dropped_audio_bytes`` (it belongs to the interrupted speech);
``Flushed`` / ``Cleared`` / ``Metadata`` → :class:`InputTransportMessageFrame` (the
service reads them; ``flushed`` and ``cleared`` count them); ``Warning`` → a non-fatal
:class:`ErrorFrame`. Bad input raises :class:`~wavewire.errors.ProtocolError`; unknown
types are counted in ``unknown_types``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from ..errors import clip
from ..frames import (
    ErrorFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    TextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
)
from .base import ALAW, MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat
from .fields import (
    decode_pcm,
    dumps,
    load_message,
    message_type,
    opt_int,
    opt_str,
    passed_on,
    require_str,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["SpeakOptions", "DeepgramSpeakSerializer", "FLUSH_LIMIT", "FLUSH_WINDOW_S"]

_P = "deepgram"

FLUSH_LIMIT = 20
"""Flushes allowed per :data:`FLUSH_WINDOW_S` seconds (§6.3)."""
FLUSH_WINDOW_S = 60.0
"""The flush rate-limit window, in seconds."""

_RATES = {
    "linear16": (8000, 16000, 24000, 32000, 48000),
    "mulaw": (8000, 16000),
    "alaw": (8000, 16000),
}
_ENCODINGS = {"linear16": PCM_S16LE, "mulaw": MULAW, "alaw": ALAW}


@dataclass(frozen=True, slots=True)
class SpeakOptions:
    """Query parameters of ``/v1/speak`` (§6.1). ``None`` leaves one out."""

    model: str = "aura-2-thalia-en"
    """The Aura voice."""
    encoding: Literal["linear16", "mulaw", "alaw"] = "linear16"
    """Encoding of the audio the server sends."""
    sample_rate: int = 24000
    """Sample rate of the audio the server sends."""
    speed: float | None = None
    """Speaking-rate multiplier."""

    def __post_init__(self) -> None:
        if self.encoding not in _RATES:
            raise ValueError(f"deepgram: speak encoding must be one of {sorted(_RATES)}")
        if self.sample_rate not in _RATES[self.encoding]:
            raise ValueError(
                f"deepgram: {self.encoding} sample_rate must be one of {_RATES[self.encoding]}"
            )

    def query(self) -> list[tuple[str, str]]:
        """The parameters in order, every value a string."""
        q = [
            ("model", self.model),
            ("encoding", self.encoding),
            ("sample_rate", str(self.sample_rate)),
        ]
        if self.speed is not None:
            q.append(("speed", str(self.speed)))
        return q

    def path(self) -> str:
        """The socket's path and query, to append to the base URL."""
        return f"/v1/speak?{urlencode(self.query())}"


def _notice(msg: dict[str, Any], what: str) -> ErrorFrame:
    """A non-fatal :class:`ErrorFrame` for a Deepgram ``Error`` / ``Warning`` message
    (``what`` is ``error`` or ``warning``): its ``code`` and ``description``, clipped."""
    code = opt_str(msg, "code", _P, "") or ""
    description = opt_str(msg, "description", _P, "") or ""
    return ErrorFrame(clip(f"{_P}: {what} {code}: {description}".rstrip(": ")))


class DeepgramSpeakSerializer(FrameSerializer):
    """Client side of ``/v1/speak`` (see the module docstring)."""

    protocol = "deepgram"

    def __init__(self, options: SpeakOptions | None = None) -> None:
        self.options = options or SpeakOptions()
        """The query this socket is opened with."""
        self.wire = WireFormat(
            sample_rate=self.options.sample_rate,
            num_channels=1,
            encoding=_ENCODINGS[self.options.encoding],
        )
        self.context_id: str | None = None
        """Stamped on the audio frames (the service sets it per bot turn)."""
        self.metadata: dict[str, Any] | None = None
        """The ``Metadata`` sent after the handshake."""
        self.flushed = 0
        """``Flushed`` replies received."""
        self.cleared = 0
        """``Cleared`` replies received."""
        self.dropped_audio_bytes = 0
        """Audio received between a ``Clear`` and its ``Cleared`` (dropped)."""
        self.unknown_types = 0
        """Messages of an undocumented ``type`` (no frame)."""
        self._clearing = 0
        self._flushes: deque[float] = deque()

    def path(self) -> str:
        """Path and query of this socket."""
        return self.options.path()

    # --- client → server ------------------------------------------------------------

    def open(self) -> list[Message]:
        """Nothing to send; a new socket has no ``Clear`` in flight any more."""
        self._clearing = 0
        return []

    def speak(self, text: str) -> list[Message]:
        """``Speak``: append ``text`` to the server's buffer (``[]`` for no text)."""
        text = require_str(text, _P, "Speak text", empty=True)
        return [dumps({"type": "Speak", "text": text})] if text else []

    def flush_delay(self, now: float) -> float:
        """Seconds to wait, from ``now``, before a ``Flush`` is within the rate limit."""
        while self._flushes and self._flushes[0] <= now - FLUSH_WINDOW_S:
            self._flushes.popleft()
        if len(self._flushes) < FLUSH_LIMIT:
            return 0.0
        return self._flushes[0] + FLUSH_WINDOW_S - now

    def flush(self, now: float | None = None) -> list[Message]:
        """``Flush``: synthesize everything buffered. With ``now``, the flush is counted
        against the rate limit (see :meth:`flush_delay`)."""
        if now is not None:
            self._flushes.append(now)
        return ['{"type":"Flush"}']

    def clear(self) -> list[Message]:
        """``Clear`` (barge-in): the server drops buffered text and audio; audio still in
        flight is dropped here until ``Cleared``."""
        self._clearing += 1
        return ['{"type":"Clear"}']

    def close(self) -> list[Message]:
        """``Close``: the server closes the socket (1000) at once."""
        return ['{"type":"Close"}']

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, TextFrame | TTSSpeakFrame):
            return self.speak(frame.text)
        if isinstance(frame, InterruptionFrame):
            return self.clear()
        return []

    # --- server → client ------------------------------------------------------------

    def decode(self, message: Message) -> list[Frame]:
        if not isinstance(message, str):
            return self._audio(message)
        msg = load_message(message, _P)
        kind = message_type(msg, _P)
        if kind in ("Flushed", "Cleared"):
            opt_int(msg, "sequence_id", _P)
            if kind == "Flushed":
                self.flushed += 1
            else:
                self.cleared += 1
                self._clearing = max(0, self._clearing - 1)
            return [InputTransportMessageFrame(message=passed_on(msg, message, _P))]
        if kind == "Metadata":
            opt_str(msg, "request_id", _P)
            self.metadata = passed_on(msg, message, _P)
            return [InputTransportMessageFrame(message=msg)]
        if kind == "Warning":
            return [_notice(msg, "warning")]
        self.unknown_types += 1
        return []

    def _audio(self, data: bytes) -> list[Frame]:
        if self._clearing:
            self.dropped_audio_bytes += len(data)
            return []
        if not data:
            return []
        pcm = decode_pcm(data, self.wire.encoding, _P)
        return [TTSAudioFrame(pcm, self.wire.sample_rate, 1, context_id=self.context_id)]

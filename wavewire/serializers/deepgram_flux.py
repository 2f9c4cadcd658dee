"""Deepgram Flux, ``/v2/listen`` (protocols.md §5.6), client side: conversational STT
that detects turns itself.

:class:`FluxOptions` is the typed query (every value a string on the wire).
:class:`DeepgramFluxSerializer`: audio out as for ``/v1/listen``
(:class:`~.deepgram.DeepgramListenSerializer`); ``Configure``, ``ForceEndTurn`` and
``CloseStream`` built by its methods. Inbound, ``TurnInfo`` events become
:class:`STTTurnFrame` (``StartOfTurn`` → ``start``, ``EagerEndOfTurn`` → ``eager_end``,
``TurnResumed`` → ``resumed``, ``EndOfTurn`` → a :class:`TranscriptionFrame` then
``end``); ``Update`` → :class:`InterimTranscriptionFrame`; ``Connected`` /
``ConfigureSuccess`` → :class:`InputTransportMessageFrame`; ``ConfigureFailure`` and
``Error`` → a non-fatal :class:`ErrorFrame` (the service decides). Flux words carry
timing only optionally: a turn's words are kept when every one of them is timed.
Bad input raises :class:`~wavewire.errors.ProtocolError`, as in :mod:`.deepgram`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from ..errors import ProtocolError
from ..frames import (
    ErrorFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    STTTurnFrame,
    TranscriptionFrame,
)
from .deepgram import _P, _ListenBase, _words, wire_format
from .deepgram_speak import _notice
from .fields import (
    dumps,
    load_message,
    message_type,
    opt_list,
    opt_num,
    opt_str,
    passed_on,
    req_str,
)

if TYPE_CHECKING:
    from ..frames import Frame
    from .base import Message

__all__ = ["FLUX_EVENTS", "FluxOptions", "DeepgramFluxSerializer"]

FLUX_EVENTS = {
    "StartOfTurn": "start",
    "EagerEndOfTurn": "eager_end",
    "TurnResumed": "resumed",
    "EndOfTurn": "end",
}
"""Flux ``TurnInfo.event`` → :attr:`STTTurnFrame.event` (``Update`` is an interim)."""




@dataclass(frozen=True, slots=True)
class FluxOptions:
    """Query parameters of Flux ``/v2/listen`` (§5.6). ``None`` leaves one out."""

    model: str = "flux-general-en"
    """``flux-general-en`` or ``flux-general-multi``."""
    encoding: Literal["linear16", "mulaw", "alaw"] = "linear16"
    """Encoding of the audio we send."""
    sample_rate: int = 16000
    """Sample rate of the audio we send (8000, 16000, 24000, 44100, 48000)."""
    eot_threshold: float | None = None
    """End-of-turn confidence threshold (0.5-1.0)."""
    eager_eot_threshold: float | None = None
    """Eager end-of-turn threshold (0.3-0.9); unset means no eager events."""
    eot_timeout_ms: int | None = None
    """Silence in ms that ends a turn regardless of confidence (500-60000)."""
    keyterm: tuple[str, ...] = ()
    """Key terms to boost."""
    extra: tuple[tuple[str, str], ...] = ()
    """Any other parameters, as ``(name, value)`` strings."""

    def __post_init__(self) -> None:
        wire_format(self.encoding, self.sample_rate)
        if self.sample_rate not in (8000, 16000, 24000, 44100, 48000):
            raise ValueError("deepgram: Flux sample_rate is 8000, 16000, 24000, 44100 or 48000")
        for name, lo, hi in (
            ("eot_threshold", 0.5, 1.0),
            ("eager_eot_threshold", 0.3, 0.9),
            ("eot_timeout_ms", 500, 60000),
        ):
            value = getattr(self, name)
            if value is not None and not lo <= value <= hi:
                raise ValueError(f"deepgram: {name} must be within {lo}..{hi}")

    def query(self) -> list[tuple[str, str]]:
        """The parameters in order, every value a string."""
        q = [
            ("model", self.model),
            ("encoding", self.encoding),
            ("sample_rate", str(self.sample_rate)),
        ]
        for name in ("eot_threshold", "eager_eot_threshold", "eot_timeout_ms"):
            value = getattr(self, name)
            if value is not None:
                q.append((name, str(value)))
        q += [("keyterm", k) for k in self.keyterm]
        q += [(str(k), str(v)) for k, v in self.extra]
        return q

    def query_string(self) -> str:
        """The URL-encoded query (without ``?``)."""
        return urlencode(self.query())

    def path(self) -> str:
        """The socket's path and query, to append to the base URL."""
        return f"/v2/listen?{self.query_string()}"




class DeepgramFluxSerializer(_ListenBase):
    """Client side of Flux ``/v2/listen`` (see the module docstring)."""

    def __init__(self, options: FluxOptions | None = None, *, user_id: str = "") -> None:
        self.options = options or FluxOptions()
        """The query this socket is opened with."""
        super().__init__(wire_format(self.options.encoding, self.options.sample_rate), user_id)
        self.time_offset = 0.0
        """Seconds added to every word time (audio sent on earlier sockets)."""
        self.sequence_id = -1
        """The last ``sequence_id`` received."""

    def path(self) -> str:
        """Path and query of this socket."""
        return self.options.path()

    def configure(
        self,
        *,
        eot_threshold: float | None = None,
        eager_eot_threshold: float | None = None,
        eot_timeout_ms: int | None = None,
        keyterms: list[str] | None = None,
    ) -> list[Message]:
        """``Configure``: change thresholds or key terms mid-stream (omitted ones stay)."""
        thresholds = {
            k: v
            for k, v in (
                ("eot_threshold", eot_threshold),
                ("eager_eot_threshold", eager_eot_threshold),
                ("eot_timeout_ms", eot_timeout_ms),
            )
            if v is not None
        }
        msg: dict[str, Any] = {"type": "Configure"}
        if thresholds:
            msg["thresholds"] = thresholds
        if keyterms is not None:
            msg["keyterms"] = list(keyterms)
        return [dumps(msg)]

    def force_end_turn(self) -> list[Message]:
        """``ForceEndTurn``: end the current turn now (``EndOfTurn`` trigger ``manual``)."""
        return ['{"type":"ForceEndTurn"}']

    def decode(self, message: Message) -> list[Frame]:
        msg = load_message(message, _P)
        kind = message_type(msg, _P)
        seq = msg.get("sequence_id")
        if seq is not None:
            if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 1 << 53:
                raise ProtocolError(f"{_P}: 'sequence_id' must be a non-negative integer")
            self.sequence_id = seq
        if kind == "TurnInfo":
            return self._turn(msg)
        if kind in ("Connected", "ConfigureSuccess"):
            self.request_id = opt_str(msg, "request_id", _P, self.request_id)
            return [InputTransportMessageFrame(message=passed_on(msg, message, _P))]
        if kind == "ConfigureFailure":
            return [ErrorFrame(f"{_P}: Configure refused")]
        if kind == "Error":
            return [_notice(msg, "error")]
        self.unknown_types += 1
        return []

    def _turn(self, msg: dict[str, Any]) -> list[Frame]:
        event = req_str(msg, "event", _P)
        text = opt_str(msg, "transcript", _P, "") or ""
        confidence = opt_num(msg, "end_of_turn_confidence", _P)
        opt_num(msg, "audio_window_start", _P)
        opt_num(msg, "audio_window_end", _P)
        raw = opt_list(msg, "words", _P)
        for w in raw:
            if not isinstance(w, dict):
                raise ProtocolError(f"{_P}: a word must be an object")
            req_str(w, "word", _P)
            opt_num(w, "confidence", _P)
            opt_num(w, "start", _P)
            opt_num(w, "end", _P)
        timed = all(w.get("start") is not None and w.get("end") is not None for w in raw)
        words = _words(raw, self.time_offset) if timed else []
        if event == "Update":
            if not text:
                return []
            return [InterimTranscriptionFrame(text, user_id=self.user_id, result=msg, words=words)]
        turn = FLUX_EVENTS.get(event)
        if turn is None:
            self.unknown_types += 1
            return []
        frame = STTTurnFrame(turn, transcript=text, confidence=confidence)
        if turn == "end" and text:
            return [TranscriptionFrame(text, user_id=self.user_id, result=msg, words=words), frame]
        return [frame]

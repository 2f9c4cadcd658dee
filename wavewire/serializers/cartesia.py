"""Cartesia TTS WebSocket (protocols.md §7), client side.

One socket carries many generations ("contexts"); :class:`CartesiaSerializer` keeps one
context per bot turn. Outbound:

========================  ==============================================================
:class:`TextFrame`         a generation request on the current context with
                           ``continue: true`` (a new context is opened when none is)
:class:`TTSSpeakFrame`     a whole request on a context of its own, ``continue: false``
:class:`LLMFullResponseEndFrame`  ends the current context (empty ``transcript``,
                           ``continue: false``)
:class:`InterruptionFrame`  ``cancel`` of the current context; its late audio is dropped
========================  ==============================================================

:meth:`~CartesiaSerializer.request`, :meth:`~CartesiaSerializer.flush`,
:meth:`~CartesiaSerializer.end` and :meth:`~CartesiaSerializer.cancel` build the same
messages for a given ``context_id``. Context ids are ``{prefix}-{n}`` (deterministic;
give a unique prefix per socket).

Inbound: ``chunk`` → :class:`TTSAudioFrame` (base64 audio decoded to PCM, ``context_id``
set); ``timestamps`` → one :class:`TTSTextFrame` per word with ``start_s``/``end_s``
(seconds from the start of the context's audio); ``done`` → :class:`TTSStoppedFrame`;
``flush_done`` and ``phoneme_timestamps`` → :class:`InputTransportMessageFrame`;
``error`` → a non-fatal :class:`ErrorFrame`. Messages for a cancelled context give no
frame and are counted in ``dropped``. Bad input (wrong types, bad base64, lone
surrogates, mismatched timestamp arrays, deep nesting) raises
:class:`~wavewire.errors.ProtocolError`; unknown types are counted in ``unknown_types``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from ..errors import ProtocolError, clip
from ..frames import (
    ErrorFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    TextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from .base import ALAW, MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat
from .fields import (
    b64decode,
    decode_pcm,
    dumps,
    load_message,
    message_type,
    opt_bool,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    passed_on,
    require_num,
    require_str,
    rows,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["CartesiaSerializer", "DEFAULT_VERSION", "PATH"]

_P = "cartesia"

DEFAULT_VERSION = "2025-04-16"
"""``cartesia_version`` sent when none is given."""
PATH = "/tts/websocket"
"""The socket's path."""

_ENCODINGS = {"pcm_s16le": PCM_S16LE, "pcm_mulaw": MULAW, "pcm_alaw": ALAW}
_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_MAX_CANCELLED = 64


class CartesiaSerializer(FrameSerializer):
    """Client side of Cartesia's ``/tts/websocket`` (see the module docstring)."""

    protocol = "cartesia"

    def __init__(
        self,
        voice_id: str,
        *,
        model_id: str = "sonic-2",
        language: str | None = "en",
        encoding: Literal["pcm_s16le", "pcm_mulaw", "pcm_alaw"] = "pcm_s16le",
        sample_rate: int = 24000,
        add_timestamps: bool = True,
        max_buffer_delay_ms: int | None = None,
        context_prefix: str = "ctx",
        extra: dict[str, Any] | None = None,
    ) -> None:
        if encoding not in _ENCODINGS:
            raise ValueError(f"cartesia: encoding must be one of {sorted(_ENCODINGS)}")
        if sample_rate not in _RATES:
            raise ValueError(f"cartesia: sample_rate must be one of {_RATES}")
        self.wire = WireFormat(
            sample_rate=sample_rate, num_channels=1, encoding=_ENCODINGS[encoding]
        )
        self._base: dict[str, Any] = {"model_id": model_id}
        self._voice = {"mode": "id", "id": voice_id}
        self._language = language
        self._settings: dict[str, Any] = {
            "output_format": {
                "container": "raw",
                "encoding": encoding,
                "sample_rate": sample_rate,
            },
            "add_timestamps": add_timestamps,
        }
        if max_buffer_delay_ms is not None:
            self._settings["max_buffer_delay_ms"] = max_buffer_delay_ms
        self._settings.update(extra or {})
        self.context_prefix = context_prefix
        """Prefix of the context ids this serializer makes."""
        self.context_id: str | None = None
        """The context text frames go to, if one is open."""
        self.dropped = 0
        """Messages for cancelled contexts (no frame)."""
        self.unknown_types = 0
        """Messages of an undocumented ``type`` (no frame)."""
        self._contexts = 0
        self._cancelled: list[str] = []

    @staticmethod
    def query_string(api_key: str, version: str = DEFAULT_VERSION) -> str:
        """The socket's query: ``api_key`` and ``cartesia_version``."""
        return urlencode({"api_key": api_key, "cartesia_version": version})

    # --- client → server ------------------------------------------------------------

    def next_id(self) -> str:
        """A new context id (``{prefix}-{n}``), not made current."""
        self._contexts += 1
        return f"{self.context_prefix}-{self._contexts}"

    def new_context(self) -> str:
        """Open a new context (the next bot turn) and make it current."""
        self.context_id = self.next_id()
        return self.context_id

    def request(
        self, context_id: str, transcript: str, *, more: bool = True, flush: bool = False
    ) -> list[Message]:
        """A generation request: ``transcript`` on ``context_id``; ``more`` is the
        ``continue`` field (more text will follow on this context)."""
        msg = dict(self._base)
        msg["transcript"] = require_str(transcript, _P, "transcript", empty=True)
        msg["voice"] = self._voice
        if self._language is not None:
            msg["language"] = self._language
        msg["context_id"] = require_str(context_id, _P, "context_id", empty=True)
        msg.update(self._settings)
        msg["continue"] = more
        if flush:
            msg["flush"] = True
        return [dumps(msg)]

    def flush(self, context_id: str) -> list[Message]:
        """Manual flush of ``context_id`` (its ``flush_id`` grows; a ``flush_done``
        follows)."""
        return self.request(context_id, "", more=True, flush=True)

    def end(self, context_id: str) -> list[Message]:
        """End ``context_id``: no more text (``continue: false``); ``done`` follows."""
        if context_id == self.context_id:
            self.context_id = None
        return self.request(context_id, "", more=False)

    def cancel(self, context_id: str) -> list[Message]:
        """``cancel`` ``context_id``; later messages for it are dropped."""
        if context_id == self.context_id:
            self.context_id = None
        self._cancelled.append(context_id)
        del self._cancelled[:-_MAX_CANCELLED]
        return [dumps({"context_id": context_id, "cancel": True})]

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, TTSSpeakFrame):
            return self.request(self.next_id(), frame.text, more=False)
        if isinstance(frame, TextFrame):
            if not frame.text:
                return []
            context = self.context_id or self.new_context()
            return self.request(context, frame.text, more=True)
        if isinstance(frame, LLMFullResponseEndFrame):
            return self.end(self.context_id) if self.context_id else []
        if isinstance(frame, InterruptionFrame):
            return self.cancel(self.context_id) if self.context_id else []
        return []

    # --- server → client ------------------------------------------------------------

    def decode(self, message: Message) -> list[Frame]:
        msg = load_message(message, _P)
        kind = message_type(msg, _P)
        context = opt_str(msg, "context_id", _P)
        opt_int(msg, "status_code", _P)
        opt_bool(msg, "done", _P)
        if kind == "error":
            text = opt_str(msg, "error", _P) or "error"
            return [ErrorFrame(clip(f"{_P}: {text}"))]
        if context is not None and context in self._cancelled:
            self.dropped += 1
            return []
        if kind == "chunk":
            return [TTSAudioFrame(self._pcm(msg), self.wire.sample_rate, 1, context_id=context)]
        if kind == "timestamps":
            return self._timestamps(msg, context)
        if kind == "done":
            return [TTSStoppedFrame(context_id=context)]
        if kind in ("flush_done", "phoneme_timestamps"):
            opt_int(msg, "flush_id", _P)
            return [InputTransportMessageFrame(message=passed_on(msg, message, _P))]
        self.unknown_types += 1
        return []

    def _pcm(self, msg: dict[str, Any]) -> bytes:
        data = b64decode(msg.get("data"), _P, "'data'")
        opt_int(msg, "flush_id", _P)
        return decode_pcm(data, self.wire.encoding, _P)

    def _timestamps(self, msg: dict[str, Any], context: str | None) -> list[Frame]:
        ts = opt_obj(msg, "word_timestamps", _P)
        if ts is None:
            raise ProtocolError(f"{_P}: timestamps without a 'word_timestamps' object")
        frames: list[Frame] = []
        columns = (opt_list(ts, "words", _P), opt_list(ts, "start", _P), opt_list(ts, "end", _P))
        for word, start, end in rows(_P, "word_timestamps", *columns):
            frames.append(
                TTSTextFrame(
                    require_str(word, _P, "a word", empty=True),
                    start_s=require_num(start, _P, "a word's start"),
                    end_s=require_num(end, _P, "a word's end"),
                    context_id=context,
                )
            )
        return frames

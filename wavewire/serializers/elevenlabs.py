"""ElevenLabs TTS input streaming, ``stream-input`` (protocols.md §8.1), client side.

:class:`ElevenLabsSerializer`. ``open()`` is the initializing message (``text`` a single
space, ``voice_settings``, ``generation_config``, and ``xi_api_key`` only when the key
is to travel in the message rather than in the ``xi-api-key`` header). Outbound:

===============================  ==========================================================
:class:`TextFrame`                ``{"text": "... "}`` (a trailing space added if missing)
:class:`TTSSpeakFrame`            the same with ``"flush": true``
:class:`LLMFullResponseEndFrame`  ``{"text": " ", "flush": true}``: generate what is buffered
``close()``                       ``{"text": ""}``: end of input (the server then closes)
===============================  ==========================================================

A single-context socket cannot cancel a generation: on an interruption the service drops
the socket (``encode`` of an :class:`InterruptionFrame` is ``[]``).

Inbound: ``audio`` (base64, in ``output_format``) → :class:`TTSAudioFrame`; the
``alignment`` (or, with ``normalized=True``, ``normalizedAlignment``) characters are
grouped into words at whitespace → one :class:`TTSTextFrame` per word with ``start_s`` /
``end_s`` in seconds from the start of the utterance (alignment times are relative to
their chunk, so the audio already received is added; a word split across chunks is
joined); ``isFinal: true`` → the last word, then :class:`TTSStoppedFrame`, and timing
restarts (durations are read from ``charsDurationsMs``, as the spec spells it, else
``charDurationsMs``, as some clients read it). ``contextId``/``context_id`` and ``isFinal``/``is_final`` are both read
(multi-context replies). An object with an ``error`` string → a non-fatal
:class:`ErrorFrame`. Bad input raises :class:`~wavewire.errors.ProtocolError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from ..errors import clip
from ..frames import (
    ErrorFrame,
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
    opt_bool,
    opt_list,
    opt_obj,
    opt_str,
    require_num,
    require_str,
    rows,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["ElevenLabsSerializer", "OUTPUT_FORMATS"]

_P = "elevenlabs"

OUTPUT_FORMATS = {
    "pcm_8000": (PCM_S16LE, 8000), "pcm_16000": (PCM_S16LE, 16000),
    "pcm_22050": (PCM_S16LE, 22050), "pcm_24000": (PCM_S16LE, 24000),
    "pcm_44100": (PCM_S16LE, 44100), "ulaw_8000": (MULAW, 8000), "alaw_8000": (ALAW, 8000),
}  # fmt: skip
"""The ``output_format`` values this serializer decodes → (wire encoding, rate)."""


class ElevenLabsSerializer(FrameSerializer):
    """Client side of ``/v1/text-to-speech/{voice_id}/stream-input`` (see the module
    docstring)."""

    protocol = "elevenlabs"

    def __init__(
        self,
        voice_id: str,
        *,
        model_id: str = "eleven_flash_v2_5",
        output_format: str = "pcm_24000",
        voice_settings: dict[str, Any] | None = None,
        chunk_length_schedule: list[int] | None = None,
        api_key: str | None = None,
        normalized: bool = False,
        extra_query: dict[str, str] | None = None,
    ) -> None:
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(f"elevenlabs: output_format must be one of {sorted(OUTPUT_FORMATS)}")
        encoding, rate = OUTPUT_FORMATS[output_format]
        self.wire = WireFormat(sample_rate=rate, num_channels=1, encoding=encoding)
        self.voice_id = voice_id
        self.model_id = model_id
        self.output_format = output_format
        self.voice_settings = voice_settings
        self.chunk_length_schedule = chunk_length_schedule
        self._api_key = api_key
        self._alignment_key = "normalizedAlignment" if normalized else "alignment"
        self._extra_query = dict(extra_query or {})
        self.context_id: str | None = None
        """Stamped on the frames of the current utterance (the service sets it)."""
        self.unknown_messages = 0
        """Objects with neither audio, ``isFinal`` nor ``error`` (no frame)."""
        self._offset_samples = 0
        self._word = ""
        self._word_start = 0.0
        self._word_end = 0.0

    def path(self) -> str:
        """Path and query of this socket."""
        query = {
            "model_id": self.model_id,
            "output_format": self.output_format,
            **self._extra_query,
        }
        return f"/v1/text-to-speech/{quote(self.voice_id, safe='')}/stream-input?{urlencode(query)}"

    # --- client → server ------------------------------------------------------------

    def open(self) -> list[Message]:
        msg: dict[str, Any] = {"text": " "}
        if self.voice_settings is not None:
            msg["voice_settings"] = self.voice_settings
        if self.chunk_length_schedule is not None:
            msg["generation_config"] = {"chunk_length_schedule": self.chunk_length_schedule}
        if self._api_key is not None:
            msg["xi_api_key"] = self._api_key
        return [dumps(msg)]

    def text(self, text: str, *, flush: bool = False) -> list[Message]:
        """A text message (ending with a space), optionally forcing generation."""
        text = require_str(text, _P, "text", empty=True)
        if not text.strip():
            return self.flush() if flush else []
        if not text.endswith(" "):
            text += " "
        if flush:
            return [dumps({"text": text, "flush": True})]
        return [dumps({"text": text})]

    def flush(self) -> list[Message]:
        """Generate everything buffered now, keeping the socket open."""
        return ['{"text":" ","flush":true}']

    def keep_alive(self) -> list[Message]:
        """``{"text": " "}``: resets the server's inactivity timer."""
        return ['{"text":" "}']

    def close(self) -> list[Message]:
        """``{"text": ""}``: end of input."""
        return ['{"text":""}']

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, TTSSpeakFrame):
            return self.text(frame.text, flush=True)
        if isinstance(frame, TextFrame):
            return self.text(frame.text)
        if isinstance(frame, LLMFullResponseEndFrame):
            return self.flush()
        return []

    # --- server → client ------------------------------------------------------------

    def start_utterance(self) -> None:
        """Restart word timing at zero (a new bot turn on the same socket)."""
        self._offset_samples = 0
        self._word = ""

    def decode(self, message: Message) -> list[Frame]:
        msg = load_message(message, _P)
        context = opt_str(msg, "contextId", _P) or opt_str(msg, "context_id", _P)
        context = context or self.context_id
        final = opt_bool(msg, "isFinal", _P) or opt_bool(msg, "is_final", _P)
        error = msg.get("error")
        if error is not None and msg.get("audio") is None:
            text = opt_str(msg, "message", _P) or ""
            if isinstance(error, str):
                text = text or require_str(error, _P, "'error'", empty=True)
            return [ErrorFrame(clip(f"{_P}: {text or 'error'}"))]
        frames: list[Frame] = []
        if msg.get("audio") is not None:
            pcm = decode_pcm(b64decode(msg["audio"], _P, "'audio'"), self.wire.encoding, _P)
            alignment = opt_obj(msg, self._alignment_key, _P)
            if alignment is not None:
                self._align(alignment, frames, context)
            frames.insert(0, TTSAudioFrame(pcm, self.wire.sample_rate, 1, context_id=context))
            self._offset_samples += len(pcm) // 2
        if final:
            self._end_word(frames, context)
            frames.append(TTSStoppedFrame(context_id=context))
            self.start_utterance()
        if not frames:
            self.unknown_messages += 1
        return frames

    def _align(self, alignment: dict[str, Any], frames: list[Frame], context: str | None) -> None:
        durations = opt_list(alignment, "charsDurationsMs", _P) or opt_list(
            alignment, "charDurationsMs", _P
        )
        offset = self._offset_samples / self.wire.sample_rate
        chars = opt_list(alignment, "chars", _P)
        starts = opt_list(alignment, "charStartTimesMs", _P)
        for char, char_start, duration in rows(_P, "alignment", chars, starts, durations):
            c = require_str(char, _P, "a char", empty=True)
            start = offset + require_num(char_start, _P, "a char's start") / 1000
            end = start + require_num(duration, _P, "a char's duration") / 1000
            if not c.strip():
                self._end_word(frames, context)
                continue
            if not self._word:
                self._word_start = start
            self._word += c
            self._word_end = end

    def _end_word(self, frames: list[Frame], context: str | None) -> None:
        if self._word:
            frames.append(
                TTSTextFrame(
                    self._word, start_s=self._word_start, end_s=self._word_end, context_id=context
                )
            )
            self._word = ""

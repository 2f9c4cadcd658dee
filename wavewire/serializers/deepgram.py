"""Deepgram streaming speech-to-text (protocols.md §5), client side: ``/v1/listen`` and
Flux ``/v2/listen``. The text-to-speech side (``/v1/speak``, §6) is in
:mod:`.deepgram_speak` and re-exported here.

:class:`ListenOptions` is the typed query (§5.2): every value goes on the wire as a
string (``true``/``false`` for booleans).

:class:`DeepgramListenSerializer` (``/v1/listen``). Outbound: user audio (an
:class:`~wavewire.frames.InputAudioFrame` or any audio frame, 16-bit PCM at the socket's
rate) → one binary message in the socket's ``encoding`` (never an empty one: that closes
the stream); :meth:`~DeepgramListenSerializer.keep_alive`, ``finalize`` and ``close``
build ``KeepAlive``, ``Finalize`` and ``CloseStream``. Inbound:

=================  =================================================================
``Results``         :class:`TranscriptionFrame` (``is_final``) or
                    :class:`InterimTranscriptionFrame`, with :class:`Word` timings
                    (plus :attr:`~DeepgramListenSerializer.time_offset`); the raw
                    object in ``result``; an empty transcript gives no frame (counted)
``SpeechStarted``   :class:`VADUserStartedSpeakingFrame` (Deepgram's VAD evidence)
``UtteranceEnd``    :class:`VADUserStoppedSpeakingFrame`
``Metadata``        :class:`InputTransportMessageFrame` (also kept in ``metadata``)
=================  =================================================================

:class:`DeepgramFluxSerializer` and :class:`FluxOptions` (Flux) are in
:mod:`.deepgram_flux` (also reachable from here).

Policy: invalid JSON, a non-object, a missing or non-string ``type``, wrong field types,
non-finite numbers, lone surrogates and JSON nested too deeply raise
:class:`~wavewire.errors.ProtocolError`; unknown types are counted in ``unknown_types``
and give no frame. :func:`close_error` maps the close codes of §5.5 / §6.3 to typed
errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from ..audio.g711 import alaw_encode, ulaw_encode
from ..errors import FrameFormatError, ProtocolError, RemoteClosedError, ServiceError
from ..frames import (
    AudioFrame,
    InputAudioFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
    Word,
)
from .base import ALAW, MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat
from .deepgram_speak import DeepgramSpeakSerializer, SpeakOptions
from .fields import (
    dumps,
    load_message,
    message_type,
    opt_bool,
    opt_list,
    opt_num,
    opt_obj,
    opt_str,
    passed_on,
    req_num,
    req_str,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = [
    "ListenOptions",
    "DeepgramListenSerializer",
    "DeepgramSpeakSerializer",
    "SpeakOptions",
    "close_error",
    "wire_format",
]

_P = "deepgram"

_WIRE_ENCODINGS = {"linear16": PCM_S16LE, "mulaw": MULAW, "alaw": ALAW}

def _flag(value: bool) -> str:
    return "true" if value else "false"


def wire_format(encoding: str, sample_rate: int, channels: int = 1) -> WireFormat:
    """The :class:`WireFormat` of a Deepgram socket opened with these query values
    (raw ``linear16``, ``mulaw`` or ``alaw``; containerised and compressed encodings are
    not audio this serializer produces)."""
    if encoding not in _WIRE_ENCODINGS:
        raise ValueError(f"deepgram: encoding must be one of {sorted(_WIRE_ENCODINGS)}")
    if not isinstance(sample_rate, int) or not 1000 <= sample_rate <= 192000:
        raise ValueError(f"deepgram: sample_rate must be an integer Hz, not {sample_rate!r}")
    if not isinstance(channels, int) or not 1 <= channels <= 8:
        raise ValueError(f"deepgram: channels must be within 1..8, not {channels!r}")
    return WireFormat(
        sample_rate=sample_rate, num_channels=channels, encoding=_WIRE_ENCODINGS[encoding]
    )


@dataclass(frozen=True, slots=True)
class ListenOptions:
    """Query parameters of ``/v1/listen`` (§5.2). ``None`` leaves a parameter out."""

    model: str = "nova-3"
    """Model name (``nova-3``, ``nova-2-phonecall``…)."""
    encoding: Literal["linear16", "mulaw", "alaw"] = "linear16"
    """Encoding of the audio we send."""
    sample_rate: int = 16000
    """Sample rate of the audio we send."""
    channels: int = 1
    """Channels of the audio we send."""
    interim_results: bool = True
    """Send interim (non-final) results."""
    language: str | None = "en"
    """BCP-47 language (``multi`` for code switching on nova-3)."""
    endpointing: int | Literal[False] | None = None
    """Silence in ms that ends speech (``speech_final``), ``False`` to disable."""
    utterance_end_ms: int | None = None
    """Gap in ms after the last word that sends ``UtteranceEnd`` (needs interim results)."""
    vad_events: bool = False
    """Send ``SpeechStarted``."""
    smart_format: bool = False
    """Smart formatting."""
    punctuate: bool = False
    """Punctuation and capitalisation."""
    profanity_filter: bool = False
    """Filter profanity."""
    diarize: bool = False
    """Speaker labels on words."""
    keyterm: tuple[str, ...] = ()
    """Key terms to boost (repeated ``keyterm``)."""
    extra: tuple[tuple[str, str], ...] = field(default=())
    """Any other parameters, as ``(name, value)`` strings, sent after the others."""

    def __post_init__(self) -> None:
        wire_format(self.encoding, self.sample_rate, self.channels)
        if self.utterance_end_ms is not None and not self.interim_results:
            raise ValueError("deepgram: utterance_end_ms needs interim_results=True")
        if self.endpointing is True:
            raise ValueError("deepgram: endpointing is milliseconds or False")

    def query(self) -> list[tuple[str, str]]:
        """The parameters in order, every value a string."""
        q = [
            ("model", self.model),
            ("encoding", self.encoding),
            ("sample_rate", str(self.sample_rate)),
            ("channels", str(self.channels)),
            ("interim_results", _flag(self.interim_results)),
        ]
        if self.language is not None:
            q.append(("language", self.language))
        if self.endpointing is not None:
            q.append(
                (
                    "endpointing",
                    "false" if self.endpointing is False else str(int(self.endpointing)),
                )
            )
        if self.utterance_end_ms is not None:
            q.append(("utterance_end_ms", str(int(self.utterance_end_ms))))
        for name in ("vad_events", "smart_format", "punctuate", "profanity_filter", "diarize"):
            if getattr(self, name):
                q.append((name, "true"))
        q += [("keyterm", k) for k in self.keyterm]
        q += [(str(k), str(v)) for k, v in self.extra]
        return q

    def query_string(self) -> str:
        """The URL-encoded query (without ``?``)."""
        return urlencode(self.query())

    def path(self) -> str:
        """The socket's path and query, to append to the base URL."""
        return f"/v1/listen?{self.query_string()}"


_CLOSE_NOT_RETRYABLE = {"DATA-0000", "DATA-0001", "BIG-0000", "BIG-0001", "MESSAGE-0000"}


def close_error(code: int | None, reason: str) -> ServiceError | None:
    """The typed error for a close Deepgram sent (§5.5, §6.3); ``None`` for a normal
    close (1000). Errors caused by what we sent (``DATA-*``, ``BIG-*``, ``MESSAGE-0000``)
    are not retryable; ``NET-*`` ones are."""
    if code == 1000:
        return None
    err = RemoteClosedError(
        f"deepgram closed the socket: {code} {reason}".rstrip(), close_code=code, reason=reason
    )
    if reason in _CLOSE_NOT_RETRYABLE:
        err.retryable = False
    return err


def _words(raw: list[Any], offset: float) -> list[Word]:
    words = []
    for w in raw:
        if not isinstance(w, dict):
            raise ProtocolError(f"{_P}: a word must be an object, got {type(w).__name__}")
        text = opt_str(w, "punctuated_word", _P) or req_str(w, "word", _P)
        words.append(
            Word(
                text,
                req_num(w, "start", _P) + offset,
                req_num(w, "end", _P) + offset,
                opt_num(w, "confidence", _P),
            )
        )
    return words


class _ListenBase(FrameSerializer):
    """Audio out and the shared bookkeeping of both listen sockets."""

    protocol = "deepgram"

    def __init__(self, wire: WireFormat, user_id: str) -> None:
        self.wire = wire
        self.user_id = user_id
        """``user_id`` of the transcription frames."""
        self.unknown_types = 0
        """Messages of an undocumented ``type`` (no frame)."""
        self.request_id: str | None = None
        """The ``request_id`` the server gave this socket, once seen."""

    def audio(self, pcm: bytes) -> list[Message]:
        """One binary message for 16-bit PCM at the wire's rate and channels (``[]`` for
        no audio: Deepgram closes a stream that gets an empty binary message)."""
        if not pcm:
            return []
        if len(pcm) % (2 * self.wire.num_channels):
            raise ProtocolError(f"{_P}: {len(pcm)} bytes is not whole 16-bit sample frames")
        if self.wire.encoding == MULAW:
            return [ulaw_encode(pcm)]
        if self.wire.encoding == ALAW:
            return [alaw_encode(pcm)]
        return [bytes(pcm)]

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, InputAudioFrame | AudioFrame):
            if frame.sample_rate != self.wire.sample_rate or (
                frame.num_channels != self.wire.num_channels
            ):
                raise FrameFormatError(
                    f"{_P}: audio is {frame.sample_rate} Hz x{frame.num_channels}, the socket"
                    f" was opened for {self.wire.sample_rate} Hz x{self.wire.num_channels}"
                )
            return self.audio(frame.audio)
        return []

    def close(self) -> list[Message]:
        """``CloseStream``: the server finishes the audio, sends the last results and
        ``Metadata``, then closes."""
        return ['{"type":"CloseStream"}']


class DeepgramListenSerializer(_ListenBase):
    """Client side of ``/v1/listen`` (see the module docstring)."""

    def __init__(self, options: ListenOptions | None = None, *, user_id: str = "") -> None:
        self.options = options or ListenOptions()
        """The query this socket is opened with."""
        o = self.options
        super().__init__(wire_format(o.encoding, o.sample_rate, o.channels), user_id)
        self.time_offset = 0.0
        """Seconds added to every word time (the audio sent on earlier sockets, after a
        reconnect), so word times stay on the session's audio clock."""
        self.metadata: dict[str, Any] | None = None
        """The last ``Metadata`` message."""
        self.empty_results = 0
        """``Results`` with an empty transcript (no frame)."""
        self.finalized_s = 0.0
        """End of the audio covered by final ``Results`` so far (seconds on the session's
        audio clock, like word times), empty ones included."""

    def path(self) -> str:
        """Path and query of this socket."""
        return self.options.path()

    def keep_alive(self) -> list[Message]:
        """``KeepAlive`` (a text message; send every 3-5 s while no audio flows)."""
        return ['{"type":"KeepAlive"}']

    def finalize(self, channel: int | None = None) -> list[Message]:
        """``Finalize``: transcribe the buffered audio now (end of the user's turn)."""
        if channel is None:
            return ['{"type":"Finalize"}']
        return [dumps({"type": "Finalize", "channel": int(channel)})]

    def decode(self, message: Message) -> list[Frame]:
        msg = load_message(message, _P)
        kind = message_type(msg, _P)
        if kind == "Results":
            return self._results(msg)
        if kind == "SpeechStarted":
            opt_list(msg, "channel", _P)
            opt_num(msg, "timestamp", _P)
            return [VADUserStartedSpeakingFrame()]
        if kind == "UtteranceEnd":
            opt_list(msg, "channel", _P)
            opt_num(msg, "last_word_end", _P)
            return [VADUserStoppedSpeakingFrame()]
        if kind == "Metadata":
            self.request_id = opt_str(msg, "request_id", _P, self.request_id)
            opt_num(msg, "duration", _P)
            self.metadata = passed_on(msg, message, _P)
            return [InputTransportMessageFrame(message=msg)]
        self.unknown_types += 1
        return []

    def _results(self, msg: dict[str, Any]) -> list[Frame]:
        channel = opt_obj(msg, "channel", _P)
        if channel is None:
            raise ProtocolError(f"{_P}: Results without a 'channel' object")
        alternatives = opt_list(channel, "alternatives", _P)
        is_final = opt_bool(msg, "is_final", _P)
        opt_bool(msg, "speech_final", _P)
        opt_bool(msg, "from_finalize", _P)
        start = opt_num(msg, "start", _P)
        duration = opt_num(msg, "duration", _P)
        opt_list(msg, "channel_index", _P)
        if is_final and start is not None and duration is not None:
            # A final span never changes, transcribed or silent: the audio up to its
            # end needs no replay after a reconnect.
            self.finalized_s = max(self.finalized_s, self.time_offset + start + duration)
        if not alternatives:
            self.empty_results += 1
            return []
        alt = alternatives[0]
        if not isinstance(alt, dict):
            raise ProtocolError(f"{_P}: an alternative must be an object")
        text = opt_str(alt, "transcript", _P, "") or ""
        opt_num(alt, "confidence", _P)
        words = _words(opt_list(alt, "words", _P), self.time_offset)
        languages = opt_list(alt, "languages", _P)
        language = languages[0] if languages and isinstance(languages[0], str) else None
        if not text:
            self.empty_results += 1
            return []
        cls = TranscriptionFrame if is_final else InterimTranscriptionFrame
        return [
            cls(
                text,
                user_id=self.user_id,
                language=language or self.options.language,
                result=msg,
                words=words,
            )
        ]


def __getattr__(name: str) -> Any:
    """The Flux names, from :mod:`.deepgram_flux` (imported on first use: it builds on
    this module)."""
    if name in ("FluxOptions", "DeepgramFluxSerializer", "FLUX_EVENTS"):
        from . import deepgram_flux

        return getattr(deepgram_flux, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

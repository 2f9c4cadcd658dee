"""Twilio Media Streams (protocols.md §11): JSON text messages with an ``event`` field,
audio as base64 G.711 μ-law, 8 kHz mono.

Inbound (Twilio → us):

============  ===============================================================
``connected``  remembered (:attr:`TwilioSerializer.protocol_version`); no frame
``start``      fills :attr:`stream_sid`, :attr:`call_sid`, :attr:`account_sid`,
               :attr:`custom_parameters`, :attr:`tracks`; the whole message goes
               up as an :class:`~wavewire.frames.InputTransportMessageFrame`
``media``      :class:`~wavewire.frames.InputAudioFrame` (8 kHz mono PCM);
               ``outbound``-track media (a ``both_tracks`` fork) is counted in
               :attr:`ignored_media` and dropped: it is the bot's own voice
``dtmf``       :class:`~wavewire.frames.InputDTMFFrame`
``mark``       :class:`~wavewire.frames.PlaybackMarkFrame` (audio before it has played)
``stop``       :class:`~wavewire.frames.EndTaskFrame`
============  ===============================================================

Outbound: :class:`~wavewire.frames.OutputAudioFrame` → ``media``;
:class:`~wavewire.frames.PlaybackMarkFrame` → ``mark``;
:class:`~wavewire.frames.InterruptionFrame` → ``clear``; transport messages are sent as
their JSON. Hang-up is a REST call (:mod:`wavewire.services.rest.twilio`), never done here.

Policy: binary messages, invalid JSON, a message without ``event``, ``media`` (or
``dtmf``/``mark``) before ``start``, a ``start`` without ``streamSid`` or with a media
format other than μ-law 8 kHz mono, bad base64 and unknown DTMF digits raise
:class:`~wavewire.errors.ProtocolError`. So does a ``streamSid`` this side could not
send back (not a string, longer than :data:`MAX_SID_LENGTH`, or not valid Unicode: a
lone surrogate), and a ``start`` or ``mark`` whose values could not be passed on (JSON
nested too deeply, lone surrogates): refused when it arrives, not when every later
echo would fail. Unknown events are counted in
:attr:`unknown_events` and ignored. Sending media or a mark before the stream is known
(no ``stream_sid`` given and no ``start`` seen) raises
:class:`~wavewire.errors.InvalidStateError`; after ``stop`` nothing is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..audio.g711 import ulaw_decode, ulaw_encode
from ..errors import InvalidStateError, ProtocolError, clip
from ..frames import (
    EndTaskFrame,
    InputAudioFrame,
    InputDTMFFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    PlaybackMarkFrame,
)
from .base import MULAW, FrameSerializer, Message, WireFormat
from .fields import (
    b64decode,
    b64encode,
    check_audio,
    check_json,
    dumps,
    json_str,
    load_object,
    require_str,
)

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["TwilioSerializer"]

_P = "twilio"
_DIGITS = frozenset("0123456789*#ABCD")
MAX_SID_LENGTH = 64
"""Longest ``streamSid`` accepted (Twilio's are 34 characters)."""


class TwilioSerializer(FrameSerializer):
    """One Twilio Media Streams connection (Twilio dials us).

    ``stream_sid`` may be given when already known (e.g. from a previous connection);
    otherwise it is taken from the ``start`` message."""

    protocol = "twilio"
    playback_marks = True
    wire = WireFormat(sample_rate=8000, num_channels=1, encoding=MULAW, frame_ms=20)

    def __init__(self, stream_sid: str | None = None) -> None:
        self.stream_sid: str | None = None
        """The stream's SID (``MZ…``), from ``start``."""
        self.call_sid: str | None = None
        """The call's SID (``CA…``), from ``start``; needed to hang up."""
        self.account_sid: str | None = None
        """The account's SID (``AC…``), from ``start``."""
        self.custom_parameters: dict[str, Any] = {}
        """``<Parameter>`` values from the TwiML, from ``start.customParameters``."""
        self.tracks: list[str] = []
        """The forked tracks (``inbound``, ``outbound``), from ``start``."""
        self.protocol_version: str | None = None
        """``version`` of the ``connected`` message."""
        self.started = False
        """True once ``start`` has been received."""
        self.stopped = False
        """True once ``stop`` has been received."""
        self.unknown_events = 0
        """Messages with an unknown ``event`` (ignored)."""
        self.ignored_media = 0
        """``outbound``-track media messages dropped."""
        self._prefix = ""
        if stream_sid:
            try:
                self._set_stream(require_str(stream_sid, _P, "stream_sid", max_len=MAX_SID_LENGTH))
            except ProtocolError as exc:
                raise ValueError(str(exc)) from None

    def _set_stream(self, sid: str) -> None:
        self.stream_sid = sid
        # hot path: media messages are built by formatting, not json.dumps
        self._prefix = '{"event":"media","streamSid":' + json_str(sid) + ',"media":{"payload":"'

    # --- outbound ---------------------------------------------------------------

    def encode(self, frame: Frame) -> list[Message]:
        if self.stopped:
            return []
        if isinstance(frame, OutputAudioFrame):
            check_audio(frame, self.wire, _P)
            if not frame.audio:
                return []
            self._need_stream("media")
            return [self._prefix + b64encode(ulaw_encode(frame.audio)) + '"}}']
        if isinstance(frame, InterruptionFrame):
            if self.stream_sid is None:
                return []  # nothing can be buffered at Twilio yet
            return [dumps({"event": "clear", "streamSid": self.stream_sid})]
        if isinstance(frame, PlaybackMarkFrame):
            self._need_stream("mark")
            return [
                dumps({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": frame.name}})
            ]
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return [dumps(frame.message)]
        return []

    def _need_stream(self, what: str) -> None:
        if self.stream_sid is None:
            raise InvalidStateError(
                f"twilio: cannot send {what} before the 'start' message names the stream"
            )

    # --- inbound ----------------------------------------------------------------

    def decode(self, message: Message) -> list[Frame]:
        if not isinstance(message, str):
            raise ProtocolError(
                f"{_P}: expected a text (JSON) message, got {len(message)} bytes of binary",
                close_code=1003,
            )
        msg = load_object(message, _P)
        event = msg.get("event")
        if event == "media":
            if not self.started:
                raise ProtocolError(f"{_P}: 'media' before 'start'")
            media = msg.get("media")
            if not isinstance(media, dict):
                raise ProtocolError(f"{_P}: 'media' message without a media object")
            track = media.get("track")
            if track is not None and track != "inbound" and track != "inbound_track":
                self.ignored_media += 1
                return []
            payload = b64decode(media.get("payload"), _P, "media.payload")
            if not payload:
                return []
            return [InputAudioFrame(ulaw_decode(payload), 8000, 1)]
        if event == "start":
            return self._start(msg, message)
        if event == "mark":
            self._require_started(event)
            mark = msg.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if not isinstance(name, str):
                raise ProtocolError(f"{_P}: 'mark' message without mark.name")
            require_str(name, _P, "mark.name", empty=True)
            return [PlaybackMarkFrame(name)]
        if event == "dtmf":
            self._require_started(event)
            dtmf = msg.get("dtmf")
            digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
            if not isinstance(digit, str) or digit not in _DIGITS:
                raise ProtocolError(f"{_P}: 'dtmf' message with invalid digit {clip(repr(digit))}")
            return [InputDTMFFrame(digit)]
        if event == "connected":
            version = msg.get("version")
            self.protocol_version = (
                version if isinstance(version, str) and len(version) <= MAX_SID_LENGTH else None
            )
            return []
        if event == "stop":
            self.stopped = True
            return [EndTaskFrame(reason="twilio: stream stopped")]
        if event is None:
            raise ProtocolError(f"{_P}: message without 'event'")
        self.unknown_events += 1
        return []

    def _require_started(self, event: str) -> None:
        if not self.started:
            raise ProtocolError(f"{_P}: {event!r} before 'start'")

    def _start(self, msg: dict[str, Any], text: str) -> list[Frame]:
        start = msg.get("start")
        if not isinstance(start, dict):
            raise ProtocolError(f"{_P}: 'start' message without a start object")
        sid = start.get("streamSid") or msg.get("streamSid")
        if not sid:
            raise ProtocolError(f"{_P}: 'start' message without streamSid")
        require_str(sid, _P, "streamSid", max_len=MAX_SID_LENGTH)
        check_json(msg, text, _P, "'start' message")
        fmt = start.get("mediaFormat")
        if isinstance(fmt, dict) and (
            fmt.get("encoding", "audio/x-mulaw") != "audio/x-mulaw"
            or fmt.get("sampleRate", 8000) != 8000
            or fmt.get("channels", 1) != 1
        ):
            raise ProtocolError(
                f"{_P}: unsupported media format {clip(fmt)} (want audio/x-mulaw, 8000 Hz, mono)",
                close_code=1003,
                fatal=True,
            )
        self._set_stream(sid)
        call_sid = start.get("callSid")
        account_sid = start.get("accountSid")
        params = start.get("customParameters")
        tracks = start.get("tracks")
        self.call_sid = call_sid if isinstance(call_sid, str) else None
        self.account_sid = account_sid if isinstance(account_sid, str) else None
        self.custom_parameters = dict(params) if isinstance(params, dict) else {}
        self.tracks = [t for t in tracks if isinstance(t, str)] if isinstance(tracks, list) else []
        self.started = True
        return [InputTransportMessageFrame(message=msg)]

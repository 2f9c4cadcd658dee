"""Pipecat's protobuf ``Frame`` envelope (what Pipecat calls ``ProtobufFrameSerializer``).

Wire-compatible with pipecat-ai 1.14.0 (protocols.md §10): every binary WebSocket
message is one serialized ``pipecat.Frame`` whose ``oneof frame`` is one of

* 1 ``text``: :class:`TextFrame` (incl. LLM/TTS text) out, :class:`TextFrame` in;
* 2 ``audio``: :class:`OutputAudioFrame` out, :class:`InputAudioFrame` in;
* 3 ``transcription``: :class:`TranscriptionFrame` both ways;
* 4 ``message``: ``Output*TransportMessage*Frame`` out (``data`` = JSON text),
  :class:`InputTransportMessageFrame` in;
* 5 ``interruption``: :class:`InterruptionFrame` both ways.

Inbound audio keeps the frame's own ``sample_rate`` / ``num_channels`` (the input
edge converts); the rate must be one of :data:`~wavewire.audio.resample.STANDARD_RATES`
(8000-48000 Hz) and the channels 1 or 2, else the frame is a
:class:`~wavewire.errors.ProtocolError` (an odd rate would cost the edge an unbounded
filter design). Pipecat's ``pts`` is in nanoseconds and wavewire's in samples; both
directions convert. Pipecat's per-frame ``id`` / ``name`` are read past and never sent
(Pipecat treats them as optional).

Policy for odd input: a text (non-binary) message, truncated or malformed protobuf,
audio without a rate or channel count or with a partial sample frame, invalid UTF-8 in
a string field, and invalid JSON in a ``message`` raise
:class:`~wavewire.errors.ProtocolError` (Pipecat logs and drops the last). An empty
envelope or an unknown ``oneof`` member (a newer Pipecat) is counted in
:attr:`PipecatSerializer.unknown_messages` and ignored. Unknown fields inside known
messages are skipped.

RTVI (server side, ``rtvi=True``, what the ``/pipecat`` route uses): Pipecat's browser
SDK (``@pipecat-ai/client-js`` over ``@pipecat-ai/websocket-transport``) carries RTVI
JSON in ``message`` frames. A message whose JSON has ``"label": "rtvi-ai"`` is handled
by :class:`~wavewire.serializers.rtvi.RTVISerializer` (``client-ready`` answered with
``bot-ready``, ``disconnect-bot`` ends the session, a malformed RTVI message is a
:class:`~wavewire.errors.ProtocolError`); other JSON stays an
:class:`InputTransportMessageFrame`. Once a peer has sent ``client-ready`` it is that
SDK, whose deserializer knows only ``audio`` and ``message`` frames: ``text``,
``transcription`` and ``interruption`` frames are then withheld (counted in
:attr:`PipecatSerializer.withheld`; RTVI messages carry that information), so its
console does not log a "Unknown frame kind" error for each one.

The codec is hand-written (:mod:`wavewire.serializers._proto`); the generated
``wavewire/protos/frames_pb2.py`` is used only to cross-check it in tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..audio.resample import STANDARD_RATES
from ..errors import ProtocolError
from ..frames import (
    InputAudioFrame,
    InputTransportMessageFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    TextFrame,
    TranscriptionFrame,
)
from ._proto import LEN, VARINT, encode_varint, field_bytes, parse, parse_merging
from .base import FrameSerializer, Message, WireFormat
from .fields import check_audio, check_json, dumps, load_json

if TYPE_CHECKING:
    from ..frames import Frame
    from .rtvi import RTVISerializer

__all__ = ["PipecatSerializer"]

_P = "pipecat"
_ENVELOPE = {1: LEN, 2: LEN, 3: LEN, 4: LEN, 5: LEN}
_TEXT = {3: LEN}
_AUDIO = {3: LEN, 4: VARINT, 5: VARINT, 6: VARINT}
_TRANSCRIPTION = {3: LEN, 4: LEN, 5: LEN}
_MESSAGE = {1: LEN}
_INTERRUPTION_MSG = b"\x2a\x00"
_NS = 1_000_000_000
_U32 = 0xFFFFFFFF


def _utf8(value: Any, what: str) -> str:
    if value is None:
        return ""
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"{_P}: {what} is not valid UTF-8: {exc}") from None


class PipecatSerializer(FrameSerializer):
    """Pipecat's protobuf frames over binary WebSocket messages.

    ``sample_rate`` / ``num_channels`` describe the *outbound* audio (what wavewire's
    output edge converts to); inbound audio carries its own format."""

    protocol = "pipecat"

    def __init__(self, sample_rate: int = 16000, num_channels: int = 1, *,
                 rtvi: bool = False) -> None:
        if sample_rate <= 0 or num_channels <= 0:
            raise ValueError("pipecat: sample_rate and num_channels must be positive")
        self.rtvi = rtvi
        """Answer RTVI client messages carried in ``message`` frames (server side)."""
        self.rtvi_client = False
        """Whether the peer has sent RTVI ``client-ready`` (it is Pipecat's browser SDK)."""
        self.withheld = 0
        """Text, transcription and interruption frames not sent to an RTVI client."""
        self._rtvi: RTVISerializer | None = None
        self.wire = WireFormat(sample_rate=sample_rate, num_channels=num_channels)
        self._audio_tail = (
            b"\x20" + encode_varint(sample_rate) + b"\x28" + encode_varint(num_channels)
        )
        self.unknown_messages = 0
        """Envelopes that were empty or carried an unknown ``oneof`` member (ignored)."""

    # --- outbound ---------------------------------------------------------------

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, OutputAudioFrame):
            check_audio(frame, self.wire, _P)
            audio = frame.audio
            if not audio:
                return []
            inner = [b"\x1a", encode_varint(len(audio)), audio, self._audio_tail]
            if frame.pts is not None and frame.pts >= 0:
                inner.append(b"\x30" + encode_varint(frame.pts * _NS // frame.sample_rate))
            return [field_bytes(0x12, b"".join(inner))]
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return [field_bytes(0x22, _str_field(0x0A, dumps(frame.message)))]
        if self.rtvi_client:
            if isinstance(frame, TextFrame | TranscriptionFrame | InterruptionFrame):
                self.withheld += 1
            return []
        if isinstance(frame, TextFrame):
            return [field_bytes(0x0A, _str_field(0x1A, frame.text))]
        if isinstance(frame, TranscriptionFrame):
            body = (
                _str_field(0x1A, frame.text)
                + _str_field(0x22, frame.user_id)
                + _str_field(0x2A, frame.timestamp)
            )
            return [field_bytes(0x1A, body)]
        if isinstance(frame, InterruptionFrame):
            return [_INTERRUPTION_MSG]
        return []

    # --- inbound ----------------------------------------------------------------

    def decode(self, message: Message) -> list[Frame]:
        if isinstance(message, str):
            raise ProtocolError(
                f"{_P}: expected a binary protobuf Frame, got text ({len(message)} characters)",
                close_code=1003,
            )
        body = _single_field(message)
        if body is not None:  # fast path: one oneof member, nothing else
            which = message[0] >> 3
        else:
            env = parse_merging(message, f"{_P} Frame", _ENVELOPE)
            if not env:
                self.unknown_messages += 1
                return []
            which = next(reversed(env))  # the oneof member seen last wins
            body = env[which]  # type: ignore[assignment]
            assert isinstance(body, bytes)
        if which == 2:
            return self._audio(body)
        if which == 1:
            f = parse(body, f"{_P} TextFrame", _TEXT)
            return [TextFrame(_utf8(f.get(3), "TextFrame.text"))]
        if which == 3:
            f = parse(body, f"{_P} TranscriptionFrame", _TRANSCRIPTION)
            return [
                TranscriptionFrame(
                    _utf8(f.get(3), "TranscriptionFrame.text"),
                    user_id=_utf8(f.get(4), "TranscriptionFrame.user_id"),
                    timestamp=_utf8(f.get(5), "TranscriptionFrame.timestamp"),
                )
            ]
        if which == 4:
            f = parse(body, f"{_P} MessageFrame", _MESSAGE)
            data = _utf8(f.get(1), "MessageFrame.data")
            value = load_json(data, _P, "MessageFrame.data")
            check_json(value, data, _P, "MessageFrame.data")
            if self.rtvi and type(value) is dict and value.get("label") == "rtvi-ai":
                return self._rtvi_message(data)
            return [InputTransportMessageFrame(message=value)]
        # which == 5: nothing inside an interruption matters, but it must be well-formed
        parse(body, f"{_P} InterruptionFrame", {})
        return [InterruptionFrame()]

    def _rtvi_message(self, data: str) -> list[Frame]:
        """One RTVI client message (the JSON text of a ``message`` frame)."""
        handler = self._rtvi
        if handler is None:
            from .rtvi import RTVISerializer

            wire = self.wire
            handler = self._rtvi = RTVISerializer(wire.sample_rate, wire.num_channels)
        frames = handler.decode(data)
        self.rtvi_client = handler.client_ready
        return frames

    def _audio(self, body: bytes) -> list[Frame]:
        f = parse(body, f"{_P} AudioRawFrame", _AUDIO)
        rate = f.get(4, 0)
        channels = f.get(5, 0)
        assert isinstance(rate, int) and isinstance(channels, int)
        rate &= _U32
        channels &= _U32
        if not rate or not channels:
            raise ProtocolError(
                f"{_P}: AudioRawFrame without sample_rate/num_channels ({rate}, {channels})"
            )
        if rate not in STANDARD_RATES or channels > 2:
            raise ProtocolError(
                f"{_P}: AudioRawFrame of {rate} Hz x{channels}: audio must be mono or stereo"
                f" at one of {sorted(STANDARD_RATES)} Hz"
            )
        audio = f.get(3, b"")
        assert isinstance(audio, bytes)
        if len(audio) % (2 * channels):
            raise ProtocolError(
                f"{_P}: {len(audio)} bytes of audio is not a whole number of"
                f" {channels}-channel 16-bit sample frames"
            )
        if not audio:
            return []
        pts_ns = f.get(6)
        pts = None if pts_ns is None else int(pts_ns) * rate // _NS
        return [InputAudioFrame(audio, rate, channels, pts)]


def _single_field(message: bytes) -> bytes | None:
    """The body of a message made of exactly one length-delimited field 1..5 (what
    every sender emits), or None to take the general path."""
    n = len(message)
    if n < 2 or message[0] not in (0x0A, 0x12, 0x1A, 0x22, 0x2A):
        return None
    b1 = message[1]
    if b1 < 0x80:
        start, length = 2, b1
    elif n > 2 and message[2] < 0x80:
        start, length = 3, (b1 & 0x7F) | message[2] << 7
    else:
        return None
    if start + length != n:
        return None
    return message[start:]


def _str_field(tag: int, value: str) -> bytes:
    """A proto3 string field, omitted when empty (proto3 default)."""
    if not value:
        return b""
    return field_bytes(tag, value.encode("utf-8"))

"""The serializer contract: a wire protocol as a pure, per-connection object (sans-I/O).

A serializer never touches a socket, never sleeps, never reads a clock (time is passed
in when a protocol needs it) and never makes HTTP calls. Transports drive it::

    for m in ser.open():            send(m)        # once connected (and on every reconnect)
    for m in ser.encode(frame):     send(m)        # frames going out
    for f in ser.decode(message):   push(f)        # messages coming in
    for m in ser.close():           send(m)        # before closing

Audio contract: frames are always 16-bit PCM. ``encode`` receives output audio already
at :attr:`WireFormat.sample_rate` / :attr:`WireFormat.num_channels` and chunked to
:attr:`WireFormat.frame_ms` by the output edge; the serializer applies the wire codec
(μ-law, base64, protobuf…) and the envelope. ``decode`` returns PCM
:class:`~wavewire.frames.InputAudioFrame` at the wire's rate; the input edge converts.

An :class:`~wavewire.frames.InterruptionFrame` given to ``encode`` is the serializer's
chance to tell the peer (Twilio ``clear``, Deepgram ``Clear``…); most return ``[]``.
Frames a protocol cannot carry are ignored (``[]``), not errors. Bad input raises a
:class:`~wavewire.errors.ProtocolError` subclass; the transport counts it and either
goes on or closes with ``error.close_code`` when ``error.fatal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..frames import OutputAudioFrame

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["Message", "WireFormat", "FrameSerializer", "PCM_S16LE", "MULAW", "ALAW"]

Message = bytes | str
"""One WebSocket message: ``bytes`` is a binary frame, ``str`` a text frame."""

PCM_S16LE = "pcm_s16le"
"""Signed 16-bit little-endian PCM."""
MULAW = "mulaw"
"""G.711 μ-law, 8 bits per sample."""
ALAW = "alaw"
"""G.711 A-law, 8 bits per sample."""


@dataclass(frozen=True, slots=True)
class WireFormat:
    """The audio format and message limits of one connection's wire."""

    sample_rate: int = 16000
    """Audio samples per second per channel on the wire."""
    num_channels: int = 1
    """Interleaved channels on the wire."""
    encoding: str = PCM_S16LE
    """Sample encoding on the wire: :data:`PCM_S16LE`, :data:`MULAW` or :data:`ALAW`."""
    frame_ms: int = 20
    """Duration of one outbound audio message, in milliseconds."""
    max_message_size: int | None = None
    """Largest message the peer accepts (bytes of the serialized message), if limited."""

    @property
    def frame_bytes(self) -> int:
        """Bytes of 16-bit PCM in one outbound frame (before the wire codec)."""
        return self.sample_rate * self.frame_ms // 1000 * self.num_channels * 2


class FrameSerializer:
    """Base class of every wire protocol. Subclasses override what they need.

    One instance per connection: it may keep state (stream ids, sequence numbers,
    whether ``start`` was seen)."""

    wire: WireFormat = WireFormat()
    """The connection's audio format and limits."""

    protocol: str = "base"
    """Short protocol name, used in routes, metrics and error messages."""

    playback_marks: bool = False
    """True if the peer echoes :class:`~wavewire.frames.PlaybackMarkFrame` marks back once
    the audio before them has played (Twilio); the output edge then tracks playback by
    marks instead of by its own clock alone."""

    pcm_binary: bool = False
    """True if a binary message is exactly the wire's PCM, both ways: any non-empty
    whole number of sample frames is a valid audio message, decoded to one
    :class:`~wavewire.frames.InputAudioFrame` at the wire's rate and channels, and
    ``encode_audio(pcm)`` is ``[pcm]`` (raw). The edges then pass such audio without
    calling ``decode`` or ``encode_audio``; other messages still go through them."""

    def open(self) -> list[Message]:
        """Messages to send once connected (and again after every reconnect)."""
        return []

    def encode(self, frame: Frame) -> list[Message]:
        """Zero or more messages that carry ``frame``; ``[]`` if the protocol has none."""
        return []

    def encode_audio(self, pcm: bytes) -> list[Message]:
        """The messages for one chunk of output audio already in the wire's rate and
        channels (what the output edge sends): ``encode`` of an
        :class:`~wavewire.frames.OutputAudioFrame`. A protocol may override it to skip
        building the frame; the result must be the same."""
        wire = self.wire
        return self.encode(OutputAudioFrame(pcm, wire.sample_rate, wire.num_channels))

    def decode(self, message: Message) -> list[Frame]:
        """The frames a received message carries. Raises ``ProtocolError`` on bad input."""
        return []

    def close(self) -> list[Message]:
        """Messages to send before closing the connection."""
        return []

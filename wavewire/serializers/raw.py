"""Raw PCM over WebSocket: the simplest protocol, for browsers and test clients.

* binary message = interleaved signed 16-bit little-endian PCM at the wire's rate and
  channel count, both ways; a message that is not a whole number of sample frames
  is a :class:`~wavewire.errors.ProtocolError`; an empty one carries nothing;
* text message = one JSON value, both ways: inbound it becomes an
  :class:`~wavewire.frames.InputTransportMessageFrame`, outbound
  :class:`~wavewire.frames.OutputTransportMessageFrame` /
  :class:`~wavewire.frames.OutputTransportMessageUrgentFrame` are sent as JSON.
  Invalid JSON, JSON nested deeper than
  :data:`~wavewire.serializers.fields.MAX_JSON_DEPTH` levels and strings that are not
  valid Unicode (lone surrogates) are a :class:`~wavewire.errors.ProtocolError`.

Nothing else is carried (``encode`` returns ``[]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ProtocolError
from ..frames import (
    InputAudioFrame,
    InputTransportMessageFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from .base import FrameSerializer, Message, WireFormat
from .fields import check_audio, check_json, dumps, load_json

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = ["RawSerializer"]


class RawSerializer(FrameSerializer):
    """Raw s16le PCM in binary messages, JSON transport messages in text messages."""

    protocol = "raw"
    pcm_binary = True

    def __init__(self, sample_rate: int = 16000, num_channels: int = 1) -> None:
        if sample_rate <= 0 or num_channels <= 0:
            raise ValueError("raw: sample_rate and num_channels must be positive")
        self.wire = WireFormat(sample_rate=sample_rate, num_channels=num_channels)
        self._align = 2 * num_channels
        self._rate = sample_rate
        self._channels = num_channels

    def encode(self, frame: Frame) -> list[Message]:
        if isinstance(frame, OutputAudioFrame):
            check_audio(frame, self.wire, self.protocol)
            return [bytes(frame.audio)] if frame.audio else []
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return [dumps(frame.message)]
        return []

    def encode_audio(self, pcm: bytes) -> list[Message]:
        if len(pcm) % self._align:  # the edge never sends this; encode() says the same
            return self.encode(OutputAudioFrame(pcm, self.wire.sample_rate, self.wire.num_channels))
        return [bytes(pcm)] if pcm else []

    def decode(self, message: Message) -> list[Frame]:
        if isinstance(message, str):
            value = load_json(message, "raw", "text message")
            check_json(value, message, "raw", "text message")
            return [InputTransportMessageFrame(message=value)]
        n = len(message)
        if n % self._align:
            raise ProtocolError(
                f"raw: {n} bytes is not a whole number of {self.wire.num_channels}-channel"
                " 16-bit sample frames"
            )
        if not n:
            return []
        return [InputAudioFrame(bytes(message), self._rate, self._channels)]

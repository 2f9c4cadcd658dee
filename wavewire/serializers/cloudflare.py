"""Cloudflare Realtime SFU WebSocket adapter: protobuf ``Packet`` messages.

Every binary message is one ``Packet`` (protocols.md §1.2): field 1 ``sequenceNumber``
(varint), 2 ``timestamp`` (varint), 5 ``payload`` (bytes). Audio is s16le PCM at
48 kHz, 2 channels interleaved. The SFU dials us in both directions, one socket each;
one serializer per socket, in one of two roles:

``"stream"`` — egress (adapter ``location: "remote"``): the SFU sends a Packet per
WebRTC frame. Audio packets become :class:`~wavewire.frames.InputAudioFrame` (48 kHz
stereo). Sequence numbers are checked (modulo 2**32): a jump forward counts the missing
packets in :attr:`~CloudflareAdapterSerializer.lost` and one :attr:`gaps`; a packet that
fills an earlier gap counts in :attr:`reordered` (and no longer as lost); a number seen
before counts in :attr:`duplicates`. Late and duplicate packets are dropped: the
pipeline has moved past their time. A payload that is not a whole number of 4-byte
sample frames has its trailing partial frame dropped (counted in
:attr:`trimmed_bytes`), as Cloudflare's reference implementation drops an odd byte.
An audio packet without the field is sequence number 0 (proto3 omits zeros); empty
payloads are not counted. A packet with no sequence number whose payload is a JPEG
(``FF D8 FF`` … ``FF D9``) is a video frame and becomes
:class:`~wavewire.frames.InputImageFrame` (a PCM payload would have to start with those
bytes, end with ``FF D9`` *and* be number 0 to be mistaken for one). Empty payloads (the
reference implementation's end-of-utterance marker) carry nothing.

``"ingest"`` — buffer mode (adapter ``location: "local"``): ``encode`` turns
:class:`~wavewire.frames.OutputAudioFrame` into payload-only Packets. Each serialized
message is at most ``max_message_size`` bytes *including* the protobuf overhead
(default 16 388, as Cloudflare's reference implementation; the documented limit is
"32 KB", whether 32 000 or 32 768 is unconfirmed, so at most 32 000 is accepted).
Larger audio is split into several messages at sample-frame boundaries. The SFU sends
no media on an ingest socket; binary messages received there are counted in
:attr:`unexpected_messages` and ignored.

In both roles a text message is a :class:`~wavewire.errors.ProtocolError` (close
1003): whether the SFU ever sends text (the reference example answers a ``"ping"``)
is unconfirmed. Truncated or malformed protobuf raises
:class:`~wavewire.errors.ProtocolError`; unknown fields are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ..errors import ProtocolError
from ..frames import InputAudioFrame, InputImageFrame, OutputAudioFrame
from ._proto import LEN, VARINT, encode_varint, parse
from .base import FrameSerializer, Message, WireFormat
from .fields import check_audio

if TYPE_CHECKING:
    from ..frames import Frame

__all__ = [
    "CloudflareAdapterSerializer",
    "SAMPLE_RATE",
    "NUM_CHANNELS",
    "encode_packet",
    "max_payload_size",
    "parse_packet",
]

SAMPLE_RATE = 48000
"""The adapter's PCM rate in both directions."""
NUM_CHANNELS = 2
"""The adapter's PCM channel count in both directions."""
DEFAULT_MAX_MESSAGE_SIZE = 16388
"""Cloudflare's reference implementation: 16 384-byte payloads → 16 388-byte messages."""
LIMIT = 32000
"""The most we allow as ``max_message_size`` ("32 KB" read conservatively)."""

_FIELDS = {1: VARINT, 2: VARINT, 5: LEN}
_FRAME = 2 * NUM_CHANNELS
_U32 = 0xFFFFFFFF
_HALF = 1 << 31
_MAX_TRACKED_MISSING = 512


def max_payload_size(max_message_size: int) -> int:
    """The largest whole-sample-frame payload whose Packet fits ``max_message_size``
    bytes (1 tag byte + the varint length + the payload)."""
    p = max_message_size - 2
    while p > 0 and 1 + len(encode_varint(p)) + p > max_message_size:
        p -= 1
    return p - p % _FRAME


class CloudflareAdapterSerializer(FrameSerializer):
    """One socket of a Cloudflare Realtime WebSocket adapter.

    ``role="stream"`` for egress (SFU → us, decode), ``role="ingest"`` for buffer-mode
    ingest (us → SFU, encode)."""

    protocol = "cloudflare"

    def __init__(
        self,
        role: Literal["stream", "ingest"],
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if role not in ("stream", "ingest"):
            raise ValueError(f"cloudflare: role must be 'stream' or 'ingest', not {role!r}")
        if not 8 <= max_message_size <= LIMIT:
            raise ValueError(
                f"cloudflare: max_message_size must be within 8..{LIMIT}, not {max_message_size}"
            )
        self.role = role
        self.wire = WireFormat(
            sample_rate=SAMPLE_RATE, num_channels=NUM_CHANNELS, max_message_size=max_message_size
        )
        self._max_payload = max_payload_size(max_message_size)
        self._next_seq: int | None = None
        self._missing: set[int] = set()
        self.packets = 0
        """Audio packets received with a sequence number (stream role)."""
        self.lost = 0
        """Packets skipped by a forward jump of the sequence number and not seen since."""
        self.gaps = 0
        """Forward jumps of the sequence number."""
        self.reordered = 0
        """Late packets that filled an earlier gap (dropped)."""
        self.duplicates = 0
        """Packets whose sequence number was already seen (dropped)."""
        self.trimmed_bytes = 0
        """Bytes of trailing partial sample frames dropped from payloads."""
        self.images = 0
        """JPEG video frames received."""
        self.unexpected_messages = 0
        """Binary messages received on an ingest socket (ignored)."""
        self.connections = 0
        """Sockets this serializer was attached to (``open()`` calls): on ``stream``, more
        than one means the SFU reconnected; on ``ingest``, that a newer socket replaced
        an older one."""

    def open(self) -> list[Message]:
        self.connections += 1
        return []

    # --- ingest -----------------------------------------------------------------

    def encode(self, frame: Frame) -> list[Message]:
        if self.role != "ingest" or not isinstance(frame, OutputAudioFrame):
            return []
        check_audio(frame, self.wire, self.protocol)
        audio = frame.audio
        n = len(audio)
        if not n:
            return []
        step = self._max_payload
        if n <= step:
            return [b"".join((b"\x2a", encode_varint(n), audio))]
        view = memoryview(audio)
        out: list[Message] = []
        for i in range(0, n, step):
            chunk = view[i : i + step]
            out.append(b"".join((b"\x2a", encode_varint(len(chunk)), chunk)))
        return out

    # --- stream (egress) ----------------------------------------------------------

    def decode(self, message: Message) -> list[Frame]:
        if isinstance(message, str):
            raise ProtocolError(
                f"cloudflare: expected a binary Packet, got text ({len(message)} characters)",
                close_code=1003,
            )
        if self.role != "stream":
            self.unexpected_messages += 1
            return []
        f = parse(message, "cloudflare Packet", _FIELDS)
        payload = f.get(5, b"")
        assert isinstance(payload, bytes)
        seq = f.get(1)
        if seq is None and payload[:3] == b"\xff\xd8\xff" and payload[-2:] == b"\xff\xd9":
            self.images += 1
            ts = f.get(2)
            return [InputImageFrame(payload, "jpeg", None if ts is None else int(ts) & _U32)]
        # proto3 leaves a zero out, so an audio packet without the field is number 0
        if not payload or not self._in_order(int(seq or 0) & _U32):
            return []
        n = len(payload)
        odd = n % _FRAME
        if odd:
            self.trimmed_bytes += odd
            payload = payload[: n - odd]
        if not payload:
            return []
        return [InputAudioFrame(payload, SAMPLE_RATE, NUM_CHANNELS)]

    def _in_order(self, seq: int) -> bool:
        """Account for one sequence number; False if the packet is late or a duplicate."""
        self.packets += 1
        expected = self._next_seq
        if expected is None or seq == expected:
            self._next_seq = (seq + 1) & _U32
            return True
        ahead = (seq - expected) & _U32
        if ahead < _HALF:  # a forward jump: ``ahead`` packets are missing
            self.gaps += 1
            self.lost += ahead
            missing = self._missing
            if len(missing) + ahead > _MAX_TRACKED_MISSING:
                missing.clear()  # too many to track: later arrivals count as duplicates
            if ahead <= _MAX_TRACKED_MISSING:
                missing.update((expected + i) & _U32 for i in range(ahead))
            self._next_seq = (seq + 1) & _U32
            return True
        if seq in self._missing:
            self._missing.discard(seq)
            self.reordered += 1
            self.lost -= 1
        else:
            self.duplicates += 1
        return False


def encode_packet(payload: bytes, sequence_number: int = 0, timestamp: int = 0) -> bytes:
    """One serialized ``Packet`` as the SFU sends it (fields 1, 2, 5; zero scalars left
    out as proto3 does). For emulators and tests: the serializer itself sends
    payload-only Packets."""
    parts: list[bytes] = []
    if sequence_number:
        parts += [b"\x08", encode_varint(sequence_number & _U32)]
    if timestamp:
        parts += [b"\x10", encode_varint(timestamp & _U32)]
    if payload:
        parts += [b"\x2a", encode_varint(len(payload)), payload]
    return b"".join(parts)


def parse_packet(message: bytes, what: str = "cloudflare Packet") -> tuple[int, int, bytes]:
    """``(sequence_number, timestamp, payload)`` of one ``Packet`` (absent fields are 0
    or empty, as in proto3). Raises :class:`~wavewire.errors.ProtocolError` for a
    malformed one (``what`` names it in the message)."""
    f = parse(message, what, _FIELDS)
    payload = f.get(5, b"")
    assert isinstance(payload, bytes)
    return int(f.get(1, 0)), int(f.get(2, 0)), payload

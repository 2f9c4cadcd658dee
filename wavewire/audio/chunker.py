"""Cut a byte stream into fixed-size frames (wire frames, VAD frames, codec frames).

Whatever is pushed comes out again, in order, in frames of exactly ``frame_bytes``; the
remainder waits for the next push. Nothing is lost or duplicated: ``clear()`` returns how
many bytes it dropped so the caller can count drops.
"""

from __future__ import annotations

from wavewire.audio.pcm import BytesLike
from wavewire.errors import FrameFormatError

__all__ = ["Chunker"]


class Chunker:
    """Re-frames arbitrary byte chunks into frames of exactly ``frame_bytes``."""

    __slots__ = ("_buf", "frame_bytes")

    def __init__(self, frame_bytes: int) -> None:
        if isinstance(frame_bytes, bool) or not isinstance(frame_bytes, int) or frame_bytes < 1:
            raise FrameFormatError(f"frame_bytes must be a positive int, got {frame_bytes!r}")
        self.frame_bytes = frame_bytes
        """Size of every frame :meth:`push` returns."""
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back, waiting to complete a frame (always < ``frame_bytes``)."""
        return len(self._buf)

    def push(self, data: BytesLike) -> list[bytes]:
        """Add ``data``; return every frame now complete (possibly none)."""
        size = self.frame_bytes
        buf = self._buf
        if not buf and len(data) == size:  # the common case: already one frame
            return [bytes(data)]
        buf += data
        n = len(buf) // size
        if n == 0:
            return []
        end = n * size
        frames = [bytes(buf[i : i + size]) for i in range(0, end, size)]
        del buf[:end]
        return frames

    def flush(self, pad: bool = False) -> bytes:
        """Return the held-back remainder and empty the chunker.

        With ``pad=True`` a non-empty remainder is zero-padded to a full frame (silence
        for PCM); an empty one stays empty.
        """
        out = bytes(self._buf)
        self._buf.clear()
        if pad and out:
            out += bytes(self.frame_bytes - len(out))
        return out

    def clear(self) -> int:
        """Drop the held-back remainder; return how many bytes were dropped."""
        dropped = len(self._buf)
        self._buf.clear()
        return dropped

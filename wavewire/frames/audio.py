"""Audio and image frames: 16-bit PCM in (from the user, a system frame) and out (to the
user, data), and images from the transport's input."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DataFrame, SystemFrame, _frame

if TYPE_CHECKING:  # numpy is imported lazily: it costs ~60 ms at import time
    import numpy as np

__all__ = ["AudioFrame", "InputAudioFrame", "OutputAudioFrame", "TTSAudioFrame",
           "InputImageFrame"]

# --- audio -----------------------------------------------------------------------


class _AudioMixin:
    """Helpers shared by the audio frames (kept out of the dataclass hierarchy)."""

    __slots__ = ()
    audio: bytes
    sample_rate: int
    num_channels: int

    @property
    def num_frames(self) -> int:
        """Number of sample frames (samples per channel)."""
        return len(self.audio) // (2 * self.num_channels)

    @property
    def duration(self) -> float:
        """Duration in seconds, from the sample count."""
        return len(self.audio) / (2 * self.num_channels * self.sample_rate)

    @property
    def samples(self) -> np.ndarray:
        """Zero-copy int16 numpy view: shape ``(n,)`` for mono, ``(n, channels)`` else.

        Read-only when :attr:`audio` is ``bytes``."""
        import numpy as np

        view = np.frombuffer(self.audio, dtype="<i2")
        if self.num_channels > 1:
            view = view.reshape(-1, self.num_channels)
        return view


@_frame
class AudioFrame(_AudioMixin, DataFrame):
    """16-bit little-endian PCM audio. Base of the audio frames; edges check the format."""

    audio: bytes
    """Interleaved signed 16-bit little-endian PCM."""
    sample_rate: int
    """Samples per second per channel."""
    num_channels: int = 1
    """Interleaved channel count."""
    pts: int | None = None
    """Presentation time in samples from the start of the stream, when known."""


@_frame
class InputAudioFrame(_AudioMixin, SystemFrame):
    """Audio from the user (the transport's input). A system frame: never discarded by an
    interruption, since it is what the user is saying now."""

    audio: bytes
    """Interleaved signed 16-bit little-endian PCM."""
    sample_rate: int
    """Samples per second per channel."""
    num_channels: int = 1
    """Interleaved channel count."""
    pts: int | None = None
    """Presentation time in samples from the start of the stream, when known."""


@_frame
class OutputAudioFrame(AudioFrame):
    """Audio for the transport's output (what the user will hear)."""


@_frame
class TTSAudioFrame(OutputAudioFrame):
    """Output audio produced by a TTS service."""

    context_id: str | None = None
    """The TTS generation this audio belongs to, when the provider has one."""


@_frame
class InputImageFrame(SystemFrame):
    """An image from the transport's input (e.g. a JPEG from a video egress)."""

    image: bytes
    """Encoded image bytes."""
    format: str = "jpeg"
    """Encoding of :attr:`image`."""
    timestamp: int | None = None
    """Provider timestamp, when present."""

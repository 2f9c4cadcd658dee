"""Input checks shared by the audio modules.

Every public function in :mod:`wavewire.audio` validates its arguments here first, so
bad input fails with a :class:`~wavewire.errors.FrameFormatError` that says what is
wrong instead of an obscure error deep inside numpy.
"""

from __future__ import annotations

from wavewire.errors import FrameFormatError

BytesLike = bytes | bytearray | memoryview

MAX_CHANNELS = 32
"""Largest channel count the toolkit accepts."""


def check_rate(sample_rate: int, name: str = "sample_rate") -> int:
    """Return ``sample_rate`` if it is a positive int (≤ 384 kHz), else raise."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise FrameFormatError(f"{name} must be an int, got {sample_rate!r}")
    if not 0 < sample_rate <= 384_000:
        raise FrameFormatError(f"{name} must be in 1..384000 Hz, got {sample_rate}")
    return sample_rate


def check_channels(num_channels: int, name: str = "num_channels") -> int:
    """Return ``num_channels`` if it is an int in ``1..MAX_CHANNELS``, else raise."""
    if isinstance(num_channels, bool) or not isinstance(num_channels, int):
        raise FrameFormatError(f"{name} must be an int, got {num_channels!r}")
    if not 1 <= num_channels <= MAX_CHANNELS:
        raise FrameFormatError(f"{name} must be in 1..{MAX_CHANNELS}, got {num_channels}")
    return num_channels


def check_pcm(pcm: BytesLike, num_channels: int = 1) -> int:
    """Check that ``pcm`` is whole s16le sample frames; return its byte length."""
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise FrameFormatError(f"PCM must be bytes, got {type(pcm).__name__}")
    n = pcm.nbytes if isinstance(pcm, memoryview) else len(pcm)
    if n % (2 * num_channels):
        raise FrameFormatError(
            f"PCM byte count {n} is not a whole number of 16-bit frames of "
            f"{num_channels} channel(s) ({2 * num_channels} bytes each)"
        )
    return n

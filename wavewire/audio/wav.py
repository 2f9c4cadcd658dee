"""Read and write 16-bit PCM WAV files (stdlib :mod:`wave`), for tests, examples and bots.

Only 16-bit integer PCM is accepted; anything else (8/24/32-bit, float, compressed,
truncated or not a RIFF file at all) raises :class:`~wavewire.errors.FrameFormatError`
with the reason, never a bare ``wave.Error`` or ``EOFError``.
"""

from __future__ import annotations

import io
import os
import struct
import wave

from wavewire.audio.pcm import BytesLike, check_channels, check_pcm, check_rate
from wavewire.errors import FrameFormatError

__all__ = ["read_wav", "write_wav", "wav_bytes"]

PathOrBytes = str | os.PathLike[str] | bytes | bytearray | memoryview


def read_wav(source: PathOrBytes) -> tuple[bytes, int, int]:
    """Read a 16-bit PCM WAV from a path or from the file's bytes.

    Returns ``(pcm, sample_rate, num_channels)`` with interleaved s16le PCM.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        name = "<bytes>"
        handle: io.BytesIO | str = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        name = handle = os.fspath(source)
    else:
        raise FrameFormatError(f"read_wav needs a path or bytes, got {type(source).__name__}")
    try:
        with wave.open(handle, "rb") as w:
            width = w.getsampwidth()
            rate = w.getframerate()
            channels = w.getnchannels()
            frames = w.getnframes()
            if width != 2:
                raise FrameFormatError(f"{name}: {8 * width}-bit WAV; only 16-bit PCM is supported")
            pcm = w.readframes(frames)
    except FrameFormatError:
        raise
    except (wave.Error, EOFError, ValueError, struct.error) as exc:
        raise FrameFormatError(f"{name}: not a valid 16-bit PCM WAV ({exc})") from exc
    if len(pcm) != frames * 2 * channels:
        raise FrameFormatError(
            f"{name}: truncated WAV (header says {frames} frames, "
            f"data holds {len(pcm) // max(1, 2 * channels)})"
        )
    check_rate(rate)
    check_channels(channels)
    return pcm, rate, channels


def wav_bytes(pcm: BytesLike, sample_rate: int, num_channels: int = 1) -> bytes:
    """Return a complete 16-bit PCM WAV file holding ``pcm``, as bytes."""
    check_rate(sample_rate)
    check_channels(num_channels)
    check_pcm(pcm, num_channels)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(num_channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def write_wav(
    path: str | os.PathLike[str], pcm: BytesLike, sample_rate: int, num_channels: int = 1
) -> None:
    """Write interleaved s16le ``pcm`` to ``path`` as a 16-bit PCM WAV file."""
    data = wav_bytes(pcm, sample_rate, num_channels)
    with open(path, "wb") as f:
        f.write(data)

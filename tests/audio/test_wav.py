"""WAV reading and writing."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from wavewire.audio.wav import read_wav, wav_bytes, write_wav
from wavewire.errors import FrameFormatError


def test_round_trip_file(tmp_path) -> None:
    pcm = np.arange(-600, 600, dtype="<i2").tobytes()
    path = tmp_path / "a.wav"
    write_wav(path, pcm, 24000, 2)
    assert read_wav(path) == (pcm, 24000, 2)
    assert read_wav(str(path)) == (pcm, 24000, 2)
    assert read_wav(path.read_bytes()) == (pcm, 24000, 2)


def _wav(width: int, frames: bytes) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(8000)
        w.writeframes(frames)
    return buf.getvalue()


@pytest.mark.parametrize("width", [1, 3, 4])
def test_non_16_bit_is_refused(width: int) -> None:
    with pytest.raises(FrameFormatError, match="16-bit"):
        read_wav(_wav(width, bytes(width * 10)))


@pytest.mark.parametrize(
    "data", [b"", b"RIFF", b"not a wav file at all, just text", _wav(2, bytes(400))[:60]]
)
def test_corrupt_or_truncated_is_refused(data: bytes) -> None:
    with pytest.raises(FrameFormatError):
        read_wav(data)


def test_missing_file_is_an_os_error(tmp_path) -> None:
    with pytest.raises(OSError):
        read_wav(tmp_path / "missing.wav")


def test_write_checks_its_input(tmp_path) -> None:
    with pytest.raises(FrameFormatError):
        write_wav(tmp_path / "x.wav", b"\x00\x00\x00", 16000, 1)
    with pytest.raises(FrameFormatError):
        wav_bytes(b"\x00\x00", 16000, 2)
    with pytest.raises(FrameFormatError):
        wav_bytes(b"", 0, 1)
    assert not (tmp_path / "x.wav").exists()

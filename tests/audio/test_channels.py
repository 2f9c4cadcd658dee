"""Channel conversion."""

from __future__ import annotations

import numpy as np
import pytest

from wavewire.audio.channels import convert_channels, downmix, mono_to_stereo, stereo_to_mono
from wavewire.errors import FrameFormatError


def _pcm(values) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def _vals(pcm: bytes) -> list[int]:
    return np.frombuffer(pcm, "<i2").tolist()


def test_mono_to_stereo_duplicates() -> None:
    assert _vals(mono_to_stereo(_pcm([1, -2, 3]))) == [1, 1, -2, -2, 3, 3]


def test_stereo_to_mono_averages_without_overflow() -> None:
    out = _vals(stereo_to_mono(_pcm([32767, 32767, -32768, -32768, 100, 201, -3, 0])))
    assert out == [32767, -32768, 150, -2]


def test_downmix_n_channels_matches_floor_mean() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, size=(500, 5)).astype("<i2")
    expected = np.floor(x.astype(np.int64).sum(axis=1) / 5).astype(np.int64)
    assert _vals(downmix(x.tobytes(), 5)) == expected.tolist()


def test_convert_channels_paths() -> None:
    stereo = _pcm([10, 20, 30, 40])
    assert convert_channels(stereo, 2, 2) == stereo
    assert _vals(convert_channels(stereo, 2, 1)) == [15, 35]
    assert _vals(convert_channels(_pcm([7]), 1, 3)) == [7, 7, 7]
    assert _vals(convert_channels(_pcm([0, 3, 6, 9]), 4, 2)) == [4, 4]


@pytest.mark.parametrize(
    ("pcm", "src", "dst"),
    [(b"\x00\x00\x00", 1, 2), (b"\x00\x00", 2, 1), (b"", 0, 1), (b"", 1, 99), (b"", 1.0, 2)],
)
def test_bad_input_raises_typed_error(pcm, src, dst) -> None:
    with pytest.raises(FrameFormatError):
        convert_channels(pcm, src, dst)


def test_empty_input_gives_empty_output() -> None:
    assert convert_channels(b"", 2, 1) == b""
    assert convert_channels(b"", 1, 2) == b""

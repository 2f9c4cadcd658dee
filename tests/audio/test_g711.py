"""G.711 codecs: bit-exact on every input, against audioop and the scalar reference."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from wavewire.audio import g711
from wavewire.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from wavewire.errors import FrameFormatError

ALL_PCM = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+
        audioop = None  # type: ignore[assignment]

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop removed from this Python")


@needs_audioop
def test_ulaw_matches_audioop_on_all_inputs() -> None:
    assert ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM, 2)
    assert ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


@needs_audioop
def test_alaw_matches_audioop_on_all_inputs() -> None:
    assert alaw_encode(ALL_PCM) == audioop.lin2alaw(ALL_PCM, 2)
    assert alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


@pytest.mark.parametrize(
    ("encode", "ref"),
    [(ulaw_encode, g711.ulaw_encode_sample), (alaw_encode, g711.alaw_encode_sample)],
)
def test_encode_matches_scalar_segment_algorithm(encode, ref) -> None:
    expected = bytes(ref(s) for s in range(-32768, 32768))
    assert encode(ALL_PCM) == expected


@pytest.mark.parametrize(
    ("decode", "ref"),
    [(ulaw_decode, g711.ulaw_decode_sample), (alaw_decode, g711.alaw_decode_sample)],
)
def test_decode_matches_scalar_segment_algorithm(decode, ref) -> None:
    expected = np.array([ref(c) for c in range(256)], dtype="<i2").tobytes()
    assert decode(ALL_CODES) == expected


def test_known_code_points() -> None:
    # Values from the standard: silence and the extremes.
    assert ulaw_encode(np.array([0], "<i2").tobytes()) == b"\xff"
    assert ulaw_encode(np.array([32767, -32768], "<i2").tobytes()) == b"\x80\x00"
    assert alaw_encode(np.array([0], "<i2").tobytes()) == b"\xd5"
    assert alaw_encode(np.array([32767, -32768], "<i2").tobytes()) == b"\xaa\x2a"
    assert np.frombuffer(ulaw_decode(b"\xff\x7f"), "<i2").tolist() == [0, 0]
    assert np.frombuffer(alaw_decode(b"\xd5\x55"), "<i2").tolist() == [8, -8]


def test_decode_encode_is_identity_on_codes() -> None:
    # Every μ-law code except negative zero (0x7F) round-trips; all A-law codes do.
    codes = ulaw_encode(ulaw_decode(ALL_CODES))
    assert [i for i in range(256) if codes[i] != i] == [0x7F]
    assert alaw_encode(alaw_decode(ALL_CODES)) == ALL_CODES


def test_empty_and_bad_input() -> None:
    assert ulaw_encode(b"") == b"" and ulaw_decode(b"") == b""
    assert alaw_encode(b"") == b"" and alaw_decode(b"") == b""
    with pytest.raises(FrameFormatError):
        ulaw_encode(b"\x00\x01\x02")
    with pytest.raises(FrameFormatError):
        alaw_encode(b"\x00")
    with pytest.raises(FrameFormatError):
        ulaw_decode("abc")  # type: ignore[arg-type]


@pytest.fixture
def without_audioop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the fallback paths (translate decode, numpy encode), as on Python 3.13+."""
    monkeypatch.setattr(g711, "_audioop", None)


@pytest.mark.usefixtures("without_audioop")
@pytest.mark.parametrize(
    ("encode", "decode", "enc_ref", "dec_ref"),
    [
        (ulaw_encode, ulaw_decode, g711.ulaw_encode_sample, g711.ulaw_decode_sample),
        (alaw_encode, alaw_decode, g711.alaw_encode_sample, g711.alaw_decode_sample),
    ],
)
def test_fallback_paths_are_bit_exact(encode, decode, enc_ref, dec_ref) -> None:
    assert encode(ALL_PCM) == bytes(enc_ref(s) for s in range(-32768, 32768))
    expected = np.array([dec_ref(c) for c in range(256)], dtype="<i2").tobytes()
    assert decode(ALL_CODES) == expected
    # every input type the fast paths accept, and short frames
    frame = ALL_PCM[1000:1320]
    assert encode(memoryview(frame)) == encode(bytearray(frame)) == encode(frame)
    codes = ALL_CODES[:160]
    assert decode(memoryview(codes)) == decode(bytearray(codes)) == decode(codes)
    assert encode(b"") == b"" and decode(b"") == b""
    assert type(encode(bytearray(frame))) is bytes and type(decode(bytearray(codes))) is bytes


@needs_audioop
def test_audioop_path_returns_bytes_for_every_input_type() -> None:
    frame = ALL_PCM[2000:2320]
    for data in (frame, bytearray(frame), memoryview(frame)):
        assert type(ulaw_encode(data)) is bytes and type(alaw_encode(data)) is bytes
        assert ulaw_decode(ulaw_encode(data)) == ulaw_decode(bytes(ulaw_encode(frame)))

"""Chunker: no sample lost or duplicated, every frame full size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wavewire.audio.chunker import Chunker
from wavewire.errors import FrameFormatError


@given(
    frame=st.integers(min_value=1, max_value=64),
    pieces=st.lists(st.binary(max_size=200), max_size=30),
)
def test_concatenation_in_equals_out(frame: int, pieces: list[bytes]) -> None:
    c = Chunker(frame)
    out: list[bytes] = []
    for p in pieces:
        got = c.push(p)
        assert all(len(f) == frame for f in got)
        out.extend(got)
        assert c.pending < frame
    tail = c.flush()
    assert b"".join(out) + tail == b"".join(pieces)
    assert len(tail) < frame and c.pending == 0


@given(
    frame=st.integers(min_value=1, max_value=64),
    pieces=st.lists(st.binary(max_size=100), max_size=20),
)
def test_clear_reports_exactly_what_it_drops(frame: int, pieces: list[bytes]) -> None:
    c = Chunker(frame)
    emitted = sum(len(f) for p in pieces for f in c.push(p))
    dropped = c.clear()
    assert emitted + dropped == sum(map(len, pieces))
    assert c.pending == 0 and c.flush() == b""


def test_flush_pad() -> None:
    c = Chunker(4)
    assert c.push(b"abcdef") == [b"abcd"]
    assert c.flush(pad=True) == b"ef\x00\x00"
    assert c.flush(pad=True) == b""


def test_frames_are_independent_copies() -> None:
    c = Chunker(2)
    data = bytearray(b"abcd")
    frames = c.push(data)
    data[:] = b"zzzz"
    assert frames == [b"ab", b"cd"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_frame_size(bad) -> None:
    with pytest.raises(FrameFormatError):
        Chunker(bad)

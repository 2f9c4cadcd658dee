"""Stream resampler: delay, steadiness, quality, continuity, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soxr

from wavewire.audio.channels import convert_channels
from wavewire.audio.resample import SOXR_QUALITIES, StreamResampler, resample
from wavewire.errors import FrameFormatError

PAIRS = [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000), (44100, 16000)]


def _sweep(rate: int, seconds: float, f1: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    k = np.log(f1 / 50.0) / seconds
    x = 10000 * np.sin(2 * np.pi * 50.0 * (np.exp(k * t) - 1) / k)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def _feed(r: StreamResampler, x: np.ndarray, chunk_ms: int = 20):
    """Return (outputs per chunk, worst backlog in ms after the first chunk, flushed tail)."""
    ch = r.num_channels
    pcm = np.rint(x).astype("<i2").reshape(-1, ch)
    step = r.in_rate * chunk_ms // 1000
    outs, backlog = [], []
    t_in = t_out = 0.0
    for i in range(0, len(pcm), step):
        chunk = pcm[i : i + step]
        out = np.frombuffer(r.process(chunk.tobytes()), "<i2").reshape(-1, ch)
        outs.append(out)
        t_in += len(chunk) / r.in_rate
        t_out += len(out) / r.out_rate
        backlog.append(1000 * (t_in - t_out))
    tail = np.frombuffer(r.flush(), "<i2").reshape(-1, ch)
    return outs, max(backlog[1:]), tail


@pytest.mark.parametrize(("src", "dst"), PAIRS)
def test_steady_output_and_delay_under_10ms(src: int, dst: int) -> None:
    r = StreamResampler(src, dst)
    outs, backlog, _ = _feed(r, _sweep(src, 1.0, 0.4 * min(src, dst)))
    expected = dst * 20 / 1000
    assert all(abs(len(o) - expected) <= 2 for o in outs[1:-1]), [len(o) for o in outs]
    assert backlog <= 10.0
    assert backlog == pytest.approx(r.delay_ms, abs=1000 / src + 1000 / dst)


def test_stereo_48k_to_mono_16k_pipeline() -> None:
    x = _sweep(48000, 1.0, 7000, channels=2)
    pcm = np.rint(x).astype("<i2").tobytes()
    r = StreamResampler(48000, 16000)
    sizes = []
    for i in range(0, len(pcm), 960 * 4):
        sizes.append(len(r.process(convert_channels(pcm[i : i + 960 * 4], 2, 1))) // 2)
    assert all(s == 320 for s in sizes[1:]) and r.delay_ms <= 10


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (48000, 16000)])
def test_impulse_lands_at_its_own_time(src: int, dst: int) -> None:
    x = np.zeros(src)
    x[src // 2] = 20000  # impulse at 0.5 s
    outs, _, tail = _feed(StreamResampler(src, dst), x)
    y = np.concatenate([*outs, tail])[:, 0].astype(float)
    assert abs(int(np.argmax(np.abs(y))) - dst // 2) <= 1


@pytest.mark.parametrize(("src", "dst"), [*PAIRS, (24000, 16000), (8000, 48000)])
def test_quality_against_offline_vhq(src: int, dst: int) -> None:
    x = _sweep(src, 1.0, 0.4 * min(src, dst))
    outs, _, tail = _feed(StreamResampler(src, dst), x)
    y = np.concatenate([*outs, tail])[:, 0].astype(float)
    ref = soxr.resample(np.rint(x), src, dst, quality="VHQ")
    assert len(y) == len(ref)
    core = slice(len(y) // 20, -len(y) // 20)
    snr = 10 * np.log10(np.sum(ref[core] ** 2) / np.sum((y[core] - ref[core]) ** 2))
    assert snr > 70


@pytest.mark.parametrize(("src", "dst"), [(16000, 8000), (48000, 16000), (44100, 16000)])
def test_rejects_aliases_when_downsampling(src: int, dst: int) -> None:
    t = np.arange(src) / src
    tone = 10000 * np.sin(2 * np.pi * 0.6 * dst * t)  # above the output Nyquist
    outs, _, _ = _feed(StreamResampler(src, dst), tone)
    y = np.concatenate(outs)[len(outs[0]) :, 0].astype(float)
    rms = max(float(np.sqrt(np.mean(y**2))), 0.5)  # 0.5: below one int16 step
    assert 20 * np.log10(rms / 7071) < -70


@pytest.mark.parametrize(("src", "dst"), [(16000, 48000), (48000, 16000), (24000, 16000)])
def test_chunking_does_not_change_the_result(src: int, dst: int) -> None:
    x = np.rint(_sweep(src, 0.5, 0.4 * min(src, dst))).astype("<i2").tobytes()
    whole = StreamResampler(src, dst)
    a = np.frombuffer(whole.process(x) + whole.flush(), "<i2")
    odd = StreamResampler(src, dst)
    pieces, i = [], 0
    for size in itertools.cycle([7, 1, 333, 20, 0, 160]):
        if i >= len(x):
            break
        pieces.append(odd.process(x[i : i + 2 * size]))
        i += 2 * size
    b = np.frombuffer(b"".join(pieces) + odd.flush(), "<i2")
    assert len(a) == len(b)
    # Same samples; float summation order may differ by one rounding step at most.
    assert np.max(np.abs(a.astype(int) - b)) <= 1


def test_reset_forgets_history() -> None:
    r = StreamResampler(8000, 16000)
    first = r.process(np.full(160, 5000, "<i2").tobytes())
    r.reset()
    again = r.process(np.full(160, 5000, "<i2").tobytes())
    assert first == again


def test_same_rate_is_passthrough() -> None:
    r = StreamResampler(16000, 16000, 2)
    pcm = b"\x01\x02\x03\x04"
    assert r.process(pcm) is pcm and r.flush() == b"" and r.delay_ms == 0.0


@pytest.mark.parametrize("quality", SOXR_QUALITIES)
def test_soxr_presets_still_work(quality: str) -> None:
    r = StreamResampler(16000, 8000, quality=quality)  # type: ignore[arg-type]
    out = b"".join(r.process(bytes(640)) for _ in range(20)) + r.flush()
    assert len(out) == 20 * 320 and r.delay_ms >= 0


def test_one_shot_resample() -> None:
    x = np.rint(_sweep(16000, 0.25, 3000, channels=2)).astype("<i2").tobytes()
    y = resample(x, 16000, 8000, 2)
    assert len(y) == len(x) // 2
    assert resample(x, 16000, 16000, 2) == x and resample(b"", 8000, 16000) == b""


@pytest.mark.parametrize(
    "args", [(0, 16000), (16000, -1), (16000.0, 8000), (8000, 16000, 0), (8000, 16000, 1, "XQ")]
)
def test_bad_configuration(args) -> None:
    with pytest.raises(FrameFormatError):
        StreamResampler(*args)


def test_bad_input() -> None:
    r = StreamResampler(8000, 16000, 2)
    with pytest.raises(FrameFormatError):
        r.process(b"\x00\x00")  # half a stereo frame
    with pytest.raises(FrameFormatError):
        r.process("text")  # type: ignore[arg-type]
    assert r.process(b"") == b""
    with pytest.raises(FrameFormatError):
        resample(b"\x00", 8000, 16000)

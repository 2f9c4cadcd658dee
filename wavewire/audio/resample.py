"""Sample-rate conversion for streams of s16le PCM, with a few milliseconds of delay.

:class:`StreamResampler` converts a stream chunk by chunk; :func:`resample` converts a
whole buffer at once (soxr, very high quality).

Why the default is not a soxr preset
------------------------------------
``soxr.ResampleStream`` (the python-soxr binding) does not expose libsoxr's runtime
block sizes, and every preset except ``QQ`` works in large DFT blocks: fed 20 ms chunks
it returns nothing for several chunks and then a burst. Measured on 20 ms chunks (worst
backlog of input received but not yet returned, after warm-up; SNR of a log sweep
50 Hz→0.40·min(rate) against ``soxr.resample(..., "VHQ")``; alias rejection = level of a
sweep from 0.57·out to 0.45·in rate, which must vanish when downsampling):

=======  ======  ======  =======  =======  ===============  ==========
quality  8k→16k  16k→8k  16k→48k  48k→16k  SNR 16k→48k/48k  alias rej.
         ms      ms      ms       ms       →16k dB          48k→16k dB
=======  ======  ======  =======  =======  ===============  ==========
QQ         0.3     0.1     0.1      0.0       30 / 82             0
LQ        61      61      20       20         83 / 83            82
MQ       118     118      38       38         83 / 83            82
HQ       115     115      37       37         83 / 83            82
VHQ      111     111      76       76         83 / 83            82
LD         2.3     2.3     1.1      1.1       88 / 87            91
=======  ======  ======  =======  =======  ===============  ==========

(≈ 83 dB is the floor set by int16 rounding of both signals. ``benchmarks/audio.py``
re-measures the delays; ``tests/audio/test_resample.py`` checks the LD figures.) Only
``QQ`` meets the 10 ms budget, and it is cubic interpolation with no anti-alias filter:
30 dB SNR upsampling and no alias rejection at all downsampling. So the default,
``"LD"`` (low delay), is wavewire's own polyphase FIR: a Kaiser-windowed sinc
(β = 7.86, ≈ 80 dB stopband) with its passband to 0.43·min(rate) and stopband from
0.57·min(rate) — what folds onto 0.43-0.5 is the transition band, which no speech codec
keeps. It is linear phase, delay-compensated (output sample *m* is aligned with input
time *m*/out_rate, as with soxr), and returns every output sample as soon as the input it
needs has arrived: after the first chunk, each chunk in gives exactly its share of
samples out, with 2.25 ms of look-ahead at 8 kHz and ≈ 1.1 ms at 16 kHz and above. The
soxr presets remain available (``quality="HQ"`` …) where delay does not matter.

Same rate is a passthrough: ``process`` returns the input unchanged, with no numpy work.

The filter's design, and the bound on its cost for odd rate pairs, are
:mod:`.polyphase`'s.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from wavewire.audio.pcm import BytesLike, check_channels, check_pcm, check_rate
from wavewire.audio.polyphase import (
    DESIGN_CACHE_SIZE,
    MAX_TABLE_TAPS,
    design,
    design_cache_info,
    table_taps,
)
from wavewire.errors import FrameFormatError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "StreamResampler",
    "resample",
    "Quality",
    "SOXR_QUALITIES",
    "STANDARD_RATES",
    "MAX_TABLE_TAPS",
    "DESIGN_CACHE_SIZE",
    "table_taps",
    "design_cache_info",
]

Quality = Literal["LD", "QQ", "LQ", "MQ", "HQ", "VHQ"]
SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")
"""The presets handed to ``soxr.ResampleStream`` as they are."""

STANDARD_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
"""The audio rates wavewire's servers accept from peers: the telephony, wideband and
studio rates, between any two of which the ``"LD"`` filter is small (≤ 46 305 taps)."""


@lru_cache(maxsize=DESIGN_CACHE_SIZE)
def _soxr_backlog_ms(in_rate: int, out_rate: int, quality: str) -> float:
    """Worst backlog (ms) of a soxr preset on 20 ms chunks of 1 s of noise."""
    import numpy as np
    import soxr

    stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
    step = max(1, in_rate // 50)
    noise = np.random.default_rng(0).integers(-1000, 1000, in_rate, dtype=np.int16)
    worst = 0.0
    t_in = t_out = 0.0
    for i in range(0, in_rate, step):
        chunk = noise[i : i + step]
        t_in += len(chunk) / in_rate
        t_out += len(stream.resample_chunk(chunk)) / out_rate
        if i >= 4 * step:
            worst = max(worst, t_in - t_out)
    return 1000.0 * worst


class StreamResampler:
    """Convert a stream of interleaved s16le PCM from ``in_rate`` to ``out_rate``.

    One object per stream (it keeps filter history). Feed chunks of any size to
    :meth:`process`; call :meth:`flush` at the end of the stream to get the look-ahead
    tail, or :meth:`reset` to drop it (e.g. on an interruption).
    """

    __slots__ = (
        "_buf",
        "_buf_start",
        "_down",
        "_m",
        "_n_in",
        "_soxr",
        "_table",
        "_taps",
        "_centre",
        "_up",
        "in_rate",
        "num_channels",
        "out_rate",
        "quality",
    )

    def __init__(
        self, in_rate: int, out_rate: int, num_channels: int = 1, quality: Quality = "LD"
    ) -> None:
        self.in_rate = check_rate(in_rate, "in_rate")
        """Input sample rate (Hz)."""
        self.out_rate = check_rate(out_rate, "out_rate")
        """Output sample rate (Hz)."""
        self.num_channels = check_channels(num_channels)
        """Interleaved channel count (same in and out)."""
        if quality != "LD" and quality not in SOXR_QUALITIES:
            raise FrameFormatError(f"quality must be 'LD' or one of {SOXR_QUALITIES}")
        self.quality: Quality = quality
        """``"LD"`` (wavewire's low-delay FIR, the default) or a soxr preset."""
        self._soxr = None
        self._buf: np.ndarray | None = None
        self._up = self._down = self._taps = self._centre = 1
        self._table = None
        self._buf_start = self._m = self._n_in = 0
        if in_rate == out_rate:
            return
        if quality == "LD":
            size = table_taps(in_rate, out_rate)
            if size > MAX_TABLE_TAPS:
                raise FrameFormatError(
                    f"cannot convert {in_rate} Hz to {out_rate} Hz at a bounded cost (a"
                    f" {size}-tap filter; the limit is {MAX_TABLE_TAPS}): use one of"
                    f" {sorted(STANDARD_RATES)}"
                )
            self._up, self._down, self._taps, self._centre, self._table = design(
                in_rate, out_rate
            )
        self.reset()

    @property
    def passthrough(self) -> bool:
        """True when the rates are equal and :meth:`process` returns its input as is."""
        return self.in_rate == self.out_rate

    @property
    def delay_ms(self) -> float:
        """Added delay in milliseconds: how far output lags the input it has received.

        For ``"LD"`` this is the filter's look-ahead; for a soxr preset it is the worst
        backlog measured once on 20 ms chunks (cached per rate pair)."""
        if self.passthrough:
            return 0.0
        if self.quality == "LD":
            return 1000.0 * self._centre / (self._up * self.in_rate)
        return _soxr_backlog_ms(self.in_rate, self.out_rate, self.quality)

    def reset(self) -> None:
        """Forget all history and held samples; the next chunk starts a new stream."""
        if self.passthrough:
            return
        import numpy as np

        if self.quality != "LD":
            import soxr

            self._soxr = soxr.ResampleStream(
                self.in_rate, self.out_rate, self.num_channels, dtype="int16",
                quality=self.quality,
            )
            return
        # Zeros before the first sample, so the first outputs see a silent past.
        self._buf = np.zeros((self._taps - 1, self.num_channels), dtype=np.float32)
        self._buf_start = -(self._taps - 1)
        self._m = 0
        self._n_in = 0

    def process(self, pcm: BytesLike) -> bytes:
        """Convert one chunk; return every output sample that is ready (s16le bytes)."""
        check_pcm(pcm, self.num_channels)
        if self.passthrough:
            return pcm if isinstance(pcm, bytes) else bytes(pcm)
        import numpy as np

        x = np.frombuffer(pcm, dtype="<i2").reshape(-1, self.num_channels)
        if self._soxr is not None:
            return self._soxr.resample_chunk(x).tobytes()
        if not len(x):
            return b""
        self._n_in += len(x)
        ready = (self._n_in * self._up - 1 - self._centre) // self._down + 1
        return self._run(x.astype(np.float32), ready)

    def flush(self) -> bytes:
        """Return the held tail of the stream (zero-padded look-ahead), then reset."""
        if self.passthrough:
            return b""
        import numpy as np

        if self._soxr is not None:
            empty = np.zeros((0, self.num_channels), dtype=np.int16)
            tail = self._soxr.resample_chunk(empty, last=True).tobytes()
            self.reset()
            return tail
        total = -(-self._n_in * self._up // self._down)  # ceil
        if total <= self._m:
            self.reset()
            return b""
        need = (total - 1) * self._down + self._centre
        pad = need // self._up + 1 - self._n_in
        zeros = np.zeros((max(pad, 0), self.num_channels), dtype=np.float32)
        out = self._run(zeros, total)
        self.reset()
        return out

    def _run(self, x: np.ndarray, ready: int) -> bytes:
        """Append ``x`` to the history and compute outputs ``self._m`` .. ``ready - 1``."""
        import numpy as np
        from numpy.lib.stride_tricks import sliding_window_view

        assert self._buf is not None and self._table is not None
        buf = np.concatenate((self._buf, x)) if len(self._buf) else x
        m0, up, down, taps, centre = self._m, self._up, self._down, self._taps, self._centre
        count = ready - m0
        if count <= 0:
            self._buf = buf
            return b""
        pos0 = m0 * down + centre
        first = pos0 // up - taps + 1 - self._buf_start  # window row of output m0
        if self.num_channels == 1:
            y = self._mono(buf.reshape(-1), first, pos0, count)[:, None]
        else:
            windows = sliding_window_view(buf, taps, axis=0)  # (rows, ch, K)
            if up == 1:
                rows = windows[first : first + count * down : down]
                y = rows @ self._table[0]
            elif down == 1:
                phase0 = pos0 % up
                n_rows = (phase0 + count - 1) // up + 1
                rows = windows[first : first + n_rows]
                y = np.einsum("rck,pk->rpc", rows, self._table).reshape(-1, self.num_channels)
                y = y[phase0 : phase0 + count]
            else:
                pos = np.arange(m0, ready, dtype=np.int64) * down + centre
                starts = pos // up - taps + 1 - self._buf_start
                y = np.einsum("nck,nk->nc", windows[starts], self._table[pos % up])
        self._m = ready
        # Keep only what the next output still needs.
        keep_from = (ready * down + centre) // up - taps + 1 - self._buf_start
        keep_from = min(max(keep_from, 0), len(buf))
        self._buf = buf[keep_from:].copy()
        self._buf_start += keep_from
        np.rint(y, out=y)
        np.maximum(y, -32768.0, out=y)
        np.minimum(y, 32767.0, out=y)
        return y.astype("<i2").tobytes()

    def _mono(self, buf: np.ndarray, first: int, pos0: int, count: int) -> np.ndarray:
        """The mono fast path: contiguous windows and one BLAS product."""
        import numpy as np
        from numpy.lib.stride_tricks import sliding_window_view

        up, down, taps, table = self._up, self._down, self._taps, self._table
        assert table is not None
        item = buf.itemsize
        if up == 1:
            # Row i is the window of output m0 + i: starts `down` samples apart.
            rows = np.ndarray(
                (count, taps), buf.dtype, buf, first * item, (down * item, item)
            ).copy()
            return rows @ table[0]
        if down == 1:
            phase0 = pos0 % up
            n_rows = (phase0 + count - 1) // up + 1
            rows = np.ndarray((n_rows, taps), buf.dtype, buf, first * item, (item, item)).copy()
            return (rows @ table.T).reshape(-1)[phase0 : phase0 + count]
        windows = sliding_window_view(buf, taps)  # (rows, K), a view
        pos = np.arange(self._m, self._m + count, dtype=np.int64) * down + self._centre
        starts = pos // up - taps + 1 - self._buf_start
        return np.einsum("nk,nk->n", windows[starts], table[pos % up])


def resample(pcm: BytesLike, in_rate: int, out_rate: int, num_channels: int = 1) -> bytes:
    """Convert a whole buffer at once with soxr's very-high-quality preset (offline use).

    The output is delay-compensated and has ``round(n * out_rate / in_rate)`` frames.
    """
    check_rate(in_rate, "in_rate")
    check_rate(out_rate, "out_rate")
    check_channels(num_channels)
    check_pcm(pcm, num_channels)
    if in_rate == out_rate:
        return bytes(pcm)
    import numpy as np
    import soxr

    x = np.frombuffer(pcm, dtype="<i2").reshape(-1, num_channels)
    if not len(x):
        return b""
    return soxr.resample(x, in_rate, out_rate, quality="VHQ").astype("<i2").tobytes()

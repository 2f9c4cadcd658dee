"""The ``"LD"`` (low-delay) filter of :class:`~wavewire.audio.resample.StreamResampler`:
the design of its polyphase FIR table, and the bound on what a design may cost.

The filter is a Kaiser-windowed sinc (see :mod:`wavewire.audio.resample` for why and
how it is used); :func:`design` returns its table for a rate pair from a bounded cache.

Bounded cost
------------
The ``"LD"`` filter for ``in → out`` has ``L = out / gcd(in, out)`` phases, so an odd
rate pair (383 999 → 16 000 Hz: sixteen thousand phases of a filter millions of taps
long) would cost seconds of CPU and gigabytes to design. A pair whose table would hold
more than :data:`MAX_TABLE_TAPS` coefficients is refused with a
:class:`~wavewire.errors.FrameFormatError` before anything is computed, and at most
:data:`DESIGN_CACHE_SIZE` designs are kept (least recently used dropped), so the cache
holds at most ``DESIGN_CACHE_SIZE x MAX_TABLE_TAPS`` 4-byte coefficients. Every pair of
:data:`~wavewire.audio.resample.STANDARD_RATES` is far below the bound; servers accept
only those rates from peers (see :mod:`wavewire.transports.endpoints`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MAX_TABLE_TAPS", "DESIGN_CACHE_SIZE", "Design", "table_taps", "design",
           "design_cache_info"]

_PASS = 0.43  # passband edge, fraction of min(rate)
_STOP = 0.57  # stopband edge, fraction of min(rate)
_ATTEN_DB = 80.0

MAX_TABLE_TAPS = 1 << 17
"""Largest ``"LD"`` polyphase table (coefficients) a
:class:`~wavewire.audio.resample.StreamResampler` designs: 512 kB of float32, a few
milliseconds of design time."""
DESIGN_CACHE_SIZE = 32
"""Designs kept for reuse (least recently used dropped)."""


def table_taps(in_rate: int, out_rate: int) -> int:
    """Coefficients in the ``"LD"`` table for ``in_rate → out_rate`` (``L x K``),
    computed without designing it."""
    g = math.gcd(in_rate, out_rate)
    up = out_rate // g
    lo = min(in_rate, out_rate)
    width = 2 * math.pi * (_STOP - _PASS) * lo / (in_rate * up)
    n_taps = math.ceil((_ATTEN_DB - 7.95) / (2.285 * width)) + 1
    return up * math.ceil(n_taps / up)


Design = tuple[int, int, int, int, "np.ndarray"]
"""``(L, M, K, C, H)``: up factor, down factor, taps per phase, centre, and the table."""
_designs: OrderedDict[tuple[int, int], Design] = OrderedDict()


def design(in_rate: int, out_rate: int) -> Design:
    """The design for in→out from the bounded LRU cache (made on a miss)."""
    key = (in_rate, out_rate)
    found = _designs.get(key)
    if found is not None:
        _designs.move_to_end(key)
        return found
    made = _make_design(in_rate, out_rate)
    _designs[key] = made
    while len(_designs) > DESIGN_CACHE_SIZE:
        _designs.popitem(last=False)
    return made


def _make_design(in_rate: int, out_rate: int) -> Design:
    """Polyphase table for in→out: ``(L, M, K, C, H)`` with ``H[p, k]`` reversed per row.

    The prototype runs at ``in_rate * L``; output *m* sits at up-rate position
    ``m * M + C`` (C = half the filter length, which compensates the delay).
    """
    import numpy as np

    g = math.gcd(in_rate, out_rate)
    up, down = out_rate // g, in_rate // g
    fs_up = in_rate * up
    lo = min(in_rate, out_rate)
    width = 2 * math.pi * (_STOP - _PASS) * lo / fs_up
    n_taps = math.ceil((_ATTEN_DB - 7.95) / (2.285 * width)) + 1
    taps = math.ceil(n_taps / up)  # K, taps per phase
    n_taps = taps * up
    if n_taps % 2 == 0:
        n_taps -= 1  # odd length: integer centre, exact delay compensation
    centre = (n_taps - 1) // 2
    cutoff = 0.5 * (_PASS + _STOP) * lo / fs_up  # cycles per up-rate sample
    beta = 0.1102 * (_ATTEN_DB - 8.7)
    t = np.arange(n_taps) - centre
    proto = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n_taps, beta)
    proto *= up / proto.sum()  # unity DC gain after zero-stuffing by `up`
    padded = np.zeros(taps * up)
    padded[:n_taps] = proto
    # Row p holds taps p, p+L, p+2L…, reversed so it lines up with an input window.
    table = padded.reshape(taps, up).T[:, ::-1].astype(np.float32)
    table = np.ascontiguousarray(table)
    table.flags.writeable = False
    return up, down, taps, centre, table


def design_cache_info() -> tuple[int, int]:
    """``(designs cached, coefficients they hold)`` in the ``"LD"`` design cache."""
    return len(_designs), sum(d[4].size for d in _designs.values())

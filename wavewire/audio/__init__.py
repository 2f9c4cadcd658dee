"""Pure audio code: resampling, channels, G.711, WAV, chunking, pacing, VAD.

No I/O, no sockets, no tasks. Importing this package is cheap: numpy, soxr and the VAD
back-ends load only when a function that needs them runs. Submodules:

* :mod:`~wavewire.audio.resample` — :class:`StreamResampler` (≈ 1-2 ms delay) and
  ``resample.resample`` (one-shot; not re-exported here, the submodule shares its name)
* :mod:`~wavewire.audio.channels` — :func:`convert_channels`, mono↔stereo, downmix
* :mod:`~wavewire.audio.g711` — μ-law / A-law encode and decode
* :mod:`~wavewire.audio.wav` — :func:`read_wav`, :func:`write_wav`
* :mod:`~wavewire.audio.chunker` — :class:`Chunker`
* :mod:`~wavewire.audio.pacer` — :class:`MediaPacer`
* :mod:`~wavewire.audio.vad` — :class:`VAD`, :class:`VADParams` and the analyzers
* :mod:`~wavewire.audio.convert` — ``Conversion``: the edges' format check and conversion
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wavewire.lazy import lazy_getattr

if TYPE_CHECKING:
    from wavewire.audio.channels import (
        convert_channels,
        downmix,
        mono_to_stereo,
        stereo_to_mono,
        upmix,
    )
    from wavewire.audio.chunker import Chunker
    from wavewire.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
    from wavewire.audio.pacer import MediaPacer
    from wavewire.audio.resample import StreamResampler
    from wavewire.audio.wav import read_wav, wav_bytes, write_wav

_EXPORTS = {
    "StreamResampler": "resample",
    "convert_channels": "channels",
    "downmix": "channels",
    "upmix": "channels",
    "mono_to_stereo": "channels",
    "stereo_to_mono": "channels",
    "ulaw_encode": "g711",
    "ulaw_decode": "g711",
    "alaw_encode": "g711",
    "alaw_decode": "g711",
    "read_wav": "wav",
    "write_wav": "wav",
    "wav_bytes": "wav",
    "Chunker": "chunker",
    "MediaPacer": "pacer",
}

__all__ = [
    "warm_up",
    "StreamResampler",
    "convert_channels",
    "downmix",
    "upmix",
    "mono_to_stereo",
    "stereo_to_mono",
    "ulaw_encode",
    "ulaw_decode",
    "alaw_encode",
    "alaw_decode",
    "read_wav",
    "write_wav",
    "wav_bytes",
    "Chunker",
    "MediaPacer",
]


def warm_up() -> None:
    """Load numpy and the conversion tables now (~100-150 ms once per process) instead
    of inside the first call's first audio frame, where it would become that call's
    latency. Servers and clients call this when they start."""
    from wavewire.audio.g711 import ulaw_decode, ulaw_encode
    from wavewire.audio.resample import StreamResampler

    silence = bytes(320)
    ulaw_decode(ulaw_encode(silence))
    for in_rate, out_rate in ((8000, 16000), (16000, 8000), (48000, 16000), (16000, 48000)):
        StreamResampler(in_rate, out_rate).process(silence)


__getattr__ = lazy_getattr(__name__, {k: f".{v}" for k, v in _EXPORTS.items()}, globals())

"""Format conversion of s16le PCM streams: the one place a frame's declared audio format
is judged and converted.

:func:`converter` builds a stateful :class:`Converter` from one format (rate, channels)
to another. :class:`Conversion` is what an edge holds: one target format, a check of
each frame's declared format (:class:`~wavewire.errors.FrameFormatError` when it is
impossible), and a :class:`Converter` per source format, built on first use. The edges
send a frame here only when it is not already whole samples in the target format.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import FrameFormatError

__all__ = ["Conversion", "Converter", "converter"]


class Converter:
    """Converts a stream of s16le PCM from one rate and channel count to another, keeping
    the resampler's filter history between calls (so chunk edges are seamless).
    :attr:`process` is the conversion itself (calling the converter calls it)."""

    __slots__ = ("process", "resampler")

    def __init__(self, in_rate: int, in_channels: int, out_rate: int, out_channels: int) -> None:
        from .channels import convert_channels
        from .resample import StreamResampler

        # Change channels on the side with fewer of them, so the resampler does less work.
        mid = min(in_channels, out_channels)
        self.resampler = resampler = StreamResampler(in_rate, out_rate, mid)
        self.process: Callable[[bytes], bytes]
        """bytes in the source format -> bytes in the target format."""
        if in_channels == out_channels:
            self.process = resampler.process
            return
        resample = resampler.process

        def process(pcm: bytes) -> bytes:
            if in_channels != mid:
                pcm = convert_channels(pcm, in_channels, mid)
            pcm = resample(pcm)
            if mid != out_channels:
                pcm = convert_channels(pcm, mid, out_channels)
            return pcm

        self.process = process

    def __call__(self, pcm: bytes) -> bytes:
        return self.process(pcm)

    def reset(self) -> None:
        """Forget filter history (the stream restarts, e.g. after an interruption)."""
        self.resampler.reset()


def converter(in_rate: int, in_channels: int, out_rate: int, out_channels: int) -> Converter | None:
    """A :class:`Converter` between two formats, or ``None`` when they are the same."""
    if in_rate == out_rate and in_channels == out_channels:
        return None
    return Converter(in_rate, in_channels, out_rate, out_channels)


class Conversion:
    """Checks each frame's declared format and converts it to one target format
    (``rate``, ``channels``), with a stateful :class:`Converter` per source format."""

    __slots__ = ("_by_source", "_process", "channels", "rate")

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self._by_source: dict[tuple[int, int], Converter] = {}
        self._process: dict[tuple[int, int], Callable[[bytes], bytes]] = {}

    def __call__(self, audio: bytes, rate: int, channels: int, *, allow_empty: bool) -> bytes:
        """``audio`` (declared ``rate`` Hz, ``channels``) in the target format. Raises
        :class:`~wavewire.errors.FrameFormatError` for a format no audio can have: no
        channels, no rate, a partial sample, or (unless ``allow_empty``) no bytes."""
        if channels < 1 or rate <= 0 or len(audio) % (2 * channels) or not (audio or allow_empty):
            raise FrameFormatError(f"{len(audio)} bytes, {rate} Hz, {channels} channel(s)")
        if rate == self.rate and channels == self.channels:
            return audio
        process = self._process.get((rate, channels))
        if process is None:
            convert = self._by_source[rate, channels] = Converter(
                rate, channels, self.rate, self.channels
            )
            process = self._process[rate, channels] = convert.process
        return process(audio)

    def reset(self) -> None:
        """Forget filter history (after an interruption the stream restarts)."""
        for convert in self._by_source.values():
            convert.reset()

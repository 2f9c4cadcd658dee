"""What every emulator shares: the input WAV in the platform's format, a real-time send
schedule, the platform's playback buffer (:class:`Playout`), and the summary (frames,
loss, pacing jitter, latency by cross-correlation)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Playout",
    "Schedule",
    "Stats",
    "load_wav",
    "correlate",
    "summarize",
    "print_summary",
    "wait_quiet",
    "add_server_options",
]


def load_wav(path: str | Path | bytes, rate: int, channels: int) -> bytes:
    """A 16-bit WAV (path or bytes) as s16le PCM at ``rate`` and ``channels``."""
    from ..audio.channels import convert_channels
    from ..audio.resample import resample
    from ..audio.wav import read_wav

    source: Any = path if isinstance(path, bytes) else str(path)
    pcm, in_rate, in_channels = read_wav(source)
    if in_channels != 1 and channels == 1:
        pcm = convert_channels(pcm, in_channels, 1)
        in_channels = 1
    if in_rate != rate:
        pcm = resample(pcm, in_rate, rate, in_channels)
    if in_channels != channels:
        pcm = convert_channels(pcm, in_channels, channels)
    return pcm


def frames_of(pcm: bytes, frame_bytes: int) -> list[bytes]:
    """``pcm`` cut into frames (the last one padded with silence)."""
    out = [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]
    if out and len(out[-1]) < frame_bytes:
        out[-1] = out[-1] + bytes(frame_bytes - len(out[-1]))
    return out


class Schedule:
    """Real-time send times from an absolute start: frame ``i`` is due at
    ``start + i * period`` (no drift; lateness is recorded, never accumulated)."""

    def __init__(self, period: float) -> None:
        self.period = period
        self.start = 0.0
        self.lateness: list[float] = []

    def begin(self) -> None:
        self.start = asyncio.get_running_loop().time()

    async def wait(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        due = self.start + index * self.period
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self.lateness.append(max(0.0, loop.time() - due))


@dataclass
class Playout:
    """The platform's playback buffer for what the bot sends, in real time.

    Audio that arrives while the buffer is idle starts playing ``jitter_buffer`` seconds
    later (a platform's playback buffer absorbs network jitter); audio that arrives while
    earlier audio is queued or playing plays right after it (so a bot that sends faster
    than real time is heard in real time). A message that arrives after its predecessor
    has finished playing is an *underrun*: a gap is heard and the rest of the audio
    shifts. :meth:`clear` drops what has not played yet. The rendered timeline starts at
    :attr:`t0`, the moment the emulator began sending, so lags measured on it are what a
    listener hears (transport latency + the jitter buffer)."""

    rate: int
    channels: int = 1
    t0: float = 0.0
    jitter_buffer: float = 0.06
    """Seconds the buffer holds before it starts playing after being idle."""
    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    end: int = 0
    """Sample (per channel) where queued audio ends."""
    arrivals: list[tuple[float, int]] = field(default_factory=list)
    """(arrival time, samples) of each chunk."""
    cleared_samples: int = 0
    underruns: int = 0
    """Messages that arrived less than 200 ms after the audio before them had finished
    playing (a gap heard mid-stream; a longer silence counts as a new utterance)."""
    _fresh: bool = False

    def now_sample(self, now: float) -> int:
        return max(0, int((now - self.t0) * self.rate))

    def add(self, pcm: bytes, now: float) -> int:
        """Queue ``pcm``; returns the sample where it starts playing."""
        n = len(pcm) // (2 * self.channels)
        at = self.now_sample(now)
        if at >= self.end:  # idle: hold the jitter buffer's worth first
            if self.chunks and not self._fresh and at - self.end < self.rate // 5:
                self.underruns += 1  # a late message mid-stream, not a new utterance
            self._fresh = False
            start = at + int(self.jitter_buffer * self.rate)
        else:
            start = self.end
        self.chunks.append((start, pcm))
        self.end = start + n
        self.arrivals.append((now, n))
        return start

    def played_at(self, sample: int) -> float:
        """Loop time at which ``sample`` plays."""
        return self.t0 + sample / self.rate

    def clear(self, now: float) -> int:
        """Drop every sample not yet played; returns how many were dropped."""
        cut = self.now_sample(now)
        if self.end <= cut:
            return 0
        kept: list[tuple[int, bytes]] = []
        frame = 2 * self.channels
        for start, pcm in self.chunks:
            n = len(pcm) // frame
            if start + n <= cut:
                kept.append((start, pcm))
            elif start < cut:
                kept.append((start, pcm[: (cut - start) * frame]))
        dropped = self.end - cut
        self.chunks = kept
        self.end = cut
        self._fresh = True  # what follows a clear is a new utterance
        self.cleared_samples += dropped
        return dropped

    def render(self, min_samples: int = 0) -> bytes:
        """The timeline as s16le PCM (silence where nothing played)."""
        frame = 2 * self.channels
        out = bytearray(max(self.end, min_samples) * frame)
        for start, pcm in self.chunks:
            out[start * frame : start * frame + len(pcm)] = pcm
        return bytes(out)

    @property
    def samples(self) -> int:
        """Samples of audio received and kept."""
        return sum(len(p) for _, p in self.chunks) // (2 * self.channels)


@dataclass
class Stats:
    """Counters an emulator fills while it runs."""

    frames_out: int = 0
    """Audio messages sent to the bot."""
    frames_in: int = 0
    """Audio messages received from the bot."""
    messages_in: int = 0
    """All messages received from the bot."""
    events: dict[str, int] = field(default_factory=dict)
    """Non-audio messages received, by type/event."""
    errors: list[str] = field(default_factory=list)
    """Protocol errors seen in what the bot sent."""
    close_code: int | None = None
    """How the bot's side closed (None if the emulator closed first)."""

    def event(self, name: str) -> None:
        self.events[name] = self.events.get(name, 0) + 1


def _mono_float(pcm: bytes, channels: int) -> Any:
    import numpy as np

    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return x


def correlate(
    sent: bytes, received: bytes, rate: int, channels: int = 1, max_lag_s: float = 2.0
) -> tuple[float, float]:
    """Normalized cross-correlation of ``received`` against ``sent``: ``(peak, lag_ms)``,
    searching lags 0 … ``max_lag_s`` (``received`` later than ``sent``). The peak is
    ``Σ x[t]·y[t+lag] / √(Σx² · Σy²[lag window])``: 1.0 for an exact delayed copy."""
    import numpy as np

    x = _mono_float(sent, channels)
    y = _mono_float(received, channels)
    if not len(x) or not len(y):
        return 0.0, math.nan
    max_lag = min(int(max_lag_s * rate), len(y) - 1)
    y = np.concatenate([y, np.zeros(len(x) + max_lag)])  # windows past the end are silence
    n = 1 << math.ceil(math.log2(len(x) + len(y)))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)[: max_lag + 1]
    energy = np.concatenate([[0.0], np.cumsum(y * y)])
    lags = np.arange(max_lag + 1)
    ey = energy[lags + len(x)] - energy[lags]
    ex = float(np.dot(x, x))
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = np.where(ey > 0, c / np.sqrt(ex * ey), 0.0)
    best = int(np.argmax(norm))
    return float(norm[best]), 1000.0 * best / rate


def _jitter(arrivals: Sequence[tuple[float, int]], rate: int) -> tuple[float, float]:
    """Pacing of what the bot sent: ``(jitter_ms, max_gap_ms)``. Jitter is the standard
    deviation of (inter-arrival time - audio duration of the previous message) over
    consecutive messages; the largest inter-arrival gap is reported beside it."""
    if len(arrivals) < 3:
        return 0.0, 0.0
    devs = []
    gaps = []
    for (t_prev, n_prev), (t, _) in itertools.pairwise(arrivals):
        gaps.append(t - t_prev)
        devs.append((t - t_prev) - n_prev / rate)
    mean = sum(devs) / len(devs)
    var = sum((d - mean) ** 2 for d in devs) / len(devs)
    return 1000.0 * math.sqrt(var), 1000.0 * max(gaps)


def _p95(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def summarize(
    platform: str,
    sent: bytes,
    playout: Playout,
    stats: Stats,
    schedule: Schedule,
    *,
    out_path: str | Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The emulator's report (and the recording written to ``out_path`` as a WAV)."""
    rate, channels = playout.rate, playout.channels
    received = playout.render()
    frame = 2 * channels
    audio_out_s = len(sent) / frame / rate
    audio_in_s = playout.samples / rate
    peak, lag = correlate(sent, received, rate, channels)
    jitter, max_gap = _jitter(playout.arrivals, rate)
    summary: dict[str, Any] = {
        "platform": platform,
        "sample_rate": rate,
        "channels": channels,
        "frames_out": stats.frames_out,
        "frames_in": stats.frames_in,
        "messages_in": stats.messages_in,
        "audio_out_s": round(audio_out_s, 3),
        "audio_in_s": round(audio_in_s, 3),
        "loss": round(max(0.0, 1.0 - audio_in_s / audio_out_s), 4) if audio_out_s else 0.0,
        "pacing_jitter_ms": round(jitter, 2),
        "max_gap_ms": round(max_gap, 1),
        "send_lateness_p95_ms": round(1000.0 * _p95(schedule.lateness), 2),
        "latency_ms": None if math.isnan(lag) else round(lag, 1),
        "correlation": round(peak, 4),
        "jitter_buffer_ms": round(1000.0 * playout.jitter_buffer, 1),
        "underruns": playout.underruns,
        "cleared_ms": round(1000.0 * playout.cleared_samples / rate, 1),
        "events": dict(sorted(stats.events.items())),
        "errors": list(stats.errors),
        "close_code": stats.close_code,
    }
    if extra:
        summary.update(extra)
    if out_path is not None:
        from ..audio.wav import write_wav

        write_wav(out_path, received, rate, channels)
        summary["recording"] = str(out_path)
    return summary


def print_summary(summary: dict[str, Any], file: Any = None) -> None:
    """Print the summary as indented JSON (stdout by default)."""
    print(json.dumps(summary, indent=2, sort_keys=False), file=file or sys.stdout, flush=True)


async def wait_quiet(
    reader: asyncio.Future[Any],
    playout: Playout,
    last_rx: Callable[[], float],
    tail: float,
    max_tail: float,
    busy: Callable[[], bool] = lambda: False,
) -> None:
    """Wait until everything received has played out and nothing new came for ``tail``
    seconds (and ``busy()`` is false), the reader ends, or ``max_tail`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_tail
    while not reader.done() and loop.time() < deadline:
        now = loop.time()
        played = playout.played_at(playout.end) <= now
        if played and now - last_rx() >= tail and not busy():
            return
        await asyncio.sleep(0.02)


def add_server_options(p: argparse.ArgumentParser, ends_with: str) -> None:
    """The options every server-side emulator has (where it listens, how long it waits)."""
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    p.add_argument("--linger", type=float, default=2.0,
                   help=f"seconds to wait for the client's {ends_with} after the WAV (default 2)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="give up if no call ends within this many seconds (default 300)")

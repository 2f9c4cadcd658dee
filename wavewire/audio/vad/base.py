"""The VAD contract and the hysteresis state machine shared by every analyzer.

An analyzer (:class:`VADAnalyzer`) turns one frame of ``frame_samples`` mono s16le
samples into a speech confidence in 0..1 and keeps whatever per-session state its model
needs. :class:`VAD` feeds it arbitrary chunk sizes (re-framing internally) and turns the
confidences into ``started``/``stopped`` events with hysteresis:

::

    QUIET ──speech──▶ STARTING ──speech for start_ms──▶ SPEAKING  (emits "started")
      ▲                  │ silence                         │ silence
      │                  ▼                                 ▼
      └────────────── QUIET ◀──silence for stop_ms── STOPPING   (emits "stopped")
                                                        │ speech → back to SPEAKING

A frame counts as speech when the analyzer's confidence is ≥ ``params.confidence`` and
its level is ≥ ``params.min_dbfs``. Event offsets are sample indices (at the analyzer's
rate) of the first speech frame of the run (``started``) or the first silent frame after
the speech (``stopped``), counted from the start of the stream or the last reset.
"""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

from wavewire.audio.chunker import Chunker
from wavewire.audio.pcm import BytesLike, check_pcm
from wavewire.errors import FrameFormatError

__all__ = ["VADAnalyzer", "VADParams", "VADState", "VADEvent", "VAD", "frame_dbfs"]


def frame_dbfs(frame: BytesLike) -> float:
    """RMS level of s16le PCM in dBFS (a full-scale square wave is 0 dBFS; silence -inf)."""
    import numpy as np

    x = np.frombuffer(frame, dtype="<i2").astype(np.float32)
    if not len(x):
        return -math.inf
    mean_square = float(np.dot(x, x)) / len(x)
    if mean_square <= 0.0:
        return -math.inf
    return 10.0 * math.log10(mean_square / (32768.0 * 32768.0))


class VADAnalyzer(ABC):
    """One session's speech detector: mono s16le frames in, confidence out.

    Subclasses set :attr:`sample_rate` and :attr:`frame_samples` and keep per-session
    state (an RNN state, say); share heavy resources (a model) at module level."""

    sample_rate: int
    """Rate of the audio this analyzer accepts (Hz)."""
    frame_samples: int
    """Samples per frame :meth:`confidence` wants."""

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame (``2 * frame_samples``)."""
        return 2 * self.frame_samples

    @abstractmethod
    def confidence(self, frame: bytes) -> float:
        """Speech probability (0..1) of one frame of exactly ``frame_samples`` samples."""

    def reset(self) -> None:  # noqa: B027 - stateless analyzers need not override
        """Forget per-session state (called by :meth:`VAD.reset`)."""

    def _check_frame(self, frame: BytesLike) -> None:
        n = check_pcm(frame)
        if n != self.frame_bytes:
            raise FrameFormatError(
                f"{type(self).__name__} wants frames of {self.frame_samples} samples "
                f"({self.frame_bytes} bytes), got {n} bytes"
            )


@dataclass(frozen=True, slots=True)
class VADParams:
    """Thresholds and timings of the hysteresis."""

    confidence: float = 0.7
    """Minimum analyzer confidence for a frame to count as speech."""
    start_ms: float = 200.0
    """Continuous speech needed before ``started`` is reported."""
    stop_ms: float = 800.0
    """Continuous silence needed before ``stopped`` is reported."""
    min_dbfs: float = -60.0
    """Frames quieter than this (RMS dBFS) never count as speech."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in 0..1, got {self.confidence}")
        if self.start_ms < 0 or self.stop_ms < 0:
            raise ValueError("start_ms and stop_ms must be >= 0")


class VADState(enum.Enum):
    """Where the hysteresis is."""

    QUIET = "quiet"
    STARTING = "starting"
    SPEAKING = "speaking"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class VADEvent:
    """Speech started or stopped."""

    kind: Literal["started", "stopped"]
    """What happened."""
    offset: int
    """Sample index (analyzer's rate) where it happened; see the module docstring."""
    sample_rate: int
    """Rate ``offset`` is counted at."""

    @property
    def seconds(self) -> float:
        """``offset`` in seconds from the start of the stream."""
        return self.offset / self.sample_rate


class VAD:
    """Hysteresis over a :class:`VADAnalyzer`; one per session.

    :meth:`process` takes mono s16le PCM at ``analyzer.sample_rate`` in chunks of any
    (even) size and returns the events they complete."""

    __slots__ = ("_chunker", "_count", "_mark", "_offset", "analyzer", "params", "state")

    def __init__(self, analyzer: VADAnalyzer, params: VADParams | None = None) -> None:
        self.analyzer = analyzer
        """The per-session analyzer."""
        self.params = params or VADParams()
        """Thresholds and timings."""
        self.state = VADState.QUIET
        """Current hysteresis state."""
        self._chunker = Chunker(analyzer.frame_bytes)
        self._offset = 0  # sample index of the next frame
        self._count = 0  # frames in the current STARTING/STOPPING run
        self._mark = 0  # sample index where that run began

    @property
    def speaking(self) -> bool:
        """True in SPEAKING and STOPPING (speech has started and not yet stopped)."""
        return self.state in (VADState.SPEAKING, VADState.STOPPING)

    def _frames_for(self, ms: float) -> int:
        frame_ms = 1000.0 * self.analyzer.frame_samples / self.analyzer.sample_rate
        return max(1, math.ceil(ms / frame_ms - 1e-9))

    def reset(self) -> None:
        """Back to QUIET at offset 0, dropping partial frames and the analyzer's state."""
        self.state = VADState.QUIET
        self._chunker.clear()
        self._offset = self._count = self._mark = 0
        self.analyzer.reset()

    def process(self, pcm: BytesLike) -> list[VADEvent]:
        """Analyse ``pcm``; return the events it completes (usually none)."""
        check_pcm(pcm)
        events: list[VADEvent] = []
        params = self.params
        rate = self.analyzer.sample_rate
        for frame in self._chunker.push(pcm):
            conf = self.analyzer.confidence(frame)
            speech = conf >= params.confidence and (
                params.min_dbfs == -math.inf or frame_dbfs(frame) >= params.min_dbfs
            )
            at = self._offset
            self._offset += self.analyzer.frame_samples
            state = self.state
            if state is VADState.QUIET:
                if speech:
                    self.state, self._count, self._mark = VADState.STARTING, 0, at
                    state = VADState.STARTING
            elif state is VADState.SPEAKING:
                if not speech:
                    self.state, self._count, self._mark = VADState.STOPPING, 0, at
                    state = VADState.STOPPING
            if state is VADState.STARTING:
                if not speech:
                    self.state = VADState.QUIET
                    continue
                self._count += 1
                if self._count >= self._frames_for(params.start_ms):
                    self.state = VADState.SPEAKING
                    events.append(VADEvent("started", self._mark, rate))
            elif state is VADState.STOPPING:
                if speech:
                    self.state = VADState.SPEAKING
                    continue
                self._count += 1
                if self._count >= self._frames_for(params.stop_ms):
                    self.state = VADState.QUIET
                    events.append(VADEvent("stopped", self._mark, rate))
        return events

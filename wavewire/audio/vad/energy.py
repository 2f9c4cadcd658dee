"""Energy VAD: RMS level against a dBFS threshold. No dependencies, no model.

Good enough for synthetic test audio and quiet rooms; it cannot tell speech from any
other sound of the same level. Confidence rises linearly from 0 at ``threshold_dbfs -
width_db/2`` to 1 at ``threshold_dbfs + width_db/2`` (0.5 exactly at the threshold).
"""

from __future__ import annotations

from wavewire.audio.pcm import check_rate
from wavewire.audio.vad.base import VADAnalyzer, frame_dbfs
from wavewire.errors import FrameFormatError

__all__ = ["EnergyVAD"]


class EnergyVAD(VADAnalyzer):
    """Speech confidence from the frame's RMS level (stateless)."""

    def __init__(
        self,
        sample_rate: int = 16000,
        *,
        threshold_dbfs: float = -40.0,
        width_db: float = 10.0,
        frame_ms: int = 20,
    ) -> None:
        self.sample_rate = check_rate(sample_rate)
        if frame_ms <= 0 or width_db <= 0:
            raise FrameFormatError("frame_ms and width_db must be positive")
        self.frame_samples = max(1, sample_rate * frame_ms // 1000)
        self.threshold_dbfs = float(threshold_dbfs)
        """Level (dBFS) that gives confidence 0.5."""
        self.width_db = float(width_db)
        """dB over which the confidence goes from 0 to 1."""

    def confidence(self, frame: bytes) -> float:
        """Map the frame's RMS dBFS to 0..1 around the threshold."""
        self._check_frame(frame)
        level = frame_dbfs(frame)
        value = (level - self.threshold_dbfs) / self.width_db + 0.5
        return min(1.0, max(0.0, value))

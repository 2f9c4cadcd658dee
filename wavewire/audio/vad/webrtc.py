"""WebRTC VAD (the ``webrtcvad-wheels`` package, imported as ``webrtcvad``).

A GMM classifier from the WebRTC project: 2-4 µs per frame; mode 0 (least aggressive)
to 3 (most aggressive at rejecting non-speech, robust to noise). Frames of 10, 20 or
30 ms at 8, 16, 32 or 48 kHz. Its answer is binary, so confidence is 0.0 or 1.0.
"""

from __future__ import annotations

from typing import Any

from wavewire.audio.vad.base import VADAnalyzer
from wavewire.errors import FrameFormatError

__all__ = ["WebRTCVAD"]


class WebRTCVAD(VADAnalyzer):
    """Per-session wrapper of ``webrtcvad.Vad``."""

    RATES = (8000, 16000, 32000, 48000)
    FRAME_MS = (10, 20, 30)

    def __init__(self, sample_rate: int = 16000, *, mode: int = 3, frame_ms: int = 20) -> None:
        if sample_rate not in self.RATES:
            raise FrameFormatError(f"WebRTC VAD needs a rate in {self.RATES}, got {sample_rate}")
        if frame_ms not in self.FRAME_MS:
            raise FrameFormatError(f"WebRTC VAD needs frames of {self.FRAME_MS} ms, got {frame_ms}")
        if mode not in (0, 1, 2, 3):
            raise FrameFormatError(f"WebRTC VAD mode must be 0..3, got {mode}")
        try:
            import webrtcvad
        except ImportError as exc:
            raise ImportError(
                "WebRTCVAD needs the 'webrtcvad-wheels' package: pip install 'wavewire[vad]'"
            ) from exc
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self.mode = mode
        """Aggressiveness, 0..3."""
        self._vad: Any = webrtcvad.Vad(mode)

    def reset(self) -> None:
        """Start a fresh classifier (its noise estimates adapt over time)."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self.mode)

    def confidence(self, frame: bytes) -> float:
        """1.0 if WebRTC classifies the frame as speech, else 0.0."""
        self._check_frame(frame)
        return 1.0 if self._vad.is_speech(bytes(frame), self.sample_rate) else 0.0

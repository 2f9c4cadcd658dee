"""Voice activity detection: one analyzer interface, one shared hysteresis.

:class:`VAD` (with :class:`VADParams`) turns any :class:`VADAnalyzer`'s per-frame
confidence into ``started``/``stopped`` :class:`VADEvent` s. Analyzers:
:class:`EnergyVAD` (no dependency), :class:`WebRTCVAD` (``webrtcvad-wheels``) and
:class:`SileroVAD` (onnxruntime). The heavy ones import their package only when built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wavewire.audio.vad.base import VAD, VADAnalyzer, VADEvent, VADParams, VADState, frame_dbfs
from wavewire.audio.vad.energy import EnergyVAD

if TYPE_CHECKING:
    from wavewire.audio.vad.silero import SileroVAD
    from wavewire.audio.vad.webrtc import WebRTCVAD

__all__ = [
    "VAD",
    "VADAnalyzer",
    "VADEvent",
    "VADParams",
    "VADState",
    "EnergyVAD",
    "WebRTCVAD",
    "SileroVAD",
    "frame_dbfs",
]


def __getattr__(name: str) -> Any:
    if name == "WebRTCVAD":
        from wavewire.audio.vad.webrtc import WebRTCVAD

        return WebRTCVAD
    if name == "SileroVAD":
        from wavewire.audio.vad.silero import SileroVAD

        return SileroVAD
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

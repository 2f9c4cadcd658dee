"""Silero VAD v5 on onnxruntime (optional: ``pip install 'wavewire[silero]'``).

The ONNX model (MIT, 2.3 MB, shipped as ``wavewire/audio/models/silero_vad.onnx``) is
loaded once per process into one ``InferenceSession`` shared by every session (one
intra-op thread: many small calls from many sessions parallelise better across
processes than inside one call). Each :class:`SileroVAD` keeps its own RNN state
(``state``, shape [2, 1, 128]) and the last 64 samples (32 at 8 kHz) of the previous
frame, which v5 expects in front of every frame. Frames are 512 samples at 16 kHz
(32 ms) or 256 at 8 kHz; ≈ 0.15 ms each.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wavewire.audio.vad.base import VADAnalyzer
from wavewire.errors import FrameFormatError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SileroVAD", "MODEL_PATH"]

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "silero_vad.onnx"
"""The bundled Silero VAD v5 model."""

_FRAME = {16000: 512, 8000: 256}
_CONTEXT = {16000: 64, 8000: 32}
_session: Any = None
_session_lock = threading.Lock()


def _shared_session() -> Any:
    """The process-wide ``InferenceSession`` (created on first use)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                try:
                    import onnxruntime
                except ImportError as exc:
                    raise ImportError(
                        "SileroVAD needs onnxruntime: pip install 'wavewire[silero]'"
                    ) from exc
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                _session = onnxruntime.InferenceSession(
                    str(MODEL_PATH), sess_options=options, providers=["CPUExecutionProvider"]
                )
    return _session


class SileroVAD(VADAnalyzer):
    """Per-session Silero VAD: its own RNN state and context, the shared model."""

    def __init__(self, sample_rate: int = 16000) -> None:
        if sample_rate not in _FRAME:
            raise FrameFormatError(f"Silero VAD needs 8000 or 16000 Hz, got {sample_rate}")
        import numpy as np

        self.sample_rate = sample_rate
        self.frame_samples = _FRAME[sample_rate]
        self._session = _shared_session()
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._context_len = _CONTEXT[sample_rate]
        self._input = np.zeros((1, self._context_len + self.frame_samples), dtype=np.float32)
        self._state: np.ndarray = np.zeros((2, 1, 128), dtype=np.float32)

    def reset(self) -> None:
        """Zero the RNN state and the context."""
        self._state[:] = 0.0
        self._input[:] = 0.0

    def confidence(self, frame: bytes) -> float:
        """Speech probability of one frame from the model."""
        import numpy as np

        self._check_frame(frame)
        buf = self._input
        ctx = self._context_len
        # Context = the tail of the previous model input, then the new frame.
        buf[0, :ctx] = buf[0, -ctx:]
        buf[0, ctx:] = np.frombuffer(frame, dtype="<i2")
        buf[0, ctx:] *= 1.0 / 32768.0
        out, self._state = self._session.run(
            None, {"input": buf, "state": self._state, "sr": self._sr}
        )
        return float(out[0, 0])

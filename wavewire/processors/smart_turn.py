"""Smart Turn v3: an end-of-turn model for :class:`~wavewire.processors.turns.TurnTaking`.

Smart Turn v3 (pipecat-ai/smart-turn, BSD-2-Clause) is a small Whisper-encoder
classifier: given the last 8 seconds of the user's turn (16 kHz mono, zero-padded at the
start when shorter) as 80 Whisper log-mel bins by 800 frames, it gives the probability
that the user has finished. Its ``.onnx`` ships in the pipecat-ai wheel
(``pipecat/audio/turn/smart_turn/data/smart-turn-v3*.onnx``); :func:`find_model` finds it
there without importing pipecat, or pass a path. Needs ``onnxruntime`` and numpy.

The features are computed here (:func:`log_mel`): the waveform normalised to zero mean
and unit variance, a 400-point periodic-Hann STFT every 160 samples (centred, reflect
padded, last frame dropped), the power spectrum through 80 Slaney mel filters up to
8 kHz, then ``log10`` clipped to 8 below its peak and scaled as ``(x + 4) / 4``.

One :class:`SmartTurn` may serve every session of a process (ONNX Runtime sessions can
run from several threads); ``TurnTaking`` calls :meth:`SmartTurn.predict` in a thread.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SmartTurn", "find_model", "log_mel"]

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
SECONDS = 8

_filters: Any = None


def find_model() -> Path | None:
    """The Smart Turn v3 ``.onnx`` in the installed pipecat-ai wheel, if there is one
    (the newest version when several are)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        data = Path(root) / "audio" / "turn" / "smart_turn" / "data"
        found = sorted(data.glob("smart-turn-v3*.onnx"))
        if found:
            return found[-1]
    return None


def _mel_filters() -> np.ndarray:
    """The ``(80, 201)`` Slaney-normalised mel filterbank for a 400-point FFT at 16 kHz."""
    global _filters
    if _filters is not None:
        return _filters
    import numpy as np

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f_sp = 200.0 / 3
        mel = f / f_sp
        min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
        high = f >= min_log_hz
        mel[high] = min_log_mel + np.log(f[high] / min_log_hz) / logstep
        return mel

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        f_sp = 200.0 / 3
        f = f_sp * m
        min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
        high = m >= min_log_mel
        f[high] = min_log_hz * np.exp(logstep * (m[high] - min_log_mel))
        return f

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    edges = hz_to_mel(np.array([0.0, SAMPLE_RATE / 2]))
    mel_f = mel_to_hz(np.linspace(edges[0], edges[1], N_MELS + 2))
    widths = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]
    _filters = weights.astype(np.float32)
    return _filters


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Whisper log-mel features ``(80, frames)`` of float audio at 16 kHz (see the
    module docstring); 8 s give 800 frames."""
    import numpy as np

    x = np.asarray(audio, dtype=np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2)[:-1].T  # (201, frames - 1)
    mel = _mel_filters() @ power
    logs = np.log10(np.maximum(mel, 1e-10))
    logs = np.maximum(logs, logs.max() - 8.0)
    return ((logs + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """Smart Turn v3 on ONNX Runtime (see the module docstring).

    :param model_path: the ``.onnx`` file (default: :func:`find_model`).
    :param threads: ONNX Runtime intra-op threads.
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else find_model()
        if path is None or not path.is_file():
            raise FileNotFoundError(
                "Smart Turn v3 model not found: install pipecat-ai or pass model_path")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self._session = ort.InferenceSession(str(path), sess_options=options,
                                             providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def features(self, pcm: bytes) -> np.ndarray:
        """The model's input ``(1, 80, 800)`` for 16 kHz mono s16le audio (its last 8 s)."""
        import numpy as np

        audio = np.frombuffer(pcm[len(pcm) % 2:], dtype="<i2").astype(np.float32) / 32768.0
        n = SECONDS * SAMPLE_RATE
        audio = audio[-n:] if len(audio) >= n else np.pad(audio, (n - len(audio), 0))
        return log_mel(audio)[None]

    def predict(self, pcm: bytes) -> float:
        """Probability in [0, 1] that the turn in ``pcm`` (16 kHz mono s16le) is over."""
        (out,) = self._session.run(None, {self._input: self.features(pcm)})
        return float(out.reshape(-1)[0])

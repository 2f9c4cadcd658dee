"""Smart Turn v3: our log-mel features and the model, cross-checked with pipecat's."""

from __future__ import annotations

import numpy as np
import pytest

from wavewire.processors.smart_turn import SmartTurn, find_model, log_mel

pytestmark = pytest.mark.skipif(find_model() is None, reason="pipecat-ai not installed")


def _speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    voiced = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    return (voiced + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.pipecat
def test_log_mel_matches_pipecats_whisper_features():
    pytest.importorskip("onnxruntime")
    from pipecat.audio.turn.smart_turn._whisper_features import (
        compute_whisper_log_mel_features,
    )

    audio = np.pad(_speechlike(3.0), (16000 * 5, 0))
    mine = log_mel(audio)
    assert mine.shape == (80, 800)
    assert np.abs(mine - compute_whisper_log_mel_features(audio, do_normalize=True)).max() < 1e-4


@pytest.mark.pipecat
def test_predictions_match_pipecats_analyzer():
    pytest.importorskip("onnxruntime")
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    ours = SmartTurn()
    theirs = LocalSmartTurnAnalyzerV3()
    for seconds, seed in ((1.5, 1), (4.0, 2), (10.0, 3)):  # padded, and truncated to 8 s
        audio = _speechlike(seconds, seed)
        pcm = (audio * 32767).astype("<i2").tobytes()
        expected = theirs._predict_endpoint(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768)
        assert ours.predict(pcm) == pytest.approx(expected["probability"], abs=1e-4)
    assert 0.0 <= ours.predict(b"") <= 1.0  # silence only: still an answer


def test_a_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="Smart Turn"):
        SmartTurn(tmp_path / "nope.onnx")

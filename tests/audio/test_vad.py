"""VAD: the hysteresis, and each analyzer on speech with silence gaps and noise."""

from __future__ import annotations

import ctypes
import sys
from functools import cache

import numpy as np
import pytest
from conftest import noise, to_pcm, voiced

from tests._optional import installed, need
from wavewire.audio.resample import resample
from wavewire.audio.vad import VAD, EnergyVAD, VADAnalyzer, VADEvent, VADParams, VADState
from wavewire.errors import FrameFormatError

RATE = 16000


def _events(vad: VAD, pcm: bytes, chunk_bytes: int = 640) -> list[VADEvent]:
    out: list[VADEvent] = []
    for i in range(0, len(pcm), chunk_bytes):
        out += vad.process(pcm[i : i + chunk_bytes])
    return out


def _scene(speech: list[np.ndarray], rate: int = RATE, gap: float = 1.2):
    """Noise at -30 dBFS throughout; speech segments separated by ``gap`` s.

    Returns the PCM and the (start, end) seconds of each segment."""
    parts, spans, t = [np.zeros(int(rate * 1.0))], [], 1.0
    for seg in speech:
        spans.append((t, t + len(seg) / rate))
        parts += [seg, np.zeros(int(rate * gap))]
        t += len(seg) / rate + gap
    x = np.concatenate(parts)
    return to_pcm(x + noise(rate, len(x) / rate, -30.0)), spans


def _assert_segments(events: list[VADEvent], spans, start_tol=0.15, stop_tol=0.25) -> None:
    kinds = [e.kind for e in events]
    assert kinds == ["started", "stopped"] * len(spans), events
    pairs = zip(events[::2], events[1::2], strict=True)
    for (start, stop), (a, b) in zip(pairs, spans, strict=True):
        assert a - start_tol <= start.seconds <= a + start_tol, (start, a)
        assert b - stop_tol <= stop.seconds <= b + stop_tol, (stop, b)


# --- the state machine, with a scripted analyzer ----------------------------------


class Scripted(VADAnalyzer):
    """Confidence = first sample / 1000 (so tests write the confidences into the PCM)."""

    def __init__(self, frame_samples: int = 160, rate: int = 8000) -> None:
        self.sample_rate = rate
        self.frame_samples = frame_samples
        self.resets = 0

    def confidence(self, frame: bytes) -> float:
        self._check_frame(frame)
        return int(np.frombuffer(frame, "<i2")[0]) / 1000

    def reset(self) -> None:
        self.resets += 1


def _script(confs: list[float], frame: int = 160) -> bytes:
    return np.repeat(np.array([round(c * 1000) for c in confs], "<i2"), frame).tobytes()


def test_hysteresis_offsets_and_states() -> None:
    params = VADParams(confidence=0.5, start_ms=60, stop_ms=100, min_dbfs=-float("inf"))
    vad = VAD(Scripted(), params)  # 20 ms frames: start = 3 frames, stop = 5 frames
    confs = [0, 0, 0.9, 0.9, 0, 0.9, 0.9, 0.9, 0.9, 0.2, 0.2, 0.9, 0, 0, 0, 0, 0, 0, 0]
    events = vad.process(_script(confs))
    # A 2-frame blip is not speech; speech starts at frame 5; a 2-frame dip does not
    # stop it; the stop is stamped at frame 12, where the final silence began.
    assert events == [VADEvent("started", 5 * 160, 8000), VADEvent("stopped", 12 * 160, 8000)]
    assert vad.state is VADState.QUIET


def test_states_step_by_step() -> None:
    params = VADParams(confidence=0.5, start_ms=40, stop_ms=40, min_dbfs=-float("inf"))
    vad = VAD(Scripted(), params)
    seen = []
    for c in [0.9, 0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1]:
        vad.process(_script([c]))
        seen.append(vad.state)
    Q, ST, SP, SO = VADState.QUIET, VADState.STARTING, VADState.SPEAKING, VADState.STOPPING
    assert seen == [ST, SP, SP, SO, SP, SO, Q, Q]


def test_arbitrary_chunk_sizes_give_the_same_events() -> None:
    params = VADParams(confidence=0.5, start_ms=60, stop_ms=100, min_dbfs=-float("inf"))
    rng = np.random.default_rng(5)
    confs = list(np.repeat(rng.random(40) > 0.5, rng.integers(1, 12, 40)).astype(float))
    pcm = _script(confs)
    reference = VAD(Scripted(), params).process(pcm)
    assert reference  # the script does contain speech
    for _ in range(5):
        vad = VAD(Scripted(), params)
        got, i = [], 0
        while i < len(pcm):
            n = 2 * int(rng.integers(0, 400))
            got += vad.process(pcm[i : i + n])
            i += n
        assert got == reference


def test_min_dbfs_gates_quiet_frames() -> None:
    params = VADParams(confidence=0.5, start_ms=20, stop_ms=20, min_dbfs=-20.0)
    vad = VAD(Scripted(), params)
    # Confidence 0.9 but a level of 900/32768 ≈ -31 dBFS: below the gate.
    assert vad.process(_script([0.9] * 10)) == []
    assert vad.state is VADState.QUIET


def test_reset_and_bad_input() -> None:
    analyzer = Scripted()
    vad = VAD(analyzer, VADParams(start_ms=20, min_dbfs=-float("inf")))
    vad.process(_script([0.9, 0.9]) + b"\x00\x00")
    assert vad.speaking
    vad.reset()
    assert vad.state is VADState.QUIET and analyzer.resets == 1
    assert vad.process(_script([0.9]))[0].offset == 0  # offsets restart after a reset
    with pytest.raises(FrameFormatError):
        vad.process(b"\x00\x00\x00")
    with pytest.raises(FrameFormatError):
        analyzer.confidence(b"\x00\x00" * 10)
    assert vad.process(b"") == []
    with pytest.raises(ValueError):
        VADParams(confidence=1.5)


# --- analyzers on audio -------------------------------------------------------------


def test_energy_vad_finds_synthetic_speech_in_noise() -> None:
    pcm, spans = _scene([voiced(RATE, 1.5, 130), voiced(RATE, 1.0, 190, seed=4)])
    vad = VAD(EnergyVAD(RATE, threshold_dbfs=-22.0))
    _assert_segments(_events(vad, pcm), spans)


def test_energy_vad_ignores_noise_only() -> None:
    vad = VAD(EnergyVAD(RATE, threshold_dbfs=-22.0))
    assert _events(vad, to_pcm(noise(RATE, 5.0, -30.0))) == []


def test_energy_vad_confidence_curve() -> None:
    a = EnergyVAD(8000, threshold_dbfs=-30.0, width_db=10.0)
    full = to_pcm(np.full(160, 32767.0))
    assert a.confidence(full) == 1.0 and a.confidence(bytes(320)) == 0.0
    at = to_pcm(np.full(160, 32768 * 10 ** (-30 / 20)))
    assert a.confidence(at) == pytest.approx(0.5, abs=0.01)


@cache
def _espeak(text: str) -> np.ndarray | None:
    """espeak-ng speech at 16 kHz (float samples), or None without espeakng-loader."""
    if not installed("espeakng_loader"):
        return None
    import espeakng_loader  # installed: an import error fails the test
    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
    )

    def on_audio(wav, n, _events) -> int:
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = callback_type(on_audio)
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(b"en-us+klatt4")
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 1, None, None)
    pcm = np.concatenate(chunks).astype("<i2").tobytes()
    out = np.frombuffer(resample(pcm, rate, RATE), "<i2").astype(float)
    nz = np.flatnonzero(np.abs(out) > 300)  # trim espeak's own leading/trailing silence
    out = out[nz[0] : nz[-1] + 1]
    return out * (10 ** (-12 / 20) * 32768 / np.sqrt(np.mean(out**2)))  # -12 dBFS RMS


def _speech_scene():
    a = _espeak("The quick brown fox jumps over the lazy dog.")
    b = _espeak("Please call me back tomorrow morning.")
    if a is None or b is None:
        pytest.skip("espeakng-loader is not installed")
    return _scene([a, b])


def test_webrtc_vad_finds_speech_in_noise() -> None:
    need("webrtcvad")
    from wavewire.audio.vad import WebRTCVAD

    pcm, spans = _speech_scene()
    vad = VAD(WebRTCVAD(RATE, mode=3), VADParams(stop_ms=800))
    _assert_segments(_events(vad, pcm, 960), spans)


def test_silero_vad_finds_speech_in_noise() -> None:
    need("onnxruntime")
    from wavewire.audio.vad import SileroVAD

    pcm, spans = _speech_scene()
    vad = VAD(SileroVAD(RATE))
    _assert_segments(_events(vad, pcm, 960), spans)
    assert _events(VAD(SileroVAD(RATE)), to_pcm(noise(RATE, 4.0, -30.0))) == []


def test_silero_sessions_share_the_model_but_not_state() -> None:
    need("onnxruntime")
    from wavewire.audio.vad import SileroVAD

    speech = _espeak("Hello there.")
    x = to_pcm(speech if speech is not None else voiced(RATE, 1.0))
    frames = [x[i : i + 1024] for i in range(0, len(x) - 1023, 1024)]
    a, b = SileroVAD(RATE), SileroVAD(RATE)
    assert a._session is b._session
    alone = [a.confidence(f) for f in frames]
    a.reset()
    mixed = []
    for f in frames:  # interleave a second session fed silence
        mixed.append(a.confidence(f))
        b.confidence(bytes(1024))
    assert mixed == pytest.approx(alone, abs=1e-6)
    assert max(alone) > 0.5  # the state really carries speech evidence


def test_silero_without_onnxruntime_raises_a_clear_error(monkeypatch) -> None:
    import wavewire.audio.vad.silero as silero

    monkeypatch.setattr(silero, "_session", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match="onnxruntime"):
        silero.SileroVAD(16000)


@pytest.mark.parametrize(("rate", "ms", "mode"), [(22050, 20, 3), (16000, 25, 3), (16000, 20, 4)])
def test_webrtc_bad_config(rate: int, ms: int, mode: int) -> None:
    need("webrtcvad")
    from wavewire.audio.vad import WebRTCVAD

    with pytest.raises(FrameFormatError):
        WebRTCVAD(rate, mode=mode, frame_ms=ms)


def test_silero_bad_rate() -> None:
    need("onnxruntime")
    from wavewire.audio.vad import SileroVAD

    with pytest.raises(FrameFormatError):
        SileroVAD(48000)

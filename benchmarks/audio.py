"""Audio toolkit benchmark: µs per 20 ms frame, wavewire beside pipecat-ai 1.14.

Run: ``python benchmarks/audio.py`` (``--smoke``: seconds, what the suite runs). Without pipecat-ai installed it prints wavewire's
figures only. Also prints the added delay of each stream resampler on 20 ms chunks
(worst backlog of input received but not yet returned, after the first chunk).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wavewire.audio.channels import convert_channels
from wavewire.audio.chunker import Chunker
from wavewire.audio.g711 import ulaw_decode, ulaw_encode
from wavewire.audio.resample import StreamResampler
from wavewire.audio.vad import VAD, EnergyVAD

N_FRAMES = 2000  # 40 s of audio per measurement


def _pcm(rate: int, channels: int = 1, seconds: float | None = None) -> bytes:
    if seconds is None:
        seconds = N_FRAMES * 0.02
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    x = 8000 * np.sin(2 * np.pi * 220 * t) + rng.normal(0, 500, len(t))
    return np.repeat(x[:, None], channels, axis=1).astype("<i2").tobytes()


def _frames(rate: int, channels: int = 1) -> list[bytes]:
    pcm = _pcm(rate, channels)
    size = rate // 50 * 2 * channels
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def _time_sync(fn: Callable[[bytes], Any], frames: list[bytes], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for f in frames:
            fn(f)
        best = min(best, (time.perf_counter() - t0) / len(frames))
    return best * 1e6


def _time_async(fn: Callable[[bytes], Any], frames: list[bytes], repeat: int = 3) -> float:
    async def run() -> float:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            for f in frames:
                await fn(f)
            best = min(best, (time.perf_counter() - t0) / len(frames))
        return best * 1e6

    return asyncio.run(run())


def _backlog_ms(process: Callable[[bytes], bytes], in_rate: int, out_rate: int) -> float:
    t_in = t_out = 0.0
    worst = 0.0
    for i, f in enumerate(_frames(in_rate)[:100]):
        t_in += len(f) / 2 / in_rate
        t_out += len(process(f)) / 2 / out_rate
        if i:
            worst = max(worst, t_in - t_out)
    return worst * 1000


def _pipecat() -> Any:
    try:
        logging.disable(logging.CRITICAL)
        from loguru import logger

        logger.remove()
        from pipecat.audio import utils
        from pipecat.audio.resamplers.soxr_stream_resampler import SOXRStreamAudioResampler
    except Exception:
        return None
    return utils, SOXRStreamAudioResampler


def _pipecat_resample(p: Any, src: int, dst: int, ch_in: int, ch_out: int) -> Any:
    """Pipecat's stream resampler is mono-only: downmix / duplicate around it with numpy."""

    async def run(f: bytes) -> bytes:
        if ch_in == 2:
            f = np.frombuffer(f, "<i2").reshape(-1, 2).mean(axis=1).astype("<i2").tobytes()
        y = await p.resample(f, src, dst)
        if ch_out == 2:
            y = np.repeat(np.frombuffer(y, "<i2"), 2).tobytes()
        return y

    return run


def main(argv: list[str] | None = None) -> None:
    global N_FRAMES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="seconds: 100 frames per measurement (checks it still runs)")
    if parser.parse_args(argv).smoke:
        N_FRAMES = 100
    warnings.simplefilter("ignore", DeprecationWarning)
    pc = _pipecat()
    rows: list[tuple[str, float, float | None]] = []

    def add(name: str, ours: float, theirs: float | None) -> None:
        rows.append((name, ours, theirs))

    for src, dst, ch_in, ch_out in [
        (48000, 16000, 2, 1),
        (16000, 48000, 1, 2),
        (8000, 16000, 1, 1),
        (16000, 8000, 1, 1),
    ]:
        frames = _frames(src, ch_in)
        r = StreamResampler(src, dst)

        if ch_in == 2:
            def ours(f: bytes, r: StreamResampler = r) -> bytes:
                return r.process(convert_channels(f, 2, 1))
        elif ch_out == 2:
            def ours(f: bytes, r: StreamResampler = r) -> bytes:
                return convert_channels(r.process(f), 1, 2)
        else:
            ours = r.process
        mine = _time_sync(ours, frames)
        theirs = None
        if pc is not None:
            theirs = _time_async(_pipecat_resample(pc[1](), src, dst, ch_in, ch_out), frames)
        chans = f"{'stereo' if ch_in == 2 else 'mono'}→{'stereo' if ch_out == 2 else 'mono'}"
        add(f"resample {src // 1000}k→{dst // 1000}k {chans}", mine, theirs)

    ulaw_frames = _frames(8000)
    codes = [ulaw_encode(f) for f in ulaw_frames]
    if pc is not None:
        utils, resampler_cls = pc
        same, up, down = resampler_cls(), resampler_cls(), resampler_cls()

        async def pc_enc(f: bytes) -> bytes:
            return await utils.pcm_to_ulaw(f, 8000, 8000, same)

        async def pc_dec(c: bytes) -> bytes:
            return await utils.ulaw_to_pcm(c, 8000, 8000, same)

        async def pc_dec_up(c: bytes) -> bytes:
            return await utils.ulaw_to_pcm(c, 8000, 16000, up)

        async def pc_enc_down(f: bytes) -> bytes:
            return await utils.pcm_to_ulaw(f, 16000, 8000, down)

    f16 = _frames(16000)
    r_up, r_dn = StreamResampler(8000, 16000), StreamResampler(16000, 8000)
    add("μ-law encode 8k", _time_sync(ulaw_encode, ulaw_frames),
        _time_async(pc_enc, ulaw_frames) if pc else None)
    add("μ-law decode 8k", _time_sync(ulaw_decode, codes),
        _time_async(pc_dec, codes) if pc else None)
    add("μ-law 8k → PCM 16k", _time_sync(lambda c: r_up.process(ulaw_decode(c)), codes),
        _time_async(pc_dec_up, codes) if pc else None)
    add("PCM 16k → μ-law 8k", _time_sync(lambda f: ulaw_encode(r_dn.process(f)), f16),
        _time_async(pc_enc_down, f16) if pc else None)

    chunker = Chunker(320)
    odd = [f[: 2 * 233] for f in f16]  # re-frame 233-sample pieces into 160-sample frames
    add("chunker (233 → 160 samples)", _time_sync(chunker.push, odd), None)

    vad_rows: list[tuple[str, Any]] = [("VAD energy 16k", EnergyVAD(16000))]
    try:
        from wavewire.audio.vad import WebRTCVAD

        vad_rows.append(("VAD webrtc 16k", WebRTCVAD(16000)))
    except ImportError:
        pass
    try:
        from wavewire.audio.vad import SileroVAD

        vad_rows.append(("VAD silero 16k", SileroVAD(16000)))
    except ImportError:
        pass
    for name, analyzer in vad_rows:
        vad = VAD(analyzer)
        add(name, _time_sync(vad.process, f16, repeat=1), None)
    if pc is not None:
        try:
            from pipecat.audio.vad.silero import SileroVADAnalyzer

            pv = SileroVADAnalyzer(sample_rate=16000)
            rows[-1] = (rows[-1][0], rows[-1][1],
                        _time_async(pv.analyze_audio, f16, repeat=1)) if vad_rows[-1][0].endswith(
                "silero 16k") else rows[-1]
        except Exception:
            pass

    print(f"{'per 20 ms frame':34} {'wavewire µs':>12} {'pipecat µs':>11} {'ratio':>7}")
    for name, mine, theirs in rows:
        t = f"{theirs:11.1f}" if theirs is not None else f"{'-':>11}"
        ratio = f"{mine / theirs:7.2f}" if theirs else f"{'-':>7}"
        print(f"{name:34} {mine:12.1f} {t} {ratio}")
    print("(ratio = wavewire / pipecat; below 1 is faster)")

    print(f"\n{'added delay on 20 ms chunks':34} {'wavewire ms':>12} {'pipecat ms':>11}")
    for src, dst in [(8000, 16000), (16000, 8000), (16000, 48000), (48000, 16000),
                     (24000, 16000)]:
        mine = _backlog_ms(StreamResampler(src, dst).process, src, dst)
        theirs_d: float | None = None
        if pc is not None:
            p = pc[1]()
            theirs_d = _backlog_ms(lambda f, p=p, s=src, d=dst: asyncio.run(p.resample(f, s, d)),
                                   src, dst)
        t = f"{theirs_d:11.1f}" if theirs_d is not None else f"{'-':>11}"
        print(f"{f'resample {src}→{dst}':34} {mine:12.2f} {t}")


if __name__ == "__main__":
    main()

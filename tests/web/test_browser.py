"""The browser page against the echo bot, in a real headless Chromium.

The microphone is a WAV file made here (band-limited noise bursts and a chirp, 3 s,
looped by Chromium). The page (``?selftest=1&autostart=1&aec=0``) keeps what its capture
worklet sent and what its playback worklet played, with their positions on the
AudioContext's clock; the test reads both back over DevTools and checks that

* the page connected (with the token from its query string), sent and received audio,
  and really played it (the playback worklet's output, not just the socket);
* what it played is what it sent, one round trip later: normalised cross-correlation
  > 0.5 at a lag under 500 ms;
* what it played is the WAV (correlation > 0.5 against the looped file).
"""

from __future__ import annotations

import asyncio
import base64
import wave
from pathlib import Path

import numpy as np
import pytest

from .cdp import CHROMIUM, Browser, launch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs a chromium on PATH (apt-get install -y chromium)",
    ),
]

WIRE = 16000
WAV_RATE = 48000
PERIOD_S = 3.0
TOKEN = "browser-test-token"


def make_microphone(path: Path) -> np.ndarray:
    """Write the test WAV (48 kHz mono s16); return it as float at the wire rate."""
    rng = np.random.default_rng(20240611)
    n = int(PERIOD_S * WAV_RATE)
    t = np.arange(n) / WAV_RATE
    # White noise band-limited to 300-3400 Hz (an FFT mask): a sharp correlation peak.
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / WAV_RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    noise = np.fft.irfft(spectrum, n)
    noise /= np.abs(noise).max()
    # Bursts of irregular length so the envelope alone also says where we are.
    envelope = np.zeros(n)
    at = 0.0
    while at < PERIOD_S - 0.4:
        on = rng.uniform(0.08, 0.3)
        off = rng.uniform(0.03, 0.15)
        a, b = int(at * WAV_RATE), int(min(at + on, PERIOD_S - 0.4) * WAV_RATE)
        envelope[a:b] = rng.uniform(0.4, 1.0)
        at += on + off
    envelope = np.convolve(envelope, np.hanning(480) / np.hanning(480).sum(), "same")
    signal = 0.5 * noise * envelope
    # A 400 ms chirp at the end of each period, 200 Hz -> 4 kHz.
    c0 = int((PERIOD_S - 0.4) * WAV_RATE)
    tc = t[c0:] - t[c0]
    signal[c0:] = 0.4 * np.sin(2 * np.pi * (200 * tc + (3800 / 0.8) * tc**2)) * np.hanning(n - c0)
    pcm = np.round(signal * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(WAV_RATE)
        w.writeframes(pcm.tobytes())
    import soxr

    return soxr.resample(pcm.astype(np.float64) / 32768, WAV_RATE, WIRE)


def ncc_scan(template: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of ``template`` at every offset inside ``signal``."""
    m, n = len(template), len(signal)
    size = 1 << int(np.ceil(np.log2(n + m)))
    num = np.fft.irfft(np.fft.rfft(signal, size) * np.conj(np.fft.rfft(template, size)), size)
    num = num[: n - m + 1]
    energy = np.concatenate([[0.0], np.cumsum(signal.astype(np.float64) ** 2)])
    window = energy[m:] - energy[:-m]
    denom = np.sqrt(np.maximum(window, 1e-12) * float(np.dot(template, template)))
    return num / denom


def decode(side: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(side["pcm"]), "<i2").astype(np.float64) / 32768


def db(x: np.ndarray) -> float:
    return 20 * np.log10(max(float(np.sqrt(np.mean(x**2))), 1e-9))


def chatty_echo_bot(info: object = None) -> list:
    """The echo bot, plus two text messages when the first audio arrives."""
    from wavewire.bots.echo import echo_bot
    from wavewire.frames import InputAudioFrame, OutputTransportMessageFrame
    from wavewire.processors.base import DOWNSTREAM, FrameProcessor

    class Greeter(FrameProcessor):
        greeted = False

        async def process_frame(self, frame, direction):  # type: ignore[no-untyped-def]
            if not self.greeted and isinstance(frame, InputAudioFrame):
                self.greeted = True
                for message in (
                    {
                        "type": "transcript",
                        "role": "bot",
                        "text": "hello from the bot",
                        "final": True,
                    },
                    {"type": "note", "detail": "not a transcript"},
                ):
                    await self.push(OutputTransportMessageFrame(message=message), DOWNSTREAM)
            await self.push(frame, direction)

    return [Greeter(name="greeter"), *echo_bot(info)]


async def wait_for_playback(browser: Browser, seconds: float, deadline: float) -> dict:
    loop = asyncio.get_running_loop()
    status: dict = {}
    while loop.time() < deadline:
        status = await browser.evaluate("window.wavewire && window.wavewire.status()") or {}
        if status.get("player", {}).get("playedMs", 0) >= seconds * 1000:
            return status
        await asyncio.sleep(0.25)
    raise AssertionError(f"no {seconds} s of playback in time; last status {status}")


async def test_page_echo_roundtrip(tmp_path: Path) -> None:
    from wavewire.transports.auth import token_auth
    from wavewire.transports.server import WebSocketServer

    reference = make_microphone(tmp_path / "mic.wav")
    server = WebSocketServer(chatty_echo_bot, host="127.0.0.1", port=0, auth=token_auth(TOKEN))
    await server.start()
    browser: Browser | None = None
    try:
        url = f"http://127.0.0.1:{server.port}/?selftest=1&autostart=1&aec=0&token={TOKEN}"
        async with asyncio.timeout(60):
            browser = await launch(url, tmp_path / "mic.wav")
            deadline = asyncio.get_running_loop().time() + 30
            status = await wait_for_playback(browser, 7.0, deadline)
            dump = await browser.evaluate("wavewire.dump()")
            texts = await browser.evaluate(
                "({transcript: document.getElementById('transcript').innerText,"
                " log: document.getElementById('log').innerText})"
            )
    except BaseException:
        if browser is not None:
            print("page console:\n" + "\n".join(browser.console))
        raise
    finally:
        if browser is not None:
            await browser.close()
        await server.close()

    report = {k: v for k, v in status.items() if k != "player"}
    print("page status:", report, "player:", status["player"])
    assert status["state"] == "connected", status
    assert status["audio"] == "running", status
    assert status["sentFrames"] > 200 and status["droppedFrames"] == 0, status
    assert status["receivedBytes"] > 200 * 640, status

    import soxr

    ctx_rate = dump["contextRate"]
    mic = decode(dump["mic"])
    play = soxr.resample(decode(dump["play"]), ctx_rate, WIRE)
    # Put the playback on the microphone's timeline (both started on the context clock).
    offset = round((dump["play"]["startFrame"] - dump["mic"]["startFrame"]) * WIRE / ctx_rate)
    if offset >= 0:
        play = np.concatenate([np.zeros(offset), play])
    else:
        play = play[-offset:]
    assert len(mic) >= 5 * WIRE and len(play) >= 6 * WIRE, (len(mic), len(play))

    # Playback really happened: the played signal is loud, the mic was too.
    start, length = 2 * WIRE, 2 * WIRE
    print(
        f"levels: mic {db(mic[start : start + length]):.1f} dBFS,"
        f" played {db(play[start : start + length]):.1f} dBFS"
    )
    assert db(mic[start : start + length]) > -30
    assert db(play[start + WIRE // 2 : start + length]) > -30

    # Played = sent, one round trip later.
    template = mic[start : start + length]
    scan = ncc_scan(template, play[start : start + length + WIRE])
    lag = int(np.argmax(scan))
    print(f"mic -> playback: peak ncc {scan[lag]:.3f} at lag {lag / WIRE * 1000:.1f} ms")
    assert scan[lag] > 0.5
    assert lag < 0.5 * WIRE

    # Played = the WAV. Chromium loops the file with a few ms of slack per period, so
    # compare 1 s windows (one period searched each) rather than one long stretch.
    looped = np.tile(reference, 3)
    peaks = []
    for at in np.arange(2.0, 6.01, 0.5):
        window = play[int(at * WIRE) : int((at + 1) * WIRE)]
        peaks.append(float(ncc_scan(window, looped[: len(reference) + len(window)]).max()))
    print("WAV -> playback: peak ncc per 1 s window", [round(p, 3) for p in peaks])
    assert np.median(peaks) > 0.5

    # Text messages: a transcript shows in the conversation, anything else in the log.
    assert "hello from the bot" in texts["transcript"], texts
    assert '"type":"note"' in texts["log"].replace(" ", ""), texts

"""Pipecat's own browser SDKs against ``wavewire serve``, in a real headless Chromium.

``examples/pipecat-client`` (``@pipecat-ai/client-js`` + ``@pipecat-ai/websocket-transport``,
unchanged, bundled by its ``build.sh``) is served by ``wavewire serve --static DIR`` and
opened in Chromium with a WAV as the microphone (DESIGN §10). The page connects to
``/pipecat`` on its own host; the test reads what client-js reported through its
callbacks (``window.pipecatDemo.status()``) over DevTools:

* every bot: the transport reaches ``ready``, ``onBotReady`` fires with the server's
  RTVI version, the bot's audio is played (counted by a meter inside the page's
  AudioContext, i.e. what was rendered, not just received), and no error is reported;
* the echo bot (through the real ``wavewire serve --static``): the echo is played at
  the pitch it was spoken (the transport's player ignores the frame's rate);
* a scripted bot with ``RTVIProcessor`` (in-process server): the user transcript,
  speaking events and word-by-word ``bot-output`` reach client-js's callbacks, and a
  barge-in stops the audio in the page although the transport never flushes its player;
* the default bot, the offline assistant: the user's transcript (``onUserTranscript``),
  the bot's answer (``onBotOutput``) and the speaking events arrive, and its audio plays.

Node/npm and Chromium are required: without them the tests fail with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .cdp import CHROMIUM, Browser, launch

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipecat-client"


def _default_bot() -> str:
    from wavewire.cli import build_parser

    return str(build_parser().parse_args(["serve"]).bot)




def _require_tools() -> None:
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: apt-get install -y nodejs npm")
    if CHROMIUM is None:
        pytest.fail("no chromium on PATH: apt-get install -y chromium")


@pytest.fixture(scope="module")
def built_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example built into a temporary directory (node_modules cached by build.sh)."""
    _require_tools()
    out = tmp_path_factory.mktemp("pipecat-client")
    proc = subprocess.run(
        ["bash", str(EXAMPLE / "build.sh"), str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"examples/pipecat-client/build.sh failed ({proc.returncode}):\n"
                    f"{proc.stdout}\n{proc.stderr}")
    assert (out / "app.js").stat().st_size > 10_000 and (out / "index.html").is_file()
    return out


def tone_bursts(path: Path, rate: int = 48000, seconds: float = 2.0) -> None:
    """A WAV of 300 ms tone bursts, 500 and 700 Hz in turn, with 200 ms gaps, as the
    microphone."""
    t = np.arange(int(rate * seconds)) / rate
    on = (t % 0.5) < 0.3
    freq = 500 + 200 * ((t // 0.5) % 2)
    pcm = np.round(0.4 * 32767 * np.sin(2 * np.pi * freq * t) * on).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def speech_wav(path: Path, text: str, rate: int = 48000) -> None:
    """A WAV of espeak-ng saying ``text`` between 1 s and 4 s of silence (Chromium
    loops the file: the question comes again after the answer)."""
    from wavewire.services.espeak_engine import EspeakEngine

    pcm = EspeakEngine.shared().synthesize(text, out_rate=rate).pcm
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0" * 2 * rate + pcm + b"\0" * 8 * rate)


class Served:
    """``wavewire serve`` in a subprocess on an ephemeral port, stderr collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.port = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, *args: str) -> Served:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        env.pop("WAVEWIRE_TOKEN", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wavewire", "serve", "--port", "0", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env,
        )
        served = cls(proc)
        try:
            async with asyncio.timeout(60):
                assert proc.stderr is not None
                while not served.port:
                    line = (await proc.stderr.readline()).decode(errors="replace")
                    if not line:
                        raise AssertionError("wavewire serve exited:\n" + "".join(served.lines))
                    served.lines.append(line)
                    m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
                    if m:
                        served.port = int(m.group(1))
        except BaseException:
            await served.stop()
            raise
        served._reader = asyncio.create_task(served._drain())
        return served

    async def _drain(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode(errors="replace"))

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def run_page(
    dist: Path, microphone: Path, done: Any, *serve_args: str, seconds: float = 45
) -> dict[str, Any]:
    """Serve ``dist``, open the page with ``microphone``, poll the page's status until
    ``done(status)`` (or the deadline: then the last status is returned)."""
    served = await Served.start("--static", str(dist), *serve_args)
    browser: Browser | None = None
    status: dict[str, Any] = {}
    try:
        url = f"http://127.0.0.1:{served.port}/?autostart=1"
        async with asyncio.timeout(seconds + 30):
            browser = await launch(url, microphone)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while loop.time() < deadline:
                status = await browser.evaluate(
                    "window.pipecatDemo && window.pipecatDemo.status()") or {}
                if done(status):
                    break
                await asyncio.sleep(0.25)
    except BaseException:
        if browser is not None:
            print("page console:\n" + "\n".join(browser.console))
        print("server:\n" + "".join(served.lines))
        raise
    finally:
        if browser is not None:
            console = browser.console
            await browser.close()
            print("page console:\n" + "\n".join(console[-40:]))
        await served.stop()
    summary = {k: v for k, v in status.items() if k not in ("meters",)}
    print("page status:", summary)
    return status


def check_common(status: dict[str, Any], min_played_s: float) -> None:
    assert status, "the page never reported a status"
    assert status.get("state") == "ready", status.get("transportStates")
    ready = status.get("botReady")
    assert ready is not None, "onBotReady never fired"
    assert str(ready.get("version", "")).startswith("2."), ready
    assert ready.get("about", {}).get("library") == "wavewire", ready
    assert status["events"].get("botReady") == 1
    assert not status["errors"], status["errors"]
    # The bot's audio went through the transport's player into the speakers.
    assert status["receivedSamples"] > 0, "no bot audio reached the player"
    assert status["playedSeconds"] >= min_played_s, status["meters"]


async def test_pipecat_client_js_with_the_echo_bot(built_example: Path, tmp_path: Path) -> None:
    """client-js + websocket-transport against ``wavewire serve --bot echo``: bot-ready
    through RTVI inside protobuf message frames, microphone in at 16 kHz, the echo
    played back at the 24 kHz the transport plays."""
    tone_bursts(tmp_path / "mic.wav")
    status = await run_page(
        built_example, tmp_path / "mic.wav",
        lambda s: bool(s.get("botReady")) and s.get("playedSeconds", 0) >= 3.0,
        "--bot", "echo",
    )
    check_common(status, 3.0)
    player = [m for m in status["meters"] if m["audible"] > 0]
    assert [m["sampleRate"] for m in player] == [24000], status["meters"]
    # 60 % of the microphone is tone, half of it at 500 Hz and half at 700 Hz: what the
    # page rendered is the echo of it, at the right pitch (audio sent at another rate
    # than the player's would come out 1.5x higher or lower: 900 or 400 Hz on average).
    m = player[0]
    pitch = m["crossings"] / 2 / (m["audible"] / m["sampleRate"])
    print(f"played: {m['audible'] / m['sampleRate']:.2f} s audible in"
          f" {m['active'] / m['sampleRate']:.2f} s, mean pitch {pitch:.0f} Hz")
    assert 0.35 < m["audible"] / m["active"] < 0.8, m
    assert 520 < pitch < 700, m


WORDS = ("one", "two", "three", "four", "five", "six")
SPEECH_S = 3.0
INTERRUPT_AFTER_S = 1.0


def scripted_bot(report: dict[str, float]) -> Any:
    """A bot that, when the microphone's first audio arrives, reports a user transcript
    and speaks six timed words over a 3 s tone (each word then its audio, all pushed at
    once, as a fast TTS does), then interrupts itself 1 s in; RTVIProcessor turns it all
    into RTVI messages."""
    from wavewire.frames import (
        InputAudioFrame,
        OutputAudioFrame,
        TranscriptionFrame,
        TTSStartedFrame,
        TTSStoppedFrame,
        TTSTextFrame,
    )
    from wavewire.processors.base import DOWNSTREAM, FrameProcessor
    from wavewire.processors.rtvi import RTVIProcessor

    rate = 16000
    t = np.arange(int(rate * SPEECH_S)) / rate
    tone = np.round(0.3 * 32767 * np.sin(2 * np.pi * 600 * t)).astype("<i2").tobytes()
    step = SPEECH_S / len(WORDS)

    class Speaker(FrameProcessor):
        started = False

        async def process_frame(self, frame: Any, direction: Any) -> None:
            await self.push(frame, direction)
            if self.started or not isinstance(frame, InputAudioFrame):
                return
            self.started = True
            await self.push(TranscriptionFrame("hello bot", user_id="user", timestamp=""),
                            DOWNSTREAM)
            await self.push(TTSStartedFrame(), DOWNSTREAM)
            report["spoke"] = asyncio.get_running_loop().time()
            size = len(tone) // len(WORDS)
            for i, word in enumerate(WORDS):  # each word, then its audio (as a TTS does)
                await self.push(TTSTextFrame(word, start_s=i * step, end_s=(i + 1) * step),
                                DOWNSTREAM)
                await self.push(OutputAudioFrame(tone[i * size : (i + 1) * size], rate, 1),
                                DOWNSTREAM)
            await self.push(TTSStoppedFrame(), DOWNSTREAM)
            self.create_task(self._barge_in(), "barge-in")

        async def _barge_in(self) -> None:
            await asyncio.sleep(INTERRUPT_AFTER_S)
            report["interrupted_after"] = asyncio.get_running_loop().time() - report["spoke"]
            await self.interrupt()

    def factory(info: object = None) -> list[Any]:
        return [Speaker(name="speaker"), RTVIProcessor(name="rtvi")]

    return factory


async def test_pipecat_client_js_rtvi_events_and_barge_in(
    built_example: Path, tmp_path: Path
) -> None:
    """RTVI events from a bot's RTVIProcessor reach client-js's callbacks through
    protobuf message frames, and an interruption stops the bot's audio in the page even
    though the 1.7 transport never flushes its player: the page plays only what was
    sent before the interruption (real-time pacing), and no word after it."""
    from wavewire.transports.server import WebSocketServer

    tone_bursts(tmp_path / "mic.wav")
    report: dict[str, float] = {}
    server = WebSocketServer(scripted_bot(report), host="127.0.0.1", port=0,
                             web_dir=built_example)
    await server.start()
    browser: Browser | None = None
    status: dict[str, Any] = {}
    try:
        async with asyncio.timeout(90):
            browser = await launch(f"http://127.0.0.1:{server.port}/?autostart=1",
                                   tmp_path / "mic.wav")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 45
            last = -1.0
            while loop.time() < deadline:
                status = await browser.evaluate(
                    "window.pipecatDemo && window.pipecatDemo.status()") or {}
                stopped = status.get("events", {}).get("botStoppedSpeaking", 0)
                played = status.get("playedSeconds", 0.0)
                # all audio is in before bot-stopped-speaking (same socket, in order);
                # then wait for the meter to settle (it reports every ~210 ms)
                if stopped and played == last and played > 0:
                    break
                last = played
                await asyncio.sleep(0.5)
    except BaseException:
        if browser is not None:
            print("page console:\n" + "\n".join(browser.console))
        raise
    finally:
        if browser is not None:
            await browser.close()
        await server.close()
    print("page status:", {k: v for k, v in status.items() if k != "meters"})
    print("server:", report)

    assert status.get("botReady") is not None and not status["errors"], status
    events = status["events"]
    assert events.get("botStartedSpeaking") == 1 and events.get("botStoppedSpeaking") == 1
    assert [t["text"] for t in status["userTranscripts"]] == ["hello bot"]
    assert status["userTranscripts"][0]["final"] is True
    words = [o["text"] for o in status["botOutputs"] if o.get("spoken_status") == "in-progress"]
    assert words and words == list(WORDS[: len(words)]), status["botOutputs"]
    # words due after the interruption never reach the page (dropped with their audio),
    # and the completed bot-output holds only what was heard: the words sent, perhaps
    # without the one cut in the middle
    due = int(report["interrupted_after"] / (SPEECH_S / len(WORDS))) + 1
    assert len(words) <= due, words
    done = [o["text"] for o in status["botOutputs"] if o.get("spoken_status") == "completed"]
    assert len(done) == 1, status["botOutputs"]
    heard = done[0].split()
    assert heard == words[: len(heard)] and len(heard) >= len(words) - 1, (heard, words)
    # the page got and played about what was due before the interruption, not the 3 s
    cut = report["interrupted_after"]
    received = status["receivedSamples"] / 24000
    print(f"interrupted after {cut:.3f} s; page received {received:.3f} s,"
          f" played {status['playedSeconds']:.3f} s")
    # (a lower bound would depend on the loop's timing: a stall delays the paced audio
    # and the timer alike, and the timer may win)
    assert 0.2 < received < cut + 0.1, (received, cut)
    assert received - 0.1 < status["playedSeconds"] <= received + 0.01


async def test_pipecat_client_js_with_the_default_bot(built_example: Path, tmp_path: Path) -> None:
    """client-js against ``wavewire serve`` with its default bot, the offline assistant:
    the user's words come back as ``onUserTranscript``, the answer as ``onBotOutput``
    and speaking events, and its audio is played."""
    assert _default_bot() == "assistant"
    speech_wav(tmp_path / "mic.wav", "what time is it")
    status = await run_page(
        built_example, tmp_path / "mic.wav",
        lambda s: any(o.get("spoken_status") == "completed" for o in s.get("botOutputs", []))
        and s.get("playedSeconds", 0) >= 1.0,
        seconds=60,
    )
    check_common(status, 1.0)
    finals = [t["text"] for t in status["userTranscripts"] if t.get("final")]
    assert any("time" in t.lower() for t in finals), status["userTranscripts"]
    spoken = " ".join(o["text"] for o in status["botOutputs"])
    assert re.search(r"\d", spoken), status["botOutputs"]
    for event in ("userStartedSpeaking", "userStoppedSpeaking",
                  "botStartedSpeaking", "botStoppedSpeaking"):
        assert status["events"].get(event, 0) >= 1, (event, status["events"])

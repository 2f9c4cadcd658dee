"""The page against ``wavewire serve`` (the offline assistant), in a real headless Chromium
whose microphone is an espeak-ng WAV of "What time is it?" (DESIGN §10): the page shows
the user's transcript and the bot's reply, the reply's audio is played, its text holds
the time; the greeting the question cut short shows only what was played; the mute
button stops the microphone; a screenshot at a phone's size is taken and checked."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import sys
import time
import wave
from pathlib import Path

import pytest

from .cdp import CHROMIUM, Browser, launch

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None,
                       reason="needs a chromium on PATH (apt-get install -y chromium)"),
]
pytest.importorskip("pocketsphinx")
pytest.importorskip("espeakng_loader")

RATE = 48000
PHONE = (390, 844)  # CSS pixels of a common phone


async def make_microphone(path: Path) -> None:
    """3 s of silence, "What time is it?", then 40 s of silence (Chromium loops the file:
    the question is asked once in the test's time)."""
    from wavewire.services.espeak_engine import DEFAULT_VOICE, EspeakEngine

    synthesis = await EspeakEngine.shared().run("What time is it?", voice=DEFAULT_VOICE,
                                                out_rate=RATE)
    pcm = bytes(3 * RATE * 2) + bytes(synthesis.pcm) + bytes(40 * RATE * 2)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)


async def serve() -> tuple[asyncio.subprocess.Process, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = os.getcwd()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "serve", "--port", "0",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env)
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while True:
            line = (await proc.stderr.readline()).decode()
            assert line, "wavewire serve exited"
            page = re.search(r"open http://127\.0\.0\.1:(\d+)/ in a browser", line)
            if page:
                return proc, int(page.group(1))


async def until(browser: Browser, expression: str, deadline: float) -> object:
    loop = asyncio.get_running_loop()
    value: object = None
    while loop.time() < deadline:
        value = await browser.evaluate(expression)
        if value:
            return value
        await asyncio.sleep(0.2)
    status = await browser.evaluate("window.wavewire && window.wavewire.status()")
    raise AssertionError(f"not in time: {expression}; status {status}")


def times_near(now: float) -> set[str]:
    from datetime import datetime, timedelta

    out = set()
    for delta in (-1, 0, 1):
        t = datetime.fromtimestamp(now) + timedelta(minutes=delta)
        out.add(f"{t.hour % 12 or 12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}")
    return out


async def test_the_page_asks_the_assistant_the_time(tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    await make_microphone(tmp_path / "mic.wav")
    proc, port = await serve()
    browser: Browser | None = None
    try:
        async with asyncio.timeout(90):
            asked_at = time.time()
            browser = await launch(f"http://127.0.0.1:{port}/?selftest=1&autostart=1&aec=0",
                                   tmp_path / "mic.wav")
            await browser.send("Emulation.setDeviceMetricsOverride", {
                "width": PHONE[0], "height": PHONE[1], "deviceScaleFactor": 1,
                "mobile": True}, session=True)
            deadline = asyncio.get_running_loop().time() + 60
            reply = await until(browser, """(() => {
                const s = window.wavewire && window.wavewire.status();
                const user = s && s.transcript.find(t => t.role === 'user' && t.final);
                const bot = user && s.transcript.slice(s.transcript.indexOf(user))
                    .find(t => t.role === 'bot' && t.final);
                return bot ? {user: user.text, bot: bot.text, played: s.player.playedMs} : null;
            })()""", deadline)
            assert isinstance(reply, dict)
            # The reply's audio plays: a second more of the bot's audio comes out of the
            # playback worklet, and the bot goes back to listening.
            await until(browser, f"""(() => {{ const s = wavewire.status();
                return s.player.playedMs > {reply['played']} + 1000
                    && s.botState === 'listening'; }})()""", deadline)
            status = await browser.evaluate("wavewire.status()")
            # Mute: the microphone's frames stop going to the server.
            muted = await browser.evaluate("""(async () => {
                document.getElementById('mute').click();
                const before = wavewire.status().sentFrames;
                await new Promise(r => setTimeout(r, 500));
                const s = wavewire.status();
                return {muted: s.muted, before, after: s.sentFrames};
            })()""")
            layout = await browser.evaluate(
                "({width: document.documentElement.scrollWidth, inner: innerWidth,"
                " text: document.getElementById('transcript').innerText,"
                " latency: document.getElementById('latency').innerText})")
            png = await browser.screenshot()
    except BaseException:
        if browser is not None:
            print("page console:\n" + "\n".join(browser.console))
        raise
    finally:
        if browser is not None:
            await browser.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()

    (tmp_path / "page.png").write_bytes(png)
    assert reply["user"] == "what time is it"
    spoken = re.fullmatch(r"It's (\d{1,2}:\d\d [AP]M)\.", reply["bot"])
    assert spoken and spoken.group(1) in times_near(asked_at), reply
    assert "what time is it" in layout["text"] and reply["bot"] in layout["text"]
    # The question came 3 s into the greeting: the page shows only what was played of it.
    from wavewire.services.local_brain import GREETING

    greeting = next(t for t in status["transcript"] if t["role"] == "bot")
    assert greeting.get("interrupted") and greeting["text"].endswith(" —"), greeting
    assert GREETING.startswith(greeting["text"][:-2]) and greeting["text"].startswith("Hello!")
    assert muted["muted"] and muted["after"] == muted["before"], muted
    assert status["latencies"] and all(0 < ms < 5000 for ms in status["latencies"]), status
    assert re.search(r"\d+ ms", layout["latency"])
    # Phone-sized: nothing wider than the screen, and the screenshot is that size and
    # not blank (the page's colours, its text).
    assert layout["width"] <= layout["inner"] == PHONE[0], layout
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == PHONE
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
    assert max(ImageStat.Stat(image).stddev) > 20

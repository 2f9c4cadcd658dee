"""A headless Chromium for tests, driven over the DevTools protocol (no browser driver).

:func:`launch` starts the ``chromium`` on ``PATH`` (Debian's in CI) with a WAV file as
its microphone (flags of DESIGN §10), a fresh profile, the network limited to 127.0.0.1
and the DevTools endpoint on an ephemeral loopback port. :class:`Browser` attaches to the page and evaluates
JavaScript in it (``evaluate``), keeping the page's console output for failure reports.
Everything has a deadline; :meth:`Browser.close` always kills the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

_FOUND = shutil.which("chromium")
CHROMIUM: Path | None = Path(_FOUND) if _FOUND else None
"""The ``chromium`` on ``PATH`` (what CI installs: Debian's, or any other), or None."""

BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def flags(profile: Path, microphone: Path | None = None) -> list[str]:
    """Chromium's command-line flags for a test run with ``microphone`` as the mic."""
    out = [*BASE_FLAGS, f"--user-data-dir={profile}"]
    if microphone is not None:
        out.append(f"--use-file-for-fake-audio-capture={microphone.resolve()}")
    return out


class CDPError(RuntimeError):
    """The browser answered a command with an error."""


class Browser:
    """One Chromium process and a DevTools session attached to its first page."""

    def __init__(self, proc: asyncio.subprocess.Process, profile: Path) -> None:
        self.proc = proc
        self.profile = profile
        self.console: list[str] = []
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._session: str | None = None

    async def _attach(self, url_prefix: str, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            port_file = self.profile / "DevToolsActivePort"
            while not port_file.exists() or len(port_file.read_text().split()) < 2:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"chromium exited with {self.proc.returncode}")
                await asyncio.sleep(0.05)
            port, path = port_file.read_text().split()[:2]
            self._ws = await connect(
                f"ws://127.0.0.1:{port}{path}", max_size=None, ping_interval=None
            )
            self._reader = asyncio.create_task(self._read(), name="cdp-reader")
            while True:
                targets = (await self.send("Target.getTargets"))["targetInfos"]
                pages = [
                    t for t in targets if t["type"] == "page" and t["url"].startswith(url_prefix)
                ]
                if pages:
                    break
                await asyncio.sleep(0.05)
            attached = await self.send(
                "Target.attachToTarget", {"targetId": pages[0]["targetId"], "flatten": True}
            )
            self._session = attached["sessionId"]
            await self.send("Runtime.enable", session=True)

    async def _read(self) -> None:
        assert self._ws is not None
        with contextlib.suppress(Exception):
            async for raw in self._ws:
                msg = json.loads(raw)
                fut = self._waiting.pop(msg.get("id", -1), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
                elif msg.get("method") == "Runtime.consoleAPICalled":
                    args = msg["params"].get("args", [])
                    self.console.append(
                        " ".join(str(a.get("value", a.get("description", ""))) for a in args)
                    )
                elif msg.get("method") == "Runtime.exceptionThrown":
                    details = msg["params"]["exceptionDetails"]
                    exc = details.get("exception", {}).get("description") or details.get("text")
                    self.console.append(f"exception: {exc}")
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(CDPError("DevTools connection closed"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        """Run one DevTools command; its ``result``."""
        assert self._ws is not None
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = fut
        await self._ws.send(json.dumps(msg))
        reply = await fut
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its JSON value."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        """A PNG of the page."""
        import base64

        shot = await self.send("Page.captureScreenshot", {"format": "png"}, session=True)
        return base64.b64decode(shot["data"])

    async def close(self) -> None:
        """Kill Chromium (always), stop reading, remove the profile."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 1.0)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        # Chromium's helpers (zygote, renderer, audio) share its process group: kill all.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10.0)
        shutil.rmtree(self.profile, ignore_errors=True)


async def launch(url: str, microphone: Path | None = None, timeout: float = 20.0) -> Browser:
    """Start Chromium on ``url`` and attach to that page (within ``timeout`` seconds)."""
    if CHROMIUM is None:
        raise FileNotFoundError("no chromium on PATH")
    profile = Path(tempfile.mkdtemp(prefix="wavewire-chromium-"))
    proc = await asyncio.create_subprocess_exec(
        str(CHROMIUM),
        *flags(profile, microphone),
        "--remote-debugging-port=0",
        "--window-size=900,1000",
        url,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    browser = Browser(proc, profile)
    try:
        await browser._attach(url.split("?")[0], timeout)
    except BaseException:
        await browser.close()
        raise
    return browser

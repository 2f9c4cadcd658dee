"""``wavewire serve`` / ``connect`` in subprocesses: start on an ephemeral port, GET
/healthz, echo over /ws, SIGTERM, exit 0 within a deadline; ``--workers``; help text."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from ._http import http_request
from ._optional import need

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"serving on https?://([\d.]+):(\d+)")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("WAVEWIRE_TOKEN", None)
    return env


# Runs the CLI after wrapping asyncio.Runner.run (which asyncio.run and, on Python 3.11+,
# uvloop.run both use) so the process says which event loop class it really runs on.
LOOP_PROBE = """
import asyncio, sys
_run = asyncio.Runner.run
def run(self, coro, **kw):
    loop = self.get_loop()
    sys.stderr.write(f"loop-probe: {type(loop).__module__}.{type(loop).__name__}\\n")
    sys.stderr.flush()
    return _run(self, coro, **kw)
asyncio.Runner.run = run
from wavewire.cli import main
sys.exit(main(sys.argv[1:]))
"""


async def _start(*args: str, env: dict[str, str] | None = None,
                 lines: list[str] | None = None, probe: bool = False):
    program = ["-c", LOOP_PROBE] if probe else ["-m", "wavewire"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *program, *args,
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=env or _env(),
    )
    assert proc.stderr is not None
    lines = [] if lines is None else lines
    async with asyncio.timeout(30):
        while True:
            line = (await proc.stderr.readline()).decode()
            if not line:
                raise AssertionError(f"server exited early: {''.join(lines)}")
            lines.append(line)
            m = SERVING.search(line)
            if m:
                return proc, int(m.group(2))


async def _get(port: int, path: str) -> tuple[int, bytes]:
    status, _, body = await http_request("127.0.0.1", port, path)
    return status, body


async def _stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        return await proc.wait()


async def _echo(port: int, suffix: str = "", **kw) -> bytes:
    audio = bytes(range(256)) * 5  # 1280 bytes = 40 ms at 16 kHz mono
    async with connect(f"ws://127.0.0.1:{port}/ws{suffix}", proxy=None, **kw) as ws:
        await ws.send(audio)
        got = b""
        async with asyncio.timeout(10):
            while len(got) < len(audio):
                got += await ws.recv()
    assert got == audio
    return got


async def test_serve_smoke_healthz_echo_sigterm():
    proc, port = await _start("serve", "--bot", "echo", "--port", "0")
    try:
        status, body = await _get(port, "/healthz")
        assert status == 200 and json.loads(body)["ok"] is True
        await _echo(port)
        status, body = await _get(port, "/metrics")
        assert b"wavewire_sessions_total 1" in body
    finally:
        code = await _stop(proc)
    assert code == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_serve_on_either_event_loop(loop: str):
    if loop == "uvloop":
        need("uvloop")
    lines: list[str] = []
    proc, port = await _start("serve", "--bot", "echo", "--port", "0", "--loop", loop, lines=lines, probe=True)
    probes = [line.split()[-1] for line in lines if line.startswith("loop-probe: ")]
    assert probes == [{"asyncio": "asyncio.unix_events._UnixSelectorEventLoop",
                       "uvloop": "uvloop.Loop"}[loop]], lines
    try:
        for _ in range(3):  # sequential sessions, each a full echo
            await _echo(port)
        status, body = await _get(port, "/metrics")
        assert status == 200
        assert b"wavewire_sessions_total 3" in body
    finally:
        code = await _stop(proc)
    assert code == 0


async def test_serve_with_token_and_a_live_session_during_sigterm():
    env = _env()
    env["WAVEWIRE_TOKEN"] = "tok-123"  # from the environment: not on the command line
    proc, port = await _start("serve", "--bot", "echo", "--port", "0", "--max-sessions", "5", env=env)
    try:
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        with pytest.raises(InvalidStatus):
            await _echo(port)
        await _echo(port, "?token=tok-123")
        await _echo(port, additional_headers={"Authorization": "Bearer tok-123"})
        ws = await connect(f"ws://127.0.0.1:{port}/ws?token=tok-123", proxy=None)
        await ws.send(b"\x00\x00" * 320)
        await ws.recv()
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(20):
                while True:
                    await ws.recv()
        assert ws.close_code == 1001  # drained: "going away"
    finally:
        if proc.returncode is None:
            async with asyncio.timeout(30):
                code = await proc.wait()
    assert code == 0


@pytest.mark.skipif(not hasattr(__import__("socket"), "SO_REUSEPORT"), reason="no SO_REUSEPORT")
async def test_serve_workers_share_one_port():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "serve", "--bot", "echo", "--port", "0", "--workers", "2",
        stderr=asyncio.subprocess.PIPE, env=_env(),
    )
    assert proc.stderr is not None
    ports: list[int] = []
    try:
        async with asyncio.timeout(60):
            while len(ports) < 2:  # each worker says where it serves
                line = (await proc.stderr.readline()).decode()
                assert line, "workers exited early"
                ports += [int(port) for _, port in SERVING.findall(line)]
        assert ports[0] == ports[1]
        port = ports[0]
        for _ in range(4):
            await _echo(port)
    finally:
        code = await _stop(proc)
    assert code == 0


async def test_connect_runs_a_bot_against_a_server():
    proc, port = await _start("serve", "--bot", "echo", "--port", "0")
    try:
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wavewire", "connect", "--protocol", "raw",
            "--url", f"ws://127.0.0.1:{port}/ws", "--bot", "echo",
            stderr=asyncio.subprocess.PIPE, env=_env(),
        )
        async with asyncio.timeout(30):
            while True:  # the client's session shows up on the server
                _, body = await _get(port, "/healthz")
                if json.loads(body)["sessions"] == 1:
                    break
                await asyncio.sleep(0.05)
        client.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            _, err = await client.communicate()
        assert client.returncode == 130, err  # interrupted: the shell's code for SIGINT
        async with asyncio.timeout(30):
            while True:  # and its session on the server has ended
                _, body = await _get(port, "/healthz")
                if json.loads(body)["sessions"] == 0:
                    break
                await asyncio.sleep(0.05)
    finally:
        assert await _stop(proc) == 0


async def test_connect_echoes_a_servers_audio_and_exits_0_when_it_hangs_up():
    """``connect --bot echo`` against a plain ``websockets`` server written here (not
    wavewire's): the server plays 200 ms of PCM, gets the same bytes back, hangs up with
    1000, and the client exits 0."""
    from websockets.asyncio.server import serve

    audio = b"".join(i.to_bytes(2, "little", signed=True)
                     for i in range(-16000, 16000, 10))  # 3200 samples: 200 ms at 16 kHz
    got = bytearray()
    finished = asyncio.get_running_loop().create_future()

    async def handler(ws):
        for i in range(0, len(audio), 640):
            await ws.send(audio[i : i + 640])
        async with asyncio.timeout(20):
            while len(got) < len(audio):
                message = await ws.recv()
                assert isinstance(message, bytes)
                got.extend(message)
        await ws.close(1000)
        finished.set_result(None)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wavewire", "connect", "--protocol", "raw",
            "--url", f"ws://127.0.0.1:{port}/", "--bot", "echo",
            stderr=asyncio.subprocess.PIPE, env=_env(),
        )
        try:
            async with asyncio.timeout(60):
                _, err = await client.communicate()
        finally:
            if client.returncode is None:
                client.kill()
                await client.wait()
        assert finished.done(), err
    assert bytes(got) == audio
    assert client.returncode == 0, err


async def test_connect_fails_cleanly_without_a_server():
    from wavewire.transports.workers import reserve_port

    sock = reserve_port("127.0.0.1", 0)  # bound, not listening: connections are refused
    port = sock.getsockname()[1]
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wavewire", "connect", "--url", f"ws://127.0.0.1:{port}/ws",
            "--attempts", "2", "--bot", "echo",
            stderr=asyncio.subprocess.PIPE, env=_env(),
        )
        async with asyncio.timeout(60):
            _, err = await proc.communicate()
    finally:
        sock.close()
    assert proc.returncode == 1 and b"gave up" in err


def test_help_names_the_defaults():
    out = subprocess.run([sys.executable, "-m", "wavewire", "serve", "--help"],
                         capture_output=True, text=True, env=_env(), check=True).stdout
    assert "127.0.0.1" in out and "8765" in out and "--workers" in out
    out = subprocess.run([sys.executable, "-m", "wavewire", "connect", "--help"],
                         capture_output=True, text=True, env=_env(), check=True).stdout
    assert "--protocol" in out and "pipecat" in out


def test_cli_module_imports_cheaply():
    code = ("import sys, wavewire.cli, wavewire.transports.server; "
            "print(sorted(m for m in ('numpy', 'loguru', 'soxr', 'google.protobuf') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), check=True).stdout.strip()
    assert out == "[]"


async def test_serve_static_serves_a_folder(tmp_path: Path):
    """``serve --static DIR``: that folder's files at / (index.html for /), nothing else."""
    (tmp_path / "index.html").write_text("<p>mine</p>")
    (tmp_path / "app.js").write_text("console.log(1)")
    proc, port = await _start("serve", "--port", "0", "--static", str(tmp_path))
    try:
        assert await _get(port, "/") == (200, b"<p>mine</p>")
        assert await _get(port, "/app.js") == (200, b"console.log(1)")
        assert (await _get(port, "/style.css"))[0] == 404  # the built-in page is not there
        assert (await _get(port, "/../etc/passwd"))[0] == 404
    finally:
        assert await _stop(proc) == 0
    from wavewire.cli import main

    assert main(["serve", "--static", str(tmp_path / "missing")]) == 2

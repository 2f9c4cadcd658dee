"""WebSocket echo under load: wavewire vs pipecat-ai's FastAPI transport vs bare websockets.

Run from a checkout::

    python benchmarks/websocket.py            # ~10 s per load step, ~5 min
    python benchmarks/websocket.py --quick    # ~4 s per step, ~1.5 min
    python benchmarks/websocket.py --pin      # server on CPU 0, load generator on CPU 1
    python benchmarks/websocket.py --smoke    # seconds: one small step per server (CI)

Four servers, each in its own process, restarted fresh for every measurement:

* **wavewire**: ``python -m wavewire serve --bot echo`` (raw PCM on ``/ws``; its default
  ``--loop auto``: uvloop when installed, as it is with the ``dev`` extra);
* **pipecat**: pipecat-ai 1.14's ``FastAPIWebsocketTransport`` under uvicorn, one
  pipeline per connection ``[transport.input(), Echo(), transport.output()]``, the echo
  turning ``InputAudioRawFrame`` into ``OutputAudioRawFrame``, a ``FrameSerializer``
  written here that treats binary messages as raw PCM, 20 ms output chunks, and the lean
  task settings of ``benchmarks/pipeline.py`` (no RTVI, turn tracking, idle timeout,
  tracing or metrics: pipecat's best case);
* **websockets**: a bare ``websockets`` echo handler (no framework at all; wavewire's server
  no longer uses websockets, so this is a reference point, not a floor);
* **floor**: a minimal ``asyncio.Protocol`` that completes the handshake and echoes
  frames with no validation at all: the cost of the system calls and the event loop.

wavewire, websockets and the floor run on the same event loop: uvloop when it is
installed (wavewire's ``--loop auto``), else asyncio's; uvicorn picks uvloop the same way.

The load (``benchmarks/_wsload.py``, one process) opens C connections, each streaming a
20 ms frame (640 bytes, 16 kHz mono) in real time for the step's duration, with a stamp
in the PCM to time each echo. C doubles from 25 until a step is no longer real time
(RTT p99 >= 50 ms, a lost frame or a refused connection), then (not with ``--quick``)
bisects between the last pass and the first failure to within 100 sessions. Per step it reports RTT p50/p99 (frames sent after the
first second), loss, the server's CPU per echoed frame (``/proc/<pid>/task/*/schedstat``
over the measured window ÷ frames echoed in it), the server's RSS growth ÷ C, and how
late the load generator itself was (if it is late the step says ``gen-bound``: the
generator, not the server, ran out of CPU; this is a 2-core machine shared by both).

The generator is one Python process on uvloop (asyncio if uvloop is missing) with a
hand-written RFC 6455 client per connection and a single 1 ms timer that writes every
frame due (see its docstring). It costs ~12-20 µs of its own CPU per frame on this VM,
about half of it the kernel's loopback TCP: one core keeps about 1,000 connections real time
(tick lateness p99 under 10 ms) against a busy server, ~800 against one that sleeps
between frames (each write then also pays for waking it).

``--pin`` puts each server (all its threads) on CPU 0 only and the generator on CPU 1
only, so "sessions on one core" is what is observed rather than inferred from CPU per
frame; the controller and anything else on the machine still use both CPUs.

Sessions per core = 20,000 ÷ (µs per echoed frame): a session is 50 frames a second.

The stall test: 10 clients, all stop reading and sending for 100 ms after 3 s, then send
what is due at once and carry on on their original schedule. It reports the RTT p50
before the stall and from 1 s after it to the end; a server that paces from a clock it
restarts after an underrun keeps the stall as permanent extra delay.

Not a test: it prints tables (and ``--json`` writes the numbers).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import weakref
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    REPO,
    machine_info,
    percentile,
    pipecat_raw_pcm_serializer,
    pipecat_version,
    print_table,
    quiet_logs,
)

HOST = "127.0.0.1"
RATE = 16000
HERE = Path(__file__).resolve()
LOADER = HERE.parent / "_wsload.py"
FRAMEWORKS = ("wavewire", "pipecat", "websockets", "floor")
WIRE_LAYERS = ("wire", "picows")
# plus "before" (wavewire from --baseline CHECKOUT)
"""Bare wire layers, measured on request (``--frameworks wire,picows,floor``): wavewire's
own WebSocket layer and picows, each echoing with no session or pipeline above it."""
RT_P99_MS = 50.0
GEN_LATE_MS = 10.0  # generator p99 lateness above this: the step is not the server's verdict
SERVER_LIFETIME = 900.0
HEADLINE_CLIENTS = 25  # the fixed load at which CPU per frame is compared (all run it)
STALL_CLIENTS = 10  # light enough that every server is real time before the stall  # a server started here exits by itself after this long
# --pin: (server CPU, load generator CPU), set by main(); None = the scheduler decides.
PIN: tuple[int, int] | None = None


# ---------------------------------------------------------------------------------------
# Servers (``--serve NAME``): run in a child process of the controller.


SMOKE_CLIENTS = 5
"""Clients of the one step ``--smoke`` runs per server."""


def run_loop(main: Any) -> None:
    """Runs a server's ``main()`` on the loop wavewire's ``--loop auto`` picks (uvloop when
    importable), so that the reference servers and wavewire share an event loop."""
    try:
        import uvloop
    except ImportError:
        import asyncio

        asyncio.run(main)
    else:
        uvloop.run(main)


def serve_floor(port: int) -> None:
    """The floor of any server on this event loop: an ``asyncio.Protocol`` that completes
    the handshake and echoes each binary frame (unmasked) -- no validation, no control
    frames beyond close, no framework. What is left is the system calls and the loop."""
    import asyncio
    import base64
    import hashlib

    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport
            self.buf = b""
            self.open = False

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data
            if not self.open:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    self.buf = buf
                    return
                key = b""
                for line in buf[:end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"sec-websocket-key":
                        key = value.strip()
                accept = base64.b64encode(hashlib.sha1(key + guid).digest())
                self.t.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                             + b"\r\n\r\n")
                self.open = True
                buf = buf[end + 4:]
            pos, n = 0, len(buf)
            while n - pos >= 2:
                op, length, h = buf[pos] & 15, buf[pos + 1] & 127, pos + 2
                if length == 126:
                    if n - h < 2:
                        break
                    length, h = int.from_bytes(buf[h:h + 2], "big"), h + 2
                elif length == 127:
                    if n - h < 8:
                        break
                    length, h = int.from_bytes(buf[h:h + 8], "big"), h + 8
                if n - h < 4 + length:
                    break
                mask, h = buf[h:h + 4], h + 4
                key_int = int.from_bytes(mask * (length // 4 + 1), "little")
                payload = (int.from_bytes(buf[h:h + length], "little") ^ key_int).to_bytes(
                    length + 4, "little")[:length]
                pos = h + length
                if op == 8:
                    self.t.close()
                    return
                head = bytes((0x80 | op, length)) if length < 126 else bytes(
                    (0x80 | op, 126)) + length.to_bytes(2, "big")
                self.t.write(head + payload)
            self.buf = buf[pos:]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Echo, HOST, port, backlog=1024)
        async with server:
            await asyncio.sleep(SERVER_LIFETIME)

    run_loop(main())


def serve_wire(port: int) -> None:
    """wavewire's own WebSocket layer with nothing above it: every request accepted, each
    message echoed from the connection's handler (the server's inline path)."""
    import asyncio
    import contextvars

    from wavewire.transports.wire import ServerConnection

    async def main() -> None:
        loop = asyncio.get_running_loop()
        rbuf = memoryview(bytearray(262144))
        tasks: set[asyncio.Task[None]] = set()

        def on_request(conn: ServerConnection, request: Any) -> None:
            conn.accept()

            async def echo(message: bytes | str) -> None:
                if not conn.send_nowait(message):
                    await conn.send(message)

            async def serve(context: contextvars.Context) -> None:
                try:
                    await conn.consume(echo, context)
                except Exception:
                    pass

            context = contextvars.copy_context()  # lets consume() run echo inline
            tasks.add(task := loop.create_task(serve(context), context=context))
            task.add_done_callback(tasks.discard)

        server = await loop.create_server(
            lambda: ServerConnection(on_request, read_buffer=rbuf), HOST, port, backlog=1024
        )
        async with server:
            await asyncio.sleep(SERVER_LIFETIME)

    run_loop(main())


def serve_picows(port: int) -> None:
    """picows (a Cython asyncio WebSocket library) with nothing above it: each binary
    frame echoed from its ``on_ws_frame`` callback."""
    import asyncio

    from picows import WSListener, WSMsgType, ws_create_server

    class Echo(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview())

    async def main() -> None:
        server = await ws_create_server(lambda request: Echo(), HOST, port,
                                        max_frame_size=1 << 20, backlog=1024)
        async with server:
            await asyncio.sleep(SERVER_LIFETIME)

    run_loop(main())


def serve_websockets(port: int) -> None:
    """The floor: a bare websockets echo."""
    import asyncio

    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with serve(echo, HOST, port, compression=None, max_size=1 << 20):
            await asyncio.sleep(SERVER_LIFETIME)

    run_loop(main())


def serve_pipecat(port: int) -> None:
    """pipecat-ai's FastAPI WebSocket transport under uvicorn, an echo pipeline each."""
    quiet_logs()
    import uvicorn
    from fastapi import FastAPI, WebSocket
    from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.frame_processor import FrameProcessor
    from pipecat.transports.websocket.fastapi import (
        FastAPIWebsocketParams,
        FastAPIWebsocketTransport,
    )
    from pipecat.workers.runner import WorkerRunner
    from starlette.routing import WebSocketRoute


    class Echo(FrameProcessor):
        async def process_frame(self, frame: Any, direction: Any) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                out = OutputAudioRawFrame(
                    audio=frame.audio,
                    sample_rate=frame.sample_rate,
                    num_channels=frame.num_channels,
                )
                await self.push_frame(out, direction)
            else:
                await self.push_frame(frame, direction)

    app = FastAPI()

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        transport = FastAPIWebsocketTransport(
            websocket,
            FastAPIWebsocketParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=RATE,
                audio_out_sample_rate=RATE,
                audio_out_10ms_chunks=2,
                serializer=pipecat_raw_pcm_serializer(RATE),
            ),
        )
        worker = PipelineWorker(
            Pipeline([transport.input(), Echo(), transport.output()]),
            params=PipelineParams(
                audio_in_sample_rate=RATE,
                audio_out_sample_rate=RATE,
                enable_metrics=False,
                enable_usage_metrics=False,
                enable_heartbeats=False,
            ),
            enable_rtvi=False,
            enable_turn_tracking=False,
            idle_timeout_secs=None,
            enable_tracing=False,
        )

        @transport.event_handler("on_client_disconnected")
        async def _gone(_transport: Any, _client: Any) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    # Starlette-style route: FastAPI's annotation-driven injection cannot see WebSocket
    # from inside this function (annotations are strings here); the transport is the same.
    app.router.routes.append(WebSocketRoute("/ws", endpoint))
    signal.signal(signal.SIGALRM, lambda *_: os._exit(0))
    signal.alarm(int(SERVER_LIFETIME))
    uvicorn.run(app, host=HOST, port=port, log_level="warning", lifespan="off")


# ---------------------------------------------------------------------------------------
# Controller side.


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM this child if the benchmark process dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child_setup(cpu: int | None) -> Callable[[], None]:
    """preexec_fn: die with the parent and, with --pin, run on ``cpu`` only.

    Affinity set before exec is inherited by every thread the child starts later.
    """

    def setup() -> None:
        _die_with_parent()
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def pin_threads(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` on ``cpu`` only, should the process have widened its own."""
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):  # a thread that just ended
            if os.sched_getaffinity(int(task)) != {cpu}:
                os.sched_setaffinity(int(task), {cpu})


def raise_fd_limit() -> None:
    """Soft open-file limit up to the hard one: servers inherit it and need one fd per
    session (1,600 sessions do not fit under the usual soft limit of 1,024)."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1 << 20 if hard == resource.RLIM_INFINITY else hard  # 2^20: Linux's nr_open
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def generator_loop() -> str:
    """The event loop ``_wsload.py`` runs on (uvloop if importable): same interpreter."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def busy_cpu_seconds() -> float:
    """CPU seconds every CPU of the machine spent busy since boot: time since boot times
    the CPUs online, minus their idle and iowait time (``/proc/stat``).

    Not the sum of /proc/stat's busy fields: those are sampled at each scheduler tick
    (every 4 ms here), and a load generator waking on a 1 ms grid is always at the same
    point of its cycle when the tick comes, always asleep or always running, which put
    "others" off by tens of percent either way. Idle time is measured at each entry to
    and exit from idle (NO_HZ kernels, the usual ones), so the difference is exact.
    """
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    fields = [int(x) for x in lines[0].split()[1:]]
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    idle = (fields[3] + (fields[4] if len(fields) > 4 else 0)) / os.sysconf("SC_CLK_TCK")
    return time.clock_gettime(time.CLOCK_BOOTTIME) * cpus - idle


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


BASELINE: Path | None = None
"""``--baseline CHECKOUT``: another wavewire checkout, measured as ``before`` in the same
run as this one (``wavewire``), for before/after comparisons of a change."""


def _env(repo: Path = REPO) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Server:
    """One server process under test."""

    def __init__(self, framework: str, cpu: int | None = None) -> None:
        self.framework = framework
        self.output: str | None = None
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(  # closed in stop()
            prefix=f"ws-bench-{framework}-", suffix=".log", delete=False
        )
        repo = REPO
        if framework == "before":
            if BASELINE is None:
                raise ValueError("the 'before' server needs --baseline CHECKOUT")
            repo = BASELINE
        if framework in ("wavewire", "before"):
            cmd = [
                sys.executable,
                "-m",
                "wavewire",
                "--log-level",
                "WARNING",
                "serve",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--bot",
                "echo",
            ] + (["--loop", os.environ["WW_LOOP"]] if os.environ.get("WW_LOOP") else [])
        else:
            cmd = [sys.executable, str(HERE), "--serve", framework, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=repo,
            env=_env(repo),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup(cpu),
        )
        self._wait_ready(60.0)
        if cpu is not None:
            pin_threads(self.proc.pid, cpu)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.framework} server exited: {self.errors(20)}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.framework} server not listening after {timeout} s")

    def cpu_ns(self) -> int:
        """CPU time of every thread of the server so far (ns)."""
        total = 0
        for task in os.listdir(f"/proc/{self.proc.pid}/task"):
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{self.proc.pid}/task/{task}/schedstat") as f,
            ):
                total += int(f.read().split()[0])
        return total

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def errors(self, tail: int = 0) -> str:
        """What the server printed (all of it, or the last ``tail`` non-empty lines)."""
        if self.output is None:
            self.log.flush()
            text = Path(self.log.name).read_text(errors="replace")
        else:
            text = self.output
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return "\n".join(lines[-tail:]) if tail else text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.output is None:
            self.output = self.errors()
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)


_unread: weakref.WeakKeyDictionary[subprocess.Popen[bytes], bytearray] = weakref.WeakKeyDictionary()


def read_line(proc: subprocess.Popen[bytes], deadline: float) -> str:
    """One line of ``proc``'s stdout, or RuntimeError at the deadline.

    Reads in large chunks (a RESULT line is over a megabyte at C=1600) and keeps what
    follows the line for the next call.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = _unread.setdefault(proc, bytearray())
    while (end := buf.find(b"\n")) < 0:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("load generator did not answer in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise RuntimeError(f"load generator exited ({proc.poll()})")
        buf += chunk
    line = buf[:end].decode()
    del buf[: end + 1]
    return line


def sleep_until(t: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def run_step(
    framework: str, clients: int, duration: float, warmup: float, stall: dict | None = None
) -> dict[str, Any]:
    """One measurement against a fresh server; see the module docstring."""
    server_cpu, load_cpu = PIN if PIN else (None, None)
    server = Server(framework, server_cpu)
    load: subprocess.Popen[bytes] | None = None
    try:
        time.sleep(0.3)
        rss_idle = server.rss_kib()
        cfg = {
            "host": HOST,
            "port": server.port,
            "path": "/ws",
            "clients": clients,
            "duration": duration,
            "warmup": warmup,
            "grace": 1.0,
            "stall": stall,
        }
        load = subprocess.Popen(
            [sys.executable, str(LOADER), json.dumps(cfg)],
            cwd=REPO,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=_child_setup(load_cpu),
        )
        ready = json.loads(read_line(load, time.monotonic() + 120).split(" ", 1)[1])
        if server_cpu is not None and load_cpu is not None:
            pin_threads(server.proc.pid, server_cpu)  # threads started for the sessions
            pin_threads(load.pid, load_cpu)
        t0 = time.monotonic() + 0.3
        assert load.stdin is not None
        load.stdin.write(f"GO {t0}\n".encode())
        load.stdin.flush()
        sleep_until(t0 + warmup)
        cpu_a, at_a, busy_a = server.cpu_ns(), time.monotonic(), busy_cpu_seconds()
        sleep_until(t0 + (warmup + duration) / 2)
        rss_busy = server.rss_kib()
        sleep_until(t0 + duration)
        cpu_b, at_b, busy_b = server.cpu_ns(), time.monotonic(), busy_cpu_seconds()
        line = read_line(load, time.monotonic() + 60)
        result = json.loads(line.split(" ", 1)[1])
        load.wait(10)
    finally:
        if load is not None and load.poll() is None:
            load.kill()
            load.wait(5)
        server.stop()
    rtts = array("f", base64.b64decode(result.pop("rtt_ms"))).tolist()
    loss = result["sent"] - result["echoed"]
    cpu_s = (cpu_b - cpu_a) / 1e9
    us_per_frame = (
        cpu_s * 1e6 / result["echoed_window"] if result["echoed_window"] else float("nan")
    )
    out = {
        "framework": framework,
        "clients": clients,
        "connected": ready["connected"],
        "failed": ready["failed"],
        "closes": result["closes"],
        "p50_ms": percentile(rtts, 50),
        "p99_ms": percentile(rtts, 99),
        "max_ms": max(rtts, default=float("nan")),
        "sent": result["sent"],
        "lost": loss,
        "loss_pct": 100 * loss / result["sent"] if result["sent"] else 100.0,
        "duplicates": result["duplicates"],
        "server_cpu_pct": 100 * cpu_s / (at_b - at_a),
        "us_per_frame": us_per_frame,
        "kib_per_session": (rss_busy - rss_idle) / clients,
        "rss_idle_kib": rss_idle,
        "gen_late_p99_ms": result["late_ms"]["p99"],
        "gen_cpu_pct": result.get("gen_cpu_pct", float("nan")),
        "gen_us_per_frame": result.get("gen_us_per_frame", float("nan")),
        "gen_loop": ready.get("loop", "asyncio"),
        "pinned": PIN is not None,
        # Everything else the machine ran meanwhile (other users, the kernel): noise.
        "other_cpu_pct": 100 * (busy_b - busy_a) / (at_b - at_a)
        - 100 * cpu_s / (at_b - at_a)
        - result.get("gen_cpu_pct", 0.0),
        "timeline": result["timeline"],
        "server_log_lines": len(
            [ln for ln in server.errors().splitlines() if ln.strip() and "serving on" not in ln]
        ),
        "server_log_tail": server.errors(5),
    }
    out["realtime"] = ready["connected"] == clients and loss == 0 and out["p99_ms"] < RT_P99_MS
    # The generator was late while the server had CPU to spare: the machine, not the
    # server, was the limit (the box is shared by both, and possibly by others).
    out["gen_bound"] = out["gen_late_p99_ms"] > GEN_LATE_MS and out["server_cpu_pct"] < 90
    return out


def verdict(step: dict[str, Any]) -> str:
    if step["realtime"]:
        return "real time"
    return "gen-bound" if step["gen_bound"] else "broken"


def _report(framework: str, step: dict[str, Any]) -> None:
    print(
        f"  {framework:10s} C={step['clients']:5d}  p50 {step['p50_ms']:7.2f} ms  "
        f"p99 {step['p99_ms']:7.2f} ms  lost {step['lost']:6d}  "
        f"{step['us_per_frame']:7.1f} µs/frame  cpu {step['server_cpu_pct']:5.1f}%  "
        f"gen late p99 {step['gen_late_p99_ms']:5.1f} ms "
        f"(gen {step['gen_cpu_pct']:.0f}% cpu, others {step['other_cpu_pct']:.0f}%)  "
        f"{verdict(step)}",
        flush=True,
    )


def ramp(
    framework: str, duration: float, warmup: float, max_clients: int, refine: bool
) -> list[dict[str, Any]]:
    """Steps of C: doubling from 25 while real time (down from 25 if even that fails);
    with ``refine``, then bisecting between the last pass and the first failure."""
    steps: list[dict[str, Any]] = []

    def measure(clients: int) -> dict[str, Any]:
        step = run_step(framework, clients, duration, warmup)
        _report(framework, step)
        if step["gen_bound"]:  # not the server's verdict: measure again once
            step = run_step(framework, clients, duration, warmup)
            _report(framework, step)
        steps.append(step)
        return step

    clients, last_ok = 25, 0
    while clients <= max_clients:
        step = measure(clients)
        if not step["realtime"]:
            break
        last_ok = clients
        clients *= 2
    if not last_ok:  # broken at the first step: look below it
        clients = 12
        while clients >= 3 and not measure(clients)["realtime"]:
            clients //= 2
    elif refine and clients <= max_clients:
        # Bisect between the last pass and the first failure to within 100 sessions.
        lo, hi = last_ok, clients
        while hi - lo >= 100:
            mid = (lo + hi) // 2 // 10 * 10
            if measure(mid)["realtime"]:
                lo = mid
            else:
                hi = mid
    return sorted(steps, key=lambda s: s["clients"])


def stall_test(framework: str, duration: float, ms: int) -> dict[str, Any]:
    at = 3.0
    step = run_step(framework, STALL_CLIENTS, duration, 1.0, stall={"at": at, "ms": ms})
    bins = step["timeline"]
    before = [p50 for t, p50, _p99, _n in bins if 1.0 <= t < at]
    after = [p50 for t, p50, _p99, _n in bins if at + ms / 1000 + 1.0 <= t < duration]
    around = [(t, p50) for t, p50, _p99, _n in bins if at - 0.2 <= t < at + 1.5]
    base = statistics.median(before) if before else float("nan")
    post = statistics.median(after) if after else float("nan")
    return {
        "framework": framework,
        "stall_ms": ms,
        "baseline_p50_ms": base,
        "after_p50_ms": post,
        "added_ms": post - base,
        "recovered": post - base < 5.0,
        "around": around,
        "lost": step["lost"],
        "other_cpu_pct": step["other_cpu_pct"],
    }


def fmt(x: float, digits: int = 1) -> str:
    return "-" if x != x else f"{x:.{digits}f}"  # x != x: NaN


def ratio(ours: float, theirs: float, higher_is_better: bool = True) -> str:
    if not ours or not theirs or ours != ours or theirs != theirs:
        return "-"
    r = ours / theirs if higher_is_better else theirs / ours
    return f"{r:.1f}x"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short steps (~1.5 min in all)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seconds: one 5-client step per server, no stall test (checks it still runs)",
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help="comma-separated subset of " + ",".join(FRAMEWORKS + WIRE_LAYERS),
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="another wavewire checkout (e.g. a git worktree of the previous main): measured "
        "as 'before' next to this checkout's 'wavewire' in the same run",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per load step")
    parser.add_argument("--max-clients", type=int, default=None)
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument(
        "--stalls", default=None, help="client stalls to test, ms (default 100; 100,300 in full)"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run each server on CPU 0 only and the load generator on CPU 1 only "
        "(the first two CPUs this process may use): sessions on one core, observed",
    )
    parser.add_argument("--serve", choices=("pipecat", "websockets", "floor", *WIRE_LAYERS),
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quiet_logs()
    if args.serve == "pipecat":
        return serve_pipecat(args.port)
    if args.serve == "floor":
        return serve_floor(args.port)
    if args.serve == "websockets":
        return serve_websockets(args.port)
    if args.serve == "wire":
        return serve_wire(args.port)
    if args.serve == "picows":
        return serve_picows(args.port)

    global PIN
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs two CPUs")
        PIN = (cpus[0], cpus[1])
    raise_fd_limit()
    frameworks = [f for f in args.frameworks.split(",") if f]
    if args.baseline:
        global BASELINE
        BASELINE = Path(args.baseline).resolve()
        if not (BASELINE / "wavewire" / "__init__.py").is_file():
            parser.error(f"--baseline {args.baseline}: not a wavewire checkout")
        if "before" not in frameworks:
            frameworks.insert(frameworks.index("wavewire") + 1 if "wavewire" in frameworks
                              else 0, "before")
    if "pipecat" in frameworks and pipecat_version() is None:
        print("pipecat-ai is not installed: measuring without it")
        frameworks.remove("pipecat")
    duration = args.duration or (4.0 if args.quick else 10.0)
    warmup = 1.0
    max_clients = args.max_clients or (800 if args.quick else 1600)
    stall_duration = 6.0 if args.quick else 8.0
    stall_list = [int(x) for x in (args.stalls or ("100" if args.quick else "100,300")).split(",")]
    if args.smoke:
        duration, warmup, stall_list = min(duration, 1.5), 0.5, []
    info = machine_info()
    print(
        f"WebSocket echo, {duration:g} s per step, 20 ms frames, {info['cpus']} CPUs, "
        f"Python {info['python']}, pipecat-ai {pipecat_version() or '-'}, "
        f"load generator and servers on {generator_loop()} (wavewire: its --loop auto; "
        "pipecat: uvicorn's loop=auto)"
    )
    if PIN:
        print(
            f"Pinned: each server on CPU {PIN[0]} only, the load generator on CPU {PIN[1]} "
            "only (all their threads); the controller and anything else may use both"
        )

    ramps: dict[str, list[dict[str, Any]]] = {}
    stalls: dict[str, list[dict[str, Any]]] = {}
    for fw in frameworks:
        if args.smoke:
            step = run_step(fw, SMOKE_CLIENTS, duration, warmup)
            _report(fw, step)
            ramps[fw] = [step]
            continue
        ramps[fw] = ramp(fw, duration, warmup, max_clients, refine=not args.quick)
    for fw in frameworks:
        stalls[fw] = []
        for ms in stall_list:
            s = stall_test(fw, stall_duration, ms)
            stalls[fw].append(s)
            print(
                f"  {fw:10s} stall {ms} ms: p50 {s['baseline_p50_ms']:.2f} ms before, "
                f"{s['after_p50_ms']:.2f} ms from 1 s after ({s['added_ms']:+.2f} ms; "
                f"others {s['other_cpu_pct']:.0f}% CPU)",
                flush=True,
            )

    print("\nPer step (RTT over frames sent after the first second; CPU = server process)")
    rows = []
    for fw, steps in ramps.items():
        for st in steps:
            rows.append(
                [
                    fw,
                    str(st["clients"]),
                    f"{st['connected']}",
                    fmt(st["p50_ms"], 2),
                    fmt(st["p99_ms"], 2),
                    f"{st['loss_pct']:.2f}%",
                    fmt(st["server_cpu_pct"], 0) + "%",
                    fmt(st["us_per_frame"]),
                    fmt(st["kib_per_session"]),
                    fmt(st["gen_late_p99_ms"]),
                    fmt(st["other_cpu_pct"], 0) + "%",
                    verdict(st),
                ]
            )
    print_table(
        [
            "server",
            "C",
            "conn",
            "p50 ms",
            "p99 ms",
            "loss",
            "srv CPU",
            "µs/frame",
            "KiB/sess",
            "gen late p99",
            "others CPU",
            "verdict",
        ],
        rows,
    )

    summary: dict[str, dict[str, float]] = {}
    for fw, steps in ramps.items():
        fixed = next((s for s in steps if s["clients"] == HEADLINE_CLIENTS), steps[-1])
        top = max(steps, key=lambda s: s["clients"] if s["realtime"] else 0)
        summary[fw] = {
            "max_rt": top["clients"] if top["realtime"] else 0,
            "us": fixed["us_per_frame"],
            "per_core": 20000 / fixed["us_per_frame"],
            "us_top": top["us_per_frame"] if top["realtime"] else float("nan"),
            "kib": top["kib_per_session"],
            "p99": fixed["p99_ms"],
            "stall": stalls[fw][0]["added_ms"] if stalls.get(fw) else float("nan"),
        }
    print(
        f"\nSummary: µs/frame, sessions/core (20,000 ÷ µs) and p99 at the fixed load C="
        f"{HEADLINE_CLIENTS}; KiB/session and 'µs @max' at the largest real-time step (CPU per"
        " frame falls as load rises: fewer wake-ups per frame)"
    )
    pc = summary.get("pipecat")
    rows = []
    for fw, s in summary.items():
        rows.append(
            [
                fw,
                str(s["max_rt"]),
                fmt(s["us"]),
                fmt(s["per_core"], 0),
                fmt(s["us_top"]),
                fmt(s["kib"]),
                fmt(s["p99"], 2),
                f"{s['stall']:+.1f}",
                ratio(s["per_core"], pc["per_core"]) if pc else "-",
                ratio(s["max_rt"], pc["max_rt"]) if pc else "-",
                ratio(s["kib"], pc["kib"], higher_is_better=False) if pc else "-",
            ]
        )
    print_table(
        [
            "server",
            "max RT sessions (seen)",
            "µs/frame",
            "sessions/core",
            "µs @max",
            "KiB/session",
            f"p99 ms @{HEADLINE_CLIENTS}",
            "stall +ms",
            "per-core vs pipecat",
            "max RT vs pipecat",
            "memory vs pipecat",
        ],
        rows,
    )
    if "wavewire" in summary:
        w = summary["wavewire"]
        seen = (f"{w['max_rt']} observed on one pinned core, " if args.pin else "")
        print(
            f"\nTargets: ≥ 500 real-time sessions per core (wavewire: {seen}"
            f"{fmt(w['per_core'], 0)} from CPU per frame at C={HEADLINE_CLIENTS}, "
            f"{fmt(20000 / w['us_top'], 0) if w['us_top'] == w['us_top'] else '-'} at its "
            f"largest real-time step), ≥ 8x pipecat "
            f"({ratio(w['per_core'], pc['per_core']) if pc else '-'} per core at "
            f"C={HEADLINE_CLIENTS}, {ratio(w['max_rt'], pc['max_rt']) if pc else '-'} in "
            "real-time sessions)"
        )
    for fw, runs in stalls.items():
        for s in runs:
            print(
                f"\nStall of {s['stall_ms']} ms at t=3 s, {fw}: RTT p50 (ms) per 100 ms of send time"
            )
            print("  " + "  ".join(f"{t:.1f}s:{p:.0f}" for t, p in s["around"]))
    for fw, steps in ramps.items():
        logged = max(s["server_log_lines"] for s in steps)
        if logged:
            print(
                f"\nnote: the {fw} server wrote {logged} log lines in a step; last ones:\n"
                + max(steps, key=lambda s: s["server_log_lines"])["server_log_tail"]
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "machine": info,
                    "pin": {"server_cpu": PIN[0], "load_cpu": PIN[1]} if PIN else None,
                    "ramps": ramps,
                    "stalls": stalls,
                    "summary": summary,
                },
                indent=1,
                default=str,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()

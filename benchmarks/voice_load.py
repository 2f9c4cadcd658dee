"""Voice bots under load: how many concurrent STT → LLM → TTS conversations one core keeps
real time, wavewire vs pipecat-ai 1.14, side by side in one run.

Run from a checkout::

    python benchmarks/voice_load.py --pin       # server on CPU 0, load + fakes on CPU 1 (~10 min)
    python benchmarks/voice_load.py --smoke     # seconds: 2 conversations per framework (CI)
    python benchmarks/voice_load.py --only wavewire --start 50 --max 800 --json out.json

Each measurement (a *step*: C conversations for ``--duration`` seconds) starts three fresh
processes:

* **the fakes** (``--fakes``): wavewire's shipped fakes of Deepgram (``/v1/listen``; the
  440 Hz tone is the question), the OpenAI-compatible LLM (a scripted answer streamed
  word by word) and Cartesia (``/tts/websocket``; 40 ms of tone per character of text,
  sent as fast as it is made). One process, other than the server's;
* **the server under test** (``--serve NAME``), one bot per WebSocket connection on
  ``/ws`` (raw 16 kHz s16le PCM both ways, paced to real time by the server):

  - wavewire: ``WebSocketServer`` with ``DeepgramSTTService`` → ``TurnTaking`` → the user
    context aggregator → ``OpenAILLMService`` → ``CartesiaTTSService`` → the assistant
    aggregator (``examples/deepgram_openai_cartesia.py``'s bot), uvloop;
  - pipecat: its ``FastAPIWebsocketTransport`` under uvicorn (as in
    ``benchmarks/websocket.py``, a raw-PCM serializer, 20 ms output chunks, no RTVI /
    metrics / heartbeats / idle timeout / tracing) with its own ``DeepgramSTTService``,
    ``LLMContextAggregatorPair``, ``OpenAILLMService`` and ``CartesiaTTSService``, their
    base URLs pointed at the same fakes;

  both end the user's turn :data:`STOP_S` after the final transcript (wavewire
  ``TurnTaking(stt_stop_secs=…)``, pipecat ``SpeechTimeoutUserTurnStopStrategy``; no VAD
  model in either);
* this process, the **load**: C WebSocket clients (``websockets``), each streaming user
  audio in real time, one 20 ms frame per 20 ms on an absolute schedule (clients spread
  over 1 ms slots, one ticker for all), in cycles of :data:`CYCLE_S`: 0.2 s of silence,
  0.8 s of the question, silence; it plays the bot's answers back on a model client.

A step is **real time** when all of these hold:

1. every conversation connected and every question asked got an answer;
2. turn latency p95 ≤ ``--max-latency`` (default :data:`MAX_LATENCY_S`): from the last
   frame of the question being sent to the first byte of the answer's audio received
   (so it includes the fake's endpointing, the :data:`STOP_S` turn wait, the LLM and the
   TTS; the first cycle is warm-up: its turns must be answered but are not counted
   here or in 3.);
3. the answers play without underrun: the client starts playing an answer
   :data:`JITTER_S` after its first byte and plays continuously; a chunk that arrives
   after everything before it has finished playing is an underrun; at most 1 % of the
   answers may have one;
4. no user audio is lost: the Deepgram fake received every byte the clients sent.

If the load itself ran late (ticker lateness p99 over :data:`LATE_MS`) while the load side
(this process and the fakes together) was busy over 90 % of the window, the step is
marked ``load-bound``: the load side, not the server, ran out of CPU (with ``--pin`` it
has CPU 1 to itself but for the rest of the machine), and the step says nothing about the
server. (Lateness without that is the server's: ``websockets`` makes a sender wait once
a server stops reading.)

The search per framework: C doubles from ``--start`` until a step is not real time (or
``--max``), then bisects to within 10 %. "Sessions per core" is the largest C that stayed
real time with the server pinned to one CPU (``--pin``), and, from every passing step,
the server's CPU per conversation-second (``/proc/<pid>/task/*/schedstat``) as the
sessions one core could hold at 100 %. The ratio is wavewire's over pipecat's.

Not a test: it prints tables (``--json`` writes the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import time
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
FRAME = 640  # bytes: 20 ms of 16 kHz mono s16le
PERIOD = 0.02
HERE = Path(__file__).resolve()
FRAMEWORKS = ("wavewire", "pipecat")
QUESTION = "What is the weather like today?"
ANSWER = "It is sunny and warm today, with a light breeze from the west."
MS_PER_CHAR = 40  # the TTS fake: about 2.5 s of answer
CYCLE_S = 6.0  # one question and its answer per cycle
STOP_S = 0.3  # the user turn ends this long after the final transcript (both frameworks)
MAX_LATENCY_S = 1.5
JITTER_S = 0.1
LATE_MS = 20.0
SERVER_LIFETIME = 900  # seconds; a child started here exits by itself after this long
PIN: tuple[int, int] | None = None  # (server CPU, load CPU) with --pin


def _tone(hz: float, seconds: float) -> bytes:
    import numpy as np

    t = np.arange(int(RATE * seconds)) / RATE
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def cycle_frames() -> list[bytes]:
    """One cycle of user audio in 20 ms frames: silence, the question, silence."""
    pcm = bytes(int(RATE * 0.2) * 2) + _tone(440, 0.8)
    pcm += bytes(int(RATE * CYCLE_S) * 2 - len(pcm))
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


QUESTION_END = int(1.0 / PERIOD) - 1  # index of the question's last frame in a cycle


def expected_answer_bytes() -> int:
    return len(ANSWER) * MS_PER_CHAR * RATE // 1000 * 2


def run_loop(main: Any) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


# ---------------------------------------------------------------------------------------
# Child processes: the fakes and the two servers.


def serve_fakes() -> None:
    """Prints the fakes' URLs as one JSON line, then answers ``STATS`` lines on stdin."""
    from wavewire.testing.fakes.cartesia import FakeCartesia
    from wavewire.testing.fakes.deepgram import FakeDeepgram
    from wavewire.testing.fakes.openai import FakeOpenAI, Reply

    async def main() -> None:
        dg = FakeDeepgram({440: QUESTION})
        llm = FakeOpenAI([Reply(ANSWER)], api_key=None)
        car = FakeCartesia(ms_per_char=MS_PER_CHAR)
        await dg.start()
        await llm.start()
        await car.start()
        print(json.dumps({"deepgram": dg.url, "openai": llm.base_url, "cartesia": car.url}),
              flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "STATS":
                print(json.dumps({"audio_bytes": dg.audio_bytes, "llm_requests": len(llm.requests),
                                  "listen_sockets": dg.connections}), flush=True)
                llm.requests.clear()  # nothing else reads them; keep memory flat
        await car.close()
        await llm.close()
        await dg.close()

    run_loop(main())


def serve_wavewire(port: int, urls: dict[str, str]) -> None:
    from wavewire import WebSocketServer
    from wavewire.context import LLMContext
    from wavewire.processors.aggregators import context_aggregators
    from wavewire.processors.turns import TurnTaking
    from wavewire.services.cartesia import CartesiaTTSService
    from wavewire.services.deepgram import DeepgramSTTService
    from wavewire.services.openai import OpenAILLMService

    def bot(info: Any) -> list[Any]:
        user, assistant = context_aggregators(LLMContext([{"role": "system", "content": "Be brief."}]))
        return [
            DeepgramSTTService(api_key="dg", base_url=urls["deepgram"], gateway=False),
            TurnTaking(stt_stop_secs=STOP_S),
            user,
            OpenAILLMService(model="fake", base_url=urls["openai"], api_key="sk-bench"),
            CartesiaTTSService(voice_id="v", api_key="car", base_url=urls["cartesia"],
                               gateway=False, sample_rate=RATE),
            assistant,
        ]

    async def main() -> None:
        async with WebSocketServer(bot, host=HOST, port=port):
            await asyncio.sleep(SERVER_LIFETIME)

    run_loop(main())


def serve_pipecat(port: int, urls: dict[str, str]) -> None:
    quiet_logs()
    import uvicorn
    from fastapi import FastAPI, WebSocket
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.cartesia.tts import CartesiaTTSService
    from pipecat.services.deepgram.stt import DeepgramSTTService
    from pipecat.services.openai.llm import OpenAILLMService
    from pipecat.transports.websocket.fastapi import (
        FastAPIWebsocketParams,
        FastAPIWebsocketTransport,
    )
    from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
        TranscriptionUserTurnStartStrategy,
    )
    from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
        SpeechTimeoutUserTurnStopStrategy,
    )
    from pipecat.turns.user_turn_strategies import UserTurnStrategies
    from pipecat.workers.runner import WorkerRunner
    from starlette.routing import WebSocketRoute


    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        transport = FastAPIWebsocketTransport(websocket, FastAPIWebsocketParams(
            audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=RATE,
            audio_out_sample_rate=RATE, audio_out_10ms_chunks=2,
            serializer=pipecat_raw_pcm_serializer(RATE)))
        strategies = UserTurnStrategies(
            start=[TranscriptionUserTurnStartStrategy()],
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=STOP_S)])
        pair = LLMContextAggregatorPair(
            LLMContext([{"role": "system", "content": "Be brief."}]),
            user_params=LLMUserAggregatorParams(user_turn_strategies=strategies))
        pipeline = Pipeline([
            transport.input(),
            DeepgramSTTService(api_key="dg", base_url=urls["deepgram"]),
            pair.user(),
            OpenAILLMService(api_key="sk-bench", base_url=urls["openai"],
                             settings=OpenAILLMService.Settings(model="fake")),
            CartesiaTTSService(api_key="car", url=f"{urls['cartesia']}/tts/websocket",
                               sample_rate=RATE,
                               settings=CartesiaTTSService.Settings(voice="v")),
            transport.output(),
            pair.assistant(),
        ])
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE,
                                  enable_metrics=False, enable_usage_metrics=False,
                                  enable_heartbeats=False),
            enable_rtvi=False, enable_turn_tracking=False, idle_timeout_secs=None,
            enable_tracing=False)

        @transport.event_handler("on_client_disconnected")
        async def _gone(_transport: Any, _client: Any) -> None:
            await worker.cancel()

        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(worker)
        await runner.run()

    app = FastAPI()
    app.router.routes.append(WebSocketRoute("/ws", endpoint))
    signal.signal(signal.SIGALRM, lambda *_: os._exit(0))
    signal.alarm(SERVER_LIFETIME)
    uvicorn.run(app, host=HOST, port=port, log_level="warning", lifespan="off")


# ---------------------------------------------------------------------------------------
# Controller: processes, the load, the search.


def _child_setup(cpu: int | None) -> Any:
    def setup() -> None:
        with contextlib.suppress(Exception):  # SIGTERM the child if we die (Linux)
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return setup


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(f"child {proc.args!r} gave no answer (exit {proc.poll()})")
    return line


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _cpu_ns(pid: int) -> int:
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total


def _side_cpu_ns(fakes_pid: int | None) -> int:
    """CPU time of this process and the fakes' (the load side) so far (ns)."""
    return time.process_time_ns() + (_cpu_ns(fakes_pid) if fakes_pid else 0)


class Client:
    """One conversation's client: sends its frames when the ticker says, times answers."""

    def __init__(self, ws: Any, expected: int) -> None:
        self.ws = ws
        self.expected = expected
        self.sent = 0  # bytes of user audio sent
        self.turns: list[dict[str, Any]] = []  # per question: asked, first, bytes, underrun
        self.play_end = 0.0
        self.closed = False
        self.reader = asyncio.ensure_future(self.read())

    def asked(self, now: float) -> None:
        self.turns.append({"asked": now, "first": None, "bytes": 0, "underrun": False})

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for message in self.ws:
                if not isinstance(message, bytes) or not self.turns:
                    continue
                now = time.monotonic()
                turn = self.turns[-1]
                seconds = len(message) / (2 * RATE)
                if turn["first"] is None:
                    turn["first"] = now
                    self.play_end = now + JITTER_S + seconds
                else:
                    if now > self.play_end and turn["bytes"] < self.expected * 0.95:
                        turn["underrun"] = True
                    self.play_end = max(self.play_end, now) + seconds
                turn["bytes"] += len(message)
        self.closed = True


async def run_load(port: int, clients: int, duration: float, pid: int,
                   fakes_pid: int | None = None) -> dict[str, Any]:
    """Connects the clients, streams ``duration`` seconds of cycles, collects the turns
    and the server's (``pid``) CPU time over the streaming."""
    from websockets.asyncio.client import connect

    frames = cycle_frames()
    expected = expected_answer_bytes()
    sem = asyncio.Semaphore(50)
    failed: list[str] = []

    async def one() -> Client | None:
        async with sem:
            try:
                ws = await asyncio.wait_for(connect(f"ws://{HOST}:{port}/ws", proxy=None,
                                                    compression=None, max_queue=None), 20)
            except Exception as exc:
                failed.append(type(exc).__name__)
                return None
            return Client(ws, expected)

    made = [c for c in await asyncio.gather(*(one() for _ in range(clients))) if c]
    await asyncio.sleep(1.5)  # the bots connect to the fakes
    nframes = round(duration / PERIOD)
    t0 = time.monotonic() + 0.1
    late: list[float] = []
    slots = 20
    cpu0, side0 = _cpu_ns(pid), _side_cpu_ns(fakes_pid)
    for k in range(nframes):
        for slot in range(slots):
            due = t0 + k * PERIOD + slot * PERIOD / slots
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            late.append((now - due) * 1e3)
            frame = frames[k % len(frames)]
            for c in made[slot::slots]:
                if c.closed:
                    continue
                with contextlib.suppress(Exception):
                    await c.ws.send(frame)
                    c.sent += len(frame)
                if k % len(frames) == QUESTION_END:
                    c.asked(time.monotonic())
    cpu_s = (_cpu_ns(pid) - cpu0) / 1e9
    side_busy = (_side_cpu_ns(fakes_pid) - side0) / 1e9 / duration
    await asyncio.sleep(1.0)  # a cycle holds its answer: only the last chunks are due
    dropped = sum(c.closed for c in made)
    closing = [asyncio.ensure_future(c.ws.close()) for c in made]
    if closing:
        await asyncio.wait(closing, timeout=10)  # a stuck server does not hold the run
    for c, task in zip(made, closing, strict=True):
        task.cancel()
        c.reader.cancel()
        with contextlib.suppress(BaseException):
            await task
    warm = t0 + CYCLE_S
    turns = [t for c in made for t in c.turns]
    counted = [t for t in turns if t["asked"] >= warm]
    latencies = [t["first"] - t["asked"] for t in counted if t["first"] is not None]
    return {
        "connected": len(made),
        "dropped": dropped,
        "server_cpu_s": cpu_s,
        "cpu_ms_per_session_s": cpu_s * 1e3 / (max(1, len(made)) * duration),
        "failed": failed,
        "sent_bytes": sum(c.sent for c in made),
        "asked": len(turns),
        "answered": sum(t["first"] is not None for t in turns),
        "underruns": sum(t["underrun"] for t in counted),
        "counted": len(counted),
        "short_answers": sum(0 < t["bytes"] < expected * 0.9 for t in turns),
        "latency_p50": percentile(latencies, 50),
        "latency_p95": percentile(latencies, 95),
        "late_p99_ms": percentile(late, 99),
        "load_side_busy": side_busy,
    }


def run_step(framework: str, clients: int, duration: float, max_latency: float) -> dict[str, Any]:
    """One measurement with a fresh fakes process and a fresh server."""
    server_cpu, load_cpu = PIN if PIN else (None, None)
    fakes = subprocess.Popen([sys.executable, str(HERE), "--fakes"], cwd=REPO, env=_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             preexec_fn=_child_setup(load_cpu))
    server: subprocess.Popen[Any] | None = None
    try:
        urls = json.loads(_read_line(fakes, 60))
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, str(HERE), "--serve", framework, "--port", str(port),
             "--urls", json.dumps(urls)], cwd=REPO, env=_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=_child_setup(server_cpu))
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"{framework} server exited: {server.stderr.read()[-2000:]}"
                                   if server.stderr else f"{framework} server exited")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{framework} server not listening after 60 s")
            time.sleep(0.05)
        load = asyncio.run(run_load(port, clients, duration, server.pid, fakes.pid))
        time.sleep(0.5)  # the last audio reaches the fake
        assert fakes.stdin is not None
        fakes.stdin.write("STATS\n")
        fakes.stdin.flush()
        stats = json.loads(_read_line(fakes, 10))
    finally:
        if server is not None:
            _stop(server)
        _stop(fakes)
    lost = max(0, load["sent_bytes"] - stats["audio_bytes"])
    real_time = (load["connected"] == clients and not load["dropped"] and load["answered"] == load["asked"] > 0
                 and load["latency_p95"] <= max_latency and lost == 0
                 and load["underruns"] <= 0.01 * load["counted"])
    return {"framework": framework, "clients": clients, **load, "lost_bytes": lost,
            "llm_requests": stats["llm_requests"],
            "load_bound": load["late_p99_ms"] > LATE_MS and load["load_side_busy"] > 0.9,
            "real_time": real_time}


def describe(r: dict[str, Any]) -> str:
    verdict = "real time" if r["real_time"] else "NOT real time"
    if r["load_bound"]:
        verdict += " (load-bound)"
    return (f"{r['framework']:<9} C={r['clients']:>5}: {verdict}; answered {r['answered']}/"
            f"{r['asked']}, latency p50 {r['latency_p50'] * 1e3:.0f} ms p95 "
            f"{r['latency_p95'] * 1e3:.0f} ms, underruns {r['underruns']}, lost "
            f"{r['lost_bytes']} B, server CPU {r['cpu_ms_per_session_s']:.2f} ms per "
            f"session-second, load late p99 {r['late_p99_ms']:.1f} ms "
            f"(load side {r['load_side_busy']:.0%} busy)")


def search(framework: str, start: int, most: int, duration: float,
           max_latency: float) -> tuple[int, list[dict[str, Any]]]:
    """Doubling, then bisection to within 10 %: the largest C that stayed real time."""
    steps: list[dict[str, Any]] = []

    def step(c: int) -> bool:
        try:
            r = run_step(framework, c, duration, max_latency)
        except RuntimeError as exc:  # the server died or never listened: not real time
            print(f"  {framework:<9} C={c:>5}: failed: {exc}", flush=True)
            steps.append({"framework": framework, "clients": c, "error": str(exc),
                          "real_time": False})
            return False
        steps.append(r)
        print("  " + describe(r), flush=True)
        return bool(r["real_time"])

    good, bad, c = 0, None, start
    while c <= most:
        if not step(c):
            bad = c
            break
        good, c = c, c * 2
    while bad is not None and bad - good > max(1, good // 10):
        mid = (good + bad) // 2
        if step(mid):
            good = mid
        else:
            bad = mid
    return good, steps


def main() -> None:
    global PIN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2 conversations each, one step")
    parser.add_argument("--pin", action="store_true", help="server on CPU 0, load+fakes on 1")
    parser.add_argument("--only", choices=FRAMEWORKS)
    parser.add_argument("--start", type=int, default=4)
    parser.add_argument("--max", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=4 * CYCLE_S, help="seconds a step")
    parser.add_argument("--max-latency", type=float, default=MAX_LATENCY_S)
    parser.add_argument("--json")
    parser.add_argument("--fakes", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fakes:
        return serve_fakes()
    if args.serve:
        serve = serve_wavewire if args.serve == "wavewire" else serve_pipecat
        return serve(args.port, json.loads(args.urls))
    with contextlib.suppress(ImportError, ValueError, OSError):  # fds: ~4 per conversation
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else max(soft, 1 << 16), hard))
    if args.pin:
        PIN = (0, 1)
        os.sched_setaffinity(0, {1})
    frameworks = [args.only] if args.only else list(FRAMEWORKS)
    version = pipecat_version()
    if "pipecat" in frameworks and version is None:
        print("pipecat-ai is not installed: wavewire only")
        frameworks.remove("pipecat")
    print(f"Voice conversations (Deepgram → OpenAI → Cartesia fakes), pipecat-ai {version}; "
          f"pin {PIN}; real time: all answered, turn latency p95 ≤ {args.max_latency} s, "
          f"≤ 1 % answers with an underrun, no lost audio", flush=True)
    results: dict[str, Any] = {}
    for fw in frameworks:
        print(f"{fw}:", flush=True)
        if args.smoke:
            r = run_step(fw, 2, 2 * CYCLE_S, args.max_latency)
            print("  " + describe(r), flush=True)
            best, steps = (2 if r["real_time"] else 0), [r]
        else:
            best, steps = search(fw, args.start, args.max, args.duration, args.max_latency)
        passing = [s["cpu_ms_per_session_s"] for s in steps if s["real_time"]]
        by_cpu = 1e3 / min(passing) if passing else 0.0
        results[fw] = {"sessions": best, "by_cpu": by_cpu, "steps": steps}
    print("\nSummary (sessions per core: the most that stayed real time; by CPU: 1 s ÷ the "
          "server's CPU per session-second at its cheapest passing step)")
    rows = [[fw, str(r["sessions"]), f"{r['by_cpu']:.0f}"] for fw, r in results.items()]
    print_table(["framework", "sessions per core", "by CPU"], rows)
    if "wavewire" in results and "pipecat" in results:
        w, p = results["wavewire"], results["pipecat"]
        ratio = w["sessions"] / p["sessions"] if p["sessions"] else float("inf")
        cpu_ratio = w["by_cpu"] / p["by_cpu"] if p["by_cpu"] else float("inf")
        print(f"\nwavewire / pipecat: {ratio:.1f}x sessions, {cpu_ratio:.1f}x by CPU (target ≥ 10x)")
    if args.smoke and any(not r["steps"][0]["answered"] for r in results.values()):
        sys.exit("smoke: a framework answered no question (see above)")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_info(), "pin": PIN,
                                               "results": results}, indent=2, default=str))


if __name__ == "__main__":
    main()

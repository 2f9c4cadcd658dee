"""Pipeline core benchmark: wavewire vs pipecat-ai (lean) vs a plain chain of awaits.

Run from a checkout (wavewire need not be installed; pipecat-ai is optional)::

    python benchmarks/pipeline.py            # full run (a few minutes on 2 cores)
    python benchmarks/pipeline.py --quick    # short run, rougher figures
    python benchmarks/pipeline.py --smoke    # seconds, meaningless figures (the suite runs it)
    python benchmarks/pipeline.py --json results.json

What is measured, each framework in the same process and the same run:

* **per-hop cost**: K = 1, 10, 50 pass-through processors (the last of the K counts the
  audio frames and passes everything on), 20,000 frames of 20 ms 16 kHz mono PCM
  (640 bytes). Time from queuing the first frame until the last one has reached the
  counting processor, divided by the frame count; min of ``--reps`` runs. The marginal
  cost of a hop is the least-squares slope of that time against K.
* **one frame through a one-processor pipeline**: the K = 1 figure above (the session's
  own source/sink and queuing included).
* **idle latency**: one frame at a time through 10 processors, the loop otherwise idle
  (1 ms pause between frames, so the loop really sleeps), ``time.perf_counter_ns`` from
  queuing to arrival; and the same back to back (``sleep(0)`` between: warm caches).
* **idle sessions**: 200 started, idle sessions of 5 pass-through processors; traced
  memory (tracemalloc) and RSS growth, and asyncio tasks, per session.
* **import time** in fresh interpreters (min of 7), timed around the import statement
  inside the child; the floor is ``import asyncio``, which any asyncio framework pays.

The frames are the ones each framework treats as ordinary, ordered data: wavewire
``OutputAudioFrame`` and pipecat ``OutputAudioRawFrame`` (both data-tier; input audio is a
system frame in both and takes other paths). Frames are built before the clock starts.
The "floor" is K objects whose ``async def f(x): await self.next.f(x)``: what any
design built on awaited calls cannot beat in CPython.

pipecat is configured lean: ``enable_rtvi=False``, ``enable_turn_tracking=False``,
``idle_timeout_secs=None``, ``enable_tracing=False``, and ``PipelineParams`` with metrics,
usage metrics and heartbeats off. In pipecat 1.14 ``PipelineTask``/``PipelineRunner`` are
deprecated aliases of ``PipelineWorker``/``WorkerRunner``; the benchmark uses the latter
directly (same classes, no deprecation warnings), with ``handle_sigint=False``.
Loguru output is switched off for both frameworks. The cyclic GC is collected and then
disabled around every timed section, for every contender alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    gc_paused,
    import_time_ms,
    linear_fit,
    percentile,
    pipecat_version,
    print_table,
    quiet_logs,
    rss_bytes,
    write_json,
)

AUDIO = bytes(640)  # 20 ms of 16 kHz mono 16-bit PCM
RATE = 16000
KS = (1, 10, 50)
LATENCY_K = 10
SESSION_PROCS = 5

TARGETS = {
    "hop": 0.5,  # µs per hop
    "one": 3.0,  # µs per frame through a 1-processor pipeline
    "lat_p50": 10.0,  # µs
    "session_kib": 50.0,
    "session_tasks": 3.0,
    "import": 100.0,  # ms, `import wavewire`
}


# --------------------------------------------------------------------------------------
# Shared counting logic


class Tally:
    """Counts audio frames arriving at the end of a chain; notes when the target is met."""

    __slots__ = ("count", "target", "t_done", "event", "started")

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.t_done = 0
        self.event: asyncio.Event | None = None
        self.started = False

    def arm(self, target: int, event: asyncio.Event) -> None:
        self.count = 0
        self.target = target
        self.t_done = 0
        event.clear()
        self.event = event

    def hit(self) -> None:
        self.count += 1
        if self.count == self.target:
            self.t_done = time.perf_counter_ns()
            assert self.event is not None
            self.event.set()


@dataclass
class Harness:
    """One running session of one contender with K processors."""

    name: str
    tally: Tally
    queue: Callable[[Any], Awaitable[None]]
    make_frame: Callable[[], Any]
    stop: Callable[[], Awaitable[None]]
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Floor: a plain chain of awaited calls


class _FloorLink:
    __slots__ = ("next",)

    def __init__(self, nxt: Any) -> None:
        self.next = nxt

    async def f(self, x: Any) -> None:
        await self.next.f(x)


class _FloorEnd:
    __slots__ = ("tally",)

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def f(self, x: Any) -> None:
        self.tally.hit()


async def floor_start(k: int) -> Harness:
    tally = Tally()
    head: Any = _FloorEnd(tally)
    for _ in range(k - 1):
        head = _FloorLink(head)

    async def stop() -> None:
        return None

    return Harness("floor", tally, head.f, lambda: AUDIO, stop)


# --------------------------------------------------------------------------------------
# wavewire


def _wavewire_classes() -> tuple[type, type]:
    from wavewire import FrameProcessor, OutputAudioFrame, StartFrame

    class WwPass(FrameProcessor):
        """Pass-through: the default process_frame pushes the frame on."""

    class WwCount(FrameProcessor):
        def __init__(self, tally: Tally) -> None:
            super().__init__()
            self.tally = tally

        async def process_frame(self, frame: Any, direction: Any) -> None:
            if type(frame) is OutputAudioFrame:
                self.tally.hit()
            elif isinstance(frame, StartFrame):
                self.tally.started = True
            await self.push(frame, direction)

    return WwPass, WwCount


async def _wait_until(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def wavewire_start(k: int) -> Harness:
    from wavewire import OutputAudioFrame, Pipeline, PipelineRunner, PipelineTask

    WwPass, WwCount = _wavewire_classes()
    tally = Tally()
    procs = [WwPass() for _ in range(k - 1)] + [WwCount(tally)]
    task = PipelineTask(Pipeline(procs))
    runner = PipelineRunner(handle_sigint=False)
    run_task = asyncio.create_task(runner.run(task))
    await _wait_until(lambda: tally.started or run_task.done(), "wavewire start")

    async def stop() -> None:
        await task.cancel("benchmark done")
        await asyncio.wait_for(run_task, 10)

    return Harness(
        "wavewire",
        tally,
        task.queue_frame,
        lambda: OutputAudioFrame(AUDIO, RATE, 1),
        stop,
        {"task": task},
    )


# --------------------------------------------------------------------------------------
# pipecat (lean)

PIPECAT_LEAN_ARGS: dict[str, Any] = {
    "enable_rtvi": False,
    "enable_turn_tracking": False,
    "idle_timeout_secs": None,
    "enable_tracing": False,
}


def _pipecat_classes() -> tuple[type, type]:
    from pipecat.frames.frames import OutputAudioRawFrame, StartFrame
    from pipecat.processors.frame_processor import FrameProcessor

    class PcPass(FrameProcessor):
        async def process_frame(self, frame: Any, direction: Any) -> None:
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)

    class PcCount(FrameProcessor):
        def __init__(self, tally: Tally) -> None:
            super().__init__()
            self.tally = tally

        async def process_frame(self, frame: Any, direction: Any) -> None:
            await super().process_frame(frame, direction)
            if type(frame) is OutputAudioRawFrame:
                self.tally.hit()
            elif isinstance(frame, StartFrame):
                self.tally.started = True
            await self.push_frame(frame, direction)

    return PcPass, PcCount


def _pipecat_worker(procs: list[Any]) -> Any:
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker

    params = PipelineParams(enable_metrics=False, enable_usage_metrics=False,
                            enable_heartbeats=False)
    return PipelineWorker(Pipeline(procs), params=params, **PIPECAT_LEAN_ARGS)


async def pipecat_start(k: int) -> Harness:
    from pipecat.frames.frames import OutputAudioRawFrame
    from pipecat.workers.runner import WorkerRunner

    PcPass, PcCount = _pipecat_classes()
    tally = Tally()
    procs = [PcPass() for _ in range(k - 1)] + [PcCount(tally)]
    worker = _pipecat_worker(procs)
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run_task = asyncio.create_task(runner.run())
    await _wait_until(lambda: tally.started or run_task.done(), "pipecat start")

    async def stop() -> None:
        await worker.cancel(reason="benchmark done")
        try:
            await asyncio.wait_for(asyncio.shield(run_task), 10)
        except TimeoutError:
            await runner.cancel("benchmark done")
            await asyncio.wait_for(run_task, 10)

    return Harness(
        "pipecat",
        tally,
        worker.queue_frame,
        lambda: OutputAudioRawFrame(audio=AUDIO, sample_rate=RATE, num_channels=1),
        stop,
    )


# --------------------------------------------------------------------------------------
# Measurements


async def throughput_us(h: Harness, n: int) -> float:
    """µs per frame for ``n`` frames queued back to back, until the last one arrives."""
    frames = [h.make_frame() for _ in range(n)]
    event = asyncio.Event()
    h.tally.arm(n, event)
    queue = h.queue
    with gc_paused():
        t0 = time.perf_counter_ns()
        for frame in frames:
            await queue(frame)
        await asyncio.wait_for(event.wait(), 300)
        elapsed = h.tally.t_done - t0
    del frames
    return elapsed / n / 1e3


async def latencies_us(h: Harness, reps: int, pause: float) -> list[float]:
    """Latency of single frames through an otherwise idle chain."""
    frames = [h.make_frame() for _ in range(reps)]
    event = asyncio.Event()
    tally = h.tally
    queue = h.queue
    out: list[float] = []
    with gc_paused():
        for frame in frames:
            tally.arm(1, event)
            t0 = time.perf_counter_ns()
            await queue(frame)
            await event.wait()
            out.append((tally.t_done - t0) / 1e3)
            await asyncio.sleep(pause)
    return out


Starter = Callable[[int], Awaitable[Harness]]


async def bench_throughput(starters: dict[str, Starter], n: int, reps: int,
                           log: Callable[[str], None]) -> dict[str, dict[int, dict[str, Any]]]:
    results: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in starters}
    for k in KS:
        for name, start in starters.items():
            h = await start(k)
            # Cheap runs get more repetitions: min-of-N filters the noise of a shared VM.
            count = reps if name == "pipecat" else reps * 3
            try:
                await throughput_us(h, min(n, 2000))  # warm-up
                runs = [await throughput_us(h, n) for _ in range(count)]
            finally:
                await h.stop()
            results[name][k] = {"min": min(runs), "median": sorted(runs)[len(runs) // 2],
                                "runs": runs}
            log(f"  throughput K={k:<3} {name:<9} min {min(runs):9.3f} µs/frame  "
                f"runs {', '.join(f'{r:.3f}' for r in runs)}")
    return results


async def bench_latency(starters: dict[str, Starter], reps: int, pause: float,
                        log: Callable[[str], None]) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, start in starters.items():
        h = await start(LATENCY_K)
        try:
            await latencies_us(h, 50, pause)  # warm-up
            lat = await latencies_us(h, reps, pause)
        finally:
            await h.stop()
        results[name] = {
            "p50": percentile(lat, 50),
            "p90": percentile(lat, 90),
            "p99": percentile(lat, 99),
            "min": min(lat),
            "n": len(lat),
        }
        r = results[name]
        log(f"  idle latency K={LATENCY_K} {name:<9} p50 {r['p50']:8.2f} µs  "
            f"p99 {r['p99']:8.2f} µs  min {r['min']:.2f} µs")
    return results


# -- idle sessions ---------------------------------------------------------------------


async def _wavewire_sessions(n: int) -> Callable[[], Awaitable[None]]:
    from wavewire import Pipeline, PipelineRunner, PipelineTask

    WwPass, WwCount = _wavewire_classes()
    tallies = [Tally() for _ in range(n)]
    tasks = [
        PipelineTask(Pipeline([WwPass() for _ in range(SESSION_PROCS - 1)] + [WwCount(t)]))
        for t in tallies
    ]
    runner = PipelineRunner(handle_sigint=False)
    run_task = asyncio.create_task(runner.run(*tasks))
    await _wait_until(lambda: all(t.started for t in tallies), "wavewire sessions")

    async def stop() -> None:
        await runner.cancel("benchmark done")
        await asyncio.wait_for(run_task, 30)

    return stop


async def _pipecat_sessions(n: int, shared_runner: bool) -> Callable[[], Awaitable[None]]:
    from pipecat.workers.runner import WorkerRunner

    PcPass, PcCount = _pipecat_classes()
    tallies = [Tally() for _ in range(n)]
    workers = [
        _pipecat_worker([PcPass() for _ in range(SESSION_PROCS - 1)] + [PcCount(t)])
        for t in tallies
    ]
    runners: list[Any] = []
    run_tasks: list[asyncio.Task] = []
    if shared_runner:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(*workers)
        runners.append(runner)
        run_tasks.append(asyncio.create_task(runner.run()))
    else:  # one runner per session, as in pipecat's examples (`bot()` per connection)
        for worker in workers:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(worker)
            runners.append(runner)
            run_tasks.append(asyncio.create_task(runner.run()))
    await _wait_until(lambda: all(t.started for t in tallies), "pipecat sessions", 60)

    async def stop() -> None:
        await asyncio.gather(*(r.cancel("benchmark done") for r in runners))
        await asyncio.wait_for(asyncio.gather(*run_tasks), 60)

    return stop


async def _one_session_pass(factory: Callable[[int], Awaitable[Callable[[], Awaitable[None]]]],
                            n: int, trace: bool, settle: float) -> dict[str, float]:
    me = asyncio.current_task()
    gc.collect()
    tasks0 = len([t for t in asyncio.all_tasks() if t is not me])
    if trace:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    else:
        base = rss_bytes()
    stop = await factory(n)
    try:
        await asyncio.sleep(settle)
        gc.collect()
        if trace:
            used = tracemalloc.get_traced_memory()[0] - base
        else:
            used = rss_bytes() - base
        tasks = len([t for t in asyncio.all_tasks() if t is not me]) - tasks0
    finally:
        if trace:
            tracemalloc.stop()
        await stop()
    gc.collect()
    return {"bytes": used / n, "tasks": tasks / n}


SESSION_FACTORIES: dict[str, Callable[[int], Awaitable[Callable[[], Awaitable[None]]]]] = {
    "wavewire": _wavewire_sessions,
    "pipecat (shared runner)": lambda n: _pipecat_sessions(n, True),
    "pipecat (runner each)": lambda n: _pipecat_sessions(n, False),
}


async def session_child(name: str, n: int, settle: float) -> dict[str, Any]:
    """In a fresh interpreter (so RSS means something): warm up with one session, then
    start ``n`` sessions twice, once for RSS and once under tracemalloc."""
    quiet_logs()
    factory = SESSION_FACTORIES[name]
    me = asyncio.current_task()
    before = {t for t in asyncio.all_tasks() if t is not me}
    stop = await factory(1)  # warm-up: lazy imports and first-use caches
    await stop()
    rss = await _one_session_pass(factory, n, False, settle)
    traced = await _one_session_pass(factory, n, True, settle)
    await asyncio.sleep(0.05)
    leaked = [t.get_name() for t in asyncio.all_tasks() if t is not me and t not in before]
    return {"kib": traced["bytes"] / 1024, "rss_kib": rss["bytes"] / 1024,
            "tasks": traced["tasks"], "leaked_tasks": leaked}


def bench_sessions(names: list[str], n: int, settle: float,
                   log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        proc = subprocess.run(
            [sys.executable, __file__, "--session-child", name, "--sessions", str(n),
             "--settle", str(settle)],
            capture_output=True, text=True, check=False, timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"session child {name!r} failed: {proc.stderr[-2000:]}")
        r = results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"  idle sessions x{n} {name:<23} {r['kib']:8.1f} KiB traced  "
            f"{r['rss_kib']:8.1f} KiB RSS  {r['tasks']:.2f} tasks per session"
            + (f"  LEAKED {r['leaked_tasks']}" if r["leaked_tasks"] else ""))
    return results


# -- imports ---------------------------------------------------------------------------

IMPORTS = {
    "wavewire": {
        "import wavewire": "import wavewire",
        "import wavewire.pipelines": "import wavewire.pipelines",
        "from wavewire import PipelineTask": "from wavewire import PipelineTask",
        "server entry": "from wavewire.transports.server import WebSocketServer",
    },
    "floor": {"import asyncio": "import asyncio"},
    "pipecat": {
        "import pipecat": "import pipecat",
        "import pipecat.pipeline.task + .pipeline":
            "import pipecat.pipeline.task, pipecat.pipeline.pipeline",
        "server entry": "import pipecat.pipeline.task, pipecat.pipeline.runner, "
        "pipecat.transports.websocket.fastapi",
    },
}


def bench_imports(have_pipecat: bool, runs: int,
                  log: Callable[[str], None]) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for fw, stmts in IMPORTS.items():
        if fw == "pipecat" and not have_pipecat:
            continue
        results[fw] = {}
        for label, stmt in stmts.items():
            r = import_time_ms(stmt, runs)
            results[fw][label] = r
            log(f"  import  {label:<42} {r['inproc']:8.1f} ms in-process  "
                f"{r['wall']:8.1f} ms wall minus baseline")
    return results


# --------------------------------------------------------------------------------------
# Report


def _fmt(v: float | None, unit: str, digits: int = 2) -> str:
    if v is None:
        return "—"
    return f"{v:.{digits}f} {unit}"


def _ratio(ww: float | None, pc: float | None) -> str:
    if ww is None or pc is None or pc <= 0 or ww <= 0:
        return "—"
    return f"{ww / pc:.3f} (1/{pc / ww:.0f})" if ww < pc else f"{ww / pc:.2f}"


def _ok(v: float | None, target: float | None) -> str:
    if v is None or target is None:
        return ""
    return "✓" if v <= target else "✗"


def report(res: dict[str, Any], have_pipecat: bool) -> list[list[str]]:
    tp = res["throughput"]
    hop = res["hop_us"]
    lat = res["latency"]
    ses = res["sessions"]
    imp = res["imports"]
    rows: list[list[str]] = []

    def row(measure: str, ww: float | None, pc: float | None, fl: float | None, unit: str,
            target: float | None, target_txt: str = "", digits: int = 2) -> None:
        cells = [measure, _fmt(ww, unit, digits)]
        if have_pipecat:
            cells.append(_fmt(pc, unit, digits))
        cells += [_fmt(fl, unit, digits), target_txt or (f"≤ {target:g} {unit}" if target else "")]
        if have_pipecat:
            cells.append(_ratio(ww, pc))
        cells.append(_ok(ww, target))
        rows.append(cells)

    def g(d: dict[str, Any], *keys: Any) -> float | None:
        for key in keys:
            if not isinstance(d, dict) or key not in d:
                return None
            d = d[key]
        return d  # type: ignore[return-value]

    row("marginal cost per processor hop (slope, K=1/10/50)", hop.get("wavewire"),
        hop.get("pipecat"), hop.get("floor"), "µs", TARGETS["hop"], digits=3)
    row("one frame through a 1-processor pipeline", g(tp, "wavewire", 1, "min"),
        g(tp, "pipecat", 1, "min"), g(tp, "floor", 1, "min"), "µs", TARGETS["one"])
    for k in KS[1:]:
        row(f"per frame through {k} processors", g(tp, "wavewire", k, "min"),
            g(tp, "pipecat", k, "min"), g(tp, "floor", k, "min"), "µs", None)
    row(f"idle latency, {LATENCY_K} processors, p50", g(lat, "wavewire", "p50"),
        g(lat, "pipecat", "p50"), g(lat, "floor", "p50"), "µs", TARGETS["lat_p50"])
    row(f"idle latency, {LATENCY_K} processors, p99", g(lat, "wavewire", "p99"),
        g(lat, "pipecat", "p99"), g(lat, "floor", "p99"), "µs", None)
    hot = res.get("latency_hot", {})
    row(f"back-to-back latency (sleep(0) between), {LATENCY_K} processors, p50",
        g(hot, "wavewire", "p50"), g(hot, "pipecat", "p50"), g(hot, "floor", "p50"), "µs",
        None)
    pc_ses = ses.get("pipecat (shared runner)")
    row("memory per idle session (tracemalloc)", g(ses, "wavewire", "kib"),
        g(pc_ses or {}, "kib"), None, "KiB", TARGETS["session_kib"], digits=1)
    row("memory per idle session (RSS)", g(ses, "wavewire", "rss_kib"),
        g(pc_ses or {}, "rss_kib"), None, "KiB", None, digits=1)
    row("asyncio tasks per idle session", g(ses, "wavewire", "tasks"),
        g(pc_ses or {}, "tasks"), None, "", TARGETS["session_tasks"], "≤ 3", digits=2)
    pc_own = ses.get("pipecat (runner each)")
    if pc_own:
        row("  pipecat with a runner per session: memory", None, pc_own["kib"], None, "KiB",
            None, digits=1)
        row("  pipecat with a runner per session: tasks", None, pc_own["tasks"], None, "",
            None, digits=2)
    wwi = imp.get("wavewire", {})
    pci = imp.get("pipecat", {})
    fl_imp = g(imp, "floor", "import asyncio", "inproc")
    pc_core = g(pci, "import pipecat.pipeline.task + .pipeline", "inproc")
    row("import time: `import wavewire`", g(wwi, "import wavewire", "inproc"), None, None,
        "ms", TARGETS["import"], digits=1)
    row("import time: `import wavewire.pipelines` (pipecat: .pipeline.task + .pipeline; "
        "floor: `import asyncio`)",
        g(wwi, "import wavewire.pipelines", "inproc"), pc_core, fl_imp, "ms", TARGETS["import"],
        digits=1)
    row("import time: `from wavewire import PipelineTask`",
        g(wwi, "from wavewire import PipelineTask", "inproc"), pc_core, fl_imp, "ms",
        TARGETS["import"], digits=1)
    row("import time: the WebSocket server entry point (wavewire.transports.server; pipecat: "
        "task, runner and the FastAPI WebSocket transport)",
        g(wwi, "server entry", "inproc"), g(pci, "server entry", "inproc"), fl_imp, "ms",
        TARGETS["import"], digits=1)
    return rows


# --------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    quiet_logs()
    have_pipecat = pipecat_version() is not None and not args.no_pipecat
    quiet_logs()  # pipecat adds nothing, but be sure its banner handler is gone too

    def log(msg: str) -> None:
        print(msg, flush=True)

    n = 2000 if args.quick else args.frames
    reps = 2 if args.quick else args.reps
    lat_reps = 300 if args.quick else 2000
    n_sessions = args.sessions or (50 if args.quick else 200)
    settle = 0.2 if args.quick else 0.5
    import_runs = 3 if args.quick else 7
    if args.smoke:
        n, reps, lat_reps, n_sessions, settle, import_runs = 100, 1, 20, 5, 0.05, 1

    res: dict[str, Any] = {
        "config": {"frames": n, "reps": reps, "latency_reps": lat_reps,
                   "sessions": n_sessions, "ks": KS, "quick": args.quick,
                   "pipecat": pipecat_version() if have_pipecat else None,
                   "pipecat_lean_args": PIPECAT_LEAN_ARGS if have_pipecat else None},
    }
    me = asyncio.current_task()
    tasks_before = {t for t in asyncio.all_tasks() if t is not me}

    log(f"imports (fresh interpreters, min of {import_runs})")
    res["imports"] = bench_imports(have_pipecat, import_runs, log)

    starters: dict[str, Starter] = {"wavewire": wavewire_start}
    if have_pipecat:
        starters["pipecat"] = pipecat_start
    starters["floor"] = floor_start

    log(f"throughput ({n} frames, min of {reps} for pipecat, {reps * 3} for the others)")
    res["throughput"] = await bench_throughput(starters, n, reps, log)
    res["hop_us"] = {
        name: linear_fit(list(KS), [by_k[k]["min"] for k in KS])[0]
        for name, by_k in res["throughput"].items()
    }
    for name, slope in res["hop_us"].items():
        log(f"  marginal cost per hop {name:<9} {slope:.3f} µs")

    log(f"idle latency ({lat_reps} frames, {args.pause * 1e3:g} ms apart)")
    res["latency"] = await bench_latency(starters, lat_reps, args.pause, log)
    log(f"back-to-back latency ({lat_reps} frames, sleep(0) between: caches stay warm)")
    res["latency_hot"] = await bench_latency(starters, lat_reps, 0.0, log)

    log(f"idle sessions ({n_sessions} x {SESSION_PROCS} processors, fresh interpreters)")
    names = ["wavewire"]
    if have_pipecat:
        names += ["pipecat (shared runner)"] + ([] if args.smoke else ["pipecat (runner each)"])
    res["sessions"] = bench_sessions(names, n_sessions, settle, log)
    child_leaks = {k: v["leaked_tasks"] for k, v in res["sessions"].items() if v["leaked_tasks"]}

    await asyncio.sleep(0.05)
    leaked = [t for t in asyncio.all_tasks() if t is not me and t not in tasks_before]
    res["leaked_tasks"] = [t.get_name() for t in leaked]
    if child_leaks:
        log(f"WARNING: tasks left running in session children: {child_leaks}")
        res["leaked_tasks"] += [f"{k}: {v}" for k, v in child_leaks.items()]
    if leaked:
        log(f"WARNING: {len(leaked)} task(s) still running: {res['leaked_tasks'][:10]}")
        for t in leaked:
            t.cancel()
        await asyncio.wait(leaked, timeout=5)
    else:
        log("no task left running")

    print()
    headers = ["measure", "wavewire"]
    if have_pipecat:
        headers.append(f"pipecat {res['config']['pipecat']} lean")
    headers += ["floor (plain awaits)", "target"]
    if have_pipecat:
        headers.append("wavewire/pipecat")
    headers.append("")
    print_table(headers, report(res, have_pipecat))
    if not have_pipecat:
        print("\n(pipecat-ai not importable: wavewire and floor only)")
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run, rougher figures")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds: tiny counts, meaningless figures (checks it still runs)")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--frames", type=int, default=20_000, help="frames per throughput run")
    parser.add_argument("--reps", type=int, default=5,
                        help="throughput runs per point for pipecat (min of them); the cheap "
                        "contenders get 3x as many")
    parser.add_argument("--pause", type=float, default=0.001,
                        help="seconds between idle-latency frames")
    parser.add_argument("--no-pipecat", action="store_true", help="skip pipecat even if present")
    parser.add_argument("--sessions", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("--session-child", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.session_child:  # internal: one idle-session measurement in a fresh process
        out = asyncio.run(session_child(args.session_child, args.sessions or 200, args.settle))
        print(json.dumps(out))
        return 0
    res = asyncio.run(amain(args))
    if args.json:
        write_json(args.json, res)
        print(f"\nresults written to {args.json}")
    return 1 if res.get("leaked_tasks") else 0


if __name__ == "__main__":
    sys.exit(main())

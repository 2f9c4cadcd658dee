"""Output edge cost: CPU instructions (and wall time) per 20 ms output audio frame.

Pushes N frames of 20 ms 16 kHz mono PCM from a processor into an
:class:`~wavewire.transports.edges.OutputEdge`, pacing off, on a fake clock, into an
in-memory connection that always takes the message at once: the per-frame send path of
a server session whose peer keeps up. Two protocols: ``raw`` (the wire is the pipeline's
PCM, the usual fast path) and ``twilio`` (converted to 8 kHz, mu-law, base64 JSON).

Run from a checkout::

    python benchmarks/edge_cost.py              # wall µs per frame (noisy on a shared box)
    python benchmarks/edge_cost.py --callgrind  # instructions per frame (deterministic)
    python benchmarks/edge_cost.py --smoke      # seconds; what the suite runs

``--callgrind`` runs this script under ``valgrind --tool=callgrind`` twice per protocol
(N and 5N frames) and divides the difference in instructions by 4N, so start-up and
import cost cancel out. ``PYTHONHASHSEED`` is fixed and numpy's BLAS runs one thread, so
runs repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wavewire.frames import OutputAudioFrame  # noqa: E402
from wavewire.pipelines import PipelineTask  # noqa: E402
from wavewire.processors import FrameProcessor  # noqa: E402
from wavewire.testing import FakeClock, start_task  # noqa: E402
from wavewire.transports.edges import OutputEdge  # noqa: E402

PROTOCOLS = ("raw", "twilio")


class _Sink:
    """A connection whose peer always keeps up: counts what it is given."""

    def __init__(self) -> None:
        self.count = 0

    def send_nowait(self, message: Any) -> bool:
        self.count += 1
        return True

    async def send(self, message: Any) -> None:
        self.count += 1


def _serializer(protocol: str) -> Any:
    if protocol == "raw":
        from wavewire.serializers.raw import RawSerializer

        return RawSerializer()
    from wavewire.serializers.twilio import TwilioSerializer

    return TwilioSerializer(stream_sid="MZ0")  # as after the peer's "start" event


async def _run(protocol: str, frames: int) -> tuple[float, int]:
    """Push ``frames`` frames through an output edge; (wall seconds, messages sent)."""
    clock = FakeClock()
    sink = _Sink()
    edge = OutputEdge(_serializer(protocol), sink.send, send_nowait=sink.send_nowait,
                      pace=False, name="out")
    bot = FrameProcessor(name="bot")
    task = PipelineTask([bot, edge], clock=clock)
    runner = await start_task(task)
    pcm = bytes(range(256)) * 2 + bytes(128)  # 640 bytes: 20 ms at 16 kHz mono
    push = bot.push
    t0 = time.perf_counter()
    for _ in range(frames):
        await push(OutputAudioFrame(pcm, 16000))
    elapsed = time.perf_counter() - t0
    await task.stop_when_done()
    await asyncio.wait_for(runner, 5)
    if edge.stats.messages_out < frames:
        raise SystemExit(f"{protocol}: {edge.stats.messages_out} of {frames} frames sent")
    return elapsed, sink.count


def _instructions(protocol: str, frames: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        # One BLAS thread: idle worker threads spin for as long as the machine lets
        # them, and callgrind would count that.
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT),
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--one", protocol, "--frames", str(frames)],
            env=env, check=True, capture_output=True,
        )
        text = Path(out).read_text(errors="replace")
    match = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if match is None:
        raise SystemExit("no instruction total in callgrind's output")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds; what the suite runs")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions per frame under valgrind (deterministic)")
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--protocols", default=",".join(PROTOCOLS),
                        help="comma-separated, from: " + ", ".join(PROTOCOLS))
    parser.add_argument("--one", choices=PROTOCOLS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # one measured run (under callgrind)
        asyncio.run(_run(args.one, args.frames))
        return
    frames = 200 if args.smoke else args.frames
    print(f"Output edge, 20 ms frames, pacing off ({frames} frames)")
    for protocol in args.protocols.split(","):
        if protocol not in PROTOCOLS:
            raise SystemExit(f"unknown protocol {protocol!r}")
        if args.callgrind:
            n = max(100, frames // 5)
            per = (_instructions(protocol, 5 * n) - _instructions(protocol, n)) / (4 * n)
            print(f"  {protocol:<7} {per:>10,.0f} instructions per frame")
        else:
            elapsed, _ = asyncio.run(_run(protocol, frames))
            print(f"  {protocol:<7} {elapsed / frames * 1e6:>8.2f} µs per frame")


if __name__ == "__main__":
    main()

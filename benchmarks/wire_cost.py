"""The server's WebSocket layer alone, in process: the cost of one echoed audio frame.

A :class:`~wavewire.transports.wire.ServerConnection` is opened on a fake transport (no
socket, no system call): the handshake is fed in, a consuming task is started the way
the server starts it (``create_task(..., context=)`` so messages are handled inline),
then N masked 640-byte binary frames (20 ms of 16 kHz PCM) are fed one per read (or
``--per-read`` of them, as a server behind on its reads gets them) through
``get_buffer``/``buffer_updated``, each echoed by the handler with ``send_nowait``.
What is left is the layer's own per-frame work: parsing, unmasking, running the handler
as the consuming task, framing and writing the answer.

Run: ``python benchmarks/wire_cost.py`` prints µs per echoed frame (wall clock, noisy on
a shared machine). ``--callgrind`` re-runs itself under ``valgrind --tool=callgrind`` at
two frame counts and prints the instructions per frame (the difference between the two
runs over the difference in frames, so start-up is not counted): deterministic, the
figure to compare two versions of ``wire.py`` with (run it with ``PYTHONPATH`` pointing
at the other tree). ``--smoke``: a few hundred frames, what the test suite runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextvars
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):  # else PYTHONPATH says which tree is measured
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wavewire.testing.transport import FakeTransport, feed
from wavewire.transports import wire
from wavewire.transports.wire import ServerConnection

FRAME_BYTES = 640
KEY = base64.b64encode(b"0123456789abcdef").decode()
REQUEST = (
    "GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()


def masked_frame(payload: bytes, mask: bytes = b"\x11\x22\x33\x44") -> bytes:
    """A client's binary frame (masked with a fixed key, so every run is the same)."""
    n = len(payload)
    head = bytes((0x82, 0x80 | 126)) + struct.pack("!H", n) if n > 125 else bytes((0x82, 0x80 | n))
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


async def run(frames: int, per_read: int = 1) -> tuple[float, int]:
    """Echo ``frames`` frames, ``per_read`` to a read; returns (seconds spent feeding
    them, bytes echoed)."""
    loop = asyncio.get_running_loop()
    transport = FakeTransport(keep=False)
    context = contextvars.copy_context()
    tasks: list[asyncio.Task[None]] = []
    holder: list[ServerConnection] = []

    async def echo(message: bytes | str) -> None:
        conn = holder[0]
        if not conn.send_nowait(message):
            await conn.send(message)

    async def serve(conn: ServerConnection) -> None:
        try:
            await conn.consume(echo, context)
        except Exception:  # the connection closed: the run is over
            pass

    def on_request(conn: ServerConnection, request: Any) -> None:
        conn.accept()
        holder.append(conn)
        tasks.append(loop.create_task(serve(conn), context=context))

    conn = ServerConnection(on_request, read_buffer=memoryview(bytearray(1 << 18)),
                            open_timeout=None, ping_interval=None)
    conn.connection_made(transport)  # type: ignore[arg-type]
    feed(conn, REQUEST)
    for _ in range(3):
        await asyncio.sleep(0)  # the consuming task starts and waits for a message
    frame = masked_frame(bytes(range(256)) * 2 + bytes(FRAME_BYTES - 512)) * per_read
    before = transport.written
    done: asyncio.Future[float] = loop.create_future()

    def read_callback() -> None:  # as the event loop's read callback: outside any task
        start = time.perf_counter()
        for _ in range(frames // per_read):
            feed(conn, frame)
        done.set_result(time.perf_counter() - start)

    loop.call_soon(read_callback)
    seconds = await done
    echoed = transport.written - before
    conn.connection_lost(None)
    await asyncio.wait(tasks, timeout=1)
    return seconds, echoed


def measure(frames: int, per_read: int = 1) -> float:
    """µs per echoed frame, checking every frame came back."""
    frames -= frames % per_read
    seconds, echoed = asyncio.run(run(frames, per_read))
    want = frames * (4 + FRAME_BYTES)
    if echoed != want:
        raise SystemExit(f"echoed {echoed} bytes, expected {want}")
    return seconds / frames * 1e6


def callgrind_ir(frames: int, per_read: int) -> int:
    """Total instructions of one run of ``frames`` frames under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--callgrind needs valgrind")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        proc = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--frames", str(frames), "--per-read", str(per_read),
             "--quiet"],
            env=env, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stdout[-2000:] + proc.stderr[-2000:])
        text = Path(out).read_text()
    found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if found is None:
        raise SystemExit("no total in callgrind's output")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20000, help="frames to echo")
    parser.add_argument("--per-read", type=int, default=1,
                        help="frames in each read (several: a server behind on its reads)")
    parser.add_argument("--smoke", action="store_true", help="a few hundred frames")
    parser.add_argument("--callgrind", action="store_true",
                        help="instructions per frame, under valgrind (deterministic)")
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    frames = 300 if args.smoke else args.frames
    per_read = max(1, args.per_read)
    if args.quiet:  # the run callgrind measures
        measure(frames, per_read)
        return
    if args.callgrind:
        low, high = (frames // 4, frames) if not args.smoke else (100, 300)
        low, high = low - low % per_read, high - high % per_read
        ir_low, ir_high = callgrind_ir(low, per_read), callgrind_ir(high, per_read)
        per = (ir_high - ir_low) / (high - low)
        print(f"{wire.__file__}")
        print(f"instructions per echoed frame: {per:,.0f} "
              f"({ir_low:,} Ir at {low} frames, {ir_high:,} Ir at {high})")
        return
    measure(min(frames, 1000), per_read)  # warm up
    best = min(measure(frames, per_read) for _ in range(3))
    print(f"{wire.__file__}")
    print(f"µs per echoed frame: {best:.2f} ({frames} frames of {FRAME_BYTES} bytes, "
          f"{per_read} per read, best of 3)")


if __name__ == "__main__":
    main()

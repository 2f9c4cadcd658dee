"""What the WebSocket *client* costs per message sent: wavewire's ``WebSocketClient`` vs
the bare wire libraries it could stand on.

Run from a checkout::

    python benchmarks/ws_client.py                    # 50 clients, 10 s, 3 repeats
    python benchmarks/ws_client.py --base /tmp/old    # also the client of another tree
    python benchmarks/ws_client.py --smoke            # seconds (CI)

N clients (``--clients``, default 50) in one process each send a 640-byte binary message
(20 ms of 16 kHz mono PCM) every 20 ms to a local sink for ``--seconds``; the figure is
the client process's CPU time (``time.process_time``) over the measured window divided
by the messages sent in it, in µs. The sink (its own process) completes the handshake,
discards data frames and answers a close; its cost is not counted.

Each variant runs in a fresh child process, so none inherits another's state:

* **floor**: the same pacing loop with no send at all (what every variant pays);
* **websockets**: the ``websockets`` library's public path, ``await conn.send(message)``;
* **picows**: bare ``picows``, ``transport.send(WSMsgType.BINARY, message)``;
* **client**: ``WebSocketClient.send`` of the tree this script runs from;
* **client@base**: the same, imported from ``--base PATH`` (e.g. a ``git worktree`` of the
  previous commit), so old and new clients are measured in one run.

With ``--burst`` each client instead sends back to back (one message per client per
loop iteration, no timers) for ``--seconds``: no wakeups between messages, so the
figure is the send path and the socket write alone, and much less noisy.

Each variant is run ``--repeat`` times (default 3) and the median is printed, with the
figure minus the floor (the send path alone). The machine may be shared: compare
variants of one run, not runs of different times.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = bytes(640)
PERIOD = 0.02
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- the sink (child process) -----------------------------------------------------------------


class Sink(asyncio.Protocol):
    """Completes the handshake, discards data frames, answers a close and hangs up."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            key = b""
            for line in bytes(buf[:end]).split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            assert self.transport is not None
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                                 + b"\r\n\r\n")
            del buf[:end + 4]
            self.upgraded = True
        while len(buf) >= 2:
            length, at = buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, at = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, at = int.from_bytes(buf[2:10], "big"), 10
            at += 4 if buf[1] & 0x80 else 0
            if len(buf) < at + length:
                return
            opcode = buf[0] & 0x0F
            del buf[:at + length]
            if opcode == 8 and self.transport is not None:
                self.transport.write(b"\x88\x02\x03\xe8")
                self.transport.close()
                return


def run_sink(port_file: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Sink, "127.0.0.1", 0, backlog=1024)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))  # noqa: ASYNC240
        await asyncio.Event().wait()

    asyncio.run(main())


# -- one variant (child process) ----------------------------------------------------------------


async def open_senders(impl: str, url: str, n: int) -> tuple[list[Any], Any]:
    """``n`` connections and a ``send(conn)`` for ``impl``; returns (connections, send)."""
    if impl == "floor":
        return [None] * n, None
    if impl == "websockets":
        from websockets.asyncio.client import connect

        conns = [await connect(url, compression=None, ping_interval=None) for _ in range(n)]

        async def ws_send(conn: Any) -> None:
            await conn.send(PAYLOAD)

        return conns, ws_send
    if impl == "picows":
        import picows

        binary = picows.WSMsgType.BINARY
        pconns = [(await picows.ws_connect(picows.WSListener, url))[0] for _ in range(n)]

        async def pico_send(transport: Any) -> None:
            transport.send(binary, PAYLOAD)

        return pconns, pico_send
    from wavewire.serializers.raw import RawSerializer
    from wavewire.transports.client import WebSocketClient

    clients = [WebSocketClient(url, RawSerializer, reconnect=None, close_timeout=1.0)
               for _ in range(n)]
    for client in clients:
        await client.connect()

    async def client_send(client: Any) -> None:
        await client.send(PAYLOAD)

    return clients, client_send


async def close_senders(impl: str, conns: list[Any]) -> None:
    for conn in conns:
        if impl == "picows":
            conn.disconnect()
        elif impl != "floor":
            await conn.close()


async def measure_burst(impl: str, url: str, n: int, seconds: float) -> dict[str, Any]:
    """Every connection sends one message per round, rounds back to back (``--burst``)."""
    loop = asyncio.get_running_loop()
    conns, send = await open_senders(impl, url, n)
    sent = 0
    cpu0, wall0 = time.process_time(), loop.time()
    while loop.time() - wall0 < seconds:
        for conn in conns:
            if send is not None:
                await send(conn)
        sent += n
        await asyncio.sleep(0)  # let the loop write and read
    cpu1 = time.process_time()
    await close_senders(impl, conns)
    return {"impl": impl, "messages": sent, "cpu_s": cpu1 - cpu0,
            "us_per_msg": 1e6 * (cpu1 - cpu0) / max(1, sent), "real_time": 0.0}


async def measure(impl: str, url: str, n: int, seconds: float, warmup: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    conns, send = await open_senders(impl, url, n)
    sent = 0
    counting = False
    stop_at = loop.time() + warmup + seconds + 1.0

    async def pace(conn: Any, offset: float) -> None:
        nonlocal sent
        due = loop.time() + offset
        while due < stop_at:
            if send is not None:
                await send(conn)
            if counting:
                sent += 1
            due += PERIOD
            await asyncio.sleep(max(0.0, due - loop.time()))

    tasks = [asyncio.ensure_future(pace(c, PERIOD * i / n)) for i, c in enumerate(conns)]
    await asyncio.sleep(warmup)
    counting = True
    cpu0, wall0 = time.process_time(), loop.time()
    await asyncio.sleep(seconds)
    cpu1, wall1 = time.process_time(), loop.time()
    counting = False
    messages = sent
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await close_senders(impl, conns)
    expected = n * (wall1 - wall0) / PERIOD
    return {"impl": impl, "messages": messages, "cpu_s": cpu1 - cpu0,
            "us_per_msg": 1e6 * (cpu1 - cpu0) / max(1, messages),
            "real_time": messages / expected if expected else 0.0}


def run_child(args: argparse.Namespace) -> None:
    new_loop = asyncio.new_event_loop
    if args.loop == "uvloop":
        import uvloop

        new_loop = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=new_loop) as runner:
        if args.burst:
            result = runner.run(measure_burst(args.child, args.url, args.clients,
                                              args.seconds))
        else:
            result = runner.run(measure(args.child, args.url, args.clients, args.seconds,
                                        args.warmup))
    print(json.dumps(result))


# -- the controller ---------------------------------------------------------------------------


def free_loop_choice(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--impls", default="floor,websockets,picows,client")
    parser.add_argument("--base", help="a tree whose WebSocketClient is measured as client@base")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--burst", action="store_true",
                        help="send back to back instead of every 20 ms")
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (CI)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.loop = free_loop_choice(args.loop)
    if args.child:
        run_child(args)
        return
    if args.smoke:
        args.clients, args.seconds, args.warmup, args.repeat = 5, 0.5, 0.2, 1
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    variants: list[tuple[str, str, str]] = [(i, i, str(ROOT)) for i in impls]
    if args.base:
        variants.append(("client@base", "client", str(Path(args.base).resolve())))

    port_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"ws_client_sink.{os.getpid()}"
    sink = subprocess.Popen([sys.executable, __file__, "--child", "sink", "--url", str(port_file)])
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or sink.poll() is not None:
                raise SystemExit("the sink did not start")
            time.sleep(0.02)
        url = f"ws://127.0.0.1:{int(port_file.read_text())}/ws"
        with socket.create_connection(("127.0.0.1", int(port_file.read_text())), 5):
            pass
        pacing = "back to back" if args.burst else "every 20 ms"
        print(f"{args.clients} clients x 640 B {pacing}, {args.seconds:g} s, "
              f"loop {args.loop}, median of {args.repeat}")
        results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
        for _ in range(args.repeat):
            for label, impl, tree in variants:
                env = {**os.environ, "PYTHONPATH": tree}
                out = subprocess.run(
                    [sys.executable, __file__, "--child", impl, "--url", url,
                     "--clients", str(args.clients), "--seconds", str(args.seconds),
                     "--warmup", str(args.warmup), "--loop", args.loop,
                     *(["--burst"] if args.burst else [])],
                    env=env, capture_output=True, text=True, timeout=120 + args.seconds,
                    check=False, cwd=tree)
                if out.returncode != 0:
                    raise SystemExit(f"{label} failed:\n{out.stdout}\n{out.stderr}")
                results[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        sink.terminate()
        sink.wait(10)
        port_file.unlink(missing_ok=True)

    def median(label: str, key: str) -> float:
        return statistics.median(r[key] for r in results[label])

    floor = median("floor", "us_per_msg") if "floor" in results else 0.0
    print(f"| {'variant':<12} | µs/msg | minus floor | real time | messages |")
    print(f"|{'-' * 14}|--------|-------------|-----------|----------|")
    for label in results:
        us = median(label, "us_per_msg")
        real = "n/a" if args.burst else f"{median(label, 'real_time'):.0%}"
        print(f"| {label:<12} | {us:6.1f} | {us - floor:11.1f} | {real:>9} | "
              f"{int(median(label, 'messages')):8d} |")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1:3] == ["--child", "sink"]:
        run_sink(sys.argv[4])
    else:
        main()

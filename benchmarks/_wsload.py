"""Load generator of ``benchmarks/websocket.py``: many real-time raw-PCM WebSocket clients.

One asyncio process drives every client through a minimal hand-written WebSocket client
(``asyncio.Protocol``: a handshake, frame parsing, nothing else), so the generator costs
a few µs per frame and leaves the CPU to the server under test. The masking key of every
client frame is zero: a legal key (the server unmasks with whatever key it is given) that
makes masking a copy; a browser would pick random keys, which only matters for proxies.

Each client sends one 20 ms frame (640 bytes: 16 kHz mono s16le) per period on an
absolute schedule ``t0 + slot + k * 20 ms`` (clients are spread over 20 one-millisecond
slots), stamping ``MAGIC + seq`` at the start of the PCM; the echoed bytes are searched
for stamps wherever they land (servers may re-chunk), which gives a round-trip time per
frame from the moment it was written. A client that falls behind (the generator was
late, or the stall test) sends what is due at once and keeps its schedule.

Protocol with the controller (stdin/stdout, one line each)::

    argv[1]   JSON config: host, port, path, clients, duration, warmup, grace, stall
    stdout    READY {"connected": n, "failed": n, ...}    once every client is connected
    stdin     GO <t0>                                      t0 on the monotonic clock
    stdout    RESULT {...}                                 at the end (see ``summarize``)

Not part of the package, not a test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from array import array
from collections import Counter
from typing import Any

MAGIC = b"\xa5WW\x5a"
FRAME_BYTES = 640  # 20 ms of 16 kHz mono s16le
PERIOD = 0.020
SLOTS = 20
_HEADER = bytes([0x82, 0x80 | 126]) + FRAME_BYTES.to_bytes(2, "big") + b"\0\0\0\0"
_PAD = bytes(FRAME_BYTES - 8)
_CLOSE = bytes([0x88, 0x82, 0, 0, 0, 0]) + (1000).to_bytes(2, "big")


def frame_message(seq: int) -> bytes:
    """One masked (zero key) binary WebSocket frame carrying a stamped 20 ms of silence."""
    return _HEADER + MAGIC + seq.to_bytes(4, "little") + _PAD


class Client(asyncio.Protocol):
    """One WebSocket client connection; records send times and round-trip times."""

    def __init__(self, host: str, port: int, path: str, nframes: int) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.is_open = False
        self.buf = bytearray()
        self.nframes = nframes
        self.sent = array("d", bytes(8 * nframes))  # monotonic send time; 0 = not sent
        self.rtt = array("d", bytes(8 * nframes))  # seconds; 0 = no echo yet
        self.seq = 0
        self.first_due = 0.0
        self.stalled = False
        self.duplicates = 0
        self.texts = 0
        self.close_code: int | None = None
        self.lost_connection = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_connection = True
        self.is_open = False
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed during handshake: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf
        buf += data
        if not self.is_open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")]).decode("latin-1")
            del buf[: end + 4]
            if " 101 " not in status + " ":
                if not self.upgraded.done():
                    self.upgraded.set_exception(ConnectionError(f"refused: {status}"))
                if self.transport is not None:
                    self.transport.close()
                return
            self.is_open = True
            if not self.upgraded.done():
                self.upgraded.set_result(None)
        n = len(buf)
        i = 0
        while n - i >= 2:
            b0 = buf[i]
            length = buf[i + 1] & 0x7F
            head = 2
            if length == 126:
                if n - i < 4:
                    break
                length = (buf[i + 2] << 8) | buf[i + 3]
                head = 4
            elif length == 127:
                if n - i < 10:
                    break
                length = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            start = i + head
            end = start + length
            if end > n:
                break
            op = b0 & 0x0F
            if op == 2 or op == 0:
                self._stamps(buf, start, end, now)
            elif op == 1:
                self.texts += 1
            elif op == 9 and self.transport is not None:  # ping -> pong (masked, zero key)
                self.transport.write(bytes([0x8A, 0x80 | length, 0, 0, 0, 0]) + buf[start:end])
            elif op == 8:
                self.close_code = (buf[start] << 8) | buf[start + 1] if length >= 2 else 1005
            i = end
        if i:
            del buf[:i]

    def _stamps(self, buf: bytearray, start: int, end: int, now: float) -> None:
        p = buf.find(MAGIC, start, end)
        sent, rtt = self.sent, self.rtt
        while p >= 0 and p + 8 <= end:
            seq = int.from_bytes(buf[p + 4 : p + 8], "little")
            if seq < self.nframes and sent[seq] and not rtt[seq]:
                rtt[seq] = now - sent[seq]
            else:
                self.duplicates += 1
            p = buf.find(MAGIC, p + 8, end)

    # -- sending -------------------------------------------------------------------------------

    def send_due(self, now: float) -> None:
        if self.stalled or not self.is_open or self.transport is None:
            return
        seq = self.seq
        due = self.first_due + seq * PERIOD
        write = self.transport.write
        while seq < self.nframes and due <= now:
            write(frame_message(seq))
            self.sent[seq] = now
            seq += 1
            due = self.first_due + seq * PERIOD
        self.seq = seq

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.is_open:
                self.transport.write(_CLOSE)
            self.transport.close()


# -- the run -----------------------------------------------------------------------------------


async def connect_all(cfg: dict[str, Any], nframes: int) -> tuple[list[Client], Counter[str]]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    failures: Counter[str] = Counter()

    async def one() -> Client | None:
        async with gate:
            try:
                async with asyncio.timeout(15):
                    _, client = await loop.create_connection(
                        lambda: Client(cfg["host"], cfg["port"], cfg["path"], nframes),
                        cfg["host"],
                        cfg["port"],
                    )
                    await client.upgraded
                    return client
            except Exception as exc:
                failures[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                return None

    clients = await asyncio.gather(*(one() for _ in range(cfg["clients"])))
    return [c for c in clients if c is not None], failures


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))]


async def run(cfg: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    nframes = round(cfg["duration"] / PERIOD)
    clients, failures = await connect_all(cfg, nframes)
    print("READY " + json.dumps({"connected": len(clients), "failed": dict(failures)}), flush=True)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if not line.startswith("GO "):
        raise SystemExit(f"expected GO, got {line!r}")
    t0 = float(line.split()[1])

    slots: list[list[Client]] = [[] for _ in range(SLOTS)]
    for i, client in enumerate(clients):
        slot = i % SLOTS
        client.first_due = t0 + slot * PERIOD / SLOTS
        slots[slot].append(client)
    lateness: list[float] = []
    done = loop.create_future()
    end_of_sending = t0 + nframes * PERIOD

    def tick(k: int) -> None:
        """Slot ``k % SLOTS`` of period ``k // SLOTS`` is due."""
        due = t0 + k * PERIOD / SLOTS
        now = time.monotonic()
        lateness.append(now - due)
        for client in slots[k % SLOTS]:
            client.send_due(now)
        k += 1
        nxt = t0 + k * PERIOD / SLOTS
        if nxt < end_of_sending + PERIOD:
            loop.call_at(nxt, tick, k)
        elif not done.done():
            done.set_result(None)

    loop.call_at(t0, tick, 0)
    cpu_marks: list[float] = []

    def cpu_mark() -> None:
        cpu_marks.append(time.process_time())

    loop.call_at(t0 + cfg["warmup"], cpu_mark)
    loop.call_at(end_of_sending, cpu_mark)
    stall = cfg.get("stall")
    if stall:

        def stall_begin() -> None:
            for c in clients:
                c.stalled = True
                if c.transport is not None:
                    c.transport.pause_reading()

        def stall_end() -> None:
            for c in clients:
                c.stalled = False
                if c.transport is not None and not c.transport.is_closing():
                    c.transport.resume_reading()

        loop.call_at(t0 + stall["at"], stall_begin)
        loop.call_at(t0 + stall["at"] + stall["ms"] / 1000, stall_end)

    await asyncio.wait_for(done, cfg["duration"] + 30)
    await asyncio.sleep(cfg.get("grace", 1.0))
    for client in clients:
        client.close()
    await asyncio.sleep(0.2)
    for client in clients:
        if client.transport is not None:
            client.transport.abort()
    result = summarize(cfg, t0, clients, failures, lateness)
    if len(cpu_marks) == 2:
        span = cfg["duration"] - cfg["warmup"]
        result["gen_cpu_pct"] = 100 * (cpu_marks[1] - cpu_marks[0]) / span
        result["gen_us_per_frame"] = (
            1e6 * (cpu_marks[1] - cpu_marks[0]) / max(1, result["echoed_window"])
        )
    return result


def summarize(
    cfg: dict[str, Any],
    t0: float,
    clients: list[Client],
    failures: Counter[str],
    lateness: list[float],
) -> dict[str, Any]:
    """Counts, the window's RTTs (float32 ms, base64) and a 100 ms RTT timeline."""
    w0 = t0 + cfg["warmup"]
    w1 = t0 + cfg["duration"]
    sent = echoed = sent_w = echoed_w = dup = 0
    window: array[float] = array("f")
    bins: dict[int, list[float]] = {}
    closes: Counter[str] = Counter()
    for c in clients:
        dup += c.duplicates
        if c.close_code is not None:
            closes[str(c.close_code)] += 1
        for s, r in zip(c.sent, c.rtt, strict=True):
            if not s:
                continue
            sent += 1
            in_window = w0 <= s < w1
            sent_w += in_window
            if r:
                echoed += 1
                ms = r * 1000
                bins.setdefault(int((s - t0) * 10), []).append(ms)
                if in_window:
                    echoed_w += 1
                    window.append(ms)
    timeline = [
        [b / 10, round(pct(v, 50), 2), round(pct(v, 99), 2), len(v)]
        for b, v in sorted(bins.items())
    ]
    return {
        "clients": cfg["clients"],
        "connected": len(clients),
        "failed": dict(failures),
        "closes": dict(closes),
        "sent": sent,
        "echoed": echoed,
        "sent_window": sent_w,
        "echoed_window": echoed_w,
        "duplicates": dup,
        "rtt_ms": base64.b64encode(window.tobytes()).decode(),
        "timeline": timeline,
        "late_ms": {
            "p50": pct(lateness, 50) * 1000,
            "p99": pct(lateness, 99) * 1000,
            "max": max(lateness, default=0.0) * 1000,
        },
    }


def main() -> None:
    cfg = json.loads(sys.argv[1])
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    result = asyncio.run(run(cfg))
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

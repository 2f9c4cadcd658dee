"""Load generator of ``benchmarks/websocket.py``: many real-time raw-PCM WebSocket clients.

Design: one process, one event loop (uvloop when it can be imported, else asyncio) and a
hand-written RFC 6455 client per connection (an ``asyncio.Protocol``) instead of a
WebSocket library, so that the CPU is left to the server under test. Per frame the
generator does one ``write`` and one read; on the 2-core VM this was written on that
costs it ~12-20 µs of CPU, about half of it the kernel's loopback TCP, so one core keeps
about 1,000 connections real time (fewer when the server sleeps between frames and each
write also pays for waking it). The cyclic GC is off while frames are sent. In detail:

* handshake: an HTTP/1.1 Upgrade with a random ``Sec-WebSocket-Key``; the answer must be
  ``101`` with ``Upgrade: websocket``, ``Connection: Upgrade``, the matching
  ``Sec-WebSocket-Accept`` and no extension (none is offered), else the connection
  counts as failed (``refused: <status line>`` for an answer other than 101);
* sending: client frames are masked as RFC 6455 requires, with one random key per
  connection (the RFC asks for a fresh key per frame, which only matters to proxies).
  The key repeats every 4 bytes and the stamp fields are 4-byte aligned, so the masked
  frame is precomputed but for the 4 masked bytes of the sequence number: one ``bytes``
  concatenation and one ``write`` per frame;
* receiving: unmasked server frames with 7-bit, 16-bit (126) and 64-bit (127) lengths,
  fragments and several frames per read; pings are answered with pongs and a close
  frame with a close frame; a masked or oversized server frame fails the connection
  (``protocol error``). A read that is exactly one echoed frame with its stamp first
  (nearly all of them) takes a short path. With asyncio's own loop the client reads
  into a buffer of its own (``BufferedClient``): that loop allocates 256 KiB per
  ``data_received``;
* pacing: no task or sleep per connection. One timer ticks once per 1 ms slot and
  writes every frame due on the clients of that slot; a late tick runs every slot it
  missed at once. The timer is a periodic Linux ``timerfd`` the loop watches, which
  wakes it within microseconds; the loops' own timers count whole milliseconds, and
  with them half the ticks ran late enough to merge with the next slot (two slots'
  frames in one burst, which changes how often a lightly loaded server wakes up).
  Elsewhere the loop's timers are used, armed for the next whole ms at or after the
  slot. The measurement marks and the stall test's start and end run in the tick of
  their slot, before its frames.

Each client sends one 20 ms frame (640 bytes: 16 kHz mono s16le) per period on an
absolute schedule ``t0 + slot + k * 20 ms`` (clients are spread over 20 one-millisecond
slots), stamping ``MAGIC + seq`` at the start of the PCM; the echoed bytes are searched
for stamps wherever they land (servers may re-chunk, even across frames), which gives a
round-trip time per frame from the moment it was written (each write is timed on its
own: a tick writes many). A client that falls behind (the generator was late, or the
stall test) sends what is due at once and keeps its schedule. "Late" is how long after
its slot's time each slot's tick ran. A frame that falls due on a connection the server
has closed (a close frame, reported under ``closes`` by its code, or a dropped TCP
connection, reported as ``1006``) counts as sent and lost.

Protocol with the controller (stdin/stdout, one line each)::

    argv[1]   JSON config: host, port, path, clients, duration, warmup, grace, stall
              (and "uvloop": false to use asyncio's loop even if uvloop is installed)
    stdout    READY {"connected": n, "failed": {...}, "loop": ...}   all connected
    stdin     GO <t0>                                      t0 on the monotonic clock
    stdout    RESULT {...}                                 at the end (see ``summarize``)

Not part of the package, not a test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import gc
import hashlib
import importlib
import json
import math
import os
import select
import struct
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

monotonic = time.monotonic

MAGIC = b"\xa5WW\x5a"
FRAME_BYTES = 640  # 20 ms of 16 kHz mono s16le
ECHO_HEAD = bytes([0x82, 126]) + FRAME_BYTES.to_bytes(2, "big") + MAGIC  # one unmasked echo
ECHO_HEAD_BYTES = len(ECHO_HEAD) + 4  # ... and its sequence number
ECHO_BYTES = 4 + FRAME_BYTES
PERIOD = 0.020
SLOTS = 20
SLOT = PERIOD / SLOTS
EPS = 1e-6  # a tick or frame due within this of "now" is due (float rounding, clock steps)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
RECV_BUFFER = 16384  # per connection; grows if a single frame is larger
MAX_FRAME = 1 << 24  # a longer server frame fails the connection
MAX_HEAD = 16384  # handshake answer size limit

SEQ = struct.Struct("<I").unpack_from  # the sequence number after MAGIC
CONNECTING, OPEN, CLOSED = 0, 1, 2


def mask(data: bytes, key: bytes) -> bytes:
    """``data`` XOR the repeated 4-byte ``key`` (RFC 6455 masking, offset 0)."""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def control_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """A masked control frame (close, pong): final bit set, payload at most 125 bytes."""
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + mask(payload, key)


class Client(asyncio.Protocol):
    """One WebSocket client connection; records send times and round-trip times.

    It reads through ``data_received`` (uvloop hands over a ``bytes`` of what one read
    returned); :class:`BufferedClient` is the same client for asyncio's own loop.
    """

    __slots__ = (
        "accept",
        "request",
        "key",
        "key_int",
        "prefix",
        "suffix",
        "transport",
        "write",
        "upgraded",
        "state",
        "rbuf",
        "rview",
        "rlen",
        "tail",
        "nframes",
        "sent",
        "rtt",
        "seq",
        "first_due",
        "next_due",
        "stalled",
        "duplicates",
        "texts",
        "close_code",
        "closing",
    )

    def __init__(self, host: str, port: int, path: str, nframes: int) -> None:
        key = base64.b64encode(os.urandom(16))
        self.accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        # Client frames: header, mask key, masked MAGIC | masked seq | masked zeros. The key
        # repeats every 4 bytes and the stamp fields are 4-byte aligned, so only the masked
        # sequence number changes from frame to frame.
        self.key = os.urandom(4)
        self.key_int = int.from_bytes(self.key, "little")
        self.prefix = (
            bytes([0x82, 0x80 | 126]) + FRAME_BYTES.to_bytes(2, "big") + self.key
        ) + mask(MAGIC, self.key)
        self.suffix = self.key * ((FRAME_BYTES - 8) // 4)
        self.transport: asyncio.Transport | None = None
        self.write: Any = None  # transport.write
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.state = CONNECTING
        self.rbuf = bytearray(RECV_BUFFER)
        self.rview = memoryview(self.rbuf)
        self.rlen = 0  # bytes at the start of rbuf not parsed yet (an incomplete frame)
        self.tail = b""  # the end of the previous data frame when a stamp began in it
        self.nframes = nframes
        self.sent = array("d", bytes(8 * nframes))  # monotonic send time; 0 = not sent
        self.rtt = array("d", bytes(8 * nframes))  # seconds; 0 = no echo yet
        self.seq = 0  # the next frame to send
        self.first_due = 0.0
        self.next_due = 0.0  # first_due + seq * PERIOD
        self.stalled = False
        self.duplicates = 0
        self.texts = 0
        self.close_code: int | str | None = None  # the server's, 1006, or "protocol error"
        self.closing = False  # we sent a close frame or closed the transport

    def schedule(self, first_due: float) -> None:
        self.first_due = self.next_due = first_due

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.write = self.transport.write
        self.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == CONNECTING and not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"closed during handshake: {exc}"))
        elif self.state == OPEN and self.close_code is None and not self.closing:
            self.close_code = 1006  # dropped without a close frame
        self.state = CLOSED

    def data_received(self, data: bytes) -> None:
        now = monotonic()
        # Fast path, nearly every read: exactly one echoed frame, stamp first, no other
        # stamp (no 0xA5 byte after the sequence number).
        if (
            len(data) == ECHO_BYTES
            and data.rfind(0xA5) < ECHO_HEAD_BYTES
            and data.startswith(ECHO_HEAD)
            and not self.rlen
            and not self.tail
            and self.state == OPEN
        ):
            seq = SEQ(data, ECHO_HEAD_BYTES - 4)[0]
            sent = self.sent
            if seq < self.nframes and sent[seq] and not self.rtt[seq]:  # _match, inlined
                self.rtt[seq] = now - sent[seq]
            else:
                self.duplicates += 1
            return
        n = self.rlen + len(data)
        if n > len(self.rbuf):
            self._grow(n)
        self.rbuf[self.rlen : n] = data
        self._parse(n, now)

    def _grow(self, n: int) -> None:
        """Make rbuf hold at least ``n`` bytes (a frame larger than RECV_BUFFER)."""
        old = self.rbuf
        self.rbuf = bytearray(max(n, 2 * len(old)))
        self.rbuf[: self.rlen] = old[: self.rlen]
        self.rview = memoryview(self.rbuf)

    def _parse(self, n: int, now: float) -> None:
        """Handle the frames complete in ``rbuf[:n]``; keep the rest for the next read."""
        buf = self.rbuf
        i = 0
        if self.state == CONNECTING:
            i = self._handshake(n)
            if i < 0:
                return
        while n - i >= 2:
            b1 = buf[i + 1]
            length = b1 & 0x7F
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
            if b1 & 0x80 or length > MAX_FRAME:
                self._fail("masked server frame" if b1 & 0x80 else "oversized server frame")
                return
            start = i + head
            end = start + length
            if end > n:
                break
            op = buf[i] & 0x0F
            if op == 2 or op == 0:
                self._stamps(buf, start, end, now)
            elif op == 1:
                self.texts += 1
            elif op == 9:  # ping -> pong with the same payload
                if not self.closing:
                    self.write(control_frame(0xA, bytes(buf[start:end]), self.key))
            elif op == 8:
                self._server_close(bytes(buf[start:end]))
            i = end
        if i and i < n:
            buf[: n - i] = buf[i:n]
        self.rlen = n - i
        if self.rlen == len(buf):  # a frame larger than the buffer: make room for the rest
            self._grow(2 * len(buf))

    def _handshake(self, n: int) -> int:
        """Parse the HTTP answer in ``rbuf[:n]``: the offset after it, or -1 (not yet/failed)."""
        buf = self.rbuf
        end = buf.find(b"\r\n\r\n", 0, n)
        if end < 0:
            self.rlen = n
            if n >= MAX_HEAD:
                self._refuse("handshake answer too long")
            elif n == len(buf):
                self._grow(2 * n)
            return -1
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        status = lines[0]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        connection = {t.strip() for t in headers.get("connection", "").lower().split(",")}
        if " 101 " not in status + " ":
            self._refuse(f"refused: {status}")
        elif headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in connection:
            self._refuse("no Upgrade: websocket / Connection: Upgrade in the answer")
        elif headers.get("sec-websocket-accept") != self.accept:
            self._refuse("wrong Sec-WebSocket-Accept")
        elif headers.get("sec-websocket-extensions"):
            self._refuse(f"extension not offered: {headers['sec-websocket-extensions']}")
        else:
            self.state = OPEN
            if not self.upgraded.done():
                self.upgraded.set_result(None)
            return end + 4
        return -1

    def _refuse(self, why: str) -> None:
        self.rlen = 0
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(why))
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, why: str) -> None:
        """A protocol error by the server: close 1002 and drop the connection."""
        self.rlen = 0
        if self.close_code is None:
            self.close_code = "protocol error"
        print(f"wsload: {why}", file=sys.stderr)
        self.close(1002)
        self.state = CLOSED

    def _server_close(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        if self.close_code is None:
            self.close_code = code
        if not self.closing:
            # Echo the code (RFC 6455 5.5.1); the server then closes the TCP connection.
            self.closing = True
            self.write(control_frame(0x8, payload[:2] if len(payload) >= 2 else b"", self.key))
        self.state = CLOSED

    def _stamps(self, buf: bytearray, start: int, end: int, now: float) -> None:
        """Match every stamp in the data frame ``buf[start:end]``."""
        tail = self.tail
        if tail:  # a stamp began at the end of the previous data frame
            joined = tail + bytes(buf[start : min(end, start + 7)])
            p = joined.find(MAGIC)
            if 0 <= p < len(tail) and p + 8 <= len(joined):
                self._match(SEQ(joined, p + 4)[0], now)
                start += p + 8 - len(tail)
        last = start
        p = buf.find(MAGIC, start, end)
        while p >= 0 and p + 8 <= end:
            self._match(SEQ(buf, p + 4)[0], now)
            last = p + 8
            p = buf.find(MAGIC, last, end)
        q = buf.find(0xA5, max(last, end - 7), end)  # the start of a stamp cut off here?
        self.tail = bytes(buf[q:end]) if q >= 0 else b""

    def _match(self, seq: int, now: float) -> None:
        sent = self.sent
        if seq < self.nframes and sent[seq] and not self.rtt[seq]:
            self.rtt[seq] = now - sent[seq]
        else:
            self.duplicates += 1

    # -- sending -------------------------------------------------------------------------------

    def send_due(self, now: float) -> None:
        """Write every frame due by ``now`` (count them as lost if the server closed)."""
        limit = now + EPS
        if self.next_due > limit or self.stalled or self.seq >= self.nframes:
            return
        seq = self.seq
        nframes = self.nframes
        sent = self.sent
        if self.state == OPEN:
            while True:
                sent[seq] = monotonic()  # not ``now``: a tick writes many frames in turn
                self.write(self.prefix + (seq ^ self.key_int).to_bytes(4, "little") + self.suffix)
                seq += 1
                due = self.first_due + seq * PERIOD
                if seq >= nframes or due > limit:
                    break
        else:  # the server closed this session: its frames are lost
            due = self.next_due
            while seq < nframes and due <= limit:
                sent[seq] = now
                seq += 1
                due = self.first_due + seq * PERIOD
        self.seq = seq
        self.next_due = due

    def close(self, code: int = 1000) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.state == OPEN and not self.closing:
                self.write(control_frame(0x8, code.to_bytes(2, "big"), self.key))
            self.transport.close()
        self.closing = True


class BufferedClient(Client, asyncio.BufferedProtocol):
    """:class:`Client` reading into its own buffer: asyncio's loop gives ``data_received``
    a fresh 256 KiB allocation per read (mmap/munmap on every frame), uvloop does not."""

    __slots__ = ()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.rview[self.rlen :] if self.rlen else self.rview

    def buffer_updated(self, nbytes: int) -> None:
        now = monotonic()
        buf = self.rbuf
        n = self.rlen + nbytes
        if (
            n == ECHO_BYTES
            and buf.rfind(0xA5, 0, n) < ECHO_HEAD_BYTES
            and buf.startswith(ECHO_HEAD)
            and not self.tail
            and self.state == OPEN
        ):
            self.rlen = 0
            self._match(SEQ(buf, ECHO_HEAD_BYTES - 4)[0], now)
            return
        self._parse(n, now)


# -- the run -----------------------------------------------------------------------------------


async def connect_all(
    cfg: dict[str, Any], nframes: int, kind: type[Client]
) -> tuple[list[Client], Counter[str]]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    failures: Counter[str] = Counter()

    async def one() -> Client | None:
        made: list[Client] = []

        def factory() -> Client:
            made.append(kind(cfg["host"], cfg["port"], cfg["path"], nframes))
            return made[-1]

        async with gate:
            try:
                async with asyncio.timeout(15):
                    _, client = await loop.create_connection(factory, cfg["host"], cfg["port"])
                    await client.upgraded
                    return client
            except Exception as exc:
                failures[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                for c in made:
                    if c.transport is not None:
                        c.transport.abort()
                return None

    clients = await asyncio.gather(*(one() for _ in range(cfg["clients"])))
    return [c for c in clients if c is not None], failures


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

    @classmethod
    def of(cls, seconds: float) -> _Timespec:
        ns = round(seconds * 1e9)
        return cls(ns // 1_000_000_000, ns % 1_000_000_000)


class _ITimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFD:
    """A periodic timer on CLOCK_MONOTONIC (``time.monotonic``'s clock) as a file
    descriptor (Linux ``timerfd``, through ctypes): the loop wakes when it turns readable,
    within microseconds of the tick. The loops' own timers wake to the millisecond only
    (libuv counts whole ms, asyncio rounds its epoll timeout up to one), which made half
    the 1 ms ticks late enough to run together with the next one."""

    def __init__(self, first: float, interval: float) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)  # 1: CLOCK_MONOTONIC
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        spec = _ITimerspec(_Timespec.of(interval), _Timespec.of(first))
        if libc.timerfd_settime(fd, 1, ctypes.byref(spec), None) < 0:  # 1: TFD_TIMER_ABSTIME
            os.close(fd)
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self.fd = fd

    def expired(self) -> bool:
        """Consume the expirations so far; False if there were none (a spurious wake-up)."""
        try:
            return bool(os.read(self.fd, 8))
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


def emit(line: str) -> None:
    """Write one line to stdout whole, however many writes it takes.

    Once uvloop has run, a blocking write to a full pipe can return short (libuv sets up
    an io_uring), and Python's unbuffered stdout (``PYTHONUNBUFFERED``, which the
    controller sets) would drop the rest of the line without a word: a RESULT line of
    more than 64 KiB was cut at 64 KiB.
    """
    sys.stdout.flush()
    data = memoryview((line + "\n").encode())
    fd = sys.stdout.fileno()
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:
            select.select([], [fd], [])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))]


async def run(cfg: dict[str, Any], loop_name: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    nframes = round(cfg["duration"] / PERIOD)
    uv = loop_name.startswith("uvloop")
    clients, failures = await connect_all(cfg, nframes, Client if uv else BufferedClient)
    emit(
        "READY "
        + json.dumps({"connected": len(clients), "failed": dict(failures), "loop": loop_name})
    )
    line = await loop.run_in_executor(None, sys.stdin.readline)
    if not line.startswith("GO "):
        raise SystemExit(f"expected GO, got {line!r}")
    t0 = float(line.split()[1])

    slots: list[list[Client]] = [[] for _ in range(SLOTS)]
    for i, client in enumerate(clients):
        slot = i % SLOTS
        client.schedule(t0 + slot * SLOT)
        slots[slot].append(client)
    lateness: list[float] = []
    done = loop.create_future()
    end_of_sending = t0 + nframes * PERIOD
    ticks = (nframes + 1) * SLOTS  # one period of ticks past the last frame, as before
    k = 0  # the next slot to run: slot k % SLOTS of period k // SLOTS, due t0 + k * SLOT

    cpu_marks: list[float] = []
    events: list[tuple[float, Callable[[], None]]] = [  # run by the tick of their slot
        (t0 + cfg["warmup"], lambda: cpu_marks.append(time.process_time())),
        (end_of_sending, lambda: cpu_marks.append(time.process_time())),
    ]
    stall = cfg.get("stall")
    if stall:

        def stall_begin() -> None:
            for c in clients:
                c.stalled = True
                if c.transport is not None and not c.transport.is_closing():
                    c.transport.pause_reading()

        def stall_end() -> None:
            for c in clients:
                c.stalled = False
                if c.transport is not None and not c.transport.is_closing():
                    c.transport.resume_reading()

        events.append((t0 + stall["at"], stall_begin))
        events.append((t0 + stall["at"] + stall["ms"] / 1000, stall_end))
    events.sort(key=lambda e: e[0])

    def tick() -> None:
        """Run every slot that is due (one, unless the loop was late).

        Events (CPU marks, the stall's start and end) run just before the first slot at
        or after their time, so a stall that starts at a slot's time holds that slot's
        frames, whatever the timers' resolution.
        """
        nonlocal k
        now = time.monotonic()
        while k < ticks and (due := t0 + k * SLOT) <= now + EPS:
            while events and events[0][0] <= due + EPS:
                events.pop(0)[1]()
            lateness.append(now - due)
            for client in slots[k % SLOTS]:
                client.send_due(now)
            k += 1
        if k >= ticks:
            if timer is not None:
                loop.remove_reader(timer.fd)
                timer.close()
            if not done.done():
                done.set_result(None)
        elif timer is None:
            arm(t0 + k * SLOT)

    def arm(when: float) -> None:
        """Run ``tick`` at ``when`` or after it, never before (which would spin)."""
        if uv:  # uvloop's clock and timers count whole ms and call_at rounds to nearest
            delay = math.ceil((when - loop.time()) * 1000) / 1000
            loop.call_later(max(0.0, delay), tick)
        else:
            loop.call_at(when, tick)

    def on_timer() -> None:
        if timer is not None and timer.expired():
            tick()

    try:
        timer: TimerFD | None = TimerFD(t0, SLOT)
    except (OSError, AttributeError):  # not Linux: the loop's own (whole-ms) timers
        timer = None
    if timer is not None:
        loop.add_reader(timer.fd, on_timer)
    else:
        arm(t0)

    # The cyclic GC stays off while sending: a full collection over a few thousand client
    # objects would show up as generator lateness. Nothing here makes cycles per frame.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        await asyncio.wait_for(done, cfg["duration"] + 30)
        await asyncio.sleep(cfg.get("grace", 1.0))
    finally:
        gc.enable()
        gc.unfreeze()
    for client in clients:
        client.close()
    await asyncio.sleep(0.2)
    for client in clients:
        if client.transport is not None:
            client.transport.abort()
    result = summarize(cfg, t0, clients, failures, lateness)
    result["loop"] = loop_name
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

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1 << 20 if hard == resource.RLIM_INFINITY else hard  # 2^20: Linux's nr_open
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ImportError, ValueError, OSError):
        pass
    uvloop: Any = None
    if cfg.get("uvloop", True):
        with contextlib.suppress(ImportError):
            uvloop = importlib.import_module("uvloop")
    if uvloop is not None:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(run(cfg, f"uvloop {uvloop.__version__}"))
    else:
        result = asyncio.run(run(cfg, "asyncio"))
    emit("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()

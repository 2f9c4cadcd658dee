"""Cloudflare Realtime SFU WebSocket adapter emulator: dial both adapter sockets of a bot.

The SFU opens both sockets (protocols.md §1.1): ``{base}/{call_id}/ingest`` (buffer mode:
the bot sends payload-only ``Packet``\\s, the SFU sends nothing) and
``{base}/{call_id}/stream`` (stream mode: the SFU sends one ``Packet`` per 20 ms WebRTC
frame, 48 kHz stereo s16le, with ``sequenceNumber`` +1 and ``timestamp`` +960 on a
48 kHz clock -- the clock and the first number are unconfirmed). The token goes in the
query string, as the SFU cannot send headers.

Optional impairments: ``lose`` (sequence numbers skipped, as lost packets),
``reconnect_at`` (the SFU's stream socket drops at that second -- its TCP connection cut,
no close frame, so the bot sees 1006 and must resume -- and the SFU dials the same URL
again after ``reconnect_gap`` seconds, sending the frames produced meanwhile as a
backlog, as its bounded buffer does).

Both sockets are dialed with wavewire's own client (:mod:`._dial`).

The ingest Packets go into an emulated playback buffer (:class:`Playout`); its played
audio is the recording.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..pipelines.taskgroup import TaskGroup
from ..serializers.cloudflare import encode_packet, parse_packet
from ._common import (
    Playout,
    Schedule,
    Stats,
    frames_of,
    load_wav,
    print_summary,
    summarize,
    wait_quiet,
)
from ._dial import Dialed, Message, dial

__all__ = ["CloudflareEmulator", "encode_packet", "main"]

RATE = 48000
CHANNELS = 2
FRAME_MS = 20
FRAME_BYTES = RATE * FRAME_MS // 1000 * CHANNELS * 2  # 3840
TICKS_PER_FRAME = RATE * FRAME_MS // 1000  # 960


def _with_token(url: str, token: str | None) -> str:
    if not token:
        return url
    return f"{url}{'&' if '?' in url else '?'}token={quote(token, safe='')}"


class CloudflareEmulator:
    """Plays ``wav`` into the bot behind ``base`` as the SFU's two adapters would.

    :param base: the routes' prefix, e.g. ``ws://127.0.0.1:8765/cloudflare``.
    :param wav: the WebRTC publisher's audio (converted to 48 kHz stereo).
    :param call_id: joins the two sockets into one session.
    :param token: put in both URLs as ``?token=``.
    :param ingest_first: dial the ingest socket before the stream socket.
    :param first_sequence: the first ``sequenceNumber``.
    :param lose: frame indices whose packets are never sent (their numbers are skipped).
    :param reconnect_at: drop the stream socket after this many seconds of audio.
    :param reconnect_gap: seconds before the SFU dials again.
    """

    def __init__(
        self,
        base: str,
        wav: str | Path | bytes,
        *,
        call_id: str = "call-1",
        token: str | None = None,
        out: str | Path | None = None,
        ingest_first: bool = True,
        first_sequence: int = 1,
        lose: Iterable[int] = (),
        reconnect_at: float | None = None,
        reconnect_gap: float = 0.3,
        tail: float = 0.6,
        max_tail: float = 5.0,
    ) -> None:
        base = base.rstrip("/")
        self.stream_url = _with_token(f"{base}/{quote(call_id, safe='')}/stream", token)
        self.ingest_url = _with_token(f"{base}/{quote(call_id, safe='')}/ingest", token)
        self.pcm = load_wav(wav, RATE, CHANNELS)
        self.out = out
        self.ingest_first = ingest_first
        self.first_sequence = first_sequence
        self.lose = frozenset(lose)
        self.reconnect_at = reconnect_at
        self.reconnect_gap = reconnect_gap
        self.tail = tail
        self.max_tail = max_tail
        self.stats = Stats()
        self.playout = Playout(RATE, CHANNELS)
        self.schedule = Schedule(FRAME_MS / 1000)
        self.reconnects = 0
        self.lost_sent = 0
        self.ingest_messages = 0
        self.ingest_max_message = 0
        self.ingest_empty = 0
        self._last_rx = 0.0
        self._group = TaskGroup("cloudflare-emulator")
        self._stream: Dialed | None = None

    async def run(self) -> dict[str, Any]:
        """Run the call; returns the summary."""
        loop = asyncio.get_running_loop()
        ingest: Dialed | None = None
        try:
            if self.ingest_first:
                ingest = await self._dial_ingest()
                self._stream = await self._dial_stream()
            else:
                self._stream = await self._dial_stream()
                ingest = await self._dial_ingest()
            self.schedule.begin()
            self.playout.t0 = self.schedule.start
            self._last_rx = loop.time()
            await self._send_stream()
            await self._wait_quiet(ingest.ended)
        finally:
            for conn in (self._stream, ingest):
                if conn is not None:
                    await conn.close(1000)
            await self._group.close(5.0)  # a redial still under way
        self.stats.close_code = ingest.close_code
        return summarize(
            "cloudflare", self.pcm, self.playout, self.stats, self.schedule, out_path=self.out,
            extra={
                "reconnects": self.reconnects,
                "packets_lost_on_purpose": self.lost_sent,
                "ingest_messages": self.ingest_messages,
                "ingest_max_message_bytes": self.ingest_max_message,
                "ingest_empty_packets": self.ingest_empty,
            },
        )

    async def _dial_ingest(self) -> Dialed:
        return await dial(self.ingest_url, self._on_ingest, name="sfu-ingest",
                          owner=self._group)

    async def _dial_stream(self) -> Dialed:
        return await dial(self.stream_url, _ignore, name="sfu-stream", owner=self._group)

    async def _send_stream(self) -> None:
        """Send the WAV on the stream socket in real time (redialing it once at
        ``reconnect_at``); :attr:`_stream` is the socket in use."""
        frames = frames_of(self.pcm, FRAME_BYTES)
        drop_at = (
            None if self.reconnect_at is None else int(self.reconnect_at * 1000 / FRAME_MS)
        )
        backlog: list[bytes] = []
        reconnect: asyncio.Task[Dialed] | None = None
        for i, frame in enumerate(frames):
            await self.schedule.wait(i)
            seq = self.first_sequence + i
            packet = encode_packet(frame, seq, i * TICKS_PER_FRAME)
            if i in self.lose:
                self.lost_sent += 1
                continue
            if i == drop_at and self._stream is not None:
                # the SFU's side of the socket drops; it dials again after a gap
                gone, self._stream = self._stream, None
                gone.abort()
                reconnect = self._group.create_task(self._redial(), "sfu-stream:redial")
            if self._stream is None:
                assert reconnect is not None
                if not reconnect.done():
                    backlog.append(packet)
                    continue
                await self._resume(reconnect.result(), backlog)
            assert self._stream is not None
            if not await self._stream.send(packet):
                self.stats.errors.append(f"stream socket closed by the bot at frame {i}")
                break
            self.stats.frames_out += 1
        if self._stream is None and reconnect is not None:
            await self._resume(await reconnect, backlog)

    async def _resume(self, stream: Dialed, backlog: list[bytes]) -> None:
        """Use the redialed ``stream``: first the SFU's bounded backlog, sent at once."""
        self._stream = stream
        self.reconnects += 1
        for old in backlog:
            if await stream.send(old):
                self.stats.frames_out += 1
        backlog.clear()

    async def _redial(self) -> Dialed:
        await asyncio.sleep(self.reconnect_gap)
        return await self._dial_stream()

    async def _wait_quiet(self, reader: asyncio.Future[Any]) -> None:
        await wait_quiet(reader, self.playout, lambda: self._last_rx, self.tail, self.max_tail)

    async def _on_ingest(self, message: Message) -> None:
        from ..errors import ProtocolError

        now = asyncio.get_running_loop().time()
        self._last_rx = now
        stats = self.stats
        stats.messages_in += 1
        if isinstance(message, str):
            stats.errors.append("text message on the ingest socket")
            return
        self.ingest_messages += 1
        self.ingest_max_message = max(self.ingest_max_message, len(message))
        try:
            _, _, payload = parse_packet(message, "Packet")
        except ProtocolError as exc:
            stats.errors.append(str(exc))
            return
        if not payload:
            self.ingest_empty += 1
            return
        if len(payload) % 4:
            stats.errors.append(f"payload of {len(payload)} bytes is not whole frames")
            payload = payload[: len(payload) - len(payload) % 4]
        self.playout.add(payload, now)
        stats.frames_in += 1


async def _ignore(message: Message) -> None:
    """The stream socket: the bot sends nothing there (protocols.md §1.1)."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wavewire emulate cloudflare",
        description="Dial a bot's Cloudflare adapter routes as the Realtime SFU would "
        "(stream: 48 kHz stereo Packets in real time; ingest: record what comes back).",
    )
    p.add_argument("--url", default="ws://127.0.0.1:8765/cloudflare",
                   help="the routes' prefix (default ws://127.0.0.1:8765/cloudflare)")
    p.add_argument("--call-id", default="call-1", help="joins both sockets (default call-1)")
    p.add_argument("--wav", required=True, help="the publisher's audio (16-bit WAV)")
    p.add_argument("--out", default=None, help="write what came back on ingest to this WAV")
    p.add_argument("--token", default=None,
                   help="put ?token= in both URLs (default $WAVEWIRE_TOKEN)")
    p.add_argument("--stream-first", action="store_true",
                   help="dial the stream socket before the ingest socket")
    p.add_argument("--reconnect-at", type=float, default=None,
                   help="drop the stream socket after this many seconds and dial again")
    p.add_argument("--tail", type=float, default=0.6,
                   help="seconds of quiet from the bot before hanging up (default 0.6)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``wavewire emulate cloudflare …``: prints the summary as JSON."""
    import os

    args = build_parser().parse_args(argv)
    emulator = CloudflareEmulator(
        args.url, args.wav, call_id=args.call_id, out=args.out,
        token=args.token or os.environ.get("WAVEWIRE_TOKEN"),
        ingest_first=not args.stream_first, reconnect_at=args.reconnect_at, tail=args.tail,
    )
    print_summary(asyncio.run(emulator.run()))
    return 0

"""Twilio Media Streams emulator: dial a bot's ``/twilio`` route the way Twilio does.

It sends ``connected``, ``start`` (stream, call and account SIDs, ``tracks:["inbound"]``,
μ-law 8 kHz mono), then the WAV as ``media`` messages of 20 ms (160 μ-law bytes) in real
time with ``sequenceNumber``, ``chunk`` and ``timestamp``, and ``stop`` at the end.

What the bot sends back goes into an emulated playback buffer (:class:`Playout`): it
plays in real time, so a ``mark`` is echoed when the audio queued before it has played,
and ``clear`` drops what has not played yet and echoes the pending marks at once (Twilio
returns the marks of cleared audio too). The played audio is the recording.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from ..errors import InvalidStateError
from ..pipelines.taskgroup import TaskGroup
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

__all__ = ["TwilioEmulator", "main"]

RATE = 8000
FRAME_MS = 20


class TwilioEmulator:
    """Plays ``wav`` into the bot at ``url`` as a Twilio call would.

    :param url: the bot's ``ws(s)://…/twilio`` URL (add ``?token=`` if the server needs one).
    :param wav: the caller's audio (a 16-bit WAV path or its bytes; converted to 8 kHz).
    :param out: where to write what the caller heard (WAV), if anywhere.
    :param tail: seconds of quiet from the bot after the last media before ``stop``.
    :param max_tail: the longest wait for that quiet.
    :param send_stop: send ``stop`` at the end (else just close the socket).
    :param stop_wait: seconds to wait, after ``stop``, for the bot to close the socket.
    """

    def __init__(
        self,
        url: str,
        wav: str | Path | bytes,
        *,
        out: str | Path | None = None,
        stream_sid: str = "MZ00000000000000000000000000000000",
        call_sid: str = "CA00000000000000000000000000000000",
        account_sid: str = "AC00000000000000000000000000000000",
        custom_parameters: dict[str, str] | None = None,
        tail: float = 0.6,
        max_tail: float = 5.0,
        send_stop: bool = True,
        stop_wait: float = 2.0,
    ) -> None:
        self.url = url
        self.pcm = load_wav(wav, RATE, 1)
        self.out = out
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.custom_parameters = dict(custom_parameters or {})
        self.tail = tail
        self.max_tail = max_tail
        self.send_stop = send_stop
        self.stop_wait = stop_wait
        self.stats = Stats()
        self.playout = Playout(RATE)
        self.schedule = Schedule(FRAME_MS / 1000)
        self.marks_echoed: list[str] = []
        self.clears = 0
        self._seq = 0
        self._last_rx = 0.0
        self._pending_marks: list[tuple[str, asyncio.TimerHandle]] = []
        self._ws: Dialed | None = None
        self._group = TaskGroup("twilio-emulator")

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send(self, msg: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(msg, separators=(",", ":")))  # dropped once closed

    async def run(self) -> dict[str, Any]:
        """Run the call; returns the summary (see :func:`~._common.summarize`)."""
        from ..audio.g711 import ulaw_encode

        loop = asyncio.get_running_loop()
        self._ws = ws = await dial(self.url, self._on_message, name="twilio-emulator",
                                   owner=self._group)
        reader = ws.ended  # done once the bot has closed the socket
        try:
            await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await self._send({
                "event": "start",
                "sequenceNumber": self._next_seq(),
                "streamSid": self.stream_sid,
                "start": {
                    "streamSid": self.stream_sid,
                    "accountSid": self.account_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "customParameters": self.custom_parameters,
                    "mediaFormat": {
                        "encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1,
                    },
                },
            })
            self.schedule.begin()
            self.playout.t0 = self.schedule.start
            self._last_rx = loop.time()
            for i, frame in enumerate(frames_of(self.pcm, RATE * FRAME_MS // 1000 * 2)):
                await self.schedule.wait(i)
                if reader.done():
                    break
                await self._send({
                    "event": "media",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": self.stream_sid,
                    "media": {
                        "track": "inbound",
                        "chunk": str(i + 1),
                        "timestamp": str(i * FRAME_MS),
                        "payload": _b64(ulaw_encode(frame)),
                    },
                })
                self.stats.frames_out += 1
            await self._wait_quiet(reader)
            if self.send_stop and not reader.done():
                await self._send({
                    "event": "stop",
                    "sequenceNumber": self._next_seq(),
                    "streamSid": self.stream_sid,
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                })
                # the bot should now end the session and close the socket
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(reader), self.stop_wait)
        finally:
            for _, timer in self._pending_marks:
                timer.cancel()
            await ws.close(1000)
            await self._group.close(ws.client.close_timeout)
        self.stats.close_code = ws.close_code
        return summarize(
            "twilio", self.pcm, self.playout, self.stats, self.schedule, out_path=self.out,
            extra={"marks_echoed": len(self.marks_echoed), "clears": self.clears},
        )

    async def _wait_quiet(self, reader: asyncio.Future[Any]) -> None:
        # Twilio is quiet only once every mark it was sent has come back.
        await wait_quiet(
            reader, self.playout, lambda: self._last_rx, self.tail, self.max_tail,
            busy=lambda: bool(self._pending_marks),
        )

    async def _on_message(self, message: Message) -> None:
        from ..audio.g711 import ulaw_decode

        loop = asyncio.get_running_loop()
        stats = self.stats
        now = loop.time()
        self._last_rx = now
        stats.messages_in += 1
        if not isinstance(message, str):
            stats.errors.append("binary message")
            return
        try:
            msg = json.loads(message)
            event = msg["event"]
        except (ValueError, KeyError, TypeError):
            stats.errors.append("invalid JSON or no event")
            return
        if msg.get("streamSid") != self.stream_sid:
            stats.errors.append(f"{event}: wrong streamSid")
        if event == "media":
            try:
                pcm = ulaw_decode(base64.b64decode(msg["media"]["payload"], validate=True))
            except Exception:
                stats.errors.append("media: bad payload")
                return
            self.playout.add(pcm, now)
            stats.frames_in += 1
        elif event == "mark":
            stats.event("mark")
            name = str(msg.get("mark", {}).get("name"))
            when = self.playout.played_at(self.playout.end)
            timer = loop.call_at(when, self._echo_mark_soon, name)
            self._pending_marks.append((name, timer))
        elif event == "clear":
            stats.event("clear")
            self.clears += 1
            self.playout.clear(now)
            pending, self._pending_marks = self._pending_marks, []
            for name, timer in pending:
                timer.cancel()
                await self._echo_mark(name)
        else:
            stats.event(str(event))

    def _echo_mark_soon(self, name: str) -> None:
        self._pending_marks = [(n, t) for n, t in self._pending_marks if n != name]
        with contextlib.suppress(InvalidStateError):  # the call is over
            self._group.create_task(self._echo_mark(name), "twilio-emulator:mark")

    async def _echo_mark(self, name: str) -> None:
        self.marks_echoed.append(name)
        await self._send({
                "event": "mark",
                "sequenceNumber": self._next_seq(),
                "streamSid": self.stream_sid,
            "mark": {"name": name},
        })


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wavewire emulate twilio",
        description="Dial a bot's /twilio route as Twilio Media Streams would and play a WAV.",
    )
    p.add_argument("--url", default="ws://127.0.0.1:8765/twilio",
                   help="the bot's Twilio route (default ws://127.0.0.1:8765/twilio)")
    p.add_argument("--wav", required=True, help="the caller's audio (16-bit WAV)")
    p.add_argument("--out", default=None, help="write what the caller heard to this WAV")
    p.add_argument("--tail", type=float, default=0.6,
                   help="seconds of quiet from the bot before 'stop' (default 0.6)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``wavewire emulate twilio …``: prints the summary as JSON."""
    args = build_parser().parse_args(argv)
    summary = asyncio.run(TwilioEmulator(args.url, args.wav, out=args.out, tail=args.tail).run())
    print_summary(summary)
    return 0

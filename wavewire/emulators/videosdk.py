"""VideoSDK custom WebSocket ingest emulator: *be* VideoSDK's ingest server for a client.

Start it, then point the client at :attr:`VideoSDKEmulator.url`
(``ws://127.0.0.1:PORT/videosdk?ref=vs_…``), e.g.
``wavewire connect --protocol videosdk --url <url>``. Like VideoSDK (protocols.md §3):

* the ``ref`` is single-use: a second connection with it, or a wrong one, is closed with
  1008 ``invalid ref`` (VideoSDK's exact code for this is unconfirmed; this is ours);
* ``start`` must arrive within 5 s, else the socket closes with 1008 ``start timeout``;
  ``media`` before ``start`` is counted as an error and ignored;
* then it plays the WAV as the room's mixed audio, ``media`` messages of 20 ms (320 bytes
  of 8 kHz mono PCM, base64) in real time, and records the client's ``media``;
* pub/sub: ``subscribe``/``unsubscribe`` are tracked; published ``message``\\s are
  recorded (never sent back to their sender); ``publish`` (topic, data) given to the
  emulator is delivered to the client if it subscribed, in VideoSDK's shape
  (``message``, ``senderId``, ``senderName``, ``timestamp``, ``id``);
* the server pings every 30 s (``ping_interval``); a client that does not answer is
  dropped (close 1011);
* ``stop`` from the client ends the call; otherwise, once the WAV has played and the
  client is quiet, the emulator waits ``linger`` seconds for ``stop`` and then sends
  ``meeting-left`` and closes with 1000.

Bad messages (invalid JSON, binary, bad base64, a topic longer than 128 characters, a
payload over 8 000 bytes) are recorded in ``errors``; the call goes on, as VideoSDK's
messaging is best-effort.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import ConnectionClosedError
from ..transports.http import Request
from ..transports.raw_server import Accept, RawConnection
from ._common import add_server_options, print_summary
from ._server import ServerEmulator

__all__ = ["VideoSDKEmulator", "main"]

START_TIMEOUT = 5.0


class VideoSDKEmulator(ServerEmulator):
    """See the module docstring. ``publish`` lists (topic, data) to send to the client
    once it has subscribed to the topic."""

    platform = "videosdk"
    rate = 8000

    def __init__(
        self,
        wav: str | Path | bytes,
        *,
        publish: list[tuple[str, Any]] | None = None,
        start_timeout: float = START_TIMEOUT,
        room_id: str = "room-emulated",
        **kwargs: Any,
    ) -> None:
        super().__init__(wav, **kwargs)
        from ..serializers.videosdk import VideoSDKServerSerializer

        self.ref = "vs_" + secrets.token_urlsafe(12)
        self.room_id = room_id
        self.start_timeout = start_timeout
        self.serializer = VideoSDKServerSerializer()
        self.to_publish = list(publish or [])
        self.published: list[dict[str, Any]] = []
        """Messages the client published: ``{"topic", "data"}``."""
        self.started = False
        self.stopped = False
        self._ref_used = False
        self._msg_id = 0

    def path(self) -> str:
        return f"/videosdk?ref={self.ref}"

    def _on_request(self, request: Request) -> Accept:
        # a bad ref is refused after the upgrade, with a close code (as VideoSDK does)
        ref = parse_qs(urlsplit(request.path).query).get("ref", [""])[0]
        ok = secrets.compare_digest(ref, self.ref) and not self._ref_used
        if ok:
            self._ref_used = True
        return Accept(data=ok)

    async def _accept(self, ws: RawConnection) -> bool:
        from ..errors import ProtocolError

        if not ws.data:
            self.refused.append((1008, "invalid ref"))
            await ws.close(1008, "invalid ref")
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(ws.recv(), remaining)
            except TimeoutError:
                self.refused.append((1008, "start timeout"))
                await ws.close(1008, "start timeout")
                return False
            except ConnectionClosedError:
                return False
            self.stats.messages_in += 1
            try:
                event, _ = self.serializer.load_event(message)
            except ProtocolError as exc:
                self.stats.errors.append(str(exc))
                continue
            if event == "start":
                self.started = True
                self.serializer.started = True
                return True
            if event == "subscribe" or event == "unsubscribe" or event == "message":
                # allowed before the join completes: queued and flushed on join
                await self._on_message(ws, message, loop.time())
                continue
            self.stats.errors.append(f"{event!r} before 'start'")

    async def _greet(self, ws: RawConnection) -> None:
        await ws.send(json.dumps({"event": "meeting-joined", "roomId": self.room_id,
                                  "sessionId": "session-emulated"}))
        await self._flush_publish(ws)

    async def _goodbye(self, ws: RawConnection) -> None:
        await ws.send('{"event":"meeting-left","message":"call ended by the emulator"}')

    def _media(self, pcm: bytes) -> str:
        import base64

        return '{"event":"media","payload":"' + base64.b64encode(pcm).decode() + '"}'

    async def _flush_publish(self, ws: RawConnection) -> None:
        keep = []
        for topic, data in self.to_publish:
            if topic not in self.serializer.topics:
                keep.append((topic, data))
                continue
            self._msg_id += 1
            text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            await ws.send(json.dumps({
                "event": "message",
                "topic": topic,
                "data": {"message": text, "senderId": "p-emulator", "senderName": "Emulator",
                         "timestamp": "2026-01-01T00:00:00.000Z", "id": f"m-{self._msg_id}"},
            }))
            self.stats.event("published-to-client")
        self.to_publish = keep

    async def _on_message(self, ws: RawConnection, message: str | bytes, now: float) -> None:
        from ..errors import ProtocolError
        from ..frames import EndTaskFrame, InputAudioFrame, InputTransportMessageFrame

        try:
            frames = self.serializer.decode(message)
        except ProtocolError as exc:
            self.stats.errors.append(str(exc))
            return
        for frame in frames:
            if isinstance(frame, InputAudioFrame):
                self.playout.add(frame.audio, now)
                self.stats.frames_in += 1
            elif isinstance(frame, EndTaskFrame):
                self.stats.event("stop")
                self.stopped = True
                self.client_ended.set()
            elif isinstance(frame, InputTransportMessageFrame):
                msg = frame.message
                if isinstance(msg, dict) and msg.get("event") in ("subscribe", "unsubscribe"):
                    self.stats.event(str(msg["event"]))
                    if msg["event"] == "subscribe" and self.started:
                        await self._flush_publish(ws)
                else:
                    self.stats.event("message")
                    self.published.append({"topic": frame.topic, "data": msg})

    def _extra(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "stopped_by_client": self.stopped,
            "subscriptions": sorted(self.serializer.topics),
            "published_by_client": len(self.published),
            "refused": [list(r) for r in self.refused],
        }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wavewire emulate videosdk",
        description="Be VideoSDK's ingest server on loopback: wait for one client "
        "(wavewire connect --protocol videosdk --url <printed URL>), play a WAV to it, "
        "record what it sends back.",
    )
    p.add_argument("--wav", required=True, help="the room's audio (16-bit WAV)")
    p.add_argument("--out", default=None, help="write what the client sent to this WAV")
    add_server_options(p, ends_with="'stop'")
    return p


def main(argv: list[str] | None = None) -> int:
    """``wavewire emulate videosdk …``: prints the URL, then the summary as JSON."""
    import sys

    args = build_parser().parse_args(argv)

    async def run() -> dict[str, Any]:
        emulator = VideoSDKEmulator(args.wav, host=args.host, port=args.port, out=args.out,
                                    linger=args.linger)
        async with emulator:
            print(f"videosdk emulator: connect with\n  wavewire connect --protocol videosdk "
                  f"--url '{emulator.url}'", file=sys.stderr, flush=True)
            return await emulator.wait(args.timeout)

    print_summary(asyncio.run(run()))
    return 0

"""Vapi WebSocket transport emulator: *be* the ``websocketCallUrl`` server for a client.

Start it, then point the client at :attr:`VapiEmulator.url`
(``ws://127.0.0.1:PORT/<callId>/transport``, the shape of Vapi's URL), e.g.
``wavewire connect --protocol vapi --url <url>``. Like Vapi (protocols.md §4):

* with ``api_key`` set, the upgrade must carry ``Authorization: Bearer <key>`` (else
  HTTP 401; whether Vapi requires it is unconfirmed);
* the call's audio format is fixed when it is created: ``pcm_s16le`` mono at
  ``sample_rate`` (default 16 kHz) or ``mulaw`` 8 kHz; binary messages are raw audio;
* it sends ``status-update`` ``in-progress``, then the WAV as the assistant's voice in
  20 ms binary messages in real time, between ``speech-update`` started/stopped for the
  assistant, and records the client's binary audio;
* text from the client: ``end-call`` (and ``hangup``) end the call (``status-update``
  ``ended``, ``customer-ended-call``, close 1000); other documented types are counted;
  invalid JSON, a missing ``type`` or an unknown type are recorded in ``errors``;
* otherwise, once the WAV has played and the client is quiet, it waits ``linger``
  seconds, sends ``status-update`` ``ended`` (``assistant-ended-call``) and closes 1000.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
from pathlib import Path
from typing import Any

from ..transports.http import Request, Response, text_response
from ..transports.raw_server import RawConnection
from ._common import add_server_options, print_summary
from ._server import ServerEmulator

__all__ = ["VapiEmulator", "main"]


class VapiEmulator(ServerEmulator):
    """See the module docstring."""

    platform = "vapi"

    def __init__(
        self,
        wav: str | Path | bytes,
        *,
        audio_format: str = "pcm_s16le",
        sample_rate: int = 16000,
        api_key: str | None = None,
        call_id: str = "call-emulated",
        **kwargs: Any,
    ) -> None:
        if audio_format not in ("pcm_s16le", "mulaw"):
            raise ValueError("audio_format must be pcm_s16le or mulaw")
        self.mulaw = audio_format == "mulaw"
        self.rate = 8000 if self.mulaw else sample_rate  # before the base loads the WAV
        super().__init__(wav, **kwargs)
        self.audio_format = audio_format
        self.api_key = api_key
        self.call_id = call_id
        self.client_messages: list[dict[str, Any]] = []
        """JSON messages the client sent."""
        self.ended_reason: str | None = None

    def path(self) -> str:
        return f"/{self.call_id}/transport"

    def _on_request(self, request: Request) -> Response | None:
        if self.api_key is None:
            return None
        got = request.headers.get("Authorization") or ""
        want = f"Bearer {self.api_key}"
        if hmac.compare_digest(got.encode(), want.encode()):
            return None
        self.refused.append((401, "unauthorized"))
        return text_response(401, "unauthorized\n")

    async def _greet(self, ws: RawConnection) -> None:
        await ws.send('{"type":"status-update","status":"in-progress"}')
        await ws.send('{"type":"speech-update","status":"started","role":"assistant","turn":0}')

    async def _goodbye(self, ws: RawConnection) -> None:
        await self._end(ws, "assistant-ended-call")

    async def _end(self, ws: RawConnection, reason: str) -> None:
        if self.ended_reason is not None:
            return
        self.ended_reason = reason
        await ws.send('{"type":"speech-update","status":"stopped","role":"assistant","turn":0}')
        await ws.send(json.dumps({"type": "status-update", "status": "ended",
                                  "endedReason": reason}))

    def _media(self, pcm: bytes) -> bytes:
        if self.mulaw:
            from ..audio.g711 import ulaw_encode

            return ulaw_encode(pcm)
        return pcm

    async def _on_message(self, ws: RawConnection, message: str | bytes, now: float) -> None:
        from ..serializers.vapi import CLIENT_TYPES

        if isinstance(message, bytes):
            if self.mulaw:
                from ..audio.g711 import ulaw_decode

                pcm = ulaw_decode(message)
            elif len(message) % 2:
                self.stats.errors.append(f"{len(message)} bytes of pcm_s16le is not whole samples")
                return
            else:
                pcm = message
            if pcm:
                self.playout.add(pcm, now)
                self.stats.frames_in += 1
            return
        try:
            msg = json.loads(message)
        except ValueError:
            self.stats.errors.append("invalid JSON")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        if not isinstance(kind, str):
            self.stats.errors.append("message without a string 'type'")
            return
        self.client_messages.append(msg)
        self.stats.event(kind)
        if kind not in CLIENT_TYPES:
            self.stats.errors.append(f"unknown message type {kind!r}")
        elif kind in ("end-call", "hangup"):
            self.client_ended.set()
            await self._end(ws, "customer-ended-call")
            await ws.close(1000)

    def _extra(self) -> dict[str, Any]:
        return {
            "audio_format": self.audio_format,
            "ended_reason": self.ended_reason,
            "refused": [list(r) for r in self.refused],
        }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="wavewire emulate vapi",
        description="Be a Vapi call's WebSocket transport on loopback: wait for one client "
        "(wavewire connect --protocol vapi --url <printed URL>), play a WAV to it as the "
        "assistant, record what it sends back.",
    )
    p.add_argument("--wav", required=True, help="the assistant's audio (16-bit WAV)")
    p.add_argument("--out", default=None, help="write what the client sent to this WAV")
    p.add_argument("--format", default="pcm_s16le", choices=("pcm_s16le", "mulaw"),
                   help="the call's audioFormat (default pcm_s16le)")
    p.add_argument("--sample-rate", type=int, default=16000,
                   help="pcm_s16le rate (default 16000; mulaw is 8000)")
    p.add_argument("--require-key", action="store_true",
                   help="require 'Authorization: Bearer $VAPI_API_KEY' on the upgrade")
    add_server_options(p, ends_with="end-call")
    return p


def main(argv: list[str] | None = None) -> int:
    """``wavewire emulate vapi …``: prints the URL, then the summary as JSON."""
    import os
    import sys

    args = build_parser().parse_args(argv)
    key = os.environ.get("VAPI_API_KEY") if args.require_key else None
    if args.require_key and not key:
        print("wavewire emulate vapi: --require-key needs $VAPI_API_KEY", file=sys.stderr)
        return 2

    async def run() -> dict[str, Any]:
        emulator = VapiEmulator(args.wav, audio_format=args.format, sample_rate=args.sample_rate,
                                api_key=key, host=args.host, port=args.port, out=args.out,
                                linger=args.linger)
        async with emulator:
            print(f"vapi emulator: connect with\n  wavewire connect --protocol vapi "
                  f"--url '{emulator.url}'", file=sys.stderr, flush=True)
            return await emulator.wait(args.timeout)

    print_summary(asyncio.run(run()))
    return 0

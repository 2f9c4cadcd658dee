"""A fake Cartesia TTS WebSocket on loopback (protocols.md §7).

* ``/tts/websocket``; the key as ``?api_key=`` (server side), ``?access_token=``
  (browsers), or an ``X-API-Key`` / ``Authorization: Bearer`` header; the version as
  ``?cartesia_version=`` or a ``Cartesia-Version`` header (the query wins; a version is
  required). A missing or wrong key is HTTP 401, no version 400.
* Generation requests buffer ``transcript`` per ``context_id``; whole words are spoken
  as they arrive (everything on ``continue: false`` or ``flush: true``) as tones
  (:func:`~._base.synthesize`): ``chunk`` messages (base64 audio in the requested
  ``output_format``), then ``timestamps`` when ``add_timestamps`` (seconds from the start
  of the context's audio); ``flush: true`` gives ``flush_done`` with the context's next
  ``flush_id``; ``continue: false`` finishes the context with ``done``. Fields other than
  ``transcript``, ``continue``, ``duration`` and ``flush`` must not change within a
  context; a finished context cannot be reused; both give an ``error`` message.
* ``{"context_id": X, "cancel": true}`` drops the context's buffered text and its
  generations not yet started; one already streaming finishes (as Cartesia documents).
  Messages go out in order, at ``pace`` times real time when set (else at once); word
  timestamps of a generation come before its audio.
* The socket closes (1000) after ``idle_timeout`` seconds without a message (5 minutes).

Run it with ``wavewire fake cartesia --port N`` or :func:`run`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._base import FakeServer, Handshake, Reject, _Conn, dumps, from_pcm, synthesize

__all__ = ["FakeCartesia", "run"]

_ENCODINGS = ("pcm_s16le", "pcm_mulaw", "pcm_alaw")
_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
_VARIABLE = ("transcript", "continue", "duration", "flush")


@dataclass(slots=True)
class _Item:
    context_id: str | None
    segment: int  # the generation it belongs to (0: a control message)
    message: str
    seconds: float  # audio it carries


@dataclass(slots=True)
class _Context:
    settings: dict[str, Any]
    text: str = ""
    samples: int = 0
    flush_id: int = 0
    words: list[str] = field(default_factory=list)


class FakeCartesia(FakeServer):
    """See the module docstring."""

    name = "cartesia"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        ms_per_char: float = 60.0,
        chunk_ms: int = 100,
        pace: float | None = None,
        idle_timeout: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host=host, port=port, api_key=api_key)
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.pace = pace
        """Send audio at this multiple of real time; ``None`` sends it at once."""
        self._segments = 0
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.cancelled: list[str] = []
        """Context ids cancelled by clients."""

    def check(self, hs: Handshake) -> None:
        if hs.path != "/tts/websocket":
            raise Reject(404, "Not Found")
        key = hs.one("api_key") or hs.one("access_token") or hs.headers.get("X-API-Key")
        auth = hs.headers.get("Authorization") or ""
        if key is None and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not self.key_ok(key):
            raise Reject(401, dumps({"error": "Invalid API key"}))
        hs.api_key = key
        if not (hs.one("cartesia_version") or hs.headers.get("Cartesia-Version")):
            raise Reject(400, dumps({"error": "cartesia_version is required"}))

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        contexts: dict[str, _Context] = {}
        finished: set[str] = set()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        cancelled: set[str] = set()
        sender = self.spawn(self._sender(conn, queue, cancelled))
        try:
            await self._receive(conn, queue, contexts, finished, cancelled)
        finally:
            sender.cancel()

    async def _receive(self, conn: _Conn, queue: asyncio.Queue[_Item],
                       contexts: dict[str, _Context], finished: set[str],
                       cancelled: set[str]) -> None:
        def put(cid: str | None, message: str) -> None:
            queue.put_nowait(_Item(cid, 0, message, 0.0))

        last = self.clock()
        while True:
            try:
                message = await asyncio.wait_for(
                    conn.ws.recv(), max(0.0, self.idle_timeout - (self.clock() - last))
                )
            except TimeoutError:
                await self.close_with(conn, 1000, "idle timeout")
                return
            last = self.clock()
            if isinstance(message, bytes):
                put(None, self._error(None, "binary messages are not accepted"))
                continue
            try:
                msg = json.loads(message)
            except ValueError:
                self.received.append(message)
                put(None, self._error(None, "invalid JSON"))
                continue
            self.received.append(msg)
            if not isinstance(msg, dict) or not isinstance(msg.get("context_id"), str):
                put(None, self._error(None, "context_id is required"))
                continue
            cid = msg["context_id"]
            if msg.get("cancel") is True:
                self.cancelled.append(cid)
                cancelled.add(cid)
                contexts.pop(cid, None)
                finished.add(cid)
                continue
            error = self._invalid(msg)
            if error is None and cid in finished:
                error = f"context {cid} is finished and cannot be reused"
            settings = {k: v for k, v in msg.items() if k not in _VARIABLE}
            ctx = contexts.get(cid)
            if error is None and ctx is not None and ctx.settings != settings:
                error = "only transcript, continue and duration may change within a context"
            if error is not None:
                put(cid, self._error(cid, error))
                continue
            if ctx is None:
                ctx = contexts[cid] = _Context(settings)
            ctx.text += msg.get("transcript", "")
            more = msg.get("continue", False) is True
            flush = msg.get("flush", False) is True
            self._speak(queue, cid, ctx, everything=flush or not more)
            if flush:
                ctx.flush_id += 1
                put(cid, dumps({
                    "type": "flush_done", "context_id": cid, "status_code": 206,
                    "done": False, "flush_done": True, "flush_id": ctx.flush_id}))
            if not more:
                contexts.pop(cid, None)
                finished.add(cid)
                put(cid, dumps({"type": "done", "context_id": cid, "status_code": 206,
                                 "done": True}))

    async def _sender(self, conn: _Conn, queue: asyncio.Queue[_Item],
                      cancelled: set[str]) -> None:
        """Sends in order, at ``pace`` times real time when set. A cancelled context's
        items are skipped, except the rest of a generation already streaming."""
        streaming = 0
        while True:
            item = await queue.get()
            if item.context_id in cancelled and (item.segment == 0 or item.segment != streaming):
                continue
            streaming = item.segment or streaming
            await self.send(conn, item.message)
            if self.pace and item.seconds:
                await asyncio.sleep(item.seconds / self.pace)

    @staticmethod
    def _error(cid: str | None, text: str) -> str:
        return dumps({"type": "error", "context_id": cid, "status_code": 400, "done": True,
                       "error": text})

    @staticmethod
    def _invalid(msg: dict[str, Any]) -> str | None:
        if not isinstance(msg.get("model_id"), str):
            return "model_id is required"
        voice = msg.get("voice")
        if not isinstance(voice, dict) or voice.get("mode") != "id" or not isinstance(
            voice.get("id"), str
        ):
            return 'voice must be {"mode": "id", "id": ...}'
        if not isinstance(msg.get("transcript", ""), str):
            return "transcript must be a string"
        fmt = msg.get("output_format")
        if not isinstance(fmt, dict) or fmt.get("container") != "raw":
            return "output_format.container must be raw on the WebSocket"
        if fmt.get("encoding") not in _ENCODINGS or fmt.get("sample_rate") not in _RATES:
            return "unsupported output_format"
        return None

    def _speak(self, queue: asyncio.Queue[_Item], cid: str, ctx: _Context, *,
               everything: bool) -> None:
        if everything:
            text, ctx.text = ctx.text, ""
        else:
            cut = max(ctx.text.rfind(" "), ctx.text.rfind("\n"))
            if cut < 0:
                return
            text, ctx.text = ctx.text[: cut + 1], ctx.text[cut + 1 :]
        if not text.strip():
            return
        self._segments += 1
        seg = self._segments
        fmt = ctx.settings["output_format"]
        rate = fmt["sample_rate"]
        syn = synthesize(text, rate, self.ms_per_char)
        offset = ctx.samples / rate
        step = rate * self.chunk_ms // 1000 * 2
        if ctx.settings.get("add_timestamps") is True and syn.words:
            queue.put_nowait(_Item(cid, seg, dumps({
                "type": "timestamps", "context_id": cid, "status_code": 206, "done": False,
                "word_timestamps": {
                    "words": [w for w, _, _ in syn.words],
                    "start": [round(offset + s, 6) for _, s, _ in syn.words],
                    "end": [round(offset + e, 6) for _, _, e in syn.words]}}), 0.0))
        for i in range(0, len(syn.pcm), step):
            pcm = syn.pcm[i : i + step]
            data = from_pcm(pcm, fmt["encoding"].removeprefix("pcm_"))
            queue.put_nowait(_Item(cid, seg, dumps({
                "type": "chunk", "context_id": cid, "status_code": 206, "done": False,
                "data": base64.b64encode(data).decode("ascii"), "step_time": 1.0,
                "flush_id": ctx.flush_id + 1}), len(pcm) / 2 / rate))
        ctx.samples += len(syn.pcm) // 2


async def run(host: str, port: int) -> None:
    """Serve a fake Cartesia (any key) until cancelled."""
    await FakeCartesia(host=host, port=port).serve_forever()

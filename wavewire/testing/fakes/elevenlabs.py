"""A fake ElevenLabs TTS input-streaming WebSocket on loopback (protocols.md §8).

* ``/v1/text-to-speech/{voice_id}/stream-input`` (one context) and
  ``.../multi-stream-input`` (contexts by ``context_id``); ``model_id`` is required and
  ``output_format`` must be ``pcm_*``, ``ulaw_8000`` or ``alaw_8000`` (the fake makes no
  MP3/Opus), else HTTP 400. The key: an ``xi-api-key`` header (a wrong one is HTTP 401),
  an ``authorization`` query value, or ``xi_api_key`` / ``xi-api-key`` / ``authorization``
  in the first message; without any, the socket closes 1008.
* ``stream-input``: the first message initializes (``text`` a single space, optional
  ``voice_settings``/``generation_config``); later ``voice_settings`` must be absent or
  unchanged (else 1008). Text is buffered and spoken as tones (:func:`~._base.synthesize`)
  once the buffer holds the next ``chunk_length_schedule`` size (120, 160, 250, 290 by
  default) up to a word boundary, on ``flush: true``, or at the end (``{"text": ""}``,
  then ``{"isFinal": true}`` and close 1000). Each audio message carries ``alignment`` and
  ``normalizedAlignment`` (``chars``, ``charStartTimesMs``, ``charsDurationsMs``, times
  relative to that message). ``{"text": " "}`` is a keep-alive; no message for
  ``inactivity_timeout`` seconds (query, 20 by default) closes 1008.
* ``multi-stream-input``: the same per ``context_id``, replies carry ``contextId``;
  ``{"context_id": X, "close_context": true}`` speaks the rest then sends
  ``{"isFinal": true, "contextId": X}``; ``{"context_id": X, "text": ""}`` keeps ``X``
  alive (``{"text": ""}`` without one keeps the socket alive); ``{"close_socket": true}`` finishes every context and closes 1000; a context's
  first message carries its settings, so ``voice_settings`` later on closes 1008.

Run it with ``wavewire fake elevenlabs --port N`` or :func:`run`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ._base import FakeServer, Handshake, Reject, _Conn, dumps, from_pcm, synthesize

__all__ = ["FakeElevenLabs", "run"]

_PATH = re.compile(r"^/v1/text-to-speech/([^/]+)/(stream-input|multi-stream-input)$")
_FORMATS = {"pcm_8000": 8000, "pcm_16000": 16000, "pcm_22050": 22050, "pcm_24000": 24000,
            "pcm_44100": 44100, "pcm_48000": 48000, "ulaw_8000": 8000, "alaw_8000": 8000}
_SCHEDULE = [120, 160, 250, 290]


@dataclass(slots=True)
class _Context:
    settings: Any = None
    schedule: list[int] = field(default_factory=lambda: list(_SCHEDULE))
    text: str = ""
    generations: int = 0


class _Policy(Exception):
    """Close the socket 1008 with this reason."""


class FakeElevenLabs(FakeServer):
    """See the module docstring."""

    name = "elevenlabs"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None,
                 ms_per_char: float = 60.0) -> None:
        super().__init__(host=host, port=port, api_key=api_key)
        self.ms_per_char = ms_per_char
        self.closed_contexts: list[str] = []
        """Context ids clients closed (multi-context)."""

    def check(self, hs: Handshake) -> None:
        match = _PATH.match(hs.path)
        if match is None:
            raise Reject(404, "Not Found")
        if not hs.one("model_id"):
            raise Reject(400, dumps({"detail": "model_id is required"}))
        if (hs.one("output_format") or "mp3_44100") not in _FORMATS:
            raise Reject(400, dumps({"detail": "the fake produces pcm_*, ulaw_8000, alaw_8000"}))
        key = hs.headers.get("xi-api-key") or hs.one("authorization")
        if key is not None and not self.key_ok(key):
            raise Reject(401, dumps({"detail": {"status": "invalid_api_key",
                                                 "message": "Invalid API key"}}))
        hs.api_key = key

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        multi = hs.path.endswith("multi-stream-input")
        fmt = hs.one("output_format") or "mp3_44100"
        timeout = float(hs.one("inactivity_timeout") or 20)
        contexts: dict[str | None, _Context] = {}
        try:
            while True:
                try:
                    message = await asyncio.wait_for(conn.ws.recv(), timeout)
                except TimeoutError:
                    raise _Policy(f"Have not received a new text input within the timeout "
                                  f"of {timeout:g} seconds") from None
                if isinstance(message, bytes):
                    raise _Policy("binary messages are not accepted")
                try:
                    msg = json.loads(message)
                except ValueError:
                    self.received.append(message)
                    raise _Policy("invalid JSON") from None
                self.received.append(msg)
                if not isinstance(msg, dict):
                    raise _Policy("messages must be objects")
                if hs.api_key is None:
                    key = msg.get("xi_api_key") or msg.get("xi-api-key") or msg.get(
                        "authorization")
                    if not self.key_ok(key if isinstance(key, str) else None):
                        raise _Policy("Invalid API key")
                    hs.api_key = key
                if multi and msg.get("close_socket") is True:
                    for cid, ctx in list(contexts.items()):
                        await self._generate(conn, fmt, ctx, cid, everything=True)
                        await self.send(conn, dumps({"isFinal": True, "contextId": cid}))
                    await self.close_with(conn, 1000)
                    return
                cid = msg.get("context_id") if multi else None
                if multi and cid is None and msg.get("text") in ("", " "):
                    continue  # a socket-level keep-alive
                if multi and not isinstance(cid, str):
                    raise _Policy("context_id is required")
                done = await self._message(conn, fmt, contexts, cid, msg, multi)
                if done:
                    await self.close_with(conn, 1000)
                    return
        except _Policy as exc:
            await self.close_with(conn, 1008, str(exc)[:120])

    async def _message(self, conn: _Conn, fmt: str, contexts: dict[str | None, _Context],
                       cid: str | None, msg: dict[str, Any], multi: bool) -> bool:
        text = msg.get("text")
        if text is not None and not isinstance(text, str):
            raise _Policy("text must be a string")
        ctx = contexts.get(cid)
        if ctx is None:
            if not multi and text != " ":
                raise _Policy("the first message must be the initializing one (text ' ')")
            ctx = contexts[cid] = _Context(settings=msg.get("voice_settings"))
            schedule = (msg.get("generation_config") or {}).get("chunk_length_schedule")
            if isinstance(schedule, list) and schedule:
                ctx.schedule = [int(x) for x in schedule]
            if not multi:
                return False
        elif "voice_settings" in msg and msg["voice_settings"] != ctx.settings:
            raise _Policy("voice_settings may only be sent in the first message")
        if multi and msg.get("close_context") is True:
            await self._generate(conn, fmt, ctx, cid, everything=True)
            contexts.pop(cid, None)
            self.closed_contexts.append(str(cid))
            await self.send(conn, dumps({"isFinal": True, "contextId": cid}))
            return False
        if text == "" and not multi:
            await self._generate(conn, fmt, ctx, cid, everything=True)
            await self.send(conn, dumps({"isFinal": True}))
            return True
        ctx.text += text or ""
        await self._generate(conn, fmt, ctx, cid, everything=msg.get("flush") is True)
        return False

    async def _generate(self, conn: _Conn, fmt: str, ctx: _Context, cid: str | None, *,
                        everything: bool) -> None:
        while ctx.text.strip():
            need = ctx.schedule[min(ctx.generations, len(ctx.schedule) - 1)]
            if everything:
                text, ctx.text = ctx.text, ""
            else:
                if len(ctx.text) < need:
                    return
                cut = ctx.text.rfind(" ", need - 1)
                cut = cut if cut >= 0 else ctx.text.rfind(" ")
                if cut < 0:
                    return
                text, ctx.text = ctx.text[: cut + 1], ctx.text[cut + 1 :]
            ctx.generations += 1
            await self._audio(conn, fmt, text, cid)

    async def _audio(self, conn: _Conn, fmt: str, text: str, cid: str | None) -> None:
        syn = synthesize(text, _FORMATS[fmt], self.ms_per_char)
        data = from_pcm(syn.pcm, {"ulaw_8000": "mulaw", "alaw_8000": "alaw"}.get(fmt, "pcm"))
        alignment = {"chars": [c for c, _, _ in syn.chars],
                     "charStartTimesMs": [round(s) for _, s, _ in syn.chars],
                     "charsDurationsMs": [round(d) for _, _, d in syn.chars]}
        msg: dict[str, Any] = {"audio": base64.b64encode(data).decode("ascii"),
                               "isFinal": None, "normalizedAlignment": alignment,
                               "alignment": alignment}
        if cid is not None:
            msg["contextId"] = cid
        await self.send(conn, dumps(msg))


async def run(host: str, port: int) -> None:
    """Serve a fake ElevenLabs (any key) until cancelled."""
    await FakeElevenLabs(host=host, port=port).serve_forever()

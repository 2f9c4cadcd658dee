"""A Python voice client for the assistant's tests and benchmark: speaks PCM into ``/ws``
in real time (20 ms chunks), records the bot's audio and RTVI messages with their
arrival times, and waits on them with deadlines."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RATE = 16000
CHUNK = 640  # 20 ms of 16 kHz mono s16le


@dataclass
class VoiceClient:
    """One ``/ws`` connection (``websockets`` client) with what it received."""

    ws: Any
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio: list[tuple[float, int]] = field(default_factory=list)
    """(arrival time, bytes) of each bot audio message."""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task | None = None

    async def __aenter__(self) -> VoiceClient:
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=5)

    async def _read(self) -> None:
        async for message in self.ws:
            now = time.monotonic()
            if isinstance(message, bytes):
                self.audio.append((now, len(message)))
            else:
                self.messages.append((now, json.loads(message)))
            self._changed.set()

    async def send_rtvi(self, type_: str, data: dict[str, Any] | None = None,
                        id_: str = "c1") -> None:
        message: dict[str, Any] = {"label": "rtvi-ai", "type": type_, "id": id_}
        if data is not None:
            message["data"] = data
        await self.ws.send(json.dumps(message))

    async def speak(self, pcm: bytes, *, silence_s: float = 0.0) -> float:
        """Send ``pcm`` then ``silence_s`` of silence in real time; returns the time its
        last speech chunk went out."""
        start = time.monotonic()
        sent = 0
        data = pcm + bytes(int(silence_s * RATE) * 2)
        end_of_speech = start
        for offset in range(0, len(data), CHUNK):
            due = start + sent / (RATE * 2)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            chunk = data[offset:offset + CHUNK]
            chunk += bytes(len(chunk) % 2)
            await self.ws.send(chunk)
            sent += len(chunk)
            if offset < len(pcm):
                end_of_speech = time.monotonic()
        return end_of_speech

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0,
                       timeout: float = 30.0) -> tuple[int, float, dict[str, Any]]:
        """The first message from index ``after`` that matches: (index, time, message)."""
        async with asyncio.timeout(timeout):
            while True:
                for i in range(after, len(self.messages)):
                    at, message = self.messages[i]
                    if predicate(message):
                        return i, at, message
                self._changed.clear()
                await self._changed.wait()

    async def wait_audio(self, n_bytes: int, timeout: float = 30.0) -> None:
        """Until ``n_bytes`` of bot audio have arrived."""
        async with asyncio.timeout(timeout):
            while sum(n for _, n in self.audio) < n_bytes:
                self._changed.clear()
                await self._changed.wait()

    def of_type(self, type_: str, after: int = 0) -> list[dict[str, Any]]:
        return [m for _, m in self.messages[after:] if m.get("type") == type_]


def is_type(type_: str) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("type") == type_


async def speech(text: str) -> bytes:
    """``text`` spoken by espeak-ng at 16 kHz (the voice pocketsphinx recognises best)."""
    from wavewire.services.espeak_engine import DEFAULT_VOICE, EspeakEngine

    synthesis = await EspeakEngine.shared().run(text, voice=DEFAULT_VOICE, out_rate=RATE)
    return bytes(synthesis.pcm)


def clock_times(now_s: float | None = None) -> set[str]:
    """The spoken local time ("1:05 PM") now and a minute either side."""
    from datetime import datetime, timedelta

    now = datetime.fromtimestamp(now_s) if now_s is not None else datetime.now()
    out = set()
    for delta in (-1, 0, 1):
        t = now + timedelta(minutes=delta)
        out.add(f"{t.hour % 12 or 12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}")
    return out

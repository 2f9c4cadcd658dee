"""What every provider fake shares: a WebSocket server on loopback with handshake
checks (path, query, auth), the failure modes a test can ask for, a record of what
clients sent, the tone synthesis the TTS fakes speak with, the compact JSON and G.711
coding the provider fakes send and read, and :meth:`FakeServer.serve_forever` behind
each fake's ``run`` (``wavewire fake``).

The server is wavewire's raw WebSocket server (:mod:`wavewire.transports.raw_server`),
not the session server: a fake must answer handshakes the way a provider does (HTTP
401/429 with the provider's headers and body, subprotocol selection, query validation)
and abort a TCP connection on demand, and it serves each connection with its own code.

Failure modes (each applies to the next connections, then is used up):

* :meth:`FakeServer.refuse_keys` -- every handshake answers 401 (as for a wrong key);
* :meth:`FakeServer.rate_limit` -- the next ``n`` handshakes answer 429;
* :meth:`FakeServer.drop_after` -- the next connection is aborted (TCP reset, no close
  frame) once the fake has sent it ``n`` messages;
* :meth:`FakeServer.send_garbage` -- the next ``n`` replies are replaced by text that is
  not JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ...errors import ConnectionClosedError
from ...transports.http import Headers, Request, Response, respond
from ...transports.raw_server import Accept, RawConnection, RawServer, serve

__all__ = ["FakeServer", "Handshake", "Reject", "synthesize", "Synthesis", "GARBAGE",
           "FAKE_LOGGER", "dumps", "to_pcm", "from_pcm", "offered_subprotocols",
           "plain_response"]

FAKE_LOGGER = "wavewire.testing.fakes"
"""The fakes' own log (a fake stands for the provider: it sees the credentials)."""

GARBAGE = '\x00{"type": garbage'
"""What :meth:`FakeServer.send_garbage` sends instead of a reply."""


def dumps(value: Any) -> str:
    """Compact JSON (no spaces), as the providers send it."""
    return json.dumps(value, separators=(",", ":"))


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols a client offered in its upgrade request, in order."""
    return [p.strip() for v in request.headers.get_all("Sec-WebSocket-Protocol")
            for p in v.split(",") if p.strip()]


def plain_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """An HTTP refusal with a plain-text ``body`` and extra ``headers``."""
    response = respond(status, body.encode("utf-8"), "text/plain; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def to_pcm(data: bytes, encoding: str) -> bytes:
    """16-bit PCM from audio in ``encoding`` (``mulaw`` and ``alaw`` decoded, anything
    else taken as PCM)."""
    from ...audio.g711 import alaw_decode, ulaw_decode

    if encoding == "mulaw":
        return ulaw_decode(data)
    if encoding == "alaw":
        return alaw_decode(data)
    return data


def from_pcm(pcm: bytes, encoding: str) -> bytes:
    """16-bit PCM in ``encoding`` (``mulaw`` and ``alaw`` encoded, anything else as is)."""
    from ...audio.g711 import alaw_encode, ulaw_encode

    if encoding == "mulaw":
        return ulaw_encode(pcm)
    if encoding == "alaw":
        return alaw_encode(pcm)
    return pcm


class Reject(Exception):
    """Raised by a fake's handshake check: answer ``status`` with ``body`` and headers."""

    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass(slots=True)
class Handshake:
    """One accepted upgrade request, as the fake saw it."""

    path: str
    """The path without the query."""
    query: dict[str, list[str]]
    """Query parameters (every value a list, in order)."""
    headers: Headers
    """The request headers."""
    subprotocols: list[str] = field(default_factory=list)
    """Subprotocols the client offered."""
    api_key: str | None = None
    """The key the client authenticated with (never logged)."""

    def one(self, name: str, default: str | None = None) -> str | None:
        """The last value of a query parameter."""
        values = self.query.get(name)
        return values[-1] if values else default


class _Conn:
    """A connection plus the fault it carries."""

    def __init__(self, ws: RawConnection, drop_after: int | None) -> None:
        self.ws = ws
        self.drop_after = drop_after
        self.sent = 0


class FakeServer:
    """Base of the fakes: subclasses implement :meth:`check` (the handshake) and
    :meth:`session` (one connection), and send with :meth:`send`."""

    name = "fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 api_key: str | None = None) -> None:
        self.host = host
        self._port = port
        self.api_key = api_key
        """The key the fake accepts; ``None`` accepts any non-empty key."""
        self.handshakes: list[Handshake] = []
        """Every accepted upgrade, in order."""
        self.rejected: list[tuple[int, str]] = []
        """Handshakes answered with an HTTP error: (status, path)."""
        self.received: list[Any] = []
        """Every text message clients sent (parsed JSON, or the raw text if not JSON)."""
        self.closes: list[tuple[int, str]] = []
        """Close codes and reasons the fake sent."""
        self.connections = 0
        """Connections accepted so far."""
        self.active = 0
        """Connections open now."""
        self._refuse = False
        self._rate_limited = 0
        self._drop_after: int | None = None
        self._garbage = 0
        self._server: RawServer | None = None

    # --- failure modes --------------------------------------------------------------

    def refuse_keys(self, refuse: bool = True) -> None:
        """Answer every handshake with 401, whatever the key."""
        self._refuse = refuse

    def rate_limit(self, n: int = 1) -> None:
        """Answer the next ``n`` handshakes with 429."""
        self._rate_limited = n

    def drop_after(self, n: int) -> None:
        """Abort the next connection once ``n`` messages have been sent to it."""
        self._drop_after = n

    def send_garbage(self, n: int = 1) -> None:
        """Replace the next ``n`` replies by :data:`GARBAGE`."""
        self._garbage = n

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (see :attr:`url`)."""
        self._server = await serve(
            self._handler, self.host, self._port, on_request=self._on_request,
            max_size=1 << 22, ping_interval=None, name=f"fake-{self.name}",
            log=logging.getLogger(FAKE_LOGGER),
        )

    async def close(self) -> None:
        """Stop listening, close every connection and cancel the fake's tasks."""
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> FakeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        """Serve until cancelled, saying where on stdout (``wavewire: fake NAME on URL``)."""
        await self.start()
        print(f"wavewire: fake {self.name} on {self.url}", flush=True)
        try:
            await asyncio.Future()
        finally:
            await self.close()

    @property
    def port(self) -> int:
        """The port listened on."""
        assert self._server is not None, "start() first"
        return self._server.port

    @property
    def url(self) -> str:
        """``ws://host:port`` (no path: clients add the provider's paths)."""
        return f"ws://{self.host}:{self.port}"

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task owned by the fake's server (cancelled by :meth:`close`)."""
        assert self._server is not None, "start() first"
        return self._server.group.create_task(coro, f"fake-{self.name}:task")

    # --- handshake ------------------------------------------------------------------

    def key_ok(self, key: str | None) -> bool:
        """Whether ``key`` is accepted."""
        if not key:
            return False
        if self.api_key is None:
            return True
        return hmac.compare_digest(key.encode(), self.api_key.encode())

    def check(self, hs: Handshake) -> None:
        """Validate a handshake (path, query, auth); raise :class:`Reject` to refuse.
        Set ``hs.api_key``."""
        raise NotImplementedError

    def reject_headers(self, status: int) -> dict[str, str]:
        """Extra headers on an HTTP error answer."""
        return {}

    def subprotocol(self, offered: list[str]) -> str | None:
        """The subprotocol to select among those offered (none by default)."""
        return None

    def _reject(self, path: str, rej: Reject) -> Response:
        self.rejected.append((rej.status, path))
        return plain_response(rej.status, rej.body,
                              {**self.reject_headers(rej.status), **rej.headers})

    def _on_request(self, request: Request) -> Response | Accept:
        """Refuse (the failure modes, then :meth:`check`) or accept the upgrade; the
        handler gets the :class:`Handshake` as the connection's state."""
        parts = urlsplit(request.path)
        offered = offered_subprotocols(request)
        hs = Handshake(parts.path, parse_qs(parts.query, keep_blank_values=True),
                       request.headers, offered)
        if self._rate_limited > 0:
            self._rate_limited -= 1
            return self._reject(hs.path, Reject(429, "Too Many Requests", {"Retry-After": "1"}))
        try:
            self.check(hs)
        except Reject as rej:
            return self._reject(hs.path, rej)
        if self._refuse:
            return self._reject(hs.path, Reject(401, "Unauthorized"))
        return Accept(self.subprotocol(offered), data=hs)

    async def _handler(self, ws: RawConnection) -> None:
        hs: Handshake = ws.data
        self.handshakes.append(hs)
        self.connections += 1
        self.active += 1
        conn = _Conn(ws, self._drop_after)
        self._drop_after = None
        try:
            await self.session(conn, hs)
        except ConnectionClosedError:
            pass
        finally:
            self.active -= 1

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        """Serve one connection."""
        raise NotImplementedError

    # --- sending --------------------------------------------------------------------

    async def send(self, conn: _Conn, message: str | bytes) -> None:
        """Send one message, applying the garbage and drop faults."""
        if self._garbage > 0 and isinstance(message, str):
            self._garbage -= 1
            message = GARBAGE
        await conn.ws.send(message)
        conn.sent += 1
        if conn.drop_after is not None and conn.sent >= conn.drop_after:
            conn.ws.abort()
            raise ConnectionClosedError(1006, "dropped on purpose")

    async def close_with(self, conn: _Conn, code: int, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (recorded)."""
        self.closes.append((code, reason))
        await conn.ws.close(code, reason)


# --- tone synthesis ------------------------------------------------------------------------


@dataclass(slots=True)
class Synthesis:
    """Audio for some text with its timing."""

    pcm: bytes
    """16-bit mono PCM."""
    sample_rate: int
    """Samples per second of :attr:`pcm`."""
    words: list[tuple[str, float, float]]
    """(word, start s, end s) from the start of this audio."""
    chars: list[tuple[str, float, float]]
    """(character, start ms, duration ms) from the start of this audio, spaces included."""

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.pcm) / 2 / self.sample_rate


def synthesize(text: str, sample_rate: int, ms_per_char: float = 60.0) -> Synthesis:
    """A tone per word whose length follows the text: each character lasts
    ``ms_per_char``; a word is a sine (its pitch from the word's length) and a space is
    silence. Deterministic: the same text gives the same samples."""
    import numpy as np

    n = max(1, round(sample_rate * ms_per_char / 1000))
    step_ms = n * 1000 / sample_rate
    freqs = np.zeros(len(text))
    words: list[tuple[str, float, float]] = []
    chars: list[tuple[str, float, float]] = []
    word_start = -1
    for i, c in enumerate(text):
        chars.append((c, i * step_ms, step_ms))
        if c.isspace():
            if word_start >= 0:
                words.append((text[word_start:i], word_start * n / sample_rate, i * n / sample_rate))
                word_start = -1
            continue
        if word_start < 0:
            word_start = i
        freqs[i] = 200.0 + 40.0 * ((i - word_start) % 8)
    if word_start >= 0:
        end = len(text) * n / sample_rate
        words.append((text[word_start:], word_start * n / sample_rate, end))
    t = np.arange(len(text) * n) / sample_rate
    wave = 6000 * np.sin(2 * np.pi * np.repeat(freqs, n) * t)
    return Synthesis(wave.astype("<i2").tobytes(), sample_rate, words, chars)

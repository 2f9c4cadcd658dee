"""A fake Deepgram on loopback: streaming STT (``/v1/listen``, Flux ``/v2/listen``) and
streaming TTS (``/v1/speak``), as protocols.md §5 and §6 describe them.

* Auth: ``Authorization: Token <key>`` (or ``token``/``Bearer``), or the subprotocols
  ``token, <key>`` (the fake then selects ``token``). A missing or wrong key is HTTP 401
  with ``dg-request-id`` and ``dg-error`` headers and a JSON body; a bad query is 400.
* ``/v1/listen``: ``encoding`` ∈ linear16/mulaw/alaw needs ``sample_rate``; audio is
  transcribed by :class:`~._listen.Transcriber` from the table given as ``transcripts``
  (:func:`~._listen.utterance_key` → text, or a tone frequency in Hz → text), with
  interim results, words, ``SpeechStarted``, ``UtteranceEnd``, ``Finalize``
  (``from_finalize``), ``CloseStream`` (last results, ``Metadata``, close 1000);
  ``KeepAlive`` gets no reply. No audio or KeepAlive for ``idle_timeout`` seconds (10 by
  default; a KeepAlive counts only once some audio was sent) closes 1011 ``NET-0001``; an
  empty binary message ends the stream like ``CloseStream``; audio that is not whole
  samples closes 1008 ``DATA-0000``; an invalid text message closes 1008 ``DATA-0000``.
* ``/v2/listen`` (Flux; ``model`` must be ``flux-*``): ``Connected``, then ``TurnInfo``
  ``StartOfTurn`` / ``Update`` / (``EagerEndOfTurn`` when ``eager_eot_threshold`` is set) /
  ``EndOfTurn``; ``Configure`` → ``ConfigureSuccess``; ``ForceEndTurn``; ``CloseStream``.
* ``/v1/speak``: ``Metadata`` on connect; ``Speak`` buffers text, ``Flush`` sends the
  text as tones (:func:`~._base.synthesize`; binary, in the socket's encoding) then
  ``Flushed``; ``Clear`` drops the buffer (and stops paced audio) then ``Cleared``;
  ``Close`` closes 1000. Beyond 20 flushes in 60 s (by ``clock``) a flush gets a
  ``Warning`` and is refused. A binary message closes 1003 ``MESSAGE-0000``; an invalid
  command 1008 ``DATA-0000``; a ``Speak`` over ``max_chars`` 1009 ``BIG-0001``.

Run it with ``wavewire fake deepgram --port N`` (transcripts from
``WAVEWIRE_FAKE_DEEPGRAM_TRANSCRIPTS``, e.g. ``{"440": "hello there", "*": "okay"}``) or
:func:`run`; in tests use
``async with FakeDeepgram(transcripts={440: "hello there"}) as dg: ... dg.url``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from ._base import FakeServer, Handshake, Reject, _Conn, dumps, from_pcm, synthesize, to_pcm
from ._listen import ListenConfig, Transcriber, utterance_key

__all__ = ["FakeDeepgram", "run", "utterance_key", "table_from_env", "TRANSCRIPTS_ENV"]

_ENCODINGS = ("linear16", "mulaw", "alaw")
_SPEAK_RATES = {"linear16": (8000, 16000, 24000, 32000, 48000), "mulaw": (8000, 16000),
                "alaw": (8000, 16000)}


def _flag(hs: Handshake, name: str, default: bool = False) -> bool:
    value = hs.one(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise Reject(400, f"{name} must be true or false")
    return value == "true"


def _int(hs: Handshake, name: str, default: int | None = None) -> int | None:
    value = hs.one(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Reject(400, f"{name} must be an integer") from None


class FakeDeepgram(FakeServer):
    """See the module docstring."""

    name = "deepgram"

    def __init__(
        self,
        transcripts: Mapping[int | str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        idle_timeout: float = 10.0,
        default_transcript: str = "",
        threshold: int = 500,
        ms_per_char: float = 60.0,
        chunk_ms: int = 100,
        pace: float | None = None,
        max_chars: int = 2000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(host=host, port=port, api_key=api_key)
        self.transcripts: dict[int | str, str] = dict(transcripts or {})
        """Utterance key or tone Hz → transcript (may be changed while running)."""
        self.idle_timeout = idle_timeout
        self.default_transcript = default_transcript
        self.threshold = threshold
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.pace = pace
        """Speak audio at this multiple of real time; ``None`` sends it at once."""
        self.max_chars = max_chars
        self.clock = clock
        self.audio_bytes = 0
        """Audio bytes received on listen sockets."""
        self._requests = 0

    # --- handshake ----------------------------------------------------------------------

    def subprotocol(self, offered: list[str]) -> str | None:
        return "token" if offered and offered[0].lower() == "token" else None

    def reject_headers(self, status: int) -> dict[str, str]:
        return {"dg-request-id": self._request_id(), "dg-error": {
            400: "Bad Request", 401: "Invalid credentials.", 404: "Not Found",
            429: "Too many requests"}.get(status, "error")}

    def _request_id(self) -> str:
        self._requests += 1
        return f"00000000-0000-4000-8000-{self._requests:012d}"

    def check(self, hs: Handshake) -> None:
        if hs.path not in ("/v1/listen", "/v2/listen", "/v1/speak"):
            raise Reject(404, dumps({"err_code": "NOT_FOUND", "err_msg": "Not Found"}))
        key = None
        auth = hs.headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("token", "bearer"):
            key = value.strip()
        elif len(hs.subprotocols) >= 2 and hs.subprotocols[0].lower() == "token":
            key = hs.subprotocols[1]
        if not self.key_ok(key):
            raise Reject(401, dumps({"err_code": "INVALID_AUTH",
                                      "err_msg": "Invalid credentials."}))
        hs.api_key = key
        if hs.path == "/v1/speak":
            encoding = hs.one("encoding", "linear16")
            if encoding not in _SPEAK_RATES:
                raise Reject(400, f"unsupported encoding {encoding}")
            rate = _int(hs, "sample_rate", 24000 if encoding == "linear16" else 8000)
            if rate not in _SPEAK_RATES[encoding]:
                raise Reject(400, f"unsupported sample_rate for {encoding}")
            return
        model = hs.one("model", "nova-3") or ""
        flux = hs.path == "/v2/listen"
        if flux != model.startswith("flux"):
            raise Reject(400, "Flux models are served on /v2/listen only")
        encoding = hs.one("encoding")
        if encoding is not None:
            if encoding not in _ENCODINGS:
                raise Reject(400, f"the fake decodes only {_ENCODINGS}")
            if hs.one("sample_rate") is None:
                raise Reject(400, "sample_rate is required with encoding")
        rate = _int(hs, "sample_rate", 16000)
        if rate is None or not 1000 <= rate <= 192000:
            raise Reject(400, "bad sample_rate")
        if (_int(hs, "channels", 1) or 1) != 1:
            raise Reject(400, "the fake transcribes mono audio only")
        for name in ("interim_results", "vad_events", "smart_format", "punctuate"):
            _flag(hs, name)
        if hs.one("endpointing") not in (None, "false"):
            _int(hs, "endpointing")
        _int(hs, "utterance_end_ms")

    # --- sessions -----------------------------------------------------------------------

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        if hs.path == "/v1/speak":
            await self._speak(conn, hs)
        else:
            await self._listen(conn, hs)

    def _config(self, hs: Handshake) -> ListenConfig:
        endpointing = hs.one("endpointing")
        return ListenConfig(
            sample_rate=_int(hs, "sample_rate", 16000) or 16000,
            interim_results=_flag(hs, "interim_results"),
            endpointing_ms=None if endpointing == "false" else _int(hs, "endpointing", 10),
            utterance_end_ms=_int(hs, "utterance_end_ms"),
            vad_events=_flag(hs, "vad_events"),
            model=hs.one("model", "nova-3") or "nova-3",
            flux=hs.path == "/v2/listen",
            eager=hs.one("eager_eot_threshold") is not None,
        )

    async def _listen(self, conn: _Conn, hs: Handshake) -> None:
        config = self._config(hs)
        encoding = hs.one("encoding", "linear16") or "linear16"
        tr = Transcriber(config, self.transcripts, request_id=self._request_id(),
                         threshold=self.threshold, default=self.default_transcript)
        if config.flux:
            await self.send(conn, tr.connected())
        last = self.clock()
        had_audio = False
        while True:
            remaining = self.idle_timeout - (self.clock() - last)
            try:
                message = await asyncio.wait_for(conn.ws.recv(), max(remaining, 0.0))
            except TimeoutError:
                await self.close_with(conn, 1011, "NET-0001")
                return
            out: list[str] = []
            if isinstance(message, bytes):
                if not message:
                    out = tr.close_stream()
                    for m in out:
                        await self.send(conn, m)
                    await self.close_with(conn, 1000)
                    return
                pcm = to_pcm(message, encoding)
                if len(pcm) % 2:
                    await self.close_with(conn, 1008, "DATA-0000")
                    return
                self.audio_bytes += len(message)
                had_audio = True
                last = self.clock()
                out = tr.audio(pcm)
            else:
                kind, msg = await self._command(conn, message)
                if msg is None:
                    return
                if kind == "KeepAlive" and not config.flux:
                    if had_audio:
                        last = self.clock()
                elif kind == "Finalize" and not config.flux:
                    last = self.clock()
                    out = tr.finalize()
                elif kind == "CloseStream":
                    for m in tr.close_stream():
                        await self.send(conn, m)
                    await self.close_with(conn, 1000)
                    return
                elif kind == "Configure" and config.flux:
                    out = [dumps({"type": "ConfigureSuccess", "request_id": tr.request_id,
                                   "thresholds": msg.get("thresholds", {}),
                                   "keyterms": msg.get("keyterms", []),
                                   "sequence_id": tr.sequence_id})]
                    tr.sequence_id += 1
                elif kind == "ForceEndTurn" and config.flux:
                    out = tr.force_end_turn()
                else:
                    await self.close_with(conn, 1008, "DATA-0000")
                    return
            for m in out:
                await self.send(conn, m)

    async def _command(self, conn: _Conn, message: str) -> tuple[object, dict[str, Any] | None]:
        """A client's text message, recorded: its ``type`` and the object; one that is not
        a JSON object with a ``type`` closes the socket 1008 ``DATA-0000`` (then
        ``(None, None)``)."""
        try:
            msg = json.loads(message)
            kind = msg["type"]
        except (ValueError, KeyError, TypeError):
            self.received.append(message)
            await self.close_with(conn, 1008, "DATA-0000")
            return None, None
        self.received.append(msg)
        return kind, msg

    async def _speak(self, conn: _Conn, hs: Handshake) -> None:
        encoding = hs.one("encoding", "linear16") or "linear16"
        rate = _int(hs, "sample_rate", 24000 if encoding == "linear16" else 8000) or 24000
        request_id = self._request_id()
        await self.send(conn, dumps({
            "type": "Metadata", "request_id": request_id,
            "model_name": hs.one("model", "aura-asteria-en"), "model_version": "fake",
            "model_uuid": "00000000-0000-4000-8000-000000000001"}))
        text: list[str] = []
        seq = 0
        flushes: deque[float] = deque()
        playing: asyncio.Task[None] | None = None
        try:
            while True:
                message = await conn.ws.recv()
                if isinstance(message, bytes):
                    await self.close_with(conn, 1003, "MESSAGE-0000")
                    return
                kind, msg = await self._command(conn, message)
                if msg is None:
                    return
                if kind == "Speak" and isinstance(msg.get("text"), str):
                    if len(msg["text"]) > self.max_chars:
                        await self.close_with(conn, 1009, "BIG-0001")
                        return
                    text.append(msg["text"])
                elif kind == "Flush":
                    now = self.clock()
                    while flushes and flushes[0] <= now - 60.0:
                        flushes.popleft()
                    if len(flushes) >= 20:
                        if playing is not None:
                            await playing  # replies keep the order of the commands
                        await self.send(conn, dumps({
                            "type": "Warning", "code": "FLUSH_LIMIT",
                            "description": "Flush limit of 20 per 60 seconds exceeded"}))
                        continue
                    flushes.append(now)
                    speech, text = "".join(text), []
                    if playing is not None:
                        await playing
                    playing = self.spawn(self._play(conn, speech, rate, encoding, seq))
                    seq += 1
                elif kind == "Clear":
                    text = []
                    if playing is not None:
                        playing.cancel()
                        playing = None
                    await self.send(conn, dumps({"type": "Cleared", "sequence_id": seq}))
                    seq += 1
                elif kind == "Close":
                    if playing is not None:
                        await playing
                    await self.close_with(conn, 1000)
                    return
                else:
                    await self.close_with(conn, 1008, "DATA-0000")
                    return
        finally:
            if playing is not None:
                playing.cancel()

    async def _play(self, conn: _Conn, text: str, rate: int, encoding: str, seq: int) -> None:
        pcm = synthesize(text, rate, self.ms_per_char).pcm if text.strip() else b""
        step = rate * self.chunk_ms // 1000 * 2
        for i in range(0, len(pcm), step):
            await self.send(conn, from_pcm(pcm[i : i + step], encoding))
            if self.pace:
                await asyncio.sleep(self.chunk_ms / 1000 / self.pace)
        await self.send(conn, dumps({"type": "Flushed", "sequence_id": seq}))


TRANSCRIPTS_ENV = "WAVEWIRE_FAKE_DEEPGRAM_TRANSCRIPTS"
"""For :func:`run`: a JSON object of transcripts (keys: tone Hz as digits, or utterance
keys), plus ``"*"`` for every other utterance."""


def table_from_env(environ: Mapping[str, str] | None = None) -> tuple[dict[int | str, str], str]:
    """(transcripts, default transcript) from :data:`TRANSCRIPTS_ENV`."""
    import os

    raw = (environ if environ is not None else os.environ).get(TRANSCRIPTS_ENV)
    if not raw:
        return {}, ""
    data = json.loads(raw)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{TRANSCRIPTS_ENV} must be a JSON object of strings")
    default = data.pop("*", "")
    return {int(k) if k.isdigit() else k: v for k, v in data.items()}, default


async def run(host: str, port: int) -> None:
    """Serve a fake Deepgram (any key; transcripts from :data:`TRANSCRIPTS_ENV`, else
    every utterance is empty) until cancelled."""
    table, default = table_from_env()
    await FakeDeepgram(table, host=host, port=port, default_transcript=default).serve_forever()

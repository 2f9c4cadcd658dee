"""Base of the emulators that *are* the platform's server (VideoSDK, Vapi): a raw
WebSocket server (:mod:`wavewire.transports.raw_server`) on loopback that waits for one
wavewire client, plays a WAV to it in real time, records what it sends back into a
:class:`Playout`, then ends the call."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from ..errors import ConnectionClosedError
from ..transports.http import Request
from ..transports.raw_server import Decision, RawConnection, RawServer, serve
from ._common import Playout, Schedule, Stats, frames_of, load_wav, summarize, wait_quiet

__all__ = ["ServerEmulator"]


class ServerEmulator:
    """Subclasses set :attr:`platform`, the wire format, and implement :meth:`_media`
    (one outbound audio message), :meth:`_on_message` and optionally :meth:`_greet`,
    :meth:`_goodbye`, :meth:`_accept`, :meth:`_on_request` (the upgrade request).

    :param wav: what the platform plays to the client (a 16-bit WAV path or bytes).
    :param host: loopback by default.
    :param port: 0 picks a free port (see :attr:`port` after :meth:`start`).
    :param out: where to write what the client sent (WAV).
    :param tail: seconds of quiet from the client, after the last audio, before ending.
    :param linger: after that, seconds to wait for the client to end the call itself.
    :param ping_interval: seconds between WebSocket pings (the client must answer).
    """

    platform = "server"
    rate = 16000
    frame_ms = 20

    def __init__(
        self,
        wav: str | Path | bytes,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        out: str | Path | None = None,
        tail: float = 0.6,
        max_tail: float = 5.0,
        linger: float = 2.0,
        ping_interval: float | None = 30.0,
    ) -> None:
        self.host = host
        self._port = port
        self.pcm = load_wav(wav, self.rate, 1)
        self.out = out
        self.tail = tail
        self.max_tail = max_tail
        self.linger = linger
        self.ping_interval = ping_interval
        self.stats = Stats()
        self.playout = Playout(self.rate)
        self.schedule = Schedule(self.frame_ms / 1000)
        self.played = asyncio.Event()
        """Set once the whole WAV has been sent and the client went quiet."""
        self.client_ended = asyncio.Event()
        """Set when the client ended the call (its 'stop'/'end-call') or closed."""
        self.refused: list[tuple[int, str]] = []
        """Connections closed by the emulator before a call started: (code, reason)."""
        self._server: RawServer | None = None
        self._done: asyncio.Future[dict[str, Any]] | None = None
        self._last_rx = 0.0
        self._busy = False

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (then give the client :attr:`url`)."""
        self._done = asyncio.get_running_loop().create_future()
        self._server = await serve(
            self._handler, self.host, self._port, on_request=self._on_request,
            ping_interval=self.ping_interval, ping_timeout=self.ping_interval,
            max_size=1 << 20, name=f"{self.platform}-emulator",
        )

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.port

    @property
    def url(self) -> str:
        """Where the client connects."""
        return f"ws://{self.host}:{self.port}{self.path()}"

    def path(self) -> str:
        return "/"

    async def wait(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the call to end; returns the summary."""
        assert self._done is not None
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def __aenter__(self) -> ServerEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, timeout: float | None = None) -> dict[str, Any]:
        """Start, serve one call, stop; returns the summary."""
        async with self:
            return await self.wait(timeout)

    # -- hooks ------------------------------------------------------------------------------

    def _on_request(self, request: Request) -> Decision:
        """The upgrade request: an HTTP response refuses it (see
        :mod:`~wavewire.transports.raw_server`); ``None`` accepts it."""
        return None

    async def _accept(self, ws: RawConnection) -> bool:
        """Before the call starts (VideoSDK waits for 'start' here); False ends it."""
        return True

    async def _greet(self, ws: RawConnection) -> None:
        """Messages at the start of the call."""

    async def _goodbye(self, ws: RawConnection) -> None:
        """Messages when the emulator ends the call."""

    def _media(self, pcm: bytes) -> str | bytes:
        raise NotImplementedError

    async def _on_message(self, ws: RawConnection, message: str | bytes, now: float) -> None:
        raise NotImplementedError

    def _extra(self) -> dict[str, Any]:
        return {}

    # -- the call ---------------------------------------------------------------------------

    async def _handler(self, ws: RawConnection) -> None:
        if self._busy or self._done is None or self._done.done():
            await ws.close(1013, "emulator serves one call")
            return
        self._busy = True
        loop = asyncio.get_running_loop()
        try:
            if not await self._accept(ws):
                self._busy = False
                return
            await self._greet(ws)
            self.schedule.begin()
            self.playout.t0 = self.schedule.start
            self._last_rx = loop.time()
            assert self._server is not None
            reader = self._server.group.create_task(self._read(ws), f"{self.platform}:reader")
            try:
                frame_bytes = self.rate * self.frame_ms // 1000 * 2
                for i, frame in enumerate(frames_of(self.pcm, frame_bytes)):
                    await self.schedule.wait(i)
                    if reader.done():
                        break
                    await ws.send(self._media(frame))
                    self.stats.frames_out += 1
                await self._wait_quiet(reader)
                self.played.set()
                if not reader.done():
                    # the client may end the call itself (VideoSDK 'stop', Vapi 'end-call')
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.client_ended.wait(), self.linger)
                if not reader.done():
                    await self._goodbye(ws)
                    await ws.close(1000)
            except ConnectionClosedError:
                pass
            finally:
                with contextlib.suppress(TimeoutError, Exception):
                    await asyncio.wait_for(reader, 5.0)
        except ConnectionClosedError:
            pass
        except Exception as exc:  # an emulator bug must not hang the caller
            if not self._done.done():
                self._done.set_exception(exc)
            raise
        self.played.set()
        if not self._done.done():
            self._done.set_result(
                summarize(
                    self.platform, self.pcm, self.playout, self.stats, self.schedule,
                    out_path=self.out, extra=self._extra(),
                )
            )

    async def _wait_quiet(self, reader: asyncio.Future[Any]) -> None:
        await wait_quiet(reader, self.playout, lambda: self._last_rx, self.tail, self.max_tail)

    async def _read(self, ws: RawConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for message in ws:
                now = loop.time()
                self._last_rx = now
                self.stats.messages_in += 1
                await self._on_message(ws, message, now)
        except ConnectionClosedError:  # closed while answering
            pass
        self.stats.close_code = ws.close_code
        self.client_ended.set()

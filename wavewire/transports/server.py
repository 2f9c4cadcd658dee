"""``WebSocketServer``: many voice sessions per process, every protocol on one port.

Built on :mod:`.wire`, wavewire's own server-side WebSocket connection on
``asyncio.Protocol`` (``websockets``' server costs about three times a voice session's
own work per frame). The server is written in three layers, one idea each:

* this module: its settings, listening, and the end of it all (drain, close, signals);
* :mod:`._requests`: what a request head gets -- a WebSocket route (after the auth
  hook, the serializer, the upgrade and ``Origin`` checks and the subprotocol choice),
  ``/healthz``, ``/metrics``, a file of the browser page, or a refusal;
* :mod:`._serving`: an accepted WebSocket joins or creates the session of its key (two
  sockets of one call make one session; beyond ``max_sessions`` or while draining a new
  session is refused with 1013 "try again later", counted, so admitted sessions keep
  real time), then feeds it.

Per connection the server holds one task (handshake, then the reader that feeds the input
edge directly; keepalive is a timer); per session one task runs the pipeline (both in the
server's task group) and the output edge has its playback task (in the session's group). Nothing on the per-message path logs or allocates beyond
what decoding needs.

Events: ``on_websocket_ready(server)``, ``on_client_connected(server, session, info)``,
``on_client_disconnected(server, session, info)``,
``on_session_timeout(server, session, kind)`` (``"idle"`` or ``"max_duration"``).

Shutdown: :meth:`WebSocketServer.drain` stops accepting, ends every session gracefully
(an EndFrame each; sockets close with 1001 "going away", so clients reconnect
elsewhere), cancels what is left at the deadline, then closes. :meth:`serve_forever`
drains on SIGTERM/SIGINT (a second signal cancels at once).
"""
from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import clip
from ..log import logger
from ..pipelines.task import PipelineParams, TaskState
from ..pipelines.taskgroup import TaskGroup
from ._requests import RequestHandling
from .auth import AuthHook
from .http import WEB_DIR
from .metrics import ServerMetrics, SessionTotals
from .registry import SessionRegistry
from .routes import ConnectionInfo, Route
from .session import ServerSession
from .wire import ServerConnection, bound_port

if TYPE_CHECKING:
    import ssl as ssl_module

    from ..audio.vad import VAD
    from ..processors.base import FrameProcessor

__all__ = ["WebSocketServer", "BotFactory"]

BotFactory = Callable[
    [ConnectionInfo], "Sequence[FrameProcessor] | Awaitable[Sequence[FrameProcessor]]"
]
"""Builds the processors of one session from the details of the connection that created
it (secrets redacted). May be a plain function or a coroutine function."""


class WebSocketServer(RequestHandling):
    """Serves voice sessions over WebSocket (see the module docstring).

    :param bot: builds each session's processors (:data:`BotFactory`).
    :param routes: the WebSocket routes (default: :func:`.endpoints.default_routes`).
    :param host: interface to listen on.
    :param port: TCP port (0: an ephemeral port, see :attr:`port`).
    :param auth: default auth hook for routes that have none (e.g. ``token_auth(t)``).
    :param max_sessions: session cap; beyond it new sessions are refused with 1013.
    :param origins: allowed ``Origin`` values (``None`` in the list admits clients that
        send none); ``None``: no check.
    :param ssl: serve ``wss://`` and ``https://`` with this context.
    :param params: pipeline settings of every session (copied per session).
    :param vad: factory of a per-session VAD for the input edge.
    :param vad_frames: the input edge pushes the VAD's evidence and leaves turns to a
        :class:`~wavewire.processors.turns.TurnTaking` in the bot (see ``InputEdge``).
    :param pace: pace output audio in real time (the output edge's media clock).
    :param idle_timeout: cancel a session after this many seconds without a message.
    :param session_timeout: end a session gracefully after this many seconds.
    :param output_buffer: messages held per session while no output socket is attached.
    :param ping_interval: seconds between keepalive pings (``None``: off).
    :param ping_timeout: seconds to wait for a pong before closing (1011).
    :param open_timeout: deadline for the handshake and for a session to start.
    :param close_timeout: deadline for a closing handshake.
    :param drain_timeout: seconds sessions get to end when draining.
    :param reuse_port: set ``SO_REUSEPORT`` (several worker processes on one port).
    :param web_dir: directory of the browser page (default ``wavewire/web``).
    """

    def __init__(
        self,
        bot: BotFactory,
        *,
        routes: Iterable[Route] | None = None,
        host: str = "127.0.0.1",
        port: int = 8765,
        auth: AuthHook | None = None,
        max_sessions: int | None = None,
        origins: Sequence[str | None] | None = None,
        ssl: ssl_module.SSLContext | None = None,
        params: PipelineParams | None = None,
        vad: Callable[[], VAD] | None = None,
        vad_frames: bool = False,
        pace: bool = True,
        idle_timeout: float | None = None,
        session_timeout: float | None = None,
        output_buffer: int = 50,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 5.0,
        drain_timeout: float = 10.0,
        reuse_port: bool = False,
        web_dir: str | Path | None = None,
    ) -> None:
        self.bot = bot
        self.host = host
        self._port = port
        self.auth = auth
        self.origins = list(origins) if origins is not None else None
        self.ssl = ssl
        self.params = params or PipelineParams()
        self.vad = vad
        self.vad_frames = vad_frames
        self.pace = pace
        self.idle_timeout = idle_timeout
        self.session_timeout = session_timeout
        self.output_buffer = output_buffer
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.drain_timeout = drain_timeout
        self.reuse_port = reuse_port
        self.web_dir = Path(web_dir) if web_dir is not None else WEB_DIR
        self.metrics = ServerMetrics()
        self.registry = SessionRegistry(max_sessions)
        self._routes: list[Route] = []
        if routes is None:
            from .endpoints import default_routes

            routes = default_routes()
        for route in routes:
            self.add_route(route)
        self._listener: asyncio.Server | None = None
        self._connections: set[ServerConnection] = set()
        self._read_buffer = memoryview(bytearray(1 << 18))  # every read lands here first
        self._group: TaskGroup | None = None
        self._draining = False
        self._closed: asyncio.Event | None = None
        self._signals = 0
        self._init_events(
            "on_websocket_ready",
            "on_client_connected",
            "on_client_disconnected",
            "on_session_timeout",
        )

    # -- configuration ---------------------------------------------------------------------

    def add_route(self, route: Route) -> Route:
        """Serve ``route`` (before :meth:`start`)."""
        if any(r.pattern == route.pattern for r in self._routes):
            raise ValueError(f"route {route.pattern} is already served")
        self._routes.append(route)
        return route

    @property
    def routes(self) -> list[Route]:
        """The WebSocket routes, in matching order."""
        return list(self._routes)

    # -- state -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with ``port=0``)."""
        return bound_port(self._listener, self._port)

    @property
    def sessions(self) -> list[ServerSession]:
        """Live sessions."""
        return list(self.registry)

    @property
    def connections(self) -> list[ServerConnection]:
        """Open TCP connections (WebSocket or HTTP, handshaking or established)."""
        return list(self._connections)

    @property
    def draining(self) -> bool:
        """True once :meth:`drain` has begun."""
        return self._draining

    def live_totals(self) -> SessionTotals:
        """Counters of the live sessions, summed (at scrape time, not per frame)."""
        totals = SessionTotals()
        for session in self.registry:
            totals.add(session.totals())
        return totals

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; fires ``on_websocket_ready`` once connections are accepted."""
        if self._listener is not None:
            raise RuntimeError("server already started")
        for route in self._routes:
            if route.role != "both":
                self._partner(route)
        self._group = TaskGroup("server", on_error=self._task_failed)
        self._closed = asyncio.Event()
        kwargs: dict[str, Any] = {"backlog": 1024}
        if self.ssl is not None:
            kwargs["ssl"] = self.ssl
            kwargs["ssl_handshake_timeout"] = self.open_timeout
        if self.reuse_port:
            kwargs["reuse_port"] = True
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._new_connection, self.host, self._port, **kwargs
        )
        await self.call_event_handler("on_websocket_ready")

    def _new_connection(self) -> ServerConnection:
        return ServerConnection(
            self._on_request,
            self._connections,
            open_timeout=self.open_timeout,
            close_timeout=self.close_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            read_buffer=self._read_buffer,
        )

    async def __aenter__(self) -> WebSocketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def serve_forever(self, *, handle_signals: bool = True) -> None:
        """Start (if needed) and run until closed; SIGTERM/SIGINT drain, twice cancels."""
        if self._listener is None:
            await self.start()
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self._on_signal)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        try:
            assert self._closed is not None
            await self._closed.wait()
            if self._group is not None:  # the drain task that closed us, finishing
                await self._group.close(self.close_timeout)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _on_signal(self) -> None:
        self._signals += 1
        group = self._group
        if group is None:
            return
        try:
            if self._signals == 1:
                group.create_task(self.drain(), "drain")
            else:
                group.create_task(self.close(), "close")
        except Exception:
            pass

    async def drain(self, timeout: float | None = None) -> None:
        """Stop accepting, let sessions end within ``timeout`` (default
        ``drain_timeout``), cancel the rest, close."""
        if self._draining:
            return
        self._draining = True
        timeout = self.drain_timeout if timeout is None else timeout
        if self._listener is not None:
            self._listener.close()  # stop listening; open connections stay
        runs = set(self._group.tasks) if self._group is not None else set()
        for session in self.registry:
            session.close_code = 1001
            if session.task.state in (TaskState.STARTING, TaskState.RUNNING):
                await session.task.stop_when_done("server draining")
        runs = {t for t in runs if t.get_name().startswith("session#")}
        if runs:
            await asyncio.wait(runs, timeout=timeout)
        await self.close()

    async def close(self) -> None:
        """Cancel every session and stop the server (within the close deadlines)."""
        self._draining = True
        sessions = list(self.registry)
        for session in sessions:
            session.close_code = 1001
        if sessions:
            await asyncio.gather(*(s.task.cancel("server closing") for s in sessions))
        if self._listener is not None:
            self._listener.close()
        conns = list(self._connections)
        if conns:  # each close is bounded by close_timeout (then the socket is cut)
            await asyncio.gather(*(c.close(1001, "going away") for c in conns))
        group = self._group
        if group is not None:
            current = asyncio.current_task()
            if current not in group.tasks:
                await group.close(self.close_timeout)
        if self._closed is not None:
            self._closed.set()

    def _task_failed(self, exc: BaseException, task: asyncio.Task) -> None:
        logger.error("server: task {} failed: {}", task.get_name(), clip(repr(exc)))

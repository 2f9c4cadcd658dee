"""``WebSocketServer``: many voice sessions per process, every protocol on one port.

Built on :mod:`.wire`, wavewire's own server-side WebSocket connection on
``asyncio.Protocol`` (``websockets``' server costs about three times a voice session's
own work per frame). Each request head goes through ``_process_request`` first:

* a WebSocket route (:class:`~wavewire.transports.routes.Route`): the auth hook runs
  (HTTP 401 if it says no -- no session is started), the route's message size limit is
  set on the connection, and the serializer is built (HTTP 400 if the query is bad);
* ``/healthz`` (JSON), ``/metrics`` (Prometheus text), or a file of the browser page;
* anything else: 404.

An accepted connection either creates a session or joins the live session with the same
key (see :mod:`.session`, :mod:`.registry` and the lifecycle table in :mod:`.join`): it
claims the key before anything awaits, so two sockets of one call arriving at once
make one session. Beyond ``max_sessions`` (or while
draining) a new session is refused cleanly: the connection is accepted and closed with
1013 "try again later", and counted, so the admitted sessions keep real time.

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
import contextvars
import dataclasses
import inspect
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .._log import logger
from ..errors import ProtocolError, SessionClosedError, clip
from ..events import EventEmitter
from ..pipelines.task import PipelineParams, TaskState
from ..pipelines.taskgroup import TaskGroup
from .auth import AuthHook, AuthRequest
from .http import WEB_DIR, Request, Response, json_response, respond, static_response, text_response
from .join import Join, JoinState
from .metrics import CONTENT_TYPE, ServerMetrics, SessionTotals
from .registry import SessionRegistry
from .routes import ConnectionInfo, Route, connection_info
from .session import ServerSession
from .wire import ConnectionClosed, ServerConnection, upgrade_error

if TYPE_CHECKING:
    import ssl as ssl_module

    from ..audio.vad import VAD
    from ..processors.base import FrameProcessor
    from ..serializers.base import FrameSerializer

__all__ = ["WebSocketServer", "BotFactory"]

BotFactory = Callable[
    [ConnectionInfo], "Sequence[FrameProcessor] | Awaitable[Sequence[FrameProcessor]]"
]
"""Builds the processors of one session from the details of the connection that created
it (secrets redacted). May be a plain function or a coroutine function."""

_RETRY_LATER = 1013


class _Ctx:
    """What ``_process_request`` learned about a connection, for its handler."""

    __slots__ = ("route", "info", "serializer")

    def __init__(self, route: Route, info: ConnectionInfo, serializer: FrameSerializer) -> None:
        self.route = route
        self.info = info
        self.serializer = serializer


class WebSocketServer(EventEmitter):
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

    def _partner(self, route: Route) -> Route:
        for other in self._routes:
            if route.partner_of(other):
                return other
        raise ValueError(f"route {route.pattern} ({route.role}) has no partner route")

    # -- state -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with ``port=0``)."""
        if self._listener is not None:
            for sock in self._listener.sockets:
                return int(sock.getsockname()[1])
        return self._port

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

    # -- handshake ------------------------------------------------------------------------------

    def _match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def _on_request(self, conn: ServerConnection, request: Request) -> None:
        """A request head has arrived: serve the connection in the server's task group."""
        group = self._group
        try:
            if group is None:
                raise RuntimeError("not started")
            # The task gets its own context, which the connection also uses to run the
            # input handler inline as this task (see wire.ServerConnection.consume).
            context = contextvars.copy_context()
            group.create_task(self._serve(conn, request, context), "connection",
                              context=context)
        except Exception:  # closing: no new tasks
            conn.reject(text_response(503, "server closing\n"))

    async def _serve(
        self, conn: ServerConnection, request: Request, context: contextvars.Context | None
    ) -> None:
        """One connection from its request head to its end."""
        try:
            result = await self._process_request(conn, request)
        except Exception as exc:
            logger.error("server: handshake failed: {}", clip(repr(exc)))
            result = text_response(500, "internal error\n")
        if isinstance(result, Response):
            conn.reject(result)
            return
        refusal = upgrade_error(request)
        if refusal is None and self.origins is not None:
            if request.headers.get("Origin") not in self.origins:
                self.metrics.refuse("origin")
                refusal = text_response(403, "origin not allowed\n")
        if refusal is not None:
            conn.reject(refusal)
            return
        offered = _offered(request)
        conn.accept(self._select_subprotocol(result, offered),
                    max_size=result.route.max_message_size)
        await self._handler(conn, result, context)

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | _Ctx:
        url = urlsplit(request.path)
        path = url.path
        found = self._match(path)
        if found is None:
            return self._http(path)
        route, params = found
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        remote = _remote(conn)
        hook = route.auth if route.auth is not None else self.auth
        if hook is not None:
            offered = _offered(request)
            req = AuthRequest(path, params, query, request.headers, offered, remote)
            try:
                ok = hook(req)
                if inspect.isawaitable(ok):
                    ok = await ok
            except Exception:
                ok = False
            if ok is not True:
                self.metrics.refuse("auth")
                response = text_response(401, "unauthorized\n")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        info = connection_info(route, path, params, query, request.headers, remote, None)
        try:
            serializer = route.serializer(info)
        except ValueError as exc:
            self.metrics.refuse("bad_request")
            return text_response(400, f"bad request: {exc}\n")
        return _Ctx(route, info, serializer)

    def _http(self, path: str) -> Response:
        metrics = self.metrics
        metrics.http_requests += 1
        if path == "/healthz":
            status = 503 if self._draining else 200
            return json_response(
                status,
                {"ok": not self._draining, "sessions": len(self.registry),
                 "draining": self._draining},
            )
        if path == "/metrics":
            body = metrics.render(self.live_totals(), len(self.registry), self._draining)
            return respond(200, body.encode("utf-8"), CONTENT_TYPE)
        static = static_response(self.web_dir, path)
        if static is not None:
            return static
        metrics.refuse("not_found")
        return text_response(404, "not found\n")

    def _select_subprotocol(self, ctx: _Ctx, offered: Sequence[str]) -> str | None:
        for name in ctx.route.subprotocols:
            if name in offered:
                return name
        bearer = [p for p in offered if p.lower().startswith("bearer.")]
        if bearer:
            # Browsers fail the handshake unless one offered entry is echoed: prefer an
            # entry that is not the token.
            others = [p for p in offered if p not in bearer]
            return others[0] if others else bearer[0]
        return None

    # -- connections ------------------------------------------------------------------------------

    async def _handler(
        self, conn: ServerConnection, ctx: _Ctx, context: contextvars.Context | None = None
    ) -> None:
        route, info = ctx.route, ctx.info
        if conn.subprotocol and not conn.subprotocol.lower().startswith("bearer."):
            info = dataclasses.replace(info, subprotocol=conn.subprotocol)
        metrics = self.metrics
        metrics.connections_total += 1
        metrics.connections_active += 1
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        session: ServerSession | None = None
        attached = announced = False
        try:
            join = self.registry.get(info.key)
            created = False
            if join is None or not _joinable(join):
                # Claim the key now, before anything awaits: a partner socket arriving
                # while the session is built finds the claim and joins it (join.py).
                refusal = "draining" if self._draining else "cap" if self.registry.full else ""
                if refusal:
                    metrics.refuse(refusal)
                    await conn.close(_RETRY_LATER, "try again later")
                    return
                join = self.registry.open(info.key)
                created = True
                session = await self._create_session(route, info, ctx.serializer, join)
                if session is None:
                    await conn.close(1011, "session could not start")
                    return
            try:
                async with asyncio.timeout(self.open_timeout):
                    await join.ready.wait()
                    session = join.session  # type: ignore[assignment]
                    if session is None:  # the socket that claimed the key failed
                        await conn.close(1011, "session could not start")
                        return
                    await session.started.wait()
            except TimeoutError:
                await conn.close(1011, "session did not start")
                return
            if not session.live or not session.joinable:
                await conn.close(_RETRY_LATER, "session ended")
                return
            attached = True  # from here on, detach() whatever happens
            try:
                await session.attach(conn, route.role)
            except ConnectionClosed:
                return
            if created:
                metrics.setup_seconds.observe(loop.time() - t0)
            announced = True
            await self.call_event_handler("on_client_connected", session, info)
            if route.role == "output":
                await self._read_output(conn, session)
            else:
                await self._read(conn, session, context)
        finally:
            metrics.connections_active -= 1
            if session is not None and attached:
                await session.detach(conn, route.role)
                if announced:
                    await self.call_event_handler("on_client_disconnected", session, info)

    async def _create_session(
        self, route: Route, info: ConnectionInfo, serializer: FrameSerializer, join: Join
    ) -> ServerSession | None:
        """Build the session that ``join`` claimed; on failure the claim is released
        (``failed``) and partners waiting on it are told."""
        try:
            session = await self._build_session(route, info, serializer, join)
        except BaseException:
            session = None
            raise
        finally:
            if session is None:
                self.registry.remove(join)
                if join.state is JoinState.OPENING:
                    join.step("failed")
        return session

    async def _build_session(
        self, route: Route, info: ConnectionInfo, serializer: FrameSerializer, join: Join
    ) -> ServerSession | None:
        resume_window = route.resume_window
        if route.role == "both":
            in_ser = out_ser = serializer
        else:
            partner = self._partner(route)
            if route.role == "output":
                resume_window = partner.resume_window  # the input route's window
            other = partner.serializer(dataclasses.replace(info, route=partner.pattern,
                                                           role=partner.role))
            in_ser, out_ser = (serializer, other) if route.role == "input" else (other, serializer)
        try:
            processors = self.bot(info)
            if inspect.isawaitable(processors):
                processors = await processors
        except Exception as exc:
            self.metrics.refuse("bot_error")
            logger.error("server: bot factory failed for {}: {}", info.route, type(exc).__name__)
            return None
        if self._draining:  # began while the bot was built: nothing would drain it
            self.metrics.refuse("draining")
            return None
        metadata = dict(self.params.metadata)
        metadata.update(route=info.route, remote=info.remote, key=info.key, params=info.params)
        params = dataclasses.replace(self.params, metadata=metadata)
        session = ServerSession(
            info,
            in_ser,
            out_ser,
            list(processors),  # type: ignore[arg-type]
            params=params,
            vad=self.vad() if self.vad is not None else None,
            vad_frames=self.vad_frames,
            pace=self.pace,
            output_buffer=self.output_buffer,
            resume_window=resume_window,
            on_close=self.metrics.closed_with,
            join=join,
        )
        join.step("opened")
        self.metrics.sessions_total += 1
        assert self._group is not None
        self._group.create_task(self._run_session(session), session.task.name)
        return session

    async def _run_session(self, session: ServerSession) -> None:
        task = session.task
        if self.idle_timeout or self.session_timeout:
            task.add_event_handler(
                "on_pipeline_started",
                lambda _t, _f: session.arm_timeouts(
                    self.idle_timeout, self.session_timeout, self._timed_out
                ),
            )
        try:
            await task.run()
        finally:
            session.cancel_timers()
            self.registry.remove(session.join)
            self.metrics.ended.add(session.totals())
            session.started.set()  # release connections still waiting for the start
            await session.close_sockets(self.close_timeout)
            session.ended()

    async def _timed_out(self, session: ServerSession, kind: str) -> None:
        self.metrics.timeouts[kind] = self.metrics.timeouts.get(kind, 0) + 1
        await self.call_event_handler("on_session_timeout", session, kind)
        if kind == "idle":
            await session.task.cancel("idle timeout")
        else:
            await session.task.stop_when_done("session timeout")

    async def _read(
        self, conn: ServerConnection, session: ServerSession,
        context: contextvars.Context | None = None,
    ) -> None:
        """The per-message path: each message feeds the input edge. Nothing else (the
        edge refuses input once the session is over, which ends this reader)."""
        try:
            await conn.consume(session.input_edge.feed, context)
        except SessionClosedError:
            pass
        except ConnectionClosed as exc:
            if exc.sent_code == 1009:
                session.input_edge.count_protocol_error()
                self.metrics.closed_with(1009)
        except ProtocolError as exc:  # fatal: the serializer says the connection must end
            self.metrics.closed_with(exc.close_code)
            await conn.close(exc.close_code, _reason(exc))
        except Exception as exc:
            self.metrics.closed_with(1011)
            logger.error("server: {} failed while reading: {}", session, clip(repr(exc)))
            await conn.close(1011, "internal error")

    async def _read_output(self, conn: ServerConnection, session: ServerSession) -> None:
        """An output socket: the peer should send nothing; what it sends goes to the
        output serializer (which counts it) and is otherwise ignored."""
        decode = session.output_serializer.decode
        try:
            async for message in conn:
                try:
                    decode(message)
                except ProtocolError as exc:
                    session.input_edge.count_protocol_error()
                    if exc.fatal:
                        self.metrics.closed_with(exc.close_code)
                        await conn.close(exc.close_code, _reason(exc))
                        return
        except ConnectionClosed as exc:
            if exc.sent_code == 1009:
                self.metrics.closed_with(1009)


def _joinable(join: Join) -> bool:
    """A socket with ``join``'s key joins it: it is being built, or its session is live
    and not ending."""
    session = join.session
    if session is None:
        return join.state is JoinState.OPENING
    return session.joinable  # type: ignore[attr-defined, no-any-return]


def _offered(request: Request) -> tuple[str, ...]:
    """The subprotocols the client offered, in order."""
    return tuple(
        p.strip()
        for value in request.headers.get_all("Sec-WebSocket-Protocol")
        for p in value.split(",")
        if p.strip()
    )


def _remote(conn: ServerConnection) -> str:
    addr = conn.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr or "")


def _reason(exc: Exception) -> str:
    """A close reason: at most 123 bytes of UTF-8 (the WebSocket limit)."""
    text = clip(str(exc), 120).encode("utf-8")[:120]
    return text.decode("utf-8", "ignore")

"""Serving an accepted WebSocket: from the connection to its session, and its reading.

The third layer of :class:`~wavewire.transports.server.WebSocketServer` (see
:mod:`.server`): once a request head was admitted and answered (:mod:`._requests`),
:meth:`SessionServing._handler` either creates the session of the connection's key or
joins the live one (lifecycle table in :mod:`.join`). It claims the key before anything
awaits, so two sockets of one call arriving at once make one session; beyond
``max_sessions`` or while draining, a new session is refused with 1013 "try again later"
(counted). A created session runs in the server's task group (:meth:`_run_session`,
which also arms the server's idle and duration timeouts); the connection then feeds it
(:meth:`_read`: each message goes straight to the input edge, nothing else on the
per-message path) or, for an output socket, only drains what the peer sends
(:meth:`_read_output`).
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ProtocolError, SessionClosedError, clip
from ..events import EventEmitter
from ..log import logger
from .join import Join, JoinState
from .routes import ConnectionInfo, Route
from .session import ServerSession
from .wire import ConnectionClosed, ServerConnection

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..pipelines.task import PipelineParams
    from ..pipelines.taskgroup import TaskGroup
    from ..serializers.base import FrameSerializer
    from .metrics import ServerMetrics
    from .registry import SessionRegistry
    from .server import BotFactory

__all__ = ["Admission", "SessionServing"]

_RETRY_LATER = 1013


class Admission:
    """What request handling learned about a connection it admits, for its handler."""

    __slots__ = ("route", "info", "serializer")

    def __init__(self, route: Route, info: ConnectionInfo, serializer: FrameSerializer) -> None:
        self.route = route
        self.info = info
        self.serializer = serializer


class SessionServing(EventEmitter):
    """The server's layer that serves an accepted WebSocket into a session (see the
    module docstring). It reads the settings and state that
    :class:`~wavewire.transports.server.WebSocketServer` sets up, declared here."""

    bot: BotFactory
    params: PipelineParams
    vad: Callable[[], VAD] | None
    vad_frames: bool
    pace: bool
    idle_timeout: float | None
    session_timeout: float | None
    output_buffer: int
    open_timeout: float
    close_timeout: float
    metrics: ServerMetrics
    registry: SessionRegistry
    _routes: list[Route]
    _group: TaskGroup | None
    _draining: bool

    async def _handler(
        self, conn: ServerConnection, ctx: Admission, context: contextvars.Context | None = None
    ) -> None:
        """One accepted WebSocket: join or create its session, then read until the end."""
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

    def _partner(self, route: Route) -> Route:
        for other in self._routes:
            if route.partner_of(other):
                return other
        raise ValueError(f"route {route.pattern} ({route.role}) has no partner route")

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


def _reason(exc: Exception) -> str:
    """A close reason: at most 123 bytes of UTF-8 (the WebSocket limit)."""
    text = clip(str(exc), 120).encode("utf-8")[:120]
    return text.decode("utf-8", "ignore")

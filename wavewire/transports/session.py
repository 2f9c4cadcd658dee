"""``ServerSession``: one session on the server and the sockets attached to it.

A session is a :class:`~wavewire.pipelines.task.PipelineTask` running
``InputEdge → bot processors → OutputEdge``. One socket (role ``both``) or two (an
``input`` and an ``output`` socket, joined by key) attach to it:

* the input socket's reader task feeds :meth:`InputEdge.feed`;
* the output edge sends to the session itself, which is a
  :class:`~wavewire.transports.connection.Connection`: :meth:`ServerSession.send_nowait`
  writes to the output socket, and :meth:`ServerSession.wait_writable` waits for it,
  so the edge's one "now, else wait" path is the contract's.

**Output policy while no output socket is attached** (before the partner socket arrives,
or while it reconnects): messages wait in an
:class:`~wavewire.transports.connection.Outbox` of ``output_buffer`` messages (default
50, one second of 20 ms audio); when it is full the *oldest* message is dropped and
counted (``dropped_no_output``, and in the task's drops as ``output-absent``). The
outbox is flushed, after the serializer's ``open()`` messages, when an output socket
attaches. Stale audio is worth less than fresh audio, hence drop-oldest.

**Lifecycle.** Which sockets a session has, and what happens when one comes or goes,
is the table of :mod:`.join` (:attr:`ServerSession.join`); attach and detach only
fire its events and act on the state reached. When the task closes, every attached
socket is closed (1000, or 1001 when the server is going away). When the input socket
hangs up, the session is cancelled ("client disconnected"); when it drops, a keyed
session with a ``resume_window`` waits that long for a new input socket with the same
key, and so does a session whose last socket has left (an output socket whose input
never came): no session outlives its sockets by more than the window. A newer socket
for a role replaces the older one (closed with 1008).

Idle timeout (no message received for ``idle_timeout`` seconds, detected within
1.5 times the timeout) cancels the session; the absolute ``max_duration`` ends it
gracefully. Both are timers of the task's :attr:`~PipelineTask.timeouts`, not tasks.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConnectionClosedError
from ..pipelines.task import PipelineParams, PipelineTask, TaskState
from .connection import ConnectionStats, ConnState, Outbox
from .connection import send as send_message
from .edges import InputEdge, OutputEdge
from .join import Join, JoinState

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..processors.base import FrameProcessor
    from ..serializers.base import FrameSerializer, Message
    from .metrics import SessionTotals
    from .routes import ConnectionInfo, Role
    from .wire import ServerConnection as Socket

__all__ = ["ServerSession"]

_ids = itertools.count(1)
_JOINABLE_TASK = frozenset({TaskState.IDLE, TaskState.STARTING, TaskState.RUNNING})


class ServerSession:
    """One session on the server (built by the server; see the module docstring).

    :param info: details of the connection that created the session (redacted).
    :param input_serializer: the input socket's protocol object (the same object as
        ``output_serializer`` for a ``both`` route).
    :param processors: the bot, run between the edges.
    :param params: the session's pipeline settings.
    :param vad: a per-session VAD for the input edge.
    :param vad_frames: the input edge pushes the VAD's evidence (turns are the bot's).
    :param pace: pace output audio in real time (the output edge's media clock).
    :param output_buffer: messages held while no output socket is attached.
    :param resume_window: seconds a keyed session waits for a dropped input socket.
    :param on_close: told the close code of every socket the session closes itself (a
        replaced socket), for the server's metrics.
    :param join: the registry entry claimed for this session (built and ``opened``
        here when not given).
    """

    def __init__(
        self,
        info: ConnectionInfo,
        input_serializer: FrameSerializer,
        output_serializer: FrameSerializer,
        processors: Sequence[FrameProcessor],
        *,
        params: PipelineParams | None = None,
        vad: VAD | None = None,
        vad_frames: bool = False,
        pace: bool = True,
        output_buffer: int = 50,
        resume_window: float = 0.0,
        on_close: Callable[[int], None] | None = None,
        join: Join | None = None,
    ) -> None:
        self.id = next(_ids)
        if join is None:
            join = Join(info.key)
            join.step("opened")
        self.join = join
        """This session's socket lifecycle (:mod:`.join`)."""
        join.session = self
        self.info = info
        self.key = info.key
        self.input_serializer = input_serializer
        self.output_serializer = output_serializer
        # The session is its output edge's Connection: complete before the edge sees it.
        self.stats = ConnectionStats()
        """The session as a connection: ``waits`` counts sends that waited for the output
        socket (what was written is in the output edge's and the socket's counters)."""
        self._state = ConnState.OPEN
        self._input: Socket | None = None
        self._output: Socket | None = None
        self._output_conn: Socket | None = None  # attached in the output role
        self._outbox = Outbox(output_buffer, on_drop=self._dropped_held)
        self.input_edge = InputEdge(input_serializer, vad=vad, vad_frames=vad_frames, name=f"session#{self.id}::in")
        self.output_edge = OutputEdge(output_serializer, self, pace=pace,
                                      name=f"session#{self.id}::out")
        self.task = PipelineTask(
            [self.input_edge, *processors, self.output_edge],
            params=params,
            name=f"session#{self.id}",
        )
        self.started = asyncio.Event()
        """Set once the pipeline runs (the StartFrame went through)."""
        self.task.add_event_handler("on_pipeline_started", self._on_started)
        self.resume_window = resume_window if self.key is not None else 0.0
        self._on_close = on_close
        self.replaced = 0
        """Sockets closed because a newer one took their role."""
        self.close_code = 1000
        """Close code used for the sockets when the session ends (1001 when draining)."""
        self.dropped_no_output = 0
        """Messages dropped because no output socket was attached and the buffer was full."""
        self._resume_timer: asyncio.TimerHandle | None = None

    def _on_started(self, task: PipelineTask, frame: Any) -> None:
        self.started.set()

    # -- state ---------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """True until the session's task has closed (or is being cancelled)."""
        return self.task.accepting

    @property
    def joinable(self) -> bool:
        """True while a socket with this session's key joins it (neither the join nor
        the task is ending)."""
        return self.join.joinable and self.task.state in _JOINABLE_TASK

    @property
    def resume_deadline(self) -> float | None:
        """Event-loop time at which the resume window ends, while it runs."""
        timer = self._resume_timer
        return timer.when() if timer is not None else None

    @property
    def input_attached(self) -> bool:
        """An input socket is attached now."""
        return self._input is not None

    @property
    def output_attached(self) -> bool:
        """An output socket is attached now."""
        return self._output is not None

    @property
    def held(self) -> int:
        """Messages waiting for an output socket."""
        return len(self._outbox)

    def totals(self) -> SessionTotals:
        """This session's counters, for the metrics endpoint."""
        from .metrics import SessionTotals

        i, o = self.input_edge.stats, self.output_edge.stats
        return SessionTotals(
            messages_in=i.messages_in,
            frames_in=i.frames_in,
            messages_out=o.messages_out,
            audio_ms_sent=o.audio_ms_sent,
            protocol_errors=i.protocol_errors,
            format_errors=i.format_errors,
            dropped=self.task.stats.total_dropped,
            errors=self.task.stats.errors,
        )

    # -- output: the session as the output edge's connection ----------------------------

    @property
    def state(self) -> ConnState:
        """OPEN until the session's sockets are closed (messages sent meanwhile reach the
        output socket or wait in the outbox), then CLOSED."""
        return self._state

    def send_nowait(self, message: Message) -> bool:
        """Write ``message`` to the output socket now (True), or say False when its write
        buffer is full (await :meth:`wait_writable`); with no output socket attached the
        message waits in the outbox (True). Raises
        :class:`~wavewire.errors.ConnectionClosedError` once the sockets are closed."""
        conn = self._output
        if conn is not None:
            try:
                return conn.send_nowait(message)
            except ConnectionClosedError:
                if self._output is conn:
                    self._output = None
        if self._state is not ConnState.OPEN:
            raise ConnectionClosedError(self.close_code, "the session's sockets are closed")
        self._outbox.put(message)
        return True

    async def wait_writable(self) -> None:
        """Return once the output socket takes messages again, or is gone (the next
        :meth:`send_nowait` then holds the message)."""
        conn = self._output
        if conn is not None:
            await conn.wait_writable()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close every attached socket with ``code`` (each within its close deadline)."""
        self.close_code = code
        await self.close_sockets(None)

    def _dropped_held(self, n: int) -> None:
        self.dropped_no_output += n
        self.task.count_drop("output-absent", n)

    # -- sockets -------------------------------------------------------------------------

    def _step(self, event: str) -> JoinState:
        """Move the join along its table and act on the state reached: the resume
        window runs in AWAY and GONE, and a socket event that ends the join ends the
        session."""
        before = self.join.state
        state = self.join.step(event)
        if state is JoinState.AWAY or state is JoinState.GONE:
            if self._resume_timer is None and self.live:
                loop = asyncio.get_running_loop()
                self._resume_timer = loop.call_later(self.resume_window, self._resume_expired)
        elif self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        if state is JoinState.ENDING and before is not JoinState.ENDING and event != "end":
            self._cancel_soon(
                "input did not come back" if event == "expired" else "client disconnected"
            )
        return state

    async def attach(self, conn: Socket, role: Role) -> None:
        """Attach a socket in ``role``; sends its serializer's ``open()`` messages (and,
        for an output socket, what was held while none was attached). The socket counts
        as attached from the start: if sending fails, :meth:`detach` it all the same."""
        if role in ("both", "output"):
            old_out, self._output = self._output_conn, None
            self._output_conn = conn
            self._step("output")
        if role in ("both", "input"):
            old, self._input = self._input, conn
            self._step("input")
            if old is not None and old is not conn:
                await self._replace(old)
        if role == "input":
            for message in self.input_serializer.open():
                await send_message(conn, message)
        if role in ("both", "output"):
            if old_out is not None and old_out is not conn and role == "output":
                await self._replace(old_out)
            out = conn
            for message in self.output_serializer.open():
                await send_message(out, message)
            # Sends made meanwhile land in the outbox and are flushed too.
            await self._outbox.flush(out)
            if self._output_conn is conn:
                self._output = conn

    async def _replace(self, old: Socket) -> None:
        self.replaced += 1
        if self._on_close is not None:
            self._on_close(1008)
        await _close(old, 1008, "replaced by a newer connection")

    async def detach(self, conn: Socket, role: Role) -> None:
        """A socket has closed: fire the join's event for it, if it is the socket
        attached in its role (a replaced socket is not). An input socket that hangs up
        (1000), or that cannot come back (no key, no resume window), ends the session;
        one that drops starts the resume window."""
        if self.join.state is JoinState.CLOSED:
            return
        if self._input is conn:
            self._input = None
            resumable = self.resume_window > 0 and getattr(conn, "close_code", None) != 1000
            self._step("input_left" if resumable else "input_ended")
        if role in ("both", "output") and self._output_conn is conn:
            self._output_conn = None
            if self._output is conn:
                self._output = None
            self._step("output_left")

    def _resume_expired(self) -> None:
        self._resume_timer = None
        if self.join.waiting:
            self._step("expired")

    def _cancel_soon(self, reason: str) -> None:
        try:
            self.task.create_task(self.task.cancel(reason), "cancel")
        except Exception:  # not running any more
            pass

    def ended(self) -> None:
        """The session is over (its task closed): the join ends and closes."""
        if self.join.state is JoinState.CLOSED:
            return
        if self.join.state is JoinState.OPENING:
            self.join.step("failed")
            return
        if self.join.state is not JoinState.ENDING:
            self.join.step("end")
        self.join.step("closed")

    async def close_sockets(self, timeout: float | None) -> None:
        """Close every attached socket with :attr:`close_code` (bounded by ``timeout``, and
        each by its own close deadline); what the outbox held is dropped (counted)."""
        conns = {c for c in (self._input, self._output, self._output_conn) if c is not None}
        self._input = self._output = self._output_conn = None
        self._state = ConnState.CLOSED
        self._outbox.clear()
        if conns:
            await asyncio.wait(
                [asyncio.ensure_future(_close(c, self.close_code, "")) for c in conns],
                timeout=timeout,
            )

    # -- timeouts ----------------------------------------------------------------------------

    def arm_timeouts(
        self,
        idle_timeout: float | None,
        max_duration: float | None,
        fire: Callable[[ServerSession, str], Awaitable[None]],
    ) -> None:
        """Arm the server's idle timeout (no message received) and absolute limit on the
        task's timers (:attr:`PipelineTask.timeouts`, the one owner of a session's
        deadlines, cancelled when it ends); ``fire(session, kind)`` runs in the session."""
        timeouts = self.task.timeouts
        if idle_timeout:
            stats = self.input_edge.stats
            timeouts.quiet(idle_timeout, lambda: stats.messages_in, lambda: self._fire(fire, "idle"))
        if max_duration:
            timeouts.after(max_duration, self._fire, fire, "max_duration")

    def _fire(self, fire: Any, kind: str) -> None:
        if self.live:
            try:
                self.task.create_task(fire(self, kind), f"timeout-{kind}")
            except Exception:
                pass

    def cancel_timers(self) -> None:
        """Stop every timer (the session has ended): the task's, and the resume window."""
        self.task.timeouts.cancel()
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None

    def __repr__(self) -> str:
        key = f" key={self.key}" if self.key else ""
        return f"<ServerSession #{self.id} {self.info.route}{key} {self.task.state.value}>"


async def _close(conn: Socket, code: int, reason: str) -> None:
    try:
        await conn.close(code, reason)
    except Exception:
        pass

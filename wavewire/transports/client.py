"""``WebSocketClient``: one logical connection to a WebSocket peer that survives drops.

Used by ``wavewire connect`` (:mod:`.client_session`), services (a client with a
serializer: :mod:`wavewire.services.base`) and relays. The client

* opens each connection through :func:`~.client_dial.dial` (``picows``: extra headers,
  subprotocols, TLS, proxy; every failure a typed error, a refusal's HTTP answer on it)
  and sends its serializer's ``open()`` messages on *every* connection; one connection
  is a :class:`~.client_conn.ClientConnection` (the :mod:`.connection` contract);
* reconnects after the peer goes away, waiting per :class:`Backoff` on its clock, never
  less than a 429's ``Retry-After`` (:mod:`.backoff`: what is retried -- never an auth
  refusal -- and which typed error each failure is). :meth:`~WebSocketClient.connect`
  raises the error of the failure; a client that stops for good later keeps why in
  ``error`` and emits ``on_failed``;
* runs one reader task owned by ``owner`` (a session's task group or a processor;
  standalone, a group of its own) that passes each message to ``on_message`` and, with
  ``on_frames``, its frames decoded by the serializer (:mod:`.client_io`);
* sends timed messages (keep-alives) registered with :meth:`~WebSocketClient.every`,
  re-armed on every connection (:mod:`.periodic`);
* sends now, or waits while the peer is not keeping up (the contract's ``send``); what is
  sent while disconnected waits in an :class:`~.connection.Outbox` (``buffer_size``
  messages, default 50 = 1 s of 20 ms audio; the oldest dropped and counted beyond), sent
  after ``open()`` on the next connection; :meth:`~WebSocketClient.clear` empties it;
* ends with a close handshake (:meth:`~WebSocketClient.close`) or without one
  (:meth:`~WebSocketClient.abort`: the peer sees 1006).

Events: ``on_connected(client)``, ``on_disconnected(client, code, reason)``,
``on_reconnecting(client, attempt, delay)``, ``on_decode_error(client, error)``,
``on_failed(client, error)``. URLs in errors and logs are redacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..clock import Clock, MonotonicClock
from ..errors import (
    ConnectError,
    ConnectionClosedError,
    ServiceError,
    SessionClosedError,
    WavewireError,
)
from ..events import EventEmitter
from ..pipelines.taskgroup import TaskGroup
from ..secrets import redact_text
from .backoff import RETRY_CLOSE_CODES, Backoff, Waiter, close_error, retry
from .client_conn import ClientConnection
from .client_dial import DialSocket, dial
from .client_io import (
    ClientStats,
    TaskOwner,
    close_connection,
    open_messages,
    periodic_sender,
    read_messages,
    stop_tasks,
)
from .connection import ConnState, Outbox, send
from .periodic import PeriodicMessages, Schedule

if TYPE_CHECKING:
    import ssl as ssl_module

    from ..frames import Frame
    from ..serializers.base import FrameSerializer, Message

__all__ = ["Backoff", "ClientStats", "TaskOwner", "WebSocketClient", "RETRY_CLOSE_CODES"]

_DEFAULT_BACKOFF = Backoff()


class WebSocketClient(EventEmitter):
    """A reconnecting WebSocket connection driven by a serializer (module docstring).

    :param url: ``ws://`` or ``wss://`` URL.
    :param serializer_factory: called once; the serializer lives across reconnects
        (:attr:`serializer`) and its ``open()`` is sent on every connection.
    :param headers: extra handshake headers (e.g. ``Authorization``).
    :param subprotocols: subprotocols to offer.
    :param reconnect: backoff policy (``None``: never reconnect).
    :param reconnect_on_normal_close: also reconnect after a close with code 1000.
    :param buffer_size: messages kept while disconnected (oldest dropped beyond).
    :param clock: what backoff and periodic messages wait on (default: monotonic time).
    :param owner: who owns the reader and ticker tasks (default: a task group of the
        client's own, closed by :meth:`close`).
    :param close_errors: maps a close the peer sent ``(code, reason)`` to a typed error
        (a provider's own codes); ``None`` from it means the default policy.
    """

    def __init__(
        self,
        url: str,
        serializer_factory: Callable[[], FrameSerializer] | FrameSerializer,
        *,
        headers: Mapping[str, str] | None = None,
        subprotocols: Sequence[str] | None = None,
        reconnect: Backoff | None = _DEFAULT_BACKOFF,
        reconnect_on_normal_close: bool = False,
        buffer_size: int = 50,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 5.0,
        max_size: int | None = 1 << 20,
        ssl: ssl_module.SSLContext | None = None,
        proxy: str | bool | None = True,
        name: str | None = None,
        clock: Clock | None = None,
        owner: TaskOwner | None = None,
        close_errors: Callable[[int | None, str], WavewireError | None] | None = None,
    ) -> None:
        self.url = url
        make = serializer_factory
        self.serializer: FrameSerializer = make() if callable(make) else make
        self.headers = dict(headers or {})
        self.subprotocols = list(subprotocols or [])
        self.reconnect = reconnect
        self.reconnect_on_normal_close = reconnect_on_normal_close
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.max_size = max_size
        self.ssl = ssl
        self.proxy = proxy
        self.where = redact_text(url)
        """The URL with its secrets redacted (what errors and logs show)."""
        self.name = name or f"WebSocketClient({self.where})"
        self.clock: Clock = clock or MonotonicClock()
        self.close_errors = close_errors
        self.stats = ClientStats()
        self.error: WavewireError | None = None
        """Why the client stopped, when it did not stop because of :meth:`close`."""
        self.close_code: int | None = None
        """The code of the last close seen."""
        self._conn: ClientConnection | None = None
        self._dialing: DialSocket | None = None
        self._subprotocol: str | None = None
        self._on_message: Callable[[Message], Awaitable[None]] | None = None
        self._on_frames: Callable[[list[Frame]], Awaitable[None]] | None = None
        self._held = Outbox(buffer_size, on_drop=self._dropped)
        self._own_group = TaskGroup(self.name)
        self._owner: TaskOwner = owner if owner is not None else self._own_group
        self._tasks: set[asyncio.Task] = set()
        self._schedule = Schedule(self.clock, lambda c: self._spawn(c, f"{self.name}:ticker"),
                                  lambda: self._last_out)
        self._waiter = Waiter(self.clock)
        self._last_out = 0.0
        self._closing = False
        self._started = False
        self._done = asyncio.Event()
        self._init_events("on_connected", "on_disconnected", "on_reconnecting",
                          "on_decode_error", "on_failed")

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._conn is not None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose on the current (or last) connection, if any."""
        return self._subprotocol

    @property
    def closed(self) -> bool:
        """True once the client has stopped for good."""
        return self._done.is_set()

    @property
    def buffer_size(self) -> int:
        """Messages kept while disconnected (the oldest dropped beyond)."""
        return self._held.size

    @property
    def held(self) -> int:
        """Messages waiting in the disconnected buffer."""
        return len(self._held)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the client stops for good; True if it did within ``timeout``."""
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
            return True
        except TimeoutError:
            return False

    @property
    def owner(self) -> TaskOwner:
        """Who owns the client's tasks; settable until :meth:`connect` (a session that
        is handed a client adopts it this way)."""
        return self._owner

    @owner.setter
    def owner(self, owner: TaskOwner) -> None:
        if self._started:
            raise RuntimeError(f"{self.name}: the owner is fixed once connect() was called")
        self._owner = owner

    def _dropped(self, n: int) -> None:
        self.stats.dropped += n

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        task = self._owner.create_task(coro, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def connect(self, on_message: Callable[[Message], Awaitable[None]] | None = None, *,
                      on_frames: Callable[[list[Frame]], Awaitable[None]] | None = None
                      ) -> None:
        """Connect (retrying per :attr:`reconnect`) and start receiving: each message goes
        to ``on_message``, and with ``on_frames`` its frames (decoded by the serializer)
        to ``on_frames``. Raises the typed error of the last failure
        (:class:`~wavewire.errors.AuthError` at once) if no connection could be made."""
        if self._started:
            raise RuntimeError(f"{self.name}: connect() was already called")
        self._started, self._on_message, self._on_frames = True, on_message, on_frames
        try:
            try:
                await self._open()
            except ServiceError as exc:
                if not exc.retryable or self.reconnect is None or not await self._retry(exc):
                    error = self.error or exc
                    self._stop(error)
                    raise error from None
        except asyncio.CancelledError:  # leave no socket: cut the dial or connection
            self.abort()  # (what is held stays for close() to count)
            raise
        self._spawn(self._run(), f"{self.name}:reader")

    async def _open(self) -> None:
        self._dialing = dialing = DialSocket()  # abort() cuts it
        try:
            conn = await dial(
                self.url, where=self.where, headers=self.headers,
                subprotocols=self.subprotocols, open_timeout=self.open_timeout,
                ping_interval=self.ping_interval, ping_timeout=self.ping_timeout,
                close_timeout=self.close_timeout, max_size=self.max_size, ssl=self.ssl,
                proxy=self.proxy, sock=dialing,
            )
        except ServiceError:
            self.stats.failed_attempts += 1
            raise
        finally:
            self._dialing = None
        try:
            await open_messages(conn, self.serializer.open(), self._held, self.stats)
        except ConnectionClosedError as exc:
            self.stats.failed_attempts += 1
            raise ConnectError(f"{self.where}: closed while opening ({exc})") from None
        if self._closing:  # close() or abort() came during the handshake
            conn.abort()
            raise ConnectError(f"{self.where}: closed while connecting")
        self._conn = conn
        self._subprotocol = conn.subprotocol
        self.stats.connects += 1
        self._schedule.start(periodic_sender(conn, lambda: self._conn, self.stats), rearm=True)
        await self.call_event_handler("on_connected")

    async def _retry(self, error: WavewireError | None) -> bool:
        """Reconnect with backoff; False when giving up (:attr:`error` says why)."""
        ok, failure = await retry(
            self.reconnect, self._open, error, where=self.where, waiter=self._waiter,
            stopped=lambda: self._closing,
            on_wait=lambda n, delay: self.call_event_handler("on_reconnecting", n, delay),
        )
        if failure is not None:
            self.error = failure
        return ok

    async def _run(self) -> None:
        conn: ClientConnection | None = None
        try:
            while True:
                conn = self._conn
                if conn is None:
                    break
                try:
                    code, reason, ours, bad = await read_messages(
                        conn, self.serializer, self.stats, self._on_message, self._on_frames,
                        lambda exc: self.call_event_handler("on_decode_error", exc))
                except SessionClosedError:  # the session feeding on it has ended
                    self._closing = True
                    await conn.close(1001, "session closed")
                    code, reason, ours, bad = 1001, "session closed", True, None
                error = bad or close_error(self.where, code, reason, sent_by_us=ours,
                                           custom=self.close_errors)
                self._conn = None
                self._schedule.stop()
                self.close_code = code
                await self.call_event_handler("on_disconnected", code, reason)
                if self._closing:
                    break
                if error is None:  # a normal close
                    if not (self.reconnect_on_normal_close and self.reconnect is not None):
                        break
                elif not (isinstance(error, ServiceError) and error.retryable):
                    self.error = error
                    break
                if not await self._retry(error):
                    break
        finally:
            self._conn = None
            self._schedule.stop()
            if conn is not None and conn.state is not ConnState.CLOSED:
                conn.abort()
            self._stop(self.error)
        if self.error is not None and not self._closing:
            await self.call_event_handler("on_failed", self.error)

    def every(self, interval_s: float, make_messages: Callable[[], Sequence[Message]], *,
              idle_only: bool = False) -> PeriodicMessages:
        """Send ``make_messages()`` every ``interval_s`` seconds of the client's clock while
        connected (re-armed on each connection); with ``idle_only``, only after that long
        without any message sent (a keep-alive during silence). Returns the hook;
        ``hook.cancel()`` stops it."""
        return self._schedule.add(interval_s, make_messages, idle_only)

    async def send(self, message: Message) -> None:
        """Send one message, or buffer it while disconnected (see the module docstring)."""
        conn = self._conn
        if conn is not None:
            try:
                if not conn.send_nowait(message):
                    await send(conn, message)
                self.stats.messages_out += 1
                self._last_out = self.clock.now()
                return
            except ConnectionClosedError:
                pass
        if self._closing or self.closed:
            self.stats.dropped += 1
        else:
            if self._held.size:
                self.stats.buffered += 1
            self._held.put(message)

    async def send_frame(self, frame: Frame) -> None:
        """Encode ``frame`` with the serializer and send the messages."""
        for message in self.serializer.encode(frame):
            await self.send(message)

    def clear(self) -> int:
        """Drop the messages held while disconnected (after an interruption they are
        stale); returns how many (counted in ``dropped`` and ``cleared``)."""
        n = self._held.clear()
        self.stats.cleared += n
        return n

    async def close(self, code: int = 1000, reason: str = "", *, drain: float = 0.0) -> None:
        """Send the serializer's ``close()`` messages, close, stop the client's tasks
        (bounded by ``close_timeout``). With ``drain``, first wait up to that many
        seconds for the peer to close by itself (so the replies ``close()`` asked for
        are received). Idempotent."""
        self._closing = True
        self._waiter.wake()  # a backoff wait ends now
        self._schedule.stop()
        if self._conn is not None:
            await close_connection(self._conn, self.serializer.close(), self.stats, code,
                                   reason, drain=drain, timeout=self.close_timeout)
        await stop_tasks(self._tasks, self._own_group, self.close_timeout)
        if self._conn is not None:  # the reader was cancelled before it saw the close
            self._conn.abort()
            self._conn = None
        self._stop(self.error)

    def abort(self) -> None:
        """Stop for good now, with no close handshake: cut the TCP connection (or a dial
        under way; the peer sees 1006, as when a relay's other leg drops); no reconnect.
        The reader ends by itself; :meth:`close` may follow to wait for the tasks."""
        self._closing = True
        self._waiter.wake()
        self._schedule.stop()
        if self._dialing is not None:
            self._dialing.cut()
        if self._conn is not None:
            self._conn.abort()
        if not self._started:
            self._stop(self.error)

    def _stop(self, error: WavewireError | None) -> None:
        self.error = error
        self._held.clear()
        self._done.set()

    async def __aenter__(self) -> WebSocketClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "connected" if self.connected else "idle"
        return f"<{self.name} {state}>"


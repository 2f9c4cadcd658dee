"""A raw WebSocket server on wavewire's own wire layer: one handler per connection.

:class:`~wavewire.transports.server.WebSocketServer` runs a pipeline session per call.
Code that wants to own each connection itself -- the platform emulators, the provider
fakes, a test peer -- uses :func:`serve` instead::

    async def echo(conn: RawConnection) -> None:
        async for message in conn:
            await conn.send(message)

    async with serve(echo, "127.0.0.1", 0) as server:
        ...  # ws://127.0.0.1:{server.port}

Each connection, from its request head to its end, is one task of the server's
:class:`~wavewire.pipelines.taskgroup.TaskGroup`:

1. ``on_request(request)`` (plain or ``async``) decides. It returns an HTTP
   :class:`~wavewire.transports.http.Response` to refuse (any status, headers such as
   ``Retry-After`` or ``WWW-Authenticate``, a body), or an :class:`Accept` (the
   subprotocol, extra headers, a per-connection ``data`` for the handler), or ``None``
   to accept as is; if the peer leaves while it is deciding, it is cancelled. Without
   ``on_request`` every upgrade is accepted. A request that is not a valid WebSocket
   upgrade is then refused (426/400) by the wire layer's checks.
2. ``handler(conn)`` serves the :class:`RawConnection`. When it returns, the connection
   is closed with 1000; when it raises, with 1011 (the error is logged, redacted) and
   the server keeps serving; :class:`~wavewire.errors.ConnectionClosedError` (the peer
   went away) just ends it.

:meth:`RawServer.close` stops listening, closes every connection (1001, each bounded by
``close_timeout``, then cut), cancels every task still running within that deadline,
and leaves no socket behind.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from ..errors import ConnectionClosedError, InvalidStateError, clip
from ..log import logger
from ..pipelines.taskgroup import TaskGroup
from ..secrets import redact_text
from .http import Request, Response, text_response
from .raw_connection import Accept, RawConnection, cut
from .wire import ServerConnection, bound_port, upgrade_error

__all__ = ["Accept", "Decision", "RawConnection", "RawServer", "serve"]

Decision = Response | Accept | None
"""What ``on_request`` answers: refuse, accept, or (``None``) accept as is."""
Handler = Callable[["RawConnection"], Awaitable[None]]
OnRequest = Callable[[Request], "Decision | Awaitable[Decision]"]


class RawServer:
    """A listening raw WebSocket server (see the module docstring); made by :func:`serve`.

    ``await serve(...)`` starts it and returns it; ``async with serve(...) as server``
    also closes it at the end."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_request: OnRequest | None = None,
        open_timeout: float | None = 10.0,
        close_timeout: float = 5.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_size: int | None = 1 << 20,
        max_queue: int = 64,
        name: str = "raw-server",
        log: logging.Logger | None = None,
    ) -> None:
        self.handler = handler
        self.on_request = on_request
        self.host = host
        self._port = port
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_size = max_size
        self.max_queue = max_queue
        self.name = name
        self.log = log
        """Where failures of ``on_request`` and handlers are logged (redacted); ``None``:
        wavewire's log."""
        self.group = TaskGroup(name)
        """Owns every connection's task."""
        self._connections: set[ServerConnection] = set()
        self._listener: asyncio.Server | None = None
        self._read_buffer = memoryview(bytearray(1 << 16))
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> RawServer:
        """Listen (once; later calls do nothing)."""
        if self._listener is None:
            if self._closed:
                raise InvalidStateError(f"{self.name}: closed")
            loop = asyncio.get_running_loop()
            self._listener = await loop.create_server(self._new_connection, self.host,
                                                      self._port)
        return self

    def __await__(self) -> Generator[Any, None, RawServer]:
        return self.start().__await__()

    async def __aenter__(self) -> RawServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The TCP port bound (useful with ``port=0``)."""
        return bound_port(self._listener, self._port)

    @property
    def url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """TCP connections open now (handshaking or established)."""
        return len(self._connections)

    @property
    def serving(self) -> bool:
        """Listening and not closed."""
        return self._listener is not None and not self._closed

    async def close(self) -> None:
        """Stop listening, close every connection with 1001, cancel every task; each
        step bounded by ``close_timeout``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        listener = self._listener
        if listener is not None:
            listener.close()
        conns = list(self._connections)
        if conns:
            await asyncio.gather(*(c.close(1001, "going away") for c in conns),
                                 return_exceptions=True)
        await self.group.close(self.close_timeout)
        for conn in list(self._connections):  # still there past the deadline: cut
            cut(conn)
        if listener is not None:
            try:
                await asyncio.wait_for(listener.wait_closed(), self.close_timeout)
            except TimeoutError:
                pass

    # -- connections -------------------------------------------------------------------

    def _new_connection(self) -> ServerConnection:
        return ServerConnection(
            self._on_head, self._connections, open_timeout=self.open_timeout,
            close_timeout=self.close_timeout, ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout, max_queue=self.max_queue,
            read_buffer=self._read_buffer,
        )

    def _on_head(self, conn: ServerConnection, request: Request) -> None:
        """A request head arrived: serve the connection as a task of the group."""
        context = contextvars.copy_context()  # lets consume() run the handler inline
        try:
            self.group.create_task(self._serve(conn, request, context), f"{self.name}:conn",
                                   context=context)
        except InvalidStateError:  # closing: no new tasks
            conn.reject(text_response(503, "server closing\n"))

    def _failed(self, what: str, exc: Exception) -> None:
        text = redact_text(clip(repr(exc)))
        if self.log is not None:
            self.log.error("%s: %s failed: %s", self.name, what, text)
        else:
            logger.error("{}: {} failed: {}", self.name, what, text)

    async def _decide(self, conn: ServerConnection, request: Request
                      ) -> Response | Accept | None:
        """``on_request``'s answer; ``None`` when the peer left while it was deciding."""
        if self.on_request is None:
            return Accept()
        try:
            result = self.on_request(request)
            if inspect.isawaitable(result):
                result = await _unless_gone(conn, result)
        except _Gone:
            return None
        except Exception as exc:
            self._failed("on_request", exc)
            return text_response(500, "internal error\n")
        return Accept() if result is None else result

    async def _serve(self, conn: ServerConnection, request: Request,
                     context: contextvars.Context) -> None:
        """One connection, from its request head to its end."""
        decision = await self._decide(conn, request)
        if decision is None:  # the peer left while on_request was deciding
            return
        if isinstance(decision, Response):
            conn.reject(decision)
            return
        refusal = upgrade_error(request)
        if refusal is not None:
            conn.reject(refusal)
            return
        max_size = self.max_size if decision.max_size is None else decision.max_size
        try:
            conn.accept(decision.subprotocol, max_size=max_size,
                        headers=list(decision.headers) or None)
        except ConnectionClosedError:  # the peer left (or close()) while deciding
            return
        raw = RawConnection(conn, request, decision.data, context)
        try:
            await self.handler(raw)
        except ConnectionClosedError:
            pass
        except Exception as exc:
            self._failed("handler", exc)
            await conn.close(1011, "internal error")
            return
        except BaseException:  # cancelled: do not wait for a close handshake
            raw.abort()
            raise
        if not conn.closed:
            await conn.close(1000)


def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0, *,
          on_request: OnRequest | None = None, **options: Any) -> RawServer:
    """A :class:`RawServer` calling ``handler`` per connection; ``await`` it (or enter it
    with ``async with``) to listen. ``options`` are :class:`RawServer`'s (timeouts,
    keepalive, ``max_size``, ``max_queue``, ``name``, ``log``)."""
    return RawServer(handler, host, port, on_request=on_request, **options)


class _Gone(Exception):
    """The peer left while ``on_request`` was deciding."""


async def _unless_gone(conn: ServerConnection, deciding: Awaitable[Decision]) -> Decision:
    """``await deciding``; cancelled (then :class:`_Gone`) if the peer drops the connection."""
    task = asyncio.current_task()
    assert task is not None
    waiting = [True]
    gone = asyncio.ensure_future(conn.wait_closed())
    gone.add_done_callback(lambda f: waiting[0] and not f.cancelled() and task.cancel())
    try:
        return await deciding
    except asyncio.CancelledError:
        if not gone.done() or gone.cancelled() or task.uncancel() > 0:
            raise
        raise _Gone from None
    finally:
        waiting[0] = False
        gone.cancel()

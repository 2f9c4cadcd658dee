"""Answering a request head: a WebSocket route, an HTTP answer, or a refusal.

The second layer of :class:`~wavewire.transports.server.WebSocketServer` (see
:mod:`.server`). Each request head the wire layer parses goes through
:meth:`RequestHandling._process_request`, in a task of the server's group:

* a WebSocket route (:class:`~wavewire.transports.routes.Route`): the auth hook runs
  (HTTP 401 if it says no -- no session is started), and the serializer is built (HTTP
  400 if the query is bad); then the upgrade and the ``Origin`` are checked (403), one
  offered subprotocol is chosen, the connection is accepted with the route's message
  size limit and handed to the next layer (:mod:`._serving`);
* ``/healthz`` (JSON), ``/metrics`` (Prometheus text), or a file of the browser page;
* anything else: 404.

Every refusal is counted by reason in the server's metrics.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from ..errors import clip
from ..log import logger
from ._serving import Admission, SessionServing
from .auth import AuthRequest
from .http import Request, Response, json_response, respond, static_response, text_response
from .metrics import CONTENT_TYPE
from .routes import Route, connection_info
from .wire import ServerConnection, upgrade_error

if TYPE_CHECKING:
    from pathlib import Path

    from .auth import AuthHook
    from .metrics import SessionTotals

__all__ = ["RequestHandling"]


class RequestHandling(SessionServing):
    """The server's layer that answers request heads (see the module docstring). It
    reads the settings that :class:`~wavewire.transports.server.WebSocketServer` sets
    up, declared here."""

    auth: AuthHook | None
    origins: list[str | None] | None
    web_dir: Path

    if TYPE_CHECKING:  # WebSocketServer's public method, which /metrics reports

        def live_totals(self) -> SessionTotals: ...

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

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | Admission:
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
        return Admission(route, info, serializer)

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

    def _select_subprotocol(self, ctx: Admission, offered: Sequence[str]) -> str | None:
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

"""A fake Cloudflare AI Gateway for WebSockets (protocols.md §2) on loopback: it checks
``cf-aig-authorization`` and forwards by path to the fakes standing for the providers.

``ws://host:port/v1/{account_id}/{gateway_id}/{provider}[/{path}][?{query}]`` is
forwarded to ``routes[provider]`` + ``/{path}?{query}`` (Cartesia's bare
``/cartesia?...`` goes to ``/tts/websocket``). The token is required when ``token`` is
set: the header ``cf-aig-authorization: Bearer <token>`` (the bare token is accepted
too), or the subprotocol ``cf-aig-authorization.<token>`` for browsers; otherwise HTTP
401. The provider's own credentials pass through untouched (headers, query, the other
subprotocols); the gateway's are removed. The upstream's handshake refusal (401, 429…)
is answered to the client as is; then messages and closes are relayed both ways.

Workers AI (``/workers-ai?model=@cf/deepgram/...``) goes to ``routes["workers-ai"]``, a
Deepgram fake: ``nova-*`` models to ``/v1/listen``, ``flux`` to ``/v2/listen``, ``aura-*``
to ``/v1/speak`` (the ``model`` parameter becomes Deepgram's), with ``workers_ai_key`` as
the Deepgram key (Workers AI clients send none).

``forwarded`` records (provider, upstream path and query) per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from ._base import FakeServer, Handshake, _Conn

__all__ = ["FakeAIGateway", "AUTH_HEADER"]

AUTH_HEADER = "cf-aig-authorization"
_HOP = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
        "sec-websocket-extensions", "sec-websocket-protocol", AUTH_HEADER}
_DEFAULT_PATHS = {"cartesia": "/tts/websocket"}


class FakeAIGateway(FakeServer):
    """See the module docstring. ``routes`` maps a provider name (``deepgram``,
    ``cartesia``, ``elevenlabs``…) to the ``ws://`` base URL of the fake to forward to."""

    name = "gateway"

    def __init__(self, routes: dict[str, str], *, token: str | None = None,
                 workers_ai_key: str = "workers-ai", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        super().__init__(host=host, port=port)
        self.workers_ai_key = workers_ai_key
        self.routes = dict(routes)
        self.token = token
        self.forwarded: list[tuple[str, str]] = []
        """(provider, upstream path with query) of every forwarded connection."""
        self._upstream: dict[int, ClientConnection] = {}

    def base_url(self, account_id: str = "acc123", gateway_id: str = "gw1") -> str:
        """The gateway URL services take (``CF_AIG_GATEWAY_URL``), as ``http://``."""
        return f"http://{self.host}:{self.port}/v1/{account_id}/{gateway_id}"

    def _token_ok(self, hs: Handshake) -> bool:
        if self.token is None:
            return True
        given = hs.headers.get(AUTH_HEADER)
        if given is not None and given.lower().startswith("bearer "):
            given = given[7:].strip()
        if given is None:
            prefix = f"{AUTH_HEADER}."
            given = next((p[len(prefix):] for p in hs.subprotocols if p.startswith(prefix)),
                         None)
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def _process_request(  # type: ignore[override]
        self, conn: ServerConnection, request: Request
    ) -> Response | None:
        parts = urlsplit(request.path)
        segments = parts.path.split("/", 5)  # '', v1, account, gateway, provider, rest
        offered = [p.strip() for v in request.headers.get_all("Sec-WebSocket-Protocol")
                   for p in v.split(",") if p.strip()]
        hs = Handshake(parts.path, {}, request.headers, offered)
        if len(segments) < 5 or segments[1] != "v1" or segments[4] not in self.routes:
            self.rejected.append((404, parts.path))
            return conn.respond(404, "Not Found")
        if not self._token_ok(hs):
            self.rejected.append((401, parts.path))
            return conn.respond(401, "Unauthorized: cf-aig-authorization")
        provider = segments[4]
        path = "/" + segments[5] if len(segments) > 5 and segments[5] else ""
        path = path or _DEFAULT_PATHS.get(provider, "")
        query = parts.query
        headers = [(k, v) for k, v in request.headers.raw_items() if k.lower() not in _HOP]
        if provider == "workers-ai":
            path, query = _workers_ai(query)
            headers.append(("Authorization", f"Token {self.workers_ai_key}"))
        target = path + (f"?{query}" if query else "")
        protocols: Any = [p for p in offered if not p.startswith(f"{AUTH_HEADER}.")] or None
        try:
            upstream = await connect(self.routes[provider].rstrip("/") + target,
                                     additional_headers=headers, subprotocols=protocols,
                                     proxy=None, compression=None, max_size=1 << 22)
        except InvalidStatus as exc:
            self.rejected.append((exc.response.status_code, parts.path))
            response = conn.respond(exc.response.status_code, exc.response.body.decode(
                "utf-8", "replace"))
            for k, v in exc.response.headers.raw_items():
                if k.lower() not in ("content-length", "content-type", "connection", "date",
                                     "server"):
                    response.headers[k] = v
            return response
        self.forwarded.append((provider, target))
        self._upstream[id(conn)] = upstream
        self._pending[id(conn)] = hs
        return None

    def _select_subprotocol(self, conn: ServerConnection, offered: Any) -> Any:
        upstream = self._upstream.get(id(conn))
        return upstream.subprotocol if upstream is not None else None

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        upstream = self._upstream.pop(id(conn.ws))
        client = conn.ws

        async def pipe(src: Any, dst: Any) -> None:
            with contextlib.suppress(ConnectionClosed):
                async for message in src:
                    await dst.send(message)

        down = self.spawn(pipe(upstream, client))
        up = self.spawn(pipe(client, upstream))
        try:
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sendable = (1000, 1001, 1003, 1007, 1008, 1009, 1011, 1012, 1013)
            up_code, down_code = upstream.close_code, client.close_code
            if up_code in sendable or (up_code is not None and up_code >= 3000):
                await client.close(up_code, upstream.close_reason or "")  # say it downstream
            elif down_code in sendable or (down_code is not None and down_code >= 3000):
                await upstream.close(down_code, client.close_reason or "")
            else:  # a dropped connection stays a dropped connection
                upstream.transport.abort()
                client.transport.abort()
            for task in (down, up):
                task.cancel()
            await asyncio.gather(down, up, return_exceptions=True)
            await upstream.close()


def _workers_ai(query: str) -> tuple[str, str]:
    """(Deepgram path, Deepgram query) for a Workers AI query ``model=@cf/deepgram/...``."""
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(query, keep_blank_values=True)
    model = next((v for k, v in pairs if k == "model"), "")
    name = model.rsplit("/", 1)[-1]
    rest = [(k, v) for k, v in pairs if k != "model"]
    if name.startswith("flux"):
        return "/v2/listen", urlencode([("model", "flux-general-en"), *rest])
    if name.startswith("aura"):
        return "/v1/speak", urlencode([("model", name), *rest])
    return "/v1/listen", urlencode([("model", name), *rest])

"""A fake Cloudflare AI Gateway for WebSockets (protocols.md §2) on loopback: it checks
``cf-aig-authorization`` and forwards by path to the fakes standing for the providers.

``ws://host:port/v1/{account_id}/{gateway_id}/{provider}[/{path}][?{query}]`` is
forwarded to ``routes[provider]`` + ``/{path}?{query}`` (Cartesia's bare
``/cartesia?...`` goes to ``/tts/websocket``). The token is required when ``token`` is
set: the header ``cf-aig-authorization: Bearer <token>`` (the bare token is accepted
too), or the subprotocol ``cf-aig-authorization.<token>`` for browsers; otherwise HTTP
401. The provider's own credentials pass through untouched (headers, query, the other
subprotocols); the gateway's are removed. The upstream's handshake refusal is answered
to the client as the upstream gave it: its status, headers (``Retry-After``,
``WWW-Authenticate``…) and body, with credentials redacted and the body bounded (what
the client's typed error keeps); an upstream that does not answer is 502 (504 past the
deadline). The subprotocol the upstream selected is the one the client gets. Then
messages and closes are relayed both ways, and a dropped connection on one side is
dropped on the other (the TCP connection cut: the peer sees 1006). A client that leaves
while the upstream is still being dialed cancels the dial; an upstream connection whose
client never arrives is cut after a deadline.

The upstream leg is wavewire's own :class:`~wavewire.transports.client.WebSocketClient`
(no reconnect).

Workers AI (``/workers-ai?model=@cf/deepgram/...``) goes to ``routes["workers-ai"]``, a
Deepgram fake: ``nova-*`` models to ``/v1/listen``, ``flux`` to ``/v2/listen``, ``aura-*``
to ``/v1/speak`` (the ``model`` parameter becomes Deepgram's), with ``workers_ai_key`` as
the Deepgram key (Workers AI clients send none).

``forwarded`` records (provider, upstream path and query) per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hmac
import http
from urllib.parse import urlsplit

from ...errors import ConnectionClosedError, ServiceError, ServiceTimeoutError
from ...serializers.base import FrameSerializer
from ...transports.client import WebSocketClient
from ...transports.http import Headers, Request, Response
from ...transports.raw_server import Accept, RawConnection
from ...transports.wire import upgrade_error
from ._base import FakeServer, Handshake, Reject, _Conn, offered_subprotocols

__all__ = ["FakeAIGateway", "AUTH_HEADER"]

AUTH_HEADER = "cf-aig-authorization"
_HOP = {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
        "sec-websocket-extensions", "sec-websocket-protocol", AUTH_HEADER}
_DEFAULT_PATHS = {"cartesia": "/tts/websocket"}
_SENDABLE = (1000, 1001, 1003, 1007, 1008, 1009, 1011, 1012, 1013)
"""Close codes relayed as they are (with 3000-4999); others mean a drop."""
_ACCEPT_WAIT = 10.0
"""Seconds the upstream's messages wait for the client's side to be accepted (and an
upstream connection waits for its client before it is cut)."""
_NOT_RELAYED = {"connection", "content-length", "transfer-encoding", "keep-alive",
                "upgrade", "date"}
"""Headers of an upstream refusal that describe the upstream's own connection."""


class _Relay:
    """One forwarded connection: the upstream client and the client's side once accepted."""

    def __init__(self, hs: Handshake) -> None:
        self.hs = hs
        self.upstream: WebSocketClient | None = None
        self.downstream: RawConnection | None = None
        self.expiry: asyncio.TimerHandle | None = None
        """Cuts the upstream if the client's side is not accepted in time."""
        self.accepted = asyncio.Event()
        self.ended: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        """The upstream's close (code, reason), once it closed."""

    async def down(self, message: bytes | str) -> None:
        """Upstream to client (in the upstream client's reader task, so in order)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.accepted.wait(), _ACCEPT_WAIT)
        if self.downstream is not None:
            with contextlib.suppress(ConnectionClosedError):
                await self.downstream.send(message)

    async def upstream_closed(self, _client: WebSocketClient, code: int, reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result((code, reason))


def _sendable(code: int | None) -> bool:
    return code is not None and (code in _SENDABLE or 3000 <= code <= 4999)


def _refusal(exc: ServiceError, status: int) -> Response:
    """The upstream's refusal as the client gets it (already redacted and bounded)."""
    headers = Headers([("Date", email.utils.formatdate(usegmt=True)), ("Connection", "close"),
                       ("Content-Length", str(len(exc.body)))])
    for name, value in exc.headers:
        if name.lower() not in _NOT_RELAYED:
            headers[name] = value
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return Response(status, phrase, headers, exc.body)


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
        self._relays: dict[int, _Relay] = {}

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

    async def _on_request(self, request: Request) -> Response | Accept:  # type: ignore[override]
        parts = urlsplit(request.path)
        segments = parts.path.split("/", 5)  # '', v1, account, gateway, provider, rest
        offered = offered_subprotocols(request)
        hs = Handshake(parts.path, {}, request.headers, offered)
        if len(segments) < 5 or segments[1] != "v1" or segments[4] not in self.routes:
            return self._reject(parts.path, Reject(404, "Not Found"))
        if not self._token_ok(hs):
            return self._reject(parts.path, Reject(401, "Unauthorized: cf-aig-authorization"))
        refusal = upgrade_error(request)
        if refusal is not None:  # not a WebSocket upgrade: dial nothing upstream
            self.rejected.append((refusal.status_code, parts.path))
            return refusal
        provider = segments[4]
        path = "/" + segments[5] if len(segments) > 5 and segments[5] else ""
        path = path or _DEFAULT_PATHS.get(provider, "")
        query = parts.query
        headers: dict[str, str] = {}
        for k, v in request.headers.raw_items():
            if k.lower() not in _HOP:
                headers.setdefault(k, v)
        if provider == "workers-ai":
            path, query = _workers_ai(query)
            if not any(k.lower() == "authorization" for k in headers):
                headers["Authorization"] = f"Token {self.workers_ai_key}"
        target = path + (f"?{query}" if query else "")
        protocols = [p for p in offered if not p.startswith(f"{AUTH_HEADER}.")]
        relay = _Relay(hs)
        assert self._server is not None
        upstream = WebSocketClient(
            self.routes[provider].rstrip("/") + target, FrameSerializer(), headers=headers,
            subprotocols=protocols, reconnect=None, buffer_size=0, proxy=None,
            max_size=1 << 22, name=f"gateway:{provider}", owner=self._server.group,
        )
        upstream.add_event_handler("on_disconnected", relay.upstream_closed)
        try:  # cancelled (the client left meanwhile), connect() cuts the dial
            await upstream.connect(relay.down)
        except ServiceError as exc:
            if exc.status is None:  # no answer at all
                status = 504 if isinstance(exc, ServiceTimeoutError) else 502
                return self._reject(parts.path, Reject(status, "upstream unreachable"))
            self.rejected.append((exc.status, parts.path))
            return _refusal(exc, exc.status)
        relay.upstream = upstream
        self.forwarded.append((provider, target))
        self._relays[id(hs)] = relay
        relay.expiry = asyncio.get_running_loop().call_later(
            _ACCEPT_WAIT, lambda: self._abandon(self._relays.pop(id(hs))))
        return Accept(upstream.subprotocol, data=hs)

    async def close(self) -> None:
        """Cut the upstream connections whose clients never arrived, then close."""
        for relay in self._relays.values():
            self._abandon(relay)
        self._relays.clear()
        await super().close()

    def _abandon(self, relay: _Relay) -> None:
        """The client's side was never accepted (it left as the dial ended): cut the
        upstream."""
        if relay.expiry is not None:
            relay.expiry.cancel()
        if relay.upstream is not None:
            relay.upstream.abort()

    async def session(self, conn: _Conn, hs: Handshake) -> None:
        relay = self._relays.pop(id(hs))
        if relay.expiry is not None:
            relay.expiry.cancel()
        upstream = relay.upstream
        assert upstream is not None
        client = relay.downstream = conn.ws
        relay.accepted.set()

        async def up() -> None:  # client to upstream
            async for message in client:
                await upstream.send(message)

        pipe = self.spawn(up())
        try:
            await asyncio.wait({pipe, relay.ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if relay.ended.done():  # the upstream ended: say it downstream
                code, reason = relay.ended.result()
                if _sendable(code):
                    await client.close(code, reason)
                else:  # a dropped connection stays a dropped connection
                    client.abort()
            elif _sendable(client.close_code):  # the client ended: say it upstream
                await upstream.close(client.close_code or 1000, client.close_reason)
            else:  # the client dropped (or the gateway is going): drop the upstream
                upstream.abort()
            pipe.cancel()
            await asyncio.gather(pipe, return_exceptions=True)
            await upstream.close(1001, "going away")


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

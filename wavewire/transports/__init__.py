"""WebSocket transports: the only code in wavewire that owns sockets.

* :class:`WebSocketServer` (:mod:`.server`) -- many sessions per process, every protocol
  on one port, with :class:`Route` s (:mod:`.routes`), the session registry
  (:mod:`.registry`, :mod:`.session`), auth (:mod:`.auth`), ``/healthz`` and
  ``/metrics`` (:mod:`.http`, :mod:`.metrics`); built-in routes in :mod:`.endpoints`.
* :class:`WebSocketClient` (:mod:`.client`) -- reconnecting client with :class:`Backoff`;
  :class:`ClientSession` (:mod:`.client_session`) runs a bot over it.
* :class:`InputEdge` / :class:`OutputEdge` (:mod:`.edges`) -- the first and last
  processor of every session.
* :func:`.raw_server.serve` -- a raw WebSocket server with a handler per connection
  (no pipeline session), on the same wire layer: the emulators and provider fakes.
* :mod:`.ws` -- the WebSocket protocol without I/O (handshake, framing, the state
  table); :mod:`.wire` drives it for the server's connections, :mod:`.inbox` hands their
  messages to the consuming task.

Names load lazily, so ``import wavewire.transports`` costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wavewire.lazy import lazy_getattr

if TYPE_CHECKING:
    from .auth import AuthRequest, token_auth
    from .client import Backoff, ClientStats, WebSocketClient
    from .client_session import ClientSession
    from .edges import EdgeStats, InputEdge, OutputEdge
    from .endpoints import default_routes
    from .routes import ConnectionInfo, Route
    from .server import WebSocketServer
    from .session import ServerSession

__all__ = [
    "AuthRequest",
    "Backoff",
    "ClientSession",
    "ClientStats",
    "ConnectionInfo",
    "EdgeStats",
    "InputEdge",
    "OutputEdge",
    "Route",
    "ServerSession",
    "WebSocketClient",
    "WebSocketServer",
    "default_routes",
    "token_auth",
]

_LAZY = {
    "AuthRequest": "auth",
    "token_auth": "auth",
    "Backoff": "client",
    "ClientStats": "client",
    "WebSocketClient": "client",
    "ClientSession": "client_session",
    "EdgeStats": "edges",
    "InputEdge": "edges",
    "OutputEdge": "edges",
    "default_routes": "endpoints",
    "ConnectionInfo": "routes",
    "Route": "routes",
    "WebSocketServer": "server",
    "ServerSession": "session",
}


__getattr__ = lazy_getattr(__name__, {k: f".{v}" for k, v in _LAZY.items()}, globals())

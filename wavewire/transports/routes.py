"""Routes: which URL path speaks which wire protocol, in which role, in which session.

A :class:`Route` maps a path pattern such as ``/cloudflare/{call_id}/stream`` to a
serializer factory and a role:

* ``"both"`` -- one socket carries both directions (raw, Pipecat, Twilio, Vapi);
* ``"input"`` / ``"output"`` -- protocols that use one socket per direction (the
  Cloudflare adapter's ``stream`` egress and ``ingest`` buffer). An input route and an
  output route with the same ``key`` template are *partners*: both sockets join one
  session, whichever arrives first.

``key`` turns the path parameters into a session key (``"cloudflare:{call_id}"`` or a
callable). Connections that share a key share a session; without a key every
connection is a session of its own. With a key and a ``resume_window``, an input socket
that drops may come back within the window and resume the same session.

The details a connection brings (:class:`ConnectionInfo`) are redacted when built:
tokens, keys and ``Authorization`` never reach a serializer factory, a bot factory, a
log line or a repr. Only the route's auth hook sees the raw request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .auth import redact_headers, redact_query

if TYPE_CHECKING:
    from ..serializers.base import FrameSerializer
    from .auth import AuthHook

__all__ = [
    "ClientProtocol",
    "ConnectionInfo",
    "Role",
    "Route",
    "SerializerFactory",
    "compile_pattern",
    "no_headers",
]

Role = Literal["both", "input", "output"]
"""What a route's socket carries: both directions, or only the input or the output."""

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/a/{x}/b`` → a regex matching one path with ``x`` as a named group (one segment)."""
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    out, pos = ["^"], 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    out.append("$")
    return re.compile("".join(out))


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What the server knows about one WebSocket connection, secrets redacted.

    Serializer factories and bot factories receive this (bot factories get the one of
    the connection that created the session)."""

    route: str
    """The route's pattern, e.g. ``/cloudflare/{call_id}/stream``."""
    role: Role
    """The route's role."""
    path: str
    """The request path without the query string."""
    params: Mapping[str, str]
    """Path parameters (``{"call_id": "..."}``)."""
    query: Mapping[str, str]
    """Query parameters (last value wins), secrets replaced by ``"***"``."""
    headers: Mapping[str, str] = field(repr=False)
    """Request headers (lower-case names), secrets replaced by ``"***"``."""
    remote: str = ""
    """``host:port`` of the peer."""
    subprotocol: str | None = None
    """The negotiated subprotocol, unless it carried a secret."""
    key: str | None = None
    """The session key, for routes that join connections into one session."""


SerializerFactory = Callable[[ConnectionInfo], "FrameSerializer"]
"""Builds the serializer of one connection from its details (may raise ``ValueError``,
which refuses the handshake with HTTP 400)."""


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """One WebSocket endpoint. See the module docstring."""

    pattern: str
    """Path pattern with ``{name}`` segments."""
    serializer: SerializerFactory
    """Builds each connection's serializer."""
    role: Role = "both"
    """``"both"``, or ``"input"`` / ``"output"`` for one-socket-per-direction protocols."""
    key: str | Callable[[Mapping[str, str]], str] | None = None
    """Session key: a template formatted with the path parameters, or a callable of them."""
    auth: AuthHook | None = None
    """Decides at the handshake whether the request may connect (HTTP 401 otherwise);
    ``None`` uses the server's default hook."""
    max_message_size: int | None = 1 << 20
    """Largest message accepted from the peer; a larger one closes with 1009."""
    subprotocols: tuple[str, ...] = ()
    """Subprotocols this route speaks, in order of preference."""
    resume_window: float = 0.0
    """Seconds a keyed session waits for its input socket to come back after it drops."""
    name: str = ""
    """Short name for metrics (default: the serializer's protocol, set by the server)."""
    regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.role not in ("both", "input", "output"):
            raise ValueError(f"route {self.pattern}: role must be both, input or output")
        if self.role != "both" and self.key is None:
            raise ValueError(f"route {self.pattern}: an {self.role} route needs a session key")
        object.__setattr__(self, "regex", compile_pattern(self.pattern))

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters if ``path`` matches, else ``None``."""
        m = self.regex.match(path)
        return m.groupdict() if m is not None else None

    def session_key(self, params: Mapping[str, str]) -> str | None:
        """The session key for these path parameters (``None``: a session per socket)."""
        key = self.key
        if key is None:
            return None
        if isinstance(key, str):
            return key.format_map(params)
        return key(params)

    def partner_of(self, other: Route) -> bool:
        """True if ``other`` carries the other direction of this route's sessions."""
        return (
            other is not self
            and self.key is not None
            and other.key == self.key
            and {self.role, other.role} == {"input", "output"}
        )


def connection_info(
    route: Route,
    path: str,
    params: Mapping[str, str],
    query: Mapping[str, str],
    headers: Any,
    remote: Any,
    subprotocol: str | None,
) -> ConnectionInfo:
    """Build the redacted :class:`ConnectionInfo` of a request."""
    if isinstance(remote, tuple) and len(remote) >= 2:
        remote = f"{remote[0]}:{remote[1]}"
    if subprotocol is not None and subprotocol.lower().startswith("bearer."):
        subprotocol = None
    return ConnectionInfo(
        route=route.pattern,
        role=route.role,
        path=path,
        params=dict(params),
        query=redact_query(query),
        headers=redact_headers(headers),
        remote=str(remote or ""),
        subprotocol=subprotocol,
        key=route.session_key(params),
    )


def no_headers() -> dict[str, str]:
    """Handshake headers of a protocol that needs none."""
    return {}


@dataclass(frozen=True, slots=True)
class ClientProtocol:
    """How ``wavewire connect --protocol NAME`` speaks one protocol as a client (the
    client-side counterpart of a :class:`Route`)."""

    name: str
    """The ``--protocol`` name."""
    serializer: Callable[[int, int], FrameSerializer]
    """``serializer(sample_rate, num_channels)`` → the connection's serializer."""
    headers: Callable[[], dict[str, str]]
    """Handshake headers (credentials from the environment; never the wavewire token)."""
    reconnect: bool
    """Whether the client may reconnect after a drop (single-use URLs may not)."""
    description: str
    """One line for ``--help``."""
    token: bool = False
    """Whether ``wavewire connect --token`` is sent (``Authorization: Bearer``): only
    to wavewire's own servers, never to a third party."""

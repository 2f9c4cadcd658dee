"""Handshake authentication (redaction lives in :mod:`wavewire.secrets`).

An auth hook is called once per WebSocket handshake with an :class:`AuthRequest` and
returns (or resolves to) ``True`` to let the connection in; anything else refuses it with
HTTP 401 before any session starts. :func:`token_auth` is the usual hook: the token may
come as

* the query parameter ``?token=<T>``,
* the header ``Authorization: Bearer <T>``,
* a subprotocol entry ``bearer.<T>`` (for browsers, which cannot set headers),

and is compared with :func:`hmac.compare_digest`.

Redaction lives in :mod:`wavewire.secrets`; its helpers (:func:`redact_query`,
:func:`redact_headers`, :func:`redact_text`, :class:`RedactingFilter`) are re-exported
here for the code that imported them from this module.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..secrets import (
    SECRET_QUERY_KEYS,
    RedactingFilter,
    is_secret_query_key,
    redact_headers,
    redact_query,
    redact_text,
)

__all__ = [
    "AuthRequest",
    "AuthHook",
    "token_auth",
    "extract_token",
    "redact_query",
    "redact_headers",
    "redact_text",
    "RedactingFilter",
    "SECRET_QUERY_KEYS",
    "is_secret_query_key",
]

_BEARER_PREFIX = "bearer."


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What an auth hook sees of a handshake (the only place raw secrets are visible)."""

    path: str
    """The request path without the query string."""
    params: Mapping[str, str]
    """Path parameters of the matched route."""
    query: Mapping[str, str] = field(repr=False)
    """Raw query parameters (last value wins)."""
    headers: Any = field(repr=False)
    """The raw request headers (:class:`~wavewire.transports.http.Headers`)."""
    subprotocols: tuple[str, ...] = field(default=(), repr=False)
    """Subprotocols the client offered."""
    remote: str = ""
    """``host:port`` of the peer."""


AuthHook = Callable[[AuthRequest], bool | Awaitable[bool]]
"""Returns ``True`` to accept the handshake."""


def extract_token(request: AuthRequest) -> str | None:
    """The token a request carries (query, bearer header or ``bearer.`` subprotocol)."""
    token = request.query.get("token")
    if token:
        return token
    header = request.headers.get("Authorization") if request.headers is not None else None
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for entry in request.subprotocols:
        if entry.lower().startswith(_BEARER_PREFIX) and len(entry) > len(_BEARER_PREFIX):
            return entry[len(_BEARER_PREFIX) :]
    return None


def token_auth(*tokens: str) -> AuthHook:
    """An auth hook accepting any of ``tokens`` (constant-time comparison)."""
    if not tokens or not all(tokens):
        raise ValueError("token_auth needs at least one non-empty token")
    expected = [t.encode("utf-8") for t in tokens]

    def check(request: AuthRequest) -> bool:
        got = extract_token(request)
        if got is None:
            return False
        got_b = got.encode("utf-8", "surrogateescape")
        ok = False
        for want in expected:  # no early exit: the time does not say which one matched
            ok |= hmac.compare_digest(got_b, want)
        return ok

    check.__repr__ = lambda: "<token_auth>"  # type: ignore[method-assign]
    return check

"""Handshake authentication and secret redaction.

An auth hook is called once per WebSocket handshake with an :class:`AuthRequest` and
returns (or resolves to) ``True`` to let the connection in; anything else refuses it with
HTTP 401 before any session starts. :func:`token_auth` is the usual hook: the token may
come as

* the query parameter ``?token=<T>``,
* the header ``Authorization: Bearer <T>``,
* a subprotocol entry ``bearer.<T>`` (for browsers, which cannot set headers),

and is compared with :func:`hmac.compare_digest`.

Secrets never leave this module unredacted: :func:`redact_query`,
:func:`redact_headers` and :func:`redact_text` replace them by ``***`` wherever
connection details are kept, logged or shown, and :class:`RedactingFilter` does the same
for log records (it is installed on the logger given to ``websockets``, whose debug
output includes request lines).
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
]

REDACTED = "***"

SECRET_QUERY_KEYS = frozenset(
    {
        "token", "access_token", "auth", "authorization", "key", "api_key", "apikey",
        "api-key", "secret", "password", "pass", "sig", "signature", "jwt", "session_token",
    }
)
"""Query parameters whose values are secrets (compared lower-case)."""

_SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "api-key", "apikey",
                        "password", "signature")
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


def is_secret_query_key(name: str) -> bool:
    """True if a query parameter named ``name`` holds a secret."""
    low = name.lower()
    return low in SECRET_QUERY_KEYS or low.endswith(("_token", "_key", "_secret"))


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``query`` with secret values replaced by ``***``."""
    return {k: (REDACTED if is_secret_query_key(k) else v) for k, v in query.items()}


def _secret_header(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in _SECRET_HEADER_WORDS) or low in ("x-api-key", "key")


def redact_headers(headers: Any) -> dict[str, str]:
    """Lower-cased headers with secrets replaced by ``***`` (also ``bearer.`` entries of
    ``Sec-WebSocket-Protocol``)."""
    items: Iterable[tuple[str, str]]
    items = headers.raw_items() if hasattr(headers, "raw_items") else dict(headers).items()
    out: dict[str, str] = {}
    for name, value in items:
        low = name.lower()
        if _secret_header(low):
            value = REDACTED
        elif low == "sec-websocket-protocol":
            value = ", ".join(
                REDACTED if p.strip().lower().startswith(_BEARER_PREFIX) else p.strip()
                for p in value.split(",")
            )
        out[low] = value if low not in out else f"{out[low]}, {value}"
    return out


_QUERY_SECRET_RE = re.compile(r"([?&;]([A-Za-z0-9_.\-]+)=)([^&#\s\"']*)")
_BEARER_RE = re.compile(r"(?i)(bearer[ .])([A-Za-z0-9._~+/=\-]+)")
_HEADER_RE = re.compile(r"(?im)^((?:authorization|cookie|x-api-key)\s*:\s*).*$")


def redact_text(text: str) -> str:
    """Redact secrets in free text: ``?token=…`` style query values, bearer tokens and
    ``Authorization:`` header lines."""

    def query(m: re.Match[str]) -> str:
        return m.group(1) + REDACTED if is_secret_query_key(m.group(2)) else m.group(0)

    text = _QUERY_SECRET_RE.sub(query, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return _HEADER_RE.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from each record's final message.

    Filters run only for records whose level is enabled, so this costs nothing while
    debug logging is off."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

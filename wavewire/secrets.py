"""Credentials and redaction: the one place secrets are held and scrubbed.

* :class:`Secret` holds an API key or token; it never shows itself in a repr, a log line,
  a traceback or a pickle. Every live ``Secret`` (of at least
  :data:`MIN_REGISTERED_LENGTH` characters) is also scrubbed, as a literal, from log
  records that pass a :class:`RedactingFilter`, whatever form the record printed it in.
* :func:`redact_query`, :func:`redact_headers` and :func:`redact_text` replace secrets by
  ``***`` wherever connection details are kept, logged or shown: query parameters named
  like credentials (``token``, ``api_key``, ``*_key`` …), headers named like them
  (``Authorization``, ``cf-aig-authorization``, ``xi-api-key`` …), subprotocol entries
  that carry one (``bearer.<T>``, ``cf-aig-authorization.<T>``, ``xi-api-key.<K>``,
  ``fal-api-key.<K>``, Deepgram's ``token, <K>`` pair), bearer tokens and JSON fields
  named like credentials.
* :class:`RedactingFilter` applies all that to each log record; :func:`redacting_logger`
  returns a logger with it installed (given to ``websockets``, whose debug output shows
  request lines, headers and frames).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "Secret",
    "REDACTED",
    "SECRET_QUERY_KEYS",
    "MIN_REGISTERED_LENGTH",
    "is_secret_query_key",
    "is_secret_header",
    "redact_query",
    "redact_headers",
    "redact_subprotocols",
    "redact_text",
    "RedactingFilter",
    "redacting_logger",
]

REDACTED = "***"
"""What a secret is replaced with."""

SECRET_QUERY_KEYS = frozenset(
    {
        "token", "access_token", "auth", "authorization", "key", "api_key", "apikey",
        "api-key", "secret", "password", "pass", "sig", "signature", "jwt", "session_token",
    }
)
"""Query parameters whose values are secrets (compared lower-case)."""

MIN_REGISTERED_LENGTH = 8
"""Live :class:`Secret` values at least this long are scrubbed from logs as literals
(shorter ones would match ordinary text; patterns still catch them in known places)."""

_SECRET_HEADER_WORDS = ("authorization", "cookie", "token", "secret", "api-key", "apikey",
                        "password", "signature")
_SECRET_SUBPROTOCOL_PREFIXES = ("bearer.", "cf-aig-authorization.", "xi-api-key.",
                                "fal-api-key.")

_live: weakref.WeakSet[Secret] = weakref.WeakSet()


class Secret:
    """A credential that does not show itself in reprs, logs or tracebacks."""

    __slots__ = ("_value", "__weakref__")

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a credential must be a non-empty string")
        self._value = value
        if len(value) >= MIN_REGISTERED_LENGTH:
            _live.add(self)

    @classmethod
    def of(cls, value: str | Secret | None) -> Secret | None:
        """``value`` as a :class:`Secret` (``None`` and empty strings stay ``None``)."""
        if value is None or isinstance(value, Secret):
            return value
        return cls(value) if value else None

    def reveal(self) -> str:
        """The secret itself, for building a request."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("credentials are not picklable")


def is_secret_query_key(name: str) -> bool:
    """True if a query parameter named ``name`` holds a secret."""
    low = name.lower()
    return low in SECRET_QUERY_KEYS or low.endswith(("_token", "_key", "_secret"))


def is_secret_header(name: str) -> bool:
    """True if a header named ``name`` holds a secret."""
    low = name.lower()
    return any(word in low for word in _SECRET_HEADER_WORDS) or low in ("x-api-key", "key")


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``query`` with secret values replaced by ``***``."""
    return {k: (REDACTED if is_secret_query_key(k) else v) for k, v in query.items()}


def redact_subprotocols(entries: Iterable[str]) -> list[str]:
    """Subprotocol entries with the secrets they carry replaced by ``***``: entries such
    as ``bearer.<T>`` and the entry after a bare ``token`` (Deepgram's browser form)."""
    out: list[str] = []
    after_token = False
    for entry in entries:
        entry = entry.strip()
        low = entry.lower()
        if after_token or low.startswith(_SECRET_SUBPROTOCOL_PREFIXES):
            out.append(REDACTED)
        else:
            out.append(entry)
        after_token = low == "token"
    return out


def redact_headers(headers: Any) -> dict[str, str]:
    """Lower-cased headers with secrets replaced by ``***`` (also the secret entries of
    ``Sec-WebSocket-Protocol``)."""
    items: Iterable[tuple[str, str]]
    items = headers.raw_items() if hasattr(headers, "raw_items") else dict(headers).items()
    out: dict[str, str] = {}
    for name, value in items:
        low = name.lower()
        if is_secret_header(low):
            value = REDACTED
        elif low == "sec-websocket-protocol":
            value = ", ".join(redact_subprotocols(value.split(",")))
        out[low] = value if low not in out else f"{out[low]}, {value}"
    return out


_QUERY_SECRET_RE = re.compile(r"([?&;]([A-Za-z0-9_.\-]+)=)([^&#\s\"']*)")
_KEYLIKE_RE = re.compile(r"\b(?:sk|gsk|key)[-_][A-Za-z0-9_\-*]{4,}")
"""Provider API keys by their usual prefixes (OpenAI ``sk-…``, Groq ``gsk_…``), which
providers echo back in error bodies."""
_BEARER_RE = re.compile(r"(?i)(bearer[ .])([A-Za-z0-9._~+/=\-]+)")
_HEADER_RE = re.compile(r"(?im)^([<>]?[ \t]*([A-Za-z0-9_\-]+)[ \t]*:[ \t]*)(.*)$")
_SUBPROTOCOL_RE = re.compile(
    r"(?i)((?:cf-aig-authorization|xi-api-key|fal-api-key)\.)([^\s,;'\"]+)"
)
_JSON_SECRET_RE = re.compile(
    r"(?i)(\"[A-Za-z0-9_\-]*(?:key|token|secret|password|authorization|signature)"
    r"[A-Za-z0-9_\-]*\"\s*:\s*\")([^\"]*)"
)


def redact_text(text: str) -> str:
    """Redact secrets in free text: ``?token=…`` style query values, bearer tokens,
    provider keys by their prefixes (``sk-…``), header lines named like credentials (``Authorization: …``, ``> xi-api-key: …`` as
    ``websockets`` logs them), secret subprotocol entries, JSON fields named like
    credentials, and the value of every live :class:`Secret`."""

    def query(m: re.Match[str]) -> str:
        return m.group(1) + REDACTED if is_secret_query_key(m.group(2)) else m.group(0)

    def header(m: re.Match[str]) -> str:
        name = m.group(2).lower()
        if is_secret_header(name):
            return m.group(1) + REDACTED
        if name == "sec-websocket-protocol":
            return m.group(1) + ", ".join(redact_subprotocols(m.group(3).split(",")))
        return m.group(0)

    text = _QUERY_SECRET_RE.sub(query, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _KEYLIKE_RE.sub(REDACTED, text)
    text = _SUBPROTOCOL_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JSON_SECRET_RE.sub(lambda m: m.group(1) + REDACTED, text)
    if ":" in text:
        text = _HEADER_RE.sub(header, text)
    for secret in list(_live):
        value = secret._value
        if value in text:
            text = text.replace(value, REDACTED)
    return text


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


def redacting_logger(name: str) -> logging.Logger:
    """The logger ``name`` with a :class:`RedactingFilter` installed (once)."""
    log = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log

"""The WebSocket opening handshake (RFC 6455 §4), both sides, without I/O.

Server side: :func:`find_head_end` finds where a request head ends in the bytes read so
far, :func:`upgrade_error` says why a parsed request is not a valid upgrade (as the HTTP
response to send), and :func:`accept_response` is the ``101 Switching Protocols`` answer.
No extension is negotiated (PCM barely compresses).

Client side: :func:`client_request` builds an upgrade request with a fresh random key,
:func:`parse_response` reads the server's answer head, and :func:`check_response` checks
it (status 101, the ``Sec-WebSocket-Accept`` that matches the key, a subprotocol among
those offered), raising the error of the shared taxonomy: a refusal by status through
:func:`wavewire.transports.backoff.handshake_error` (401/403 auth, 429 rate limit with
``Retry-After``, others :class:`~wavewire.errors.ConnectError`), a malformed or
mismatched 101 a non-retryable :class:`~wavewire.errors.ConnectError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence

from ...errors import ConnectError
from ..backoff import handshake_error
from ..http import Headers, Request, Response, text_response

__all__ = [
    "GUID",
    "accept_key",
    "find_head_end",
    "upgrade_error",
    "accept_response",
    "client_request",
    "parse_response",
    "check_response",
]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The constant RFC 6455 appends to the key before hashing it into the accept value."""

HEAD_END = re.compile(rb"\r?\n\r?\n")
"""The empty line that ends a head: CRLF CRLF, or LF line endings, which RFC 9112 §2.2
lets a recipient accept (answering them at once instead of at the timeout)."""


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode()


def find_head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """Where the head in ``data`` ends: ``(end of the head, start of what follows)``, or
    ``None`` while the empty line has not arrived. ``start``: where to search from (a
    caller adding bytes searches from three before the old end)."""
    found = HEAD_END.search(data, start)
    return None if found is None else (found.start(), found.end())


def _tokens(values: list[str]) -> list[str]:
    return [t.strip().lower() for v in values for t in v.split(",") if t.strip()]


def upgrade_error(request: Request) -> Response | None:
    """Why ``request`` is not a valid WebSocket opening handshake, as the response to
    send (426 for a plain request, 400 for a malformed upgrade), or ``None``."""
    headers = request.headers
    if request.method != "GET":
        return text_response(405, "method not allowed\n")
    if "websocket" not in _tokens(headers.get_all("Upgrade")) or "upgrade" not in _tokens(
        headers.get_all("Connection")
    ):
        response = text_response(426, "this route speaks WebSocket\n")
        response.headers["Upgrade"] = "websocket"
        return response
    if headers.get("Sec-WebSocket-Version") != "13":
        response = text_response(426, "unsupported WebSocket version\n")
        response.headers["Sec-WebSocket-Version"] = "13"
        return response
    keys = headers.get_all("Sec-WebSocket-Key")
    if len(keys) != 1 or not _is_key(keys[0]):
        return text_response(400, "bad Sec-WebSocket-Key\n")
    return None


def _is_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def accept_response(key: str, subprotocol: str | None = None,
                    headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The ``101 Switching Protocols`` response to a request with ``Sec-WebSocket-Key``
    ``key``, naming ``subprotocol`` if one was chosen, with extra ``headers``."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(key)}",
    ]
    if subprotocol:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- client side ----------------------------------------------------------------------------


def client_request(host: str, path: str = "/", *, subprotocols: Sequence[str] = (),
                   headers: Sequence[tuple[str, str]] = (), key: str | None = None
                   ) -> tuple[bytes, str]:
    """An upgrade request for ``path`` on ``host`` (``host[:port]``), offering
    ``subprotocols``, with extra ``headers``. Returns the request head and its
    ``Sec-WebSocket-Key`` (random unless ``key`` is given), which
    :func:`check_response` needs."""
    if key is None:
        key = base64.b64encode(os.urandom(16)).decode()
    if not path.startswith("/") or any(c in path for c in " \r\n"):
        raise ValueError("the request path must start with / and hold no space or newline")
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    for name, value in headers:
        if any(c in name + value for c in "\r\n"):
            raise ValueError(f"header {name!r}: no newline allowed")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def parse_response(head: bytes) -> Response:
    """The status line and headers of a response head (without the final empty line);
    :class:`~wavewire.errors.ConnectError` if it is not an HTTP/1.1 response."""
    lines = [line.removesuffix("\r") for line in head.decode("latin-1").split("\n")]
    version, _, rest = lines[0].partition(" ")
    status, _, phrase = rest.partition(" ")
    if version != "HTTP/1.1" or len(status) != 3 or not status.isdigit():
        raise _bad("not an HTTP/1.1 response")
    items = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _bad("bad header line in the response")
        items.append((name, value.strip(" \t")))
    return Response(int(status), phrase, Headers(items))


def check_response(response: Response, key: str, subprotocols: Sequence[str] = (), *,
                   where: str = "server") -> str | None:
    """Checks the server's answer to a request made with ``key`` and offering
    ``subprotocols``; returns the subprotocol it chose (``None``: none). Raises the typed
    error of a refusal (by status) or of an answer that is not a valid 101; ``where``
    names the peer in messages (never a URL with a token in it)."""
    headers = response.headers
    if response.status_code != 101:
        fields = {name.lower(): value for name, value in headers.items()}
        raise handshake_error(where, response.status_code, fields)
    if "websocket" not in _tokens(headers.get_all("Upgrade")):
        raise _bad(f"{where}: 101 without Upgrade: websocket")
    if "upgrade" not in _tokens(headers.get_all("Connection")):
        raise _bad(f"{where}: 101 without Connection: Upgrade")
    if headers.get_all("Sec-WebSocket-Accept") != [accept_key(key)]:
        raise _bad(f"{where}: wrong Sec-WebSocket-Accept")
    if headers.get("Sec-WebSocket-Extensions"):
        raise _bad(f"{where}: an extension was not offered")
    chosen = headers.get_all("Sec-WebSocket-Protocol")
    if not chosen:
        return None
    if len(chosen) != 1 or chosen[0] not in subprotocols:
        raise _bad(f"{where}: a subprotocol that was not offered")
    return chosen[0]


def _bad(message: str) -> ConnectError:
    error = ConnectError(message)
    error.retryable = False  # the same server answers the same way next time
    return error

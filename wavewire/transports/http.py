"""HTTP/1.1 on the WebSocket port: request heads, responses, the browser page,
``/healthz`` and ``/metrics``.

The server's connections (:mod:`.wire`) parse each request head into a :class:`Request`;
a request that is not for a WebSocket route gets a complete :class:`Response` built here
and the connection closes. Static files come from one directory (default: the ``wavewire/web``
package directory); ``/`` is its ``index.html``. Only plain file names inside that
directory are served (no dot-files, no ``..``), with an explicit content type; anything
else is 404.
"""

from __future__ import annotations

import email.utils
import http
import json
import mimetypes
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "Headers",
    "Request",
    "Response",
    "HTTPError",
    "parse_request",
    "respond",
    "text_response",
    "json_response",
    "static_response",
    "WEB_DIR",
]

MAX_HEAD = 16384
"""Largest request head accepted (request line and headers), bytes."""
MAX_HEADERS = 128
"""Most header lines accepted in one request."""

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""Where the browser page lives (``wavewire/web``)."""

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".wasm": "application/wasm",
    ".wav": "audio/wav",
    ".txt": "text/plain; charset=utf-8",
}


class Headers:
    """HTTP header fields: names are case-insensitive, a name may repeat, order is kept."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        low = name.lower()
        for key, value in self._items:
            if key.lower() == low:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order."""
        low = name.lower()
        return [value for key, value in self._items if key.lower() == low]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        """Adds a field (a repeated name keeps the earlier values, as HTTP allows)."""
        self._items.append((name, value))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._items:
            low = key.lower()
            if low not in seen:
                seen.add(low)
                yield key

    def __len__(self) -> int:
        return len(self._items)

    def raw_items(self) -> list[tuple[str, str]]:
        """Every field as sent, in order."""
        return list(self._items)

    def items(self) -> list[tuple[str, str]]:
        """Every field (a repeated name appears once per value)."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({len(self._items)} fields)"


class HTTPError(ValueError):
    """A request head that cannot be served; ``status`` is the response to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """One parsed request head."""

    __slots__ = ("method", "path", "headers")

    def __init__(self, method: str, path: str, headers: Headers) -> None:
        self.method = method
        self.path = path
        """The request target as sent (path and query)."""
        self.headers = headers

    def __repr__(self) -> str:  # the path may carry a token: never print it
        return f"<Request {self.method}>"


class Response:
    """A complete HTTP response."""

    __slots__ = ("status_code", "reason_phrase", "headers", "body")

    def __init__(self, status_code: int, reason_phrase: str, headers: Headers,
                 body: bytes = b"") -> None:
        self.status_code = status_code
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.body = body

    def serialize(self) -> bytes:
        """The response as bytes on the wire."""
        lines = [f"HTTP/1.1 {self.status_code} {self.reason_phrase}"]
        lines.extend(f"{k}: {v}" for k, v in self.headers.raw_items())
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("latin-1") + self.body

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"


def _token_ok(text: str) -> bool:
    return bool(text) and all(33 <= ord(c) <= 126 and c not in '()<>@,;:\\"/[]?={}' for c in text)


def parse_request(head: bytes) -> Request:
    """Parses a request head (without the final empty line; lines end with CRLF or a
    bare LF); :class:`HTTPError` if it is malformed (400), too large (431) or not
    HTTP/1.1 (505)."""
    if len(head) > MAX_HEAD:
        raise HTTPError(431, "request head too large")
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HTTPError(400, "bad request head") from None
    # CRLF line endings, or bare LF as RFC 9112 §2.2 allows; a CR elsewhere is refused
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _token_ok(parts[0]) or not parts[1].startswith("/"):
        raise HTTPError(400, "bad request line")
    method, target, version = parts
    if version != "HTTP/1.1":
        raise HTTPError(505, "HTTP/1.1 only")
    if any(ord(c) < 33 or ord(c) == 127 for c in target):
        raise HTTPError(400, "bad request target")
    if len(lines) - 1 > MAX_HEADERS:
        raise HTTPError(431, "too many headers")
    items = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _token_ok(name):
            raise HTTPError(400, "bad header line")
        value = value.strip(" \t")
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
            raise HTTPError(400, "bad header value")
        items.append((name, value))
    return Request(method, target, Headers(items))


def respond(status: int, body: bytes, content_type: str, **headers: str) -> Response:
    """A complete HTTP response (the connection closes after it)."""
    phrase = http.HTTPStatus(status).phrase
    h = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ]
    )
    for name, value in headers.items():
        h[name.replace("_", "-")] = value
    return Response(status, phrase, h, body)


def text_response(status: int, text: str) -> Response:
    """A short plain-text response."""
    return respond(status, text.encode("utf-8"), "text/plain; charset=utf-8")


def json_response(status: int, value: Any) -> Response:
    """A JSON response."""
    return respond(status, json.dumps(value).encode("utf-8"), "application/json")


def content_type(name: str) -> str:
    """The Content-Type for a file name."""
    suffix = Path(name).suffix.lower()
    known = _TYPES.get(suffix)
    if known:
        return known
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def static_response(web_dir: Path, path: str) -> Response | None:
    """The file at URL ``path`` under ``web_dir``, or ``None`` if there is none."""
    rel = "index.html" if path in ("", "/") else path.lstrip("/")
    parts = rel.split("/")
    if any(not p or p.startswith(".") or "\\" in p for p in parts):
        return None
    try:
        root = web_dir.resolve()
        file = (root / rel).resolve()
        if root not in file.parents or not file.is_file():
            return None
        body = file.read_bytes()
    except OSError:
        return None
    return respond(200, body, content_type(file.name))

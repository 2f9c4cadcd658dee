"""Plain HTTP on the WebSocket port: the browser page, ``/healthz`` and ``/metrics``.

``websockets`` hands every request to the server's ``process_request`` first; a request
that is not a WebSocket route gets a complete HTTP response built here and the
connection closes. Static files come from one directory (default: the ``wavewire/web``
package directory); ``/`` is its ``index.html``. Only plain file names inside that
directory are served (no dot-files, no ``..``), with an explicit content type; anything
else is 404.
"""

from __future__ import annotations

import email.utils
import http
import json
import mimetypes
from pathlib import Path
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

__all__ = ["respond", "text_response", "json_response", "static_response", "WEB_DIR"]

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

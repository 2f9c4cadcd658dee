"""What the LLM services' streaming HTTP clients share: :class:`SSEResponse`, the
response they return, and :func:`status_error`, the typed error of a non-2xx answer.

The clients themselves are :class:`~wavewire.services._stream.SSEClient` (lean, on
asyncio streams) and :class:`~wavewire.services.sse_httpx.HttpxSSEClient` (through
``httpx``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping

from ..errors import AuthError, ProtocolError, RateLimitError, ServiceError, clip
from ..serializers.fields import load_json
from .http1 import retry_after

__all__ = ["MAX_ERROR_BODY", "SSEResponse", "status_error"]

MAX_ERROR_BODY = 64 * 1024
"""Most bytes of an error response's body read."""


def status_error(status: int, headers: Mapping[str, str], raw: bytes,
                 redact: Callable[[str], str]) -> ServiceError:
    """The error for a non-2xx response whose body is ``{"error": {"message", "code"…}}``
    (OpenAI's shape, which compatible servers share): 401/403 :class:`AuthError`, 429
    :class:`RateLimitError` (``retry_after`` from its ``Retry-After``), else
    :class:`ServiceError`; ``redact`` cleans the message."""
    message, code = _error_body(raw)
    text = redact(f"HTTP {status}: {message}".strip())
    if status in (401, 403):
        return AuthError(f"authentication failed ({text})", status=status, code=code)
    if status == 429:
        return RateLimitError(f"rate limited ({text})", status=status, code=code,
                              retry_after=retry_after(headers.get("retry-after"), time.time()))
    return ServiceError(text, status=status, code=code)


def _error_body(raw: bytes) -> tuple[str, str | None]:
    """The message and code of an error body, clipped; its start as text if it is not
    OpenAI's shape."""
    if raw[:1] == b"{":
        try:
            body = load_json(raw.decode("utf-8", "replace"), "http", "error body")
        except ProtocolError:
            body = None
        error = body.get("error") if type(body) is dict else None
        if type(error) is dict:
            message, code = error.get("message"), error.get("code")
            code_text = code if type(code) is str else str(code) if type(code) is int else None
            return (clip("" if message is None else message),
                    None if code_text is None else clip(code_text, 80))
        if type(error) is str:
            return clip(error), None
    return clip(raw[:200].decode("utf-8", "replace")), None


class SSEResponse:
    """One response: its status and headers, then its body as SSE data or bytes."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        """Header names in lower case."""

    async def read(self) -> bytes:
        """The whole body (for error responses)."""
        raise NotImplementedError

    def events(self) -> AsyncIterator[str]:
        """Each event's ``data``, in order, until the body ends."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Done with the response: its connection is kept for the next request if the
        body was read to its end, else closed at once."""
        raise NotImplementedError

"""The small HTTP layer the REST clients share: lazy httpx, typed errors, no secrets.

httpx is an optional extra (``pip install 'wavewire[http]'``); it is imported when a
client is created, never when this package is imported. Every failure becomes an error
from :mod:`wavewire.errors` — :class:`~wavewire.errors.AuthError` (401/403),
:class:`~wavewire.errors.RateLimitError` (429), :class:`~wavewire.errors.ConnectError`,
:class:`~wavewire.errors.ServiceTimeoutError`, else
:class:`~wavewire.errors.ServiceError` — whose message never contains a credential:
secrets live in :class:`~wavewire.secrets.Secret` objects, are put into headers per request (never into a
caller's client's defaults), and any echo of them in a message is redacted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ...errors import (
    AuthError,
    ConnectError,
    RateLimitError,
    ServiceError,
    ServiceTimeoutError,
)
from ...secrets import Secret

if TYPE_CHECKING:
    import httpx

__all__ = ["Secret", "RestClient", "import_httpx"]


def import_httpx() -> Any:
    """Import httpx, or explain which extra provides it."""
    try:
        import httpx
    except ImportError:
        raise ImportError(
            "wavewire's REST clients need httpx: install the 'http' extra"
            " (pip install 'wavewire[http]')"
        ) from None
    return httpx


class RestClient:
    """Base of the provider clients: one ``httpx.AsyncClient`` (given, or owned)."""

    service = "rest"
    default_base_url = ""

    def __init__(
        self,
        secrets: list[Secret],
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        hx = import_httpx()
        self._secrets = secrets
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._owned = client is None
        self._client: httpx.AsyncClient = client or hx.AsyncClient(
            transport=transport, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owned:
            await self._client.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s.reveal(), "***")
        return text

    def _headers(self) -> dict[str, str]:
        """Per-request headers (authorization); subclasses override."""
        return {}

    def _auth(self) -> Any:
        """Per-request httpx auth; subclasses override."""
        return None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[int, Any]:
        """Send one request; return ``(status, parsed JSON or None)`` for statuses in
        ``ok``, raise a typed error for the rest."""
        hx = import_httpx()
        what = f"{self.service}: {method} {path}"
        try:
            response = await self._client.request(
                method,
                self.base_url + path,
                json=json_body,
                data=form,
                params=params,
                headers=self._headers(),
                auth=self._auth(),
            )
        except hx.TimeoutException as exc:
            raise ServiceTimeoutError(
                self._redact(f"{what} timed out ({type(exc).__name__})")
            ) from None
        except hx.TransportError as exc:
            raise ConnectError(
                self._redact(f"{what} failed: {type(exc).__name__}: {exc}")
            ) from None
        status = response.status_code
        body = _json_or_none(response.content)
        if status in ok:
            return status, body
        raise self._error(what, status, body)

    def _error(self, what: str, status: int, body: Any) -> ServiceError:
        code = None
        detail = ""
        if isinstance(body, dict):
            raw_code = body.get("errorCode") or body.get("code") or body.get("error")
            code = str(raw_code) if raw_code is not None else None
            raw = body.get("errorDescription") or body.get("message") or ""
            detail = raw if isinstance(raw, str) else json.dumps(raw)
        msg = self._redact(
            f"{what} -> HTTP {status}"
            + (f" {code}" if code else "")
            + (f": {detail}" if detail else "")
        )
        if status in (401, 403):
            return AuthError(msg, status=status, code=code)
        if status == 429:
            return RateLimitError(msg, status=status, code=code)
        return ServiceError(msg, status=status, code=code)


def _json_or_none(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None

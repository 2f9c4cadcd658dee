"""The streaming client of the LLM services through a caller's ``httpx.AsyncClient``
(proxies, mock transports…) and ``httpx-sse``, with the interface and errors of
:class:`~wavewire.services._stream.SSEClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..errors import ConnectError, ProtocolError, RemoteClosedError, ServiceTimeoutError
from .openai_stream import MAX_EVENT, PROTOCOL
from .sse import SSEResponse

__all__ = ["HttpxSSEClient"]


class HttpxSSEClient:
    """The same interface through an ``httpx.AsyncClient`` and ``httpx-sse``
    (``owned``: close the httpx client with this one)."""

    def __init__(self, client: Any, base_url: str, *, owned: bool = False) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.owned = owned

    async def aclose(self) -> None:
        """Close the httpx client if it is this one's own (the caller's stays open)."""
        if self.owned:
            await self.client.aclose()

    async def post(self, path: str, body: Any, headers: Mapping[str, str]) -> _HttpxBody:
        import httpx

        request = self.client.build_request("POST", f"{self.base_url}{path}", json=body,
                                            headers=dict(headers))
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(f"timed out ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise ConnectError(f"could not connect: {exc}") from None
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"connection failed: {type(exc).__name__}: {exc}") from None
        return _HttpxBody(response)


class _HttpxBody(SSEResponse):
    def __init__(self, response: Any) -> None:
        super().__init__(response.status_code,
                         {k.lower(): v for k, v in response.headers.items()})
        self._response = response

    async def read(self) -> bytes:
        import httpx

        try:
            return bytes(await self._response.aread())
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"stream broken: {type(exc).__name__}: {exc}") from None

    async def events(self) -> AsyncIterator[str]:
        import httpx
        from httpx_sse import EventSource

        try:
            async for event in EventSource(self._response).aiter_sse():
                if len(event.data) > MAX_EVENT:  # (as SSEDecoder's limit)
                    raise ProtocolError(
                        f"{PROTOCOL}: an SSE event's data is longer than {MAX_EVENT} characters")
                yield event.data
        except httpx.TimeoutException as exc:
            raise ServiceTimeoutError(f"timed out ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise RemoteClosedError(f"stream broken: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        await self._response.aclose()

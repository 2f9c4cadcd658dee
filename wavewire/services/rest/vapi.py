"""Vapi call creation for the WebSocket transport (protocols.md §4.1): the returned
call's ``websocket_call_url`` is what a
:class:`~wavewire.serializers.vapi.VapiSerializer` connects to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ...errors import ServiceError
from ._http import RestClient, Secret

if TYPE_CHECKING:
    import httpx

__all__ = ["VapiClient", "VapiCall"]


@dataclass(frozen=True, slots=True)
class VapiCall:
    """A created call."""

    id: str
    websocket_call_url: str
    """``wss://…/<callId>/transport``: connect here (send the API key header too)."""
    status: str | None
    raw: dict[str, Any] = field(repr=False)
    """The whole call object."""


class VapiClient(RestClient):
    """Vapi's REST API with a private API key."""

    service = "vapi"
    default_base_url = "https://api.vapi.ai"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._key = Secret(api_key)
        super().__init__(
            [self._key], base_url=base_url, client=client, transport=transport, timeout=timeout
        )

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._key.reveal()}"}

    def websocket_headers(self) -> dict[str, str]:
        """Headers for the WebSocket upgrade to ``websocket_call_url``."""
        return self._headers()

    async def create_websocket_call(
        self,
        *,
        assistant_id: str | None = None,
        assistant: dict[str, Any] | None = None,
        squad_id: str | None = None,
        audio_format: Literal["pcm_s16le", "mulaw"] = "pcm_s16le",
        sample_rate: int | None = None,
        **extra: Any,
    ) -> VapiCall:
        """``POST /call`` with ``transport.provider = "vapi.websocket"``.

        Exactly one of ``assistant_id``, ``assistant`` or ``squad_id`` (or a ``squad``,
        ``workflowId``… in ``extra``, passed through as CreateCallDTO fields)."""
        chosen = {
            k: v
            for k, v in (
                ("assistantId", assistant_id),
                ("assistant", assistant),
                ("squadId", squad_id),
            )
            if v is not None
        }
        if len(chosen) > 1:
            raise ValueError("vapi: give one of assistant_id, assistant or squad_id")
        if not chosen and not extra:
            raise ValueError("vapi: a call needs an assistant_id, assistant or squad_id")
        if "phoneNumber" in extra or "phoneNumberId" in extra:
            raise ValueError("vapi: phone numbers are not allowed with the WebSocket transport")
        if audio_format == "mulaw":
            rate = 8000 if sample_rate is None else sample_rate
        else:
            rate = 16000 if sample_rate is None else sample_rate
        body: dict[str, Any] = {
            **extra,
            **chosen,
            "transport": {
                "provider": "vapi.websocket",
                "audioFormat": {"format": audio_format, "container": "raw", "sampleRate": rate},
            },
        }
        _, call = await self._request("POST", "/call", json_body=body)
        if not isinstance(call, dict):
            raise ServiceError("vapi: call creation answered without a call object")
        transport = call.get("transport")
        url = transport.get("websocketCallUrl") if isinstance(transport, dict) else None
        call_id = call.get("id")
        if not isinstance(url, str) or not isinstance(call_id, str):
            raise ServiceError("vapi: call creation answered without id/websocketCallUrl")
        status = call.get("status")
        return VapiCall(call_id, url, status if isinstance(status, str) else None, call)

"""VideoSDK ingest session creation (protocols.md §3.1): a backend call that returns the
single-use ``wsUrl`` a :class:`~wavewire.serializers.videosdk.VideoSDKSerializer` connects
to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import ServiceError
from ._http import RestClient, Secret

if TYPE_CHECKING:
    import httpx

__all__ = ["VideoSDKClient", "IngestSession"]


@dataclass(frozen=True, slots=True)
class IngestSession:
    """A created ingest session. ``ws_url`` carries a single-use claim: use it once,
    unmodified, within :attr:`expires_in` seconds (it is kept out of the repr)."""

    ws_url: str = field(repr=False)
    call_id: str
    expires_in: int


class VideoSDKClient(RestClient):
    """VideoSDK's REST API with a VideoSDK token.

    ``bearer=False`` sends the token bare, as VideoSDK's example repository does (the
    docs show ``Bearer``; which forms are accepted is unconfirmed)."""

    service = "videosdk"
    default_base_url = "https://api.videosdk.live"

    def __init__(
        self,
        token: str,
        *,
        bearer: bool = True,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._token = Secret(token)
        self._bearer = bearer
        super().__init__(
            [self._token], base_url=base_url, client=client, transport=transport, timeout=timeout
        )

    def _headers(self) -> dict[str, str]:
        token = self._token.reveal()
        return {"Authorization": f"Bearer {token}" if self._bearer else token}

    async def create_ingest_session(
        self,
        room_id: str,
        *,
        participant_id: str | None = None,
        participant_name: str | None = None,
        participant_metadata: dict[str, Any] | None = None,
        agent_id: str | None = None,
        agent_metadata: dict[str, Any] | None = None,
        region: str | None = None,
    ) -> IngestSession:
        """``POST /v2/ingest/sessions``: join ``room_id`` through a WebSocket ingest."""
        if not room_id:
            raise ValueError("videosdk: room_id is required")
        body: dict[str, Any] = {"roomId": room_id}
        participant = {
            k: v
            for k, v in (
                ("id", participant_id),
                ("name", participant_name),
                ("metadata", participant_metadata),
            )
            if v is not None
        }
        if participant:
            body["participant"] = participant
        if agent_id is not None:
            body["agent"] = {"id": agent_id}
            if agent_metadata is not None:
                body["agent"]["metadata"] = agent_metadata
        elif agent_metadata is not None:
            raise ValueError("videosdk: agent_metadata needs agent_id")
        if region is not None:
            body["region"] = region
        _, resp = await self._request("POST", "/v2/ingest/sessions", json_body=body)
        data = resp.get("data") if isinstance(resp, dict) else None
        if not isinstance(data, dict):
            raise ServiceError("videosdk: ingest session answered without data")
        ws_url, call_id, expires = data.get("wsUrl"), data.get("callId"), data.get("expiresIn")
        if not isinstance(ws_url, str) or not isinstance(call_id, str):
            raise ServiceError("videosdk: ingest session answered without wsUrl/callId")
        return IngestSession(ws_url, call_id, expires if isinstance(expires, int) else 90)

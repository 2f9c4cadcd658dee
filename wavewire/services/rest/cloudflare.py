"""Cloudflare Realtime SFU REST calls around the WebSocket adapter (protocols.md §1.3-1.4).

:class:`CloudflareRealtimeClient` creates and closes WebSocket adapters in both
directions (1 to 4 tracks per call) and wraps the sessions/tracks calls a bot needs to let
a browser hear an ingest adapter or to find the track an egress adapter should read.

Adapter item results are returned as :class:`AdapterResult` / :class:`CloseResult`
(HTTP 200 means at least one item succeeded, 503 that all failed; both carry items).
An ``adapter_not_found`` item on close — including under HTTP 503 — means the adapter is
already gone and counts as closed. The single-adapter helpers raise
:class:`~wavewire.errors.ServiceError` (with ``code`` = the item's ``errorCode``) on a
failed item; request-level failures raise :class:`~wavewire.errors.AuthError` (401/403),
:class:`~wavewire.errors.RateLimitError` (429) or :class:`~wavewire.errors.ServiceError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ...errors import ServiceError
from ._http import RestClient, Secret

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CloudflareRealtimeClient",
    "IngestAdapter",
    "EgressAdapter",
    "AdapterResult",
    "CloseResult",
    "ADAPTER_NOT_FOUND",
]

ADAPTER_NOT_FOUND = "adapter_not_found"
"""The close item error code that means "already closed"."""
MAX_TRACKS = 4


@dataclass(frozen=True, slots=True)
class IngestAdapter:
    """An ingest adapter to create (``location: "local"``, buffer mode): we send PCM."""

    track_name: str
    """Name of the new track to publish."""
    endpoint: str
    """``wss://`` URL the SFU dials (put a scoped token in it; it is kept out of reprs)."""

    def body(self) -> dict[str, Any]:
        return {
            "location": "local",
            "trackName": self.track_name,
            "endpoint": self.endpoint,
            "inputCodec": "pcm",
            "mode": "buffer",
        }

    def __repr__(self) -> str:
        return f"IngestAdapter(track_name={self.track_name!r})"


@dataclass(frozen=True, slots=True)
class EgressAdapter:
    """An egress adapter to create (``location: "remote"``, stream mode): the SFU sends
    us a published track."""

    session_id: str
    """The session that owns the track."""
    track_name: str
    """The existing track to read."""
    endpoint: str
    """``wss://`` URL the SFU dials."""
    output_codec: Literal["pcm", "jpeg"] = "pcm"
    """``pcm`` (audio, 48 kHz stereo) or ``jpeg`` (video)."""

    def body(self) -> dict[str, Any]:
        return {
            "location": "remote",
            "sessionId": self.session_id,
            "trackName": self.track_name,
            "endpoint": self.endpoint,
            "outputCodec": self.output_codec,
        }

    def __repr__(self) -> str:
        return (
            f"EgressAdapter(session_id={self.session_id!r}, track_name={self.track_name!r},"
            f" output_codec={self.output_codec!r})"
        )


@dataclass(frozen=True, slots=True)
class AdapterResult:
    """One item of a create response."""

    track_name: str | None
    adapter_id: str | None = None
    session_id: str | None = None
    """The new publishing session (ingest); usually absent for egress."""
    endpoint: str | None = field(default=None, repr=False)
    error_code: str | None = None
    error_description: str | None = None

    @property
    def ok(self) -> bool:
        """True if the adapter was created."""
        return self.error_code is None and self.adapter_id is not None


@dataclass(frozen=True, slots=True)
class CloseResult:
    """One item of a close response."""

    adapter_id: str | None
    closed: bool
    """True if the adapter is closed now (including "it already was")."""
    already_closed: bool = False
    """True if the SFU said ``adapter_not_found``."""
    bytes_processed: int | None = None
    error_code: str | None = None
    error_description: str | None = None


class CloudflareRealtimeClient(RestClient):
    """The Realtime SFU API for one app: ``https://rtc.live.cloudflare.com/v1/apps/{app_id}``."""

    service = "cloudflare"
    default_base_url = "https://rtc.live.cloudflare.com/v1"

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._secret = Secret(app_secret)
        super().__init__(
            [self._secret], base_url=base_url, client=client, transport=transport, timeout=timeout
        )
        self.app_id = app_id

    def __repr__(self) -> str:
        return f"CloudflareRealtimeClient(app_id={self.app_id!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret.reveal()}"}

    def _path(self, rest: str) -> str:
        return f"/apps/{self.app_id}{rest}"

    # --- adapters -------------------------------------------------------------------

    async def create_adapters(
        self, adapters: Sequence[IngestAdapter | EgressAdapter]
    ) -> list[AdapterResult]:
        """Create 1 to 4 adapters in one call; one result per item, failures included."""
        _check_count(len(adapters))
        _, body = await self._request(
            "POST",
            self._path("/adapters/websocket/new"),
            json_body={"tracks": [a.body() for a in adapters]},
            ok=(200, 201, 503),
        )
        return [_adapter_result(item) for item in _items(body, "create")]

    async def create_ingest_adapter(self, track_name: str, endpoint: str) -> AdapterResult:
        """Create one ingest adapter; raises ``ServiceError`` if the item failed."""
        [result] = await self.create_adapters([IngestAdapter(track_name, endpoint)])
        return _ok(result)

    async def create_egress_adapter(
        self,
        session_id: str,
        track_name: str,
        endpoint: str,
        output_codec: Literal["pcm", "jpeg"] = "pcm",
    ) -> AdapterResult:
        """Create one egress adapter; raises ``ServiceError`` if the item failed."""
        [result] = await self.create_adapters(
            [EgressAdapter(session_id, track_name, endpoint, output_codec)]
        )
        return _ok(result)

    async def close_adapters(self, adapter_ids: Sequence[str]) -> list[CloseResult]:
        """Close 1 to 4 adapters; ``adapter_not_found`` items count as closed."""
        _check_count(len(adapter_ids))
        _, body = await self._request(
            "POST",
            self._path("/adapters/websocket/close"),
            json_body={"tracks": [{"adapterId": a} for a in adapter_ids]},
            ok=(200, 503),
        )
        return [_close_result(item) for item in _items(body, "close")]

    async def close_adapter(self, adapter_id: str) -> CloseResult:
        """Close one adapter (idempotent); raises ``ServiceError`` on any other failure,
        so the caller can retry."""
        [result] = await self.close_adapters([adapter_id])
        if not result.closed:
            raise ServiceError(
                f"cloudflare: closing adapter {adapter_id} failed: {result.error_code}"
                + (f": {result.error_description}" if result.error_description else ""),
                code=result.error_code,
            )
        return result

    # --- sessions and tracks ----------------------------------------------------------

    async def new_session(
        self, *, third_party: bool = False, correlation_id: str | None = None
    ) -> dict[str, Any]:
        """Create a session; the result has ``sessionId`` (and maybe
        ``sessionDescription``)."""
        params = {"thirdparty": "true"} if third_party else {}
        if correlation_id:
            params["correlationId"] = correlation_id
        _, body = await self._request("POST", self._path("/sessions/new"), params=params or None)
        if not isinstance(body, dict) or not isinstance(body.get("sessionId"), str):
            raise ServiceError("cloudflare: sessions/new answered without a sessionId")
        return body

    async def add_tracks(
        self,
        session_id: str,
        tracks: Sequence[dict[str, Any]],
        *,
        session_description: dict[str, str] | None = None,
        auto_discover: bool | None = None,
    ) -> dict[str, Any]:
        """``tracks/new``: publish (``location: local``) or pull (``remote``) tracks."""
        body: dict[str, Any] = {"tracks": list(tracks)}
        if session_description is not None:
            body["sessionDescription"] = session_description
        if auto_discover is not None:
            body["autoDiscover"] = auto_discover
        _, resp = await self._request(
            "POST", self._path(f"/sessions/{session_id}/tracks/new"), json_body=body
        )
        return _dict(resp, "tracks/new")

    async def pull_tracks(
        self,
        session_id: str,
        remote_session_id: str,
        track_names: Sequence[str],
        *,
        offer_sdp: str | None = None,
        kind: str = "audio",
    ) -> dict[str, Any]:
        """Subscribe ``session_id`` to tracks published by ``remote_session_id`` (e.g. an
        ingest adapter's session, so a browser hears the bot)."""
        return await self.add_tracks(
            session_id,
            [
                {
                    "location": "remote",
                    "sessionId": remote_session_id,
                    "trackName": name,
                    "kind": kind,
                }
                for name in track_names
            ],
            session_description=None if offer_sdp is None else {"type": "offer", "sdp": offer_sdp},
        )

    async def renegotiate(self, session_id: str, answer_sdp: str) -> dict[str, Any]:
        """Answer an SFU offer (``requiresImmediateRenegotiation``)."""
        _, resp = await self._request(
            "PUT",
            self._path(f"/sessions/{session_id}/renegotiate"),
            json_body={"sessionDescription": {"type": "answer", "sdp": answer_sdp}},
        )
        return _dict(resp, "renegotiate")

    async def close_tracks(
        self,
        session_id: str,
        mids: Sequence[str],
        *,
        force: bool = False,
        session_description: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``tracks/close`` by transceiver ``mid``."""
        body: dict[str, Any] = {"tracks": [{"mid": m} for m in mids], "force": force}
        if session_description is not None:
            body["sessionDescription"] = session_description
        _, resp = await self._request(
            "PUT", self._path(f"/sessions/{session_id}/tracks/close"), json_body=body
        )
        return _dict(resp, "tracks/close")

    async def get_session(self, session_id: str) -> dict[str, Any]:
        """The session's tracks (``status`` active/inactive/initializing) and channels."""
        _, resp = await self._request("GET", self._path(f"/sessions/{session_id}"))
        return _dict(resp, "session")


def _check_count(n: int) -> None:
    if not 1 <= n <= MAX_TRACKS:
        raise ValueError(f"cloudflare: 1 to {MAX_TRACKS} adapters per call, not {n}")


def _dict(body: Any, what: str) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    raise ServiceError(f"cloudflare: {what} answered without a JSON object")


def _items(body: Any, what: str) -> list[dict[str, Any]]:
    items = body.get("tracks") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        code = body.get("errorCode") if isinstance(body, dict) else None
        raise ServiceError(
            f"cloudflare: adapter {what} answered without track items"
            + (f" ({code})" if code else ""),
            status=503,
            code=code if isinstance(code, str) else None,
        )
    return items


def _str(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def _adapter_result(item: dict[str, Any]) -> AdapterResult:
    return AdapterResult(
        track_name=_str(item, "trackName"),
        adapter_id=_str(item, "adapterId"),
        session_id=_str(item, "sessionId"),
        endpoint=_str(item, "endpoint"),
        error_code=_str(item, "errorCode"),
        error_description=_str(item, "errorDescription"),
    )


def _close_result(item: dict[str, Any]) -> CloseResult:
    code = _str(item, "errorCode")
    processed = item.get("bytesProcessed")
    gone = code == ADAPTER_NOT_FOUND
    return CloseResult(
        adapter_id=_str(item, "adapterId"),
        closed=code is None or gone,
        already_closed=gone,
        bytes_processed=processed if isinstance(processed, int) else None,
        error_code=code,
        error_description=_str(item, "errorDescription"),
    )


def _ok(result: AdapterResult) -> AdapterResult:
    if not result.ok:
        raise ServiceError(
            f"cloudflare: creating adapter for track {result.track_name!r} failed:"
            f" {result.error_code}"
            + (f": {result.error_description}" if result.error_description else ""),
            code=result.error_code,
        )
    return result

"""REST clients against httpx.MockTransport: request shapes, typed errors, no secrets
in errors or reprs."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from wavewire.errors import (
    AuthError,
    ConnectError,
    RateLimitError,
    ServiceError,
    ServiceTimeoutError,
)
from wavewire.services.rest import (
    CloudflareRealtimeClient,
    EgressAdapter,
    IngestAdapter,
    TwilioClient,
    VapiClient,
    VideoSDKClient,
)

SECRET = "sk-very-secret-0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport that records requests and answers from a queue."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        r = self.responses.pop(0)
        if isinstance(r, Exception):
            raise r
        return r

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


def cf(rec: Recorder) -> CloudflareRealtimeClient:
    return CloudflareRealtimeClient("app1", SECRET, transport=rec.transport)


# --- Cloudflare ---------------------------------------------------------------------------


async def test_create_ingest_vector() -> None:
    resp = {
        "tracks": [
            {
                "trackName": "bot-voice",
                "adapterId": "a1",
                "sessionId": "s1",
                "endpoint": "wss://example.com/sfu/in?token=t1",
            }
        ]
    }
    rec = Recorder(httpx.Response(200, json=resp))
    result = await cf(rec).create_ingest_adapter("bot-voice", "wss://example.com/sfu/in?token=t1")
    assert rec.last.method == "POST"
    assert (
        str(rec.last.url) == "https://rtc.live.cloudflare.com/v1/apps/app1/adapters/websocket/new"
    )
    assert rec.last.headers["authorization"] == f"Bearer {SECRET}"
    assert rec.body() == {
        "tracks": [
            {
                "location": "local",
                "trackName": "bot-voice",
                "endpoint": "wss://example.com/sfu/in?token=t1",
                "inputCodec": "pcm",
                "mode": "buffer",
            }
        ]
    }
    assert (result.adapter_id, result.session_id, result.ok) == ("a1", "s1", True)
    assert "token=t1" not in repr(result)


async def test_create_egress_and_mixed_items() -> None:
    resp = {
        "tracks": [
            {"trackName": "mic", "adapterId": "a2", "endpoint": "wss://x/e"},
            {
                "trackName": "cam",
                "errorCode": "websocket_handshake_failed",
                "errorDescription": "no",
            },
        ]
    }
    rec = Recorder(httpx.Response(200, json=resp))
    results = await cf(rec).create_adapters(
        [EgressAdapter("s9", "mic", "wss://x/e"), EgressAdapter("s9", "cam", "wss://x/v", "jpeg")]
    )
    assert rec.body()["tracks"][1] == {
        "location": "remote",
        "sessionId": "s9",
        "trackName": "cam",
        "endpoint": "wss://x/v",
        "outputCodec": "jpeg",
    }
    assert [r.ok for r in results] == [True, False]
    assert results[0].session_id is None
    assert results[1].error_code == "websocket_handshake_failed"


async def test_single_create_failure_raises_with_the_item_code() -> None:
    item = {"trackName": "t", "errorCode": "websocket_localhost_not_allowed"}
    rec = Recorder(httpx.Response(503, json={"tracks": [item]}))
    with pytest.raises(ServiceError) as info:
        await cf(rec).create_ingest_adapter("t", "ws://localhost/x")
    assert info.value.code == "websocket_localhost_not_allowed"


@pytest.mark.parametrize("n", [0, 5])
async def test_track_count_is_checked_before_sending(n: int) -> None:
    rec = Recorder()
    with pytest.raises(ValueError, match="1 to 4"):
        await cf(rec).create_adapters([IngestAdapter(f"t{i}", "wss://x") for i in range(n)])
    with pytest.raises(ValueError, match="1 to 4"):
        await cf(rec).close_adapters([f"a{i}" for i in range(n)])
    assert rec.requests == []


async def test_close_already_gone_under_503_counts_as_closed() -> None:
    gone = {"adapterId": "a1", "errorCode": "adapter_not_found", "errorDescription": "..."}
    rec = Recorder(httpx.Response(503, json={"tracks": [gone]}))
    result = await cf(rec).close_adapter("a1")
    assert rec.body() == {"tracks": [{"adapterId": "a1"}]}
    assert str(rec.last.url).endswith("/apps/app1/adapters/websocket/close")
    assert (result.closed, result.already_closed) == (True, True)


async def test_close_success_and_other_failures() -> None:
    rec = Recorder(
        httpx.Response(200, json={"tracks": [{"adapterId": "a1", "bytesProcessed": 3840}]}),
        httpx.Response(503, json={"tracks": [{"adapterId": "a2", "errorCode": "internal_error"}]}),
    )
    client = cf(rec)
    ok = await client.close_adapter("a1")
    assert (ok.closed, ok.already_closed, ok.bytes_processed) == (True, False, 3840)
    with pytest.raises(ServiceError) as info:
        await client.close_adapter("a2")
    assert info.value.code == "internal_error"


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthError), (403, AuthError), (429, RateLimitError), (406, ServiceError),
     (400, ServiceError), (500, ServiceError)],
)  # fmt: skip
async def test_request_level_errors(status: int, error: type[ServiceError]) -> None:
    body = {"errorCode": "invalid_params", "errorDescription": f"bad token {SECRET}"}
    rec = Recorder(httpx.Response(status, json=body))
    with pytest.raises(error) as info:
        await cf(rec).create_ingest_adapter("t", "wss://x")
    assert type(info.value) is error
    assert info.value.status == status
    assert SECRET not in str(info.value)  # even when the provider echoes it
    assert "***" in str(info.value)


async def test_503_without_items_is_an_error() -> None:
    rec = Recorder(httpx.Response(503, json={"errorCode": "temporarily_unavailable_error"}))
    with pytest.raises(ServiceError) as info:
        await cf(rec).close_adapters(["a1"])
    assert info.value.code == "temporarily_unavailable_error"


async def test_sessions_and_tracks() -> None:
    rec = Recorder(
        httpx.Response(201, json={"sessionId": "s2"}),
        httpx.Response(
            200, json={"requiresImmediateRenegotiation": False, "tracks": [{"mid": "0"}]}
        ),
        httpx.Response(200, json={}),
        httpx.Response(200, json={"tracks": [{"mid": "0"}]}),
        httpx.Response(200, json={"tracks": [{"status": "active"}], "dataChannels": []}),
    )
    client = cf(rec)
    session = await client.new_session(correlation_id="call-7")
    assert session["sessionId"] == "s2"
    assert rec.last.url.params["correlationId"] == "call-7"
    await client.pull_tracks("s2", "s1", ["bot-voice"], offer_sdp="v=0")
    assert str(rec.last.url).endswith("/apps/app1/sessions/s2/tracks/new")
    assert rec.body() == {
        "tracks": [{"location": "remote", "sessionId": "s1", "trackName": "bot-voice",
                    "kind": "audio"}],
        "sessionDescription": {"type": "offer", "sdp": "v=0"},
    }  # fmt: skip
    await client.renegotiate("s2", "v=0 answer")
    assert rec.last.method == "PUT"
    assert rec.body() == {"sessionDescription": {"type": "answer", "sdp": "v=0 answer"}}
    await client.close_tracks("s2", ["0"], force=True)
    assert rec.body() == {"tracks": [{"mid": "0"}], "force": True}
    info = await client.get_session("s2")
    assert rec.last.method == "GET" and info["tracks"][0]["status"] == "active"


# --- VideoSDK -----------------------------------------------------------------------------


async def test_videosdk_ingest_session() -> None:
    data = {
        "wsUrl": "wss://ingest.videosdk.live/videosdk?ref=vs_x",
        "callId": "c-1",
        "expiresIn": 90,
    }
    rec = Recorder(httpx.Response(200, json={"message": "Ingest session created", "data": data}))
    client = VideoSDKClient(SECRET, transport=rec.transport)
    session = await client.create_ingest_session(
        "room-1", participant_name="Bot", agent_id="ag", region="us002"
    )
    assert str(rec.last.url) == "https://api.videosdk.live/v2/ingest/sessions"
    assert rec.last.headers["authorization"] == f"Bearer {SECRET}"
    assert rec.body() == {
        "roomId": "room-1",
        "participant": {"name": "Bot"},
        "agent": {"id": "ag"},
        "region": "us002",
    }
    assert (session.ws_url, session.call_id, session.expires_in) == (data["wsUrl"], "c-1", 90)
    assert "vs_x" not in repr(session)


async def test_videosdk_bare_token_and_auth_error() -> None:
    rec = Recorder(httpx.Response(401, json={"message": "token expired"}))
    client = VideoSDKClient(SECRET, bearer=False, transport=rec.transport)
    with pytest.raises(AuthError, match="token expired"):
        await client.create_ingest_session("room-1")
    assert rec.last.headers["authorization"] == SECRET


# --- Vapi ---------------------------------------------------------------------------------


async def test_vapi_websocket_call() -> None:
    call = {
        "id": "call-1",
        "type": "vapi.websocketCall",
        "status": "queued",
        "transport": {
            "provider": "vapi.websocket",
            "websocketCallUrl": "wss://api.vapi.ai/call-1/transport",
        },
    }
    rec = Recorder(httpx.Response(201, json=call))
    client = VapiClient(SECRET, transport=rec.transport)
    result = await client.create_websocket_call(assistant_id="asst-1")
    assert str(rec.last.url) == "https://api.vapi.ai/call"
    assert rec.last.headers["authorization"] == f"Bearer {SECRET}"
    assert rec.body() == {
        "assistantId": "asst-1",
        "transport": {
            "provider": "vapi.websocket",
            "audioFormat": {"format": "pcm_s16le", "container": "raw", "sampleRate": 16000},
        },
    }
    assert (result.id, result.websocket_call_url, result.status) == (
        "call-1",
        "wss://api.vapi.ai/call-1/transport",
        "queued",
    )
    assert client.websocket_headers() == {"authorization": f"Bearer {SECRET}"}


async def test_vapi_mulaw_and_argument_checks() -> None:
    call = {"id": "c", "transport": {"websocketCallUrl": "wss://x/c/transport"}}
    rec = Recorder(httpx.Response(201, json=call))
    client = VapiClient(SECRET, transport=rec.transport)
    await client.create_websocket_call(assistant={"name": "x"}, audio_format="mulaw")
    assert rec.body()["transport"]["audioFormat"]["sampleRate"] == 8000
    with pytest.raises(ValueError):
        await client.create_websocket_call()
    with pytest.raises(ValueError):
        await client.create_websocket_call(assistant_id="a", squad_id="s")
    with pytest.raises(ValueError):
        await client.create_websocket_call(assistant_id="a", phoneNumberId="p")


async def test_vapi_rate_limit_and_bad_answer() -> None:
    rec = Recorder(
        httpx.Response(429, json={"message": "slow down"}), httpx.Response(201, json={"id": "c"})
    )
    client = VapiClient(SECRET, transport=rec.transport)
    with pytest.raises(RateLimitError):
        await client.create_websocket_call(assistant_id="a")
    with pytest.raises(ServiceError, match="websocketCallUrl"):
        await client.create_websocket_call(assistant_id="a")


# --- Twilio -------------------------------------------------------------------------------


async def test_twilio_hang_up() -> None:
    rec = Recorder(
        httpx.Response(200, json={"sid": "CA7", "status": "completed"}),
        httpx.Response(404, json={"code": 20404, "message": "not found"}),
        httpx.Response(404, json={"code": 20001, "message": "other"}),
    )
    client = TwilioClient("AC9", SECRET, transport=rec.transport)
    assert await client.hang_up("CA7") is True
    assert str(rec.last.url) == "https://api.twilio.com/2010-04-01/Accounts/AC9/Calls/CA7.json"
    assert rec.last.content == b"Status=completed"
    expected = base64.b64encode(f"AC9:{SECRET}".encode()).decode()
    assert rec.last.headers["authorization"] == f"Basic {expected}"
    assert await client.hang_up("CA7") is False  # already ended
    with pytest.raises(ServiceError) as info:
        await client.hang_up("CA7")
    assert info.value.status == 404


async def test_twilio_api_key_and_checks() -> None:
    rec = Recorder(httpx.Response(200, json={}))
    client = TwilioClient("AC9", api_key_sid="SK1", api_key_secret=SECRET, transport=rec.transport)
    await client.hang_up("CA1")
    expected = base64.b64encode(f"SK1:{SECRET}".encode()).decode()
    assert rec.last.headers["authorization"] == f"Basic {expected}"
    with pytest.raises(ValueError):
        TwilioClient("AC9")
    with pytest.raises(ValueError):
        TwilioClient("AC9", SECRET, api_key_sid="SK1", api_key_secret="x")


# --- secrets, transport errors, clients -----------------------------------------------------


def all_clients(transport: httpx.AsyncBaseTransport) -> list[Any]:
    return [
        CloudflareRealtimeClient("app1", SECRET, transport=transport),
        VideoSDKClient(SECRET, transport=transport),
        VapiClient(SECRET, transport=transport),
        TwilioClient("AC9", SECRET, transport=transport),
    ]


def test_secrets_stay_out_of_reprs() -> None:
    for client in all_clients(httpx.MockTransport(lambda r: httpx.Response(200))):
        assert SECRET not in repr(client)
        assert SECRET not in str(vars(client) if hasattr(client, "__dict__") else "")


async def test_transport_failures_are_typed_and_redacted() -> None:
    async def call(client: Any) -> None:
        if isinstance(client, CloudflareRealtimeClient):
            await client.close_adapter("a1")
        elif isinstance(client, VideoSDKClient):
            await client.create_ingest_session("r")
        elif isinstance(client, VapiClient):
            await client.create_websocket_call(assistant_id="a")
        else:
            await client.hang_up("CA1")

    for exc, error in (
        (httpx.ConnectError(f"refused for {SECRET}"), ConnectError),
        (httpx.ReadTimeout("slow"), ServiceTimeoutError),
    ):
        for client in all_clients(Recorder(*[exc] * 4).transport):
            with pytest.raises(error) as info:
                await call(client)
            text = str(info.value) + repr(info.value)
            assert SECRET not in text
            assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_a_given_client_is_used_and_not_closed() -> None:
    rec = Recorder(httpx.Response(201, json={"sessionId": "s"}))
    async with httpx.AsyncClient(transport=rec.transport) as http:
        async with CloudflareRealtimeClient("app1", SECRET, client=http) as client:
            await client.new_session()
        assert not http.is_closed
        assert "authorization" not in http.headers  # the secret is per request only


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"'http' extra"):
        VapiClient(SECRET)

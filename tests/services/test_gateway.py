"""AI Gateway routing against ``protocols.md`` §2's vectors and #13's URL list."""

from __future__ import annotations

import pytest

from wavewire.secrets import Secret
from wavewire.services.gateway import (
    AIGateway,
    gateway_url,
    http_url,
    query_string,
    websocket_url,
)

GW = "https://gateway.ai.cloudflare.com/v1/acc123/gw1"


@pytest.fixture
def gw() -> AIGateway:
    return AIGateway.for_account("acc123", "gw1", "cfut_abc")


def test_node_stt_vector_workers_ai(gw: AIGateway):
    url = gw.workers_ai_url("@cf/deepgram/nova-3", {"encoding": "linear16",
                                                    "sample_rate": 16000,
                                                    "interim_results": True})
    assert url == ("wss://gateway.ai.cloudflare.com/v1/acc123/gw1/workers-ai?"
                   "model=@cf/deepgram/nova-3&encoding=linear16&sample_rate=16000"
                   "&interim_results=true")
    assert gw.headers() == {"cf-aig-authorization": "Bearer cfut_abc"}


def test_cartesia_vector_with_the_browser_subprotocol(gw: AIGateway):
    assert gw.cartesia_url("sk_car_x", "2024-06-10") == (
        "wss://gateway.ai.cloudflare.com/v1/acc123/gw1/cartesia"
        "?cartesia_version=2024-06-10&api_key=sk_car_x"
    )
    assert gw.subprotocols() == ["cf-aig-authorization.cfut_abc"]
    assert gw.cartesia_url(Secret("sk_car_x"), "2025-04-16", {"x": "1"}).endswith(
        "?cartesia_version=2025-04-16&api_key=sk_car_x&x=1")


def test_deepgram_openai_and_aura_routes(gw: AIGateway):
    assert gw.deepgram_url() == f"wss{GW[5:]}/deepgram/v1/listen"
    assert gw.deepgram_url("/v1/speak", {"model": "aura-2-thalia-en"}) == (
        f"wss{GW[5:]}/deepgram/v1/speak?model=aura-2-thalia-en")
    assert gw.deepgram_url("v2/listen", "model=flux-general-en") == (
        f"wss{GW[5:]}/deepgram/v2/listen?model=flux-general-en")
    assert gw.openai_base_url() == f"{GW}/openai"
    assert gw.openai_base_url() + "/chat/completions" == f"{GW}/openai/chat/completions"
    assert gw.workers_ai_url("@cf/deepgram/aura-1") == f"wss{GW[5:]}/workers-ai?model=@cf/deepgram/aura-1"


def test_from_environment_or_arguments():
    env = {"CF_AIG_GATEWAY_URL": GW + "/", "CF_AIG_TOKEN": "cfut_env"}
    from_env = AIGateway.from_env(environ=env)
    assert from_env is not None and from_env.url == GW
    assert from_env.headers()["cf-aig-authorization"] == "Bearer cfut_env"
    explicit = AIGateway.from_env("wss://gateway.ai.cloudflare.com/v1/a/b", "tok", environ=env)
    assert explicit is not None and explicit.url == "https://gateway.ai.cloudflare.com/v1/a/b"
    assert explicit.headers()["cf-aig-authorization"] == "Bearer tok"
    assert AIGateway.from_env(environ={}) is None
    open_gw = AIGateway.from_env(environ={"CF_AIG_GATEWAY_URL": GW})
    assert open_gw is not None and open_gw.headers() == {} and open_gw.subprotocols() == []


def test_token_never_shows(gw: AIGateway):
    assert "cfut_abc" not in repr(gw) and "cfut_abc" not in str(gw)


def test_scheme_conversion_and_queries():
    assert websocket_url("https://api.deepgram.com") == "wss://api.deepgram.com"
    assert websocket_url("http://127.0.0.1:8080/x") == "ws://127.0.0.1:8080/x"
    assert websocket_url("wss://api.cartesia.ai") == "wss://api.cartesia.ai"
    assert http_url("wss://h/p") == "https://h/p" and http_url("ws://h") == "http://h"
    with pytest.raises(ValueError):
        websocket_url("ftp://example.com")
    with pytest.raises(ValueError):
        websocket_url("api.deepgram.com")
    assert query_string({"a": None, "b": False, "c": 1.5, "d": "x y"}) == "b=false&c=1.5&d=x%20y"
    assert query_string("?a=1") == "a=1" and query_string(None) == ""
    assert gateway_url("acc123", "gw1") == GW
    with pytest.raises(ValueError):
        gateway_url("acc/1", "gw1")

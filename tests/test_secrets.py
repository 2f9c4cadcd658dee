"""``wavewire.secrets``: ``Secret`` and redaction in every form a provider credential takes,
and a key given to a client or a service never reaching captured logs at DEBUG
(``websockets``' own handshake, header and frame logging included)."""

from __future__ import annotations

import logging
import pickle

import pytest

from wavewire.secrets import (
    RedactingFilter,
    Secret,
    redact_headers,
    redact_subprotocols,
    redact_text,
)

from ._ws_peer import PEER_LOGGER, peer, wait_for

KEY = "sk_live_5f3a9c0e7d1b42aa"
TOKEN = "cfut_9d8c7b6a5f4e3d2c"


def test_secret_hides_itself():
    s = Secret(KEY)
    assert s.reveal() == KEY
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(ValueError):
        Secret("")
    assert Secret.of(None) is None and Secret.of("") is None and Secret.of(s) is s
    assert Secret.of(KEY) == s


def test_old_locations_are_the_same_objects():
    from wavewire.services.rest._http import Secret as RestSecret
    from wavewire.transports.auth import RedactingFilter as AuthFilter
    from wavewire.transports.auth import redact_text as auth_redact

    assert RestSecret is Secret and AuthFilter is RedactingFilter
    assert auth_redact is redact_text


@pytest.mark.parametrize(
    "text",
    [
        f"> GET /v1/listen?model=nova-3&api_key={KEY} HTTP/1.1",
        f"> Authorization: Token {KEY}",
        f"> authorization: bearer {KEY}",
        f"> xi-api-key: {KEY}",
        f"> cf-aig-authorization: Bearer {TOKEN}",
        f"> Sec-WebSocket-Protocol: xi-api-key.{KEY}, cf-aig-authorization.{TOKEN}",
        f"> Sec-WebSocket-Protocol: token, {KEY}",
        f"""> TEXT '{{"text": " ", "xi_api_key": "{KEY}"}}' [60 bytes]""",
        f"""> TEXT '{{"text": " ", "xi_api_key": "{KEY[:9]}...' [600 bytes]""",
        f"wss://gateway.ai.cloudflare.com/v1/a/g/cartesia?cartesia_version=1&api_key={KEY}",
    ],
)
def test_redact_text_covers_every_credential_form(text):
    key_parts = (KEY, TOKEN, KEY[:9])
    out = redact_text(text)
    assert not any(part in out for part in key_parts), out
    assert "***" in out


def test_live_secrets_are_redacted_wherever_they_appear():
    held = Secret("an-unusual-credential-42")
    assert redact_text("weird format <an-unusual-credential-42>") == "weird format <***>"
    del held


def test_redact_headers_and_subprotocols():
    headers = {"Authorization": f"Token {KEY}", "xi-api-key": KEY,
               "cf-aig-authorization": f"Bearer {TOKEN}", "Host": "h",
               "Sec-WebSocket-Protocol": f"token, {KEY}"}
    assert redact_headers(headers) == {
        "authorization": "***", "xi-api-key": "***", "cf-aig-authorization": "***",
        "host": "h", "sec-websocket-protocol": "token, ***",
    }
    assert redact_subprotocols(["wavewire", f"cf-aig-authorization.{TOKEN}",
                                f"fal-api-key.{KEY}"]) == ["wavewire", "***", "***"]


async def test_keys_given_to_a_client_and_a_service_never_reach_the_logs(caplog):
    from loguru import logger as loguru_logger

    from wavewire.errors import AuthError
    from wavewire.frames import TextFrame
    from wavewire.serializers.base import FrameSerializer
    from wavewire.transports.client import WebSocketClient

    from .services.test_base import Session, Shout

    class KeyInOpen(FrameSerializer):  # ElevenLabs-style: the key in the first message
        def open(self):
            return [f'{{"text": " ", "xi_api_key": "{KEY}"}}']

    seen: list[str] = []
    sink = loguru_logger.add(lambda m: seen.append(str(m)), level="TRACE")
    caplog.set_level(logging.DEBUG)
    ws_log = logging.getLogger("wavewire.websockets")
    ws_log.setLevel(logging.DEBUG)
    try:
        async with peer() as p:
            client = WebSocketClient(
                f"{p.url}?api_key={KEY}", KeyInOpen,
                headers={"Authorization": f"Token {KEY}", "xi-api-key": KEY,
                         "cf-aig-authorization": f"Bearer {TOKEN}"},
                subprotocols=[f"cf-aig-authorization.{TOKEN}", "token", KEY],
                reconnect=None,
            )
            await client.connect()
            await wait_for(lambda: len(p.received) == 1)
            assert KEY in p.received[0]  # it did go over the wire
            await client.close()
            p.refuse(401)
            refused = WebSocketClient(f"{p.url}?token={KEY}", KeyInOpen, reconnect=None,
                                      headers={"Authorization": f"Bearer {TOKEN}"})
            with pytest.raises(AuthError) as err:
                await refused.connect()
            await refused.close()
            service = Shout(api_key=KEY, base_url=f"http://127.0.0.1:{p.port}",
                            gateway=False)
            async with Session(service) as s:
                assert await service.wait_connected(10)
                await s.send(TextFrame("hello"))
                await wait_for(lambda: len(p.received) >= 3)
    finally:
        loguru_logger.remove(sink)
        ws_log.setLevel(logging.NOTSET)
    ours = [r for r in caplog.records if not r.name.startswith(PEER_LOGGER)]
    logged = [r.getMessage() for r in ours] + seen
    blob = "\n".join([*logged, str(err.value), repr(client), repr(service)])
    assert any(line.startswith("> GET") for line in logged)  # websockets did log at DEBUG
    assert any("Sec-WebSocket-Protocol" in line for line in logged)
    assert KEY not in blob and TOKEN not in blob


def test_provider_keys_echoed_in_error_bodies_are_redacted():
    body = '{"error": {"message": "Incorrect API key provided: sk-proj-abc123XYZ. Or gsk_9f8e7d"}}'
    out = redact_text(body)
    assert "abc123XYZ" not in out and "9f8e7d" not in out
    assert "Incorrect API key provided" in out

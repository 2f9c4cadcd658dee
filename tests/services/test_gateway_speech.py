"""The same turns through a fake Cloudflare AI Gateway that checks
``cf-aig-authorization`` and forwards by path: Deepgram STT (gateway from the
environment), Cartesia TTS and ElevenLabs TTS; a missing or wrong gateway token is one
clear error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wavewire.frames import (
    ErrorFrame,
    InputAudioFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.services.cartesia import CartesiaTTSService
from wavewire.services.deepgram import DeepgramSTTService
from wavewire.services.elevenlabs import ElevenLabsTTSService
from wavewire.services.gateway import AIGateway
from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs
from wavewire.testing.fakes.gateway import FakeAIGateway

from .._ws_peer import wait_for
from .test_base import Session

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

TOKEN = "cfut_abc_0123456789"


def tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


async def test_deepgram_stt_through_the_gateway_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDeepgram({440: "hello there"}, api_key="dg_key") as dg, FakeAIGateway(
        {"deepgram": dg.url}, token=TOKEN
    ) as gw:
        monkeypatch.setenv("CF_AIG_GATEWAY_URL", gw.base_url())
        monkeypatch.setenv("CF_AIG_TOKEN", TOKEN)
        service = DeepgramSTTService(api_key="dg_key")
        async with Session(service) as s:
            pcm = bytes(3200) + tone(440, 0.4) + bytes(3200)
            for i in range(0, len(pcm), 640):
                await s.send(InputAudioFrame(pcm[i : i + 640], 16000))
            await wait_for(lambda: any(isinstance(f, TranscriptionFrame) for f in s.down))
    [final] = [f for f in s.down if isinstance(f, TranscriptionFrame)]
    assert final.text == "hello there"
    provider, target = gw.forwarded[0]
    assert provider == "deepgram" and target.startswith("/v1/listen?model=nova-3")
    hs = dg.handshakes[0]
    assert hs.api_key == "dg_key" and "cf-aig-authorization" not in hs.headers


async def test_tts_through_the_gateway_and_a_wrong_token() -> None:
    async with FakeCartesia(api_key="sk_car_x", ms_per_char=5) as car, FakeElevenLabs(
        api_key="sk_el", ms_per_char=5
    ) as el, FakeAIGateway({"cartesia": car.url, "elevenlabs": el.url}, token=TOKEN) as gw:
        gateway = AIGateway(gw.base_url(), TOKEN)
        services = [
            CartesiaTTSService(voice_id="v", api_key="sk_car_x", gateway=gateway),
            ElevenLabsTTSService(voice_id="v", api_key="sk_el", gateway=gateway,
                                 output_format="pcm_16000"),
        ]
        for service in services:
            async with Session(service) as s:
                await s.send(TTSSpeakFrame("Through the gateway."))
                await wait_for(lambda: any(isinstance(f, TTSStoppedFrame) for f in s.down))
            assert [f.text for f in s.down if isinstance(f, TTSTextFrame)] == [
                "Through", "the", "gateway."]
        assert [p for p, _ in gw.forwarded] == ["cartesia", "elevenlabs"]
        assert gw.forwarded[0][1].startswith("/tts/websocket?cartesia_version=")
        assert car.handshakes[0].api_key == "sk_car_x"
        bad = CartesiaTTSService(voice_id="v", api_key="sk_car_x",
                                 gateway=AIGateway(gw.base_url(), "wrong_token_987"))
        async with Session(bad) as s:
            await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
        [error] = [f for f in s.up if isinstance(f, ErrorFrame)]
        assert "credentials refused" in error.error and "wrong_token" not in error.error
        assert gw.rejected[-1][0] == 401 and len(gw.rejected) == 1


async def test_workers_ai_deepgram_through_the_gateway() -> None:
    async with FakeDeepgram({440: "hello there"}, api_key="wai") as dg, FakeAIGateway(
        {"workers-ai": dg.url}, token=TOKEN, workers_ai_key="wai"
    ) as gw:
        gateway = AIGateway(gw.base_url(), TOKEN)
        service = DeepgramSTTService(api_key="unused", gateway=gateway,
                                     workers_ai_model="@cf/deepgram/nova-3")
        assert "Authorization" not in service.websocket_headers()
        async with Session(service) as s:
            pcm = bytes(3200) + tone(440, 0.4) + bytes(3200)
            for i in range(0, len(pcm), 640):
                await s.send(InputAudioFrame(pcm[i : i + 640], 16000))
            await wait_for(lambda: any(isinstance(f, TranscriptionFrame) for f in s.down))
    provider, target = gw.forwarded[0]
    assert provider == "workers-ai" and target.startswith("/v1/listen?model=nova-3&")
    assert "encoding=linear16" in target and "sample_rate=16000" in target
    with pytest.raises(ValueError):
        DeepgramSTTService(api_key="k", gateway=False, workers_ai_model="@cf/deepgram/nova-3")

"""The Cartesia and ElevenLabs fakes against wavewire's own serializers and a plain
``websockets`` client: auth, contexts, tones whose length follows the text, word
timestamps that agree with the audio, cancel, multi-context, failure modes. Loopback
only; every wait has a deadline."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from wavewire.errors import ProtocolError
from wavewire.frames import (
    Frame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.serializers.cartesia import CartesiaSerializer
from wavewire.serializers.elevenlabs import ElevenLabsSerializer
from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs

T = 5.0
VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"


async def until_stopped(ws: ClientConnection, ser: object) -> list[Frame]:
    frames: list[Frame] = []
    async with asyncio.timeout(T):
        while not any(isinstance(f, TTSStoppedFrame) for f in frames):
            frames += ser.decode(await ws.recv())  # type: ignore[attr-defined]
    return frames


def audio_of(frames: list[Frame]) -> bytes:
    return b"".join(f.audio for f in frames if isinstance(f, TTSAudioFrame))


def words_of(frames: list[Frame]) -> list[tuple[str, float | None, float | None]]:
    return [(f.text, f.start_s, f.end_s) for f in frames if isinstance(f, TTSTextFrame)]


# --- Cartesia ------------------------------------------------------------------------------


async def test_cartesia_turn_with_continue_timestamps_and_done() -> None:
    async with FakeCartesia(api_key="sk_car_x", ms_per_char=10) as fake:
        ser = CartesiaSerializer(VOICE, sample_rate=16000, context_prefix="turn")
        url = f"{fake.url}/tts/websocket?{CartesiaSerializer.query_string('sk_car_x', '2024-06-10')}"
        async with connect(url) as ws:
            for frame in (LLMTextFrame("Hello, "), LLMTextFrame("wor"), LLMTextFrame("ld."),
                          LLMFullResponseEndFrame()):
                for m in ser.encode(frame):
                    await ws.send(m)
            frames = await until_stopped(ws, ser)
    assert len(audio_of(frames)) == len("Hello, world.") * 160 * 2  # 10 ms a character
    assert words_of(frames) == [("Hello,", 0.0, 0.06), ("world.", 0.07, 0.13)]
    assert all(getattr(f, "context_id", None) == "turn-1" for f in frames)
    assert [m["continue"] for m in fake.received] == [True, True, True, False]


async def test_cartesia_headers_auth_version_cancel_and_errors() -> None:
    async with FakeCartesia(api_key="k", ms_per_char=10) as fake:
        url = f"{fake.url}/tts/websocket"
        with pytest.raises(InvalidStatus) as info:
            await connect(url, additional_headers={"X-API-Key": "bad", "Cartesia-Version": "x"})
        assert info.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as info:
            await connect(url, additional_headers={"X-API-Key": "k"})
        assert info.value.response.status_code == 400  # no version
        ser = CartesiaSerializer(VOICE, sample_rate=16000, context_prefix="c")
        headers = {"X-API-Key": "k", "Cartesia-Version": "2025-04-16"}
        async with connect(url, additional_headers=headers) as ws:
            for m in ser.encode(LLMTextFrame("never")):  # no word boundary: nothing spoken yet
                await ws.send(m)
            [cancel] = ser.cancel("c-1")
            await ws.send(cancel)
            for m in ser.encode(TTSSpeakFrame("Hi.")):
                await ws.send(m)
            frames = await until_stopped(ws, ser)
            assert {f.context_id for f in frames if isinstance(f, TTSAudioFrame)} == {"c-2"}
            await ws.send(ser.request("c-2", "again", more=False)[0])  # finished context
            async with asyncio.timeout(T):
                err = json.loads(await ws.recv())
            assert err["type"] == "error" and "c-2" in err["error"]
            bad = json.loads(ser.request("c-3", "x ")[0])
            bad["output_format"]["container"] = "wav"
            await ws.send(json.dumps(bad))
            async with asyncio.timeout(T):
                assert json.loads(await ws.recv())["type"] == "error"
    assert fake.cancelled == ["c-1"]


async def test_cartesia_flush_done_and_failure_modes() -> None:
    async with FakeCartesia(ms_per_char=10) as fake:
        ser = CartesiaSerializer(VOICE, sample_rate=24000)
        url = f"{fake.url}/tts/websocket?{CartesiaSerializer.query_string('any')}"
        async with connect(url) as ws:
            cid = ser.new_context()
            for m in [*ser.request(cid, "Part one"), *ser.flush(cid)]:
                await ws.send(m)
            async with asyncio.timeout(T):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "flush_done":
                        break
            assert msg["flush_id"] == 1
        fake.rate_limit(1)
        with pytest.raises(InvalidStatus) as info:
            await connect(url)
        assert info.value.response.status_code == 429
        fake.send_garbage(1)
        async with connect(url) as ws:
            for m in ser.encode(TTSSpeakFrame("Hi there.")):
                await ws.send(m)
            async with asyncio.timeout(T):
                with pytest.raises(ProtocolError):
                    ser.decode(await ws.recv())
        fake.drop_after(1)
        async with connect(url) as ws:
            for m in ser.encode(TTSSpeakFrame("A longer sentence to speak.")):
                await ws.send(m)
            async with asyncio.timeout(T):
                await ws.recv()
                with pytest.raises(ConnectionClosed):
                    await ws.recv()


# --- ElevenLabs ----------------------------------------------------------------------------


async def test_elevenlabs_stream_input_alignment_matches_audio() -> None:
    async with FakeElevenLabs(api_key="sk_x", ms_per_char=10) as fake:
        ser = ElevenLabsSerializer("Xb7hH8MSUJpSbSDYk0k2", output_format="pcm_16000",
                                   chunk_length_schedule=[50, 90, 120, 150])
        async with connect(fake.url + ser.path(), additional_headers={"xi-api-key": "sk_x"}) as ws:
            for m in [*ser.open(), *ser.encode(LLMTextFrame("Sure, I can help.")),
                      *ser.encode(LLMTextFrame("It takes a moment.")), *ser.close()]:
                await ws.send(m)
            frames = await until_stopped(ws, ser)
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1000
    text = "Sure, I can help. It takes a moment. "
    assert len(audio_of(frames)) == len(text) * 160 * 2
    words = words_of(frames)
    assert [w for w, _, _ in words] == text.split()
    assert words[0] == ("Sure,", 0.0, 0.05)
    assert words[-1][2] == pytest.approx((len(text) - 1) * 0.01)  # the last char's end
    assert fake.received[0] == {"text": " ", "generation_config": {
        "chunk_length_schedule": [50, 90, 120, 150]}}


async def test_elevenlabs_key_in_message_and_refusals() -> None:
    async with FakeElevenLabs(api_key="sk_x", ms_per_char=10) as fake:
        ser = ElevenLabsSerializer("v", output_format="ulaw_8000", api_key="sk_x")
        async with connect(fake.url + ser.path()) as ws:
            for m in [*ser.open(), *ser.encode(TTSSpeakFrame("Hi."))]:
                await ws.send(m)
            async with asyncio.timeout(T):
                frames = ser.decode(await ws.recv())
            assert isinstance(frames[0], TTSAudioFrame) and frames[0].sample_rate == 8000
        bad = ElevenLabsSerializer("v", api_key="wrong")
        async with connect(fake.url + bad.path()) as ws:
            await ws.send(bad.open()[0])
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1008 and "API key" in (ws.close_reason or "")
        with pytest.raises(InvalidStatus) as info:
            await connect(fake.url + bad.path(), additional_headers={"xi-api-key": "wrong"})
        assert info.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as info:
            await connect(fake.url + "/v1/text-to-speech/v/stream-input?model_id=m"
                          "&output_format=mp3_44100_128")
        assert info.value.response.status_code == 400
        async with connect(fake.url + ser.path(), additional_headers={"xi-api-key": "sk_x"}) as ws:
            await ws.send('{"text":"not a space"}')  # the first message must initialize
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1008


async def test_elevenlabs_multi_context() -> None:
    async with FakeElevenLabs(ms_per_char=10) as fake:
        path = "/v1/text-to-speech/v/multi-stream-input?model_id=eleven_flash_v2_5&output_format=pcm_16000"
        async with connect(fake.url + path, additional_headers={"xi-api-key": "k"}) as ws:
            for msg in ({"text": " ", "voice_settings": {"stability": 0.5}, "context_id": "c1"},
                        {"text": "Hello there. ", "context_id": "c1"},
                        {"text": ""},  # socket keep-alive
                        {"context_id": "c1", "close_context": True}):
                await ws.send(json.dumps(msg))
            replies = []
            async with asyncio.timeout(T):
                while not replies or replies[-1].get("isFinal") is not True:
                    replies.append(json.loads(await ws.recv()))
            assert replies[-1] == {"isFinal": True, "contextId": "c1"}
            assert all(r["contextId"] == "c1" for r in replies)
            await ws.send(json.dumps({"text": "Hi ", "context_id": "c2"}))
            await ws.send(json.dumps({"text": "x ", "context_id": "c2",
                                      "voice_settings": {"stability": 0.9}}))
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    while True:
                        await ws.recv()
            assert ws.close_code == 1008
    assert fake.closed_contexts == ["c1"]

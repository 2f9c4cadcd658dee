"""The Deepgram fake against wavewire's own Deepgram serializers and a plain
``websockets`` client: auth, query checks, table-driven transcripts with interim results
and words, Finalize, CloseStream, the idle close, Flux turns, speak, and every failure
mode. Loopback only; every wait has a deadline."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from wavewire.frames import (
    InterimTranscriptionFrame,
    STTTurnFrame,
    TranscriptionFrame,
    TTSAudioFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from wavewire.serializers.deepgram import (
    DeepgramListenSerializer,
    ListenOptions,
    close_error,
)
from wavewire.serializers.deepgram_flux import DeepgramFluxSerializer, FluxOptions
from wavewire.serializers.deepgram_speak import DeepgramSpeakSerializer
from wavewire.testing.fakes.deepgram import FakeDeepgram, utterance_key

KEY = "dg_test_key"
AUTH = {"Authorization": f"Token {KEY}"}
T = 5.0  # deadline for any one wait


def tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def silence(seconds: float, rate: int = 16000) -> bytes:
    return bytes(2 * int(rate * seconds))


async def send_audio(ws: ClientConnection, pcm: bytes, chunk: int = 640) -> None:
    for i in range(0, len(pcm), chunk):
        await ws.send(pcm[i : i + chunk])


async def collect(ws: ClientConnection, ser: object, until: type, n: int = 1) -> list[object]:
    frames: list[object] = []
    async with asyncio.timeout(T):
        while sum(isinstance(f, until) for f in frames) < n:
            frames += ser.decode(await ws.recv())  # type: ignore[attr-defined]
    return frames


async def test_transcribes_tones_and_hashed_utterances_with_interims_and_words() -> None:
    speech = tone(300, 0.4) + tone(500, 0.3)
    table: dict[int | str, str] = {440: "hello there", utterance_key(speech): "book a table"}
    async with FakeDeepgram(table, api_key=KEY) as dg:
        ser = DeepgramListenSerializer(
            ListenOptions(interim_results=True, endpointing=200, utterance_end_ms=1000,
                          vad_events=True)
        )
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await send_audio(ws, silence(0.25) + tone(440, 0.5) + silence(0.3))
            frames = await collect(ws, ser, TranscriptionFrame)
            assert isinstance(frames[0], VADUserStartedSpeakingFrame)
            interim, final = frames[1], frames[2]
            assert isinstance(interim, InterimTranscriptionFrame) and interim.text == "hello"
            assert isinstance(final, TranscriptionFrame) and final.text == "hello there"
            assert [w.text for w in final.words] == ["hello", "there"]
            assert final.words[0].start_s == pytest.approx(0.25, abs=0.001)
            assert final.words[-1].end_s == pytest.approx(0.75, abs=0.001)
            assert final.result["speech_final"] is True
            await send_audio(ws, silence(1.0))  # utterance_end_ms of silence after the words
            assert VADUserStoppedSpeakingFrame() in await collect(
                ws, ser, VADUserStoppedSpeakingFrame
            )
            await send_audio(ws, silence(0.1) + speech + silence(0.3))
            frames = await collect(ws, ser, TranscriptionFrame)
            assert [f.text for f in frames if isinstance(f, TranscriptionFrame)] == [
                "book a table"
            ]
    assert dg.handshakes[0].api_key == KEY


async def test_finalize_close_stream_and_metadata() -> None:
    async with FakeDeepgram({440: "yes"}) as dg:
        ser = DeepgramListenSerializer(ListenOptions(endpointing=False))
        async with connect(dg.url + ser.path(), additional_headers={"Authorization": "token k"}) as ws:
            await send_audio(ws, tone(440, 0.3))
            for m in ser.finalize():
                await ws.send(m)
            *interims, final = await collect(ws, ser, TranscriptionFrame)
            assert [f.text for f in interims] == ["yes"]  # from the tone, mid-utterance
            assert final.text == "yes" and final.result["from_finalize"] is True
            for m in ser.finalize():  # nothing buffered: an empty final, from_finalize
                await ws.send(m)
            async with asyncio.timeout(T):
                empty = json.loads(await ws.recv())
            assert empty["is_final"] and empty["from_finalize"]
            assert empty["channel"]["alternatives"][0]["transcript"] == ""
            for m in ser.close():
                await ws.send(m)
            async with asyncio.timeout(T):
                meta = json.loads(await ws.recv())
                assert meta["type"] == "Metadata" and meta["duration"] == pytest.approx(0.3)
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1000
    assert dg.received == [{"type": "Finalize"}, {"type": "Finalize"}, {"type": "CloseStream"}]


async def test_interims_arrive_while_the_user_is_still_speaking() -> None:
    async with FakeDeepgram({440: "one two three four"}) as dg:
        ser = DeepgramListenSerializer(ListenOptions(interim_results=True, endpointing=100))
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await send_audio(ws, tone(440, 0.8))  # no silence yet: the utterance goes on
            frames = await collect(ws, ser, InterimTranscriptionFrame, 3)
            assert [f.text for f in frames] == ["one", "one two", "one two three"]
            await send_audio(ws, silence(0.2))
            frames = await collect(ws, ser, TranscriptionFrame)
            assert [f.text for f in frames] == ["one two three four"]  # no repeated interim


async def test_idle_close_net_0001_and_keepalive_needs_audio_first() -> None:
    async with FakeDeepgram(idle_timeout=0.3) as dg:
        path = ListenOptions().path()
        async with connect(dg.url + path, additional_headers=AUTH) as ws:
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosedError):
                    while True:  # KeepAlive without any audio does not keep it open
                        await ws.send('{"type":"KeepAlive"}')
                        await asyncio.sleep(0.05)
            assert (ws.close_code, ws.close_reason) == (1011, "NET-0001")
        err = close_error(ws.close_code, ws.close_reason)
        assert err is not None and err.retryable
        async with connect(dg.url + path, additional_headers=AUTH) as ws:
            await ws.send(silence(0.02))
            for _ in range(12):  # 0.6 s of KeepAlives after audio: still open
                await ws.send('{"type":"KeepAlive"}')
                await asyncio.sleep(0.05)
            assert ws.close_code is None
    assert dg.closes[0] == (1011, "NET-0001") and len(dg.closes) == 1


async def test_auth_query_and_protocol_errors() -> None:
    async with FakeDeepgram(api_key=KEY) as dg:
        path = ListenOptions().path()
        with pytest.raises(InvalidStatus) as info:
            await connect(dg.url + path, additional_headers={"Authorization": "Token wrong"})
        assert info.value.response.status_code == 401
        assert info.value.response.headers["dg-error"] == "Invalid credentials."
        assert "dg-request-id" in info.value.response.headers
        with pytest.raises(InvalidStatus):
            await connect(dg.url + path)
        with pytest.raises(InvalidStatus) as info:
            await connect(dg.url + "/v1/listen?encoding=linear16", additional_headers=AUTH)
        assert info.value.response.status_code == 400  # encoding without sample_rate
        with pytest.raises(InvalidStatus):
            await connect(dg.url + "/v1/listen?model=flux-general-en", additional_headers=AUTH)
        # browsers: the key in the subprotocols
        async with connect(dg.url + path, subprotocols=["token", KEY]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "token"
            await ws.send(bytes(3))  # not whole samples
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert (ws.close_code, ws.close_reason) == (1008, "DATA-0000")
        err = close_error(1008, "DATA-0000")
        assert err is not None and not err.retryable


async def test_failure_modes() -> None:
    async with FakeDeepgram({440: "hi"}) as dg:
        ser = DeepgramListenSerializer(ListenOptions(endpointing=100))
        dg.rate_limit(1)
        with pytest.raises(InvalidStatus) as info:
            await connect(dg.url + ser.path(), additional_headers=AUTH)
        assert info.value.response.status_code == 429
        dg.refuse_keys()
        with pytest.raises(InvalidStatus) as info:
            await connect(dg.url + ser.path(), additional_headers=AUTH)
        assert info.value.response.status_code == 401
        dg.refuse_keys(False)
        dg.send_garbage(1)
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await send_audio(ws, tone(440, 0.2) + silence(0.2))
            async with asyncio.timeout(T):
                with pytest.raises(Exception) as bad:
                    ser.decode(await ws.recv())
            assert type(bad.value).__name__ == "ProtocolError"
        dg.drop_after(1)
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await send_audio(ws, tone(440, 0.2) + silence(0.2))
            async with asyncio.timeout(T):
                await ws.recv()  # the one message, then the socket is gone without a close
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
            assert ws.close_code is None or ws.close_code == 1006
    assert [s for s, _ in dg.rejected] == [429, 401]


async def test_flux_turns() -> None:
    async with FakeDeepgram({440: "yes please"}) as dg:
        ser = DeepgramFluxSerializer(FluxOptions(eager_eot_threshold=0.5))
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await send_audio(ws, silence(0.1) + tone(440, 0.6) + silence(0.4))
            frames = await collect(ws, ser, TranscriptionFrame)
            turns = [f.event for f in frames if isinstance(f, STTTurnFrame)]
            assert turns == ["start", "eager_end", "end"]
            final = next(f for f in frames if isinstance(f, TranscriptionFrame))
            assert final.text == "yes please" and len(final.words) == 2
            for m in ser.configure(eot_threshold=0.8):
                await ws.send(m)
            async with asyncio.timeout(T):
                ok = json.loads(await ws.recv())
            assert ok["type"] == "ConfigureSuccess" and ok["thresholds"] == {"eot_threshold": 0.8}
            assert ser.request_id is not None and ser.sequence_id >= 4
            for m in ser.close():
                await ws.send(m)
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1000


async def test_speak_flush_clear_close_and_limits() -> None:
    now = [0.0]
    async with FakeDeepgram(clock=lambda: now[0], ms_per_char=10) as dg:
        ser = DeepgramSpeakSerializer()
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            async with asyncio.timeout(T):
                assert json.loads(await ws.recv())["type"] == "Metadata"
            for m in [*ser.speak("Hello, how can I help?"), *ser.flush()]:
                await ws.send(m)
            audio = b""
            async with asyncio.timeout(T):
                while True:
                    msg = await ws.recv()
                    if isinstance(msg, str):
                        break
                    [frame] = ser.decode(msg)
                    assert isinstance(frame, TTSAudioFrame)
                    audio += frame.audio
            assert json.loads(msg) == {"type": "Flushed", "sequence_id": 0}
            assert len(audio) == 22 * 240 * 2  # 22 characters of 10 ms at 24 kHz
            for m in ser.clear():
                await ws.send(m)
            async with asyncio.timeout(T):
                assert json.loads(await ws.recv()) == {"type": "Cleared", "sequence_id": 1}
            for _ in range(19):  # 20 flushes in all
                await ws.send('{"type":"Flush"}')
            await ws.send('{"type":"Flush"}')  # the 21st inside 60 s
            async with asyncio.timeout(T):
                replies = [json.loads(await ws.recv()) for _ in range(20)]
            assert [r["type"] for r in replies].count("Flushed") == 19
            assert replies[-1]["type"] == "Warning"
            now[0] = 61.0
            await ws.send('{"type":"Flush"}')
            async with asyncio.timeout(T):
                assert json.loads(await ws.recv())["type"] == "Flushed"
            for m in ser.close():
                await ws.send(m)
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            assert ws.close_code == 1000
        async with connect(dg.url + ser.path(), additional_headers=AUTH) as ws:
            await ws.send(b"\x00\x01")
            async with asyncio.timeout(T):
                with pytest.raises(ConnectionClosed):
                    while True:
                        await ws.recv()
            assert (ws.close_code, ws.close_reason) == (1003, "MESSAGE-0000")


def test_transcripts_from_the_environment() -> None:
    from wavewire.testing.fakes.deepgram import TRANSCRIPTS_ENV, table_from_env

    env = {TRANSCRIPTS_ENV: '{"440": "hello there", "ab12": "hashed", "*": "okay"}'}
    assert table_from_env(env) == ({440: "hello there", "ab12": "hashed"}, "okay")
    assert table_from_env({}) == ({}, "")
    with pytest.raises(ValueError):
        table_from_env({TRANSCRIPTS_ENV: '{"440": 5}'})

"""Cartesia and ElevenLabs TTS services in real sessions against their fakes: one
context (Cartesia) or one socket (ElevenLabs) per turn, audio with word timestamps that
match it, TTSStarted/Stopped, barge-in (Cartesia cancel; ElevenLabs input ended and the
rest dropped), AI Gateway routing for Cartesia, a refused key."""

from __future__ import annotations

import pytest

from wavewire.frames import (
    ErrorFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from wavewire.services.cartesia import CartesiaTTSService
from wavewire.services.elevenlabs import ElevenLabsTTSService
from wavewire.services.gateway import AIGateway
from wavewire.testing.fakes.cartesia import FakeCartesia
from wavewire.testing.fakes.elevenlabs import FakeElevenLabs

from .._ws_peer import wait_for
from .test_base import Session

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"


def stopped(s: Session, n: int = 1) -> bool:
    return sum(isinstance(f, TTSStoppedFrame) for f in s.down) >= n


def audio(frames: list[Frame]) -> bytes:
    return b"".join(f.audio for f in frames if isinstance(f, TTSAudioFrame))


def words(frames: list[Frame]) -> list[tuple[str, float | None, float | None]]:
    return [(f.text, f.start_s, f.end_s) for f in frames if isinstance(f, TTSTextFrame)]


# --- Cartesia -------------------------------------------------------------------------------


async def test_cartesia_turns_timestamps_and_ttfb() -> None:
    async with FakeCartesia(api_key="sk_car_123456", ms_per_char=10) as fake:
        service = CartesiaTTSService(voice_id=VOICE, api_key="sk_car_123456",
                                     base_url=fake.url, gateway=False, sample_rate=16000)
        async with Session(service) as s:
            for text in ("Hello, ", "wor", "ld."):
                await s.send(LLMTextFrame(text))
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: stopped(s))
            await s.send(TTSSpeakFrame("Bye now."))
            await wait_for(lambda: stopped(s, 2))
    started = [f.context_id for f in s.down if isinstance(f, TTSStartedFrame)]
    ended = [f.context_id for f in s.down if isinstance(f, TTSStoppedFrame)]
    assert started == ended and len(set(started)) == 2
    order = [type(f) for f in s.down if isinstance(
        f, TTSTextFrame | TTSStoppedFrame | LLMFullResponseEndFrame)]
    assert order[:4] == [TTSTextFrame, TTSTextFrame, TTSStoppedFrame, LLMFullResponseEndFrame]
    first = [f for f in s.down if getattr(f, "context_id", None) == started[0]]
    assert words(first) == [("Hello,", 0.0, 0.06), ("world.", 0.07, 0.13)]
    assert len(audio(first)) == len("Hello, world.") * 160 * 2
    assert [m.get("continue") for m in fake.received] == [True, True, True, False, False]
    assert fake.handshakes[0].one("api_key") == "sk_car_123456"
    assert [d.name for f in s.down if isinstance(f, MetricsFrame) for d in f.data] == [
        "ttfb", "ttfb"]


async def test_cartesia_barge_in_cancels_the_context() -> None:
    async with FakeCartesia(ms_per_char=10) as fake:
        service = CartesiaTTSService(voice_id=VOICE, api_key="k", base_url=fake.url,
                                     gateway=False, sample_rate=16000)
        async with Session(service) as s:
            await s.send(LLMTextFrame("Hello there "))
            await wait_for(lambda: any(isinstance(f, TTSAudioFrame) for f in s.down))
            await s.task.interrupt()
            await wait_for(lambda: len(fake.cancelled) == 1)
            before = len(s.down)
            await s.send(LLMTextFrame("New turn."))
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: stopped(s))
    cancelled = fake.cancelled[0]
    after = s.down[before:]
    assert all(getattr(f, "context_id", None) != cancelled for f in after)
    assert [w for w, _, _ in words(after)] == ["New", "turn."]


async def test_cartesia_barge_in_cancels_every_context_still_speaking() -> None:
    import json

    from .._ws_peer import peer

    async with peer() as p:  # a provider that has not answered yet
        service = CartesiaTTSService(voice_id=VOICE, api_key="k", gateway=False,
                                     base_url=f"http://127.0.0.1:{p.port}")
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await s.send(LLMTextFrame("Streaming turn "))
            await s.send(TTSSpeakFrame("Spoken at once."))
            await wait_for(lambda: len(p.received) == 2)
            await s.task.interrupt()
            await wait_for(lambda: len(p.received) == 4)
    requests = [json.loads(m) for m in p.received[:2]]
    cancels = [json.loads(m) for m in p.received[2:]]
    assert all(c["cancel"] is True for c in cancels)
    assert sorted(c["context_id"] for c in cancels) == sorted(r["context_id"] for r in requests)


async def test_cartesia_dropped_socket_requests_unstarted_contexts_again() -> None:
    async with FakeCartesia(ms_per_char=10, chunk_ms=20) as fake:
        fake.drop_after(2)  # word timestamps and the first audio chunk, then the socket is cut
        service = CartesiaTTSService(voice_id=VOICE, api_key="k", base_url=fake.url,
                                     gateway=False, sample_rate=16000)
        async with Session(service) as s:
            await s.send(LLMTextFrame("Hello there "))  # starts speaking at once
            await wait_for(lambda: fake.connections == 2 and service.client is not None
                           and service.client.connected)
            await s.send(LLMTextFrame("friend."))
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: stopped(s))
    [stop] = [f for f in s.down if isinstance(f, TTSStoppedFrame)]
    started = [f.context_id for f in s.down if isinstance(f, TTSStartedFrame)]
    assert started == [stop.context_id]  # one turn, finished on the second socket
    assert words(s.down)[-1][0] == "friend."
    second = [m for m in fake.received[-2:]]
    assert [m["transcript"] for m in second] == ["friend.", ""]


async def test_cartesia_dropped_socket_repeats_a_request_not_yet_answered() -> None:
    import json

    from wavewire.transports.backoff import Backoff

    from .._ws_peer import peer

    async with peer() as p:  # a provider that has not answered yet
        service = CartesiaTTSService(voice_id=VOICE, api_key="k", gateway=False,
                                     base_url=f"http://127.0.0.1:{p.port}",
                                     reconnect=Backoff(initial=0.01, jitter=0.0))
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await s.send(TTSSpeakFrame("Say this."))
            await s.send(LLMTextFrame("And stream "))
            await wait_for(lambda: len(p.received) == 2)
            await p.drop()
            await wait_for(lambda: len(p.connections) == 2 and len(p.connections[1]) == 2)
    first = [json.loads(m) for m in p.connections[0]]
    again = [json.loads(m) for m in p.connections[1]]
    assert sorted((m["context_id"], m["transcript"], m["continue"]) for m in again) == sorted(
        (m["context_id"], m["transcript"], m["continue"]) for m in first)
    assert not any(isinstance(f, TTSStoppedFrame) for f in s.down)


async def test_cartesia_through_an_ai_gateway_url() -> None:
    async with FakeCartesia(api_key="sk_car_x", ms_per_char=10) as fake:
        gateway = AIGateway(fake.url.replace("ws://", "http://"), "cfut_abc")
        service = CartesiaTTSService(voice_id=VOICE, api_key="sk_car_x", gateway=gateway,
                                     sample_rate=16000)
        assert service.websocket_url().startswith(fake.url.replace("ws://", "ws://"))
        assert service.websocket_url().split("?")[0].endswith("/cartesia")
        assert service.websocket_headers() == {"cf-aig-authorization": "Bearer cfut_abc"}


# --- ElevenLabs -----------------------------------------------------------------------------


def eleven(fake: FakeElevenLabs, **kw: object) -> ElevenLabsTTSService:
    kw.setdefault("api_key", "sk_el_123456")
    return ElevenLabsTTSService(voice_id="Xb7hH8MSUJpSbSDYk0k2", base_url=fake.url,
                                gateway=False, output_format="pcm_16000",
                                **kw)  # type: ignore[arg-type]


async def test_elevenlabs_one_socket_per_turn_with_word_timestamps() -> None:
    async with FakeElevenLabs(api_key="sk_el_123456", ms_per_char=10) as fake:
        service = eleven(fake)
        async with Session(service) as s:
            for text in ("Sure, I c", "an help. ", "Wait"):
                await s.send(LLMTextFrame(text))
            await s.send(LLMFullResponseEndFrame())
            await s.send(LLMTextFrame("Second turn."))  # waits for the next socket
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: stopped(s, 2))
    turns = [f.context_id for f in s.down if isinstance(f, TTSStoppedFrame)]
    assert turns == ["turn-1", "turn-2"]
    ends = [i for i, f in enumerate(s.down) if isinstance(f, LLMFullResponseEndFrame)]
    stops = [i for i, f in enumerate(s.down) if isinstance(f, TTSStoppedFrame)]
    assert [e - st for e, st in zip(ends, stops, strict=True)] == [1, 1]  # each right after
    first = [f for f in s.down if getattr(f, "context_id", None) == "turn-1"]
    assert [w for w, _, _ in words(first)] == ["Sure,", "I", "can", "help.", "Wait"]
    assert words(first)[0] == ("Sure,", 0.0, 0.05)
    assert words(first)[-1][2] == pytest.approx(len("Sure, I can help. Wait") * 0.01)
    second = [f for f in s.down if getattr(f, "context_id", None) == "turn-2"]
    assert words(second)[0][1] == 0.0  # timing restarts with the turn
    assert fake.connections >= 2
    texts = [m.get("text") for m in fake.received]
    assert texts[:5] == [" ", "Sure, I ", "can help. ", "Wait ", ""]
    assert fake.handshakes[0].headers["xi-api-key"] == "sk_el_123456"


async def test_elevenlabs_barge_in_ends_the_input_and_drops_the_rest() -> None:
    async with FakeElevenLabs(ms_per_char=10) as fake:
        service = eleven(fake, chunk_length_schedule=[500])  # nothing spoken before the end
        async with Session(service) as s:
            await s.send(LLMTextFrame("Hello there friend "))
            await wait_for(lambda: len(fake.received) == 2)
            await s.task.interrupt()
            await s.send(TTSSpeakFrame("New."))
            await wait_for(lambda: stopped(s))
    assert [w for w, _, _ in words(s.down)] == ["New."]
    assert len(audio(s.down)) == len("New. ") * 160 * 2
    assert s.task.stats.dropped.get(f"{service.name}:interrupted", 0) >= 1


async def test_elevenlabs_refused_key_is_one_error() -> None:
    async with FakeElevenLabs(api_key="right_key_000") as fake:
        service = eleven(fake)
        async with Session(service) as s:
            await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
    assert fake.rejected == [(401, "/v1/text-to-speech/Xb7hH8MSUJpSbSDYk0k2/stream-input")]


async def test_keys_never_reach_the_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from loguru import logger as loguru_logger

    from wavewire.services.deepgram import DeepgramSTTService
    from wavewire.testing.fakes._base import FAKE_LOGGER
    from wavewire.testing.fakes.deepgram import FakeDeepgram

    keys = {"dg": "dg_key_SECRET_1", "car": "car_key_SECRET_2", "el": "el_key_SECRET_3"}
    seen: list[str] = []
    sink = loguru_logger.add(lambda m: seen.append(str(m)), level="TRACE")
    caplog.set_level(logging.DEBUG)
    try:
        async with FakeDeepgram(api_key=keys["dg"]) as dg, FakeCartesia(
            api_key=keys["car"], ms_per_char=5
        ) as car, FakeElevenLabs(api_key=keys["el"], ms_per_char=5) as el:
            services = [
                DeepgramSTTService(api_key=keys["dg"], base_url=dg.url, gateway=False),
                CartesiaTTSService(voice_id=VOICE, api_key=keys["car"], base_url=car.url,
                                   gateway=False),
                eleven(el, api_key=keys["el"]),
                DeepgramSTTService(api_key="wrong_SECRET_4", base_url=dg.url, gateway=False),
            ]
            for service in services:
                async with Session(service) as s:
                    if service.api_key and service.api_key.reveal() == "wrong_SECRET_4":
                        await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
                        continue
                    assert await service.wait_connected(10)
                    await s.send(TTSSpeakFrame("Hi."))
                    if not isinstance(service, DeepgramSTTService):
                        await wait_for(lambda: stopped(s))
    finally:
        loguru_logger.remove(sink)
    ours = [r for r in caplog.records if not r.name.startswith(FAKE_LOGGER)]
    logged = [r.getMessage() for r in ours] + seen
    assert any(line.startswith("> GET") for line in logged)  # handshakes were logged
    blob = "\n".join(logged + [repr(s) for s in services])
    assert not [k for k in [*keys.values(), "wrong_SECRET_4"] if k in blob]

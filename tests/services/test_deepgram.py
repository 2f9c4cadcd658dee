"""Deepgram STT and TTS services in real sessions against the Deepgram fake: audio in →
transcripts with words (any input rate), Finalize at the end of the user's turn,
CloseStream at the end, a socket dropped mid-utterance (nothing lost, nothing repeated,
word times on the session clock), a refused key (one error, one attempt), KeepAlive on
the session clock; TTS sentences → Speak + Flush, audio with sentence text, Clear on
barge-in, the flush limit waited out, TTFB."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from wavewire.frames import (
    ErrorFrame,
    InputAudioFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    MetricsFrame,
    TranscriptionFrame,
    TTSAudioFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserStoppedSpeakingFrame,
)
from wavewire.serializers.deepgram import ListenOptions
from wavewire.services.deepgram import DeepgramSTTService, DeepgramTTSService
from wavewire.testing import FakeClock
from wavewire.testing.fakes.deepgram import FakeDeepgram
from wavewire.transports.backoff import Backoff

from .._ws_peer import wait_for
from .test_base import Session

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

KEY = "dg_secret_0123456789"
FAST = Backoff(initial=0.01, max=0.05, jitter=0.0, max_attempts=5)


def tone(hz: float, seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def frames_of(pcm: bytes, rate: int = 16000, ms: int = 20) -> list[InputAudioFrame]:
    step = rate * ms // 1000 * 2
    return [InputAudioFrame(pcm[i : i + step], rate) for i in range(0, len(pcm), step)]


def stt(fake: FakeDeepgram, **kw: object) -> DeepgramSTTService:
    kw.setdefault("reconnect", FAST)
    return DeepgramSTTService(api_key=KEY, base_url=fake.url.replace("ws://", "http://"),
                              gateway=False, **kw)  # type: ignore[arg-type]


def finals(s: Session) -> list[TranscriptionFrame]:
    return [f for f in s.down if isinstance(f, TranscriptionFrame)]


async def test_transcribes_finalizes_and_closes_the_stream() -> None:
    async with FakeDeepgram({440: "hello there"}, api_key=KEY) as fake:
        service = stt(fake, options=ListenOptions(endpointing=False))
        async with Session(service) as s:
            # 48 kHz stereo in: converted to the socket's 16 kHz mono
            pcm48 = tone(440, 0.5, 48000)
            stereo = np.repeat(np.frombuffer(pcm48, "<i2"), 2).tobytes()
            for f in frames_of(bytes(48000 // 5 * 2), 48000) + [  # 0.2 s of silence
                InputAudioFrame(stereo[i : i + 7680], 48000, 2)
                for i in range(0, len(stereo), 7680)
            ]:
                await s.send(f)
            await wait_for(lambda: fake.audio_bytes >= 16000 * 2 * 0.6)
            await s.send(UserStoppedSpeakingFrame())
            await wait_for(lambda: len(finals(s)) == 1)
            await s.task.stop_when_done("done")
            await asyncio.wait_for(s.runner, 20)  # type: ignore[arg-type]
    [final] = finals(s)
    assert final.text == "hello there" and [w.text for w in final.words] == ["hello", "there"]
    assert final.words[0].start_s == pytest.approx(0.02 + 0.2, abs=0.01)  # opener + silence
    assert final.result["from_finalize"] is True
    assert sum(isinstance(f, InputAudioFrame) for f in s.down) > 0  # audio passes on
    kinds = [m["type"] for m in fake.received]
    assert kinds == ["Finalize", "CloseStream"]
    hs = fake.handshakes[0]
    assert hs.path == "/v1/listen" and hs.one("sample_rate") == "16000" and hs.api_key == KEY
    metrics = [d.name for f in s.down if isinstance(f, MetricsFrame) for d in f.data]
    assert metrics == ["ttfb"]


async def test_reconnect_after_a_drop_mid_utterance() -> None:
    async with FakeDeepgram({440: "hello there", 660: "and more"}, api_key=KEY) as fake:
        fake.drop_after(1)  # the first socket: SpeechStarted goes out, then it is cut
        service = stt(fake, options=ListenOptions(endpointing=100, vad_events=True,
                                                   interim_results=False))
        async with Session(service) as s:
            pcm = bytes(3200) + tone(440, 0.4) + bytes(6400) + tone(660, 0.3) + bytes(6400)
            for f in frames_of(pcm):
                await s.send(f)
            await wait_for(lambda: len(finals(s)) == 2)
            await s.send(UserStoppedSpeakingFrame())  # its reply comes after any other
            ser = service.client.serializer  # type: ignore[union-attr]
            await wait_for(lambda: ser.empty_results == 1)  # type: ignore[attr-defined]
    texts = [f.text for f in finals(s)]
    assert texts == ["hello there", "and more"]
    assert fake.connections == 2
    first, second = finals(s)
    assert first.words[0].start_s == pytest.approx(0.02 + 0.1, abs=0.011)
    assert second.words[0].start_s == pytest.approx(0.02 + 0.1 + 0.4 + 0.2, abs=0.011)


async def test_a_refused_key_is_one_error_and_one_attempt() -> None:
    async with FakeDeepgram(api_key=KEY) as fake:
        service = DeepgramSTTService(api_key="wrong_key_987654321", base_url=fake.url,
                                     gateway=False, reconnect=FAST)
        async with Session(service) as s:
            await wait_for(lambda: any(isinstance(f, ErrorFrame) for f in s.up))
            await s.send(InputAudioFrame(bytes(640), 16000))
    [error] = [f for f in s.up if isinstance(f, ErrorFrame)]
    assert "credentials refused" in error.error and not error.fatal
    assert "wrong_key" not in error.error
    assert fake.rejected == [(401, "/v1/listen")]


async def test_keepalive_on_the_session_clock() -> None:
    clock = FakeClock()
    async with FakeDeepgram(api_key=KEY) as fake:
        service = stt(fake, keepalive_s=4.0)
        async with Session(service, clock) as s:
            assert await service.wait_connected(10)
            await wait_for(lambda: fake.audio_bytes == 640)  # the opening silence
            await clock.advance(4.0)
            await wait_for(lambda: {"type": "KeepAlive"} in fake.received)
            assert not any(isinstance(f, ErrorFrame) for f in s.up)


# --- TTS ------------------------------------------------------------------------------------


def tts(fake: FakeDeepgram, **kw: object) -> DeepgramTTSService:
    return DeepgramTTSService(api_key=KEY, base_url=fake.url, gateway=False, **kw)  # type: ignore[arg-type]


async def test_tts_sentences_audio_and_turn_frames() -> None:
    async with FakeDeepgram(api_key=KEY, ms_per_char=10) as fake:
        service = tts(fake)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            for text in ("Hello", " there. How", " are you?"):
                await s.send(LLMTextFrame(text))
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: any(isinstance(f, TTSStoppedFrame) for f in s.down))
    speaks = [m["text"] for m in fake.received if m["type"] == "Speak"]
    assert speaks == ["Hello there. ", "How are you?"]
    assert [m["type"] for m in fake.received].count("Flush") == 2
    kinds = [type(f) for f in s.down if isinstance(
        f, TTSStartedFrame | TTSTextFrame | TTSStoppedFrame | LLMFullResponseEndFrame)]
    assert kinds[0] is TTSStartedFrame
    assert kinds[-2:] == [TTSStoppedFrame, LLMFullResponseEndFrame]  # the end waits for it
    texts = [f.text for f in s.down if isinstance(f, TTSTextFrame)]
    assert texts == ["Hello there.", "How are you?"]
    audio = b"".join(f.audio for f in s.down if isinstance(f, TTSAudioFrame))
    assert len(audio) == len("Hello there. How are you?") * 240 * 2
    assert not any(type(f) is LLMTextFrame for f in s.down)  # consumed
    assert [d.name for f in s.down if isinstance(f, MetricsFrame) for d in f.data] == ["ttfb"]


async def test_tts_barge_in_sends_clear_and_drops_old_audio() -> None:
    async with FakeDeepgram(api_key=KEY, ms_per_char=40, pace=1.0, chunk_ms=20) as fake:
        service = tts(fake)
        async with Session(service) as s:
            assert await service.wait_connected(10)
            await s.send(TTSSpeakFrame("A long sentence that takes a while to say."))
            await wait_for(lambda: any(isinstance(f, TTSAudioFrame) for f in s.down))
            await s.task.interrupt()
            await wait_for(lambda: {"type": "Clear"} in fake.received)
            before = len(s.down)
            await wait_for(lambda: service.client.serializer.cleared == 1)  # type: ignore[union-attr]
            await s.send(TTSSpeakFrame("New."))
            await wait_for(lambda: any(isinstance(f, TTSStoppedFrame) for f in s.down))
    after = s.down[before:]
    new_audio = b"".join(f.audio for f in after if isinstance(f, TTSAudioFrame))
    assert len(new_audio) == len("New.") * 960 * 2  # only the new turn's audio
    assert [f.text for f in after if isinstance(f, TTSTextFrame)] == ["New."]


async def test_tts_dropped_socket_sends_the_unspoken_sentences_again() -> None:
    async with FakeDeepgram(api_key=KEY, ms_per_char=10, chunk_ms=20) as fake:
        fake.drop_after(2)  # Metadata and the first audio chunk, then the socket is cut
        service = tts(fake, reconnect=Backoff(initial=0.01, jitter=0.0, max_attempts=5))
        async with Session(service) as s:
            await s.send(LLMTextFrame("One sentence here. Then a second one."))
            await s.send(LLMFullResponseEndFrame())
            await wait_for(lambda: any(isinstance(f, TTSStoppedFrame) for f in s.down))
    texts = [f.text for f in s.down if isinstance(f, TTSTextFrame)]
    assert texts == ["One sentence here.", "Then a second one."]
    assert fake.connections == 2
    second = fake.handshakes[1]
    assert second.path == "/v1/speak"
    speaks = [m["text"] for m in fake.received if m["type"] == "Speak"]
    assert speaks[-1] == "Then a second one. "  # sent again on the new socket


async def test_tts_flush_limit_is_waited_out_on_the_session_clock() -> None:
    clock = FakeClock()
    async with FakeDeepgram(api_key=KEY, ms_per_char=1, clock=clock.now) as fake:
        service = tts(fake)
        async with Session(service, clock) as s:
            assert await service.wait_connected(10)
            for i in range(21):
                await s.send(TTSSpeakFrame(f"Line {i}."))
            await wait_for(lambda: [m["type"] for m in fake.received].count("Speak") == 21)
            assert [m["type"] for m in fake.received].count("Flush") == 20
            await clock.advance(60.0)
            await wait_for(lambda: [m["type"] for m in fake.received].count("Flush") == 21)
            await wait_for(lambda: sum(isinstance(f, TTSTextFrame) for f in s.down) == 21)
    assert not any(isinstance(f, ErrorFrame) for f in s.up)  # never a Warning


async def test_flux_turn_events_and_transcript() -> None:
    from wavewire.frames import STTTurnFrame
    from wavewire.serializers.deepgram_flux import FluxOptions

    async with FakeDeepgram({440: "yes please"}, api_key=KEY) as fake:
        service = stt(fake, options=FluxOptions(eager_eot_threshold=0.5))
        assert service.keepalive_interval is None  # no KeepAlive on /v2/listen
        async with Session(service) as s:
            for f in frames_of(bytes(3200) + tone(440, 0.5) + bytes(9600)):
                await s.send(f)
            await wait_for(lambda: len(finals(s)) == 1)
            await wait_for(lambda: any(
                isinstance(f, STTTurnFrame) and f.event == "end" for f in s.down))
    turns = [f.event for f in s.down if isinstance(f, STTTurnFrame)]
    assert turns == ["start", "eager_end", "end"]
    assert finals(s)[0].text == "yes please"
    assert fake.handshakes[0].path == "/v2/listen"
    assert [m["type"] for m in fake.received] == ["CloseStream"]


async def test_silence_finalized_by_empty_results_is_not_kept_for_a_replay() -> None:
    """An empty final ``Results`` (silence) still covers its span: that audio is never
    sent again, so the replay buffer does not fill with silence until it overflows."""
    async with FakeDeepgram({440: "hello"}, api_key=KEY) as fake:
        service = stt(fake, options=ListenOptions(endpointing=100, interim_results=False))
        async with Session(service) as s:
            for f in frames_of(bytes(32000)):  # 1 s of silence, no utterance
                await s.send(f)
            assert service.replay_seconds == pytest.approx(1.02, abs=0.05)  # 20 ms preroll
            await s.send(UserStoppedSpeakingFrame())  # Finalize → an empty final reply
            ser = service.client.serializer  # type: ignore[union-attr]
            await wait_for(lambda: ser.empty_results == 1)  # type: ignore[attr-defined]
            assert ser.finalized_s >= 1.0  # type: ignore[attr-defined]
            await s.send(frames_of(bytes(640))[0])  # the next audio trims the replay
            assert service.replay_seconds <= 0.03

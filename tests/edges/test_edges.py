"""Input and output edges: format checks and conversion, VAD, pacing, barge-in, marks."""

from __future__ import annotations

import asyncio
import math
from array import array

import pytest

from wavewire.bots.echo import EchoProcessor
from wavewire.errors import ProtocolError, SessionClosedError
from wavewire.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    BotUtterancePlayedFrame,
    EndFrame,
    ErrorFrame,
    InputAudioFrame,
    InterruptionFrame,
    OutputAudioFrame,
    OutputTransportMessageFrame,
    PlaybackMarkFrame,
    StartFrame,
    TextFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from wavewire.pipelines import PipelineParams, PipelineTask
from wavewire.processors import FrameProcessor
from wavewire.serializers.base import FrameSerializer, WireFormat
from wavewire.serializers.raw import RawSerializer
from wavewire.testing import FakeClock, start_task
from wavewire.transports.edges import InputEdge, OutputEdge

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


def tone(ms: int, rate: int, freq: float = 440.0, amp: int = 8000, channels: int = 1) -> bytes:
    n = rate * ms // 1000
    out = array("h")
    for i in range(n):
        v = int(amp * math.sin(2 * math.pi * freq * i / rate))
        out.extend([v] * channels)
    return out.tobytes()


def silence(ms: int, rate: int, channels: int = 1) -> bytes:
    return bytes(2 * channels * rate * ms // 1000)




class Sent:
    """Records what an OutputEdge sends, with the fake clock's time."""

    def __init__(self, clock=None):
        self.clock = clock
        self.messages: list[tuple[float, object]] = []

    async def __call__(self, message):
        self.messages.append((self.clock.now() if self.clock else 0.0, message))

    def audio(self):
        return [(t, m) for t, m in self.messages if isinstance(m, bytes)]


class Running:
    """A started session over ``processors``, with what reaches its top (``up``) and its
    end (``down``)."""

    def __init__(self, *processors: FrameProcessor, **params) -> None:
        self.task = PipelineTask(list(processors),
                                 params=PipelineParams(**params) if params else None)
        self.up: list = []
        self.down: list = []
        self.task.set_taps(down=self.down.append, up=self.up.append)

    @classmethod
    async def start(cls, *processors: FrameProcessor, **params) -> Running:
        running = cls(*processors, **params)
        running.runner = await start_task(running.task)
        return running

    async def stop(self) -> None:
        await self.task.stop_when_done()
        await asyncio.wait_for(self.runner, 2)


# --- input edge -------------------------------------------------------------------


async def test_input_edge_converts_rate_and_channels_to_the_pipeline_format():
    edge = InputEdge(RawSerializer(sample_rate=48000, num_channels=2))
    session = await Running.start(edge, sample_rate=16000, num_channels=1)
    for _ in range(10):
        await edge.feed(tone(20, 48000, channels=2))
    await session.stop()
    audio = [f for f in session.down if isinstance(f, InputAudioFrame)]
    assert len(audio) == 10
    assert all(f.sample_rate == 16000 and f.num_channels == 1 for f in audio)
    total = sum(f.num_frames for f in audio)
    assert abs(total - 10 * 320) <= 40  # a little filter look-ahead held back
    assert all(abs(f.num_frames - 320) <= 40 for f in audio[1:])


class Faulty(FrameSerializer):
    protocol = "faulty"

    def decode(self, message):
        if message == b"fatal":
            raise ProtocolError("peer broke the rules", close_code=1008, fatal=True)
        if message == b"bad":
            raise ProtocolError("garbled")
        if message == b"odd":
            return [InputAudioFrame(b"\x01\x02\x03", 16000, 1)]
        if message == b"empty":
            return [InputAudioFrame(b"", 16000, 1)]
        if message == b"rate":
            return [InputAudioFrame(b"\x00\x00", 0, 1)]
        if message == b"chan":
            return [InputAudioFrame(b"\x00\x00\x00\x00", 16000, 0)]
        return [InputAudioFrame(bytes(640), 16000, 1)]


async def test_input_edge_bad_input_is_reported_counted_and_the_session_goes_on():
    edge = InputEdge(Faulty())
    session = await Running.start(edge)
    for msg in (b"good", b"bad", b"odd", b"empty", b"rate", b"chan", b"good"):
        await edge.feed(msg)
    with pytest.raises(ProtocolError) as info:
        await edge.feed(b"fatal")
    assert info.value.close_code == 1008
    await session.stop()
    errors = [f for f in session.up if isinstance(f, ErrorFrame)]
    assert len(errors) == 5 and "garbled" in errors[0].error and "3 bytes" in errors[1].error
    assert edge.stats.protocol_errors == 2 and edge.stats.format_errors == 4
    assert len([f for f in session.down if isinstance(f, InputAudioFrame)]) == 2
    assert sum(session.task.stats.dropped.values()) == 6


async def test_input_edge_reports_only_the_first_errors_of_a_flood():
    edge = InputEdge(Faulty())
    session = await Running.start(edge)
    for _ in range(100):
        await edge.feed(b"bad")
    await session.stop()
    assert edge.stats.protocol_errors == 100
    assert len(session.up) == 10  # reported; the rest counted only


async def test_input_edge_refuses_input_once_the_session_is_over():
    edge = InputEdge(RawSerializer())
    session = await Running.start(edge)
    await edge.feed(bytes(640))
    await session.stop()
    with pytest.raises(SessionClosedError):
        await edge.feed(bytes(640))
    frame = InputAudioFrame(bytes(640), 16000, 1)
    assert [f for f in session.down if isinstance(f, InputAudioFrame)] == [frame]
    assert edge.stats.messages_in == 1


class Counting(RawSerializer):
    """Raw, counting the audio it decodes and encodes itself."""

    def __init__(self, pcm_binary: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pcm_binary = pcm_binary
        self.decoded = self.encoded = 0

    def decode(self, message):
        self.decoded += isinstance(message, bytes)
        return super().decode(message)

    def encode_audio(self, pcm):
        self.encoded += 1
        return super().encode_audio(pcm)


@pytest.mark.parametrize("pcm_binary", [True, False])
async def test_raw_pcm_passes_both_edges_as_is_and_bad_audio_is_still_refused(pcm_binary):
    serializer = Counting(pcm_binary)
    quick: list[bytes] = []
    inp = InputEdge(serializer)
    out = OutputEdge(serializer, Sent(), send_nowait=lambda m: quick.append(m) or True,
                     pace=False)
    session = await Running.start(inp, EchoProcessor(), out)
    messages = [bytes([i]) * 640 for i in range(5)]
    for message in messages:
        await inp.feed(message)
    await inp.feed(b"\x01\x02\x03")  # not whole samples: decode's ProtocolError
    await inp.feed(b"")  # carries nothing
    await inp.feed('{"hello": 1}')  # text still goes through decode
    await session.stop()
    assert quick[1:] == messages[1:]  # the first chunk starts the utterance (awaited send)
    assert inp.stats.protocol_errors == 1 and inp.stats.frames_in == 6
    # With pcm_binary the serializer saw only what is not plain audio.
    assert serializer.decoded == (2 if pcm_binary else 7)
    assert serializer.encoded == (1 if pcm_binary else 5)


async def test_raw_pcm_in_another_format_is_still_converted():
    edge = InputEdge(RawSerializer(sample_rate=8000))
    session = await Running.start(edge, sample_rate=16000)
    await edge.feed(bytes(320))
    await session.stop()
    (frame,) = [f for f in session.down if isinstance(f, InputAudioFrame)]
    assert frame.sample_rate == 16000


async def test_input_edge_vad_emits_speaking_events_and_interrupts():
    from wavewire.audio.vad import VAD, EnergyVAD, VADParams

    vad = VAD(EnergyVAD(16000), VADParams(start_ms=60, stop_ms=200))
    edge = InputEdge(RawSerializer(), vad=vad)
    session = await Running.start(edge)
    for chunk in [silence(20, 16000)] * 10 + [tone(20, 16000)] * 20 + [silence(20, 16000)] * 20:
        await edge.feed(chunk)
    await session.stop()
    down = session.down
    kinds = [type(f) for f in down if not isinstance(f, InputAudioFrame | StartFrame | EndFrame)]
    assert kinds == [UserStartedSpeakingFrame, InterruptionFrame, UserStoppedSpeakingFrame]
    assert session.task.epoch == 1
    # Audio is never dropped by the interruption it caused.
    assert len([f for f in down if isinstance(f, InputAudioFrame)]) == 50


# --- output edge ------------------------------------------------------------------


class Bot(FrameProcessor):
    """A processor to push frames from, as a TTS service would."""


class Playback:
    """An OutputEdge at the end of a session on a FakeClock, a ``bot`` to push frames
    from, everything the edge sends (``sent``) and what reaches each end (``up``, ``down``)."""

    def __init__(self, serializer: FrameSerializer | None = None, **edge_kw) -> None:
        self.clock = FakeClock()
        self.sent = Sent(self.clock)
        self.bot = Bot()
        self.edge = OutputEdge(serializer or RawSerializer(), self.sent, **edge_kw)
        self.task = PipelineTask([self.bot, self.edge], clock=self.clock)
        self.up: list = []
        self.down: list = []
        self.task.set_taps(down=self.down.append, up=self.up.append)

    @classmethod
    async def start(cls, serializer: FrameSerializer | None = None, **edge_kw) -> Playback:
        pb = cls(serializer, **edge_kw)
        pb.runner = await start_task(pb.task)
        return pb

    async def finish(self, settle: float = 1.0) -> None:
        """End the session; the clock runs until the playback queue has drained."""
        await self.task.stop_when_done()
        await self.clock.advance(settle)
        for _ in range(400):
            if self.runner.done():
                break
            await self.clock.advance(0.05)
        await asyncio.wait_for(self.runner, 2)


async def test_output_edge_paces_in_real_time_from_the_media_clock():
    pb = await Playback.start(max_lead=0.04)
    await pb.bot.push(OutputAudioFrame(tone(1000, 16000), 16000))  # 1 s at once (fast TTS)
    await pb.clock.advance(0)  # let the player run at t=0
    for _ in range(60):
        await pb.clock.advance(0.02)
    await pb.finish(1)
    audio = pb.sent.audio()
    assert len(audio) == 50 and all(len(m) == 640 for _, m in audio)
    for i, (t, _) in enumerate(audio):
        # chunk i is due at i*20 ms; it may go up to max_lead early, never late here
        assert i * 0.02 - 0.04 - 1e-9 <= t <= i * 0.02 + 1e-9, (i, t)
    assert pb.edge.stats.audio_ms_sent == pytest.approx(1000)


async def test_output_edge_catches_up_after_a_stall_without_lasting_delay():
    pb = await Playback.start(max_lead=0.0)
    # Real-time producer: 20 ms every 20 ms, with a 100 ms stall after 1 s.
    for i in range(100):
        await pb.bot.push(OutputAudioFrame(tone(20, 16000), 16000))
        await pb.clock.advance(0.12 if i == 50 else 0.02)
    await pb.finish(1)
    audio = pb.sent.audio()
    assert len(audio) == 100
    # After the stall the sender catches up: the last chunks are back on the original
    # timeline (chunk i at i*20 ms + the 100 ms hole it could not fill), not later.
    t_last, _ = audio[-1]
    assert t_last <= 99 * 0.02 + 0.1 + 1e-9


async def test_barge_in_clears_the_queue_within_one_frame_and_reports_what_was_heard():
    pb = await Playback.start(max_lead=0.0)
    up = pb.up
    down = pb.down
    await pb.bot.push(TTSStartedFrame())
    words = ["one", "two", "three", "four"]
    for w in words:  # each word: a text frame then 500 ms of audio
        await pb.bot.push(TextFrame(w))
        await pb.bot.push(OutputAudioFrame(tone(500, 16000), 16000))
    await pb.bot.push(TTSStoppedFrame())
    await pb.clock.advance(0.7)  # "one" and part of "two" played
    chunks_before = len(pb.sent.audio())
    await pb.task.interrupt()
    await pb.clock.advance(0.02)
    assert len(pb.sent.audio()) <= chunks_before + 1  # within one frame
    await pb.clock.advance(2.0)
    assert len(pb.sent.audio()) <= chunks_before + 1  # and nothing after
    await pb.finish(0.5)
    played = [f for f in up if isinstance(f, BotUtterancePlayedFrame)]
    assert len(played) == 1 and played[0].interrupted
    assert played[0].played_ms == pytest.approx(len(pb.sent.audio()) * 20)
    assert 680 <= played[0].played_ms <= 760
    assert played[0].total_ms >= 2000
    assert played[0].text == "one two"
    kinds = [type(f) for f in up]
    assert kinds.index(BotStartedSpeakingFrame) < kinds.index(BotStoppedSpeakingFrame)
    stopped = [f for f in up if isinstance(f, BotStoppedSpeakingFrame)]
    assert len(stopped) == 1 and stopped[0].interrupted
    assert pb.edge.stats.dropped > 0
    # The control frame queued behind the audio survived the interruption.
    assert TTSStoppedFrame in [type(f) for f in down]


async def test_uninterrupted_utterance_is_reported_whole_after_playback_ends():
    pb = await Playback.start(max_lead=0.0, stop_grace=0.1)
    up = pb.up
    await pb.bot.push(TextFrame("hello"))
    await pb.bot.push(OutputAudioFrame(tone(300, 16000), 16000))
    await pb.clock.advance(0.3)
    assert not any(isinstance(f, BotStoppedSpeakingFrame) for f in up)  # still playing
    await pb.clock.advance(0.2)
    stopped = [f for f in up if isinstance(f, BotStoppedSpeakingFrame)]
    assert len(stopped) == 1 and not stopped[0].interrupted
    played = next(f for f in up if isinstance(f, BotUtterancePlayedFrame))
    assert played.played_ms == pytest.approx(300) and not played.interrupted
    await pb.finish(0.1)


class Marks(RawSerializer):
    """A raw wire that echoes marks, like Twilio."""

    playback_marks = True
    protocol = "marks"

    def encode(self, frame):
        if isinstance(frame, PlaybackMarkFrame):
            return [f"mark:{frame.name}"]
        if isinstance(frame, InterruptionFrame):
            return ["clear"]
        return super().encode(frame)


async def test_with_marks_the_bot_stops_speaking_when_the_last_mark_comes_back():
    pb = await Playback.start(Marks(), max_lead=0.0)
    up = pb.up
    await pb.bot.push(OutputAudioFrame(tone(200, 16000), 16000))
    await pb.bot.push(TTSStoppedFrame())
    await pb.clock.advance(1.0)
    marks = [m for _, m in pb.sent.messages if isinstance(m, str) and m.startswith("mark:")]
    assert len(marks) == 1
    assert not any(isinstance(f, BotStoppedSpeakingFrame) for f in up)  # peer still playing
    await pb.bot.push(PlaybackMarkFrame(marks[0][5:]))  # the echo arrives
    await pb.clock.advance(0.01)
    assert any(isinstance(f, BotStoppedSpeakingFrame) for f in up)
    await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))
    await pb.clock.advance(0.01)
    await pb.task.interrupt()
    assert "clear" in [m for _, m in pb.sent.messages]
    await pb.finish(0.5)


async def test_end_frame_drains_the_playback_queue_then_closes_the_protocol():

    class Closing(RawSerializer):
        def close(self):
            return ["bye"]

    pb = await Playback.start(Closing(), max_lead=0.0)
    await pb.bot.push(OutputAudioFrame(tone(510, 16000), 16000))  # 25.5 chunks
    await pb.bot.push(OutputTransportMessageFrame({"after": "audio"}))
    await pb.task.stop_when_done()
    for _ in range(40):
        await pb.clock.advance(0.02)
    await asyncio.wait_for(pb.runner, 2)
    msgs = [m for _, m in pb.sent.messages]
    assert len([m for m in msgs if isinstance(m, bytes)]) == 26  # last chunk padded
    # The message follows every full chunk; only the partial tail may come after it.
    assert msgs.index('{"after":"audio"}') == 25
    assert msgs[-1] == "bye" and len(msgs[-2]) == 640


async def test_back_pressure_waits_instead_of_dropping():
    pb = await Playback.start(max_queue_ms=200, max_lead=0.0)
    async def produce():
        await pb.bot.push(OutputAudioFrame(tone(1000, 16000), 16000))
        for _ in range(5):
            await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))

    producer = asyncio.create_task(produce())
    await pb.clock.advance(0)
    assert not producer.done()  # waiting for space
    assert pb.edge.player.queued_ms <= 200
    for _ in range(100):
        await pb.clock.advance(0.02)
        assert pb.edge.player.queued_ms <= 200
    await asyncio.wait_for(producer, 1)
    await pb.finish(1)
    assert sum(len(m) for _, m in pb.sent.audio()) == 2 * 16000 * 1.5
    assert pb.edge.stats.dropped == 0


async def test_a_long_tts_utterance_held_back_by_a_full_queue_stays_paced():
    # 5 s of audio pushed as fast as a 1 s queue allows: the producer then delivers at
    # real time, far ahead of its due times; it must not be mistaken for a live stream
    # anchored late (whose timeline would be moved earlier, sending a burst).
    pb = await Playback.start(max_queue_ms=1000, max_lead=0.04)

    async def produce():
        for _ in range(50):
            await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))

    producer = asyncio.create_task(produce())
    await pb.clock.advance(0)
    for _ in range(300):
        await pb.clock.advance(0.02)
    await asyncio.wait_for(producer, 1)
    await pb.finish(1)
    audio = pb.sent.audio()
    assert len(audio) == 250
    assert max(i * 0.02 - t for i, (t, _) in enumerate(audio)) <= 0.04 + 1e-6  # the lead
    assert pb.edge._pacer.realigns == 0


async def test_send_nowait_is_used_when_it_can_and_send_when_it_cannot():
    # The session's send_nowait writes at once unless the socket's buffer is full (False):
    # the edge then awaits send. Either way every chunk goes out once, in order.
    sent = Sent()
    full = [False]
    quick: list[bytes] = []

    def send_nowait(message):
        if full[0]:
            return False
        quick.append(message)
        return True

    edge = OutputEdge(RawSerializer(), sent, send_nowait=send_nowait, pace=False)
    bot = Bot()
    session = await Running.start(bot, edge)
    chunks = [bytes([i]) * 640 for i in range(6)]
    for i, chunk in enumerate(chunks):
        full[0] = i % 2 == 1
        await bot.push(OutputAudioFrame(chunk, 16000))
    await session.stop()
    assert quick == chunks[0::2] and [m for _, m in sent.audio()] == chunks[1::2]
    assert edge.stats.messages_out == 6 and edge.stats.send_errors == 0


async def test_a_failing_send_nowait_is_counted_and_the_session_goes_on():
    def gone(message):
        raise ConnectionResetError("peer went away")

    edge = OutputEdge(RawSerializer(), Sent(), send_nowait=gone, pace=False)
    bot = Bot()
    session = await Running.start(bot, edge)
    for _ in range(3):
        await bot.push(OutputAudioFrame(bytes(640), 16000))
    await session.stop()
    assert edge.stats.send_errors == 3 and edge.stats.messages_out == 0
    assert session.task.stats.dropped == {f"{edge.name}:send-failed": 3}


async def test_an_audio_chunk_the_protocol_refuses_is_reported_once_and_counted():
    class Picky(RawSerializer):
        pcm_binary = False  # its audio messages are no longer the PCM itself

        def encode_audio(self, pcm):
            if pcm[0] == 0xEE:
                raise ValueError("refused")
            return super().encode_audio(pcm)

    quick: list[bytes] = []
    edge = OutputEdge(Picky(), Sent(), send_nowait=lambda m: quick.append(m) or True,
                      pace=False)
    bot = Bot()
    session = await Running.start(bot, edge)
    chunks = [b"\x01" * 640, b"\xee" * 640, b"\x02" * 640, b"\xee" * 640]
    for chunk in chunks:  # the first starts the utterance; the rest take the inline path
        await bot.push(OutputAudioFrame(chunk, 16000))
    await session.stop()
    assert quick == [chunks[0], chunks[2]]
    errors = [f for f in session.up if isinstance(f, ErrorFrame)]
    assert len(errors) == 2 and all("refused" in e.error for e in errors)
    assert session.task.stats.dropped == {f"{edge.name}:encode": 2}
    assert edge._pacer.samples_sent == 4 * 320  # the timeline moved past every chunk


async def test_output_edge_converts_to_the_wire_format():
    pb = await Playback.start(RawSerializer(sample_rate=8000), max_lead=0.0)
    await pb.bot.push(OutputAudioFrame(tone(200, 16000, channels=2), 16000, 2))
    await pb.finish(1)
    audio = pb.sent.audio()
    assert all(len(m) == 320 for _, m in audio)  # 20 ms of 8 kHz mono
    assert 9 <= len(audio) <= 11
    assert pb.edge.serializer.wire == WireFormat(sample_rate=8000)


async def _live_stream_with_stall(stall_frames: int) -> tuple[list, float]:
    """A live 20 ms producer that stalls, then delivers its backlog at once and goes on
    on its original schedule (what a peer's TCP does after a network hiccup)."""
    pb = await Playback.start(max_lead=0.0)
    frame = tone(20, 16000)
    for i in range(150):
        if 50 <= i < 50 + stall_frames:
            await pb.clock.advance(0.02)  # nothing arrives during the stall
            continue
        if i == 50 + stall_frames:
            for _ in range(stall_frames):  # the backlog, all at once
                await pb.bot.push(OutputAudioFrame(frame, 16000))
        await pb.bot.push(OutputAudioFrame(frame, 16000))
        await pb.clock.advance(0.02)
    await pb.finish(1)
    audio = pb.sent.audio()
    return audio, audio[-1][0]


@pytest.mark.parametrize("stall_ms", [100, 300])
async def test_a_stall_in_a_live_stream_adds_no_lasting_delay(stall_ms):
    audio, last = await _live_stream_with_stall(stall_ms // 20)
    assert len(audio) == 150
    # The last chunk goes out on the original timeline (due at 149 * 20 ms), not
    # stall_ms later: the backlog was sent at once to catch up.
    assert last <= 149 * 0.02 + 0.021


async def test_after_a_long_silence_the_timeline_restarts_instead_of_bursting():
    pb = await Playback.start(max_lead=0.0, reset_after=0.5)
    await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))
    await pb.clock.advance(3.0)  # the pb.bot says nothing for a while
    await pb.bot.push(OutputAudioFrame(tone(200, 16000), 16000))  # a new burst of 10 chunks
    await pb.clock.advance(0)
    second = [t for t, _ in pb.sent.audio()][5:]
    assert len(second) == 1 and second[0] == pytest.approx(3.0)  # paced, not all at once
    for _ in range(15):
        await pb.clock.advance(0.02)
    second = [t for t, _ in pb.sent.audio()][5:]
    assert [round(t - 3.0, 3) for t in second] == [round(0.02 * i, 3) for i in range(10)]
    await pb.finish(1)


async def test_a_new_tts_utterance_starts_a_fresh_timeline():
    pb = await Playback.start(max_lead=0.0, stop_grace=0.05, reset_after=5.0)
    await pb.bot.push(TTSStartedFrame())
    await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))
    await pb.bot.push(TTSStoppedFrame())
    await pb.clock.advance(0.4)  # played out, pb.bot stopped; a short pause
    await pb.bot.push(TTSStartedFrame())
    await pb.bot.push(OutputAudioFrame(tone(100, 16000), 16000))
    await pb.clock.advance(0)
    # Without the fresh timeline the whole second utterance would be "late" and burst.
    assert len(pb.sent.audio()) == 6
    await pb.finish(1)

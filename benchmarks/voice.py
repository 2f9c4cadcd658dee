"""Voice-to-voice latency of the offline assistant: end of the user's speech → the first
byte of the bot's audio on the wire.

Run from a checkout (needs the ``offline`` extra)::

    python benchmarks/voice.py            # 24 turns
    python benchmarks/voice.py --smoke    # 3 turns, to check it runs
    python benchmarks/voice.py --turns 40 --json voice.json

What runs: ``wavewire serve``'s assistant (its default settings: WebRTC VAD with a 200 ms
stop, pocketsphinx on the responder's grammar, the local responder, espeak-ng) in a
:class:`~wavewire.transports.server.WebSocketServer` on loopback, and a client in the same
process that streams a microphone in real time over ``/ws`` (20 ms chunks of raw PCM,
silence between questions) and asks short questions spoken by espeak-ng ("What time is
it?", sums, the date, "say good morning"), waiting for each answer to finish.

Each turn's latency runs from the moment the client sent the chunk holding the last
audible sample of the question to the moment the first chunk of the answer's audio
arrived. Probes between the bot's processors (a direct call each, well under a
microsecond) split it into stages, on the same clock:

* ``vad stop``: the silence the VAD needs (``vad_stop_ms``) and its 20 ms framing;
* ``stt final``: the VAD's stop to pocketsphinx's final transcript (the rest of the
  decoding, on a thread);
* ``turn end``: the final transcript to the end of the user's turn (``stt_stop_secs``);
* ``responder``: the end of the turn to the responder's text (its tool round included);
* ``tts first audio``: the text to espeak-ng's first audio frame (the first sentence's
  synthesis, on a thread);
* ``framework``: that audio frame to its bytes at the client (the output edge, the
  socket, the client's read): wavewire's own share, plus the loopback.

Then ``--barge-ins`` times it asks for a long answer ("Tell me a joke." gets the
responder's explanation of what it can do) and talks over it a second into its audio:
from the VAD's start (``vad_start_ms`` of speech in) and from the first word sent, to
the last byte of the interrupted answer's audio at the client. The audio goes out paced
in 20 ms chunks, so a negative figure means the chunk after the VAD's start never left.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from _common import machine_info, percentile, print_table, quiet_logs, write_json

QUESTIONS = ["What time is it?", "What is three plus four?", "What is the date today?",
             "What is twelve times seven?", "Say good morning.", "How much is nine minus two?"]
RATE = 16000
CHUNK = 640  # 20 ms
STAGES = ["vad stop", "stt final", "turn end", "responder", "tts first audio", "framework"]


class Probe:
    """Times when chosen frame types pass one point of the pipeline."""

    def __init__(self, marks: dict[str, float], kinds: dict[type, str]) -> None:
        self.marks = marks
        self.kinds = kinds

    def processor(self) -> Any:
        from wavewire.processors.base import DOWNSTREAM, FrameProcessor

        marks, kinds = self.marks, self.kinds

        class _Probe(FrameProcessor):
            async def process_frame(self, frame: Any, direction: Any) -> None:
                name = kinds.get(type(frame))
                if name is not None and direction is DOWNSTREAM and name not in marks:
                    marks[name] = time.monotonic()
                await self.push(frame, direction)

        return _Probe()


def probed_bot(marks: dict[str, float]) -> Any:
    """The assistant with probes after the input edge, the STT, the turn taking, the LLM
    and the TTS."""
    from wavewire.bots.assistant import AssistantBot, AssistantConfig
    from wavewire.frames import (
        LLMTextFrame,
        TranscriptionFrame,
        TTSAudioFrame,
        UserStoppedSpeakingFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )

    config = AssistantConfig(llm="local", greet_after=None)

    class Probed(AssistantBot):
        def __call__(self, info: Any = None) -> list[Any]:
            relay, stt, turns, user, greeter, llm, tap, sentences, tts, *rest = super().__call__(info)
            return [relay, Probe(marks, {VADUserStoppedSpeakingFrame: "vad",
                                  VADUserStartedSpeakingFrame: "vad start"}).processor(), stt,
                    Probe(marks, {TranscriptionFrame: "final"}).processor(), turns,
                    Probe(marks, {UserStoppedSpeakingFrame: "turn"}).processor(), user,
                    greeter, llm, Probe(marks, {LLMTextFrame: "text"}).processor(), tap,
                    sentences, tts, Probe(marks, {TTSAudioFrame: "audio"}).processor(), *rest]

    return Probed(config)



async def speech(text: str) -> bytes:
    """``text`` by espeak-ng, trimmed to its audible part."""
    from wavewire.services.espeak_engine import DEFAULT_VOICE, EspeakEngine

    pcm = bytes((await EspeakEngine.shared().run(text, voice=DEFAULT_VOICE, out_rate=RATE)).pcm)
    import numpy as np

    samples = np.frombuffer(pcm, "<i2")
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[loud[0]:loud[-1] + 1].tobytes()


class Microphone:
    """Streams 20 ms chunks in real time: queued speech, else silence."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending = b""
        self.end_of_speech = 0.0
        self.spoken = asyncio.Event()

    def say(self, pcm: bytes) -> None:
        self.pending = pcm + bytes(len(pcm) % CHUNK and CHUNK - len(pcm) % CHUNK)
        self.spoken.clear()

    async def run(self) -> None:
        start, sent = time.monotonic(), 0
        while True:
            delay = start + sent * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            chunk, self.pending = self.pending[:CHUNK] or bytes(CHUNK), self.pending[CHUNK:]
            await self.ws.send(chunk)
            sent += 1
            if chunk.strip(b"\0") and not self.pending:
                self.end_of_speech = time.monotonic()
                self.spoken.set()


class Listener:
    """What the client hears: arrival times of the bot's audio and of its
    ``bot-stopped-speaking`` events."""

    def __init__(self, ws: Any, mic: Microphone) -> None:
        self.ws = ws
        self.mic = mic
        self.audio: list[float] = []
        self.stopped: list[float] = []
        self.changed = asyncio.Event()

    async def run(self) -> None:
        import json

        async for message in self.ws:
            if isinstance(message, bytes):
                self.audio.append(time.monotonic())
            elif json.loads(message).get("type") == "bot-stopped-speaking":
                self.stopped.append(time.monotonic())
            self.changed.set()

    async def until(self, predicate: Any, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def run(turns: int, barge_ins: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from wavewire.transports.server import WebSocketServer

    marks: dict[str, float] = {}
    bot = probed_bot(marks)
    server = WebSocketServer(bot, vad=bot.vad, vad_frames=True, host="127.0.0.1", port=0)
    await server.start()
    clips = [await speech(q) for q in QUESTIONS]
    long_answer = await speech("Tell me a joke.")
    rows: list[dict[str, float]] = []
    cuts: list[dict[str, float]] = []
    try:
        async with connect(f"ws://127.0.0.1:{server.port}/ws", proxy=None) as ws:
            mic = Microphone(ws)
            ear = Listener(ws, mic)
            tasks = [asyncio.get_running_loop().create_task(t) for t in (mic.run(), ear.run())]
            try:
                await asyncio.sleep(0.5)
                for n in range(turns):
                    row = await one_turn(mic, ear, clips[n % len(clips)], marks)
                    if row is None:
                        print(f"turn {n}: incomplete ({sorted(marks)}), skipped")
                    else:
                        rows.append(row)
                for _ in range(barge_ins):
                    cuts.append(await one_barge_in(mic, ear, long_answer, clips[0], marks))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks, timeout=5)
    finally:
        await server.close()
    return {"turns": rows, "barge_ins": cuts}


async def one_turn(mic: Microphone, ear: Listener, clip: bytes,
                   marks: dict[str, float]) -> dict[str, float] | None:
    """Ask one question and wait for the whole answer; its stage times."""
    marks.clear()
    heard, stops = len(ear.audio), len(ear.stopped)
    mic.say(clip)
    await asyncio.wait_for(mic.spoken.wait(), 30)
    eos = mic.end_of_speech
    await ear.until(lambda: len(ear.stopped) > stops)
    await asyncio.sleep(0.3)
    first = next((t for t in ear.audio[heard:] if t > eos), None)
    if first is None or len(marks) < 5:
        return None
    points = [eos, marks["vad"], marks["final"], marks["turn"], marks["text"], marks["audio"],
              first]
    row = {name: 1000 * (b - a) for name, a, b in
           zip(STAGES, points[:-1], points[1:], strict=True)}
    row["total"] = 1000 * (first - eos)
    return row


async def one_barge_in(mic: Microphone, ear: Listener, long_clip: bytes, clip: bytes,
                       marks: dict[str, float]) -> dict[str, float]:
    """Ask for a long answer, talk over it a second into its audio: from the VAD's start
    (and from the first word) to the last byte of the interrupted answer's audio."""
    stops = len(ear.stopped)
    mic.say(long_clip)
    await asyncio.wait_for(mic.spoken.wait(), 30)
    eos = mic.end_of_speech
    await ear.until(lambda: any(t > eos for t in ear.audio))
    await asyncio.sleep(1.0)
    marks.clear()
    onset = time.monotonic()
    mic.say(clip)
    await ear.until(lambda: len(ear.stopped) > stops)  # the long answer stopped
    cut = ear.stopped[stops]
    last = max(t for t in ear.audio if t <= cut)
    await ear.until(lambda: len(ear.stopped) > stops + 1)  # the next answer played
    await asyncio.sleep(0.3)
    return {"from vad start": 1000 * (last - marks["vad start"]),
            "from first word": 1000 * (last - onset)}


def report(rows: list[dict[str, float]]) -> dict[str, Any]:
    totals = [r["total"] for r in rows]
    mean_total = sum(totals) / len(totals)
    table = []
    summary: dict[str, Any] = {}
    for name in [*STAGES, "total"]:
        values = [r[name] for r in rows]
        p50, p95 = percentile(values, 50), percentile(values, 95)
        share = 100 * (sum(values) / len(values)) / mean_total
        summary[name] = {"p50_ms": p50, "p95_ms": p95, "share_pct": share}
        table.append([name, f"{p50:.1f}", f"{p95:.1f}", f"{share:.0f}%"])
    print_table(["stage", "p50 ms", "p95 ms", "share of mean"], table)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=24)
    parser.add_argument("--barge-ins", type=int, default=5,
                        help="interruptions of a long answer, after the turns")
    parser.add_argument("--smoke", action="store_true",
                        help="3 turns and 1 interruption, to check it runs")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    quiet_logs()
    turns = 3 if args.smoke else args.turns
    result = asyncio.run(run(turns, 1 if args.smoke else args.barge_ins))
    rows = result["turns"]
    if not rows:
        raise SystemExit("no complete turn")
    from wavewire.bots.assistant import AssistantConfig

    config = AssistantConfig()
    print(f"{len(rows)} turns; silence timeout: VAD stop {config.vad_stop_ms:.0f} ms, then "
          f"the final transcript + {1000 * config.stt_stop_secs:.0f} ms "
          f"(or {1000 * config.stop_secs:.0f} ms with no words)")
    summary = report(rows)
    cuts = result["barge_ins"]
    if cuts:
        print(f"\nbarge-in, {len(cuts)} times: the interrupted answer's last audio byte at "
              "the client")
        table = []
        for name in ("from vad start", "from first word"):
            values = [c[name] for c in cuts]
            table.append([name, f"{percentile(values, 50):.1f}", f"{max(values):.1f}"])
            summary[f"barge-in {name}"] = {"p50_ms": percentile(values, 50),
                                           "max_ms": max(values)}
        print_table(["barge-in", "p50 ms", "max ms"], table)
    if args.json:
        write_json(args.json, {"machine": machine_info(), "summary": summary, **result})


if __name__ == "__main__":
    main()

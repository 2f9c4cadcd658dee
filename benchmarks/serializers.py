"""Encode and decode cost per 20 ms audio frame, every wavewire protocol, side by side
with pipecat-ai 1.14's Twilio and Protobuf serializers in the same run.

    python benchmarks/serializers.py [--seconds 0.3]
    python benchmarks/serializers.py --smoke    # seconds (the suite runs it)

Each figure is the best of several timed runs of a tight loop (µs per frame). Pipecat's
serializers are async, so its loops await each call, as its transports do; Pipecat's
Twilio serializer is set up at 8 kHz so it does no resampling, like ours. If pipecat-ai
is not importable, only wavewire's figures are printed. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from wavewire.frames import OutputAudioFrame
from wavewire.serializers._proto import encode_varint
from wavewire.serializers.cloudflare import CloudflareAdapterSerializer
from wavewire.serializers.pipecat import PipecatSerializer
from wavewire.serializers.raw import RawSerializer
from wavewire.serializers.twilio import TwilioSerializer
from wavewire.serializers.vapi import VapiSerializer
from wavewire.serializers.videosdk import VideoSDKSerializer


def tone(rate: int, channels: int, ms: int = 20) -> bytes:
    n = rate * ms // 1000
    out = bytearray()
    for i in range(n):
        v = int(8000 * math.sin(2 * math.pi * 440 * i / rate)).to_bytes(2, "little", signed=True)
        out += v * channels
    return bytes(out)


def _plan(seconds: float) -> Generator[int, float, float]:
    """The timing plan shared by :func:`best_us` and :func:`abest_us`: yields how many
    calls to time next and receives how long they took; returns the best µs per call.
    Grows the batch by 4x until it takes over 10 ms, then takes the best of five batches
    sized to fill ``seconds`` in all."""
    n = 1
    while True:
        dt = yield n
        if dt > 0.01:
            break
        n *= 4
    per_run = max(1, int(n * (seconds / 5) / dt))
    best = math.inf
    for _ in range(5):
        best = min(best, (yield per_run) / per_run)
    return best * 1e6


def best_us(fn: Callable[[], Any], seconds: float) -> float:
    """µs per call: best of 5 runs, each sized to last about ``seconds`` / 5."""
    plan = _plan(seconds)
    n = next(plan)
    try:
        while True:
            t = time.perf_counter()
            for _ in range(n):
                fn()
            n = plan.send(time.perf_counter() - t)
    except StopIteration as done:
        return float(done.value)


async def abest_us(fn: Callable[[], Any], seconds: float) -> float:
    """Like :func:`best_us` for a coroutine function (awaited in the loop)."""
    plan = _plan(seconds)
    n = next(plan)
    try:
        while True:
            t = time.perf_counter()
            for _ in range(n):
                await fn()
            n = plan.send(time.perf_counter() - t)
    except StopIteration as done:
        return float(done.value)


def wavewire_rows(seconds: float) -> dict[str, tuple[float, float]]:
    rows: dict[str, tuple[float, float]] = {}

    twilio = TwilioSerializer()
    twilio.decode(json.dumps({"event": "start", "start": {"streamSid": "MZ1", "callSid": "CA1"}}))
    pcm8 = tone(8000, 1)
    [tw_msg] = twilio.encode(OutputAudioFrame(pcm8, 8000, 1))
    inbound = json.loads(tw_msg)
    inbound.update(
        sequenceNumber="3",
        media={**inbound["media"], "track": "inbound", "chunk": "2", "timestamp": "40"},
    )
    tw_in = json.dumps(inbound)
    f8 = OutputAudioFrame(pcm8, 8000, 1)
    rows["twilio (μ-law 8k)"] = (
        best_us(lambda: twilio.encode(f8), seconds),
        best_us(lambda: twilio.decode(tw_in), seconds),
    )

    pc = PipecatSerializer(16000, 1)
    f16 = OutputAudioFrame(tone(16000, 1), 16000, 1)
    [pc_msg] = pc.encode(f16)
    rows["pipecat protobuf (16k)"] = (
        best_us(lambda: pc.encode(f16), seconds),
        best_us(lambda: pc.decode(pc_msg), seconds),
    )

    ingest = CloudflareAdapterSerializer("ingest")
    stream = CloudflareAdapterSerializer("stream")
    f48 = OutputAudioFrame(tone(48000, 2), 48000, 2)
    payload = f48.audio
    seq = [0]

    def cf_decode() -> Any:
        # a fresh sequence number per call (so every packet is in order); building the
        # packet here costs about 0.5 µs of the figure
        seq[0] += 1
        s = seq[0]
        head = b"\x08" + encode_varint(s) + b"\x10" + encode_varint(s * 960 & 0xFFFFFFFF)
        return stream.decode(head + body)

    body = b"\x2a" + encode_varint(len(payload)) + payload

    rows["cloudflare (48k stereo)"] = (
        best_us(lambda: ingest.encode(f48), seconds),
        best_us(cf_decode, seconds),
    )

    vs = VideoSDKSerializer()
    [vs_msg] = vs.encode(f8)
    rows["videosdk (b64 8k)"] = (
        best_us(lambda: vs.encode(f8), seconds),
        best_us(lambda: vs.decode(vs_msg), seconds),
    )

    vp = VapiSerializer()
    [vp_msg] = vp.encode(f16)
    rows["vapi (pcm 16k)"] = (
        best_us(lambda: vp.encode(f16), seconds),
        best_us(lambda: vp.decode(vp_msg), seconds),
    )
    vpm = VapiSerializer("mulaw")
    [vpm_msg] = vpm.encode(f8)
    rows["vapi (μ-law 8k)"] = (
        best_us(lambda: vpm.encode(f8), seconds),
        best_us(lambda: vpm.decode(vpm_msg), seconds),
    )

    raw = RawSerializer(16000, 1)
    rows["raw (pcm 16k)"] = (
        best_us(lambda: raw.encode(f16), seconds),
        best_us(lambda: raw.decode(f16.audio), seconds),
    )
    return rows


async def pipecat_rows(seconds: float, tw_in: str, pc_msg: bytes) -> dict[str, tuple[float, float]]:
    import logging

    from loguru import logger

    logger.remove()  # pipecat logs at import and per frame at DEBUG; keep the figures clean
    logging.disable(logging.CRITICAL)
    from pipecat.frames.frames import OutputAudioRawFrame
    from pipecat.processors.frame_processor import FrameProcessorSetup
    from pipecat.serializers.protobuf import ProtobufFrameSerializer
    from pipecat.serializers.twilio import TwilioFrameSerializer

    rows: dict[str, tuple[float, float]] = {}
    tw = TwilioFrameSerializer(
        stream_sid="MZ1", params=TwilioFrameSerializer.InputParams(auto_hang_up=False)
    )
    setup = FrameProcessorSetup(
        clock=None,  # type: ignore[arg-type]
        task_manager=None,  # type: ignore[arg-type]
        pipeline_worker=None,  # type: ignore[arg-type]
        audio_in_sample_rate=8000,  # what a StartFrame(audio_in_sample_rate=8000) gives
    )
    await tw.setup(setup)
    f8 = OutputAudioRawFrame(audio=tone(8000, 1), sample_rate=8000, num_channels=1)
    rows["twilio (μ-law 8k)"] = (
        await abest_us(lambda: tw.serialize(f8), seconds),
        await abest_us(lambda: tw.deserialize(tw_in), seconds),
    )
    pb = ProtobufFrameSerializer()
    f16 = OutputAudioRawFrame(audio=tone(16000, 1), sample_rate=16000, num_channels=1)
    rows["pipecat protobuf (16k)"] = (
        await abest_us(lambda: pb.serialize(f16), seconds),
        await abest_us(lambda: pb.deserialize(pc_msg), seconds),
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=0.3, help="time per measurement")
    ap.add_argument("--smoke", action="store_true",
                    help="seconds in all: 5 ms per measurement (checks it still runs)")
    args = ap.parse_args()
    if args.smoke:
        args.seconds = 0.005

    ours = wavewire_rows(args.seconds)

    # the inbound messages pipecat decodes are the same bytes ours decoded
    twilio = TwilioSerializer("MZ1")
    [tw_msg] = twilio.encode(OutputAudioFrame(tone(8000, 1), 8000, 1))
    [pc_msg] = PipecatSerializer().encode(OutputAudioFrame(tone(16000, 1), 16000, 1))
    theirs: dict[str, tuple[float, float]] = {}
    try:
        import pipecat  # noqa: F401
    except Exception as exc:
        print(f"pipecat-ai not importable ({type(exc).__name__}); wavewire figures only\n")
    else:
        theirs = asyncio.run(pipecat_rows(args.seconds, tw_msg, pc_msg))

    print(
        f"µs per 20 ms frame (best of 5, {args.seconds:g} s each), Python {sys.version.split()[0]}"
    )
    head = f"{'protocol':<26}{'encode':>9}{'decode':>9}"
    if theirs:
        head += f"{'pipecat enc':>13}{'pipecat dec':>13}{'enc x':>8}{'dec x':>8}"
    print(head)
    print("-" * len(head))
    for name, (enc, dec) in ours.items():
        line = f"{name:<26}{enc:>9.2f}{dec:>9.2f}"
        if name in theirs:
            penc, pdec = theirs[name]
            line += f"{penc:>13.2f}{pdec:>13.2f}{penc / enc:>8.1f}{pdec / dec:>8.1f}"
        print(line)
    if theirs:
        print("\nx = pipecat-ai time / wavewire time (higher is better for wavewire)")


if __name__ == "__main__":
    main()

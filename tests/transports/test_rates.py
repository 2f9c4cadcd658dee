"""Which sample rates each route accepts, and what an odd rate costs (issue 15, hole 3):
``/ws`` and ``/pipecat`` take ``?sample_rate=`` from STANDARD_RATES, ``/vapi`` too (pcm)
or 8 kHz (mulaw), and ``/pipecat`` refuses inbound audio at any other rate with a
ProtocolError; a resampler for an odd pair is refused before anything is designed, and
the design cache is bounded."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from websockets.asyncio.client import connect

from wavewire.audio.resample import (
    DESIGN_CACHE_SIZE,
    MAX_TABLE_TAPS,
    STANDARD_RATES,
    StreamResampler,
    design_cache_info,
    table_taps,
)
from wavewire.errors import FrameFormatError, ProtocolError
from wavewire.serializers._proto import encode_varint, field_bytes
from wavewire.serializers.pipecat import PipecatSerializer
from wavewire.serializers.vapi import VapiServerSerializer

from .conftest import http_get, pcm, running, wait_for, ws_url


def _audio_frame(audio: bytes, rate: int, channels: int = 1) -> bytes:
    body = (field_bytes(0x1A, audio) + b"\x20" + encode_varint(rate)
            + b"\x28" + encode_varint(channels))
    return field_bytes(0x12, body)


@pytest.mark.parametrize(("a", "b"), [(383_999, 16_000), (16_000, 191_999), (16_001, 48_000)])
def test_an_odd_rate_pair_is_refused_before_anything_is_designed(a, b):
    assert table_taps(a, b) > MAX_TABLE_TAPS
    tracemalloc.start()
    try:
        with pytest.raises(FrameFormatError, match="bounded cost"):
            StreamResampler(a, b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024  # no filter was built (the 383 999 Hz one took 1.46 GB)


def test_every_standard_pair_is_within_the_bound_and_converts():
    for a, b in itertools.permutations(sorted(STANDARD_RATES), 2):
        assert table_taps(a, b) <= MAX_TABLE_TAPS
    r = StreamResampler(32000, 11025)  # the largest standard table
    out = r.process(pcm(640))
    assert len(out) % 2 == 0 and r.delay_ms > 0


def test_the_design_cache_is_bounded():
    pairs = list(itertools.permutations(sorted(STANDARD_RATES), 2))
    assert len(pairs) > DESIGN_CACHE_SIZE
    for a, b in pairs:
        StreamResampler(a, b)
        count, taps = design_cache_info()
        assert count <= DESIGN_CACHE_SIZE
        assert taps <= DESIGN_CACHE_SIZE * MAX_TABLE_TAPS


@pytest.mark.parametrize(("rate", "channels"), [(383_999, 1), (191_999, 1), (96_000, 1),
                                                (16_000, 3), (44_100, 1 << 20)])
def test_pipecat_refuses_audio_at_a_rate_it_does_not_accept(rate, channels):
    ser = PipecatSerializer()
    with pytest.raises(ProtocolError, match="mono or stereo"):
        ser.decode(_audio_frame(pcm(160, channels=min(channels, 3)), rate, channels))
    for ok in sorted(STANDARD_RATES):
        (frame,) = ser.decode(_audio_frame(pcm(160), ok))
        assert frame.sample_rate == ok


@pytest.mark.parametrize("rate", [191_999, 383_999, 3000, 96_000, 16_000.5])
def test_vapi_refuses_a_rate_it_does_not_accept(rate):
    with pytest.raises(ValueError, match="sample_rate must be one of"):
        VapiServerSerializer("pcm_s16le", rate)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/vapi?sample_rate=191999", "/ws?sample_rate=383999",
                                  "/pipecat?sample_rate=96000", "/vapi?format=mulaw&sample_rate=16000"])
async def test_routes_refuse_an_unaccepted_rate_at_the_handshake(path):
    async with running() as server:
        status, _, body = await http_get(
            server, path,
            {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="},
        )
        assert status == 400, body
        assert b"sample_rate" in body or b"mulaw" in body
        assert not server.sessions


async def test_pipecat_audio_at_an_odd_rate_is_counted_and_the_session_goes_on():
    async with running() as server:
        async with connect(ws_url(server, "/pipecat"), proxy=None) as ws:
            await ws.send(_audio_frame(pcm(3840), 383_999))
            await wait_for(lambda: server.sessions
                           and server.sessions[0].input_edge.stats.protocol_errors == 1)
            audio = pcm(320, 5)
            await ws.send(_audio_frame(audio, 16000))
            got = await ws.recv()
            assert isinstance(got, bytes) and audio in got
            assert server.sessions[0].live

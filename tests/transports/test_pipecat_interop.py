"""Interop with the real ``pipecat-ai`` package: Pipecat's protobuf serializer and
WebSocket client transport against a wavewire server running the echo bot, and a
wavewire client against Pipecat's ``WebsocketServerTransport``."""

from __future__ import annotations

import asyncio
import socket

import pytest
from websockets.asyncio.client import connect

from .._optional import need
from .conftest import pcm, running, wait_for, ws_url

pytestmark = [
    pytest.mark.pipecat,
    pytest.mark.usefixtures("no_leaked_tasks"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # Pipecat 1.x renames
]

pipecat_frames = need("pipecat.frames.frames")
pipecat_protobuf = need("pipecat.serializers.protobuf")


def _audio_params() -> dict[str, object]:
    """Transport params both pipecat ends use: 16 kHz audio both ways, protobuf frames."""
    return {
        "audio_in_enabled": True,
        "audio_out_enabled": True,
        "audio_in_sample_rate": 16000,
        "audio_out_sample_rate": 16000,
        "add_wav_header": False,
        "serializer": pipecat_protobuf.ProtobufFrameSerializer(),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_pipecat_serializer_over_websockets_to_wavewire_echo():
    ser = pipecat_protobuf.ProtobufFrameSerializer()
    async with running() as server:
        audio = pcm(960, seed=9)  # 60 ms at 16 kHz
        async with connect(ws_url(server, "/pipecat"), proxy=None) as ws:
            for i in range(0, len(audio), 640):
                frame = pipecat_frames.OutputAudioRawFrame(
                    audio=audio[i : i + 640], sample_rate=16000, num_channels=1
                )
                await ws.send(await ser.serialize(frame))
            await ws.send(await ser.serialize(pipecat_frames.TextFrame(text="hi")))
            got = b""
            async with asyncio.timeout(10):
                while len(got) < len(audio):
                    frame = await ser.deserialize(await ws.recv())
                    assert isinstance(frame, pipecat_frames.InputAudioRawFrame)
                    assert (frame.sample_rate, frame.num_channels) == (16000, 1)
                    got += frame.audio
        assert got == audio
        await wait_for(lambda: not server.sessions)
        assert server.metrics.ended.protocol_errors == 0


async def test_pipecat_client_transport_to_wavewire_echo():
    """Pipecat's own WebsocketClientTransport in a Pipecat pipeline: audio it sends out
    comes back from wavewire's echo bot into its input transport."""
    ws_client = need("pipecat.transports.websocket.client")
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineTask
    from pipecat.processors.frame_processor import FrameProcessor

    received = bytearray()

    class Sink(FrameProcessor):
        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            if isinstance(frame, pipecat_frames.InputAudioRawFrame):
                received.extend(frame.audio)
            await self.push_frame(frame, direction)

    async with running() as server:
        transport = ws_client.WebsocketClientTransport(
            ws_url(server, "/pipecat"),
            ws_client.WebsocketClientParams(**_audio_params()),
        )
        pipeline = Pipeline([transport.input(), Sink(), transport.output()])
        task = PipelineTask(pipeline)
        runner = PipelineRunner(handle_sigint=False)
        run = asyncio.ensure_future(runner.run(task))
        try:
            await wait_for(lambda: len(server.sessions) == 1, timeout=20)
            audio = pcm(2560, seed=4)  # 160 ms: whole 40 ms chunks of Pipecat's output
            await task.queue_frame(pipecat_frames.OutputAudioRawFrame(
                audio=audio, sample_rate=16000, num_channels=1))
            await wait_for(lambda: len(received) >= len(audio), timeout=20)
            assert bytes(received[: len(audio)]) == audio
        finally:
            await task.cancel()
            async with asyncio.timeout(20):
                await run
        await wait_for(lambda: not server.sessions)


async def test_wavewire_client_to_pipecat_server_transport():
    """wavewire's WebSocketClient + PipecatSerializer against Pipecat's
    WebsocketServerTransport running a Pipecat echo pipeline."""
    ws_server = need("pipecat.transports.websocket.server")
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineTask
    from pipecat.processors.frame_processor import FrameProcessor

    from wavewire.serializers.pipecat import PipecatSerializer
    from wavewire.transports.client import Backoff, WebSocketClient

    class PipecatEcho(FrameProcessor):
        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            if isinstance(frame, pipecat_frames.InputAudioRawFrame):
                await self.push_frame(pipecat_frames.OutputAudioRawFrame(
                    audio=frame.audio, sample_rate=frame.sample_rate,
                    num_channels=frame.num_channels))
            else:
                await self.push_frame(frame, direction)

    port = _free_port()
    transport = ws_server.WebsocketServerTransport(
        ws_server.WebsocketServerParams(**_audio_params()),
        host="127.0.0.1",
        port=port,
    )
    ready = asyncio.Event()
    async def on_ready(*_args):
        ready.set()

    transport.add_event_handler("on_websocket_ready", on_ready)
    task = PipelineTask(Pipeline([transport.input(), PipecatEcho(), transport.output()]))
    runner = PipelineRunner(handle_sigint=False)
    run = asyncio.ensure_future(runner.run(task))
    received = bytearray()
    ser = PipecatSerializer(16000, 1)

    async def on_message(message):
        for frame in ser.decode(message):
            received.extend(getattr(frame, "audio", b""))

    client = WebSocketClient(f"ws://127.0.0.1:{port}/", lambda: ser,
                             reconnect=Backoff(initial=0.05, max_attempts=40))
    try:
        async with asyncio.timeout(20):
            await ready.wait()
        await client.connect(on_message)
        audio = pcm(2560, seed=6)  # whole 40 ms chunks of Pipecat's output
        from wavewire.frames import OutputAudioFrame

        for i in range(0, len(audio), 640):
            await client.send_frame(OutputAudioFrame(audio[i : i + 640], 16000, 1))
        await wait_for(lambda: len(received) >= len(audio), timeout=20)
        assert bytes(received[: len(audio)]) == audio
    finally:
        await client.close()
        await task.cancel()
        async with asyncio.timeout(20):
            await run

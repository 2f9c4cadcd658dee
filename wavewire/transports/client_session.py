"""A bot session whose transport is a :class:`~wavewire.transports.client.WebSocketClient`
(``wavewire connect``): the client's reader feeds the input edge, the output edge sends
through the client.

The pipeline starts first (so the input edge knows the pipeline's format), then the
client connects, its reader task owned by the session's task group. The session ends when the pipeline ends (the client then closes with
1000) or when the client stops for good (the session is cancelled). Reconnects in
between are the client's business: the session goes on, and output produced meanwhile
follows the client's buffer policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..pipelines.task import PipelineParams, PipelineTask
from .edges import InputEdge, OutputEdge

if TYPE_CHECKING:
    from ..audio.vad import VAD
    from ..processors.base import FrameProcessor
    from .client import WebSocketClient

__all__ = ["ClientSession"]


class ClientSession:
    """Runs ``processors`` between edges over ``client``.

    :param client: a client not yet connected; its serializer is the session's.
    :param processors: the bot.
    :param params: pipeline settings.
    :param vad: a per-session VAD for the input edge.
    :param pace: pace output audio in real time.
    :param start_timeout: deadline for the pipeline to start.
    """

    def __init__(
        self,
        client: WebSocketClient,
        processors: Sequence[FrameProcessor],
        *,
        params: PipelineParams | None = None,
        vad: VAD | None = None,
        pace: bool = True,
        start_timeout: float = 10.0,
    ) -> None:
        self.client = client
        self.input_edge = InputEdge(client.serializer, vad=vad)
        self.output_edge = OutputEdge(client.serializer, client.send, pace=pace)
        self.task = PipelineTask([self.input_edge, *processors, self.output_edge], params=params)
        self.start_timeout = start_timeout
        self._started = asyncio.Event()
        self.task.add_event_handler("on_pipeline_started", lambda *_: self._started.set())

    async def run(self) -> None:
        """Run until the pipeline ends or the client gives up. Raises the client's
        :class:`~wavewire.errors.ConnectError` / ``AuthError`` if it never connected."""
        runner = asyncio.get_running_loop().create_task(self.task.run(), name=self.task.name)
        client_done: asyncio.Task | None = None
        try:
            async with asyncio.timeout(self.start_timeout):
                await asyncio.wait(
                    {runner, asyncio.ensure_future(self._started.wait())},
                    return_when=asyncio.FIRST_COMPLETED,
                )
            if runner.done():
                return
            self.client.owner = self.task  # its reader belongs to the session
            await self.client.connect(on_message=self.input_edge.feed)
            client_done = asyncio.ensure_future(self.client.wait_closed())
            await asyncio.wait({runner, client_done}, return_when=asyncio.FIRST_COMPLETED)
            if not runner.done():
                await self.task.cancel("server disconnected")
        finally:
            await self.client.close()
            if not runner.done():
                await self.task.cancel("client session ended")
            if not runner.done():
                runner.cancel()
            await asyncio.wait({runner}, timeout=self.task.params.cancel_timeout * 3 + 1)
            for extra in (client_done,):
                if extra is not None and not extra.done():
                    extra.cancel()

"""A custom bot served over WebSockets: every protocol wavewire speaks, on one port.

Run it, then open http://127.0.0.1:8765 in a browser (the page talks to /ws), or point
a Twilio Media Stream at /twilio, a Pipecat client at /pipecat, the Cloudflare SFU's
adapters at /cloudflare/{call_id}/stream and /ingest, or Vapi's transport at /vapi.
"""

from __future__ import annotations

import asyncio

from wavewire import (
    ConnectionInfo,
    FrameDirection,
    FrameProcessor,
    InputAudioFrame,
    OutputAudioFrame,
    WebSocketServer,
)
from wavewire.frames import Frame


class Echo(FrameProcessor):
    """What the user says comes straight back (the edges convert formats both ways)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputAudioFrame):
            frame = OutputAudioFrame(frame.audio, frame.sample_rate, frame.num_channels)
        await self.push(frame, direction)


def bot(info: ConnectionInfo) -> list[FrameProcessor]:
    """Called once per session with its details (route, path params, redacted query)."""
    return [Echo()]


async def main() -> None:
    async with WebSocketServer(bot, host="127.0.0.1", port=8765) as server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

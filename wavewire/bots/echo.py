"""The ``echo`` bot: every input audio frame comes straight back as output audio.

The edges do all conversions (wire rate and channels to the pipeline's and back), so
running ``echo`` measures a transport end to end: latency, fidelity (same-format audio
comes back byte for byte) and the cost per frame. Everything else passes through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..frames import Frame, InputAudioFrame, OutputAudioFrame
from ..processors.base import DOWNSTREAM, FrameDirection, FrameProcessor

if TYPE_CHECKING:
    from ..transports.routes import ConnectionInfo

__all__ = ["EchoProcessor", "echo_bot"]


class EchoProcessor(FrameProcessor):
    """Turns each :class:`InputAudioFrame` into an :class:`OutputAudioFrame` with the
    same PCM, rate and channels; passes every other frame on."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if type(frame) is InputAudioFrame and direction is DOWNSTREAM:
            await self.push(
                OutputAudioFrame(frame.audio, frame.sample_rate, frame.num_channels, frame.pts),
                DOWNSTREAM,
            )
            return
        await self.push(frame, direction)


def echo_bot(info: ConnectionInfo | None = None) -> list[FrameProcessor]:
    """Bot factory of ``echo``: one :class:`EchoProcessor`."""
    return [EchoProcessor(name="echo")]

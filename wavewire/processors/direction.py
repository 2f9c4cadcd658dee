"""``FrameDirection``: which way a frame travels through a pipeline.

Every push names a direction: ``DOWNSTREAM`` (from the input towards the output, the
way audio from the user flows) or ``UPSTREAM`` (back towards the input: errors,
end/cancel requests, acknowledgements). The two members are also module-level
constants, so the per-frame path compares with ``is`` against a global.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["FrameDirection", "DOWNSTREAM", "UPSTREAM"]


class FrameDirection(Enum):
    """Which way a frame travels: towards the output (downstream) or the input."""

    DOWNSTREAM = 1
    UPSTREAM = 2


DOWNSTREAM = FrameDirection.DOWNSTREAM
UPSTREAM = FrameDirection.UPSTREAM

"""Frame processors: the base class and the built-ins."""

from .base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor, FrameQueue
from .filters import FrameFilter, FunctionFilter, Identity
from .logger import FrameLogger

__all__ = [
    "DOWNSTREAM",
    "UPSTREAM",
    "FrameDirection",
    "FrameProcessor",
    "FrameQueue",
    "FrameFilter",
    "FunctionFilter",
    "Identity",
    "FrameLogger",
]

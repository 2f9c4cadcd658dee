"""wavewire: real-time voice agents.

Everything public is re-exported here. The names load lazily (PEP 562), so
``import wavewire`` costs almost nothing and ``wavewire.PipelineTask`` imports only what
it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_MODULES: dict[str, tuple[str, ...]] = {
    "wavewire.frames": (
        "Frame", "SystemFrame", "DataFrame", "ControlFrame",
        "StartFrame", "EndFrame", "CancelFrame", "EndTaskFrame", "CancelTaskFrame",
        "ErrorFrame", "InterruptionFrame",
        "UserStartedSpeakingFrame", "UserStoppedSpeakingFrame",
        "BotStartedSpeakingFrame", "BotStoppedSpeakingFrame", "BotUtterancePlayedFrame",
        "AudioFrame", "InputAudioFrame", "OutputAudioFrame", "TTSAudioFrame", "InputImageFrame",
        "TextFrame", "LLMTextFrame", "TTSTextFrame", "TTSSpeakFrame",
        "TranscriptionFrame", "InterimTranscriptionFrame",
        "LLMContext", "LLMMessagesFrame", "LLMContextFrame",
        "LLMFullResponseStartFrame", "LLMFullResponseEndFrame",
        "TTSStartedFrame", "TTSStoppedFrame",
        "TransportMessageFrame", "InputTransportMessageFrame", "OutputTransportMessageFrame",
        "OutputTransportMessageUrgentFrame", "InputDTMFFrame", "PlaybackMarkFrame",
        "MetricsData", "MetricsFrame",
    ),
    "wavewire.errors": (
        "WavewireError", "InvalidStateError", "FrameFormatError", "ProtocolError",
        "MessageTooLargeError", "ServiceError", "ConnectError", "AuthError",
        "RateLimitError", "RemoteClosedError", "ServiceTimeoutError", "RefusedError",
    ),
    "wavewire.clock": ("Clock", "MonotonicClock"),
    "wavewire.processors": (
        "FrameDirection", "DOWNSTREAM", "UPSTREAM", "FrameProcessor",
        "FrameFilter", "FunctionFilter", "Identity", "FrameLogger",
    ),
    "wavewire.pipelines": (
        "Pipeline", "ParallelPipeline", "PipelineTask", "PipelineParams", "PipelineRunner",
        "TaskState", "TaskStats", "BaseObserver", "FramePushed",
    ),
    "wavewire.serializers.base": ("FrameSerializer", "WireFormat"),
}

_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'wavewire' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:  # what static tools see
    from .clock import Clock as Clock
    from .clock import MonotonicClock as MonotonicClock
    from .errors import *  # noqa: F403
    from .frames import *  # noqa: F403
    from .pipelines import *  # noqa: F403
    from .processors import *  # noqa: F403
    from .serializers.base import FrameSerializer as FrameSerializer
    from .serializers.base import WireFormat as WireFormat

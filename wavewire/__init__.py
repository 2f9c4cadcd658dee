"""wavewire: real-time voice agents.

Everything public is re-exported here. The names load lazily (PEP 562), so
``import wavewire`` costs almost nothing and ``wavewire.PipelineTask`` imports only what
it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_getattr

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
        "Word", "TranscriptionFrame", "InterimTranscriptionFrame",
        "VADUserStartedSpeakingFrame", "VADUserStoppedSpeakingFrame", "STTTurnFrame",
        "LLMMessagesFrame", "LLMContextFrame", "LLMRunFrame",
        "LLMFullResponseStartFrame", "LLMFullResponseEndFrame",
        "FunctionCallInProgressFrame", "FunctionCallResultFrame",
        "TTSStartedFrame", "TTSStoppedFrame",
        "TransportMessageFrame", "InputTransportMessageFrame", "OutputTransportMessageFrame",
        "OutputTransportMessageUrgentFrame", "InputDTMFFrame", "PlaybackMarkFrame",
        "MetricsData", "MetricsFrame",
    ),
    "wavewire.context": ("LLMContext",),
    "wavewire.errors": (
        "WavewireError", "InvalidStateError", "SessionClosedError", "ConnectionClosedError",
        "FrameFormatError",
        "ProtocolError", "MessageTooLargeError", "ServiceError", "ConnectError", "AuthError",
        "RateLimitError", "RemoteClosedError", "ServiceTimeoutError",
    ),
    "wavewire.clock": ("Clock", "MonotonicClock"),
    "wavewire.processors": (
        "FrameDirection", "DOWNSTREAM", "UPSTREAM", "FrameProcessor",
        "FrameFilter", "FunctionFilter", "Identity", "FrameLogger",
    ),
    "wavewire.processors.aggregators": (
        "LLMUserAggregator", "LLMAssistantAggregator", "context_aggregators",
    ),
    "wavewire.processors.sentences": ("SentenceAggregator",),
    "wavewire.processors.turns": ("TurnTaking",),
    "wavewire.services.openai": ("OpenAILLMService",),
    "wavewire.services.llm": ("LLMService",),
    "wavewire.services.local_brain": ("LocalBrainService",),
    "wavewire.services.tools": ("tool",),
    "wavewire.pipelines": (
        "Pipeline", "ParallelPipeline", "PipelineTask", "PipelineParams", "PipelineRunner",
        "TaskState", "TaskStats", "BaseObserver", "FramePushed",
    ),
    "wavewire.serializers": (
        "FrameSerializer", "WireFormat", "RawSerializer", "PipecatSerializer",
        "CloudflareAdapterSerializer", "TwilioSerializer", "VapiSerializer",
        "VapiServerSerializer", "VideoSDKSerializer", "VideoSDKServerSerializer",
        "CartesiaSerializer", "DeepgramFluxSerializer", "DeepgramListenSerializer",
        "DeepgramSpeakSerializer", "ElevenLabsSerializer",
    ),
    "wavewire.transports": (
        "WebSocketServer", "WebSocketClient", "Backoff", "ClientSession", "Route",
        "ConnectionInfo", "InputEdge", "OutputEdge", "EdgeStats", "token_auth",
        "default_routes",
    ),
    "wavewire.audio": ("StreamResampler", "Chunker", "MediaPacer", "read_wav", "write_wav"),
    "wavewire.audio.vad": ("VAD", "VADParams", "EnergyVAD", "WebRTCVAD", "SileroVAD"),
    "wavewire.bots": ("register_bot", "get_bot"),
}

_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:  # what static tools see
    from .audio import Chunker as Chunker
    from .audio import MediaPacer as MediaPacer
    from .audio import StreamResampler as StreamResampler
    from .audio import read_wav as read_wav
    from .audio import write_wav as write_wav
    from .audio.vad import VAD as VAD
    from .audio.vad import EnergyVAD as EnergyVAD
    from .audio.vad import SileroVAD as SileroVAD
    from .audio.vad import VADParams as VADParams
    from .audio.vad import WebRTCVAD as WebRTCVAD
    from .bots import get_bot as get_bot
    from .bots import register_bot as register_bot
    from .clock import Clock as Clock
    from .clock import MonotonicClock as MonotonicClock
    from .context import LLMContext as LLMContext
    from .errors import *  # noqa: F403
    from .frames import *  # noqa: F403
    from .pipelines import *  # noqa: F403
    from .processors import *  # noqa: F403
    from .processors.aggregators import LLMAssistantAggregator as LLMAssistantAggregator
    from .processors.aggregators import LLMUserAggregator as LLMUserAggregator
    from .processors.aggregators import context_aggregators as context_aggregators
    from .processors.sentences import SentenceAggregator as SentenceAggregator
    from .processors.turns import TurnTaking as TurnTaking
    from .serializers import *  # noqa: F403
    from .services.llm import LLMService as LLMService
    from .services.local_brain import LocalBrainService as LocalBrainService
    from .services.openai import OpenAILLMService as OpenAILLMService
    from .services.tools import tool as tool
    from .transports import *  # noqa: F403

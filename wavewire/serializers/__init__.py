"""Wire protocols as pure, per-connection objects (see :mod:`.base` for the contract).

One module per protocol, named as the provider names it:

* :mod:`.raw` — :class:`RawSerializer`: s16le PCM binary + JSON text;
* :mod:`.pipecat` — :class:`PipecatSerializer`: Pipecat's protobuf ``Frame`` envelope;
* :mod:`.cloudflare` — :class:`CloudflareAdapterSerializer`: Realtime SFU WebSocket
  adapter ``Packet`` (``stream`` egress / ``ingest`` buffer roles);
* :mod:`.twilio` — :class:`TwilioSerializer`: Twilio Media Streams;
* :mod:`.vapi` — :class:`VapiSerializer` (client) and :class:`VapiServerSerializer`;
* :mod:`.videosdk` — :class:`VideoSDKSerializer` (client) and
  :class:`VideoSDKServerSerializer` (emulator side);
* :mod:`.deepgram` — :class:`DeepgramListenSerializer`, :mod:`.deepgram_flux` —
  :class:`DeepgramFluxSerializer`, :mod:`.deepgram_speak` —
  :class:`DeepgramSpeakSerializer`: speech services;
* :mod:`.cartesia` — :class:`CartesiaSerializer`; :mod:`.elevenlabs` —
  :class:`ElevenLabsSerializer`: TTS services.

Protocol modules are imported on first use of their class, so importing this package
costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wavewire.lazy import lazy_getattr

from .base import ALAW, MULAW, PCM_S16LE, FrameSerializer, Message, WireFormat

if TYPE_CHECKING:
    from .cartesia import CartesiaSerializer
    from .cloudflare import CloudflareAdapterSerializer
    from .deepgram import DeepgramListenSerializer
    from .deepgram_flux import DeepgramFluxSerializer
    from .deepgram_speak import DeepgramSpeakSerializer
    from .elevenlabs import ElevenLabsSerializer
    from .pipecat import PipecatSerializer
    from .raw import RawSerializer
    from .twilio import TwilioSerializer
    from .vapi import VapiSerializer, VapiServerSerializer
    from .videosdk import VideoSDKSerializer, VideoSDKServerSerializer

__all__ = [
    "ALAW",
    "MULAW",
    "PCM_S16LE",
    "FrameSerializer",
    "Message",
    "WireFormat",
    "CloudflareAdapterSerializer",
    "PipecatSerializer",
    "RawSerializer",
    "TwilioSerializer",
    "VapiSerializer",
    "VapiServerSerializer",
    "VideoSDKSerializer",
    "VideoSDKServerSerializer",
    "CartesiaSerializer",
    "DeepgramFluxSerializer",
    "DeepgramListenSerializer",
    "DeepgramSpeakSerializer",
    "ElevenLabsSerializer",
]

_LAZY = {
    "CloudflareAdapterSerializer": "cloudflare",
    "PipecatSerializer": "pipecat",
    "RawSerializer": "raw",
    "TwilioSerializer": "twilio",
    "VapiSerializer": "vapi",
    "VapiServerSerializer": "vapi",
    "VideoSDKSerializer": "videosdk",
    "VideoSDKServerSerializer": "videosdk",
    "CartesiaSerializer": "cartesia",
    "DeepgramFluxSerializer": "deepgram_flux",
    "DeepgramListenSerializer": "deepgram",
    "DeepgramSpeakSerializer": "deepgram_speak",
    "ElevenLabsSerializer": "elevenlabs",
}


__getattr__ = lazy_getattr(__name__, {k: f".{v}" for k, v in _LAZY.items()}, globals())

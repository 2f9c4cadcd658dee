"""The built-in WebSocket routes of ``wavewire serve``: one line per protocol.

Adding a protocol to the server is one :class:`~wavewire.transports.routes.Route` line in
:func:`default_routes` (plus its serializer factory if it needs one)::

    Route("/twilio", twilio_serializer, name="twilio"),
    Route("/cloudflare/{call_id}/stream", cf_stream, role="input", key="cloudflare:{call_id}"),
    Route("/cloudflare/{call_id}/ingest", cf_ingest, role="output", key="cloudflare:{call_id}"),

Serializer modules are imported when the first connection needs them, so serving costs
nothing at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .routes import ConnectionInfo, Route

if TYPE_CHECKING:
    from ..serializers.pipecat import PipecatSerializer
    from ..serializers.raw import RawSerializer
    from ..serializers.rtvi import RTVISerializer

__all__ = ["default_routes", "raw_serializer", "rtvi_serializer", "pipecat_serializer",
           "query_audio_format"]

SAMPLE_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
"""Rates a client may ask for in the query string."""


def query_audio_format(info: ConnectionInfo, default_rate: int = 16000) -> tuple[int, int]:
    """``?sample_rate=…&channels=…`` from the query (``ValueError`` refuses with 400)."""
    try:
        rate = int(info.query.get("sample_rate", default_rate))
        channels = int(info.query.get("channels", 1))
    except ValueError:
        raise ValueError("sample_rate and channels must be integers") from None
    if rate not in SAMPLE_RATES:
        raise ValueError(f"unsupported sample_rate {rate}")
    if channels not in (1, 2):
        raise ValueError(f"unsupported channels {channels}")
    return rate, channels


def raw_serializer(info: ConnectionInfo) -> RawSerializer:
    """Raw s16le PCM; the client picks the format with ``?sample_rate=&channels=``."""
    from ..serializers.raw import RawSerializer

    return RawSerializer(*query_audio_format(info))


def rtvi_serializer(info: ConnectionInfo) -> RTVISerializer:
    """Raw s16le PCM plus RTVI in text messages (Pipecat's client protocol): ``/ws``
    speaks it, so a page or an RTVI client hears what the bot does; a PCM-only client
    sees no difference."""
    from ..serializers.rtvi import RTVISerializer

    return RTVISerializer(*query_audio_format(info))


def pipecat_serializer(info: ConnectionInfo) -> PipecatSerializer:
    """Pipecat protobuf frames; ``?sample_rate=&channels=`` sets the outbound format."""
    from ..serializers.pipecat import PipecatSerializer

    return PipecatSerializer(*query_audio_format(info))


def default_routes() -> list[Route]:
    """Every protocol ``wavewire serve`` speaks, on one port."""
    from .providers import provider_routes

    return [
        Route("/ws", rtvi_serializer, name="raw"),
        Route("/pipecat", pipecat_serializer, name="pipecat"),
        *provider_routes(),
    ]

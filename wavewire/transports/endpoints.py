"""The protocol registry: every protocol wavewire speaks, as a server and as a client.

* :func:`default_routes` -- the WebSocket routes of ``wavewire serve``, one line per
  protocol: wavewire's own (``/ws``, ``/pipecat``, defined here) and the providers'
  (:func:`.providers.provider_routes`).
* :func:`client_protocols` -- the protocols of ``wavewire connect --protocol``:
  wavewire's own (``raw``, ``pipecat``, defined here) and the providers'
  (:func:`.providers.connect_protocols`).

The types both tables are made of (:class:`~.routes.Route`,
:class:`~.routes.ClientProtocol`) and path matching are in :mod:`.routes`.

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

from ..audio.resample import STANDARD_RATES
from .routes import ClientProtocol, ConnectionInfo, Route, no_headers

if TYPE_CHECKING:
    from ..serializers.pipecat import PipecatSerializer
    from ..serializers.raw import RawSerializer
    from ..serializers.rtvi import RTVISerializer

__all__ = [
    "BROWSER_PIPECAT_RATE",
    "client_protocols",
    "default_routes",
    "raw_serializer",
    "rtvi_serializer",
    "pipecat_serializer",
    "query_audio_format",
]

SAMPLE_RATES = STANDARD_RATES
"""Rates a client may ask for in the query string (``?sample_rate=``), and the only
rates ``/pipecat`` accepts in inbound audio frames: the rates whose conversion to the
pipeline's rate has a small, bounded cost (:mod:`wavewire.audio.resample`)."""


def query_audio_format(info: ConnectionInfo, default_rate: int = 16000) -> tuple[int, int]:
    """``?sample_rate=…&channels=…`` from the query (``ValueError`` refuses with 400)."""
    try:
        rate = int(info.query.get("sample_rate", default_rate))
        channels = int(info.query.get("channels", 1))
    except ValueError:
        raise ValueError("sample_rate and channels must be integers") from None
    if rate not in SAMPLE_RATES:
        raise ValueError(f"unsupported sample_rate {rate}; one of {sorted(SAMPLE_RATES)}")
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


BROWSER_PIPECAT_RATE = 24000
"""The outbound rate ``/pipecat`` gives a browser: what Pipecat's JS WebSocket transport
plays by default (its player ignores the rate in the frames)."""


def pipecat_serializer(info: ConnectionInfo) -> PipecatSerializer:
    """Pipecat protobuf frames, with RTVI answered inside ``message`` frames.

    ``?sample_rate=&channels=`` sets the outbound format. Without ``sample_rate`` a
    browser (a request with an ``Origin`` header) gets :data:`BROWSER_PIPECAT_RATE`,
    because ``@pipecat-ai/websocket-transport`` plays every frame at its player's rate
    whatever the frame says; other clients (Pipecat's Python transports read the rate)
    get 16 kHz."""
    from ..serializers.pipecat import PipecatSerializer

    default = BROWSER_PIPECAT_RATE if "origin" in info.headers else 16000
    return PipecatSerializer(*query_audio_format(info, default), rtvi=True)


def default_routes() -> list[Route]:
    """Every protocol ``wavewire serve`` speaks, on one port."""
    from .providers import provider_routes

    return [
        Route("/ws", rtvi_serializer, name="raw"),
        Route("/pipecat", pipecat_serializer, name="pipecat"),
        *provider_routes(),
    ]


def raw_client_serializer(sample_rate: int = 16000, num_channels: int = 1) -> RawSerializer:
    """``wavewire connect --protocol raw``: raw s16le PCM in the given format."""
    from ..serializers.raw import RawSerializer

    return RawSerializer(sample_rate, num_channels)


def pipecat_client_serializer(
    sample_rate: int = 16000, num_channels: int = 1
) -> PipecatSerializer:
    """``wavewire connect --protocol pipecat``: Pipecat protobuf frames."""
    from ..serializers.pipecat import PipecatSerializer

    return PipecatSerializer(sample_rate, num_channels)


def client_protocols() -> dict[str, ClientProtocol]:
    """Every protocol ``wavewire connect --protocol`` speaks, by name: wavewire's own
    (they carry the wavewire token and reconnect) and the providers'."""
    from .providers import connect_protocols

    return {
        "raw": ClientProtocol(
            "raw",
            raw_client_serializer,
            no_headers,
            reconnect=True,
            description="raw s16le PCM (a wavewire server's /ws)",
            token=True,
        ),
        "pipecat": ClientProtocol(
            "pipecat",
            pipecat_client_serializer,
            no_headers,
            reconnect=True,
            description="Pipecat protobuf frames (a wavewire server's /pipecat)",
            token=True,
        ),
        **connect_protocols(),
    }

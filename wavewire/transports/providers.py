"""Provider protocols on the wavewire server and client: routes and serializer factories.

Server routes (add them with :func:`provider_routes`):

``/twilio``
    Twilio Media Streams (Twilio dials us; μ-law 8 kHz mono). An interruption sends
    ``clear``; end-of-utterance marks come back when the caller has heard the audio
    before them, so the output edge knows what was heard; ``stop`` ends the session.
    Hanging up the call is a REST call (:mod:`wavewire.services.rest.twilio`), never the
    serializer's business.

``/vapi``
    The server side of Vapi's WebSocket transport, so a client written for Vapi can talk
    to a wavewire bot. The audio format comes from the query string, as the client
    would give it in ``transport.audioFormat``: ``?format=pcm_s16le&sample_rate=16000``
    (the default; any rate 3000-192000) or ``?format=mulaw`` (8 kHz).
    ``sampleRate`` is accepted as a spelling of ``sample_rate``.

``/cloudflare/{call_id}/stream`` and ``/cloudflare/{call_id}/ingest``
    The two sockets of a Cloudflare Realtime SFU WebSocket adapter pair, joined into one
    session by ``call_id`` whichever arrives first. ``stream`` (role ``input``) is the
    egress adapter: the SFU sends 48 kHz stereo ``Packet``\\s; sequence gaps, late and
    duplicate packets are counted on the session's input serializer (``lost``,
    ``gaps``, ``reordered``, ``duplicates``). ``ingest`` (role ``output``) is the
    buffer-mode ingest adapter: the bot's audio goes out as payload-only Packets of at
    most ``max_message_size`` bytes. When the stream socket drops, the SFU dials the
    same URL again within its retry window (5 s on Cloudflare's adapter page, 15 s on
    its limits page -- unconfirmed; default here 5 s): a new stream socket within
    ``resume_window`` resumes the same session. Audio produced while no ingest socket
    is attached follows the session's output policy (:mod:`.session`: a bounded buffer,
    one second by default, oldest dropped and counted). A newer socket for a direction
    replaces the older one, which is closed with 1008 (:mod:`.session`).

    The SFU cannot send headers, so authenticate it with a token in the URL's query:
    with ``wavewire serve --token T`` the server's default hook accepts
    ``wss://host/cloudflare/<call>/stream?token=T`` (the token is redacted from
    connection details and logs).

Clients (``wavewire connect --protocol …``): :func:`connect_protocols` names the
provider protocols a bot can speak as a client -- ``videosdk`` (VideoSDK custom
WebSocket ingest: ``start`` on connect, 20 ms 320-byte ``media`` frames paced in real
time, ``stop`` at the end, pub/sub through transport messages with a topic) and
``vapi`` (Vapi's WebSocket transport: ``Authorization: Bearer $VAPI_API_KEY`` when the
variable is set). Neither reconnects: VideoSDK's ``wsUrl`` is single-use, and a Vapi
call's socket belongs to one call. Neither ever receives the wavewire token: those
servers are third parties.

Importing this module loads no serializer; each factory imports its protocol module on
the first connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .routes import ClientProtocol, ConnectionInfo, Route, no_headers

if TYPE_CHECKING:
    from ..serializers.cloudflare import CloudflareAdapterSerializer
    from ..serializers.twilio import TwilioSerializer
    from ..serializers.vapi import VapiSerializer, VapiServerSerializer
    from ..serializers.videosdk import VideoSDKSerializer

__all__ = [
    "CLOUDFLARE_RESUME_WINDOW",
    "ClientProtocol",
    "cloudflare_routes",
    "cloudflare_ingest_serializer",
    "cloudflare_stream_serializer",
    "connect_protocols",
    "provider_routes",
    "twilio_route",
    "twilio_serializer",
    "vapi_client_headers",
    "vapi_client_serializer",
    "vapi_route",
    "vapi_server_serializer",
    "videosdk_client_serializer",
]

CLOUDFLARE_RESUME_WINDOW = 5.0
"""Seconds a Cloudflare session waits for its stream socket to come back (the SFU's
retry window: 5 s or 15 s in Cloudflare's docs, unconfirmed; the shorter one here)."""

TWILIO_MAX_MESSAGE = 64 * 1024
"""Largest message accepted on ``/twilio`` (20 ms media is ≈ 300 bytes; ``start`` with
custom parameters stays far below)."""
VAPI_MAX_MESSAGE = 256 * 1024
"""Largest message accepted on ``/vapi`` (100 ms of 48 kHz PCM is 9.6 kB; JSON messages
carry conversation text)."""
CLOUDFLARE_MAX_MESSAGE = 64 * 1024
"""Largest message accepted on a Cloudflare adapter socket. An audio egress Packet is one
WebRTC frame (20 ms = 3 851 bytes); JPEG video egress needs a larger limit
(``cloudflare_routes(max_message_size=…)``)."""


# --- server: serializer factories ----------------------------------------------------------


def twilio_serializer(info: ConnectionInfo) -> TwilioSerializer:
    """``/twilio``: a Twilio Media Streams connection (the stream SID comes with ``start``)."""
    from ..serializers.twilio import TwilioSerializer

    return TwilioSerializer()


def _query_int(query: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = query.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{name} must be an integer, not {value!r}") from None
    return None


def vapi_server_serializer(info: ConnectionInfo) -> VapiServerSerializer:
    """``/vapi?format=pcm_s16le|mulaw&sample_rate=…``: the server side of Vapi's
    transport (``ValueError`` → the handshake is refused with HTTP 400)."""
    from ..serializers.vapi import VapiServerSerializer

    encoding = info.query.get("format", "pcm_s16le")
    if encoding not in ("pcm_s16le", "mulaw"):
        raise ValueError(f"format must be pcm_s16le or mulaw, not {encoding!r}")
    rate = _query_int(info.query, "sample_rate", "sampleRate")
    return VapiServerSerializer(encoding, rate)  # type: ignore[arg-type]


def cloudflare_stream_serializer(info: ConnectionInfo) -> CloudflareAdapterSerializer:
    """``/cloudflare/{call_id}/stream``: the egress adapter's socket (SFU → bot)."""
    from ..serializers.cloudflare import CloudflareAdapterSerializer

    return CloudflareAdapterSerializer("stream")


def cloudflare_ingest_serializer(
    max_message_size: int | None = None,
) -> Callable[[ConnectionInfo], CloudflareAdapterSerializer]:
    """A factory for ``/cloudflare/{call_id}/ingest``: the ingest adapter's socket
    (bot → SFU), Packets of at most ``max_message_size`` bytes (default 16 388, as
    Cloudflare's reference implementation)."""

    def factory(info: ConnectionInfo) -> CloudflareAdapterSerializer:
        from ..serializers.cloudflare import DEFAULT_MAX_MESSAGE_SIZE, CloudflareAdapterSerializer

        size = DEFAULT_MAX_MESSAGE_SIZE if max_message_size is None else max_message_size
        return CloudflareAdapterSerializer("ingest", max_message_size=size)

    return factory


# --- server: routes -------------------------------------------------------------------------


def twilio_route(path: str = "/twilio") -> Route:
    """The Twilio Media Streams route."""
    return Route(path, twilio_serializer, max_message_size=TWILIO_MAX_MESSAGE, name="twilio")


def vapi_route(path: str = "/vapi") -> Route:
    """The Vapi WebSocket transport route (server side)."""
    return Route(path, vapi_server_serializer, max_message_size=VAPI_MAX_MESSAGE, name="vapi")


def cloudflare_routes(
    prefix: str = "/cloudflare",
    *,
    resume_window: float = CLOUDFLARE_RESUME_WINDOW,
    max_message_size: int = CLOUDFLARE_MAX_MESSAGE,
    ingest_message_size: int | None = None,
) -> list[Route]:
    """The two routes of a Cloudflare adapter pair, ``{prefix}/{call_id}/stream`` (input)
    and ``{prefix}/{call_id}/ingest`` (output), one session per ``call_id``.

    :param resume_window: seconds a dropped stream socket may take to come back. Both
        routes carry it, because the session takes it from whichever socket arrives
        first.
    :param max_message_size: largest message accepted from the SFU (1009 beyond).
    :param ingest_message_size: largest Packet sent on the ingest socket.
    """
    key = "cloudflare:{call_id}"
    return [
        Route(
            f"{prefix}/{{call_id}}/stream",
            cloudflare_stream_serializer,
            role="input",
            key=key,
            max_message_size=max_message_size,
            resume_window=resume_window,
            name="cloudflare-stream",
        ),
        Route(
            f"{prefix}/{{call_id}}/ingest",
            cloudflare_ingest_serializer(ingest_message_size),
            role="output",
            key=key,
            max_message_size=max_message_size,
            resume_window=resume_window,
            name="cloudflare-ingest",
        ),
    ]


def provider_routes() -> list[Route]:
    """Every provider route: ``/twilio``, ``/vapi``, ``/cloudflare/{call_id}/stream`` and
    ``/cloudflare/{call_id}/ingest``."""
    return [twilio_route(), vapi_route(), *cloudflare_routes()]


# --- clients ------------------------------------------------------------------------------


def videosdk_client_serializer(sample_rate: int = 8000, num_channels: int = 1) -> VideoSDKSerializer:
    """The client side of VideoSDK's ingest socket. The wire is always 8 kHz mono
    (``sample_rate``/``num_channels`` are accepted for the CLI's signature and ignored:
    the edges convert the pipeline's audio)."""
    from ..serializers.videosdk import VideoSDKSerializer

    return VideoSDKSerializer()


def vapi_client_serializer(sample_rate: int = 16000, num_channels: int = 1) -> VapiSerializer:
    """The client side of Vapi's transport, ``pcm_s16le`` mono at ``sample_rate`` (it
    must match the call's ``transport.audioFormat``). ``num_channels`` must be 1."""
    from ..serializers.vapi import VapiSerializer

    if num_channels != 1:
        raise ValueError("vapi: the WebSocket transport carries mono audio")
    return VapiSerializer("pcm_s16le", sample_rate)


def vapi_client_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``Authorization: Bearer <VAPI_API_KEY>`` when the variable is set, else nothing.
    The key is only ever put in this header (never logged: the client's logger and
    errors redact ``Authorization``)."""
    key = (os.environ if env is None else env).get("VAPI_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def connect_protocols() -> dict[str, ClientProtocol]:
    """The provider protocols ``wavewire connect --protocol`` can speak, by name."""
    return {
        "videosdk": ClientProtocol(
            "videosdk",
            videosdk_client_serializer,
            no_headers,
            reconnect=False,
            description="VideoSDK custom WebSocket ingest (the session's wsUrl)",
        ),
        "vapi": ClientProtocol(
            "vapi",
            vapi_client_serializer,
            vapi_client_headers,
            reconnect=False,
            description="Vapi WebSocket transport (websocketCallUrl; $VAPI_API_KEY)",
        ),
    }

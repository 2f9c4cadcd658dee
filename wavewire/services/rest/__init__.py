"""Async REST clients for the calls providers need around a session (never made inside a
serializer): Cloudflare Realtime adapters and sessions, VideoSDK ingest sessions, Vapi
WebSocket calls, Twilio hang-up.

They need httpx (the ``http`` extra), imported when a client is created. Each takes an
optional ``httpx.AsyncClient`` or transport (``httpx.MockTransport`` in tests)."""

from __future__ import annotations

from .cloudflare import (
    AdapterResult,
    CloseResult,
    CloudflareRealtimeClient,
    EgressAdapter,
    IngestAdapter,
)
from .twilio import TwilioClient
from .vapi import VapiCall, VapiClient
from .videosdk import IngestSession, VideoSDKClient

__all__ = [
    "AdapterResult",
    "CloseResult",
    "CloudflareRealtimeClient",
    "EgressAdapter",
    "IngestAdapter",
    "TwilioClient",
    "VapiCall",
    "VapiClient",
    "IngestSession",
    "VideoSDKClient",
]

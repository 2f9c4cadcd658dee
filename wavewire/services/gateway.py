"""Cloudflare AI Gateway routing: where each provider is reached through a gateway, and
how the gateway token travels (``protocols.md`` §2). Pure functions, no I/O.

A gateway is ``https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}``, from
the argument or ``CF_AIG_GATEWAY_URL``; its token from the argument or ``CF_AIG_TOKEN``.
Through it:

* Deepgram: ``{gateway}/deepgram/v1/listen`` and ``{gateway}/deepgram/v1/speak`` (the
  Deepgram key as usual, ``Authorization: Token <key>``);
* Cartesia: ``{gateway}/cartesia?cartesia_version=…&api_key=…``;
* the LLM (OpenAI-compatible): base URL ``{gateway}/openai``, so
  ``{gateway}/openai/chat/completions``;
* Workers AI Deepgram models: ``{gateway}/workers-ai?model=@cf/deepgram/nova-3&…``
  (STT; also ``@cf/deepgram/flux``) or ``model=@cf/deepgram/aura-1`` (TTS), with only
  the gateway token.

Each request carries ``cf-aig-authorization: Bearer <token>``
(:meth:`AIGateway.headers`); a browser-style client, which cannot set headers, offers
the subprotocol entry ``cf-aig-authorization.<token>`` instead
(:meth:`AIGateway.subprotocols`). WebSocket services use ``ws(s)://`` where the gateway
(or any base URL) says ``http(s)://`` (:func:`websocket_url`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from ..secrets import Secret

__all__ = [
    "AIGateway",
    "GATEWAY_URL_ENV",
    "GATEWAY_TOKEN_ENV",
    "GATEWAY_HOST",
    "AUTH_HEADER",
    "gateway_url",
    "websocket_url",
    "http_url",
    "query_string",
]

GATEWAY_URL_ENV = "CF_AIG_GATEWAY_URL"
"""Environment variable holding the gateway's URL."""
GATEWAY_TOKEN_ENV = "CF_AIG_TOKEN"
"""Environment variable holding the gateway's token."""
GATEWAY_HOST = "gateway.ai.cloudflare.com"
"""The host of Cloudflare's gateways."""
AUTH_HEADER = "cf-aig-authorization"
"""The header (and subprotocol prefix) that carries the gateway token."""

QueryValue = str | int | float | bool | None
Query = Mapping[str, QueryValue] | str | None
"""Query parameters: a mapping (``None`` values left out, booleans as ``true``/``false``)
or a ready query string."""


def gateway_url(account_id: str, gateway_id: str) -> str:
    """``https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}``."""
    if not account_id or not gateway_id or "/" in account_id + gateway_id:
        raise ValueError("gateway_url: account_id and gateway_id must be non-empty, no '/'")
    return f"https://{GATEWAY_HOST}/v1/{account_id}/{gateway_id}"


def _swap_scheme(url: str, mapping: dict[str, str]) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in mapping:
        raise ValueError(f"not an http(s) or ws(s) URL: {urlsplit(url).scheme or url[:16]!r}")
    return f"{mapping[scheme.lower()]}://{rest}"


def websocket_url(url: str) -> str:
    """``url`` with ``http://`` → ``ws://`` and ``https://`` → ``wss://`` (``ws(s)://``
    unchanged). Raises ``ValueError`` for any other scheme."""
    return _swap_scheme(url, {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"})


def http_url(url: str) -> str:
    """``url`` with ``ws://`` → ``http://`` and ``wss://`` → ``https://``."""
    return _swap_scheme(url, {"ws": "http", "wss": "https", "http": "http", "https": "https"})


def query_string(query: Query) -> str:
    """``query`` as a query string (no ``?``). Values keep ``@``, ``/`` and ``:`` as they
    are (Workers AI model names such as ``@cf/deepgram/nova-3`` read better that way)."""
    if query is None:
        return ""
    if isinstance(query, str):
        return query.lstrip("?")
    pairs = []
    for key, value in query.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((key, str(value)))
    return urlencode(pairs, safe="@/:", quote_via=quote)


def _join(base: str, path: str, query: Query) -> str:
    url = base.rstrip("/")
    if path:
        url += "/" + path.lstrip("/")
    qs = query_string(query)
    return f"{url}?{qs}" if qs else url


@dataclass(frozen=True)
class AIGateway:
    """One Cloudflare AI Gateway and its token.

    :param url: the gateway's base URL (``http(s)`` or ``ws(s)``; kept as ``https``).
    :param token: the gateway token (``None``: a gateway without authentication).
    """

    url: str
    token: Secret | None = field(default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", http_url(self.url).rstrip("/"))
        if self.token is not None and not isinstance(self.token, Secret):
            object.__setattr__(self, "token", Secret.of(self.token))

    @classmethod
    def from_env(
        cls,
        url: str | None = None,
        token: str | Secret | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> AIGateway | None:
        """The gateway given by the arguments, else by ``CF_AIG_GATEWAY_URL`` and
        ``CF_AIG_TOKEN``; ``None`` if no gateway URL is set (services then go direct)."""
        env = os.environ if environ is None else environ
        url = url or env.get(GATEWAY_URL_ENV) or None
        if url is None:
            return None
        return cls(url, Secret.of(token or env.get(GATEWAY_TOKEN_ENV) or None))

    @classmethod
    def for_account(cls, account_id: str, gateway_id: str,
                    token: str | Secret | None = None) -> AIGateway:
        """The gateway ``gateway_id`` of account ``account_id``."""
        return cls(gateway_url(account_id, gateway_id), Secret.of(token))

    # -- authentication ------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """``{"cf-aig-authorization": "Bearer <token>"}`` (empty without a token)."""
        if self.token is None:
            return {}
        return {AUTH_HEADER: f"Bearer {self.token.reveal()}"}

    def subprotocols(self) -> list[str]:
        """``["cf-aig-authorization.<token>"]``, for clients that cannot set headers
        (empty without a token)."""
        if self.token is None:
            return []
        return [f"{AUTH_HEADER}.{self.token.reveal()}"]

    # -- provider URLs -------------------------------------------------------------------

    def provider_url(self, provider: str, path: str = "", query: Query = None, *,
                     websocket: bool = False) -> str:
        """``{gateway}/{provider}[/{path}][?{query}]``, as ``wss://`` for a WebSocket."""
        url = _join(f"{self.url}/{provider.strip('/')}", path, query)
        return websocket_url(url) if websocket else url

    def deepgram_url(self, path: str = "/v1/listen", query: Query = None) -> str:
        """Deepgram's streaming API through the gateway: ``/v1/listen`` (STT, also
        ``/v2/listen`` for Flux) or ``/v1/speak`` (TTS), as ``wss://``."""
        return self.provider_url("deepgram", path, query, websocket=True)

    def cartesia_url(self, api_key: str | Secret, version: str, query: Query = None) -> str:
        """Cartesia's TTS socket through the gateway:
        ``wss://…/cartesia?cartesia_version=<version>&api_key=<key>`` (then ``query``)."""
        key = api_key.reveal() if isinstance(api_key, Secret) else api_key
        extra = query_string(query)
        qs = query_string({"cartesia_version": version, "api_key": key})
        return self.provider_url("cartesia", "", f"{qs}&{extra}" if extra else qs,
                                 websocket=True)

    def workers_ai_url(self, model: str, query: Query = None) -> str:
        """A Workers AI model (``@cf/deepgram/nova-3``, ``@cf/deepgram/flux``,
        ``@cf/deepgram/aura-1``…) through the gateway, as ``wss://``:
        ``…/workers-ai?model=<model>&<query>``."""
        extra = query_string(query)
        qs = query_string({"model": model})
        return self.provider_url("workers-ai", "", f"{qs}&{extra}" if extra else qs,
                                 websocket=True)

    def openai_base_url(self) -> str:
        """The OpenAI-compatible base URL through the gateway: ``{gateway}/openai`` (the
        client appends ``/chat/completions``)."""
        return self.provider_url("openai")

    def __repr__(self) -> str:
        return f"AIGateway({self.url!r}, token={'***' if self.token else None})"

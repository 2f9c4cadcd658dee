"""Opening a :class:`~wavewire.transports.client_conn.ClientConnection`: the handshake
through ``picows.ws_connect``, and each way it can fail as a typed error.

:func:`dial` offers the extra headers (credentials) and subprotocols
(``Sec-WebSocket-Protocol``), uses TLS for ``wss://`` (``ssl`` overrides the default
context), goes through a proxy (a URL, or with ``True`` the ``http(s)_proxy``
environment variables as ``urllib`` reads them), sends keepalive pings when
``ping_interval`` is set, and gives the whole opening ``open_timeout`` seconds. Failures,
per :mod:`.backoff`'s policy:

* a refusal with an HTTP status → :func:`~.backoff.handshake_error` (401/403
  :class:`~wavewire.errors.AuthError`, 429 :class:`~wavewire.errors.RateLimitError` with
  ``Retry-After``, others :class:`~wavewire.errors.ConnectError`), carrying the answer's
  headers and the part of its body that came with them (redacted, bounded);
* no answer within ``open_timeout`` → :class:`~wavewire.errors.ServiceTimeoutError`;
* DNS, a refused port, a broken or unexpected handshake (a subprotocol not offered) →
  a retryable ``ConnectError``; a URL that is not a WebSocket URL → one that is not.

The TCP connection is opened by :class:`DialSocket` (``picows``' socket factory), so a
dial that is cancelled, passes its deadline or is cut (``WebSocketClient.abort``) ends
its connection at once rather than when the handshake would have timed out.

The request and response are logged at DEBUG (``> GET …``, ``< HTTP/1.1 101 …``) on
:data:`LOGGER_NAME`, whose :class:`~wavewire.secrets.RedactingFilter` scrubs credentials;
``picows``' own log goes to the same logger (:class:`PicowsLog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import picows
from picows import WSError, WSInvalidStatusError, WSInvalidURL

from ..errors import ConnectError, ServiceError, ServiceTimeoutError
from ..secrets import redact_text, redacting_logger
from .backoff import handshake_error
from .client_conn import ClientConnection

if TYPE_CHECKING:
    import ssl as ssl_module

__all__ = ["dial", "DialSocket", "proxy_for", "PicowsLog", "LOGGER_NAME"]

LOGGER_NAME = "wavewire.websockets.client"
"""The client's connection log (handshakes at DEBUG, ``picows``' own messages)."""


class PicowsLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """``picows``' log on the client's logger: its line per connection opened or closed
    (INFO there) is DEBUG here, like the handshake. Records go to the logger itself, so
    its :class:`~wavewire.secrets.RedactingFilter` sees them (``picows`` would log through
    child loggers, which the filter does not cover)."""

    def __init__(self, log: logging.Logger) -> None:
        super().__init__(log, {})

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level == logging.INFO else level, msg, *args, **kwargs)


def proxy_for(url: str, proxy: str | bool | None) -> str | None:
    """The proxy URL to reach ``url`` through: ``proxy`` itself when it is a URL, none for
    ``False``/``None``; for ``True``, the environment's (``https_proxy`` for ``wss://``,
    ``http_proxy`` for ``ws://``, ``all_proxy`` else) unless ``no_proxy`` exempts the host."""
    if not proxy:
        return None
    if isinstance(proxy, str):
        return proxy
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    if urllib.request.proxy_bypass(f"{host}:{port}") or urllib.request.proxy_bypass(host):
        return None
    proxies = urllib.request.getproxies()
    scheme = "https" if parts.scheme == "wss" else "http"
    return proxies.get(scheme) or proxies.get("all") or None


class DialSocket:
    """The TCP socket of one :func:`dial`, opened by :meth:`connect` (``picows``' socket
    factory) so that a dial given up -- cancelled, past its deadline, or :meth:`cut` by
    its client -- closes its TCP connection at once instead of leaving it to the
    handshake's own timeout: the peer sees the connection end while it is still
    answering the handshake."""

    __slots__ = ("sock", "is_cut")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.is_cut = False

    async def connect(self, where: Any) -> socket.socket:
        """A socket connected to ``where`` (a ``picows`` parsed URL: host, port), trying
        each address the name resolves to in turn."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(where.host, where.port, type=socket.SOCK_STREAM)
        failure: OSError | None = None
        for family, kind, proto, _name, address in infos:
            sock = self.sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
            except BaseException as exc:
                sock.close()
                if not isinstance(exc, OSError):
                    raise
                failure = exc
                continue
            if self.is_cut:
                sock.close()
                break
            return sock
        if self.is_cut:
            raise ConnectionAbortedError("the dial was given up")
        raise failure or OSError(f"no address for {where.host}")

    def cut(self) -> None:
        """End the dial's TCP connection now (a no-op once the socket is closed)."""
        self.is_cut = True
        sock = self.sock
        if sock is not None and sock.fileno() >= 0:
            with contextlib.suppress(OSError):  # not connected yet: connect() sees is_cut
                sock.shutdown(socket.SHUT_RDWR)


async def dial(
    url: str,
    *,
    where: str,
    headers: Mapping[str, str] | None,
    subprotocols: Sequence[str] | None,
    open_timeout: float,
    ping_interval: float | None,
    ping_timeout: float | None,
    close_timeout: float,
    max_size: int | None,
    ssl: ssl_module.SSLContext | None,
    proxy: str | bool | None,
    sock: DialSocket | None = None,
) -> ClientConnection:
    """Open a connection to ``url`` (``where`` is its redacted form, for messages).
    Raises :class:`~wavewire.errors.ServiceError` subclasses whose ``retryable`` says
    whether another attempt could succeed (module docstring). ``sock`` lets the caller
    :meth:`~DialSocket.cut` the dial while it is under way; cancelled, the dial cuts its
    TCP connection itself."""
    sock = sock or DialSocket()
    extra = dict(headers or {})
    offered = [p for p in (subprotocols or ()) if p]
    if offered:
        extra["Sec-WebSocket-Protocol"] = ", ".join(offered)
    log = redacting_logger(LOGGER_NAME)
    debug = log.isEnabledFor(logging.DEBUG)
    if debug:
        _log_request(log, url, extra)
    options: dict[str, Any] = {}
    if ping_interval:
        reply = min(ping_timeout or ping_interval, ping_interval)
        options.update(enable_auto_ping=True, auto_ping_idle_timeout=ping_interval,
                       auto_ping_reply_timeout=reply)
    try:
        async with asyncio.timeout(open_timeout):
            transport, listener = await picows.ws_connect(
                lambda: ClientConnection(max_size, close_timeout),
                url,
                ssl_context=ssl,
                websocket_handshake_timeout=open_timeout,
                logger_name=PicowsLog(log),
                max_frame_size=max_size if max_size is not None else 1 << 62,
                extra_headers=extra or None,
                proxy=proxy_for(url, proxy),
                socket_factory=sock.connect,
                **options,
            )
    except WSInvalidStatusError as exc:
        response = exc.response
        if debug:
            _log_response(log, response)
        status = int(response.status) if response is not None else 0
        raise handshake_error(where, status, response.headers if response else None,
                              exc.raw_body) from None
    except TimeoutError:
        sock.cut()
        raise ServiceTimeoutError(f"{where}: no handshake within {open_timeout:g} s") from None
    except BaseException as exc:  # cancelled, or the connection failed
        given_up = sock.is_cut
        sock.cut()
        if not isinstance(exc, (OSError, WSError)):
            raise
        if given_up:
            raise ConnectError(f"{where}: the dial was given up") from None
        err = ConnectError(f"{where}: {type(exc).__name__}: {redact_text(str(exc))}")
        err.retryable = not isinstance(exc, WSInvalidURL)
        raise err from None
    if debug:
        _log_response(log, transport.response)
    conn = cast("ClientConnection | None", listener)
    if conn is None or sock.is_cut:  # the connection ended during the handshake
        if conn is not None:
            conn.abort()
        what = "the dial was given up" if sock.is_cut else "closed during the handshake"
        raise ConnectError(f"{where}: {what}")
    try:
        conn.subprotocol = _chosen(transport, offered, where)
    except ServiceError:
        conn.abort()
        raise
    return conn


def _chosen(transport: Any, offered: list[str], where: str) -> str | None:
    """The subprotocol the server chose; a ``ConnectError`` if it chose one not offered."""
    response = transport.response
    chosen = response.headers.get("Sec-WebSocket-Protocol") if response is not None else None
    if chosen is None:
        return None
    chosen = chosen.strip()
    if chosen not in offered:
        raise ConnectError(f"{where}: the server chose a subprotocol that was not offered")
    return str(chosen)


def _log_request(log: logging.Logger, url: str, headers: Mapping[str, str]) -> None:
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    log.debug("> GET %s HTTP/1.1", target)
    log.debug("> Host: %s", parts.netloc)
    for name, value in headers.items():
        log.debug("> %s: %s", name, value)


def _log_response(log: logging.Logger, response: Any) -> None:
    if response is None:
        return
    log.debug("< %s %d", response.version.decode(), int(response.status))
    for name, value in response.headers.items():
        log.debug("< %s: %s", name, value)

"""``WebSocketService``: the base a provider service over one WebSocket extends (Deepgram,
Cartesia, ElevenLabs …).

A service is a processor that owns a :class:`~wavewire.transports.client.WebSocketClient`
and a sans-I/O serializer for the provider's messages. This base does the plumbing:

* **start**: on the session's start it builds the client (URL, headers, subprotocols and
  serializer from overridable methods; the session's clock; tasks owned by the session)
  and connects in a session task, so the session does not wait for the provider.
  Frames sent meanwhile wait in the client's buffer (``buffer_size`` messages, oldest
  dropped and counted beyond).
* **in and out**: :meth:`send_frame` encodes and sends; received messages are decoded by
  the serializer and pushed by :meth:`on_service_frames`: data frames stamped with the
  epoch the work started in (the epoch of the latest send; see
  :attr:`~WebSocketService.replies_follow_work`), stale data dropped and counted,
  :class:`~wavewire.frames.ErrorFrame` upstream, the rest downstream.
* **interruption**: :meth:`on_interruption` drops the client's held (now stale) buffer
  and sends what the serializer encodes for an
  :class:`~wavewire.frames.InterruptionFrame` (Deepgram ``Clear``, Cartesia cancel …).
* **errors**: connection failures become :class:`~wavewire.frames.ErrorFrame` s (not
  fatal unless ``fatal_errors``): the service stops (an auth refusal is never retried),
  counts what it can no longer send, and the session goes on. Bad provider messages are
  counted by the client and reported as non-fatal errors.
* **end**: on :class:`~wavewire.frames.EndFrame` the serializer's ``close()`` messages
  are sent, the service waits up to :attr:`end_drain_s` for the provider's last replies
  (the provider closes), then closes; on :class:`~wavewire.frames.CancelFrame` it closes
  at once. No task is left either way.
* **reconnects** are the client's (backoff on the session clock, ``open()`` sent again,
  held audio flushed: a drop loses no audio up to ``buffer_size`` messages).
* **keep-alive**: set :attr:`keepalive_interval` and :meth:`keepalive_messages`; they go
  out after that long without any message sent, on every connection.
* **metrics**: :meth:`start_ttfb_metrics` / :meth:`stop_ttfb_metrics` and
  :meth:`start_processing_metrics` / :meth:`stop_processing_metrics` push
  :class:`~wavewire.frames.MetricsFrame` s (``ttfb``, ``processing``, seconds).

A subclass **must** implement :meth:`websocket_url` and :meth:`make_serializer`, and
override :meth:`process_frame` to send what it consumes (``await self.send_frame(f)``)
and pass every other frame to ``super().process_frame``. It usually adds its credentials
in :meth:`websocket_headers` (calling ``super()`` keeps the AI Gateway's header) and sets
:attr:`api_key_env`, :attr:`base_url_env` and :attr:`default_base_url`. It may override
:meth:`websocket_subprotocols`, :meth:`close_error` (the provider's close codes as typed
errors), :meth:`on_service_frames` (per-context epochs, with
:meth:`push_service_frame`), :meth:`on_interruption`,
:attr:`replies_follow_work` (False for STT) and :attr:`end_drain_s`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import AuthError, ProtocolError, RemoteClosedError, WavewireError
from ..frames import (
    DATA,
    SYSTEM,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    MetricsData,
    MetricsFrame,
    StartFrame,
)
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameDirection, FrameProcessor
from ..secrets import Secret
from ..transports.backoff import Backoff
from ..transports.client import WebSocketClient
from .gateway import AIGateway, websocket_url

if TYPE_CHECKING:
    from ..serializers.base import FrameSerializer, Message

__all__ = ["WebSocketService"]

_DEFAULT_BACKOFF = Backoff()


class WebSocketService(FrameProcessor):
    """Base of a service over one provider WebSocket (module docstring).

    :param api_key: the provider's key (default: the :attr:`api_key_env` variable).
    :param base_url: the provider's base URL (default: the :attr:`base_url_env`
        variable, else :attr:`default_base_url`); ``http(s)://`` means ``ws(s)://``.
    :param gateway: route through this Cloudflare AI Gateway; ``None``: the one
        ``CF_AIG_GATEWAY_URL`` / ``CF_AIG_TOKEN`` name, if set; ``False``: never.
    :param reconnect: the client's backoff (``None``: no reconnect).
    :param buffer_size: messages held while disconnected (500: 10 s of 20 ms audio).
    :param fatal_errors: connection failures end the session (default: they do not).
    """

    api_key_env: str | None = None
    """Environment variable the API key defaults to."""
    base_url_env: str | None = None
    """Environment variable the base URL defaults to."""
    default_base_url: str = ""
    """The provider's base URL when neither argument nor environment gives one."""
    keepalive_interval: float | None = None
    """Seconds without any message sent after which :meth:`keepalive_messages` go out;
    ``None``: no keep-alive."""
    replies_follow_work: bool = True
    """True when replies answer what was sent (TTS: audio for text): data frames are
    stamped with the epoch of the latest send and dropped (counted) if an interruption
    came since. False when replies are new input (STT: transcripts), which take the
    current epoch."""
    reconnect_on_normal_close: bool = False
    """Reconnect also when the provider closes with 1000 (one that ends idle sockets
    normally); otherwise such a close ends the service."""
    end_drain_s: float = 0.0
    """On an EndFrame, how long to wait for the provider to close after the serializer's
    ``close()`` messages (its last results arrive meanwhile)."""

    def __init__(
        self,
        *,
        api_key: str | Secret | None = None,
        base_url: str | None = None,
        gateway: AIGateway | bool | None = None,
        reconnect: Backoff | None = _DEFAULT_BACKOFF,
        buffer_size: int = 500,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        close_timeout: float = 5.0,
        fatal_errors: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        env_key = os.environ.get(self.api_key_env) if self.api_key_env else None
        self.api_key: Secret | None = Secret.of(api_key) or Secret.of(env_key)
        env_url = os.environ.get(self.base_url_env) if self.base_url_env else None
        raw_url = base_url or env_url or self.default_base_url
        self.base_url = websocket_url(raw_url).rstrip("/") if raw_url else ""
        self.gateway: AIGateway | None = (
            AIGateway.from_env() if gateway is None or gateway is True
            else gateway or None
        )
        self.reconnect = reconnect
        self.buffer_size = buffer_size
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.close_timeout = close_timeout
        self.fatal_errors = fatal_errors
        self.client: WebSocketClient | None = None
        """The connection, from the session's start on."""
        self.failed: WavewireError | None = None
        """Why the service stopped working, if it did (the session went on)."""
        self._work_epoch = 0
        self._closing = False
        self._connect_task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._ttfb_start: float | None = None
        self._processing_start: float | None = None

    # -- what a subclass provides ----------------------------------------------------------

    def websocket_url(self) -> str:
        """The ``ws(s)://`` URL to connect to (query included). Must be implemented."""
        raise NotImplementedError(f"{type(self).__name__} must implement websocket_url()")

    def make_serializer(self) -> FrameSerializer:
        """A new serializer for the provider's messages. Must be implemented."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_serializer()")

    def websocket_headers(self) -> dict[str, str]:
        """Handshake headers: the gateway's ``cf-aig-authorization`` when routed through
        one; subclasses add their credentials."""
        return self.gateway.headers() if self.gateway is not None else {}

    def websocket_subprotocols(self) -> list[str]:
        """Subprotocols to offer (none by default)."""
        return []

    def keepalive_messages(self) -> Sequence[Message]:
        """What a keep-alive sends (see :attr:`keepalive_interval`)."""
        return []

    def close_error(self, code: int | None, reason: str) -> WavewireError | None:
        """The typed error of a close the provider sent, for its own codes; ``None``:
        the client's default policy (:mod:`wavewire.transports.backoff`)."""
        return None

    # -- the connection ----------------------------------------------------------------------

    def make_client(self) -> WebSocketClient:
        """The client for this session (called at start)."""
        client = WebSocketClient(
            self.websocket_url(),
            self.make_serializer,
            headers=self.websocket_headers(),
            subprotocols=self.websocket_subprotocols(),
            reconnect=self.reconnect,
            reconnect_on_normal_close=self.reconnect_on_normal_close,
            buffer_size=self.buffer_size,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            close_timeout=self.close_timeout,
            name=f"{self.name}:ws",
            clock=self.clock,
            owner=self,
            close_errors=self.close_error,
        )
        if self.keepalive_interval:
            client.every(self.keepalive_interval, self.keepalive_messages, idle_only=True)
        client.add_event_handler("on_connected", lambda _c: self._connected.set())
        client.add_event_handler("on_disconnected", self._disconnected)
        client.add_event_handler("on_decode_error", self._bad_message)
        client.add_event_handler("on_failed", lambda _c, exc: self._fail(exc))
        return client

    async def on_start(self, frame: StartFrame) -> None:
        await super().on_start(frame)
        self.failed, self._closing, self._work_epoch = None, False, self.epoch
        self.client = self.make_client()
        self._connect_task = self.create_task(self._connect(self.client), "connect")

    async def _connect(self, client: WebSocketClient) -> None:
        try:
            await client.connect(on_frames=self.on_service_frames)
        except WavewireError as exc:
            await self._fail(exc)

    async def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an open connection; True if there is one."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _fail(self, exc: WavewireError) -> None:
        if self.failed is not None:
            return
        self.failed = exc
        what = "credentials refused" if isinstance(exc, AuthError) else "connection failed"
        await self.push_error(f"{self.name}: {what}: {exc}", fatal=self.fatal_errors,
                              exception=exc)

    async def _disconnected(self, client: WebSocketClient, code: int | None, reason: str) -> None:
        self._connected.clear()
        if code == 1000 and not self._closing and not self.reconnect_on_normal_close:
            await self._fail(RemoteClosedError(
                f"{client.where}: the provider ended the connection"
                + (f" ({reason})" if reason else ""), close_code=code, reason=reason))

    async def _bad_message(self, _client: WebSocketClient, exc: ProtocolError) -> None:
        await self.push_error(f"{self.name}: bad message from the provider: {exc}",
                              exception=exc)

    async def close_client(self, *, drain: float = 0.0) -> None:
        """Close the connection (``close()`` messages first, waiting up to ``drain``
        seconds for the provider to close) and stop every task of it. Idempotent."""
        self._closing = True
        task, self._connect_task = self._connect_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=self.close_timeout)
        client = self.client
        if client is not None:
            unsent = client.held
            await client.close(drain=drain)
            if unsent:  # never connected again: what waited is lost
                self.count_drop("closed", unsent)
        self._connected.clear()

    async def on_end(self, frame: EndFrame) -> None:
        await self.close_client()
        await super().on_end(frame)

    async def on_cancel(self, frame: CancelFrame) -> None:
        await self.close_client()
        await super().on_cancel(frame)

    # -- frames --------------------------------------------------------------------------------

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Handles interruptions and the end; pushes every frame on."""
        if isinstance(frame, InterruptionFrame):
            await self.on_interruption()
        elif isinstance(frame, EndFrame):
            await self.close_client(drain=self.end_drain_s)
        elif isinstance(frame, CancelFrame):
            await self.close_client()
        await self.push(frame, direction)

    async def send_frame(self, frame: Frame) -> None:
        """Encode ``frame`` with the serializer and send it (held while reconnecting);
        replies are stamped with the current epoch. Counted as dropped once the service
        has failed."""
        client = self.client
        if client is None or self.failed is not None or client.closed:
            self.count_drop("not-connected")
            return
        self._work_epoch = self.epoch
        await client.send_frame(frame)

    async def send_message(self, message: Message) -> None:
        """Send one raw message (as :meth:`send_frame`)."""
        client = self.client
        if client is None or self.failed is not None or client.closed:
            self.count_drop("not-connected")
            return
        self._work_epoch = self.epoch
        await client.send(message)

    async def on_service_frames(self, frames: list[Frame]) -> None:
        """Push the frames a provider message decoded to (see the module docstring); a
        subclass that knows better which epoch a reply belongs to (by context id, say)
        overrides this and calls :meth:`push_service_frame` itself."""
        epoch = self._work_epoch if self.replies_follow_work else self.epoch
        for frame in frames:
            await self.push_service_frame(frame, epoch)

    async def push_service_frame(self, frame: Frame, epoch: int) -> None:
        """Push one frame from the provider as work of ``epoch``: an ``ErrorFrame``
        upstream; a data frame stamped with ``epoch`` and downstream, or dropped (counted
        as ``stale``) if an interruption came since; a control frame stamped and
        downstream (as the pipeline does, it is never stale); a system frame downstream
        as it is."""
        if isinstance(frame, ErrorFrame):
            if frame.processor is None:
                frame.processor = self.name
            await self.push(frame, UPSTREAM)
            return
        tier = frame.tier
        if frame.epoch < 0 and tier != SYSTEM:
            if tier == DATA and epoch < self.epoch:  # work from before an interruption
                self.count_drop("stale")
                return
            frame.epoch = epoch
        await self.push(frame, DOWNSTREAM)

    async def on_interruption(self) -> None:
        """Drop held messages and tell the provider (the serializer's encoding of an
        :class:`~wavewire.frames.InterruptionFrame`); reset pending metrics."""
        self._ttfb_start = self._processing_start = None
        client = self.client
        if client is None or client.closed:
            return
        dropped = client.clear()
        if dropped:
            self.count_drop("interrupted", dropped)
        for message in client.serializer.encode(InterruptionFrame()):
            await client.send(message)

    # -- metrics ---------------------------------------------------------------------------

    def start_ttfb_metrics(self) -> None:
        """Start timing the time to first byte (a request went out)."""
        if self._ttfb_start is None:
            self._ttfb_start = self.clock.now()

    async def stop_ttfb_metrics(self) -> float | None:
        """The first reply came: push a ``ttfb`` metric; returns it (``None`` if not
        timing)."""
        start, self._ttfb_start = self._ttfb_start, None
        return await self._metric("ttfb", start)

    def start_processing_metrics(self) -> None:
        """Start timing a unit of work."""
        if self._processing_start is None:
            self._processing_start = self.clock.now()

    async def stop_processing_metrics(self) -> float | None:
        """The work is done: push a ``processing`` metric; returns it."""
        start, self._processing_start = self._processing_start, None
        return await self._metric("processing", start)

    async def _metric(self, name: str, start: float | None) -> float | None:
        if start is None:
            return None
        value = max(0.0, self.clock.now() - start)
        await self.push(MetricsFrame([MetricsData(self.name, name, value)]))
        return value

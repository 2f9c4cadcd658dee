"""One socket an emulator dials (Twilio's, the Cloudflare SFU's): wavewire's own
:class:`~wavewire.transports.client.WebSocketClient`, set up the way a platform dials --
no reconnect (the platform decides when to dial again), nothing held while
disconnected, no proxy -- with each received message handed to the emulator and the
end of the connection as a future (:attr:`Dialed.ended`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..serializers.base import FrameSerializer
from ..transports.client import TaskOwner, WebSocketClient
from ..transports.connection import Message

__all__ = ["Dialed", "Message", "dial"]


class Dialed:
    """A connected socket; see the module docstring.

    :param url: where to dial.
    :param name: names the client (in its task names and logs).
    :param owner: owns the client's reader task.
    """

    def __init__(self, url: str, *, name: str, owner: TaskOwner) -> None:
        self.client = WebSocketClient(
            url, FrameSerializer(), reconnect=None, buffer_size=0, proxy=None,
            max_size=1 << 20, name=name, owner=owner,
        )
        self.ended: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        """Resolves to the close code once the connection has closed."""
        self._sent_code: int | None = None
        self.client.add_event_handler("on_disconnected", self._disconnected)

    @property
    def close_code(self) -> int | None:
        """How the connection ended: the first close code seen (the peer's, or the one
        :meth:`close` sent), 1006 if it dropped; ``None`` while open."""
        if self.ended.done():
            return self.ended.result()
        return self._sent_code

    async def _disconnected(self, _client: WebSocketClient, code: int, _reason: str) -> None:
        if not self.ended.done():
            self.ended.set_result(code)

    async def send(self, message: Message) -> bool:
        """Send one message; ``False`` (nothing sent) once the connection has ended."""
        if self.ended.done() or self.client.closed:
            return False
        await self.client.send(message)
        return True

    def abort(self) -> None:
        """Cut the TCP connection now, with no close frame (the peer sees 1006, as when
        the network drops); the client's reader then ends by itself."""
        self.client.abort()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` (bounded by the client's close deadline) and stop the
        client's tasks. Idempotent."""
        if not self.ended.done() and self._sent_code is None:
            self._sent_code = code
        await self.client.close(code, reason)
        if not self.ended.done():  # the reader was stopped before it saw the close
            self.ended.set_result(self._sent_code or code)


async def dial(url: str, on_message: Callable[[Message], Awaitable[None]], *, name: str,
               owner: TaskOwner) -> Dialed:
    """Connect to ``url``; ``on_message`` is called with every message received, in
    order (in the client's reader task). Raises :class:`~wavewire.errors.ConnectError` (or
    ``AuthError``, ``RateLimitError``, ``ServiceTimeoutError``) if it cannot."""
    dialed = Dialed(url, name=name, owner=owner)
    await dialed.client.connect(on_message)
    return dialed

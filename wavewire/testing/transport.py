"""A stand-in for an asyncio transport, so a protocol driver (the server's
:class:`~wavewire.transports.wire.ServerConnection`) runs with no socket: bytes are fed
through ``get_buffer``/``buffer_updated`` (see :func:`feed`) and what it writes is
counted, and kept unless ``keep=False`` (a benchmark that writes millions of frames)."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["FakeTransport", "feed"]


class FakeTransport:
    """Just enough of an asyncio transport: writes counted (and kept), never sent.

    :param keep: keep the written bytes in :attr:`data` (:meth:`take` empties it)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.data = bytearray()
        """The bytes written and not yet taken (``keep=True``)."""
        self.writes = 0
        """Calls to :meth:`write`."""
        self.written = 0
        """Bytes written."""
        self.closing = False
        """``close()`` or ``abort()`` was called."""
        self.reading = True
        """Reading is not paused."""

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.written += len(data)
        if self.keep:
            self.data += data

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 9) if name == "peername" else default

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def take(self) -> bytes:
        """The bytes written since the last call."""
        out = bytes(self.data)
        self.data.clear()
        return out


class _Buffered(Protocol):
    def get_buffer(self, sizehint: int) -> Any: ...
    def buffer_updated(self, nbytes: int) -> None: ...


def feed(protocol: _Buffered, data: bytes) -> None:
    """Deliver ``data`` to a buffered protocol as one read from the socket would."""
    buf = protocol.get_buffer(len(data))
    buf[:len(data)] = data
    protocol.buffer_updated(len(data))

"""Writing one message without ``websockets``' asynchronous send machinery.

``Connection.send`` wraps two cheap steps — the sans-I/O protocol frames the message,
``send_data`` writes it to the transport — in an async context manager that checks the
state, handles a closing connection and drains. On the per-frame path of a voice session
that wrapper costs more than the framing and the write together. When the connection is
plainly open, not in the middle of a fragmented send and not back-pressured (so draining
would return at once), :func:`send_now` does the two steps directly; otherwise it returns
False and the caller awaits ``conn.send`` as usual, which handles every other case.

The checks read ``websockets`` internals (``paused``, ``send_in_progress``, ``protocol``,
``transport``, ``send_data`` of ``websockets.asyncio.connection.Connection``). If a
release renames one, :func:`send_now` raises :class:`FastSendUnsupported` rather than
quietly turning the fast path off (the test suite runs it on a real connection).
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State

__all__ = ["send_now", "FastSendUnsupported"]

_OPEN = State.OPEN


class FastSendUnsupported(RuntimeError):
    """The installed ``websockets`` lacks an internal :func:`send_now` relies on."""


def send_now(conn: Any, message: bytes | str) -> bool:
    """Send ``message`` on ``conn`` (a ``websockets`` asyncio connection) at once if that
    is safe; False if the caller must ``await conn.send(message)`` instead."""
    try:
        if (
            conn.paused
            or conn.send_in_progress is not None
            or conn.protocol.state is not _OPEN
            or conn.transport.is_closing()
        ):
            return False
        protocol = conn.protocol
        send_data = conn.send_data
    except AttributeError as exc:
        from websockets.version import version

        raise FastSendUnsupported(
            f"websockets {version}: {type(conn).__name__} has no {exc.name!r}, which "
            "wavewire.transports._fastsend relies on; update it for this release"
        ) from exc
    if isinstance(message, str):
        protocol.send_text(message.encode())
    else:
        protocol.send_binary(message)
    send_data()
    return True

"""Writing one message without ``websockets``' asynchronous send machinery.

``Connection.send`` wraps two cheap steps — the sans-I/O protocol frames the message,
``send_data`` writes it to the transport — in an async context manager that checks the
state, handles a closing connection and drains. On the per-frame path of a voice session
that wrapper costs more than the framing and the write together. When the connection is
plainly open, not in the middle of a fragmented send and not back-pressured (so draining
would return at once), :func:`send_now` does the two steps directly; otherwise it returns
False and the caller awaits ``conn.send`` as usual, which handles every other case.
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State

__all__ = ["send_now"]

_OPEN = State.OPEN


def send_now(conn: Any, message: bytes | str) -> bool:
    """Send ``message`` on ``conn`` at once if that is safe; False if the caller must
    ``await conn.send(message)`` instead."""
    try:
        if (
            conn.paused
            or conn.send_in_progress is not None
            or conn.protocol.state is not _OPEN
            or conn.transport.is_closing()
        ):
            return False
    except AttributeError:  # another websockets version or a test double
        return False
    protocol = conn.protocol
    if isinstance(message, str):
        protocol.send_text(message.encode())
    else:
        protocol.send_binary(message)
    conn.send_data()
    return True

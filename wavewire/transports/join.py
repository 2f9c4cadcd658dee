"""The joined-session lifecycle: which sockets a server session has, as a table.

A session on the server has an input side and an output side. A ``both`` socket is
both at once; the Cloudflare adapter's ``stream`` and ``ingest`` sockets are one each,
joined by key whichever arrives first. Every way sockets can come and go is one
transition of :data:`JOIN_TABLE` (h11 style, like
:class:`~wavewire.pipelines.task.PipelineTask`'s table); in short::

    OPENING ─opened─▶ WAITING ─input─▶ INPUT ─output─▶ JOINED ─input_left─▶ AWAY
    WAITING ─output─▶ OUTPUT ─input─▶ JOINED ─output_left─▶ INPUT
    INPUT, OUTPUT, AWAY ─(last socket leaves)─▶ GONE ─expired─▶ ENDING ─closed─▶ CLOSED
    AWAY, GONE ─input─▶ JOINED, INPUT (resumed)       any live state ─end─▶ ENDING

* ``OPENING`` -- the first socket of a key has claimed it and the session is being
  built (the bot factory may await). A partner socket arriving now waits for it
  instead of building a second session: the claim is made before anything awaits.
* ``WAITING`` -- built and running; no socket attached yet.
* ``INPUT`` / ``OUTPUT`` -- only that side is attached (``OUTPUT``: no input socket
  was ever attached, so none is being waited for).
* ``JOINED`` -- both sides attached.
* ``AWAY`` -- the output is attached, the input dropped and may come back.
* ``GONE`` -- no socket attached; the last one dropped.
* ``ENDING`` -- the session is ending (sockets close with it); nothing joins it.
* ``CLOSED`` -- over; the key is free.

``AWAY`` and ``GONE`` wait at most the session's resume window (zero for a session
without a key, or a route without a window: then they end at once), after which
``expired`` ends the session. The window starts when the input drops, or when the last
socket leaves a session whose input never came, and is not restarted by an output
socket coming back, so a session with no input lives at most one window after its
sockets have gone. A clean close of the input (1000) is a hang-up: ``input_ended``
ends the session at once. A socket that attaches to a side already taken replaces the
older one (closed 1008): the self-loops of the table. ``end`` (the bot ended, the
server drains, a timeout) ends the session from any live state.
"""

from __future__ import annotations

import asyncio
from enum import Enum

from ..errors import InvalidStateError

__all__ = ["JoinState", "JOIN_TABLE", "JOIN_EVENTS", "Join"]


class JoinState(Enum):
    """Where a session is in its joined-session lifecycle (see the module docstring)."""

    OPENING = "opening"
    WAITING = "waiting"
    INPUT = "input"
    OUTPUT = "output"
    JOINED = "joined"
    AWAY = "away"
    GONE = "gone"
    ENDING = "ending"
    CLOSED = "closed"


_S = JoinState
JOIN_EVENTS = (
    "opened",  # the session is built and running
    "failed",  # it could not be built (bot factory failed, server draining)
    "input",  # an input socket attached (replacing any other)
    "output",  # an output socket attached (replacing any other)
    "input_left",  # the input socket dropped; it may come back within the window
    "input_ended",  # the input socket hung up (clean close): the session ends
    "output_left",  # the output socket left
    "expired",  # the resume window passed with no input socket
    "end",  # the session ends for any other reason (bot, drain, timeout)
    "closed",  # the session is over and its sockets are closed
)
"""Every event of the table."""

JOIN_TABLE: dict[tuple[JoinState, str], JoinState] = {
    (_S.OPENING, "opened"): _S.WAITING,
    (_S.OPENING, "failed"): _S.CLOSED,
    (_S.WAITING, "input"): _S.INPUT,
    (_S.WAITING, "output"): _S.OUTPUT,
    (_S.WAITING, "end"): _S.ENDING,
    (_S.INPUT, "input"): _S.INPUT,
    (_S.INPUT, "output"): _S.JOINED,
    (_S.INPUT, "input_left"): _S.GONE,
    (_S.INPUT, "input_ended"): _S.ENDING,
    (_S.INPUT, "end"): _S.ENDING,
    (_S.OUTPUT, "output"): _S.OUTPUT,
    (_S.OUTPUT, "input"): _S.JOINED,
    (_S.OUTPUT, "output_left"): _S.GONE,
    (_S.OUTPUT, "end"): _S.ENDING,
    (_S.JOINED, "input"): _S.JOINED,
    (_S.JOINED, "output"): _S.JOINED,
    (_S.JOINED, "input_left"): _S.AWAY,
    (_S.JOINED, "input_ended"): _S.ENDING,
    (_S.JOINED, "output_left"): _S.INPUT,
    (_S.JOINED, "end"): _S.ENDING,
    (_S.AWAY, "input"): _S.JOINED,
    (_S.AWAY, "output"): _S.AWAY,
    (_S.AWAY, "output_left"): _S.GONE,
    (_S.AWAY, "expired"): _S.ENDING,
    (_S.AWAY, "end"): _S.ENDING,
    (_S.GONE, "input"): _S.INPUT,
    (_S.GONE, "output"): _S.AWAY,
    (_S.GONE, "expired"): _S.ENDING,
    (_S.GONE, "end"): _S.ENDING,
    (_S.ENDING, "input_left"): _S.ENDING,
    (_S.ENDING, "input_ended"): _S.ENDING,
    (_S.ENDING, "output_left"): _S.ENDING,
    (_S.ENDING, "expired"): _S.ENDING,
    (_S.ENDING, "end"): _S.ENDING,
    (_S.ENDING, "closed"): _S.CLOSED,
}
"""(state, event) → next state. Anything else is illegal (``InvalidStateError``)."""

WAITS = frozenset({_S.AWAY, _S.GONE})
"""States in which the resume window runs."""
JOINABLE = frozenset({_S.OPENING, _S.WAITING, _S.INPUT, _S.OUTPUT, _S.JOINED, _S.AWAY, _S.GONE})
"""States in which a socket with the session's key joins it (instead of a new session)."""


class Join:
    """The lifecycle of one session's sockets: its :class:`JoinState`, moved only by
    :meth:`step` along :data:`JOIN_TABLE`.

    :param key: the session key (``None``: a session of one socket)."""

    __slots__ = ("key", "state", "session", "ready")

    def __init__(self, key: str | None = None) -> None:
        self.key = key
        self.state = JoinState.OPENING
        self.session: object | None = None
        """The session once built (a :class:`~wavewire.transports.session.ServerSession`)."""
        self.ready = asyncio.Event()
        """Set once the session is built (``opened``) or could not be (``failed``)."""

    @property
    def joinable(self) -> bool:
        """True while a socket with this key joins this session."""
        return self.state in JOINABLE

    @property
    def waiting(self) -> bool:
        """True while the resume window runs (no input socket, the session waits)."""
        return self.state in WAITS

    def step(self, event: str) -> JoinState:
        """Apply ``event``; returns the new state. Raises ``InvalidStateError`` if the
        table has no such transition."""
        nxt = JOIN_TABLE.get((self.state, event))
        if nxt is None:
            raise InvalidStateError(f"join {self.key}: cannot {event} while {self.state.value}")
        self.state = nxt
        if event == "opened" or event == "failed":
            self.ready.set()
        return nxt

    def __repr__(self) -> str:
        return f"<Join {self.key} {self.state.value}>"

"""The session registry: every live server session, and the ones that have a key.

Connections whose routes give the same session key (``cloudflare:{call_id}``) find each
other here, whichever arrives first: the first creates the session, the next one
attaches to it. Sessions without a key (one socket = one session) are only counted. The
registry also holds the session cap: :meth:`SessionRegistry.full` says when a new
session must be refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import ServerSession

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """Live sessions, by key where they have one.

    :param max_sessions: the cap (``None``: no cap)."""

    __slots__ = ("max_sessions", "_all", "_by_key")

    def __init__(self, max_sessions: int | None = None) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        self._all: set[ServerSession] = set()
        self._by_key: dict[str, ServerSession] = {}

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[ServerSession]:
        return iter(list(self._all))

    @property
    def full(self) -> bool:
        """True when no further session may start."""
        return self.max_sessions is not None and len(self._all) >= self.max_sessions

    def get(self, key: str | None) -> ServerSession | None:
        """The live session with this key, if any."""
        if key is None:
            return None
        return self._by_key.get(key)

    def add(self, session: ServerSession) -> None:
        """Register a new session (its key must be free)."""
        key = session.key
        if key is not None:
            if key in self._by_key:
                raise ValueError("a session with this key is already registered")
            self._by_key[key] = session
        self._all.add(session)

    def remove(self, session: ServerSession) -> None:
        """Forget a session (idempotent)."""
        self._all.discard(session)
        key = session.key
        if key is not None and self._by_key.get(key) is session:
            del self._by_key[key]

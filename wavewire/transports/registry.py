"""The session registry: every server session, from the moment a socket claims it.

Connections whose routes give the same session key (``cloudflare:{call_id}``) find each
other here, whichever arrives first: the first *claims* the key (:meth:`open`, before
anything awaits, so a partner arriving while the session is being built finds the
claim and waits for it instead of building a second session), the next one joins it.
Each entry is a :class:`~wavewire.transports.join.Join` (the session's socket
lifecycle); sessions without a key are entries too, only not findable. The registry
also holds the session cap: :attr:`SessionRegistry.full` counts sessions being built as
well as running ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .join import Join

if TYPE_CHECKING:
    from .session import ServerSession

__all__ = ["SessionRegistry"]


class SessionRegistry:
    """Sessions (and sessions being built), by key where they have one.

    :param max_sessions: the cap (``None``: no cap)."""

    __slots__ = ("max_sessions", "_all", "_by_key")

    def __init__(self, max_sessions: int | None = None) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self.max_sessions = max_sessions
        self._all: set[Join] = set()
        self._by_key: dict[str, Join] = {}

    def __len__(self) -> int:
        """Sessions registered, those being built included."""
        return len(self._all)

    def __iter__(self) -> Iterator[ServerSession]:
        """The built sessions (a snapshot)."""
        return iter([j.session for j in self._all if j.session is not None])  # type: ignore[misc]

    @property
    def joins(self) -> list[Join]:
        """Every entry, those being built included."""
        return list(self._all)

    @property
    def full(self) -> bool:
        """True when no further session may start."""
        return self.max_sessions is not None and len(self._all) >= self.max_sessions

    def get(self, key: str | None) -> Join | None:
        """The entry that holds this key, if any (it may be ending: see
        :attr:`Join.joinable`)."""
        if key is None:
            return None
        return self._by_key.get(key)

    def open(self, key: str | None) -> Join:
        """Claim ``key`` for a new session (state ``OPENING``). A key held by an entry
        that is no longer joinable passes to the new one; a joinable holder is an error
        (join it instead)."""
        if key is not None:
            held = self._by_key.get(key)
            if held is not None and held.joinable:
                raise ValueError(f"key {key} is held by a live session")
        join = Join(key)
        self._all.add(join)
        if key is not None:
            self._by_key[key] = join
        return join

    def remove(self, join: Join) -> None:
        """Forget an entry (idempotent); its key is freed if it still holds it."""
        self._all.discard(join)
        key = join.key
        if key is not None and self._by_key.get(key) is join:
            del self._by_key[key]

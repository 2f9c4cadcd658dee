"""``Timeouts``: the one owner of a session's timers.

Every deadline of a session is armed here, on the session's clock (a
:class:`~wavewire.testing.FakeClock` in tests), and all of them are cancelled together
when the session ends (:meth:`Timeouts.cancel`, from :class:`~.task.PipelineTask`'s
shutdown); a timer armed after that is refused. Two kinds:

* :meth:`Timeouts.after` -- a callback after a delay (the end and idle deadlines of
  :class:`~.task.PipelineParams`, the server's ``session_timeout``);
* :meth:`Timeouts.quiet` -- a callback once a counter has stopped growing (the
  server's ``idle_timeout`` on the messages received): it is sampled every half
  timeout, so costs nothing per message and fires within 1.5 times the timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..clock import Clock, TimerHandle

__all__ = ["Timeouts"]


class Timeouts:
    """The timers of one session. See the module docstring."""

    __slots__ = ("_clock", "_timers", "closed")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._timers: list[TimerHandle] = []
        self.closed = False
        """True once :meth:`cancel` ran: no timer may be armed any more."""

    def __len__(self) -> int:
        """Timers armed and not cancelled (fired ones included until the end)."""
        return len(self._timers)

    def after(self, seconds: float, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` in ``seconds`` (nothing once the session ended)."""
        if not self.closed:
            self._timers.append(self._clock.call_later(seconds, callback, *args))

    def quiet(
        self, seconds: float, activity: Callable[[], int], on_quiet: Callable[[], Any]
    ) -> None:
        """Call ``on_quiet()`` once ``activity()`` (a counter that grows while the peer is
        active) has not changed for two checks in a row, a check every ``seconds / 2``:
        between ``seconds`` and one and a half ``seconds`` after the last change."""
        step = seconds / 2
        self.after(step, self._check, step, activity, on_quiet, -1, 0)

    def _check(
        self,
        step: float,
        activity: Callable[[], int],
        on_quiet: Callable[[], Any],
        last: int,
        unchanged: int,
    ) -> None:
        seen = activity()
        unchanged = unchanged + 1 if seen == last else 0
        if unchanged >= 2:
            on_quiet()
            return
        self.after(step, self._check, step, activity, on_quiet, seen, unchanged)

    def cancel(self) -> None:
        """Cancel every timer and refuse new ones (the session has ended)."""
        self.closed = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

"""Named event hooks (``@obj.event_handler("on_client_connected")``), as Pipecat users
know them, shared by processors, tasks and transports.

Events are declared before use so a typo in a handler's name fails at once instead of
never firing. Handlers may be plain functions or coroutines; each receives the emitting
object first. A handler that raises is logged and does not stop the others.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from .log import logger

__all__ = ["EventEmitter"]

F = TypeVar("F", bound=Callable[..., Any])


class EventEmitter:
    """Mixin: declare events, register handlers, call them."""

    _event_handlers: dict[str, list[Callable[..., Any]]]

    def _init_events(self, *names: str) -> None:
        try:
            handlers = self._event_handlers
        except AttributeError:
            handlers = self._event_handlers = {}
        for name in names:
            handlers.setdefault(name, [])

    def register_event_handler(self, event_name: str) -> None:
        """Declare an event this object may emit."""
        self._init_events(event_name)

    @property
    def event_names(self) -> list[str]:
        """Every event this object declares."""
        self._init_events()
        return list(self._event_handlers)

    def add_event_handler(self, event_name: str, handler: Callable[..., Any]) -> None:
        """Register ``handler`` for ``event_name`` (which must be declared)."""
        self._init_events()
        try:
            self._event_handlers[event_name].append(handler)
        except KeyError:
            known = ", ".join(sorted(self._event_handlers)) or "none"
            raise ValueError(
                f"{type(self).__name__} has no event {event_name!r} (known: {known})"
            ) from None

    def event_handler(self, event_name: str) -> Callable[[F], F]:
        """Decorator form of :meth:`add_event_handler`."""

        def decorator(handler: F) -> F:
            self.add_event_handler(event_name, handler)
            return handler

        return decorator

    def has_event_handlers(self, event_name: str) -> bool:
        """True if anyone listens to ``event_name`` (lets hot paths skip work)."""
        self._init_events()
        return bool(self._event_handlers.get(event_name))

    async def call_event_handler(self, event_name: str, *args: Any, **kwargs: Any) -> None:
        """Call every handler of ``event_name`` with ``(self, *args, **kwargs)``."""
        self._init_events()
        for handler in tuple(self._event_handlers.get(event_name, ())):
            try:
                result = handler(self, *args, **kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception(f"{type(self).__name__}: handler for {event_name} failed")

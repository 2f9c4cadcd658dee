"""Built-in bots, by name, for ``wavewire serve --bot`` and ``wavewire connect --bot``.

A bot is a factory: given the session's :class:`~wavewire.transports.routes.ConnectionInfo`
(or ``None`` when run as a client), it returns the processors to run between the edges
(sync or async). A factory may also have a ``vad`` attribute, a factory of a per-session
:class:`~wavewire.audio.vad.VAD`: the server then gives each session's input edge one,
pushing its evidence for the bot's own turn taking. Later bots join with one line in :data:`BOTS` (``"name": "module:attr"``,
imported on first use) or at run time with :func:`register_bot`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["BOTS", "register_bot", "get_bot", "bot_names"]

BOTS: dict[str, str | Callable[..., Any]] = {
    "echo": "wavewire.bots.echo:echo_bot",
    "assistant": "wavewire.bots.assistant:assistant_bot",
}
"""Bot name → factory, or ``"module:attribute"`` of a factory (imported lazily)."""


def register_bot(name: str, factory: str | Callable[..., Any]) -> None:
    """Make a bot available under ``name``."""
    BOTS[name] = factory


def bot_names() -> list[str]:
    """Every registered bot name."""
    return sorted(BOTS)


def get_bot(name: str) -> Callable[..., Any]:
    """The factory registered as ``name`` (``KeyError`` with the known names if none)."""
    try:
        target = BOTS[name]
    except KeyError:
        raise KeyError(f"unknown bot {name!r} (known: {', '.join(bot_names())})") from None
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module), attr)
        BOTS[name] = target
    return target

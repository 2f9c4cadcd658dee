"""A lazy handle on loguru's logger.

Importing loguru costs ~20 ms, which would be a fifth of the import budget of the server
entry point; nothing on a hot path logs, so the import waits for the first log call.
Use ``from wavewire.log import logger`` and log as with loguru (``{}`` formatting is
done by loguru only if the level is enabled).
"""

from __future__ import annotations

from typing import Any

__all__ = ["logger"]


class _LazyLogger:
    __slots__ = ("_logger",)

    def __init__(self) -> None:
        self._logger: Any = None

    def __getattr__(self, name: str) -> Any:
        target = self._logger
        if target is None:
            from loguru import logger as target

            self._logger = target
        return getattr(target, name)


logger: Any = _LazyLogger()

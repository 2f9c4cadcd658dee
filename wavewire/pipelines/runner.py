"""``PipelineRunner``: runs one or many sessions, and stops them well on SIGINT/SIGTERM.

The first signal drains every session (an EndFrame each, within ``drain_timeout``); a
second signal, or the deadline, cancels whatever is left.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from ..log import logger
from .task import PipelineTask, TaskState

__all__ = ["PipelineRunner"]


class PipelineRunner:
    """Runs :class:`PipelineTask` s to completion.

    :param handle_sigint: install SIGINT/SIGTERM handlers while running (main thread only).
    :param drain_timeout: seconds the sessions get to end after the first signal.
    """

    def __init__(self, *, handle_sigint: bool = True, drain_timeout: float = 10.0) -> None:
        self.handle_sigint = handle_sigint
        self.drain_timeout = drain_timeout
        self._tasks: set[PipelineTask] = set()
        self._running: dict[PipelineTask, asyncio.Task] = {}
        self._signalled = 0
        self._drain_deadline: asyncio.TimerHandle | None = None
        self._control: set[asyncio.Task] = set()  # drain/cancel tasks started by signals

    @property
    def sessions(self) -> frozenset[PipelineTask]:
        """The sessions running now."""
        return frozenset(self._running)

    async def run(self, *tasks: PipelineTask) -> None:
        """Run the given sessions until all have closed."""
        loop = asyncio.get_running_loop()
        installed = self._install_signals(loop) if self.handle_sigint else []
        try:
            for task in tasks:
                self._start(task)
            while self._running:
                await asyncio.wait(set(self._running.values()))
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            for control in list(self._control):
                control.cancel()
            if self._control:
                await asyncio.wait(self._control, timeout=1.0)
            if self._drain_deadline is not None:
                self._drain_deadline.cancel()

    def _start(self, task: PipelineTask) -> None:
        runner_task = asyncio.get_running_loop().create_task(task.run(), name=f"run:{task.name}")
        self._running[task] = runner_task
        runner_task.add_done_callback(lambda _t: self._running.pop(task, None))

    def add(self, task: PipelineTask) -> None:
        """Start another session while :meth:`run` is running."""
        self._start(task)

    async def stop_when_done(self) -> None:
        """Ask every session to end gracefully; cancel what is left after the deadline."""
        for task in list(self._running):
            if task.state in (TaskState.STARTING, TaskState.RUNNING):
                await task.stop_when_done()
        loop = asyncio.get_running_loop()
        if self._drain_deadline is None:
            self._drain_deadline = loop.call_later(
                self.drain_timeout, lambda: self._spawn(self.cancel("drain deadline"))
            )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._control.add(task)
        task.add_done_callback(self._control.discard)

    async def cancel(self, reason: str = "runner cancelled") -> None:
        """Cancel every session now."""
        await asyncio.gather(*(t.cancel(reason) for t in list(self._running)))

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[Any]:
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass  # not the main thread, or no signal support
        return installed

    def _on_signal(self, sig: int) -> None:
        self._signalled += 1
        name = signal.Signals(sig).name
        if self._signalled == 1:
            logger.info(f"{name}: draining {len(self._running)} session(s)")
            self._spawn(self.stop_when_done())
        else:
            logger.info(f"{name} again: cancelling")
            self._spawn(self.cancel(name))

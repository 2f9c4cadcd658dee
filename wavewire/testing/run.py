"""``run_test``: run processors on a list of frames and see what comes out of each end."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..clock import Clock
from ..frames import EndFrame, Frame, StartFrame
from ..pipelines.observers import BaseObserver
from ..pipelines.task import PipelineParams, PipelineTask
from ..processors.base import DOWNSTREAM, UPSTREAM, FrameProcessor

__all__ = ["Sleep", "Up", "RunResult", "run_test", "assert_frame_types", "start_task"]


async def start_task(task: PipelineTask, timeout: float = 5.0) -> asyncio.Task:
    """Run ``task`` in the background and return once it is running (its ``run()`` task
    is returned, to await or cancel). Raises ``TimeoutError`` if it does not start."""
    runner = asyncio.get_running_loop().create_task(task.run(), name=f"run:{task.name}")
    if not await task.wait_started(timeout):
        if not runner.done():
            runner.cancel()
        await asyncio.wait({runner}, timeout=timeout)
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        raise TimeoutError(f"{task.name} did not start within {timeout}s")
    return runner


@dataclass(slots=True)
class Sleep:
    """In ``frames_to_send``: wait this long (on the test's clock) before going on."""

    seconds: float


@dataclass(slots=True)
class Up:
    """In ``frames_to_send``: send this frame *upstream*, from the end of the pipeline."""

    frame: Frame


@dataclass(slots=True)
class RunResult:
    """What came out of a :func:`run_test`."""

    down: list[Frame] = field(default_factory=list)
    """Frames that reached the end of the pipeline (downstream), in order."""
    up: list[Frame] = field(default_factory=list)
    """Frames that reached the top of the pipeline (upstream), in order."""
    task: PipelineTask | None = None
    """The session that ran (for its stats)."""


def assert_frame_types(
    frames: Sequence[Frame], expected: Sequence[type[Frame]], what: str = "frames"
) -> None:
    """Assert ``frames`` are instances of ``expected``, one for one, in order."""
    ok = len(frames) == len(expected) and all(
        isinstance(f, t) for f, t in zip(frames, expected, strict=False)
    )
    if not ok:
        got = [type(f).__name__ for f in frames]
        want = [t.__name__ for t in expected]
        raise AssertionError(f"{what}: expected {want}, got {got}")


async def run_test(
    processors: FrameProcessor | Sequence[FrameProcessor],
    *,
    frames_to_send: Sequence[Frame | Sleep | Up] = (),
    expected_down: Sequence[type[Frame]] | None = None,
    expected_up: Sequence[type[Frame]] | None = None,
    send_end_frame: bool = True,
    ignore_start: bool = True,
    params: PipelineParams | None = None,
    observers: Sequence[BaseObserver] = (),
    clock: Clock | None = None,
    timeout: float = 5.0,
) -> RunResult:
    """Run ``processors`` as a session, send ``frames_to_send``, then end it.

    Returns every frame that came out of each end. With ``expected_down`` /
    ``expected_up``, also asserts their types. The StartFrame (unless ``ignore_start``
    is false) and the closing EndFrame are left out of ``down``. With a ``FakeClock``,
    :class:`Sleep` advances it; otherwise it sleeps for real.
    """
    task = PipelineTask(processors, params=params, observers=observers, clock=clock)
    result = RunResult(task=task)
    task.set_taps(down=result.down.append, up=result.up.append)
    runner = asyncio.get_running_loop().create_task(task.run(), name="run_test")
    try:
        async with asyncio.timeout(timeout):
            await task.wait_started(timeout)
            for item in frames_to_send:
                if isinstance(item, Sleep):
                    advance = getattr(clock, "advance", None)
                    if advance is not None:
                        await advance(item.seconds)
                    else:
                        await asyncio.sleep(item.seconds)
                elif isinstance(item, Up):
                    await task.queue_frame(item.frame, UPSTREAM)
                else:
                    await task.queue_frame(item, DOWNSTREAM)
            if send_end_frame:
                await task.stop_when_done()
            else:
                await task.cancel("run_test finished")
            await asyncio.shield(runner)
    finally:
        if not runner.done():
            runner.cancel()
            await asyncio.wait({runner}, timeout=timeout)
    if ignore_start and result.down and isinstance(result.down[0], StartFrame):
        del result.down[0]
    if send_end_frame and result.down and isinstance(result.down[-1], EndFrame):
        del result.down[-1]
    if expected_down is not None:
        assert_frame_types(result.down, expected_down, "downstream")
    if expected_up is not None:
        assert_frame_types(result.up, expected_up, "upstream")
    return result

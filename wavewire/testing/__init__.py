"""Helpers for testing pipelines and processors: :func:`run_test` and :class:`FakeClock`."""

from .clock import FakeClock
from .run import RunResult, Sleep, Up, assert_frame_types, run_test, start_task

__all__ = ["FakeClock", "RunResult", "Sleep", "Up", "assert_frame_types", "run_test", "start_task"]

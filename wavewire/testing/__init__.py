"""Helpers for testing pipelines and processors: :func:`run_test`, :class:`FakeClock`,
:class:`FakeConnection` (a connection with no socket) and, in :mod:`.transport`,
:class:`~.transport.FakeTransport` (an asyncio transport with no socket)."""

from .clock import FakeClock
from .connection import FakeConnection
from .run import RunResult, Sleep, Up, assert_frame_types, run_test, start_task

__all__ = ["FakeClock", "FakeConnection", "RunResult", "Sleep", "Up", "assert_frame_types",
           "run_test", "start_task"]

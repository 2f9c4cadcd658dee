"""A task's lifecycle: its states (:class:`TaskState`) and the table of legal moves.

The table is data, so the lifecycle can be read (and tested) at one glance::

    IDLE ──start──▶ STARTING ──started──▶ RUNNING ──end──▶ ENDING ──ended──▶ CLOSED
      │                │                     │               │
      └──cancel──▶ CLOSED  └─────cancel──────┴────cancel─────┴──▶ CANCELLING ──cancelled──▶ CLOSED

:class:`~.task.PipelineTask` moves only through this table; an illegal transition raises
:class:`~wavewire.errors.InvalidStateError`, so "send after close" cannot happen quietly.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["TaskState"]


class TaskState(Enum):
    """Lifecycle states of a session."""

    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    ENDING = "ending"
    CANCELLING = "cancelling"
    CLOSED = "closed"


_S = TaskState
_ACCEPTING = frozenset({_S.STARTING, _S.RUNNING, _S.ENDING})
_TRANSITIONS: dict[tuple[TaskState, str], TaskState] = {
    (_S.IDLE, "start"): _S.STARTING,
    (_S.IDLE, "cancel"): _S.CLOSED,
    (_S.STARTING, "started"): _S.RUNNING,
    (_S.STARTING, "cancel"): _S.CANCELLING,
    (_S.RUNNING, "end"): _S.ENDING,
    (_S.RUNNING, "cancel"): _S.CANCELLING,
    (_S.ENDING, "ended"): _S.CLOSED,
    (_S.ENDING, "cancel"): _S.CANCELLING,
    (_S.CANCELLING, "cancelled"): _S.CLOSED,
}
"""The lifecycle table: (state, event) → next state. Anything else is illegal."""

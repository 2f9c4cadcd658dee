"""The frame base class and its three tiers (see :mod:`wavewire.frames`).

:func:`_frame` is the decorator every frame class of the package uses: a slotted
dataclass whose ``__repr__`` and ``__eq__`` come from :class:`Frame`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, TypeVar, dataclass_transform

__all__ = ["SYSTEM", "DATA", "CONTROL", "Frame", "SystemFrame", "DataFrame", "ControlFrame"]

SYSTEM = 0
"""Tier constant of :class:`SystemFrame` (see :attr:`Frame.tier`)."""
DATA = 1
"""Tier constant of :class:`DataFrame`."""
CONTROL = 2
"""Tier constant of :class:`ControlFrame`."""


_T = TypeVar("_T")


@dataclass_transform(field_specifiers=(field,))
def _frame(cls: type[_T]) -> type[_T]:
    """``@dataclass(slots=True)`` that generates only ``__init__``: ``__repr__`` and
    ``__eq__`` are shared by :class:`Frame`, which halves the import cost of ~50 frame
    classes (dataclass code generation dominates the package's import time)."""
    return dataclass(slots=True, repr=False, eq=False)(cls)


def _field_names(cls: type) -> tuple[str, ...]:
    names = cls.__dict__.get("_wavewire_fields")
    if names is None:
        names = tuple(f.name for f in fields(cls) if f.repr)
        type.__setattr__(cls, "_wavewire_fields", names)
    return names


@_frame
class Frame:
    """Base of every frame. Use one of the three tiers, never this class directly."""

    tier: ClassVar[int] = DATA

    epoch: int = field(default=-1, init=False, repr=False, compare=False)
    """Interruption epoch this frame belongs to; -1 until the first push stamps it.

    A producer that starts work in one epoch and delivers it later (a service's receive
    task, say) sets this itself from :attr:`FrameProcessor.epoch` taken when the work
    began, so that the work is discarded if an interruption came in between."""

    @property
    def name(self) -> str:
        """The frame's class name, for logs."""
        return type(self).__name__

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={getattr(self, n)!r}" for n in _field_names(type(self)))
        return f"{type(self).__name__}({values})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in _field_names(type(self)))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


@_frame
class SystemFrame(Frame):
    """Out-of-band frame: processed at once, never queued behind data, never discarded
    by an interruption."""

    tier: ClassVar[int] = SYSTEM


@_frame
class DataFrame(Frame):
    """Ordered content; discarded by an interruption."""

    tier: ClassVar[int] = DATA


@_frame
class ControlFrame(Frame):
    """Ordered control; survives interruptions."""

    tier: ClassVar[int] = CONTROL

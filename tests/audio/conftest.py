"""Shared helpers for the audio tests: a tiny fake clock and synthetic signals."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told to: ``sleep`` advances it instantly."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._timers: list[tuple[float, int, _Handle, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        await self.advance(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._timers, (self.t + delay, next(self._seq), handle, callback, args))
        return handle

    async def advance(self, dt: float) -> None:
        end = self.t + dt
        while self._timers and self._timers[0][0] <= end:
            when, _, handle, callback, args = heapq.heappop(self._timers)
            self.t = when
            if not handle.cancelled:
                callback(*args)
        self.t = end


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def voiced(rate: int, seconds: float, f0: float = 150.0, level_dbfs: float = -12.0,
           seed: int = 0) -> np.ndarray:
    """A speech-like signal: harmonics of a wobbling f0 with syllable-rate (4 Hz) AM."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f) / rate
    x = np.zeros_like(t)
    for h in range(1, 20):
        if h * f0 * 1.1 >= rate / 2:
            break
        formant = np.exp(-(((h * f0) - 700) / 600) ** 2) + 0.5 * np.exp(-(((h * f0) - 1800) / 500) ** 2)
        x += (formant + 0.05) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t) ** 2
    x *= 10 ** (level_dbfs / 20) * 32768 * np.sqrt(2) / max(1e-9, np.sqrt(2 * np.mean(x**2)))
    return x


def noise(rate: int, seconds: float, level_dbfs: float = -30.0, seed: int = 1) -> np.ndarray:
    """White noise at an RMS of ``level_dbfs``."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(int(rate * seconds)) * 32768 * 10 ** (level_dbfs / 20)


def to_pcm(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes()

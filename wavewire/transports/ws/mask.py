"""WebSocket masking (RFC 6455 §5.3): a payload XOR its repeated 4-byte masking key.

Masking and unmasking are the same operation, so there is one function,
:func:`apply_mask`: the fastest one this install has. That is ``websockets``' C
``apply_mask`` (SIMD XOR) when its extension file is there -- loaded from the file alone,
without importing the ``websockets`` package (whose ``__init__`` costs ~20 ms of
imports) -- else :func:`python_apply_mask` (numpy for long payloads, one big-integer XOR
for short ones). :data:`C_APPLY_MASK` is the C function, or ``None`` when it is missing.

Both take ``bytes`` or a ``memoryview`` slice for the payload and the key (frames are
unmasked straight out of a read buffer) and return new ``bytes``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["apply_mask", "python_apply_mask", "C_APPLY_MASK"]

Masker = Callable[[Any, Any], bytes]
"""``f(payload, key)``: the payload XOR the repeated key, as new ``bytes``."""

NUMPY_FROM = 128
"""Without the C function, payloads at least this long are masked with numpy."""


def _load_c_apply_mask() -> Masker | None:
    """``websockets.speedups.apply_mask``, loaded from its extension file without running
    the ``websockets`` package's ``__init__``; ``None`` for a pure-Python install."""
    module = sys.modules.get("websockets.speedups")
    if module is None:
        try:
            spec = importlib.util.find_spec("websockets")
        except (ImportError, ValueError):
            return None
        folders = (spec.submodule_search_locations or []) if spec is not None else []
        for folder in folders:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = os.path.join(folder, "speedups" + suffix)
                if os.path.exists(path):
                    loader = importlib.machinery.ExtensionFileLoader("websockets.speedups", path)
                    spec_ = importlib.util.spec_from_loader(loader.name, loader)
                    assert spec_ is not None
                    module = importlib.util.module_from_spec(spec_)
                    loader.exec_module(module)
                    break
            if module is not None:
                break
    return getattr(module, "apply_mask", None)


_np: Any = None


def _numpy() -> Any:
    global _np
    if _np is None:
        import numpy

        _np = numpy
    return _np


def python_apply_mask(payload: bytes | memoryview, key: bytes | memoryview) -> bytes:
    """``payload`` XOR the repeated 4-byte ``key``, without the C extension."""
    n = len(payload)
    if not n:
        return b""
    key = bytes(key)
    if n >= NUMPY_FROM:
        np = _numpy()
        return (np.frombuffer(payload, np.uint8, n)  # type: ignore[no-any-return]
                ^ np.frombuffer(key * ((n >> 2) + 1), np.uint8, n)).tobytes()
    repeated = int.from_bytes(key * ((n >> 2) + 1), "little")
    return (int.from_bytes(payload, "little") ^ repeated).to_bytes(n + 4, "little")[:n]


C_APPLY_MASK: Masker | None = _load_c_apply_mask()
"""``websockets``' C ``apply_mask``, or ``None`` when its extension is not installed."""

apply_mask: Masker = C_APPLY_MASK or python_apply_mask
"""``apply_mask(payload, key)``: ``payload`` XOR the repeated 4-byte ``key`` (masks and
unmasks), by the fastest function available."""

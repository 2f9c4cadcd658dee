"""Load the generated protobuf modules when the installed runtime accepts them.

Generated modules check the protobuf runtime's version at import time (and raise
something other than ImportError when it is too old), so tests that cross-check the
hand-written codec against them skip cleanly instead of failing."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or protobuf's VersionError
        pytest.skip(f"{name} not usable here: {type(exc).__name__}: {exc}")

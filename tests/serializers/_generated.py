"""Load the generated protobuf modules (``wavewire/protos/*_pb2.py``) the tests compare the
hand-written codec against.

They are part of the tree, so failing to import them is a test failure, never a skip:
generated modules check the protobuf runtime's version at import time, and a runtime
older than the one they were generated for must not turn the cross-checks off quietly."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


def load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or protobuf's VersionError
        from google.protobuf import __version__ as runtime

        pytest.fail(f"{name} cannot be imported with protobuf {runtime} (the dev extra "
                    f"pins the runtime it needs): {type(exc).__name__}: {exc}")

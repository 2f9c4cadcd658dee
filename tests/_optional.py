"""Importing optional packages in tests: skip only when the package is not installed.

``pytest.importorskip`` (and ``try: import ... except Exception: skip``) also skips when
an installed package fails to import, which hides a broken install behind a green run.
:func:`need` looks the top-level package up first: absent, the test skips (a failure
under ``CI=true``, see ``tests/conftest.py``); present, it is imported and any error
fails the test.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import pytest

__all__ = ["need", "installed"]


def installed(package: str) -> bool:
    """True if the top-level package of ``package`` can be found (without importing it)."""
    return importlib.util.find_spec(package.partition(".")[0]) is not None


def need(module: str) -> ModuleType:
    """Import ``module``; skip the test (or module) only if its package is not installed."""
    if not installed(module):
        pytest.skip(f"{module.partition('.')[0]} is not installed", allow_module_level=True)
    return importlib.import_module(module)

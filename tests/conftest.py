"""Shared fixtures (every test must leave no asyncio task behind) and the strict mode.

Strict mode (``CI=true``, which ``.ci/run`` exports): the README says CI runs the whole
suite, so a test that is skipped (at collection or when it runs) or deselected there is
a failure, not a quiet "s" in a green run. :data:`ALLOWED_SKIPS` is the one place to
excuse a test, with the reason next to it; it is empty. Outside CI skips stay skips, so a
machine without Chromium or the optional packages can still run the rest.

Optional packages are imported with :func:`tests._optional.need`, which skips only when
the package is not installed; an installed package that fails to import is an error.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest

STRICT_ENV = "CI"
ALLOWED_SKIPS: dict[str, str] = {}
"""Test node ids (or a prefix ending in ``::``) that may skip under ``CI=true``, each
with the reason it may. Keep it empty or tiny."""
_DESELECTED = pytest.StashKey[list[str]]()


def strict() -> bool:
    """True when the run is CI's: skips and deselections fail."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"true", "1", "yes"}


def _allowed(nodeid: str) -> bool:
    return any(nodeid == k or (k.endswith("::") and nodeid.startswith(k)) for k in ALLOWED_SKIPS)


def _reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if (strict() and report.skipped and not hasattr(report, "wasxfail")
            and not _allowed(item.nodeid)):
        report.outcome = "failed"
        report.longrepr = (f"skipped under {STRICT_ENV}=true (strict mode: CI runs every "
                           f"test): {_reason(report.longrepr)}")
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[Any]:
    report = yield
    if strict() and report.skipped and not _allowed(report.nodeid + "::"):
        report.outcome = "failed"
        report.longrepr = (f"{report.nodeid} skipped at collection under {STRICT_ENV}=true "
                           f"(strict mode: CI runs every test): {_reason(report.longrepr)}")
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    if strict() and items:
        session = items[0].session
        deselected = session.stash.setdefault(_DESELECTED, [])
        deselected.extend(i.nodeid for i in items if not _allowed(i.nodeid))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    deselected = session.stash.get(_DESELECTED, [])
    if deselected:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"strict mode ({STRICT_ENV}=true): {len(deselected)} test(s) deselected, "
                f"which CI must run: {', '.join(deselected[:10])}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED



@pytest.fixture
async def no_leaked_tasks():
    """Fails the test if it leaves tasks running on the loop."""
    before = set(asyncio.all_tasks())
    yield
    for _ in range(3):
        await asyncio.sleep(0)
    current = asyncio.current_task()
    leaked = {t for t in asyncio.all_tasks() - before if not t.done() and t is not current}
    assert not leaked, f"leaked tasks: {[t.get_name() for t in leaked]}"

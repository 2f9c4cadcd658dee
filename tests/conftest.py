"""Shared fixtures: every test must leave no asyncio task behind."""

from __future__ import annotations

import asyncio

import pytest


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

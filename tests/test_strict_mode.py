"""The strict mode of ``tests/conftest.py``, run on a tiny suite in a subprocess: under
``CI=true`` a skip (in a test or at collection) or a deselection fails the run; without
it the same suite passes with skips. ``tests._optional.need`` skips a missing package
but errors on an installed one that fails to import, with or without ``CI``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

SUITE = {
    "test_skips.py": '''
import pytest
from _optional import need

def test_passes():
    assert True

def test_skips_inside():
    pytest.skip("no widget here")

@pytest.mark.skipif(True, reason="marked away")
def test_skipped_by_marker():
    pass

def test_needs_a_missing_package():
    need("wavewire_no_such_package_xyz")
''',
    "test_module_skip.py": '''
from _optional import need
need("wavewire_no_such_package_xyz.sub")

def test_never_collected():
    pass
''',
    "test_broken_import.py": '''
from _optional import need

def test_installed_but_broken():
    need("brokenpkg")
''',
    "brokenpkg/__init__.py": 'raise RuntimeError("brokenpkg cannot start")\n',
}


def _run(suite: Path, ci: bool, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci:
        env["CI"] = "true"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "-p", "no:randomly", *args],
        cwd=suite, env=env, capture_output=True, text=True, timeout=120,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _counts(out: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|"
                                                   r"deselected)", out)}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("strict")
    shutil.copy(HERE / "conftest.py", root / "conftest.py")
    shutil.copy(HERE / "_optional.py", root / "_optional.py")
    for name, text in SUITE.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text(text)
    return root


def test_without_ci_skips_are_skips_and_a_broken_import_is_an_error(suite: Path) -> None:
    code, out = _run(suite, ci=False)
    counts = _counts(out)
    assert counts.get("passed") == 1, out
    assert counts.get("skipped") == 4, out  # three tests and one module
    assert counts.get("failed") == 1, out  # the installed package that cannot import
    assert "brokenpkg cannot start" in out
    assert code == 1
    code, out = _run(suite, False, "test_skips.py")
    assert code == 0 and _counts(out) == {"passed": 1, "skipped": 3}, out


def test_under_ci_every_skip_fails(suite: Path) -> None:
    code, out = _run(suite, True, "test_skips.py")
    counts = _counts(out)
    assert code == 1, out
    assert "skipped" not in counts, out
    assert counts.get("passed") == 1, out
    assert counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0) == 3, out
    for reason in ("no widget here", "marked away",
                   "wavewire_no_such_package_xyz is not installed"):
        assert reason in out, (reason, out)
    assert "strict mode" in out
    # a module skipped at collection is a collection error: the run stops, not green
    code, out = _run(suite, True, "test_module_skip.py")
    assert code == pytest.ExitCode.INTERRUPTED, out
    assert "test_module_skip.py skipped at collection" in out, out


def test_under_ci_a_deselected_test_fails_the_run(suite: Path) -> None:
    code, out = _run(suite, True, "test_skips.py", "-k", "passes")
    assert _counts(out) == {"passed": 1, "deselected": 3}, out
    assert code == 1 and "3 test(s) deselected" in out, out
    code, out = _run(suite, False, "test_skips.py", "-k", "passes")
    assert code == 0, out

"""Every script in benchmarks/ runs, in its seconds-long ``--smoke`` mode, so a
benchmark can never rot unnoticed (issue 15, hole 9: ``benchmarks/websocket.py`` failed
on a fresh install for want of uvicorn). ``scripts/fuzz.py`` gets the same treatment.
The figures of a smoke run mean nothing; only that each script still runs end to end."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))
EXPECT = {
    "audio.py": ["per 20 ms frame", "added delay on 20 ms chunks"],
    "conversation.py": ["Framework time per turn", "| wavewire  |"],
    "edge_cost.py": ["Output edge", "raw", "twilio", "per frame"],
    "pipeline.py": ["marginal cost per processor hop", "no task left running"],
    "serializers.py": ["protocol", "twilio"],
    "websocket.py": ["Summary", "wavewire   C=    5"],
    "voice.py": ["silence timeout", "| total", "from vad start"],
    "voice_load.py": ["Summary", "wavewire  C=    2", "answered"],
    "ws_client.py": ["µs/msg", "| client ", "| picows "],
    "wire_cost.py": ["µs per echoed frame"],
}
# voice.py: the offline assistant has no pipecat twin; ws_client.py measures wavewire's
# client against the wire libraries only; edge_cost.py and wire_cost.py measure wavewire's
# output edge and its own WebSocket layer alone
NO_PIPECAT = {"audio.py", "voice.py", "ws_client.py", "edge_cost.py", "wire_cost.py"}
HAVE_PIPECAT = importlib.util.find_spec("pipecat") is not None


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_every_benchmark_is_covered() -> None:
    assert [p.name for p in SCRIPTS] == sorted(EXPECT)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_smoke_run(script: Path) -> None:
    proc = _run([str(script), "--smoke"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for text in EXPECT[script.name]:
        assert text in proc.stdout, proc.stdout[-3000:]
    if HAVE_PIPECAT and script.name not in NO_PIPECAT:
        assert "pipecat" in proc.stdout and "not installed" not in proc.stdout
        assert "not importable" not in proc.stdout
    if HAVE_PIPECAT and script.name == "websocket.py":
        assert "pipecat    C=    5" in proc.stdout  # pipecat's server (uvicorn) really ran
    if HAVE_PIPECAT and script.name == "voice_load.py":
        assert "pipecat   C=    2" in proc.stdout  # pipecat's own services really ran


def test_fuzz_script_smoke_run() -> None:
    proc = _run(["scripts/fuzz.py", "--per-serializer", "30", "--only", "twilio,raw"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "twilio" in proc.stdout and "raw" in proc.stdout and "untyped 0" in proc.stdout

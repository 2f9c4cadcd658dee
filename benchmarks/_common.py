"""Helpers shared by the benchmark scripts (not part of the package, not tests).

* :data:`REPO` is put on ``sys.path`` so ``python benchmarks/x.py`` works from a checkout
  without installing wavewire.
* :func:`quiet_logs` silences loguru (pipecat logs every lifecycle step at DEBUG, which
  would otherwise be formatted and printed during timed sections).
* :func:`pipecat_version` tells whether pipecat-ai can be compared against (it is optional).
* :func:`gc_paused` is the one way timed sections handle the garbage collector, so every
  framework is timed under the same conditions.
* :func:`import_time_ms` times an import in fresh interpreters.
* :func:`print_table` / :func:`write_json` report results.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

__all__ = [
    "REPO",
    "quiet_logs",
    "pipecat_version",
    "gc_paused",
    "percentile",
    "linear_fit",
    "import_time_ms",
    "rss_bytes",
    "machine_info",
    "print_table",
    "write_json",
]


def quiet_logs() -> None:
    """Remove loguru's handlers (both frameworks log through loguru), if it is installed."""
    try:
        from loguru import logger
    except ImportError:
        return
    logger.remove()


def pipecat_version() -> str | None:
    """pipecat-ai's version if it can be imported, else ``None`` (it is optional)."""
    try:
        from importlib.metadata import version

        import pipecat  # noqa: F401
    except Exception:
        return None
    try:
        return version("pipecat-ai")
    except Exception:
        return "unknown"


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect, then keep the cyclic GC off for the timed section (restored after)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank on sorted data."""
    if not values:
        return float("nan")
    data = sorted(values)
    k = max(0, min(len(data) - 1, round(q / 100 * (len(data) - 1))))
    return data[k]


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of ``ys`` against ``xs``."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    return slope, my - slope * mx


_IMPORT_PROBE = (
    "import time, sys\n"
    "t0 = time.perf_counter()\n"
    "exec(sys.argv[1])\n"
    "print(time.perf_counter() - t0)\n"
)


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = _now()
    proc = subprocess.run(
        args, env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )
    wall = _now() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{args!r} failed: {proc.stderr.strip()[-500:]}")
    return wall, proc.stdout


def _now() -> float:
    import time

    return time.perf_counter()


def import_time_ms(statement: str, runs: int = 7) -> dict[str, float]:
    """Time ``statement`` (imports) in ``runs`` fresh interpreters.

    Returns ``inproc`` (min time measured around the statement inside the child: the
    import alone) and ``wall`` (min wall time of the child minus the min wall time of
    ``python -c pass``), both in milliseconds. The first run also warms the bytecode cache.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    py = sys.executable
    _run([py, "-c", _IMPORT_PROBE, statement], env)  # warm .pyc and the page cache
    base, walls, inproc = [], [], []
    for _ in range(runs):
        base.append(_run([py, "-c", "pass"], env)[0])
        wall, out = _run([py, "-c", _IMPORT_PROBE, statement], env)
        walls.append(wall)
        inproc.append(float(out.strip().splitlines()[-1]))
    return {
        "inproc": min(inproc) * 1e3,
        "wall": (min(walls) - min(base)) * 1e3,
    }


def rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def machine_info() -> dict[str, Any]:
    """Where the numbers came from."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table (readable in a terminal, pasteable into a README)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write results as JSON (with machine info)."""
    payload = {"machine": machine_info(), **data}
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def pipecat_raw_pcm_serializer(rate: int = 16000) -> Any:
    """A pipecat ``FrameSerializer`` for the benchmarks' clients: a binary message is
    ``rate`` Hz mono s16le PCM both ways, nothing else is carried (pipecat is imported
    here, so only the pipecat server processes pay for it)."""
    from pipecat.frames.frames import InputAudioRawFrame, OutputAudioRawFrame
    from pipecat.serializers.base_serializer import FrameSerializer

    class RawPCMSerializer(FrameSerializer):
        """Binary message = mono s16le PCM, both ways; nothing else is carried."""

        async def serialize(self, frame: Any) -> bytes | None:
            return frame.audio if isinstance(frame, OutputAudioRawFrame) else None

        async def deserialize(self, data: str | bytes) -> Any:
            if isinstance(data, bytes | bytearray) and data:
                return InputAudioRawFrame(audio=bytes(data), sample_rate=rate, num_channels=1)
            return None

    return RawPCMSerializer()

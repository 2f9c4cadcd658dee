"""``wavewire doctor``: what this installation can do, and the one command that adds
each missing piece.

It reports which optional extras are installed, which hosted providers have their
environment variables set (presence only: a value is never printed, since keys, tokens
and even base URLs can hold secrets), and whether Chromium is there for the browser
test. Nothing is imported or contacted: packages are looked up with
:func:`importlib.util.find_spec`, so the check is quick and has no side effects.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

__all__ = ["EXTRAS", "PROVIDERS", "Check", "collect", "has_module", "report", "run"]

EXTRAS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("offline", "local speech: espeak-ng TTS, pocketsphinx STT, WebRTC VAD",
     (("espeakng_loader", "espeakng-loader"), ("pocketsphinx", "pocketsphinx"),
      ("webrtcvad", "webrtcvad-wheels"))),
    ("silero", "Silero VAD", (("onnxruntime", "onnxruntime"),)),
    ("openai", "OpenAI-compatible LLMs", (("httpx", "httpx"), ("httpx_sse", "httpx-sse"))),
    ("fast", "uvloop event loop", (("uvloop", "uvloop"),)),
    ("bench", "benchmarks against Pipecat", (("pipecat", "pipecat-ai"), ("psutil", "psutil"))),
)
"""Extra name, what it gives, and its (module, distribution) pairs."""

PROVIDERS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("openai", ("OPENAI_API_KEY", "OPENAI_BASE_URL"), "either variable"),
    ("deepgram", ("DEEPGRAM_API_KEY",), "the key"),
    ("cartesia", ("CARTESIA_API_KEY",), "the key"),
    ("elevenlabs", ("ELEVENLABS_API_KEY",), "the key"),
    ("cloudflare-aig", ("CF_AIG_GATEWAY_URL", "CF_AIG_TOKEN"), "both variables"),
)
"""Provider, its environment variables, and which of them it needs."""

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass(slots=True)
class Check:
    """One line of the report."""

    section: str
    """``extras``, ``providers`` or ``browser``."""
    name: str
    """What was checked."""
    ok: bool
    """Whether it is there."""
    detail: str
    """What was found (never a secret value)."""
    fix: str = ""
    """The one command that adds it, when it is missing."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def has_module(name: str) -> bool:
    """Whether module ``name`` can be imported (found, not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def collect(
    env: Mapping[str, str] | None = None,
    find: Callable[[str], bool] = has_module,
    which: Callable[[str], str | None] = shutil.which,
) -> list[Check]:
    """Every check, in report order (``env`` defaults to ``os.environ``)."""
    env = os.environ if env is None else env
    checks: list[Check] = []
    for extra, what, modules in EXTRAS:
        missing = [dist for mod, dist in modules if not find(mod)]
        found = ", ".join(f"{dist} {_version(dist)}" for mod, dist in modules if dist not in missing)
        detail = what + (f" ({found})" if found else "")
        if missing:
            detail += f"; missing {', '.join(missing)}"
        fix = f"pip install 'wavewire[{extra}]'" if missing else ""
        checks.append(Check("extras", extra, not missing, detail, fix))
    for provider, names, rule in PROVIDERS:
        present = [n for n in names if env.get(n)]
        ok = len(present) == len(names) if rule == "both variables" else bool(present)
        shown = ", ".join(f"{n} {'set' if n in present else 'not set'}" for n in names)
        needed = [n for n in names if n not in present]
        fix = "" if ok else "export " + " ".join(f"{n}=..." for n in (
            needed if rule == "both variables" else needed[:1]
        ))
        checks.append(Check("providers", provider, ok, shown, fix))
    path = next((p for p in map(which, CHROMIUM_NAMES) if p), None)
    checks.append(Check(
        "browser", "chromium", path is not None,
        f"found at {path}" if path else "not on PATH (needed by the browser test only)",
        "" if path else "apt-get install -y chromium",
    ))
    return checks


_TITLES = {
    "extras": "Extras (pip install 'wavewire[NAME]')",
    "providers": "Providers (environment variables; values are never shown)",
    "browser": "Browser test",
}


def report(checks: list[Check]) -> str:
    """The report as text."""
    from . import __version__

    lines = [f"wavewire {__version__} on Python {sys.version.split()[0]}"]
    section = ""
    for c in checks:
        if c.section != section:
            section = c.section
            lines += ["", _TITLES[section]]
        lines.append(f"  {'ok     ' if c.ok else 'missing'}  {c.name:<15} {c.detail}")
        if c.fix:
            lines.append(f"  {'':7}  {'':<15} -> {c.fix}")
    missing = sum(not c.ok for c in checks)
    lines += ["", "Everything is there." if not missing else
              f"{missing} not set up: each such line above says the command that adds it."]
    return "\n".join(lines) + "\n"


def run(out: TextIO | None = None) -> int:
    """Print the report; always succeeds (exit code 0)."""
    (out or sys.stdout).write(report(collect()))
    return 0

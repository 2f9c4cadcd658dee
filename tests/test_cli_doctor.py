"""``wavewire doctor``: extras, provider keys (presence only, never values), Chromium,
and the command that adds each missing piece; always exit code 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wavewire import doctor
from wavewire.cli import main

SECRETS = {
    "OPENAI_API_KEY": "sk-test-0penai-SECRET-value",
    "OPENAI_BASE_URL": "http://user:hunter2@127.0.0.1:11434/v1",
    "DEEPGRAM_API_KEY": "dg-SECRET-4a7f",
    "CARTESIA_API_KEY": "sk_car_SECRET_93",
    "ELEVENLABS_API_KEY": "el-SECRET-xx",
    "CF_AIG_GATEWAY_URL": "https://gateway.ai.cloudflare.com/v1/acct-SECRET/gw",
    "CF_AIG_TOKEN": "cf-SECRET-token",
}


def lines_for(text: str, name: str) -> list[str]:
    """The providers' report line for ``name`` and its fix line, if any."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Providers"))
    for i, line in enumerate(lines[start:], start):
        if line.split()[1:2] == [name]:
            fix = lines[i + 1] if i + 1 < len(lines) and "->" in lines[i + 1] else ""
            return [line, fix]
    raise AssertionError(f"{name} not in report:\n{text}")


def test_all_keys_set_are_reported_but_never_printed(monkeypatch, capsys):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for value in SECRETS.values():
        assert value not in out
    assert "SECRET" not in out and "hunter2" not in out
    for provider in ("openai", "deepgram", "cartesia", "elevenlabs", "cloudflare-aig"):
        line, fix = lines_for(out, provider)
        assert line.split()[0] == "ok" and not fix
    assert "OPENAI_API_KEY set" in out and "CF_AIG_TOKEN set" in out


def test_missing_keys_say_which_variable_to_set(monkeypatch, capsys):
    for k in SECRETS:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CF_AIG_GATEWAY_URL", SECRETS["CF_AIG_GATEWAY_URL"])  # half of a pair
    monkeypatch.setenv("OPENAI_BASE_URL", SECRETS["OPENAI_BASE_URL"])  # a local server is enough
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    line, fix = lines_for(out, "deepgram")
    assert line.split()[0] == "missing" and fix.endswith("export DEEPGRAM_API_KEY=...")
    line, fix = lines_for(out, "cloudflare-aig")
    assert line.split()[0] == "missing" and fix.endswith("export CF_AIG_TOKEN=...")
    line, fix = lines_for(out, "openai")
    assert line.split()[0] == "ok" and "OPENAI_API_KEY not set" in line
    assert "hunter2" not in out and "acct-SECRET" not in out


def test_missing_extras_and_chromium_name_their_install_command():
    absent = {"pocketsphinx", "uvloop"}
    checks = doctor.collect(
        env={}, find=lambda m: m not in absent and doctor.has_module(m), which=lambda _: None
    )
    by_name = {c.name: c for c in checks}
    assert not by_name["offline"].ok and "pocketsphinx" in by_name["offline"].detail
    assert by_name["offline"].fix == "pip install 'wavewire[offline]'"
    assert by_name["fast"].fix == "pip install 'wavewire[fast]'"
    assert by_name["silero"].ok == doctor.has_module("onnxruntime")
    assert not by_name["chromium"].ok and by_name["chromium"].fix == "apt-get install -y chromium"
    text = doctor.report(checks)
    assert "-> pip install 'wavewire[offline]'" in text and "-> apt-get install -y chromium" in text


def test_everything_present():
    checks = doctor.collect(
        env=dict.fromkeys(SECRETS, "x"), find=lambda m: True, which=lambda n: f"/usr/bin/{n}"
    )
    assert all(c.ok and not c.fix for c in checks)
    assert doctor.report(checks).rstrip().endswith("Everything is there.")


def test_console_command_exits_zero_without_keys():
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["PYTHONPATH"] = os.getcwd()
    proc = subprocess.run(
        [sys.executable, "-m", "wavewire", "doctor"], capture_output=True, text=True, env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Extras" in proc.stdout and "Providers" in proc.stdout and "Browser test" in proc.stdout


@pytest.mark.parametrize("name", ["offline", "silero", "openai", "fast", "bench"])
def test_every_extra_named_exists_in_pyproject(name):
    import tomllib
    from pathlib import Path

    extras = tomllib.loads(Path("pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert name in extras

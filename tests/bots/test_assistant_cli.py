"""``wavewire serve`` / ``connect`` with the assistant: the default bot, its service
flags, one clear line (exit code 2) for what is missing, a port in use, the page URL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from wavewire.bots.assistant import AssistantConfig, check, default_llm
from wavewire.cli import build_parser


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "DEEPGRAM_", "CARTESIA_", "ELEVENLABS_", "CF_AIG_"))}
    env["PYTHONPATH"] = os.getcwd()
    env.update(extra)
    return env


def _wavewire(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wavewire", *args], capture_output=True,
                          text=True, env=env or _env(), timeout=60)


def test_assistant_is_the_default_bot_with_local_services():
    for command in (["serve"], ["connect", "--url", "ws://127.0.0.1:1/ws"]):
        args = build_parser().parse_args(command)
        assert (args.bot, args.stt, args.llm, args.tts) == ("assistant", "local", None, "local")


def test_llm_defaults_to_openai_when_its_environment_is_set(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert default_llm() == "local"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    assert default_llm() == "openai"
    assert check(AssistantConfig(llm="openai")) is None


def test_a_missing_key_is_one_line_naming_the_variable_before_serving():
    out = _wavewire("serve", "--port", "0", "--llm", "openai")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "OPENAI_API_KEY" in out.stderr
    assert "serving on" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("flags", [["--tts", "cartesia"], ["--stt", "deepgram"],
                                   ["--tts", "elevenlabs"]])
def test_a_hosted_choice_without_its_provider_is_one_clear_line(flags):
    out = _wavewire("serve", "--port", "0", *flags)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    provider = flags[1]
    assert re.search(rf"{flags[0]} {provider}", out.stderr)
    assert ("not available in this build yet" in out.stderr
            or f"{provider.upper()}_API_KEY" in out.stderr)


def test_a_port_in_use_is_one_clear_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = _wavewire("serve", "--bot", "echo", "--port", str(port))
    assert out.returncode == 2
    assert out.stderr.strip() == (f"wavewire: port {port} on 127.0.0.1 is in use (another "
                                  "server?); stop it or pick another with --port")


async def test_serve_prints_the_page_url():
    import asyncio
    import signal

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wavewire", "serve", "--port", "0",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, env=_env())
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stderr.readline()).decode()
                assert line, "the server exited"
                page = re.search(r"open (http://127\.0\.0\.1:(\d+)/) in a browser", line)
                if page:
                    break
        from tests._http import http_request

        status, _, body = await http_request("127.0.0.1", int(page.group(2)), "/")
        assert status == 200 and b"<html" in body.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()


def test_a_missing_extra_names_the_pip_install():
    def without(*missing: str):
        return lambda name: name not in missing

    offline = "pip install 'wavewire[offline]'"
    assert check(AssistantConfig(), without("pocketsphinx")) == (
        f"--stt local needs pocketsphinx: {offline}")
    assert check(AssistantConfig(), without("espeakng_loader")) == (
        f"--tts local needs espeak-ng: {offline}")
    assert check(AssistantConfig(tts="cartesia"), without("wavewire.services.cartesia")) == (
        "--tts cartesia: the cartesia service is not available in this build yet")
    assert check(AssistantConfig(), without()) is None

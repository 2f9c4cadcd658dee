"""The examples in examples/ do what the README says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from wavewire import InputAudioFrame, OutputAudioFrame
from wavewire.testing import run_test

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_echo_server_example_bot_turns_input_audio_into_output_audio():
    example = load("echo_server")
    pcm = bytes(range(256)) * 2 + bytes(128)
    result = await run_test(
        example.bot(None),
        frames_to_send=[InputAudioFrame(pcm, 16000)],
        expected_down=[OutputAudioFrame],
    )
    assert result.down[0].audio == pcm and result.down[0].sample_rate == 16000

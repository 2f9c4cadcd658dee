"""Frame tiers, audio helpers and the documentation rule (a docstring per field)."""

from __future__ import annotations

import ast
import dataclasses
import inspect

import numpy as np
import pytest

import wavewire.frames as F


def frame_classes():
    return [
        obj
        for obj in vars(F).values()
        if inspect.isclass(obj) and issubclass(obj, F.Frame) and obj.__module__ == F.__name__
    ]


@pytest.mark.parametrize(
    "cls,tier",
    [
        (F.StartFrame, F.SYSTEM),
        (F.CancelFrame, F.SYSTEM),
        (F.InterruptionFrame, F.SYSTEM),
        (F.ErrorFrame, F.SYSTEM),
        (F.UserStartedSpeakingFrame, F.SYSTEM),
        (F.BotStoppedSpeakingFrame, F.SYSTEM),
        (F.MetricsFrame, F.SYSTEM),
        (F.InputAudioFrame, F.SYSTEM),
        (F.InputTransportMessageFrame, F.SYSTEM),
        (F.OutputAudioFrame, F.DATA),
        (F.TTSAudioFrame, F.DATA),
        (F.TextFrame, F.DATA),
        (F.LLMTextFrame, F.DATA),
        (F.TranscriptionFrame, F.DATA),
        (F.InterimTranscriptionFrame, F.DATA),
        (F.LLMMessagesFrame, F.DATA),
        (F.OutputTransportMessageFrame, F.DATA),
        (F.EndFrame, F.CONTROL),
        (F.TTSStartedFrame, F.CONTROL),
        (F.TTSStoppedFrame, F.CONTROL),
        (F.LLMFullResponseStartFrame, F.CONTROL),
        (F.LLMFullResponseEndFrame, F.CONTROL),
    ],
)
def test_tier_of_each_frame(cls, tier):
    assert cls.tier == tier
    base = {F.SYSTEM: F.SystemFrame, F.DATA: F.DataFrame, F.CONTROL: F.ControlFrame}[tier]
    assert issubclass(cls, base)


def test_every_concrete_frame_is_in_exactly_one_tier():
    tiers = (F.SystemFrame, F.DataFrame, F.ControlFrame)
    for cls in frame_classes():
        if cls in (F.Frame, *tiers):
            continue
        assert sum(issubclass(cls, t) for t in tiers) == 1, cls


def test_transcription_is_not_text_so_tts_never_speaks_it():
    assert not issubclass(F.TranscriptionFrame, F.TextFrame)
    assert not issubclass(F.InterimTranscriptionFrame, F.TextFrame)


def test_frames_are_slotted():
    for cls in frame_classes():
        assert "__slots__" in cls.__dict__, cls
        with pytest.raises(AttributeError):
            F.TextFrame("x").not_a_field = 1  # type: ignore[attr-defined]


def test_every_field_has_a_docstring():
    tree = ast.parse(inspect.getsource(F))
    missing = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name.startswith("_"):
            continue
        body = node.body
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if "ClassVar" in ast.unparse(stmt.annotation):
                    continue
                nxt = body[i + 1] if i + 1 < len(body) else None
                documented = (
                    isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)
                )
                if not documented:
                    missing.append(f"{node.name}.{stmt.target.id}")
    assert not missing, missing


def test_epoch_starts_unstamped_and_is_not_an_init_argument():
    frame = F.TextFrame("hi")
    assert frame.epoch == -1
    assert "epoch" not in inspect.signature(F.TextFrame).parameters
    assert frame == F.TextFrame("hi")  # epoch does not take part in equality


def test_audio_helpers_and_zero_copy_view():
    pcm = np.array([1, -2, 3, -4, 5, -6], dtype="<i2").tobytes()
    mono = F.OutputAudioFrame(pcm, 16000, 1)
    assert mono.num_frames == 6
    assert mono.duration == pytest.approx(6 / 16000)
    assert mono.samples.tolist() == [1, -2, 3, -4, 5, -6]
    assert np.shares_memory(mono.samples, np.frombuffer(pcm, dtype="<i2"))
    stereo = F.InputAudioFrame(pcm, 8000, 2)
    assert stereo.num_frames == 3
    assert stereo.samples.shape == (3, 2)
    assert stereo.samples[:, 1].tolist() == [-2, -4, -6]
    ba = bytearray(pcm)
    writable = F.OutputAudioFrame(ba, 16000)  # type: ignore[arg-type]
    writable.samples[0] = 99
    assert np.frombuffer(ba, dtype="<i2")[0] == 99


def test_frames_compare_by_value_and_replace_works():
    a = F.TranscriptionFrame("hello", user_id="u1")
    b = dataclasses.replace(a, text="bye")
    assert b.user_id == "u1" and b.text == "bye"
    assert a != b

"""The public API: every exported name resolves, nothing drifts, imports stay lazy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import wavewire


def test_every_exported_name_resolves():
    for name in wavewire.__all__:
        assert getattr(wavewire, name) is not None, name


def test_core_modules_exports_are_all_reexported():
    for module in (
        "wavewire.frames",
        "wavewire.errors",
        "wavewire.pipelines",
        "wavewire.serializers",
        "wavewire.transports",
    ):
        mod = importlib.import_module(module)
        internal = {"SYSTEM", "DATA", "CONTROL", "ALAW", "MULAW", "PCM_S16LE", "Message",
                    "AuthRequest", "ClientStats", "ServerSession"}
        missing = [n for n in mod.__all__ if n not in wavewire.__all__ and n not in internal]
        assert not missing, (module, missing)


def test_unknown_attribute_raises():
    import pytest

    with pytest.raises(AttributeError):
        wavewire.NoSuchThing  # noqa: B018


def test_import_is_lazy_and_core_does_not_load_numpy_or_loguru():
    code = (
        "import sys, wavewire; a = set(sys.modules); "
        "wavewire.PipelineTask; wavewire.OutputAudioFrame(b'', 16000); "
        "print('numpy' in sys.modules, 'loguru' in sys.modules, 'wavewire.frames' in a)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]

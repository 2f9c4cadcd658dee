"""The package stays cheap to import and exports what it says."""

from __future__ import annotations

import subprocess
import sys

import wavewire.audio


def test_import_is_cheap() -> None:
    code = (
        "import sys, wavewire.audio, wavewire.audio.vad; "
        "heavy = {'numpy', 'soxr', 'onnxruntime', 'webrtcvad'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_export_resolves() -> None:
    for name in wavewire.audio.__all__:
        assert callable(getattr(wavewire.audio, name)), name

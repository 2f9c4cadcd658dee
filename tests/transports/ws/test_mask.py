"""Masking (ws/mask.py): the C function and the Python fallback against a plain XOR, for
any length, from bytes or from views of a read buffer; and the C one loads without
importing the ``websockets`` package."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wavewire.transports.ws import mask


def reference_mask(data: bytes, key: bytes) -> bytes:
    """Masking as RFC 6455 §5.3 writes it: octet i XOR key octet i mod 4."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("c_mask", [True, False], ids=["c-apply-mask", "python"])
def test_apply_mask_matches_plain_masking_for_any_length_and_buffer(c_mask: bool) -> None:
    if c_mask and mask.C_APPLY_MASK is None:
        pytest.skip("websockets' C speedups are not installed")
    apply = mask.apply_mask if c_mask else mask.python_apply_mask
    assert (apply is mask.python_apply_mask) != c_mask
    key = bytes([1, 2, 3, 250])
    for n in [*range(0, 300), 640, 4097]:
        data = os.urandom(n + 7)
        want = reference_mask(data[3:3 + n], key)
        view = memoryview(bytearray(b"\xff" * 5 + key + data))  # a read buffer, key inside
        assert apply(data[3:3 + n], key) == want
        assert apply(view[12:12 + n], view[5:9]) == want
        assert apply(want, key) == data[3:3 + n]  # masking twice gives the payload back


def test_the_python_fallback_switches_to_numpy_at_its_threshold_and_agrees() -> None:
    key = os.urandom(4)
    for n in (mask.NUMPY_FROM - 1, mask.NUMPY_FROM, mask.NUMPY_FROM + 1):
        data = os.urandom(n)
        assert mask.python_apply_mask(data, key) == reference_mask(data, key)


def test_the_c_mask_loads_without_importing_the_websockets_package() -> None:
    code = ("import sys, wavewire.transports.wire, wavewire.transports.ws.mask as m; "
            "print(m.C_APPLY_MASK is not None, 'websockets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False"]

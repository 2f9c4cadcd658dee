"""Hypothesis generators of hostile messages for JSON text protocols (and of raw PCM),
for :mod:`.fuzz`: valid *templates* with fields replaced by values of another type,
deleted or added; the message nested a few thousand levels deep; huge numbers
(``1e99999``, 5 000-digit integers); lone surrogates (escaped or raw); non-UTF-8 and
binary where text is expected; truncated or corrupted text. Needs ``hypothesis``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ..serializers.base import Message

__all__ = ["Raw", "to_text", "HOSTILE", "json_messages", "pcm_messages"]


@dataclass(frozen=True, slots=True)
class Raw:
    """A JSON token written into the message text as it is (numbers ``json.dumps``
    cannot write, deep nesting, invalid escapes)."""

    text: str


def to_text(value: Any) -> str:
    """JSON text of ``value``, with :class:`Raw` leaves written verbatim and strings kept
    as they are (lone surrogates included)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_text(str(k))}:{to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_text(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value != value:
        return "NaN"
    return json.dumps(value)


_DEEP = st.integers(60, 3000).flatmap(
    lambda n: st.sampled_from([Raw("[" * n + "]" * n), Raw('{"a":' * n + "1" + "}" * n),
                               Raw("[" * n + "{" + "}" + "]" * n)])
)
_HUGE = st.sampled_from(
    [Raw("9" * 5000), Raw("-" + "1" * 4400), Raw("1e99999"), Raw("-1e-99999"), Raw("NaN"),
     Raw("Infinity"), Raw("-Infinity"), Raw("1" * 300 + ".5"), Raw("18446744073709551617")]
)
_SURROGATE = st.sampled_from(
    [Raw('"\\ud800"'), Raw('"a\\udfffb"'), Raw('"\\udc00\\ud800"'), "\ud800", "x\udcff",
     Raw('"\\ud83d\\ude00"')]
)
_ODD_TEXT = st.sampled_from(
    ["²", "².0.0", "1.0.²", "\u0661.\u0660.\u0660", "\uff11.\uff10.\uff10", "½", "⑴", "1_000", " 1", "0x10", "1e3",
     "\x00", "\u202e", "\ufeff", "MZ" + "0" * 200]
)
"""Strings that pass one check and fail the next: digits ``isdigit()`` accepts and
``int()`` refuses, numbers with underscores or spaces, control and bidi characters."""
_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)
HOSTILE = st.one_of(
    _JSON, _DEEP, _HUGE, _SURROGATE, st.text(min_size=1000, max_size=5000),
    st.sampled_from([[], {}, "", 0, -1, 2**64, True, None, 1.5]),
    _ODD_TEXT,
)
"""One hostile JSON value: any JSON, deep nesting, huge numbers, lone surrogates, long
text, and the empty and edge values that confuse type checks."""


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@st.composite
def _mutated(draw: Any, template: Any) -> Any:
    """``template`` with one to three fields replaced, deleted, or added."""
    value = _copy(template)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:
            if op == "replace":
                value = draw(HOSTILE)
            continue
        parent = value
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(HOSTILE)
        else:
            parent[key] = draw(HOSTILE)
    return value


def json_messages(templates: Sequence[Any], *, binary: bool = True) -> st.SearchStrategy[Message]:
    """Messages for a JSON text protocol derived from ``templates`` (valid messages):
    templates as they are, mutated templates, corrupted text, arbitrary JSON, and text
    or binary that is not JSON (``binary``: also random binary messages)."""
    base = st.sampled_from(list(templates))
    texts = st.one_of(
        base.map(to_text),
        base.flatmap(_mutated).map(to_text),
        base.flatmap(_mutated).flatmap(_mutated).map(to_text),
        HOSTILE.map(to_text),
        st.tuples(base.map(to_text), st.integers(0, 200)).map(lambda t: t[0][: t[1]]),
        st.tuples(base.map(to_text), st.integers(0, 200), st.text(max_size=3)).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1]:]),
        st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.text(max_size=64),
    )
    if not binary:
        return texts
    return st.one_of(texts, texts, texts, st.binary(max_size=700))


def pcm_messages() -> st.SearchStrategy[Message]:
    """Binary audio messages of any length (odd ones included)."""
    return st.binary(max_size=4000)

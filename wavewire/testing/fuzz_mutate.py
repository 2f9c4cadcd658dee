"""Deterministic and cheap variants of messages, beside :mod:`.fuzz`'s generators:
:func:`field_sweep` replaces every field of every template by every value of
:data:`HOSTILE_POOL` in turn (values random draws rarely make), and :func:`mutants`
derives many variants of a generated message at almost no cost, so a long run
(``scripts/fuzz.py``) reaches hundreds of thousands of inputs per serializer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..serializers.base import Message
from .fuzz import FuzzTarget
from .fuzz_json import Raw, _copy, _paths, to_text

__all__ = ["HOSTILE_POOL", "mutants", "field_sweep"]


HOSTILE_POOL: tuple[Any, ...] = (
    Raw("[" * 3000 + "]" * 3000), Raw('{"a":' * 1000 + "1" + "}" * 1000), Raw("9" * 5000),
    Raw("1e99999"), Raw("NaN"), Raw("-Infinity"), Raw('"\\ud800"'), "x\udcff", "",
    "x" * 3000, [], {}, 0, -1, 2**64, 1.5, True, None, [[[]]], {"": {"": None}},
    "\u0000\n\r", "é" * 10, "².0.0", "1.0.²", "\uff11.\uff10.\uff10", "½", " 1", "1_0",
)
"""Hostile values the mutator substitutes (the generator draws from :data:`.fuzz.HOSTILE`)."""


def mutants(message: Message, others: Sequence[Message], rng: Any, n: int) -> list[Message]:
    """``n`` cheap variants of ``message`` (``rng`` is a :class:`random.Random`): for a
    JSON message, one field replaced by a hostile value; else (and sometimes anyway)
    truncated, a unit flipped or inserted, a slice repeated, or spliced with another
    message of the case. Long runs use them to multiply the generator's output."""
    out: list[Message] = []
    value: Any = None
    if (isinstance(message, str) and message[:1] in ("{", "[")
            and message.count("[") + message.count("{") <= 64):  # the walks here recurse
        try:
            value = json.loads(message)
        except (ValueError, RecursionError):
            value = None
    for _ in range(n):
        if value is not None and rng.random() < 0.6:
            v = _copy(value)
            path = rng.choice(_paths(v))
            if not path:
                v = rng.choice(HOSTILE_POOL)
            else:
                parent = v
                for key in path[:-1]:
                    parent = parent[key]
                if rng.random() < 0.2:
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = rng.choice(HOSTILE_POOL)
            out.append(to_text(v))
            continue
        out.append(_splice(message, rng.choice(others) if others else message, rng))
    return out


def _splice(message: Message, other: Message, rng: Any) -> Message:
    m: Any = message
    if type(other) is not type(m):
        return m[: rng.randrange(len(m) + 1)]
    n = len(m)
    op = rng.randrange(5)
    i = rng.randrange(n + 1)
    if op == 0:
        return m[:i]
    if op == 1:
        tail: Any = other[rng.randrange(len(other) + 1):]
        return m[:i] + tail  # type: ignore[no-any-return]
    unit: Any
    if op == 2 and n:
        k = min(i, n - 1)
        unit = bytes((rng.randrange(256),)) if isinstance(m, bytes) else chr(rng.randrange(0x80))
        return m[:k] + unit + m[k + 1:]
    if op == 3:
        unit = bytes((rng.randrange(256),)) if isinstance(m, bytes) else rng.choice("\\\"{}[],:\ud800")
        return m[:i] + unit + m[i:]
    j = rng.randrange(i, n + 1)
    return m[:i] + m[i:j] * rng.randrange(2, 50) + m[j:]


def field_sweep(target: FuzzTarget) -> list[Message]:
    """Every field of every template (the whole message included) replaced, in turn, by
    every value of :data:`HOSTILE_POOL`, and deleted: a deterministic complement to the
    random generator, so no field escapes a value that random draws rarely make."""
    out: list[Message] = []
    for template in target.templates:
        for path in _paths(template):
            for hostile in (*HOSTILE_POOL, _DELETE):
                value = _copy(template)
                if not path:
                    if hostile is not _DELETE:
                        out.append(to_text(hostile))
                    continue
                parent = value
                for key in path[:-1]:
                    parent = parent[key]
                if hostile is _DELETE:
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = hostile
                out.append(to_text(value))
    return out


_DELETE = object()

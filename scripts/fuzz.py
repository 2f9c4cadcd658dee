"""Fuzz every serializer at length: the oracle of tests/serializers/test_fuzz.py, run
for at least ``--per-serializer`` inputs each (default 100,000).

    python scripts/fuzz.py                         # every serializer, 100k inputs each
    python scripts/fuzz.py --per-serializer 5000 --only twilio,vapi-server --seed 7

The generators and the oracle are :mod:`wavewire.testing.fuzz` (structure-aware
hypothesis strategies: nested, type-confused, non-UTF-8, lone surrogates, huge numbers,
every field of every message). Drawing a structured message costs hypothesis about
10 ms, so each generated message is also mutated ``--mutants`` times (a field replaced
by a hostile value, truncated, spliced: :func:`wavewire.testing.fuzz_mutate.mutants`) and every
variant goes through the oracle too. Per serializer it prints the inputs decoded, how many
were refused with a typed error, the slowest single decode (CPU time) and the time taken; any
other exception (or a value the serializer could not send back) is printed with the
shrunk input that causes it, and the exit status is 1. Needs the ``dev`` extra.

The LLM service's stream parsing is fuzzed here too, as the targets ``openai-chunks``
(SSE event data) and ``openai-http`` (whole HTTP/1.1 responses), from
:mod:`wavewire.testing.fuzz_llm`.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, seed, settings

from wavewire.errors import clip
from wavewire.testing.fuzz import (
    FuzzTarget,
    UntypedError,
    cases,
    check_messages,
)
from wavewire.testing.fuzz_mutate import mutants
from wavewire.testing.fuzz_targets import TARGETS

BATCH = 8
"""Messages per generated case."""
SLOWEST: dict[str, object] = {}
"""The slowest input of each serializer (shown, clipped)."""


def fuzz(
    target: FuzzTarget, n: int, rng_seed: int, n_mutants: int
) -> tuple[dict[str, float], str | None]:
    """At least ``n`` inputs through the oracle; (figures, the failure if any)."""
    stats = {"inputs": 0.0, "refused": 0.0, "slowest_ms": 0.0, "cases": 0.0}
    slowest: list[object] = [0.0, b""]

    def observe(message: object, seconds: float) -> None:
        stats["inputs"] += 1
        if seconds > slowest[0]:  # type: ignore[operator]
            slowest[0], slowest[1] = seconds, message

    round_no = 0
    gc.disable()
    t0 = time.perf_counter()
    rng = random.Random(rng_seed)
    found: list[str] = []
    while stats["inputs"] < n and not found:
        examples = max(1, math.ceil((n - stats["inputs"]) / (BATCH * (1 + n_mutants))))

        @seed(rng_seed + round_no)
        @settings(max_examples=examples, deadline=None, database=None,
                  phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck))
        @given(cases(target, BATCH, BATCH))
        def run(case: tuple[bool, list[bytes | str]]) -> None:
            stats["cases"] += 1
            if not stats["cases"] % 200:  # collect here, so no decode is timed with a GC pass
                gc.collect()
            primed, messages = case
            stats["refused"] += check_messages(target, primed, messages, observe)
            if found:
                return
            variants = [v for m in messages for v in mutants(m, messages, rng, n_mutants)]
            try:  # the mutants are not hypothesis's to shrink: record the first failure
                stats["refused"] += check_messages(target, primed, variants, observe)
            except UntypedError as exc:
                found.append(f"{exc} (a mutant; primed={primed})")

        try:
            run()
        except Exception as exc:  # the oracle's failure, shrunk by hypothesis
            subs = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
            found.extend(f"{type(e).__name__}: {e}" for e in subs)
        round_no += 1
    gc.enable()
    stats["seconds"] = time.perf_counter() - t0
    stats["slowest_ms"] = slowest[0] * 1000  # type: ignore[operator]
    SLOWEST[target.name] = slowest[1]
    return stats, "\n  ".join(clip(f, 600) for f in found) or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-serializer", type=int, default=100_000, metavar="N",
                        help="inputs per serializer (default 100000)")
    parser.add_argument("--only", default="", help="comma-separated serializer names")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    parser.add_argument("--mutants", type=int, default=15, metavar="M",
                        help="cheap variants checked per generated message (default 15)")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or sorted(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown serializer(s) {unknown}; one of {sorted(TARGETS)}")
    failures = 0
    total = 0.0
    print(f"fuzzing {len(names)} serializer(s), {args.per_serializer} inputs each"
          f" ({args.mutants} mutants per generated message), seed {args.seed}", flush=True)
    for name in names:
        stats, failure = fuzz(TARGETS[name], args.per_serializer, args.seed, args.mutants)
        total += stats["inputs"]
        print(f"{name:<20} inputs {int(stats['inputs']):>8}  refused (typed)"
              f" {int(stats['refused']):>7}  untyped {1 if failure else 0}"
              f"  slowest decode {stats['slowest_ms']:7.2f} ms  {stats['seconds']:6.1f} s",
              flush=True)
        slow = SLOWEST.get(name)
        if isinstance(slow, bytes | str):
            print(f"  slowest input: {len(slow)} {'bytes' if isinstance(slow, bytes) else 'chars'}"
                  f" {clip(repr(slow[:60]), 80)}", flush=True)
        if failure:
            failures += 1
            print(f"  FAILURE: {failure}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{int(total)} inputs, {failures} serializer(s) with untyped errors,"
          f" peak RSS {peak:.0f} MB")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

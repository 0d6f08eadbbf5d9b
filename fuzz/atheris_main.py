"""Atheris (libFuzzer) driver for one fuzz target of fuzz/campaign.py: ``python -m
fuzz.atheris_main TARGET CORPUS [libFuzzer flags]``, started by ``stackcheck fuzz --atheris``.

A ``raw-bytes`` target feeds libFuzzer's bytes straight into the whole stack with checksum
fix-up (the coverage-guided fast path); a ``hypothesis`` one runs its Hypothesis test through
``test.hypothesis.fuzz_one_input``, so libFuzzer mutates Hypothesis's choice sequence and the
structure-aware strategies still shape the packets.
"""

from __future__ import annotations

import importlib
import sys

import atheris

from fuzz import stats
from fuzz.campaign import TARGETS

with atheris.instrument_imports(include=["stack_under_test"]):
    import stack_under_test  # noqa: F401  (instrumented for coverage feedback)

def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    target = TARGETS[name]
    if target.atheris == "raw-bytes":
        from fuzz.target import one_raw_input

        def one(data: bytes) -> None:
            stats.count(name)
            one_raw_input(data, fixup=True)
    else:
        inner = getattr(importlib.import_module(target.module), target.test).hypothesis.fuzz_one_input

        def one(data: bytes) -> None:
            stats.count(name)
            inner(data)

    atheris.Setup([sys.argv[0], *flags], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

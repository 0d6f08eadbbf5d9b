"""Atheris (libFuzzer) driver for one fuzz target: ``python -m fuzz.atheris_main TARGET CORPUS
[libFuzzer flags]``, started by ``stackcheck fuzz --atheris``.

``raw`` feeds libFuzzer's bytes straight into the whole stack with checksum fix-up (the
coverage-guided fast path); every other target runs its Hypothesis test through
``test.hypothesis.fuzz_one_input``, so libFuzzer mutates Hypothesis's choice sequence and the
structure-aware strategies still shape the packets.
"""

from __future__ import annotations

import importlib
import sys

import atheris

from fuzz import stats

with atheris.instrument_imports(include=["stack_under_test"]):
    import stack_under_test  # noqa: F401  (instrumented for coverage feedback)

TARGETS = {
    "raw": None,
    "totality": ("fuzz.test_stack_total", "test_any_frame_gets_one_verdict_and_only_well_formed_frames_out"),
    "sequences": ("fuzz.test_stack_total", "test_frame_sequences_with_time_passing_keep_invariants"),
    "fragments": ("fuzz.test_fragments", "test_fragment_plans_are_reassembled_exactly_when_they_should_be"),
    "icmp-errors": ("fuzz.test_icmp_errors", "test_no_icmp_error_where_the_rfcs_forbid_one"),
    "rate-limit": ("fuzz.test_icmp_errors", "test_never_more_icmp_errors_than_the_rate_limit_allows"),
    "differential-ipv4": ("fuzz.test_differential", "test_ipv4_fields_match_scapy"),
    "differential-ipv6": ("fuzz.test_differential", "test_ipv6_fields_and_extension_chain_match_scapy"),
}


def main() -> None:
    name, flags = sys.argv[1], sys.argv[2:]
    if TARGETS[name] is None:
        from fuzz.target import one_raw_input

        def one(data: bytes) -> None:
            stats.count(name)
            one_raw_input(data, fixup=True)
    else:
        module, test = TARGETS[name]  # type: ignore[misc]
        inner = getattr(importlib.import_module(module), test).hypothesis.fuzz_one_input

        def one(data: bytes) -> None:
            stats.count(name)
            inner(data)

    atheris.Setup([sys.argv[0], *flags], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

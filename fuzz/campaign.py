"""The fuzz targets a campaign can run: one table, read by ``stackcheck fuzz`` (which starts a
pytest process per target) and by ``fuzz/atheris_main.py`` (which runs one target under
Atheris/libFuzzer).

Each target is one property in this folder. Under Atheris, ``raw`` feeds libFuzzer's bytes
straight into the whole stack; the other Atheris targets run their Hypothesis test through
``fuzz_one_input``, so libFuzzer mutates Hypothesis's choice sequence. A target without an
Atheris mode (a state machine, or a property whose examples are records rather than frames)
runs under Hypothesis only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

AtherisMode = Literal["raw-bytes", "hypothesis"]


@dataclass(frozen=True)
class Target:
    path: str  # the test file, relative to the repository root
    test: str  # the test function, or the TestCase of a state machine, in that file
    atheris: AtherisMode | None = "hypothesis"

    @property
    def node_id(self) -> str:
        """The pytest node id (relative to the repository root)."""
        return f"{self.path}::{self.test}"

    @property
    def module(self) -> str:
        """The test file as a module name, for importing it under Atheris."""
        return self.path.removesuffix(".py").replace("/", ".")


TARGETS: Final[dict[str, Target]] = {
    "raw": Target("fuzz/test_raw_bytes.py", "test_raw_bytes_with_checksum_fixup", atheris="raw-bytes"),
    "totality": Target("fuzz/test_stack_total.py", "test_any_frame_gets_one_verdict_and_only_well_formed_frames_out"),
    "sequences": Target("fuzz/test_stack_total.py", "test_frame_sequences_with_time_passing_keep_invariants"),
    "roundtrip": Target("fuzz/test_roundtrip.py", "test_every_record_round_trips", atheris=None),
    "differential-ipv4": Target("fuzz/test_differential.py", "test_ipv4_fields_match_scapy"),
    "differential-ipv6": Target("fuzz/test_differential.py", "test_ipv6_fields_and_extension_chain_match_scapy"),
    "reassembly": Target("fuzz/test_reassembly.py", "TestReassembly", atheris=None),
    "fragments": Target("fuzz/test_fragments.py", "test_fragment_plans_are_reassembled_exactly_when_they_should_be"),
    "icmp-errors": Target("fuzz/test_icmp_errors.py", "test_no_icmp_error_where_the_rfcs_forbid_one"),
    "rate-limit": Target("fuzz/test_icmp_errors.py", "test_never_more_icmp_errors_than_the_rate_limit_allows"),
}


"""Property 1, totality: any frame into the whole stack (fresh Stack + ChannelEndpoint +
VirtualClock, both families configured) raises nothing, gets exactly one verdict counted, emits
only well-formed frames, and leaves the stack's invariants true, also after the timers it armed
have fired (reassembly timeouts, neighbor solicitations, delayed reports)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fuzz.oracle import frame_problems, tshark_path, tshark_problems
from fuzz.profiles import budget
from fuzz.regressions import load as regressions
from fuzz.strategies.frames import any_frames, structured_frames
from fuzz.strategies.mutate import mutated
from fuzz.target import FuzzStack


def run_one(frame: bytes) -> list[bytes]:
    """The property for one frame; returns what the stack emitted (already judged by Scapy)."""
    fs = FuzzStack.fresh()
    _, out = fs.inject(frame)
    fs.check_invariants()
    out += fs.advance(70_000)  # past every reassembly timeout and neighbor retransmission
    fs.check_invariants()
    for emitted in out:
        problems = frame_problems(emitted)
        assert not problems, f"emitted frame {emitted.hex()}: {problems}"
    return out


@pytest.mark.parametrize("frame", regressions("totality"), ids=lambda f: f.hex()[:24])
def test_regressions(frame: bytes) -> None:
    run_one(frame)


@budget(300)
@given(frame=any_frames())
@example(frame=b"")
def test_any_frame_gets_one_verdict_and_only_well_formed_frames_out(frame: bytes) -> None:
    run_one(frame)


@budget(150)
@given(frames=st.lists(structured_frames() | mutated(structured_frames()), min_size=2, max_size=6),
       gaps=st.lists(st.sampled_from([0, 1, 999, 30_000]), min_size=6, max_size=6))
def test_frame_sequences_with_time_passing_keep_invariants(frames: list[bytes], gaps: list[int]) -> None:
    """Several frames into one stack with time passing between them: state carried between frames
    (neighbor entries, reassembly queues, group memberships) must keep the invariants too."""
    fs = FuzzStack.fresh().with_dad_running()
    for frame, gap in zip(frames, gaps, strict=False):
        fs.inject(frame)
        fs.advance(gap)
        fs.check_invariants()
    for emitted in fs.emitted:
        problems = frame_problems(emitted)
        assert not problems, f"emitted frame {emitted.hex()}: {problems}"


@pytest.mark.skipif(tshark_path() is None, reason="tshark is not installed (apt-get install tshark); "
                    "Scapy still judges every emitted frame in the tests above")
def test_emitted_frames_pass_tshark() -> None:
    """tshark, an independent dissector, judges a batch of everything the stack emitted for a
    derandomized set of inputs (one tshark run for the whole batch)."""
    emitted: list[bytes] = []

    @settings(budget(200), max_examples=200)  # a fixed batch, whatever the profile
    @given(frame=any_frames())
    def collect(frame: bytes) -> None:
        fs = FuzzStack.fresh()
        fs.inject(frame)
        fs.advance(70_000)
        emitted.extend(fs.emitted)

    collect()
    assert emitted, "the inputs provoked no frames at all: the strategy is broken"
    problems = tshark_problems(emitted)
    assert not problems, "\n".join(problems[:20])

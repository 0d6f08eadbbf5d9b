"""Fragment plans (fuzz/strategies/fragments.py) into the whole stack, both families: every
clean plan is reassembled and answered exactly once, a plan whose only fault is an overlap is
never answered, anything else at most once; all with the stack's invariants intact (the queued
reassembly octets stay under the high threshold) and only well-formed frames out."""

from __future__ import annotations

from hypothesis import event, example, given

from fuzz.oracle import frame_problems
from fuzz.profiles import budget
from fuzz.strategies.fragments import FragmentPlan, Piece, echo_request, fragment_plans
from fuzz.target import FuzzStack


def echo_replies(frames: list[bytes], family: int) -> int:
    if family == 4:  # IPv4 + ICMP type 0
        return sum(1 for f in frames if f[12:14] == b"\x08\x00" and f[23] == 1 and f[14 + (f[14] & 15) * 4] == 0)
    return sum(1 for f in frames if f[12:14] == b"\x86\xdd" and f[20] == 58 and f[54] == 129)


# Found by `stackcheck fuzz` (fragments): the plan extended a non-last piece to 33 octets, which
# the stack trims to 32 like Linux, so nothing overlapped; plans now move a start instead.
@example(plan=FragmentPlan(4, 0, (Piece(0, echo_request(4, 0, bytes(range(25)))[:32], True, 0, 0),
                                  Piece(24, echo_request(4, 0, bytes(range(25)))[24:], False, 0, 0)),
                           clean=False, overlap_only=True, expected=0))
# Found by `stackcheck fuzz` (fragments): the ICMPv6 Time Exceeded for a timed-out first fragment
# was right, but Scapy rewrote the error while rebuilding it (RFC 4884 handling); the oracle now
# keeps an ICMP error's octets and checks its checksum itself.
@example(plan=FragmentPlan(6, 0, (Piece(0, echo_request(6, 0, bytes(range(81)))[:88], True, 0, 0),
                                  Piece(88, echo_request(6, 0, bytes(range(81)))[88:], False, 0, 60_000)),
                           clean=False, overlap_only=False, expected=None))
@budget(150)
@given(plan=fragment_plans())
def test_fragment_plans_are_reassembled_exactly_when_they_should_be(plan: FragmentPlan) -> None:
    fs = FuzzStack.fresh()
    for wait, frame in plan.frames():
        fs.advance(wait)
        fs.inject(frame)
        fs.check_invariants()
    fs.advance(120_000)  # every reassembly timer fires
    fs.check_invariants()
    replies = echo_replies(fs.emitted, plan.family)
    event(f"IPv{plan.family} {'clean' if plan.clean else 'overlap only' if plan.overlap_only else 'faulty'}: {replies} replies")
    if plan.clean:
        assert replies == 1, f"a clean plan got {replies} replies"
    if plan.expected is not None:
        # RFC 5722 4: a datagram with overlapping fragments "MUST be silently discarded".
        assert replies == plan.expected, f"{replies} replies, a correct reassembler sends {plan.expected}"
    else:
        assert replies <= 1
    for emitted in fs.emitted:
        problems = frame_problems(emitted)
        assert not problems, f"emitted frame {emitted.hex()}: {problems}"

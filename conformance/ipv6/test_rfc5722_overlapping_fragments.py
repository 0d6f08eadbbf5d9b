"""RFC 5722 §4 (and RFC 8200 §4.5): overlapping fragments discard the whole datagram, silently.

The probe is a 192-octet ICMPv6 echo request (as in test_rfc8200_reassembly.py). "Silently" is
checked after the reassembly timeout too: an abandoned datagram must not draw a Time Exceeded.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6TimeExceeded, IPv6, IPv6ExtHdrFragment

from harness import DUT, ExpectationFailed, echo6, expect_echo_reply6, fragments6, icmp_quote, rfc
from harness.rfc import ICMPv6TimeExceeded as TECode

SILENCE_S = 1.0
DATA = bytes(range(184))  # 192-octet ICMPv6 message

# Plans (offset, length) that overlap somewhere, each covering the whole 192 octets. No piece is
# at offset 0 with M=0: that would be an atomic fragment, processed alone (RFC 6946).
OVERLAPS = {
    "second-inside-first": [(0, 72), (64, 64), (128, 64)],
    "first-after-second": [(64, 64), (0, 72), (128, 64)],
    "last-inside-middle": [(0, 64), (64, 80), (136, 56)],
    "same-offset-longer": [(0, 64), (0, 128), (128, 64)],
    "same-offset-shorter": [(0, 128), (0, 64), (128, 64)],
}


def _control(dut: DUT, ident: int) -> None:
    dut.send(*fragments6(echo6(dut, ident, DATA), [(0, 64), (64, 64), (128, 64)], ident=ident))
    expect_echo_reply6(dut, ident)


@pytest.mark.parametrize("plan", list(OVERLAPS))
@rfc("RFC5722-4-2", "RFC8200-4.5-15")
def test_overlapping_fragments_discard_the_datagram(dut: DUT, plan: str) -> None:
    dut.send(*fragments6(echo6(dut, 0x5722, DATA), OVERLAPS[plan], ident=0x5722))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x5723)


@rfc("RFC5722-4-2")
def test_overlap_draws_no_time_exceeded_after_the_reassembly_timeout(dut: DUT) -> None:
    # The first fragment did arrive; had the datagram merely been left incomplete, its timeout
    # would send a Time Exceeded. Discarded silently, nothing comes.
    _control(dut, 0x5728)  # the DUT reassembles fragments at all
    first, overlapping = fragments6(echo6(dut, 0x5724, DATA), [(0, 72), (64, 64)], ident=0x5724)
    # Control, at the same time: the same first fragment of another datagram, left alone, times
    # out into a Time Exceeded. So the DUT keeps such a fragment and runs the timer, and silence
    # about the overlapped datagram is its discard, not a DUT that drops every fragment.
    lone, = fragments6(echo6(dut, 0x5727, DATA), [(0, 72)], ident=0x5727)
    dut.send(first, overlapping, lone)
    window = dut.info.timers["ipv6_reassembly_timeout"] + 0.5
    quoted = []
    try:
        while True:
            error = dut.expect(ICMPv6TimeExceeded(code=TECode.REASSEMBLY), within=window if not quoted else 0.5)
            quoted.append(IPv6(icmp_quote(error))[IPv6ExtHdrFragment].id)
    except ExpectationFailed:
        pass
    if not quoted:
        pytest.skip("the DUT sends no Time Exceeded even for a datagram left incomplete (a SHOULD, "
                    "RFC 8200 4.5), so its silence about the overlapped one proves nothing")
    assert 0x5724 not in quoted, "a Time Exceeded quotes the datagram discarded for its overlap"
    assert quoted == [0x5727], f"Time Exceeded messages quote fragment identifications {quoted}"
    dut.expect_none(ICMPv6EchoReply(id=0x5724), within=0)


@rfc("RFC5722-4-2")
def test_fragments_arriving_after_the_overlap_do_not_revive_the_datagram(dut: DUT) -> None:
    # First and an overlapping second piece, then the exact pieces that would complete the
    # datagram with the first: "including those not yet received".
    first, overlapping = fragments6(echo6(dut, 0x5725, DATA), [(0, 64), (56, 64)], ident=0x5725)
    _, second, third = fragments6(echo6(dut, 0x5725, DATA), [(0, 64), (64, 64), (128, 64)], ident=0x5725)
    dut.send(first, overlapping, second, third)
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x5726)


# Pieces (offset, length, more) that overlap without the first fragment; it comes after them.
LATE_FIRST = {
    "middle-overlaps": [(64, 64, True), (56, 16, True)],
    "last-overlaps": [(8, 120, True), (128, 48, True), (168, 24, False)],
}


@pytest.mark.parametrize("plan", list(LATE_FIRST))
@rfc("RFC5722-4-2")
def test_a_first_fragment_arriving_after_the_overlap_draws_no_time_exceeded(dut: DUT, plan: str) -> None:
    # Pieces that overlap discard the datagram; its first fragment, arriving after them, is one of
    # "those not yet received" and is discarded too, so no reassembly starts that could time out
    # into a Time Exceeded (RFC 8200 4.5 sends one only for a datagram it kept waiting for).
    timeout = dut.info.timers["ipv6_reassembly_timeout"]
    pieces = fragments6(echo6(dut, 0x5727, DATA), LATE_FIRST[plan], ident=0x5727)
    first = fragments6(echo6(dut, 0x5727, DATA), [(0, 8, True)], ident=0x5727)[0]
    dut.send(*pieces, first)
    dut.expect_none(ICMPv6TimeExceeded, within=timeout + 1.0)
    dut.expect_none(ICMPv6EchoReply, within=0)
    # Control: a first fragment left waiting does draw a Time Exceeded, so the silence above is
    # the discard and not a DUT that never sends one.
    dut.send(fragments6(echo6(dut, 0x5728, DATA), [(0, 64), (64, 128)], ident=0x5728)[0])
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6TimeExceeded(code=1), within=timeout + 1.0)


@rfc("RFC5722-4-2")
def test_overlap_of_one_octet_past_an_8_octet_boundary_is_discarded_silently(dut: DUT) -> None:
    # A 25-octet ICMPv6 message (8-octet echo header, 17 of data): its last fragment holds octets
    # 16-24, so it ends one octet into the fourth 8-octet block; a second last fragment holds only
    # octet 24. They overlap in that one octet, and the datagram goes, silently: no Time Exceeded
    # when its timer would have run out, though its first fragment arrived (the middle piece never
    # comes). Control, at the same time: the first fragment of another datagram, left alone, times
    # out into a Time Exceeded.
    timeout = dut.info.timers["ipv6_reassembly_timeout"]
    first, last, overlapping = fragments6(
        echo6(dut, 0x5729, bytes(range(17))), [(0, 8, True), (16, 9, False), (24, 1, False)], ident=0x5729
    )
    lone, = fragments6(echo6(dut, 0x572A, DATA), [(0, 72)], ident=0x572A)
    dut.send(first, last, overlapping, lone)
    quoted = []
    try:
        while True:
            error = dut.expect(ICMPv6TimeExceeded(code=TECode.REASSEMBLY), within=timeout + 0.5 if not quoted else 0.5)
            quoted.append(IPv6(icmp_quote(error))[IPv6ExtHdrFragment].id)
    except ExpectationFailed:
        pass
    if not quoted:
        pytest.skip("the DUT sends no Time Exceeded even for a datagram left incomplete (a SHOULD, "
                    "RFC 8200 4.5), so its silence about the overlapped one proves nothing")
    assert quoted == [0x572A], f"Time Exceeded messages quote fragment identifications {quoted} (0x5729 overlapped)"
    dut.expect_none(ICMPv6EchoReply(id=0x5729), within=0)

"""RFC 5722 §4 (and RFC 8200 §4.5): overlapping fragments discard the whole datagram, silently.

The probe is a 192-octet ICMPv6 echo request (as in test_rfc8200_reassembly.py). "Silently" is
checked after the reassembly timeout too: an abandoned datagram must not draw a Time Exceeded.
"""

from __future__ import annotations

import pytest
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6TimeExceeded, IPv6
from scapy.packet import Packet

from harness import DUT, MUST, fragments6, rfc

SILENCE_S = 1.0
DATA = bytes(range(184))  # 192-octet ICMPv6 message
OVERLAP_TEXT = (
    "When reassembling an IPv6 datagram, if one or more its constituent fragments is determined to "
    "be an overlapping fragment, the entire datagram (and any constituent fragments, including those "
    "not yet received) MUST be silently discarded."
)

# Plans (offset, length) that overlap somewhere, each covering the whole 192 octets. No piece is
# at offset 0 with M=0: that would be an atomic fragment, processed alone (RFC 6946).
OVERLAPS = {
    "second-inside-first": [(0, 72), (64, 64), (128, 64)],
    "first-after-second": [(64, 64), (0, 72), (128, 64)],
    "last-inside-middle": [(0, 64), (64, 80), (136, 56)],
    "same-offset-longer": [(0, 64), (0, 128), (128, 64)],
    "same-offset-shorter": [(0, 128), (0, 64), (128, 64)],
}


def _echo(dut: DUT, ident: int) -> Packet:
    return dut.ipv6() / ICMPv6EchoRequest(id=ident, seq=1, data=DATA)


def _control(dut: DUT, ident: int) -> None:
    dut.send(*fragments6(_echo(dut, ident), [(0, 64), (64, 64), (128, 64)], ident=ident))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=ident, seq=1))


@pytest.mark.parametrize("plan", list(OVERLAPS))
@rfc(5722, "4", MUST, OVERLAP_TEXT)
def test_overlapping_fragments_discard_the_datagram(dut: DUT, plan: str) -> None:
    dut.send(*fragments6(_echo(dut, 0x5722), OVERLAPS[plan], ident=0x5722))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x5723)


@rfc(5722, "4", MUST, OVERLAP_TEXT)
def test_overlap_draws_no_time_exceeded_after_the_reassembly_timeout(dut: DUT) -> None:
    # The first fragment did arrive; had the datagram merely been left incomplete, its timeout
    # would send a Time Exceeded. Discarded silently, nothing comes.
    first, overlapping = fragments6(_echo(dut, 0x5724), [(0, 72), (64, 64)], ident=0x5724)
    dut.send(first, overlapping)
    dut.expect_none(ICMPv6TimeExceeded, ICMPv6EchoReply, within=dut.info.timers["ipv6_reassembly_timeout"] + 0.5)


@rfc(5722, "4", MUST, OVERLAP_TEXT)
def test_fragments_arriving_after_the_overlap_do_not_revive_the_datagram(dut: DUT) -> None:
    # First and an overlapping second piece, then the exact pieces that would complete the
    # datagram with the first: "including those not yet received".
    first, overlapping = fragments6(_echo(dut, 0x5725), [(0, 64), (56, 64)], ident=0x5725)
    _, second, third = fragments6(_echo(dut, 0x5725), [(0, 64), (64, 64), (128, 64)], ident=0x5725)
    dut.send(first, overlapping, second, third)
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    _control(dut, 0x5726)

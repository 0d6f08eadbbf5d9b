"""RFC 8504 (IPv6 Node Requirements): protocols an IPv6 node MUST implement, each judged once.

A DUT without one of them fails here, once; the tests of that protocol's details are then
reported "not implemented" on it (``harness.features``) instead of failing one by one, and the
version it does speak is tested by its own RFC (an MLDv1-only node by test_rfc2710_mldv1.py).
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, ExpectationFailed, rfc
from harness.mld import MODE_IS_EXCLUDE, QUIET_S, expect_record, mld_frame, site_group, v2_query
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import ECHO_ID
from harness.router_discovery import ra as router_advertisement

ROUTER_B: Final = "fe80::1"
# RFC 4191 2.1: "01 High, 00 Medium (default), 11 Low, 10 Reserved - MUST NOT be sent"
HIGH, LOW = 1, 3


@rfc("RFC8504-5.11-1")
def test_node_that_joins_groups_speaks_mldv2(dut: DUT) -> None:
    group = site_group(0x8504)
    dut.join_group(group)
    dut.send(mld_frame(dut, v2_query()))
    try:
        expect_record(dut, group, (MODE_IS_EXCLUDE,), within=QUIET_S)
    except ExpectationFailed:
        try:
            dut.expect(ICMPv6MLReport(mladdr=group), within=0)
        except ExpectationFailed:
            raise AssertionError(f"an MLDv2 General Query drew no MLDv2 Report naming {group}, "
                                 "which the DUT had joined") from None
        raise AssertionError(f"an MLDv2 General Query drew an MLDv1 Report (type 131) for {group}: the DUT "
                             "speaks MLDv1 only") from None


def _router(dut: DUT, which: str) -> tuple[str, str]:
    """(link-local address, MAC) of router A (the tester) or B."""
    return (str(dut.info.tester_ipv6_ll), dut.info.tester_mac) if which == "A" else (ROUTER_B, dut.info.other_mac)


def _ra(dut: DUT, which: str, prf: int) -> Packet:
    src, mac = _router(dut, which)
    return router_advertisement(dut, src=src, mac=mac, lifetime=60, prf=prf)


def _reply_goes_via(dut: DUT, which: str, far: str, seq: int) -> None:
    """An echo from ``far`` (off-link) is answered through router ``which``; the DUT's resolution
    of router B is answered for it (the tester's own addresses are resolved by the backend)."""
    dut.send(dut.ether() / IPv6(src=far, dst=str(dut.info.dut_ipv6.ip)) / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))
    for _ in range(4):
        frame = dut.expect(IPv6, within=1.0)
        if frame.haslayer(ICMPv6ND_NS) and frame[ICMPv6ND_NS].tgt == ROUTER_B:
            mac = dut.info.other_mac
            dut.send(Ether(src=mac, dst=dut.info.dut_mac)
                     / IPv6(src=ROUTER_B, dst=frame[IPv6].src, hlim=NDP_HOP_LIMIT)
                     / ICMPv6ND_NA(tgt=ROUTER_B, R=1, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))
        elif frame.haslayer(ICMPv6EchoReply) and frame[ICMPv6EchoReply].seq == seq:
            _, mac = _router(dut, which)
            assert frame[Ether].dst.lower() == mac, (
                f"the reply to {far} went to {frame[Ether].dst}, not to the High-preference router {which} ({mac})")
            return
    raise AssertionError(f"no echo reply to {far} through either router")


@rfc("RFC8504-5.9-1", quote="IPv6 nodes MUST implement [RFC4191]")
def test_default_router_preference_is_honoured(dut: DUT) -> None:
    # RFC 4191 2.2, the least a node implementing it does (its "Type B" host): the Prf field
    # "Indicates whether to prefer this router over other default routers." Both routers' orders
    # are asked, so neither "the first router" nor "the latest advertisement" passes by chance;
    # each question goes to a destination of its own, so no Destination Cache entry carries over.
    dut.send(_ra(dut, "A", LOW), _ra(dut, "B", HIGH))
    _reply_goes_via(dut, "B", "2001:db8:2::5", 1)
    dut.send(_ra(dut, "A", HIGH), _ra(dut, "B", LOW))
    _reply_goes_via(dut, "A", "2001:db8:3::5", 2)

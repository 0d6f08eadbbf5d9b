"""RFC 4861 §7.3.1: TCP's forward progress confirms a neighbor's reachability. "In TCP, for
example, receipt of a (new) acknowledgment indicates that previously sent data reached the
peer." ... "When available, this upper-layer information SHOULD be used."

The DUT sends data over TCP to an on-link peer (2001:db8:1::c5, learnt from its Neighbor
Solicitation) for several ReachableTimes (BaseReachableTime 2 s: 1-3 s), every segment
acknowledged: the DUT never probes the peer. The control: the acknowledgments stop, the DUT
goes on sending (retransmitting), and the peer is probed.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6

from harness import DUT, multicast_mac, rfc, solicited_node
from harness.rfc import NDP_HOP_LIMIT
from harness.tcp_peer import established

PEER: Final = "2001:db8:1::c5"
PORT: Final = 9002
BASE_S: Final = 2  # BaseReachableTime: ReachableTime 1-3 s
DELAY_S: Final = 1  # DELAY_FIRST_PROBE_TIME
TRANSFER_S: Final = 8.0
STEP_S: Final = 0.25


@rfc("RFC4861-7.3.1-1")
def test_tcp_forward_progress_keeps_the_neighbor_reachable(dut: DUT) -> None:
    dut.set_ipv6_option("base_reachable_time", BASE_S)
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    me = str(dut.info.dut_ipv6.ip)
    group = solicited_node(me)
    dut.send(dut.ether(dst=multicast_mac(group)) / IPv6(src=PEER, dst=group, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    dut.expect(IPv6(dst=PEER), ICMPv6ND_NA(tgt=me), within=1.0)
    peer, conn = established(dut, PORT, 6, addr=PEER)
    start = dut.now()
    while dut.now() - start < TRANSFER_S:
        assert dut.tcp_send(conn, bytes(500)) > 0
        dut.expect_none(ICMPv6ND_NS(tgt=PEER), within=0.0)  # not probed while data is acknowledged
        peer.expect(data=lambda d: len(d) > 0, within=1.0)
        peer.send_ack()
        dut.wait(STEP_S)
    dut.expect_none(ICMPv6ND_NS(tgt=PEER), within=0.0)
    # Control: no more acknowledgments; what the DUT sends now (retransmissions) is traffic
    # without confirmation, so the entry goes STALE and, DELAY_FIRST_PROBE_TIME later, is probed.
    dut.tcp_send(conn, bytes(500))
    dut.expect(IPv6(dst=PEER), ICMPv6ND_NS(tgt=PEER), within=12.0)

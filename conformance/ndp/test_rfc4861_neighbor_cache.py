"""RFC 4861 §7.2.1, §7.2.3, §7.3.3: the groups a node joins when its interface comes up, the
Neighbor Cache entries a Neighbor Solicitation creates (or must not), and what may confirm a
neighbor's reachability.

A Neighbor Cache entry's state shows in what the DUT sends: a multicast solicitation before its
first packet (no entry, INCOMPLETE), a packet at once and a unicast probe DELAY_FIRST_PROBE_TIME
later (STALE), or a multicast solicitation again after its unicast probes went unanswered (the
entry was deleted).
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Final

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, ExpectationFailed, multicast_mac, rfc, solicited_node
from harness.mld import CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE, records
from harness.rfc import NDP_HOP_LIMIT

MAC_N: Final = "02:00:00:00:00:07"
DELAY_S: Final = 1  # DELAY_FIRST_PROBE_TIME (Linux: whole seconds)
RETRANS_S: Final = 0.5
JITTER_S: Final = 0.3
ALL_NODES: Final = "ff02::1"
EXTRA: Final = "2001:db8:1::c8:1"


def _solicit(dut: DUT, src: str, mac: str = MAC_N, *, slla: bool = True) -> Packet:
    me = str(dut.info.dut_ipv6.ip)
    group = solicited_node(me)
    frame = (Ether(src=mac, dst=multicast_mac(group)) / IPv6(src=src, dst=group, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=me))
    return frame / ICMPv6NDOptSrcLLAddr(lladdr=mac) if slla else frame


# ---- joining the groups (§7.2.1) ----------------------------------------------------------------------

@rfc("RFC4861-7.2.1-1")
def test_enabled_interface_joins_all_nodes_and_each_solicited_node_group(dut: DUT) -> None:
    dut.add_address(f"{EXTRA}/64")
    dut.restart_link()
    want = {IPv6Address(solicited_node(a)) for a in (dut.info.dut_ipv6.ip, dut.info.dut_ipv6_ll, EXTRA)}
    seen: set[IPv6Address] = set()
    deadline = dut.now() + 3.0
    while not want <= seen and dut.now() < deadline:
        within = max(0.0, deadline - dut.now())
        if "mldv2" in dut.features:
            report = dut.expect(ICMPv6MLReport2, within=within)
            seen |= {g for t, g, _, _ in records(report) if t in (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE)}
        else:  # an MLDv1 node reports each group in a Report of its own (RFC 2710 4)
            seen.add(IPv6Address(dut.expect(ICMPv6MLReport, within=within)[ICMPv6MLReport].mladdr))
    assert want <= seen, f"after the link came up, no report joined {sorted(map(str, want - seen))}"
    if "echo-multicast" not in dut.features:
        return  # the one proof below needs an answer to a multicast Echo Request, which it does not give
    # All-nodes is never reported (RFC 3810 6); that it is joined shows in an answer to it.
    dut.send(dut.ether(dst=multicast_mac(ALL_NODES)) / IPv6(src=str(dut.info.tester_ipv6), dst=ALL_NODES)
             / ICMPv6EchoRequest(id=0x4C81, seq=1))
    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4C81), within=1.0)


# ---- entries a solicitation creates (§7.2.3) ----------------------------------------------------------------

@rfc("RFC4861-7.2.3-3")
def test_solicitation_from_a_new_neighbor_creates_a_stale_entry(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    nbr = "2001:db8:1::c8:2"
    dut.send(_solicit(dut, nbr))
    # The advertisement goes straight to the learnt address (an entry exists: no resolution) ...
    na = dut.expect(IPv6(dst=nbr), ICMPv6ND_NA, within=1.0)
    assert na[Ether].dst.lower() == MAC_N
    # ... and, the entry being STALE (not REACHABLE), that traffic starts DELAY: a unicast probe
    # DELAY_FIRST_PROBE_TIME after the advertisement left, timed from its arrival, not from when
    # the tester got to look (a tester 0.3 s late would see the probe due at 1 s in its window).
    delay_from = float(na.time)
    dut.expect_none(ICMPv6ND_NS(tgt=nbr), within=DELAY_S - JITTER_S, since=delay_from)
    probe = dut.expect(ICMPv6ND_NS(tgt=nbr), within=max(0.0, delay_from + DELAY_S + JITTER_S - dut.now()))
    assert probe[IPv6].dst == nbr and probe[Ether].dst.lower() == MAC_N, (
        f"expected a unicast probe to {nbr} at {MAC_N}, got {probe[IPv6].dst} at {probe[Ether].dst}")


@rfc("RFC4861-7.2.3-7")
def test_solicitation_from_the_unspecified_address_creates_no_entry(dut: DUT) -> None:
    # Another node's Duplicate Address Detection probe for the DUT's address, from MAC_N: an
    # entry for its source would send the answer to MAC_N; without one it can only go to the
    # all-nodes group.
    dut.send(_solicit(dut, "::", slla=False))
    na = dut.expect(ICMPv6ND_NA(tgt=str(dut.info.dut_ipv6.ip)), within=1.0)
    assert na[IPv6].dst == ALL_NODES and na[Ether].dst.lower() == multicast_mac(ALL_NODES), (
        f"the answer to a solicitation from :: went to {na[IPv6].dst} at {na[Ether].dst}")
    dut.expect_none(IPv6(dst="::"), within=0.5)


# ---- reachability confirmation (§7.3.3) ---------------------------------------------------------------------

@rfc("RFC4861-7.3.3-7")
def test_frames_from_a_neighbor_do_not_confirm_its_reachability(dut: DUT) -> None:
    dut.set_ipv6_option("delay_first_probe_time", DELAY_S)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    nbr = "2001:db8:1::c8:3"
    dut.send(_solicit(dut, nbr))
    dut.expect(IPv6(dst=nbr), ICMPv6ND_NA, within=1.0)  # STALE, then DELAY with this answer
    # The neighbor keeps sending (echo requests to all-nodes, answered through its entry) but
    # never answers a probe: its frames say nothing end to end, so the probes run out and the
    # entry goes, and the next answer needs a multicast solicitation.
    probes = 0
    for seq in range(1, 40):
        dut.send(Ether(src=MAC_N, dst=multicast_mac(ALL_NODES)) / IPv6(src=nbr, dst=ALL_NODES)
                 / ICMPv6EchoRequest(id=0x4C83, seq=seq))
        dut.wait(0.2)
        for pkt in list(_drain_solicitations(dut, nbr)):
            if pkt[IPv6].dst == nbr:
                probes += 1
            else:
                assert probes >= 1, "a multicast solicitation before any unicast probe"
                return
    raise AssertionError(f"after {probes} unanswered probes the DUT still used its entry for the neighbor "
                         "whose frames kept arriving")


def _drain_solicitations(dut: DUT, nbr: str) -> list[Packet]:
    out = []
    while True:
        try:
            out.append(dut.expect(ICMPv6ND_NS(tgt=nbr), within=0.0))
        except ExpectationFailed:
            return out

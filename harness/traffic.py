"""A broad mix of traffic that makes the DUT originate every kind of frame it sends on its own,
for the conformance tests of rules that hold for *every* frame a host sends (RFC 1122 3.2.1.3:
"When a host sends any datagram, ..."; RFC 3168 5.2; RFC 791's reserved flag; ...).

Each such rule has its own test, which runs the mix and checks every frame the DUT emitted
against that one rule. A DUT that breaks one rule therefore fails that rule's test and no other,
and no unrelated test carries the check. The mix waits for the answer to each stimulus (with a
short deadline: a DUT that does not answer one kind simply contributes no frame of it), and a
rule's test asserts it saw the frames its rule is about, so a silent DUT cannot pass.

What the mix provokes, at the backend's baseline (forwarding off, source routes refused):
  IPv4  ARP replies and requests (an unresolved on-link destination), echo replies (plain, with
        Record Route and Timestamp options, fragmented without and with them), ICMP errors (Port
        and Protocol Unreachable, Parameter Problem), UDP (unicast, directed broadcast, multicast, fragmented),
        IGMP reports (a join and a leave), a TCP reset (a SYN to a closed port).
  IPv6  echo replies (also fragmented), ICMPv6 errors (Port Unreachable, Parameter Problem),
        UDP, Neighbor Advertisements and Solicitations, MLD reports, a TCP reset.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness.dut import ExpectationFailed
from harness.frames import fragments4, fragments6, multicast_mac, solicited_node, with_ipv4_options

if TYPE_CHECKING:
    from harness.dut import DUT

DUT_PORT: Final = 5099  # the DUT's socket while the mix runs
TESTER_PORT: Final = 40099
CLOSED_PORT: Final = 33499
# An on-link neighbour nothing has told the DUT of: sending to it takes an ARP Request.
NEIGHBOUR4: Final = ("198.51.100.4", "02:00:00:00:00:04")
GROUP4: Final = "224.0.0.252"  # joined and left: IGMP reports
GROUP6: Final = "ff02::1:3"  # joined and left: MLD reports
ANSWER_S: Final = 1.0  # how long the mix waits for each answer
REPORTS_S: Final = 1.5  # then for delayed reports (IGMP/MLD retransmissions come within ~1 s)
# Record Route (room for 2 addresses) and Timestamp (2 entries): the header grows by 11 + 12
# octets, and one octet of padding makes it a multiple of 4 (RFC 791 3.1).
_RR_AND_TS: Final = bytes((7, 11, 4)) + bytes(8) + bytes((68, 12, 5, 0)) + bytes(8)


class Traffic:
    """Stimuli in order; ``frames`` collects every frame the DUT emitted meanwhile."""

    def __init__(self, dut: DUT) -> None:
        self.dut = dut
        self.frames: list[Packet] = []

    def exchange(self, *stimuli: Packet, answer: tuple[type[Packet] | Packet, ...]) -> None:
        """Send ``stimuli``, then keep the DUT's answer (and whatever came with it)."""
        self.dut.send(*stimuli)
        self.answered(*answer)

    def answered(self, *answer: type[Packet] | Packet) -> None:
        # No answer of this kind: nothing of it to check (a rule's test asserts what it saw).
        with contextlib.suppress(ExpectationFailed):
            self.frames.append(self.dut.expect(*answer, within=ANSWER_S))

    def collect(self, wait: float) -> list[Packet]:
        """Let ``wait`` seconds pass, then take every frame still unexamined."""
        self.dut.wait(wait)
        while True:
            try:
                self.frames.append(self.dut.expect(Ether, within=0.0))
            except ExpectationFailed:
                return self.frames


def ipv4_traffic(dut: DUT) -> list[Packet]:
    """Every frame the DUT sent during the IPv4 mix (module docstring), in arrival order."""
    info = dut.info
    me, tester, other = str(info.dut_ipv4.ip), str(info.tester_ipv4), str(info.other_ipv4)
    broadcast = str(info.dut_ipv4.network.broadcast_address)
    t = Traffic(dut)
    # ARP: a request for the DUT's address from a host it does not know yet.
    t.exchange(Ether(src=info.other_mac, dst="ff:ff:ff:ff:ff:ff")
               / ARP(op=1, hwsrc=info.other_mac, psrc=other, pdst=me), answer=(ARP(op=2),))
    # Echo replies: plain, with options, and a fragmented one (3,000 octets of data).
    t.exchange(dut.ipv4() / ICMP(type=8, id=0x7A01) / Raw(b"mix"), answer=(ICMP(type=0, id=0x7A01),))
    t.exchange(with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0x7A02) / Raw(b"mix options"), _RR_AND_TS),
               answer=(ICMP(type=0, id=0x7A02),))
    big = dut.ipv4(id=0x7A03) / ICMP(type=8, id=0x7A03) / Raw(bytes(range(256)) * 12)
    t.exchange(*fragments4(big, size=1400), answer=(IP(dst=tester, proto=1),))
    # And one with options: its reply's fragments are built with the options it returns.
    big = with_ipv4_options(dut.ipv4(id=0x7A05) / ICMP(type=8, id=0x7A05) / Raw(bytes(range(256)) * 12), _RR_AND_TS)
    t.exchange(*fragments4(big, size=1400), answer=(IP(dst=tester, proto=1),))
    # ICMP errors: Port Unreachable, Protocol Unreachable, Parameter Problem.
    t.exchange(dut.ipv4() / UDP(sport=TESTER_PORT, dport=CLOSED_PORT) / Raw(b"closed"), answer=(ICMP(type=3, code=3),))
    t.exchange(dut.ipv4(proto=253) / Raw(b"experimental protocol"), answer=(ICMP(type=3, code=2),))
    t.exchange(with_ipv4_options(dut.ipv4() / ICMP(type=8, id=0x7A04), bytes((68, 3, 5, 0))),
               answer=(ICMP(type=12),))
    # UDP: unicast, to the directed broadcast, to a group, fragmented, and to a neighbour that
    # must first be resolved (ARP request, answered for the other host).
    dut.udp_bind(DUT_PORT)
    for dst, data in ((tester, b"unicast"), (broadcast, b"broadcast"), (GROUP4, b"multicast"),
                      (tester, bytes(3000))):
        dut.udp_send(DUT_PORT, data, dst, TESTER_PORT)
        t.answered(IP(dst=dst), UDP(sport=DUT_PORT))
    neighbour, neighbour_mac = NEIGHBOUR4
    dut.udp_send(DUT_PORT, b"resolve me", neighbour, TESTER_PORT)
    t.answered(ARP(op=1, pdst=neighbour))
    t.exchange(Ether(src=neighbour_mac, dst=info.dut_mac)
               / ARP(op=2, hwsrc=neighbour_mac, psrc=neighbour, hwdst=info.dut_mac, pdst=me),
               answer=(IP(dst=neighbour), UDP(sport=DUT_PORT)))
    # IGMP: a join and a leave.
    dut.join_group(GROUP4)
    t.answered(IP(proto=2))
    dut.leave_group(GROUP4)
    # TCP: a SYN to a closed port draws a reset.
    t.exchange(dut.ipv4() / TCP(sport=TESTER_PORT, dport=CLOSED_PORT, flags="S", seq=1000),
               answer=(TCP(dport=TESTER_PORT),))
    return t.collect(REPORTS_S)


def ipv6_traffic(dut: DUT) -> list[Packet]:
    """Every frame the DUT sent during the IPv6 mix (module docstring), in arrival order."""
    info = dut.info
    me, tester = str(info.dut_ipv6.ip), str(info.tester_ipv6)
    t = Traffic(dut)
    other_ll = "fe80::ff:fe00:3"
    t.exchange(Ether(src=info.other_mac, dst=multicast_mac(solicited_node(me)))
               / IPv6(src=other_ll, dst=solicited_node(me), hlim=255)
               / ICMPv6ND_NS(tgt=me) / ICMPv6NDOptSrcLLAddr(lladdr=info.other_mac), answer=(ICMPv6ND_NA,))
    t.exchange(dut.ipv6() / ICMPv6EchoRequest(id=0x7B01, data=b"mix"), answer=(ICMPv6EchoReply(id=0x7B01),))
    big = dut.ipv6() / ICMPv6EchoRequest(id=0x7B02, data=bytes(range(256)) * 12)
    t.exchange(*fragments6(big, size=1400), answer=(IPv6(dst=tester),))
    t.exchange(dut.ipv6() / UDP(sport=TESTER_PORT, dport=CLOSED_PORT) / Raw(b"closed"), answer=(ICMPv6DestUnreach,))
    # An unknown Destination Option of type 10xxxxxx: Parameter Problem code 2.
    t.exchange(dut.ipv6() / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x85, optdata=b"\x00\x00\x00\x00")]) / ICMPv6EchoRequest(id=0x7B03),
               answer=(ICMPv6ParamProblem,))
    dut.udp_bind(DUT_PORT, 6)
    for data in (b"unicast", bytes(3000)):
        dut.udp_send(DUT_PORT, data, tester, TESTER_PORT)
        t.answered(IPv6(dst=tester), UDP(sport=DUT_PORT))
    # An echo request from an on-link address the DUT has not resolved: Neighbor Solicitation.
    t.exchange(dut.ether(src=info.other_mac) / IPv6(src=str(info.other_ipv6), dst=me)
               / ICMPv6EchoRequest(id=0x7B04), answer=(ICMPv6ND_NS,))
    dut.join_group(GROUP6)
    t.answered(IPv6(dst="ff02::16"))
    dut.leave_group(GROUP6)
    t.exchange(dut.ipv6() / TCP(sport=TESTER_PORT, dport=CLOSED_PORT, flags="S", seq=1000),
               answer=(TCP(dport=TESTER_PORT),))
    return t.collect(REPORTS_S)

"""RFC 1122 §2.3.2 (ARP for hosts): the packet queue and flood prevention."""

from __future__ import annotations

from typing import Final

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, MUST, SHOULD, rfc

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"
OTHER_MAC: Final = "02:00:00:00:00:03"  # the "other" host of the test link (BRIEF.md)


def _echo_from_other(dut: DUT, ident: int, seq: int = 1) -> Packet:
    return (
        Ether(src=OTHER_MAC, dst=dut.info.dut_mac)
        / IP(src=str(dut.info.other_ipv4), dst=str(dut.info.dut_ipv4.ip))
        / ICMP(type=8, id=ident, seq=seq)
        / Raw(b"queued")
    )


@rfc(1122, "2.3.2.2", SHOULD,
     "The link layer SHOULD save (rather than discard) at least one (the latest) packet of each "
     "set of packets destined to the same unresolved IP address, and transmit the saved packet "
     "when the address has been resolved.", req="RFC1122-2.3.2.2-a")
def test_packet_waiting_for_resolution_is_sent_once_resolved(dut: DUT) -> None:
    other_ip, dut_ip = str(dut.info.other_ipv4), str(dut.info.dut_ipv4.ip)
    dut.send(_echo_from_other(dut, 0xB1))
    dut.expect(ARP(op=1, pdst=other_ip))
    dut.send(
        Ether(src=OTHER_MAC, dst=dut.info.dut_mac)
        / ARP(op=2, hwsrc=OTHER_MAC, psrc=other_ip, hwdst=dut.info.dut_mac, pdst=dut_ip)
    )
    dut.expect(Ether(dst=OTHER_MAC) / IP(dst=other_ip) / ICMP(type=0, id=0xB1))


@rfc(1122, "2.3.2.1", MUST,
     "A mechanism to prevent ARP flooding (repeatedly sending an ARP Request for the same IP "
     "address, at a high rate) MUST be included.", req="RFC1122-2.3.2.1-a")
def test_requests_for_one_unresolved_address_are_not_repeated_per_packet(dut: DUT) -> None:
    other_ip = str(dut.info.other_ipv4)
    dut.send(_echo_from_other(dut, 0xB2, seq=1))
    dut.expect(ARP(op=1, pdst=other_ip))
    # More packets for the same unresolved address, back to back: the request already sent
    # covers them. The recommended maximum is "1 per second per destination"; half a second
    # keeps the window clear of a legitimate retransmission.
    dut.send(*(_echo_from_other(dut, 0xB2, seq=seq) for seq in range(2, 7)))
    dut.expect_none(ARP(op=1, pdst=other_ip), within=0.5, barrier=True)

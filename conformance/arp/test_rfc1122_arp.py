"""RFC 1122 §2.3.2 (ARP for hosts): the packet queue and flood prevention."""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, rfc

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"


def _echo_from_other(dut: DUT, ident: int, seq: int = 1) -> Packet:
    return (
        Ether(src=dut.info.other_mac, dst=dut.info.dut_mac)
        / IP(src=str(dut.info.other_ipv4), dst=str(dut.info.dut_ipv4.ip))
        / ICMP(type=8, id=ident, seq=seq)
        / Raw(b"queued")
    )


@rfc("RFC1122-2.3.2.2-1")
def test_packet_waiting_for_resolution_is_sent_once_resolved(dut: DUT) -> None:
    other_ip, dut_ip = str(dut.info.other_ipv4), str(dut.info.dut_ipv4.ip)
    dut.send(_echo_from_other(dut, 0xB1))
    dut.expect(ARP(op=1, pdst=other_ip))
    dut.send(
        Ether(src=dut.info.other_mac, dst=dut.info.dut_mac)
        / ARP(op=2, hwsrc=dut.info.other_mac, psrc=other_ip, hwdst=dut.info.dut_mac, pdst=dut_ip)
    )
    dut.expect(Ether(dst=dut.info.other_mac) / IP(dst=other_ip) / ICMP(type=0, id=0xB1))


@rfc("RFC1122-2.3.2.1-3")
def test_requests_for_one_unresolved_address_are_not_repeated_per_packet(dut: DUT) -> None:
    other_ip = str(dut.info.other_ipv4)
    dut.send(_echo_from_other(dut, 0xB2, seq=1))
    asked = float(dut.expect(ARP(op=1, pdst=other_ip)).time)
    # More packets for the same unresolved address, back to back: the request already sent
    # covers them. The recommended maximum is "1 per second per destination"; half a second
    # after the request (its arrival: a loaded tester reads it late) keeps the window clear of a
    # legitimate retransmission.
    dut.send(*(_echo_from_other(dut, 0xB2, seq=seq) for seq in range(2, 7)))
    sent = dut.now()  # the packets have left
    if sent - asked > 0.5:
        pytest.skip(f"the tester sent the further packets {sent - asked:.2f} s after the DUT's request (a loaded "
                    "tester), past the half second in which a request they drew could not be a retransmission")
    dut.expect_none(ARP(op=1, pdst=other_ip), within=0.5, barrier=True, since=asked)

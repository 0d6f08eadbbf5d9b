"""RFC 826 (ARP): answering requests, learning and updating mappings, resolving before sending.

The DUT has a static mapping for the tester only; "other" (``dut.info.other_ipv4``, ``other_mac``)
is an on-link host the DUT has never heard of, so what the DUT knows about it comes from the
frames these tests send.
"""

from __future__ import annotations

import struct
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, MUST, described, rfc

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"
OTHER_MAC_NEW: Final = "02:00:00:00:00:04"  # the same host after changing its interface card
UNOWNED_IPV4: Final = "198.51.100.77"  # on-link, owned by nobody


def _arp_request(dut: DUT, *, sha: str, spa: str, tpa: str) -> Packet:
    return Ether(src=sha, dst=BROADCAST_MAC) / ARP(
        op=1, hwsrc=sha, psrc=spa, hwdst="00:00:00:00:00:00", pdst=tpa
    )


def _echo_from_other(dut: DUT, ident: int, *, mac: str | None = None) -> Packet:
    return (
        Ether(src=mac or dut.info.other_mac, dst=dut.info.dut_mac)
        / IP(src=str(dut.info.other_ipv4), dst=str(dut.info.dut_ipv4.ip))
        / ICMP(type=8, id=ident, seq=1)
        / Raw(b"arp-test")
    )


@described(826, "Packet Reception", MUST,
           "Swap hardware and protocol fields, putting the local hardware and protocol addresses in the "
           "sender fields. Set the ar$op field to ares_op$REPLY")
def test_request_for_own_address_is_answered_with_swapped_reply(dut: DUT) -> None:
    dut_ip, tester_ip = str(dut.info.dut_ipv4.ip), str(dut.info.tester_ipv4)
    dut.send(_arp_request(dut, sha=dut.info.tester_mac, spa=tester_ip, tpa=dut_ip))
    dut.expect(ARP(op=2, hwsrc=dut.info.dut_mac, psrc=dut_ip, hwdst=dut.info.tester_mac, pdst=tester_ip))


@described(826, "Packet Reception", MUST,
           "Send the packet to the (new) target hardware address on the same hardware on which the request "
           "was received.")
def test_reply_is_sent_unicast_to_the_requester(dut: DUT) -> None:
    dut_ip, tester_ip = str(dut.info.dut_ipv4.ip), str(dut.info.tester_ipv4)
    dut.send(_arp_request(dut, sha=dut.info.tester_mac, spa=tester_ip, tpa=dut_ip))
    dut.expect(Ether(dst=dut.info.tester_mac, src=dut.info.dut_mac) / ARP(op=2, pdst=tester_ip))


@described(826, "Packet Reception", MUST,
           "Negative conditionals indicate an end of processing and a discarding of the packet.")
def test_request_for_another_address_is_not_answered(dut: DUT) -> None:
    tester_ip = str(dut.info.tester_ipv4)
    # "?Am I the target protocol address?" -- no: the request ends here, unanswered.
    dut.send(_arp_request(dut, sha=dut.info.tester_mac, spa=tester_ip, tpa=UNOWNED_IPV4))
    dut.expect_none(ARP(op=2), within=1.0, barrier=True)
    # Control: the same request for the DUT's own address is answered.
    dut.send(_arp_request(dut, sha=dut.info.tester_mac, spa=tester_ip, tpa=str(dut.info.dut_ipv4.ip)))
    dut.expect(ARP(op=2, pdst=tester_ip))


@described(826, "Packet Reception", MUST,
           "?Am I the target protocol address? Yes: If Merge_flag is false, add the triplet <protocol "
           "type, sender protocol address, sender hardware address> to the translation table.")
def test_request_for_another_address_teaches_nothing_about_a_new_sender(dut: DUT) -> None:
    # Only a packet for the DUT's own address adds a sender it has no entry for: after a request
    # from "other" for somebody else, an echo from "other" still needs an ARP request first.
    # (RFC 826 merges a sender the DUT already has before that test, so the sender is new here.)
    other_ip = str(dut.info.other_ipv4)
    dut.send(_arp_request(dut, sha=dut.info.other_mac, spa=other_ip, tpa=UNOWNED_IPV4))
    dut.send(_echo_from_other(dut, 0xA5))
    dut.expect(ARP(op=1, pdst=other_ip))


# (ar$hrd, ar$pro) of requests the DUT must not take as Ethernet/IPv4: zero and all-ones next to
# a real other protocol. IEEE 802 (hardware type 6) is left out: Linux takes it as Ethernet.
FOREIGN_SPACES: Final = {
    "hrd-zero": (0, 0x0800),
    "hrd-all-ones": (0xFFFF, 0x0800),
    "pro-zero": (1, 0),
    "pro-all-ones": (1, 0xFFFF),
    "pro-ipv6": (1, 0x86DD),
}


@pytest.mark.parametrize("space", list(FOREIGN_SPACES))
@described(826, "Packet Reception", MUST,
           "Negative conditionals indicate an end of processing and a discarding of the packet. ?Do I have "
           "the hardware type in ar$hrd? ... ?Do I speak the protocol in ar$pro?")
def test_request_in_a_foreign_hardware_or_protocol_space_is_discarded(dut: DUT, space: str) -> None:
    # Built by hand so that only ar$hrd or ar$pro differ from a request the DUT answers: the
    # lengths stay 6 and 4, the addresses those of a request for the DUT's own address from "other".
    hrd, pro = FOREIGN_SPACES[space]
    other_ip, dut_ip = str(dut.info.other_ipv4), str(dut.info.dut_ipv4.ip)

    def request(hrd: int, pro: int) -> Packet:
        body = (struct.pack("!HHBBH", hrd, pro, 6, 4, 1) + _mac(dut.info.other_mac) + _ip(other_ip)
                + bytes(6) + _ip(dut_ip))
        return Ether(src=dut.info.other_mac, dst=BROADCAST_MAC, type=0x0806) / Raw(body)

    dut.send(request(hrd, pro))
    dut.expect_none(ARP(op=2), within=1.0, barrier=True)
    # Nor was the sender's mapping learned: an echo from "other" now needs an ARP request first.
    dut.send(_echo_from_other(dut, 0xA4))
    dut.expect(ARP(op=1, pdst=other_ip))
    # Control: the same octets with Ethernet/IPv4 in the two fields are answered.
    dut.send(request(1, 0x0800))
    dut.expect(ARP(op=2, hwdst=dut.info.other_mac, pdst=other_ip))


# Lengths an Ethernet/IPv4 ARP packet (28 octets) is cut to, with no padding after the cut: one
# octet short (the last octet of the target protocol address missing, so there is no target to
# compare), and cut inside the fixed header (no ar$pln, ar$op or addresses at all).
TRUNCATIONS: Final = {"one-octet-short": 27, "no-protocol-length": 5}


@pytest.mark.parametrize("cut", list(TRUNCATIONS))
@described(826, "Packet Reception", MUST,
           "Negative conditionals indicate an end of processing and a discarding of the packet.")
def test_truncated_request_is_discarded(dut: DUT, cut: str) -> None:
    # A veth or TAP link carries such a short frame; the control is the same request whole.
    other_ip, dut_ip = str(dut.info.other_ipv4), str(dut.info.dut_ipv4.ip)
    whole = (struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + _mac(dut.info.other_mac) + _ip(other_ip)
             + bytes(6) + _ip(dut_ip))
    frame = Ether(src=dut.info.other_mac, dst=BROADCAST_MAC, type=0x0806)
    dut.send(frame / Raw(whole[: TRUNCATIONS[cut]]))
    dut.expect_none(ARP(op=2), within=1.0, barrier=True)
    dut.send(frame / Raw(whole))
    dut.expect(ARP(op=2, hwdst=dut.info.other_mac, pdst=other_ip))


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


@described(826, "Packet Reception", MUST,
           "If Merge_flag is false, add the triplet <protocol type, sender protocol address, sender hardware "
           "address> to the translation table.")
def test_requester_mapping_is_learned_from_request_for_own_address(dut: DUT) -> None:
    other_ip = str(dut.info.other_ipv4)
    dut.send(_arp_request(dut, sha=dut.info.other_mac, spa=other_ip, tpa=str(dut.info.dut_ipv4.ip)))
    dut.expect(ARP(op=2, hwdst=dut.info.other_mac, pdst=other_ip))
    # The DUT now talks back to "other" without asking: we answer no ARP request here, so the
    # echo reply can only leave if the mapping came from the request above.
    dut.send(_echo_from_other(dut, 0xA1))
    dut.expect(Ether(dst=dut.info.other_mac) / IP(dst=other_ip) / ICMP(type=0, id=0xA1))


@described(826, "Packet Reception", MUST,
           "Notice also that if an entry already exists for the <protocol type, sender protocol address> "
           "pair, then the new hardware address supersedes the old one.")
def test_new_sender_hardware_address_supersedes_the_old_one(dut: DUT) -> None:
    other_ip, dut_ip = str(dut.info.other_ipv4), str(dut.info.dut_ipv4.ip)
    dut.send(_arp_request(dut, sha=dut.info.other_mac, spa=other_ip, tpa=dut_ip))
    dut.expect(ARP(op=2, hwdst=dut.info.other_mac))
    # "other" comes back with a new interface card.
    dut.send(_arp_request(dut, sha=OTHER_MAC_NEW, spa=other_ip, tpa=dut_ip))
    dut.expect(ARP(op=2, hwdst=OTHER_MAC_NEW))
    dut.send(_echo_from_other(dut, 0xA2, mac=OTHER_MAC_NEW))
    dut.expect(Ether(dst=OTHER_MAC_NEW) / IP(dst=other_ip) / ICMP(type=0, id=0xA2))


@rfc("RFC826-PacketGeneration-1", "RFC1122-2.3.3-5",
     quote="It then causes this packet to be broadcast to all stations on the Ethernet cable originally "
           "determined by the routing mechanism.")
def test_unresolved_destination_is_resolved_with_a_broadcast_request(dut: DUT) -> None:
    # The echo reply to "other" needs its hardware address, which the DUT does not have.
    dut.send(_echo_from_other(dut, 0xA3))
    dut.expect(
        Ether(dst=BROADCAST_MAC, src=dut.info.dut_mac)
        / ARP(op=1, hwsrc=dut.info.dut_mac, psrc=str(dut.info.dut_ipv4.ip), pdst=str(dut.info.other_ipv4))
    )

"""RFC 1122 §3.2.2.6: echo requests to broadcast and multicast addresses. Discarding them is
allowed ("MAY be silently discarded") and is the configured default on Linux
(icmp_echo_ignore_broadcasts=1) and on our stack; when a DUT is configured to answer, the reply
comes from its specific address, to the requester's unicast address.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.packet import Packet, Raw

from harness import DUT, MAY, MUST, multicast_mac, rfc

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"
DESTINATIONS: Final = ["limited-bcast", "subnet-bcast", "all-systems"]


def _request(dut: DUT, dst: str, ident: int) -> Packet:
    address, mac = {
        "limited-bcast": ("255.255.255.255", BROADCAST_MAC),
        "subnet-bcast": (str(dut.info.dut_ipv4.network.broadcast_address), BROADCAST_MAC),
        "all-systems": ("224.0.0.1", multicast_mac("224.0.0.1")),
    }[dst]
    frame = dut.ipv4(dst=address) / ICMP(type=8, id=ident, seq=3) / Raw(b"who is there?")
    frame.dst = mac
    return frame


@pytest.mark.parametrize("dst", DESTINATIONS)
@rfc(1122, "3.2.2.6", MAY,
     "An ICMP Echo Request destined to an IP broadcast or IP multicast address MAY be silently "
     "discarded.")
def test_broadcast_echo_is_ignored_when_so_configured(dut: DUT, dst: str) -> None:
    dut.set_echo_ignore_broadcasts(True)
    dut.send(_request(dut, dst, 0xE11))
    # Control, sent after it: a unicast echo is answered. Frames are handled in order, so once
    # its reply is here a reply to the broadcast would be here too.
    dut.send(dut.ipv4() / ICMP(type=8, id=0xE12, seq=3) / Raw(b"unicast"))
    dut.expect(ICMP(type=0, id=0xE12))
    dut.expect_none(ICMP(type=0, id=0xE11), within=0)


@pytest.mark.parametrize("dst", DESTINATIONS)
@rfc(1122, "3.2.2.6", MUST,
     "The IP source address in an ICMP Echo Reply MUST be the same as the specific-destination "
     "address (defined in Section 3.2.1.3) of the corresponding ICMP Echo Request message.")
def test_broadcast_echo_is_answered_from_the_unicast_address_when_enabled(dut: DUT, dst: str) -> None:
    dut.set_echo_ignore_broadcasts(False)
    dut.send(_request(dut, dst, 0xE13))
    reply = dut.expect(ICMP(type=0, id=0xE13))
    assert reply[IP].src == str(dut.info.dut_ipv4.ip), f"reply from {reply[IP].src}"
    assert reply[IP].dst == str(dut.info.tester_ipv4)
    assert bytes(reply[ICMP].payload).startswith(b"who is there?")

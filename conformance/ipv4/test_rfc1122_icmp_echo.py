"""RFC 1122 §3.2.2.6 (Echo Request/Reply for hosts): source address, data of every size,
and echo requests to broadcast and multicast addresses.

Discarding those is allowed ("MAY be silently discarded") and is the configured default on
Linux (icmp_echo_ignore_broadcasts=1) and on our stack; when a DUT is configured to answer,
the reply comes from its specific address, to the requester's unicast address.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from harness import DUT, ExpectationFailed, echo4, echo_data4, multicast_mac, rfc
from harness.features import require_feature

BROADCAST_MAC: Final = "ff:ff:ff:ff:ff:ff"
ECHO_OVERHEAD: Final = 20 + 8  # IPv4 header without options + ICMP echo header
DESTINATIONS: Final = ["limited-bcast", "subnet-bcast", "all-systems"]
NEW_MAC: Final = "02:01:00:00:00:d3"


@rfc("RFC1122-3.2.2.6-4", "RFC1122-3.2.2.6-1", "RFC1122-2.3.3-1")
def test_echo_reply_source_is_the_request_destination(dut: DUT) -> None:
    dut.send(echo4(dut, 0x901, b"source", seq=7))
    reply = dut.expect(ICMP(type=0, id=0x901))
    assert reply[IP].src == str(dut.info.dut_ipv4.ip)
    assert reply[IP].dst == str(dut.info.tester_ipv4)


@pytest.mark.parametrize("size", ["0", "1", "56", "1000", "mtu"])
@rfc("RFC1122-3.2.2.6-5")
def test_echo_reply_includes_all_data_up_to_the_mtu(dut: DUT, size: str) -> None:
    length = dut.info.mtu - ECHO_OVERHEAD if size == "mtu" else int(size)
    data = bytes((i * 7 + 3) & 0xFF for i in range(length))
    dut.send(echo4(dut, 0x911, data, seq=7))
    reply = dut.expect(ICMP(type=0, id=0x911))
    assert echo_data4(reply) == data


@pytest.mark.parametrize("dst", ["limited", "subnet"])
@rfc("RFC1122-3.2.2.6-4")
def test_broadcast_echo_if_answered_is_answered_from_a_specific_address(dut: DUT, dst: str) -> None:
    # "An ICMP Echo Request destined to an IP broadcast or IP multicast address MAY be silently
    # discarded." If the DUT answers, the reply's source must be the specific-destination
    # address, which §3.2.1.3 defines for a broadcast datagram as an address of the interface
    # it arrived on -- never the broadcast address itself.
    address = "255.255.255.255" if dst == "limited" else str(dut.info.dut_ipv4.network.broadcast_address)
    request = echo4(dut, 0x921, b"broadcast", seq=7, dst=address)
    request.dst = BROADCAST_MAC
    dut.send(request)
    try:
        reply = dut.expect(ICMP(type=0, id=0x921), within=1.0)
    except ExpectationFailed:
        reply = None  # discarded, as the RFC allows
    if reply is not None:
        assert reply[IP].src == str(dut.info.dut_ipv4.ip)
    # Control: a unicast echo is answered, so silence above was a choice, not a dead DUT.
    dut.send(echo4(dut, 0x922, b"unicast", seq=7))
    dut.expect(ICMP(type=0, id=0x922))


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
@rfc("RFC1122-3.2.2.6-3")
def test_broadcast_echo_is_ignored_when_so_configured(dut: DUT, dst: str) -> None:
    dut.set_echo_ignore_broadcasts(True)
    dut.send(_request(dut, dst, 0xE11))
    # Control, sent after it: a unicast echo is answered. Frames are handled in order, so once
    # its reply is here a reply to the broadcast would be here too.
    dut.send(dut.ipv4() / ICMP(type=8, id=0xE12, seq=3) / Raw(b"unicast"))
    dut.expect(ICMP(type=0, id=0xE12))
    dut.expect_none(ICMP(type=0, id=0xE11), within=0)


@pytest.mark.parametrize("dst", DESTINATIONS)
@rfc("RFC1122-3.2.2.6-4")
def test_broadcast_echo_is_answered_from_the_unicast_address_when_enabled(dut: DUT, dst: str) -> None:
    # Answering is a choice (RFC 1122 3.2.2.6: "MAY be silently discarded"); the MUST binds a reply.
    require_feature(dut, "echo-multicast" if dst == "all-systems" else "echo-broadcast")
    dut.set_echo_ignore_broadcasts(False)
    dut.send(_request(dut, dst, 0xE13))
    reply = dut.expect(ICMP(type=0, id=0xE13))
    assert reply[IP].src == str(dut.info.dut_ipv4.ip), f"reply from {reply[IP].src}"
    assert reply[IP].dst == str(dut.info.tester_ipv4)
    assert bytes(reply[ICMP].payload).startswith(b"who is there?")


@rfc("RFC1122-3.2.2.6-1")
def test_echo_is_answered_from_the_interface_new_link_address(dut: DUT) -> None:
    # The interface card is swapped (set_link_address) after replies to the tester have gone out:
    # the echo server answers on, in frames from the interface's new address. The new MAC has an
    # odd second octet (locally administered unicast all the same): only the first octet's low
    # bit marks a group address.
    for n in range(2):
        dut.send(echo4(dut, 0x9A1 + n, b"before"))
        dut.expect(ICMP(type=0, id=0x9A1 + n))
    dut.set_link_address(NEW_MAC)
    # The tester asks for the DUT's address first (a DUT may have flushed its neighbours with the
    # change, Linux does): the request tells the DUT the tester's MAC on the way.
    info = dut.info
    dut.send(Ether(src=info.tester_mac, dst="ff:ff:ff:ff:ff:ff")
             / ARP(op=1, hwsrc=info.tester_mac, psrc=str(info.tester_ipv4), pdst=str(info.dut_ipv4.ip)))
    dut.expect(ARP(op=2, psrc=str(info.dut_ipv4.ip)))
    request = echo4(dut, 0x9A3, b"after")
    request[Ether].dst = NEW_MAC
    dut.send(request)
    reply = dut.expect(ICMP(type=0, id=0x9A3))
    assert reply[Ether].src.lower() == NEW_MAC, f"the echo reply came from {reply[Ether].src}, not the new {NEW_MAC}"

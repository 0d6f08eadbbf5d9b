"""Local IP multicasting (RFC 1122 §3.3.7, RFC 1112 §6.4): on Ethernet, where RFC 1112 maps a
Class D address to a link-layer address (01-00-5E plus its low 23 bits), the host receives the
datagrams of a group it has joined and sends to a group in that group's Ethernet address.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from harness import DUT, rfc
from harness.frames import multicast_mac

GROUP: Final = "224.1.2.3"
OTHER_GROUP: Final = "224.1.2.4"
PORT: Final = 5377
TESTER_PORT: Final = 40377
SILENCE_S: Final = 1.0


@rfc("RFC1122-3.3.7-1")
def test_datagram_to_a_joined_group_reaches_the_socket(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.join_group(GROUP)
    frame = dut.ipv4(dst=GROUP, ttl=1) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(b"to the group")
    frame[Ether].dst = multicast_mac(GROUP)
    dut.send(frame)
    got = dut.udp_recv(PORT, within=2.0)
    assert got is not None and got[0] == b"to the group", f"the datagram to {GROUP} was not delivered: {got}"


@rfc("RFC1122-3.3.7-1")
def test_datagram_to_a_group_not_joined_does_not_reach_the_socket(dut: DUT) -> None:
    # The membership decides: the same datagram to a group the host has not joined stays out.
    dut.udp_bind(PORT)
    dut.join_group(GROUP)
    frame = dut.ipv4(dst=OTHER_GROUP, ttl=1) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(b"not joined")
    frame[Ether].dst = multicast_mac(OTHER_GROUP)
    dut.send(frame)
    assert dut.udp_recv(PORT, within=SILENCE_S) is None, f"a datagram to {OTHER_GROUP}, not joined, was delivered"
    control = dut.ipv4(dst=GROUP, ttl=1) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(b"control")
    control[Ether].dst = multicast_mac(GROUP)
    dut.send(control)
    got = dut.udp_recv(PORT, within=2.0)
    assert got is not None and got[0] == b"control"


# 239.255.1.2: near the top of the range (RFC 1112 4: "host group addresses range from 224.0.0.0
# to 239.255.255.255"), an edge a host's test for "is this a group" must take in.
@pytest.mark.parametrize("group", [GROUP, "239.255.1.2"], ids=["224", "239"])
@rfc("RFC1122-3.3.7-1")
def test_datagram_to_a_group_goes_to_its_ethernet_address(dut: DUT, group: str) -> None:
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"from the host", group, TESTER_PORT)
    sent = dut.expect(IP(dst=group), UDP(sport=PORT), Raw(load=b"from the host"))
    assert sent[Ether].dst.lower() == multicast_mac(group), (
        f"a datagram to {group} went to {sent[Ether].dst}, not {multicast_mac(group)} (RFC 1112 6.4)")

"""RFC 8200 §3: the fixed IPv6 header as a receiver must read it.

Every negative test pairs the malformed packet with the valid one sent afterwards, so a DUT
that answers nothing at all cannot pass.
"""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop

from harness import DUT, MUST, described, echo6, expect_echo_reply6, rfc

SILENCE_S = 1.0
DATA = b"stackcheck-v6"


@described(8200, "3", MUST, "Version 4-bit Internet Protocol version number = 6.")
def test_packet_with_version_other_than_6_is_discarded(dut: DUT) -> None:
    # IPv6 EtherType frames whose version nibble says 4, or 14 (0b1110: its low three bits say 6,
    # so a reader that keeps three of the four bits takes it for IPv6): not IPv6 packets at all.
    dut.send(echo6(dut, 0x6001, DATA, version=4), echo6(dut, 0x6001, DATA, version=14))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    dut.send(echo6(dut, 0x6002, DATA))  # control: the same echo with version 6 is answered
    expect_echo_reply6(dut, 0x6002, src=str(dut.info.dut_ipv6.ip))


@described(8200, "3", MUST,
           "Payload Length 16-bit unsigned integer. Length of the IPv6 payload, i.e., the rest of the packet "
           "following this IPv6 header, in octets.")
def test_payload_length_beyond_the_frame_is_discarded(dut: DUT) -> None:
    # The header claims 20 octets more than the frame carries: the packet is truncated.
    request = echo6(dut, 0x6003, DATA)
    true_length = len(request[ICMPv6EchoRequest])
    request[IPv6].plen = true_length + 20
    # And the same echo under a Payload Length of 0 (Next Header ICMPv6, not Hop-by-Hop: no
    # jumbogram, RFC 2675 3): the packet has no payload, the whole echo after the header is link
    # padding, and an empty ICMPv6 message is no echo request.
    empty = echo6(dut, 0x6003, DATA)
    empty[IPv6].plen = 0
    dut.send(request, empty)
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    dut.send(echo6(dut, 0x6004, DATA))
    expect_echo_reply6(dut, 0x6004, src=str(dut.info.dut_ipv6.ip))


@described(8200, "3", MUST,
           "Payload Length 16-bit unsigned integer. Length of the IPv6 payload, i.e., the rest of the packet "
           "following this IPv6 header, in octets.")
@pytest.mark.parametrize("hbh", [False, True], ids=["plain", "hop-by-hop"])
def test_octets_beyond_payload_length_are_ignored(dut: DUT, hbh: bool) -> None:
    # Link-layer padding after the packet (as Ethernet adds to short frames) is not payload:
    # the echo is answered and its data comes back without the trailing octets. Also behind a
    # Hop-by-Hop Options header (a non-zero Payload Length: no jumbogram, RFC 2675).
    data = b"padded-echo"
    request = (dut.ipv6() / IPv6ExtHdrHopByHop() / ICMPv6EchoRequest(id=0x6005, seq=1, data=data) if hbh
               else echo6(dut, 0x6005, data))
    frame = bytes(request) + b"\xee" * 24
    dut.send(frame)
    reply = expect_echo_reply6(dut, 0x6005, src=str(dut.info.dut_ipv6.ip))
    assert reply[ICMPv6EchoReply].data == data, "the padding after the IPv6 payload was treated as data"


@rfc("RFC8200-3-1")
def test_packet_with_hop_limit_zero_is_processed_at_its_destination(dut: DUT) -> None:
    dut.send(echo6(dut, 0x6006, DATA, hlim=0))
    expect_echo_reply6(dut, 0x6006, src=str(dut.info.dut_ipv6.ip))


@described(8200, "2", MUST, "router a node that forwards IPv6 packets not explicitly addressed to itself.")
def test_host_neither_answers_nor_forwards_a_packet_for_another_address(dut: DUT) -> None:
    # Sent to the DUT's MAC but to an on-link address that is not the DUT's. Forwarding is
    # off by default, so the DUT is a host: no echo reply, and no copy of the packet sent on.
    stranger = str(IPv6Address(int(dut.info.dut_ipv6.ip) + 0x5A5A))
    dut.send(echo6(dut, 0x6007, DATA, dst=stranger))
    dut.expect_none(ICMPv6EchoReply, within=SILENCE_S, barrier=True)
    dut.expect_none(IPv6(dst=stranger), ICMPv6EchoRequest(id=0x6007), within=0.1)
    dut.send(echo6(dut, 0x6008, DATA))
    expect_echo_reply6(dut, 0x6008, src=str(dut.info.dut_ipv6.ip))


@described(4861, "6.3.2", MUST,
           "CurHopLimit The default hop limit to be used when sending IP packets. Default: The value specified in "
           "the \"Assigned Numbers\" [ASSIGNED] that was in effect at the time of implementation.")
def test_packets_leave_with_the_assigned_numbers_default_hop_limit(dut: DUT) -> None:
    # No Router Advertisement has set CurHopLimit: the DUT's own packets carry the default, which
    # Assigned Numbers gives as 64 (as for IPv4's TTL, RFC 1700); a larger one reaches as far.
    dut.send(echo6(dut, 0x6030, DATA))
    reply = expect_echo_reply6(dut, 0x6030, src=str(dut.info.dut_ipv6.ip))
    assert reply[IPv6].hlim >= 64, f"echo reply sent with hop limit {reply[IPv6].hlim}, below the default of 64"

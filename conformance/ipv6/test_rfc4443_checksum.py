"""RFC 4443 §2.3: the checksum of every ICMPv6 message the DUT originates.

A receiver discards a message whose checksum does not hold (RFC 4443 §2.4), so a DUT that got
its checksum wrong would have every reply, error and Neighbor Discovery message dropped by its
peers; Scapy does not verify received checksums, so the tests recompute it. One message of each
kind the DUT's ICMPv6 sender builds: an Echo Reply, two errors (Destination Unreachable and
Parameter Problem) and a Neighbor Solicitation (RFC 4861 §4.3: "Code 0").
"""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NS,
    ICMPv6ParamProblem,
    IPv6,
    IPv6ExtHdrDestOpt,
    in6_chksum,
)
from scapy.packet import Packet, Raw

from harness import DUT, MUST, described, echo_request_from, l3_bytes

CLOSED_PORT = 33535
ICMPV6 = 58


def _icmpv6_message(pkt: Packet) -> tuple[bytes, bytes]:
    """The IPv6 header and the ICMPv6 message of a received packet, from the wire octets."""
    l3 = l3_bytes(pkt)
    assert l3[6] == ICMPV6, f"the packet's Next Header is {l3[6]}, not ICMPv6 (no extension header expected)"
    return l3[:40], l3[40:]


def _assert_checksum_holds(pkt: Packet) -> None:
    header, message = _icmpv6_message(pkt)
    got = struct.unpack_from("!H", message, 2)[0]
    want = in6_chksum(ICMPV6, IPv6(header), message[:2] + b"\x00\x00" + message[4:])
    assert got == want, f"ICMPv6 type {message[0]}: checksum {got:#06x}, the message and pseudo-header give {want:#06x}"


def _echo_reply(dut: DUT) -> Packet:
    dut.send(dut.ipv6() / ICMPv6EchoRequest(id=0x4423, seq=1, data=b"checksum of the reply"))
    return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x4423, seq=1))


def _port_unreachable(dut: DUT) -> Packet:
    dut.send(dut.ipv6() / UDP(sport=40023, dport=CLOSED_PORT) / Raw(b"checksum of the error"))
    return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6DestUnreach)


def _parameter_problem(dut: DUT) -> Packet:
    # An unknown option of the "10" class: Parameter Problem code 2 (RFC 8200 §4.2).
    opts = IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x9E, optdata=b"\x00\x00\x00\x00")])
    dut.send(dut.ipv6() / opts / ICMPv6EchoRequest(id=0x4424, seq=1))
    return dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6ParamProblem)


def _neighbor_solicitation(dut: DUT) -> Packet:
    # An echo request from an on-link address the DUT has no Neighbor Cache entry for: it
    # resolves the address before it can reply.
    nbr = str(dut.info.dut_ipv6.network[0x4425])
    dut.send(echo_request_from(dut, nbr, 0x4425))
    ns = dut.expect(ICMPv6ND_NS(tgt=nbr))
    # RFC 4861 §4.3 gives the Neighbor Solicitation "Code 0"; a message with another code is
    # invalid (§7.1.1: "ICMP Code is 0."), so its peers would drop it as they drop a bad checksum.
    assert ns[ICMPv6ND_NS].code == 0, f"the Neighbor Solicitation has Code {ns[ICMPv6ND_NS].code}"
    return ns


MESSAGES = {
    "echo-reply": _echo_reply,
    "destination-unreachable": _port_unreachable,
    "parameter-problem": _parameter_problem,
    "neighbor-solicitation": _neighbor_solicitation,
}


@pytest.mark.parametrize("kind", list(MESSAGES))
@described(4443, "2.3", MUST,
           "The checksum is the 16-bit one's complement of the one's complement sum of the entire ICMPv6 "
           "message, starting with the ICMPv6 message type field, and prepended with a \"pseudo-header\" of "
           "IPv6 header fields")
def test_messages_the_dut_originates_carry_a_correct_checksum(dut: DUT, kind: str) -> None:
    _assert_checksum_holds(MESSAGES[kind](dut))

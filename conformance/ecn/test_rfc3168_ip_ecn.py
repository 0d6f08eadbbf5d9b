"""RFC 3168 §5.2-5.3 (ECN at the IP layer of a host, both families): the packets a host sends
itself are Not-ECT, and reassembly keeps a datagram's ECN codepoint, never losing a CE mark.

A reassembled datagram's codepoint is read where the application sees it: ``udp_recvmsg``
reports the TOS octet (IPv6: Traffic Class) of what the socket received.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, fragments4, fragments6, rfc
from harness.dut import Family
from harness.traffic import ipv4_traffic, ipv6_traffic

NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3
NAMES: Final = {NOT_ECT: "Not-ECT", ECT1: "ECT(1)", ECT0: "ECT(0)", CE: "CE"}
PORT: Final = 5030
TESTER_PORT: Final = 40030
CLOSED_PORT: Final = 33430
DATA: Final = bytes(range(200))  # three fragments of 64, 64 and 80 octets (UDP header included)
PIECES: Final = [(0, 64), (64, 64), (128, 80)]


def _ecn(frame: Packet) -> int:
    return frame[IP].tos & 3 if IP in frame else frame[IPv6].tc & 3


# ---- 5.2: what the host sends itself ---------------------------------------------------------

@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@rfc("RFC3168-5.2-1")
def test_packets_the_dut_originates_are_not_ect(dut: DUT, family: Family) -> None:
    frames = ipv4_traffic(dut) if family == 4 else ipv6_traffic(dut)
    packets = [f for f in frames if (IP if family == 4 else IPv6) in f]
    # Echo replies, ICMP errors, UDP, reports, a TCP reset: none of them is a packet whose loss
    # the end nodes would take for congestion (no transport here negotiated ECN).
    assert len(packets) >= 8, f"the DUT sent only {len(packets)} IPv{family} packets in the traffic mix"
    bad = [p for p in packets if _ecn(p) != NOT_ECT]
    assert not bad, "packets the DUT sent with an ECT or CE codepoint:\n" + "\n".join(
        f"  {NAMES[_ecn(p)]}: {p.summary()}" for p in bad[:10])


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@rfc("RFC3168-5.2-1")
def test_answers_to_ecn_marked_packets_are_not_ect(dut: DUT, family: Family) -> None:
    # An echo reply or an ICMP error is no more ECN-capable for answering a packet that was.
    answers = []
    for n, codepoint in enumerate((ECT0, ECT1, CE)):
        if family == 4:
            dut.send(dut.ipv4(tos=codepoint) / ICMP(type=8, id=0x3A0 + n) / Raw(b"ecn"),
                     dut.ipv4(tos=codepoint) / UDP(sport=TESTER_PORT, dport=CLOSED_PORT))
            answers += [dut.expect(ICMP(type=0, id=0x3A0 + n)), dut.expect(ICMP(type=3, code=3))]
        else:
            dut.send(dut.ipv6(tc=codepoint) / ICMPv6EchoRequest(id=0x3A0 + n, data=b"ecn"))
            answers.append(dut.expect(ICMPv6EchoReply(id=0x3A0 + n)))
    bad = [a for a in answers if _ecn(a) != NOT_ECT]
    assert not bad, "answers sent with an ECT or CE codepoint:\n" + "\n".join(
        f"  {NAMES[_ecn(a)]}: {a.summary()}" for a in bad)


# ---- 5.3: reassembly -------------------------------------------------------------------------

def _fragments(dut: DUT, family: Family, codepoints: list[int]) -> list[bytes]:
    """A UDP datagram to the DUT's socket in three fragments, fragment i with codepoints[i]."""
    if family == 4:
        frags = fragments4(dut.ipv4(id=0x3168) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(DATA), PIECES)
    else:
        frags = fragments6(dut.ipv6() / UDP(sport=TESTER_PORT, dport=PORT) / Raw(DATA), PIECES, ident=0x3168)
    out = []
    for frag, codepoint in zip(frags, codepoints, strict=True):
        raw = bytearray(bytes(frag))
        if family == 4:
            raw[15] = raw[15] & ~3 | codepoint  # the TOS octet, after the 14-octet Ethernet header
            raw[24:26] = bytes(2)
            raw[24:26] = checksum(bytes(raw[14:34])).to_bytes(2, "big")
        else:
            raw[15] = raw[15] & ~0x30 | codepoint << 4  # Traffic Class bits 6-7 sit at 0x30 here
        out.append(bytes(raw))
    return out


def _delivered(dut: DUT, within: float = 2.0) -> int | None:
    """The ECN codepoint the reassembled datagram reached the socket with, or None."""
    got = dut.udp_recvmsg(PORT, within=within)
    if got is None:
        return None
    assert got.data == DATA, "the socket received other data than the datagram's"
    return got.tos & 3


def _expect_control(dut: DUT, family: Family) -> None:
    """Positive control: the same datagram, all fragments Not-ECT, is reassembled and delivered."""
    dut.send(*_fragments(dut, family, [NOT_ECT] * 3))
    assert _delivered(dut) == NOT_ECT, "a datagram in three Not-ECT fragments was not delivered as Not-ECT"


@pytest.mark.parametrize("codepoint", [NOT_ECT, ECT0, ECT1, CE], ids=["not-ect", "ect0", "ect1", "ce"])
@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@rfc("RFC3168-5.3-6")
def test_reassembly_keeps_the_codepoint_all_fragments_carry(dut: DUT, family: Family, codepoint: int) -> None:
    dut.udp_bind(PORT, family)
    dut.send(*_fragments(dut, family, [codepoint] * 3))
    got = _delivered(dut)
    assert got is not None, f"a datagram whose fragments all carry {NAMES[codepoint]} was not delivered"
    assert got == codepoint, f"fragments all {NAMES[codepoint]}, the reassembled datagram {NAMES[got]}"


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@rfc("RFC3168-5.3-3", "RFC3168-5.3-2", "RFC3168-5.3-5")
def test_ce_in_one_fragment_marks_the_datagram_or_drops_it(dut: DUT, family: Family) -> None:
    dut.udp_bind(PORT, family)
    dut.send(*_fragments(dut, family, [ECT0, CE, ECT0]))
    got = _delivered(dut)
    # Either action is allowed (5.3-5); delivering it as ECT(0) would lose the congestion mark.
    assert got in (None, CE), f"fragments ECT(0), CE, ECT(0) were reassembled as {NAMES[got or 0]}: the CE mark is lost"
    _expect_control(dut, family)


@pytest.mark.parametrize("family", [4, 6], ids=["ipv4", "ipv6"])
@rfc("RFC3168-5.3-4", "RFC3168-5.3-2")
def test_ce_fragment_beside_a_not_ect_fragment_drops_the_datagram(dut: DUT, family: Family) -> None:
    dut.udp_bind(PORT, family)
    dut.send(*_fragments(dut, family, [NOT_ECT, CE, NOT_ECT]))
    got = _delivered(dut, within=1.0)
    # Marking it CE is forbidden beside a Not-ECT fragment (5.3-4), and delivering it unmarked
    # would lose the indication of congestion (5.3-2): the one action left is to drop it.
    assert got is None, f"fragments Not-ECT, CE, Not-ECT were reassembled and delivered as {NAMES[got]}"
    _expect_control(dut, family)

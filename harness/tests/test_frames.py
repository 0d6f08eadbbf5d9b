from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP, IPOption_RR, IPOption_Security, defragment
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import (
    fragments4,
    fragments6,
    icmp_quote,
    l3_bytes,
    multicast_mac,
    quotes,
    solicited_node,
    with_ipv4_options,
)

ETH = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")


def echo4(n: int = 120) -> Ether:
    return ETH / IP(src="198.51.100.2", dst="198.51.100.1", id=77) / ICMP(id=1, seq=1) / (b"A" * n)


def echo6(n: int = 120, *ext: object) -> Ether:
    pkt = ETH / IPv6(src="2001:db8:1::2", dst="2001:db8:1::1")
    for e in ext:
        pkt = pkt / e
    return pkt / ICMPv6EchoRequest(id=0x5C, seq=1, data=b"B" * n)


def reassemble6(frags: list[Packet], ext_len: int = 0) -> bytes:
    """Oracle: payload bytes in offset order (non-overlapping plans only)."""
    parts = sorted((f[IPv6ExtHdrFragment].offset * 8, bytes(f[IPv6ExtHdrFragment].payload)) for f in frags)
    return b"".join(p for _, p in parts)


def test_fragments4_size_reassembles_to_the_original() -> None:
    pkt = echo4(300)
    frags = fragments4(pkt, size=64)
    assert [f[IP].frag for f in frags] == [0, 8, 16, 24, 32]
    assert [f[IP].flags.MF for f in frags] == [1, 1, 1, 1, 0]
    assert all(f[IP].id == 77 and f[Ether].dst == "02:00:00:00:00:01" for f in frags)
    # Checksums valid: Scapy recomputes on a copy with chksum cleared.
    for f in frags:
        ip = f[IP].copy()
        ip.chksum = None
        assert IP(bytes(ip)).chksum == f[IP].chksum
    [whole] = defragment([f[IP] for f in frags])
    assert bytes(whole) == l3_bytes(pkt)


def test_fragments4_pieces_may_overlap_repeat_and_set_mf() -> None:
    pkt = echo4(120)  # 128 octets of ICMP
    frags = fragments4(pkt, pieces=[(0, 72), (64, 64), (64, 64), (0, 8, False)], ident=0xBEEF)
    assert [(f[IP].frag * 8, len(f[IP].payload), f[IP].flags.MF) for f in frags] == [
        (0, 72, 1), (64, 64, 0), (64, 64, 0), (0, 8, 0),
    ]  # fmt: skip
    assert {f[IP].id for f in frags} == {0xBEEF}
    assert bytes(frags[1][IP].payload) == l3_bytes(pkt)[20 + 64 :]
    # What goes on the wire is exactly what was planned.
    assert all(bytes(f) == bytes(Ether(bytes(f))) for f in frags)


def test_fragments4_copies_only_copied_options_to_later_fragments() -> None:
    pkt = ETH / IP(dst="198.51.100.1", options=[IPOption_Security(), IPOption_RR()]) / UDP() / (b"C" * 64)
    first, second = fragments4(pkt, pieces=[(0, 32), (32, 40)])
    assert first[IP].ihl * 4 == len(l3_bytes(pkt)) - 72
    assert second[IP].options[0].copy_flag == 1 and second[IP].options[0].option == 2  # Security
    assert all(o.option == 0 for o in second[IP].options[1:])  # End of Option List padding


def test_with_ipv4_options_pads_and_fixes_lengths_and_checksum() -> None:
    pkt = echo4(16)
    out = with_ipv4_options(pkt, b"\x07\x03\x04")  # Record Route, no slots: padded to 4
    assert isinstance(out, Ether) and out[Ether].dst == pkt[Ether].dst
    l3 = l3_bytes(out)
    assert l3[0] == 0x46 and l3[20:24] == b"\x07\x03\x04\x00"
    assert len(l3) == len(l3_bytes(pkt)) + 4 and l3[24:] == l3_bytes(pkt)[20:]
    assert checksum(l3[:24]) == 0, "the header checksum does not verify"
    bad = with_ipv4_options(pkt, b"\x9e\x01\x00\x00")  # malformed options go out as given
    assert l3_bytes(bad)[20:24] == b"\x9e\x01\x00\x00"
    with pytest.raises(ValueError, match="already carries IP options"):
        with_ipv4_options(out, b"\x01\x01\x01\x01")


def test_fragments4_rejects_bad_plans() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        fragments4(echo4(), pieces=[(4, 8)])
    with pytest.raises(ValueError, match="past the 128-octet payload"):
        fragments4(echo4(), pieces=[(0, 200)])
    with pytest.raises(TypeError, match="exactly one"):
        fragments4(echo4())
    with pytest.raises(ValueError, match="multiple of 8"):
        fragments4(echo4(), size=10)


def test_fragments6_reassembles_and_keeps_the_fragment_header_chain() -> None:
    pkt = echo6(300)
    frags = fragments6(pkt, size=128, ident=0xBEEF)
    assert [f[IPv6ExtHdrFragment].offset * 8 for f in frags] == [0, 128, 256]
    assert [f[IPv6ExtHdrFragment].m for f in frags] == [1, 1, 0]
    assert all(f[IPv6].nh == 44 and f[IPv6ExtHdrFragment].nh == 58 for f in frags)
    assert all(f[IPv6ExtHdrFragment].id == 0xBEEF for f in frags)
    assert all(f[IPv6].plen == len(bytes(f[IPv6])) - 40 for f in frags)
    assert reassemble6(frags) == l3_bytes(pkt)[40:]


def test_fragments6_keeps_hop_by_hop_and_routing_unfragmentable() -> None:
    pkt = echo6(64, IPv6ExtHdrHopByHop(), IPv6ExtHdrDestOpt(), IPv6ExtHdrRouting(addresses=[]), IPv6ExtHdrDestOpt())
    frags = fragments6(pkt, size=32)
    first = frags[0]
    assert first[IPv6].nh == 0 and first[IPv6ExtHdrRouting].nh == 44
    assert first[IPv6ExtHdrFragment].nh == 60  # the final-destination options travel fragmented
    unfrag = 8 + 8 + 8
    assert reassemble6(frags) == l3_bytes(pkt)[40 + unfrag :]


def test_fragments6_overlapping_pieces_of_the_design_example() -> None:
    frags = fragments6(echo6(120), pieces=[(0, 72), (64, 64)], ident=0xBEEF)
    assert [(f[IPv6ExtHdrFragment].offset * 8, f[IPv6ExtHdrFragment].m) for f in frags] == [(0, 1), (64, 0)]
    assert [len(bytes(f[IPv6ExtHdrFragment].payload)) for f in frags] == [72, 64]


def test_multicast_helpers() -> None:
    assert solicited_node("2001:db8:1::1") == "ff02::1:ff00:1"
    assert solicited_node("fe80::ff:fe00:1") == "ff02::1:ff00:1"
    assert multicast_mac("ff02::1:ff00:1") == "33:33:ff:00:00:01"
    assert multicast_mac("224.129.2.3") == "01:00:5e:01:02:03"
    with pytest.raises(ValueError):
        multicast_mac("198.51.100.1")


def test_icmp_quote_returns_the_invoking_packet_bytes() -> None:
    sent = ETH / IPv6(src="2001:db8:1::2", dst="2001:db8:1::1") / UDP(sport=5, dport=9) / b"data"
    err = Ether(bytes(
        ETH / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / ICMPv6DestUnreach(code=4) / Raw(l3_bytes(sent))
    ))  # fmt: skip
    assert icmp_quote(err) == l3_bytes(sent)
    assert quotes(err, sent)
    sent4 = echo4(4)
    err4 = Ether(bytes(ETH / IP() / ICMP(type=3, code=2) / Raw(l3_bytes(sent4)[:28])))
    assert len(err4) == 70 and quotes(err4, sent4)
    padded = Ether(bytes(ETH / IP() / ICMP(type=11) / Raw(l3_bytes(sent4)[:8])))  # < 60 B: padding
    assert icmp_quote(padded) == l3_bytes(sent4)[:8]
    with pytest.raises(TypeError):
        icmp_quote(Ether(bytes(echo4())))


def test_icmp_quote_keeps_more_than_128_octets() -> None:
    # Scapy dissects the octets after the first 128 of an ICMPv4 error's quote as RFC 4884
    # extension objects; the quote must still be every octet the error carries.
    sent = IP(src="198.51.100.2", dst="198.51.100.1") / UDP(sport=1, dport=2) / Raw(bytes(range(256)) * 2)
    invoking = bytes(sent)[:548]
    error = Ether(bytes(Ether() / IP(src="198.51.100.1", dst="198.51.100.2") / ICMP(type=3, code=3) / Raw(invoking)))
    assert icmp_quote(error) == invoking
    assert quotes(error, sent)

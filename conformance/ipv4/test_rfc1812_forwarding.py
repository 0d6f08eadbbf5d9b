"""IPv4 forwarding (RFC 1812, RFC 791, RFC 1191), with forwarding switched on and a route to
203.0.113.0/24 through the gateway ``other_ipv4`` on the test link. The tester answers the
DUT's ARP request for the gateway as ``other_mac`` and then sees the forwarded datagram. The
datagram leaves on the interface it came in on, so the DUT may also send an ICMP Redirect
(RFC 1812 5.2.7.2); these tests neither require nor forbid it.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, described, icmp_quote, l3_bytes, rfc, with_ipv4_options
from harness.features import optional_feature

REMOTE_NET: Final = "203.0.113.0/24"
REMOTE: Final = "203.0.113.5"
UNROUTED: Final = "203.0.114.5"  # outside every route of the DUT (no default route)
RR: Final = 7
LSRR: Final = 131
SSRR: Final = 137
# Router behaviour (RFC 1812): a host need not forward, so these run on DUTs that declare it.
pytestmark = optional_feature("ipv4-forwarding")


def _enable(dut: DUT, mtu: int | None = None) -> None:
    dut.set_forwarding(4, True)
    dut.add_route(REMOTE_NET, via=str(dut.info.other_ipv4), mtu=mtu)


def _udp(dut: DUT, dst: str = REMOTE, size: int = 64, **ip_fields: object) -> Packet:
    return dut.ipv4(dst=dst, **ip_fields) / UDP(sport=40200, dport=9) / Raw(bytes(i & 0xFF for i in range(size)))


def _answer_gateway_arp(dut: DUT) -> None:
    """Play the gateway: answer the DUT's ARP request for other_ipv4."""
    other, mac = str(dut.info.other_ipv4), dut.info.other_mac
    dut.expect(ARP(op=1, pdst=other), within=2.0)
    dut.send(Ether(src=mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=mac, psrc=other, hwdst=dut.info.dut_mac, pdst=str(dut.info.dut_ipv4.ip)))


def _forwarded(dut: DUT, dst: str = REMOTE, **ip_fields: object) -> Packet:
    return dut.expect(Ether(dst=dut.info.other_mac) / IP(dst=dst, **ip_fields), within=2.0)


# 255: the high bit set, which a sloppy checksum update loses; protocol 254 (experimental, RFC 3692):
# an even number, so the low bit of the TTL/Protocol word the update subtracts from is clear.
@pytest.mark.parametrize(("ttl", "proto"), [(10, 17), (255, 17), (10, 254)], ids=["10", "255", "10-even-protocol"])
@rfc("RFC791-3.2-20")
def test_forwarded_datagram_has_its_ttl_decremented(dut: DUT, ttl: int, proto: int) -> None:
    _enable(dut)
    dut.send(_udp(dut, ttl=ttl, proto=proto))
    _answer_gateway_arp(dut)
    out = _forwarded(dut)
    assert out[IP].ttl == ttl - 1, f"forwarded with TTL {out[IP].ttl}, expected {ttl} - 1"
    assert checksum(bytes(out[IP])[: out[IP].ihl * 4]) == 0, "the header checksum was not updated"
    assert bytes(out[IP].payload)[8:72] == bytes(range(64)), "the data changed on the way"


@pytest.mark.parametrize("ttl", [1, 0])
@rfc("RFC1812-5.2.7.3-1")
def test_expiring_ttl_draws_time_exceeded_in_transit(dut: DUT, ttl: int) -> None:
    _enable(dut)
    sent = _udp(dut, ttl=ttl)
    dut.send(sent)
    error = dut.expect(ICMP(type=11))
    assert error[ICMP].code == 0, f"Time Exceeded code {error[ICMP].code}, expected 0 (in transit)"
    assert l3_bytes(sent).startswith(icmp_quote(error)[:28])


@rfc("RFC1812-4.2.2.9-2")
def test_datagram_with_ttl_1_is_not_forwarded(dut: DUT) -> None:
    _enable(dut)
    dut.send(_udp(dut, ttl=1))
    dut.expect(ICMP(type=11))  # discarded and reported (the ARP for the gateway is not needed)
    # Control, after it: the same datagram with TTL 2 is forwarded (with TTL 1).
    dut.send(_udp(dut, ttl=2))
    _answer_gateway_arp(dut)
    assert _forwarded(dut)[IP].ttl == 1
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(dst=REMOTE, ttl=0), within=0)


@pytest.mark.parametrize("ttl", [1, 0])
@rfc("RFC1812-4.2.2.9-3")
def test_datagram_to_the_router_with_ttl_0_or_1_is_received(dut: DUT, ttl: int) -> None:
    _enable(dut)
    dut.send(dut.ipv4(ttl=ttl) / ICMP(type=8, id=0xF01, seq=ttl) / Raw(b"to the router"))
    dut.expect(ICMP(type=0, id=0xF01))


@rfc("RFC1812-4.3.3.1-1")
def test_no_route_draws_network_unreachable(dut: DUT) -> None:
    _enable(dut)
    # From an on-link source of its own: Linux limits these errors per source (1 per second,
    # ip_rt_error_cost), in a bucket the errors of earlier tests to the tester have emptied.
    source = "198.51.100.64"
    sent = _udp(dut, dst=UNROUTED, src=source)
    dut.send(sent)
    dut.expect(ARP(op=1, pdst=source), within=2.0)
    dut.send(Ether(src=dut.info.tester_mac, dst=dut.info.dut_mac)
             / ARP(op=2, hwsrc=dut.info.tester_mac, psrc=source, hwdst=dut.info.dut_mac,
                   pdst=str(dut.info.dut_ipv4.ip)))
    error = dut.expect(IP(dst=source) / ICMP(type=3))
    assert error[ICMP].code == 0, f"Destination Unreachable code {error[ICMP].code}, expected 0 (net)"
    assert l3_bytes(sent).startswith(icmp_quote(error)[:28])


@described(1191, "4", MUST,
           "When a router is unable to forward a datagram because it exceeds the MTU of the next-hop network "
           "and its Don't Fragment bit is set, the router is required to return an ICMP Destination "
           "Unreachable message to the source of the datagram, with the Code indicating \"fragmentation "
           "needed and DF set\".")
def test_too_big_with_df_draws_fragmentation_needed(dut: DUT) -> None:
    _enable(dut, mtu=1000)
    dut.send(_udp(dut, size=1200, flags="DF"))
    error = dut.expect(ICMP(type=3))
    assert error[ICMP].code == 4, f"Destination Unreachable code {error[ICMP].code}, expected 4"
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(dst=REMOTE), within=0.5)


@rfc("RFC1191-4-1", "RFC1191-4-2")
def test_fragmentation_needed_carries_the_next_hop_mtu(dut: DUT) -> None:
    _enable(dut, mtu=1000)
    dut.send(_udp(dut, size=1200, flags="DF"))
    error = dut.expect(ICMP(type=3, code=4))
    word = bytes(error[ICMP])[4:8]
    assert word[:2] == b"\x00\x00", f"high-order 16 bits {word[:2].hex()}, must be zero"
    assert int.from_bytes(word[2:], "big") == 1000, f"next-hop MTU {int.from_bytes(word[2:], 'big')}"


@rfc("RFC791-2.3-5")
def test_too_big_without_df_is_fragmented_to_fit(dut: DUT) -> None:
    _enable(dut, mtu=1000)
    sent = _udp(dut, size=1200)
    dut.send(sent)
    _answer_gateway_arp(dut)
    frags = [_forwarded(dut)]
    ident = frags[0][IP].id
    while sum(len(bytes(f[IP])[f[IP].ihl * 4 : f[IP].len]) for f in frags) < 8 + 1200:
        frags.append(_forwarded(dut, id=ident))
    assert all(f[IP].len <= 1000 for f in frags), f"fragment lengths {[f[IP].len for f in frags]}"
    # RFC 791 3.2: the TTL "must be decremented by 1" in the fragments a router makes as well.
    assert all(f[IP].ttl == sent[IP].ttl - 1 for f in frags), \
        f"fragments forwarded with TTLs {[f[IP].ttl for f in frags]}, sent with {sent[IP].ttl}"
    data = bytearray()
    for f in sorted(frags, key=lambda f: f[IP].frag):
        ip = bytes(f[IP])
        data[f[IP].frag * 8 :] = ip[f[IP].ihl * 4 : f[IP].len]
    assert bytes(data) == l3_bytes(sent)[20:], "the fragments do not reassemble to the datagram"


@described(791, "3.1", MUST,
           "When an internet module routes a datagram it checks to see if the record route option is "
           "present. If it is, it inserts its own internet address as known in the environment into which "
           "this datagram is being forwarded into the recorded route begining at the octet indicated by the "
           "pointer, and increments the pointer by four.")
def test_forwarded_record_route_gets_the_outgoing_address(dut: DUT) -> None:
    _enable(dut)
    rr = bytes([RR, 11, 4]) + bytes(8) + b"\x00"
    frame = _udp(dut)
    frame[IP].options = [rr]  # raw option bytes; Scapy pads and sets IHL
    dut.send(frame)
    _answer_gateway_arp(dut)
    out = bytes(_forwarded(dut)[IP])
    options = out[20 : (out[0] & 0x0F) * 4]
    at = options.find(bytes([RR, 11]))
    assert at >= 0, "the forwarded datagram lost its Record Route option"
    assert options[at + 2] == 8, f"pointer {options[at + 2]}, expected 4 + 4"
    assert options[at + 3 : at + 7] == dut.info.dut_ipv4.ip.packed, "the DUT's address was not recorded"


@rfc("RFC1812-5.3.13.1-1", quote="Unrecognized IP options in forwarded")
def test_unknown_option_is_forwarded_unchanged(dut: DUT) -> None:
    _enable(dut)
    unknown = bytes([30, 6, 0xAB, 0xCD, 0xEF, 0x01])  # type 30: not copied, class 0, number 30
    frame = _udp(dut)
    frame[IP].options = [unknown]
    dut.send(frame)
    _answer_gateway_arp(dut)
    out = bytes(_forwarded(dut)[IP])
    assert unknown in out[20 : (out[0] & 0x0F) * 4], "the unrecognized option was changed or removed"


@pytest.mark.parametrize("size", [0, 1], ids=["exactly-the-mtu", "one-octet-over"])
@pytest.mark.parametrize("mtu", [1001, 68], ids=["odd", "minimum"])
@rfc("RFC1191-4-1", "RFC1191-4-2")
def test_next_hop_mtu_is_the_limit_exactly(dut: DUT, mtu: int, size: int) -> None:
    # An odd MTU, so that the next-hop MTU field must carry it to the last bit; and 68, RFC 791
    # 3.2's minimum: "Every internet module must be able to forward a datagram of 68 octets
    # without further fragmentation."
    _enable(dut, mtu=mtu)
    sent = _udp(dut, size=mtu - 28 + size, flags="DF", id=0xD0F + size)
    dut.send(sent)
    if size == 0:  # it fits: forwarded whole, DF and all
        _answer_gateway_arp(dut)
        out = _forwarded(dut, id=0xD0F)
        assert (out[IP].len, out[IP].flags.DF, out[IP].frag) == (mtu, True, 0), \
            f"forwarded as length {out[IP].len}, flags {out[IP].flags}, offset {out[IP].frag}"
        return
    error = dut.expect(ICMP(type=3))
    assert error[ICMP].code == 4, f"Destination Unreachable code {error[ICMP].code}, expected 4"
    word = bytes(error[ICMP])[4:8]
    assert int.from_bytes(word, "big") == mtu, f"next-hop MTU field {word.hex()}, expected {mtu}"


@pytest.mark.parametrize("mac", ["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"], ids=["broadcast", "multicast"])
@rfc("RFC1812-5.3.4-1", "RFC1812-5.3.4-2")
def test_datagram_received_as_a_link_layer_broadcast_is_not_forwarded(dut: DUT, mac: str) -> None:
    _enable(dut)
    stray = _udp(dut, id=0xB0C)
    stray.dst = mac  # a unicast IP destination in a link-layer broadcast or multicast frame
    dut.send(stray)
    # Control, after it: the same datagram in a frame to the DUT's own address is forwarded. A
    # forwarded copy of the first would have left before it (both wait on the gateway's ARP).
    dut.send(_udp(dut, id=0xC0C))
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC0C)
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(dst=REMOTE, id=0xB0C), within=0)


# Invalid destinations by RFC 1812 5.3.7 and the illegal destinations of 4.2.3.1; each would
# reach the default route if the router forwarded it.
MARTIAN_DESTINATIONS: Final = {
    "network-0": "0.1.2.3",
    "loopback": "127.0.0.1",
    "multicast": "224.0.1.1",  # in a frame to the DUT's own MAC
    "class-e": "240.0.0.1",
}


@pytest.mark.parametrize("dst", list(MARTIAN_DESTINATIONS))
@rfc("RFC1812-5.3.7-5", "RFC1812-5.3.7-6")
def test_datagram_to_a_martian_destination_is_not_forwarded(dut: DUT, dst: str) -> None:
    dut.set_forwarding(4, True)
    dut.add_route("0.0.0.0/0", via=str(dut.info.other_ipv4))
    martian = MARTIAN_DESTINATIONS[dst]
    dut.send(_udp(dut, dst=martian, id=0xA11))
    dut.send(_udp(dut, id=0xC11))  # control: an ordinary destination takes the default route
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC11)
    # Any copy of it, to the gateway or (a multicast) to the group's own link-layer address.
    dut.expect_none(IP(dst=martian, id=0xA11), within=0)


@rfc("RFC1812-5.3.7-1", quote="a source address on network 0")
def test_datagram_from_network_0_is_not_forwarded(dut: DUT) -> None:
    _enable(dut)
    dut.send(_udp(dut, src="0.1.2.3", id=0xA12))
    dut.send(_udp(dut, id=0xC12))  # control: from the tester's own address
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC12)
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(id=0xA12), within=0)


@rfc("RFC1812-4.3.3.5-1", "RFC1812-4.3.3.5-2")
def test_forwarded_datagram_with_a_malformed_option_draws_parameter_problem(dut: DUT) -> None:
    _enable(dut)
    # Option type 158 (copied, class 0, number 30) with length 1: every option but EOL and NOP has
    # a length octet counting "the option-type and option-length octet" (RFC 791 3.1), so at
    # least 2. The pointer must name octet 21 (the length octet; Linux) or 20 (the option).
    bad = with_ipv4_options(_udp(dut, id=0xA13), b"\x9e\x01\x00\x00")
    dut.send(bad)
    error = dut.expect(ICMP(type=12))
    assert error[ICMP].code == 0, f"Parameter Problem code {error[ICMP].code}, expected 0"
    assert error[ICMP].ptr in (20, 21), f"pointer {error[ICMP].ptr}, expected 20 or 21 (the bad option)"
    assert l3_bytes(bad).startswith(icmp_quote(error)[:32]), "the header with the bad option was not quoted unchanged"
    # Control: the same datagram without the option is forwarded; the bad one never was.
    dut.send(_udp(dut, id=0xC13))
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC13)
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(id=0xA13), within=0)


@rfc("RFC1812-5.2.2-9", "RFC1812-5.2.2-8")
def test_strict_source_route_not_addressed_to_the_router_draws_parameter_problem(dut: DUT) -> None:
    _enable(dut)
    dut.set_accept_source_route(True)
    # A strict route whose next address follows REMOTE, in a datagram to REMOTE: the previous hop
    # should have sent it to one of the DUT's addresses, so the strict route is broken.
    ssrr = bytes([SSRR, 7, 4]) + bytes([203, 0, 113, 6])
    bad = with_ipv4_options(_udp(dut, id=0xA14), ssrr)
    dut.send(bad)
    error = dut.expect(ICMP(type=12))
    assert error[ICMP].code == 0, f"Parameter Problem code {error[ICMP].code}, expected 0"
    assert error[ICMP].ptr == 16, f"pointer {error[ICMP].ptr}, expected 16 (the destination address)"
    assert l3_bytes(bad).startswith(icmp_quote(error)[:28]), "the error quotes another datagram"
    # Control: the same datagram without the option is forwarded; the bad one never was.
    dut.send(_udp(dut, id=0xC14))
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC14)
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(id=0xA14), within=0)


@rfc("RFC7126-4.3.5-2", quote='The default setting for this knob SHOULD be "drop"')
def test_source_routed_datagram_passing_through_is_dropped_by_default(dut: DUT) -> None:
    _enable(dut)  # source routes at the baseline: refused (Linux accept_source_route=0)
    # A loose route whose next address follows REMOTE, in a datagram to REMOTE: the DUT is no
    # listed hop, yet the datagram carries the option the knob is about.
    lsrr = bytes([LSRR, 7, 4]) + bytes([203, 0, 113, 6])
    dut.send(with_ipv4_options(_udp(dut, id=0xA15), lsrr))
    dut.send(_udp(dut, id=0xC15))  # control: the same datagram without the option is forwarded
    _answer_gateway_arp(dut)
    _forwarded(dut, id=0xC15)
    dut.expect_none(Ether(dst=dut.info.other_mac) / IP(id=0xA15), within=0)


@rfc("RFC1812-4.3.3.1-3")
def test_on_link_destination_that_does_not_answer_arp_draws_host_unreachable(dut: DUT) -> None:
    dut.set_forwarding(4, True)
    silent = "198.51.100.77"  # on the DUT's link; nobody answers the DUT's ARP requests for it
    sent = _udp(dut, dst=silent, id=0x177)
    bare = dut.ipv4(dst=silent, proto=17, id=0x277)  # and a datagram of its header alone: 20 octets
    dut.send(sent, bare)
    dut.expect(ARP(op=1, pdst=silent), within=2.0)
    # RFC 1812 4.3.3.1 names no time; Linux gives up after 3 requests a second apart.
    errors = [dut.expect(IP(dst=str(dut.info.tester_ipv4)) / ICMP(type=3), within=10.0) for _ in range(2)]
    for error in errors:
        assert error[ICMP].code == 1, f"Destination Unreachable code {error[ICMP].code}, expected 1 (host)"
    # The datagrams waited for ARP on their way out, their TTL (and so their checksum) perhaps
    # already decremented: the rest of each header and the first 8 data octets are quoted as sent.
    quotes = sorted((icmp_quote(error) for error in errors), key=lambda q: q[4:6])
    assert quotes[0][12:28] == l3_bytes(sent)[12:28], "no error quotes the datagram with data"
    assert quotes[1][4:6] == l3_bytes(bare)[4:6] and quotes[1][12:20] == l3_bytes(bare)[12:20], \
        "no error quotes the datagram of a header alone"


@rfc("RFC1812-5.2.6-2", "RFC1812-5.2.6-1")
def test_forwarded_fragment_is_cut_further_not_reassembled(dut: DUT) -> None:
    _enable(dut, mtu=993)  # odd: 973 octets of room, of which only 968 (121 units) make whole 8-octet units
    # A middle fragment of some datagram: 1,200 octets at offset 808 (101 units: odd, and the
    # second piece's offset even), more to come. It must go on
    # alone (the rest never comes), cut to fit, each piece's offset counted from the original
    # datagram's start and MF on every piece (RFC 791 3.2's procedure: "FO <- OFO + NFB; MF <- OMF").
    data = bytes(i & 0xFF for i in range(1200))
    dut.send(dut.ipv4(dst=REMOTE, proto=17, id=0x5A5, frag=101, flags="MF") / Raw(data))
    _answer_gateway_arp(dut)
    pieces = [_forwarded(dut, id=0x5A5)]
    while sum(len(bytes(p[IP])[p[IP].ihl * 4 : p[IP].len]) for p in pieces) < len(data):
        pieces.append(_forwarded(dut, id=0x5A5))
    assert all(p[IP].len <= 993 for p in pieces), f"piece lengths {[p[IP].len for p in pieces]}"
    # RFC 791 3.2: "If an internet datagram is fragmented, its data portion must be broken on 8
    # octet boundaries": every piece but the one ending the fragment carries a multiple of 8.
    not_last = sorted(pieces, key=lambda p: p[IP].frag)[:-1]
    assert all((p[IP].len - p[IP].ihl * 4) % 8 == 0 for p in not_last), f"piece lengths {[p[IP].len for p in pieces]}"
    assert all(p[IP].flags.MF for p in pieces), f"MF lost on a piece: flags {[str(p[IP].flags) for p in pieces]}"
    got = bytearray(len(data))
    for p in pieces:
        start = p[IP].frag * 8 - 808
        assert 0 <= start < len(data), f"piece at offset {p[IP].frag * 8}, outside the fragment's 808..2008"
        chunk = bytes(p[IP])[p[IP].ihl * 4 : p[IP].len]
        got[start : start + len(chunk)] = chunk
    assert bytes(got) == data, "the pieces do not make up the fragment at its offsets"


@pytest.mark.parametrize("how", ["whole", "fragmented"])
@rfc("RFC1812-5.2.5-1", "RFC1812-5.2.5-2", "RFC1812-5.2.5-3")
def test_reserved_flag_bit_is_passed_on_and_copied_into_each_fragment(dut: DUT, how: str) -> None:
    _enable(dut, mtu=1000)
    # The reserved bit of the Flags field (RFC 791 3.1: "Bit 0: reserved, must be zero"), which a
    # router must neither drop a datagram for nor clear.
    size = 1200 if how == "fragmented" else 64
    dut.send(_udp(dut, size=size, id=0x5B5, flags="evil"))
    _answer_gateway_arp(dut)
    pieces = [_forwarded(dut, id=0x5B5)]
    while sum(len(bytes(p[IP])[p[IP].ihl * 4 : p[IP].len]) for p in pieces) < 8 + size:
        pieces.append(_forwarded(dut, id=0x5B5))
    assert (how == "fragmented") == (len(pieces) > 1), f"forwarded in {len(pieces)} pieces"
    assert all(p[IP].flags.evil for p in pieces), f"reserved bit lost: flags {[str(p[IP].flags) for p in pieces]}"

"""Fragmentation by the DUT (RFC 791 §2.3, §3.2) and the IP Identification of what it sends
(RFC 791 §3.2, RFC 6864): a UDP datagram larger than the link MTU leaves in fragments that fit,
split on 8-octet boundaries, that reassemble to the datagram, share one ID, and whose ID is
not reused for the next datagram to the same destination.
"""

from __future__ import annotations

import struct
from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, described, fragments4, rfc, with_ipv4_options
from harness.features import require_feature

SPORT: Final = 4792
DPORT: Final = 9
RR: Final = 7


def _payload(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) & 0xFF for i in range(n))


def _collect(dut: DUT, *, within: float = 2.0) -> list[Packet]:
    """The fragments of the next IPv4 datagram the DUT sends to the tester, until they cover it."""
    src, dst = str(dut.info.dut_ipv4.ip), str(dut.info.tester_ipv4)
    first = dut.expect(IP(src=src, dst=dst), within=within)
    frags = [first]
    ident, proto = first[IP].id, first[IP].proto
    while not _complete(frags):
        frags.append(dut.expect(IP(src=src, dst=dst, id=ident, proto=proto), within=within))
    return sorted(frags, key=lambda f: f[IP].frag)


def _piece(frag: Packet) -> tuple[int, bytes, bool]:
    ip = frag[IP]
    raw = bytes(ip)
    return ip.frag * 8, raw[ip.ihl * 4 : ip.len], bool(ip.flags.MF)


def _complete(frags: list[Packet]) -> bool:
    pieces = sorted(_piece(f) for f in frags)
    end = 0
    for off, data, _more in pieces:
        if off > end:
            return False
        end = max(end, off + len(data))
    return any(not more and off + len(data) == end for off, data, more in pieces)


def _reassemble(frags: list[Packet]) -> bytes:
    out = bytearray()
    for off, data, _more in sorted(_piece(f) for f in frags):
        out[off : off + len(data)] = data
    return bytes(out)


def _send_udp(dut: DUT, size: int, seed: int = 0) -> bytes:
    data = _payload(size, seed)
    dut.udp_send(SPORT, data, str(dut.info.tester_ipv4), DPORT)
    return data


@pytest.mark.parametrize("mtu", [1500, 1280])
@rfc("RFC791-2.3-5", "RFC1122-3.3.3-5")
def test_fragments_fit_the_link_mtu(dut: DUT, mtu: int) -> None:
    if mtu != dut.info.mtu:
        dut.set_link_mtu(mtu)
    dut.udp_bind(SPORT)
    _send_udp(dut, 3000)
    frags = _collect(dut)
    assert len(frags) >= 3
    assert all(f[IP].len <= mtu for f in frags), f"fragment lengths {[f[IP].len for f in frags]} exceed {mtu}"


@rfc("RFC791-2.3-5", "RFC1122-3.3.3-5")
def test_echo_reply_is_fragmented_once_the_link_mtu_is_lowered(dut: DUT) -> None:
    # The same request twice: its reply fits the link's MTU at first; with the MTU lowered to 1280
    # the same reply must leave in fragments that fit it (what the DUT learnt about the path
    # before does not outlive the change). The second request comes in fragments itself, since
    # the link is narrower now for the tester too.
    data = _payload(1400, seed=7)
    dut.send(dut.ipv4() / ICMP(type=8, id=0x791, seq=1) / Raw(data))
    whole = dut.expect(ICMP(type=0, id=0x791, seq=1))
    assert not whole[IP].flags.MF and whole[IP].frag == 0, "the first reply, 1428 octets, was fragmented"
    dut.set_link_mtu(1280)
    dut.send(*fragments4(dut.ipv4(id=0x792) / ICMP(type=8, id=0x791, seq=2) / Raw(data), [(0, 1200), (1200, 208)]))
    frags = _collect(dut)
    assert len(frags) >= 2 and all(f[IP].len <= 1280 for f in frags), (
        f"the reply after the MTU went down to 1280 left in datagrams of {[f[IP].len for f in frags]} octets")
    assert _reassemble(frags)[8:] == data, "the fragments do not carry the echo reply's data"


@rfc("RFC791-2.3-8", "RFC791-3.2-8")
def test_fragments_are_cut_on_eight_octet_boundaries(dut: DUT) -> None:
    dut.udp_bind(SPORT)
    _send_udp(dut, 4000)
    pieces = [_piece(f) for f in _collect(dut)]
    for off, data, more in pieces:
        assert off % 8 == 0
        if more:
            assert len(data) % 8 == 0, f"a non-final fragment at {off} carries {len(data)} octets"


@described(791, "2.3", MUST,
           "The fragment offset field of the second new internet datagram is set to the value of that field "
           "in the long datagram plus NFB.")
def test_fragments_reassemble_to_the_datagram(dut: DUT) -> None:
    dut.udp_bind(SPORT)
    data = _send_udp(dut, 3500, seed=5)
    frags = _collect(dut)
    assert [f[IP].flags.MF for f in frags] == [True] * (len(frags) - 1) + [False]
    whole = _reassemble(frags)
    sport, dport, length = struct.unpack_from("!HHH", whole)
    assert (sport, dport, length) == (SPORT, DPORT, 8 + len(data))
    assert whole[8:] == data, "the fragments do not carry the datagram's data"
    header = bytes(frags[0][IP])[:20]
    assert checksum(header) == 0, "the first fragment's header checksum does not verify"


@described(791, "3.1", MUST, "Not copied on fragmentation, goes in first fragment only.")
def test_record_route_goes_in_the_first_fragment_only(dut: DUT) -> None:
    require_feature(dut, "ipv4-record-route")  # OPTIONAL for a host: RFC 1122 3.2.1.8 (d)
    # A 3000-octet echo request carrying Record Route: its reply needs fragmenting, and the
    # reply's Record Route (RFC 1122 3.2.2.6) may appear in the first fragment only.
    request = dut.ipv4(id=0x4D01) / ICMP(type=8, id=0xD01, seq=1) / Raw(_payload(3000))
    rr = bytes([RR, 11, 4]) + bytes(8) + b"\x00"  # two slots, padded with End of Option List
    with_rr = with_ipv4_options(request, rr)
    dut.send(*fragments4(with_rr, size=1400))
    frags = _collect(dut)
    assert frags[0][IP].proto == 1 and frags[0][ICMP].type == 0
    assert _option(frags[0], RR), "the first fragment of the reply lacks the Record Route option"
    later = [f[IP].frag * 8 for f in frags[1:] if _option(f, RR)]
    assert not later, f"Record Route repeated in the fragments at offsets {later}"


def _option(frag: Packet, kind: int) -> bool:
    raw = bytes(frag[IP])
    opts, i = raw[20 : (raw[0] & 0x0F) * 4], 0
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        if opts[i] == kind:
            return True
        i += max(2, opts[i + 1] if i + 1 < len(opts) else 2)
    return False


@described(791, "2.3", MUST,
           "To fragment a long internet datagram, an internet protocol module (for example, in a gateway), "
           "creates two new internet datagrams and copies the contents of the internet header fields from "
           "the long datagram into both new internet headers.")
def test_fragments_of_one_datagram_share_its_header_fields(dut: DUT) -> None:
    dut.udp_bind(SPORT)
    _send_udp(dut, 3000)
    frags = _collect(dut)
    assert len({(f[IP].id, f[IP].proto, f[IP].src, f[IP].dst, f[IP].tos) for f in frags}) == 1


@rfc("RFC791-2.3-7", "RFC791-3.2-15")
def test_ids_of_fragmented_datagrams_to_one_destination_do_not_repeat(dut: DUT) -> None:
    # Non-atomic datagrams (RFC 6864 4.1): each of these is fragmented, so its ID matters.
    dut.udp_bind(SPORT)
    ids = []
    for n in range(20):
        _send_udp(dut, 2000, seed=n)
        ids.append(_collect(dut)[0][IP].id)
    assert len(set(ids)) == len(ids), f"IDs repeat within 20 datagrams: {ids}"


@described(791, "2.3", MUST,
           "The identification field is used to distinguish the fragments of one datagram from those of "
           "another.")
def test_reassembled_data_is_not_mixed_between_consecutive_datagrams(dut: DUT) -> None:
    dut.udp_bind(SPORT)
    first, second = _send_udp(dut, 2500, seed=1), _send_udp(dut, 2500, seed=2)
    a, b = _collect(dut), _collect(dut)
    assert a[0][IP].id != b[0][IP].id
    assert {_reassemble(a)[8:], _reassemble(b)[8:]} == {first, second}


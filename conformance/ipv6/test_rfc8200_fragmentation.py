"""RFC 8200 §4.5 (and RFC 8504 §5.1): how the DUT fragments what it sends.

The DUT sends UDP datagrams from a socket to the tester (nothing listens there; the tester
only watches). A 3000-octet datagram does not fit the 1500-octet link and must go out in
fragments; a 1000-octet one fits and must go out whole.
"""

from __future__ import annotations

from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, IPv6ExtHdrFragment
from scapy.packet import Packet

from harness import DUT, MUST, described, fragments6, l3_bytes, rfc

PORT, DPORT = 40600, 40601
BIG, SMALL = 3000, 1000
FRAGMENT_HEADER = 44


def _send(dut: DUT, size: int) -> bytes:
    data = bytes((i * 31 + 7) & 0xFF for i in range(size))
    dut.udp_bind(PORT, 6)
    dut.udp_send(PORT, data, str(dut.info.tester_ipv6), DPORT)
    return data


def _frames(dut: DUT) -> list[Packet]:
    """The frames of the next datagram the DUT sends to the tester: one, or all its fragments."""
    src, dst = str(dut.info.dut_ipv6.ip), str(dut.info.tester_ipv6)
    first = dut.expect(IPv6(src=src, dst=dst))
    if not first.haslayer(IPv6ExtHdrFragment):
        return [first]
    frames: list[Packet] = []
    covered, total, frame = 0, None, first
    while True:
        frames.append(frame)
        frag, length = frame[IPv6ExtHdrFragment], len(l3_bytes(frame)) - 48
        covered += length
        if not frag.m:
            total = frag.offset * 8 + length
        if total is not None and covered >= total:
            return frames
        frame = dut.expect(IPv6(src=src, dst=dst), IPv6ExtHdrFragment)


def _reassemble(frames: list[Packet]) -> bytes:
    """The Fragmentable Part rebuilt from the fragments' offsets (IPv6 + Fragment header only)."""
    out = bytearray()
    for frame in sorted(frames, key=lambda f: f[IPv6ExtHdrFragment].offset):
        raw = l3_bytes(frame)
        assert raw[6] == FRAGMENT_HEADER, "extension headers before the Fragment header"
        off = frame[IPv6ExtHdrFragment].offset * 8
        assert off == len(out), f"fragment at offset {off} leaves a hole or overlaps (have {len(out)} octets)"
        out += raw[48:]
    return bytes(out)


@rfc("RFC8200-4.5-4", "RFC8504-5.1-4")
def test_datagram_larger_than_the_mtu_is_sent_in_fragments_that_fit(dut: DUT) -> None:
    _send(dut, BIG)
    frames = _frames(dut)
    assert len(frames) > 1 and all(f.haslayer(IPv6ExtHdrFragment) for f in frames), "not sent in fragments"
    sizes = [len(l3_bytes(f)) for f in frames]
    assert max(sizes) <= dut.info.mtu, f"fragment sizes {sizes} exceed the {dut.info.mtu}-octet MTU"


@described(8200, "4.5", MUST,
           "Each complete fragment, except possibly the last (\"rightmost\") one, is an integer multiple of "
           "8 octets long.")
def test_fragments_except_the_last_are_multiples_of_8_octets(dut: DUT) -> None:
    _send(dut, BIG)
    frames = sorted(_frames(dut), key=lambda f: f[IPv6ExtHdrFragment].offset)
    lengths = [len(l3_bytes(f)) - 48 for f in frames]
    assert all(n % 8 == 0 for n in lengths[:-1]), f"fragment lengths {lengths}"
    assert [f[IPv6ExtHdrFragment].m for f in frames] == [1] * (len(frames) - 1) + [0], "M flags wrong"


@described(8200, "4.5", MUST, "Reserved 8-bit reserved field. Initialized to zero for transmission")
def test_reserved_fields_of_the_fragment_headers_sent_are_zero(dut: DUT) -> None:
    # Both reserved fields ("Res 2-bit reserved field. Initialized to zero for transmission"),
    # the octet after the Next Header and the two bits between the Fragment Offset and M.
    _send(dut, BIG)
    for frame in _frames(dut):
        header = l3_bytes(frame)[40:48]
        assert header[1] == 0 and header[3] & 0x06 == 0, f"Fragment header {header.hex()}: a reserved bit is set"


@rfc("RFC8200-4.5-6", "RFC5722-4-1")
def test_fragments_reassemble_to_the_datagram_sent(dut: DUT) -> None:
    # _reassemble places each fragment at its Fragment Offset and fails on a hole or an overlap.
    data = _send(dut, BIG)
    whole = _reassemble(_frames(dut))
    udp = UDP(whole)
    assert (udp.sport, udp.dport, udp.len) == (PORT, DPORT, 8 + BIG)
    assert whole[8:] == data, "the reassembled payload differs from what the socket sent"


@described(8200, "4.5", MUST, "The Identification value generated for the original packet.")
def test_all_fragments_of_a_datagram_carry_its_identification(dut: DUT) -> None:
    _send(dut, BIG)
    # Collected by offsets alone, so fragments carrying other Identifications would show here.
    src, dst = str(dut.info.dut_ipv6.ip), str(dut.info.tester_ipv6)
    idents = {dut.expect(IPv6(src=src, dst=dst), IPv6ExtHdrFragment)[IPv6ExtHdrFragment].id for _ in range(3)}
    assert len(idents) == 1, f"one datagram's fragments carry Identifications {sorted(idents)}"


@rfc("RFC8504-5.1-7")
def test_datagram_that_fits_is_sent_without_a_fragment_header(dut: DUT) -> None:
    data = _send(dut, SMALL)
    frame, = _frames(dut)
    assert not frame.haslayer(IPv6ExtHdrFragment), "an atomic fragment"
    assert bytes(frame[UDP].payload) == data


@rfc("RFC4443-4.2-6")
def test_echo_larger_than_the_mtu_is_returned_whole_in_fragments(dut: DUT) -> None:
    # 3000 octets of data: the request arrives in fragments, and the reply can only leave in them.
    data = bytes((i * 7 + 1) & 0xFF for i in range(BIG))
    dut.send(*fragments6(dut.ipv6() / ICMPv6EchoRequest(id=0x4420, seq=1, data=data), size=1232, ident=0x4420))
    frames = _frames(dut)
    assert len(frames) > 1 and max(len(l3_bytes(f)) for f in frames) <= dut.info.mtu
    reply = ICMPv6EchoReply(_reassemble(frames))
    assert (reply.type, reply.id, reply.seq) == (129, 0x4420, 1)
    assert bytes(reply.data) == data, "the reply's data differs from the request's"


@rfc("RFC8200-4.5-5", "RFC7112-5-1")
def test_first_fragment_holds_the_whole_header_chain(dut: DUT) -> None:
    # Of a UDP datagram and of an echo reply: the fragment at offset 0 starts with the whole
    # upper-layer header (UDP 8 octets; ICMPv6 Echo Reply type, code, checksum, identifier, sequence).
    _send(dut, BIG)
    first = next(f for f in _frames(dut) if f[IPv6ExtHdrFragment].offset == 0)
    raw = l3_bytes(first)
    assert raw[40] == 17 and len(raw) >= 48 + 8, "the first fragment does not carry the UDP header"
    udp = UDP(raw[48:56])
    assert (udp.sport, udp.dport, udp.len) == (PORT, DPORT, 8 + BIG), f"UDP header of the first fragment: {udp!r}"
    data = bytes(range(256)) * 12
    dut.send(*fragments6(dut.ipv6() / ICMPv6EchoRequest(id=0x4421, seq=1, data=data), size=1232, ident=0x4421))
    first = next(f for f in _frames(dut) if f[IPv6ExtHdrFragment].offset == 0)
    raw = l3_bytes(first)
    assert raw[40] == 58 and len(raw) >= 48 + 8, "the first fragment of the echo reply does not carry its ICMPv6 header"
    assert raw[48] == 129 and raw[52:56] == bytes([0x44, 0x21, 0, 1]), "the first fragment holds no Echo Reply header"


@rfc("RFC8200-8.3-1")
def test_udp_payload_that_fits_the_ipv6_packet_is_not_fragmented(dut: DUT) -> None:
    # 1500-octet link: 1452 octets of data + 8 of UDP + 40 of IPv6 (not 20, as for IPv4) fit
    # exactly; one octet more does not.
    mtu_payload = dut.info.mtu - 40 - 8
    _send(dut, mtu_payload)
    frame, = _frames(dut)
    assert not frame.haslayer(IPv6ExtHdrFragment) and len(l3_bytes(frame)) == dut.info.mtu
    dut.udp_send(PORT, bytes(mtu_payload + 1), str(dut.info.tester_ipv6), DPORT)
    frames = _frames(dut)
    assert len(frames) == 2 and max(len(l3_bytes(f)) for f in frames) <= dut.info.mtu, (
        f"a {mtu_payload + 1}-octet datagram went out as {[len(l3_bytes(f)) for f in frames]} octets")

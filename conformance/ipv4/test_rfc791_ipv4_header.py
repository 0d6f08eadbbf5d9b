"""RFC 791 §3.1 (Internet Header Format): IHL, Total Length and the header checksum.

Malformed headers are built byte by byte with a header checksum that is valid over the
header as the receiver would delimit it, so the one defect under test is the only reason to
discard the datagram.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.utils import checksum

from harness import DUT, MUST, described, echo4, echo_data4, rfc, with_ipv4_options

ETHER_LEN = 14
DATA = b"stackcheck rfc791 " * 3  # the frame exceeds the 60-octet Ethernet minimum
SILENCE_S = 1.0


def _rewrite_header(frame: bytes, *, ihl: int | None = None, total_length: int | None = None) -> bytes:
    """Patch IHL / Total Length of the IPv4 header in ``frame`` and recompute its checksum
    over min(IHL*4, octets present) octets."""
    out = bytearray(frame)
    ip = ETHER_LEN
    if ihl is not None:
        out[ip] = 0x40 | ihl
    if total_length is not None:
        struct.pack_into("!H", out, ip + 2, total_length)
    struct.pack_into("!H", out, ip + 10, 0)
    span = max(20, (out[ip] & 0x0F) * 4)
    struct.pack_into("!H", out, ip + 10, checksum(bytes(out[ip : ip + span])))
    return bytes(out)


def _expect_echo_answered(dut: DUT, ident: int) -> None:
    """Positive control: the well-formed variant of the datagram is answered."""
    dut.send(echo4(dut, ident, DATA))
    dut.expect(ICMP(type=0, id=ident))


@pytest.mark.parametrize("ihl", [0, 4], ids=["ihl0", "ihl4"])
@described(791, "3.1", MUST, "Note that the minimum value for a correct header is 5.")
def test_header_length_below_five_words_is_discarded(dut: DUT, ihl: int) -> None:
    dut.send(_rewrite_header(bytes(echo4(dut, 0x700 + ihl, DATA)), ihl=ihl))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x710 + ihl)


@described(791, "3.1", MUST, "Note that the minimum value for a correct header is 5.")
def test_frame_shorter_than_a_header_is_discarded(dut: DUT) -> None:
    # The first 19 octets of a valid header, alone in the frame (no Ethernet padding): not even the
    # 20 octets of a header of the minimum length arrived.
    dut.send(bytes(echo4(dut, 0x7A1, DATA))[: ETHER_LEN + 19])
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x7A2)


@described(791, "3.1", MUST,
           "Total Length is the length of the datagram, measured in octets, including internet header and "
           "data.")
def test_header_length_beyond_total_length_is_discarded(dut: DUT) -> None:
    sent = bytes(echo4(dut, 0x721, b"12345678"))  # Total Length 36
    # IHL 10 (40 octets) claims a header longer than the whole datagram. Trailing link-layer
    # octets make all 40 present, and the checksum covers them, so only the length is wrong.
    frame = _rewrite_header(sent + bytes(16), ihl=10)
    dut.send(frame)
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x722)


@described(791, "3.1", MUST,
           "Total Length is the length of the datagram, measured in octets, including internet header and "
           "data.")
def test_total_length_beyond_received_octets_is_discarded(dut: DUT) -> None:
    sent = bytes(echo4(dut, 0x731, DATA))
    # The datagram claims 8 octets more than the frame carries: it arrived truncated.
    dut.send(_rewrite_header(sent, total_length=len(sent) - ETHER_LEN + 8))
    dut.expect_none(ICMP, within=SILENCE_S, barrier=True)
    _expect_echo_answered(dut, 0x732)


@described(791, "3.1", MUST,
           "Total Length is the length of the datagram, measured in octets, including internet header and "
           "data.")
def test_octets_beyond_total_length_are_not_part_of_the_datagram(dut: DUT) -> None:
    # A short echo padded to the 60-octet Ethernet minimum with non-zero octets: the padding
    # is neither covered by the ICMP checksum nor echoed back.
    sent = bytes(echo4(dut, 0x741, b"pad"))
    dut.send(sent + b"\xa5" * (60 - len(sent)))
    reply = dut.expect(ICMP(type=0, id=0x741))
    assert echo_data4(reply) == b"pad"


@described(791, "3.1", MUST,
           "The checksum field is the 16 bit one's complement of the one's complement sum of all 16 bit "
           "words in the header.")
def test_reply_header_checksum_is_valid(dut: DUT) -> None:
    # Several replies to one peer, of several lengths: a stack may build the headers after the
    # first from a cached template, summing the fields that change into a cached partial sum.
    for n, size in enumerate((len(DATA), 1, 300, 2, 1000, 3)):
        dut.send(echo4(dut, 0x751 + n, DATA[:1] * size))
        reply = dut.expect(ICMP(type=0, id=0x751 + n))
        header = bytes(reply[IP])[: reply[IP].ihl * 4]
        assert reply[IP].ihl >= 5
        assert checksum(header) == 0, f"reply {n + 1}: header checksum 0x{reply[IP].chksum:04x} does not verify"
        assert reply[IP].len == reply[IP].ihl * 4 + 8 + size, f"reply {n + 1}: Total Length {reply[IP].len}"


@rfc("RFC791-2.3-7", "RFC791-3.2-15")
def test_ids_of_echo_replies_to_one_destination_do_not_repeat(dut: DUT) -> None:
    # RFC 6864 4.1 leaves the ID of an atomic datagram (DF set, not a fragment) free; a reply
    # sent with DF clear may be fragmented on its way, so its ID must not repeat.
    ids = []
    for n in range(6):
        dut.send(echo4(dut, 0x761 + n, DATA))
        reply = dut.expect(ICMP(type=0, id=0x761 + n))
        if not reply[IP].flags.DF:
            ids.append(reply[IP].id)
    assert len(set(ids)) == len(ids), f"the IDs of replies sent with DF clear repeat: {ids}"


@pytest.mark.parametrize("options", [0, 40], ids=["ihl5", "ihl15"])
@described(791, "3.1", MUST,
           "Total Length is the length of the datagram, measured in octets, including internet header and "
           "data.")
def test_datagram_of_a_header_only_is_received(dut: DUT, options: int) -> None:
    # A datagram of no data (Total Length = IHL * 4) for protocol 253 (RFC 3692 experimentation),
    # which the DUT does not implement: taken in, it draws a Protocol Unreachable (RFC 1122
    # 3.2.2.1). "ihl15": 40 octets of NOP options make a 60-octet datagram that fills the frame
    # exactly (no Ethernet padding after it).
    datagram = dut.ipv4(proto=253, id=0x781 + options)
    if options:
        datagram = with_ipv4_options(datagram, bytes([1]) * options)
    frame = bytes(datagram)
    assert len(frame) == ETHER_LEN + 20 + options
    dut.send(frame)
    error = dut.expect(ICMP(type=3, code=2))
    quoted = bytes(error[ICMP].payload)
    assert quoted[:4] == frame[ETHER_LEN : ETHER_LEN + 4], "the Protocol Unreachable quotes another datagram"


def _ones_sum(octets: bytes) -> int:
    """The ones'-complement sum of 16-bit words, as a residue mod 0xFFFF (0 stands for the sum 0xFFFF)."""
    return int.from_bytes(octets, "big") % 0xFFFF  # 2**16 == 1 mod 0xFFFF


@described(791, "3.1", MUST,
           "The checksum field is the 16 bit one's complement of the one's complement sum of all 16 bit "
           "words in the header.")
def test_header_whose_words_sum_to_ffff_carries_checksum_0000(dut: DUT) -> None:
    # The ones'-complement sum of a header's words (the checksum taken as zero) is 0xFFFF, never
    # 0x0000, when they add up to a multiple of 0xFFFF: its complement, the checksum, is 0x0000
    # (0xFFFF would verify too, but is not that complement). The tester steers a reply's header to
    # that sum: a full Record Route (RFC 791: "forwarded without inserting the address") comes
    # back unchanged, so its four octets of route data are the tester's to choose. The next reply's
    # ID is guessed as one more than this one's; a DUT that numbers otherwise is only checked for
    # a checksum that verifies.
    def full_rr(data: bytes) -> bytes:
        return bytes([7, 7, 8]) + data + bytes([1])

    first = bytes(IPv4Address("203.0.113.7").packed)
    dut.send(with_ipv4_options(echo4(dut, 0x791, DATA), full_rr(first)))
    reply = dut.expect(ICMP(type=0, id=0x791))
    header = bytearray(bytes(reply[IP])[: reply[IP].ihl * 4])
    assert checksum(bytes(header)) == 0, f"header checksum 0x{reply[IP].chksum:04x} does not verify"
    at = bytes(header).find(full_rr(first)[:7], 20)
    # The next header: the same but for the ID (one more) and the route data, chosen so the sum is 0 mod 0xFFFF.
    header[10:12] = bytes(2)
    header[4:6] = ((reply[IP].id + 1) & 0xFFFF).to_bytes(2, "big")
    if at >= 0:
        header[at + 3 : at + 7] = bytes(4)
        word = -_ones_sum(bytes(header)) % 0xFFFF
        start = at + 3 + (at + 3) % 2  # a 16-bit word of the header inside the route data
        header[start : start + 2] = word.to_bytes(2, "big")
        chosen = bytes(header[at + 3 : at + 7])
        assert _ones_sum(bytes(header)) == 0
    else:
        chosen = first  # the DUT returned no Record Route: nothing to steer
    dut.send(with_ipv4_options(echo4(dut, 0x792, DATA), full_rr(chosen)))
    reply = dut.expect(ICMP(type=0, id=0x792))
    sent = bytes(reply[IP])[: reply[IP].ihl * 4]
    assert checksum(sent) == 0, f"header checksum 0x{reply[IP].chksum:04x} does not verify"
    if at >= 0 and sent[:10] + sent[12:] == bytes(header[:10] + header[12:]):
        assert reply[IP].chksum == 0x0000, (
            f"the header's words sum to 0xFFFF: checksum 0x{reply[IP].chksum:04x}, not its complement 0x0000")


@pytest.mark.parametrize("summed", [16, 20], ids=["checksum-over-16", "checksum-over-20"])
@described(791, "3.1", MUST, "Note that the minimum value for a correct header is 5.")
def test_header_length_four_is_discarded_whatever_follows(dut: DUT, summed: int) -> None:
    # IHL 4 claims a 16-octet header. Read from octet 16 on, this one makes a UDP datagram: the
    # destination address (octets 16-19) as source and destination port, then UDP length 12 and
    # no checksum, 4 octets of data, for a port the DUT has bound. The header checksum is valid
    # over the 16 octets IHL claims, or over the 20 of a minimal header.
    address = dut.info.dut_ipv4.ip.packed
    port = int.from_bytes(address[2:4], "big")
    dut.udp_bind(port)
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x44, 0, 28, 0x7B1, 0, 64, 17, 0,
                                   dut.info.tester_ipv4.packed, address))
    udp = struct.pack("!HH", 12, 0) + b"ihl4"
    struct.pack_into("!H", header, 10, checksum(bytes(header[:summed]) if summed == 16 else bytes(header)))
    ether = bytes(echo4(dut, 0x7B1, DATA))[:ETHER_LEN]  # to the DUT's MAC, EtherType IPv4
    dut.send(ether + bytes(header) + udp)
    assert dut.udp_recv(port, within=SILENCE_S) is None, "a datagram with IHL 4 was delivered"
    _expect_echo_answered(dut, 0x7B2)

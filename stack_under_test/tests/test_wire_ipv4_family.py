"""Wire parsers for Ethernet, ARP, IPv4 (+options), ICMPv4 and UDP: valid input parses; malformed
input (truncated at every length, bad lengths, bad checksums) gives a Drop and never raises."""

from __future__ import annotations

import struct

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv4_bench import DUT, TESTER, arp, echo_request, icmp, ipv4, udp
from stack_under_test.wire import ipv4_options
from stack_under_test.wire.arp import ARPPacket
from stack_under_test.wire.ethernet import EthernetHeader, ipv4_multicast_mac, ipv6_multicast_mac, parse_mac
from stack_under_test.wire.icmpv4 import ICMPv4Echo, ICMPv4Error, echo_reply_from_request
from stack_under_test.wire.ipv4 import IPv4Header, encode_header
from stack_under_test.wire.udp import UDPHeader, UDPView, encode_datagram

MAC1, MAC2 = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def test_ethernet_parses_and_truncation_is_a_drop() -> None:
    frame = MAC1 + MAC2 + b"\x08\x00" + b"x"
    hdr = EthernetHeader.parse(frame)
    assert hdr == EthernetHeader(MAC1, MAC2, 0x0800) and hdr.encode() == frame[:14]
    for n in range(14):
        assert EthernetHeader.parse(frame[:n]) is Drop.ETHERNET_TRUNCATED


def test_mac_helpers() -> None:
    assert parse_mac("02:00:00:00:00:01") == MAC1
    assert parse_mac("02-00-00-00-00-01") == MAC1
    for bad in ("", "02:00:00:00:00", "zz:00:00:00:00:01", "002:00:00:00:00:01", "02:00:00:00:00:01:02"):
        assert parse_mac(bad) is None
    assert ipv4_multicast_mac(bytes((239, 129, 2, 3))) == bytes.fromhex("01005e010203")
    assert ipv6_multicast_mac(bytes.fromhex("ff020000000000000000000000000001")) == bytes.fromhex("333300000001")


# ---- ARP --------------------------------------------------------------------------------------
def test_arp_round_trips() -> None:
    raw = arp(1, MAC2, TESTER, bytes(6), DUT)
    pkt = ARPPacket.parse(raw)
    assert pkt == ARPPacket(1, MAC2, TESTER, bytes(6), DUT)
    assert isinstance(pkt, ARPPacket) and pkt.encode() == raw


def test_arp_truncated_at_every_length_is_a_drop() -> None:
    raw = arp(1, MAC2, TESTER, bytes(6), DUT)
    for n in range(len(raw)):
        assert isinstance(ARPPacket.parse(raw[:n]), Drop), n


@pytest.mark.parametrize(
    ("raw", "drop"),
    [
        (struct.pack("!HHBBH", 6, 0x0800, 6, 4, 1) + bytes(20), Drop.ARP_UNSUPPORTED_HARDWARE),
        (struct.pack("!HHBBH", 1, 0x0800, 8, 4, 1) + bytes(20), Drop.ARP_UNSUPPORTED_HARDWARE),
        (struct.pack("!HHBBH", 1, 0x86DD, 6, 4, 1) + bytes(20), Drop.ARP_UNSUPPORTED_PROTOCOL),
        (struct.pack("!HHBBH", 1, 0x0800, 6, 16, 1) + bytes(20), Drop.ARP_UNSUPPORTED_PROTOCOL),
        (struct.pack("!HHBBH", 1, 0x0800, 6, 4, 3) + bytes(20), Drop.ARP_UNKNOWN_OPCODE),
    ],
    ids=["htype", "hlen", "ptype", "plen", "opcode"],
)
def test_arp_unsupported_fields_are_drops(raw: bytes, drop: Drop) -> None:
    assert ARPPacket.parse(raw) is drop


# ---- IPv4 --------------------------------------------------------------------------------------
def test_ipv4_header_parses_every_field() -> None:
    raw = ipv4(b"abcdefgh", proto=17, ident=0x4242, flags_frag=0x4000, ttl=9)
    hdr = IPv4Header.parse(raw)
    assert isinstance(hdr, IPv4Header)
    assert (hdr.src, hdr.dst, hdr.protocol, hdr.ident, hdr.ttl, hdr.flags, hdr.total_length) == (
        TESTER, DUT, 17, 0x4242, 9, 0b010, 28,
    )
    assert (hdr.header_len, hdr.fragment_offset, hdr.more_fragments) == (20, 0, False)
    assert encode_header(hdr.src, hdr.dst, hdr.protocol, 8, hdr.ident, hdr.ttl, hdr.tos, hdr.flags_frag) == raw[:20]
    assert IPv4Header.read(raw) == hdr


def test_ipv4_header_at_an_offset_with_options_and_fragment_fields() -> None:
    options = b"\x94\x04\x00\x00"  # Router Alert
    raw = b"pad" + ipv4(b"x" * 16, flags_frag=0x2000 | 3, options=options)
    hdr = IPv4Header.parse(raw, 3)
    assert isinstance(hdr, IPv4Header)
    assert (hdr.header_len, hdr.flags, hdr.fragment_offset, hdr.more_fragments) == (24, 1, 3, True)
    assert bytes(hdr.options(raw, 3)) == options
    assert IPv4Header.parse(raw, 3, len(raw) - 1) is Drop.IPV4_BAD_TOTAL_LENGTH  # the end cuts the datagram


def test_encoded_headers_carry_a_valid_checksum() -> None:
    for opts in (b"", b"\x01\x01\x01\x00", b"\x07\x07\x04" + bytes(5)):
        header = encode_header(TESTER, DUT, 1, 100, 77, 64, 0, 0, opts)
        assert isinstance(IPv4Header.parse(header + bytes(100)), IPv4Header)


def test_ipv4_truncated_at_every_length_is_a_drop_never_an_exception() -> None:
    raw = ipv4(b"x" * 12, options=b"\x01\x01\x01\x00")
    for n in range(len(raw)):
        assert isinstance(IPv4Header.parse(raw[:n]), Drop), n


@pytest.mark.parametrize(
    ("raw", "drop"),
    [
        (ipv4(b"x" * 8, version_ihl=0x65), Drop.IPV4_BAD_VERSION),
        (ipv4(b"x" * 8, version_ihl=0x44), Drop.IPV4_BAD_IHL),
        (ipv4(b"x" * 8, version_ihl=0x4F), Drop.IPV4_BAD_IHL),
        (ipv4(b"x" * 8, total_length=19), Drop.IPV4_BAD_TOTAL_LENGTH),
        (ipv4(b"x" * 8, total_length=29), Drop.IPV4_BAD_TOTAL_LENGTH),
        (ipv4(b"x" * 8, good_checksum=False), Drop.IPV4_BAD_CHECKSUM),
    ],
    ids=["version-6", "ihl-4", "ihl-past-end", "total-below-header", "total-past-frame", "checksum"],
)
def test_ipv4_malformed_headers_are_named_drops(raw: bytes, drop: Drop) -> None:
    assert IPv4Header.parse(raw) is drop


def test_ipv4_options_walk_yields_options_and_stops_at_eol() -> None:
    opts = b"\x01\x07\x07\x04" + bytes(4) + b"\x00\x99"
    items = list(ipv4_options.walk(opts))
    assert [type(i) for i in items] == [ipv4_options.Option]
    assert items[0] == ipv4_options.Option(7, 21, b"\x04" + bytes(4))


@pytest.mark.parametrize(
    ("opts", "pointer"),
    # Linux __ip_options_compile names the option's type octet for all of these (pp_ptr = optptr).
    [(b"\x07", 20), (b"\x01\x07", 21), (b"\x07\x01\x00\x00", 20), (b"\x07\x00\x00\x00", 20), (b"\x07\x09\x04\x00", 20)],
    ids=["type-at-end", "no-length-after-nop", "length-1", "length-0", "past-header"],
)
def test_ipv4_options_malformed_give_a_param_problem_pointer(opts: bytes, pointer: int) -> None:
    items = list(ipv4_options.walk(opts))
    assert items[-1] == ipv4_options.ParamProblem(pointer)


def test_option_encoders_pad_to_32_bits() -> None:
    raw = ipv4_options.encode_option(ipv4_options.ROUTER_ALERT, b"\0\0")
    assert raw == b"\x94\x04\x00\x00" and ipv4_options.pad_options(b"\x01") == b"\x01\0\0\0"


# ---- ICMPv4 -------------------------------------------------------------------------------------
def test_icmp_echo_round_trips_and_reply_keeps_id_seq_and_data() -> None:
    raw = echo_request(0xBEEF, 9, b"hello")
    echo = ICMPv4Echo.parse(raw)
    assert echo == ICMPv4Echo(8, 0xBEEF, 9, b"hello")
    assert isinstance(echo, ICMPv4Echo) and echo.encode() == raw
    reply = ICMPv4Echo.parse(echo_reply_from_request(raw))
    assert reply == ICMPv4Echo(0, 0xBEEF, 9, b"hello")


def test_icmp_truncated_or_bad_checksum_is_a_drop() -> None:
    raw = echo_request()
    for n in range(8):
        assert ICMPv4Echo.parse(raw[:n]) is Drop.ICMPV4_TRUNCATED
    assert ICMPv4Echo.parse(echo_request(data=b"abc")[:-1]) is Drop.ICMPV4_BAD_CHECKSUM
    assert ICMPv4Echo.parse(icmp(8, good_checksum=False)) is Drop.ICMPV4_BAD_CHECKSUM
    assert ICMPv4Echo.parse(bytes(8)) is Drop.ICMPV4_BAD_CHECKSUM  # all-zero: the sum is 0, not 0xFFFF


def test_icmp_error_round_trips() -> None:
    err = ICMPv4Error(3, 3, b"Q" * 28)
    assert ICMPv4Error.parse(err.encode()) == err
    pp = ICMPv4Error(12, 0, b"Q" * 28, 21 << 24)
    assert ICMPv4Error.parse(pp.encode()) == pp


# ---- UDP ----------------------------------------------------------------------------------------
def test_udp_round_trips_and_verifies() -> None:
    raw = encode_datagram(TESTER, DUT, 1000, 7, b"data")
    assert raw == udp(1000, 7, b"data")
    view = UDPView(raw)
    assert view.check() is None and view.checksum_ok(TESTER, DUT) and bytes(view.data()) == b"data"
    assert not view.checksum_ok(TESTER, bytes((198, 51, 100, 9)))
    assert UDPHeader.parse(raw) == UDPHeader(1000, 7, 12, int.from_bytes(raw[6:8], "big"))


def test_udp_zero_computed_checksum_is_sent_as_all_ones() -> None:
    # Find data whose checksum computes to zero: RFC 768 says transmit 0xFFFF.
    for i in range(70000):
        raw = encode_datagram(TESTER, DUT, 1, 2, struct.pack("!H", i))
        if raw[6:8] == b"\xff\xff":
            assert UDPView(raw).checksum_ok(TESTER, DUT)
            return
    pytest.fail("no datagram with a zero checksum found")


def test_udp_truncated_and_bad_lengths_are_drops() -> None:
    raw = udp(1, 2, b"abcd")
    for n in range(8):
        assert UDPHeader.parse(raw[:n]) is Drop.UDP_TRUNCATED
    assert UDPView(raw[:-1]).check() is Drop.UDP_BAD_LENGTH  # length says 12, 11 present
    bad = raw[:4] + struct.pack("!H", 7) + raw[6:]
    assert UDPView(bad).check() is Drop.UDP_BAD_LENGTH

"""ICMP for IPv4 (RFC 792, RFC 1122 3.2.2): echo replies and the errors a host sends, and does not."""

from __future__ import annotations

import struct

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    DUT_MAC,
    LIMITED_BROADCAST,
    SUBNET_BROADCAST,
    TESTER,
    TESTER_MAC,
    echo_request,
    eth,
    icmp,
    ipv4,
    make_bench,
    parse_out,
    udp,
)
from stack_under_test.wire.checksum import verify
from stack_under_test.wire.icmpv4 import ICMPv4Echo, ICMPv4Error


def test_echo_request_gets_a_reply_with_id_seq_and_data_intact() -> None:
    bench = make_bench()
    data = bytes(range(200))
    assert bench.inject(eth(ipv4(echo_request(0xABCD, 42, data), ident=99))) is None
    frame = bench.one()
    assert frame[:6] == TESTER_MAC and frame[6:12] == DUT_MAC
    out = parse_out(frame)
    assert (out.src, out.dst, out.proto, out.ttl) == (DUT, TESTER, 1, 64)
    assert verify(out.header)
    assert ICMPv4Echo.parse(out.payload) == ICMPv4Echo(0, 0xABCD, 42, data)


def test_successive_replies_carry_different_ip_ids() -> None:
    bench = make_bench()
    idents = set()
    for seq in range(5):
        bench.inject(eth(ipv4(echo_request(seq=seq))))
        idents.add(parse_out(bench.one()).ident)
    assert len(idents) == 5


def test_odd_length_echo_payload_round_trips() -> None:
    bench = make_bench()
    bench.inject(eth(ipv4(echo_request(data=b"odd"))))
    assert ICMPv4Echo.parse(parse_out(bench.one()).payload) == ICMPv4Echo(0, 0x1234, 1, b"odd")


@pytest.mark.parametrize(
    ("dst", "mac"),
    [(LIMITED_BROADCAST, BROADCAST_MAC), (SUBNET_BROADCAST, BROADCAST_MAC), (bytes((224, 0, 0, 1)), bytes.fromhex("01005e000001"))],
    ids=["limited", "directed", "all-hosts"],
)
def test_echo_to_broadcast_or_multicast_is_not_answered(dst: bytes, mac: bytes) -> None:
    bench = make_bench()
    assert bench.inject(eth(ipv4(echo_request(), dst=dst), dst=mac)) is Drop.ICMPV4_BROADCAST_ECHO_IGNORED
    assert bench.sent() == []


def test_bad_icmp_checksum_and_truncation_are_drops() -> None:
    bench = make_bench()
    assert bench.inject(eth(ipv4(icmp(8, good_checksum=False)))) is Drop.ICMPV4_BAD_CHECKSUM
    assert bench.inject(eth(ipv4(b"\x08\x00\x00"))) is Drop.ICMPV4_TRUNCATED
    assert bench.inject(eth(ipv4(icmp(99)))) is Drop.ICMPV4_UNKNOWN_TYPE
    assert bench.inject(eth(ipv4(icmp(15, rest=b"\0" * 4)))) is Drop.ICMPV4_NOT_IMPLEMENTED  # Information Request
    assert bench.sent() == []


def _error(frame: bytes) -> ICMPv4Error:
    out = parse_out(frame)
    assert out.proto == 1 and (out.src, out.dst) == (DUT, TESTER) and verify(out.header)
    err = ICMPv4Error.parse(out.payload)
    assert isinstance(err, ICMPv4Error)
    return err


def test_unknown_protocol_gets_protocol_unreachable_quoting_header_and_data() -> None:
    bench = make_bench()
    datagram = ipv4(b"0123456789abcdef", proto=253)
    assert bench.inject(eth(datagram)) is Drop.IPV4_UNKNOWN_PROTOCOL
    err = _error(bench.one())
    assert (err.type, err.code) == (3, 2)
    assert err.quoted == datagram  # the whole invoking datagram fits: header + all 16 octets


def test_closed_udp_port_gets_port_unreachable() -> None:
    bench = make_bench()
    datagram = ipv4(udp(1234, 9, b"x" * 30), proto=17)
    assert bench.inject(eth(datagram)) is Drop.UDP_NO_LISTENER
    err = _error(bench.one())
    assert (err.type, err.code) == (3, 3) and err.quoted == datagram


def test_error_quote_is_limited_so_the_error_fits_in_576_octets() -> None:
    bench = make_bench()
    datagram = ipv4(udp(1234, 9, b"x" * 1200), proto=17)
    bench.inject(eth(datagram))
    out = parse_out(bench.one())
    assert 20 + len(out.payload) == 576
    err = ICMPv4Error.parse(out.payload)
    assert isinstance(err, ICMPv4Error) and err.quoted == datagram[: 576 - 28]
    assert len(err.quoted) >= 20 + 8  # RFC 1122 3.2.2: header + at least 8 data octets


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (eth(ipv4(icmp(3, 3, body=bytes(28)), options=b"\x07\x01\0\0")), "about an ICMP error"),
        (eth(ipv4(b"x" * 8, proto=253, dst=LIMITED_BROADCAST), dst=BROADCAST_MAC), "to IP broadcast"),
        (eth(ipv4(b"x" * 8, proto=253, dst=SUBNET_BROADCAST), dst=BROADCAST_MAC), "to directed broadcast"),
        (eth(ipv4(b"x" * 8, proto=253, dst=bytes((224, 0, 0, 1))), dst=bytes.fromhex("01005e000001")), "to multicast"),
        (eth(ipv4(b"x" * 8, proto=253, src=bytes(4))), "from 0.0.0.0"),
        (eth(ipv4(b"x" * 8, proto=253, src=bytes((240, 0, 0, 1)))), "from class E"),
        (eth(ipv4(udp(1, 9, b"x", dst=LIMITED_BROADCAST), proto=17, dst=LIMITED_BROADCAST), dst=BROADCAST_MAC), "udp to broadcast"),
    ],
    ids=["icmp-error", "limited-broadcast", "directed-broadcast", "multicast", "zero-source", "class-e-source", "udp-broadcast"],
)
def test_no_icmp_error_is_sent_about(frame: bytes, why: str) -> None:
    bench = make_bench()
    bench.stack.add_route("0.0.0.0/0", "eth0", gateway="198.51.100.2")  # a route back exists
    assert isinstance(bench.inject(frame), Drop)
    assert bench.sent() == [], why


def test_no_icmp_error_is_sent_about_a_non_initial_fragment() -> None:
    from stack_under_test.buffer import PacketBuffer
    from stack_under_test.network.ipv4 import icmp as icmp_module

    bench = make_bench()
    nic = bench.stack.nic("eth0")
    fragment = eth(ipv4(b"x" * 8, proto=253, flags_frag=0x0002))
    pkt = PacketBuffer(fragment, 14, nic)
    assert not icmp_module.send_error(nic.ip[4], pkt, 3, 2)  # type: ignore[arg-type]
    first = PacketBuffer(eth(ipv4(b"x" * 8, proto=253, flags_frag=0x2000)), 14, nic)
    assert icmp_module.send_error(nic.ip[4], first, 3, 2)  # type: ignore[arg-type]


def test_received_errors_reach_the_udp_socket_that_sent_the_datagram() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 5555)
    sent = ipv4(udp(5555, 9, b"x", src=DUT, dst=TESTER), proto=17, src=DUT, dst=TESTER)
    assert bench.inject(eth(ipv4(icmp(3, 3, body=sent)))) is None
    assert [(e.type, e.code, e.dst, e.dport) for e in sock.errors] == [(3, 3, "198.51.100.2", 9)]
    assert struct.unpack("!H", sent[20:22]) == (5555,)


def test_timestamp_request_is_answered_with_the_time_of_day() -> None:
    bench = make_bench()
    bench.clock.advance(1234)
    request = icmp(13, rest=b"\x0a\x0b\x00\x01", body=(77).to_bytes(4, "big") + bytes(8))
    assert bench.inject(eth(ipv4(request))) is None
    reply = parse_out(bench.one()).payload
    # RFC 792: identifier, sequence and Originate returned; Receive and Transmit the time of day.
    assert reply[0] == 14 and reply[4:12] == b"\x0a\x0b\x00\x01" + (77).to_bytes(4, "big")
    assert int.from_bytes(reply[12:16], "big") == int.from_bytes(reply[16:20], "big") == 1234

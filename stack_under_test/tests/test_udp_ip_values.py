"""UDP sockets and the IP layer (RFC 1122 3.2.1.6-3.2.1.8, 4.1.3.2-4.1.3.5, 4.1.4): received
header values reach the application, the application's TTL, TOS, options and source reach the
wire, and ICMP errors reach the socket that sent the datagram."""

from __future__ import annotations

import pytest

from stack_under_test import StackError
from stack_under_test.tests._ipv4_bench import DUT, TESTER, eth, icmp, ipv4, make_bench, parse_out, udp
from stack_under_test.wire.checksum import checksum

SECOND = bytes((198, 51, 100, 5))


def test_recvmsg_reports_destination_tos_ttl_and_options() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    frame = bytearray(eth(ipv4(udp(4000, 7, b"meta"), proto=17, ttl=9, options=b"\x01\x01\x01\x00")))
    frame[15] = 0xB9  # TOS
    frame[24:26] = b"\x00\x00"
    frame[24:26] = checksum(bytes(frame[14:38])).to_bytes(2, "big")
    assert bench.inject(bytes(frame)) is None
    got = sock.recvmsg()
    assert got is not None
    assert (got.data, got.dst, got.tos, got.ttl, got.options) == (b"meta", "198.51.100.1", 0xB9, 9, b"\x01\x01\x01\x00")


def test_sendto_takes_ttl_tos_and_options_and_records_route() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"x", "198.51.100.2", 4000, ttl=5, tos=0x10, options=bytes((7, 11, 4)) + bytes(8))
    out = parse_out(bench.one())
    assert (out.ttl, out.header[1]) == (5, 0x10)
    # RFC 791 Record Route: the originating host records itself; the option is padded to 12 octets.
    assert out.header[20:32] == bytes((7, 11, 8)) + DUT + bytes(4) + b"\x00"


def test_sendto_from_a_chosen_source_and_refusals() -> None:
    bench = make_bench()
    bench.stack.add_address("eth0", "198.51.100.5/24")
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"x", "198.51.100.2", 4000, src="198.51.100.5")
    assert parse_out(bench.one()).src == SECOND
    with pytest.raises(StackError, match="not an IPv4"):
        sock.sendto(b"x", "198.51.100.2", 4000, src="2001:db8::1")
    with pytest.raises(StackError, match="not an address of this host"):
        sock.sendto(b"x", "198.51.100.2", 4000, src="198.51.100.77")  # not ours (RFC 6724 4, RFC 1122 3.3.4.2)
    with pytest.raises(StackError, match="TTL"):
        sock.sendto(b"x", "198.51.100.2", 4000, ttl=0)
    with pytest.raises(StackError, match="could not be sent"):
        sock.sendto(b"x", "198.51.100.2", 4000, options=bytes((131, 7, 8)) + TESTER)  # a route already used up


def test_errors_reach_the_socket_with_type_code_info_and_destination() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 5555)
    sent = ipv4(udp(5555, 9, b"x", src=DUT, dst=TESTER), proto=17, src=DUT, dst=TESTER)
    assert bench.inject(eth(ipv4(icmp(3, 4, b"\x00\x00\x04\xb0", body=sent)))) is None
    assert bench.inject(eth(ipv4(icmp(12, 0, b"\x08\x00\x00\x00", body=sent)))) is None
    assert [(e.type, e.code, e.info, e.dst, e.dport) for e in sock.errors] == [
        (3, 4, 1200, "198.51.100.2", 9), (12, 0, 8, "198.51.100.2", 9)]

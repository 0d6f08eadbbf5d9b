"""UDP (RFC 768, RFC 1122 4.1.3): bind, receive, send, checksum and length checks, bounded queues."""

from __future__ import annotations

import struct

import pytest

from stack_under_test import StackError
from stack_under_test.drops import Drop
from stack_under_test.tests._ipv4_bench import DUT, TESTER, TESTER_MAC, eth, ipv4, make_bench, parse_out, udp
from stack_under_test.wire.udp import UDPView


def test_bound_socket_receives_data_and_source() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    assert sock.recv() is None
    assert bench.inject(eth(ipv4(udp(4000, 7, b"hello"), proto=17))) is None
    assert sock.recv() == (b"hello", "198.51.100.2", 4000)
    assert sock.recv() is None


def test_sendto_builds_a_valid_datagram() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"answer", "198.51.100.2", 4000)
    frame = bench.one()
    assert frame[:6] == TESTER_MAC
    out = parse_out(frame)
    assert (out.src, out.dst, out.proto, out.ttl) == (DUT, TESTER, 17, 64)
    view = UDPView(out.payload)
    assert view.check() is None and view.checksum_ok(DUT, TESTER)
    assert (view.src_port, view.dst_port, bytes(view.data())) == (7, 4000, b"answer")


def test_zero_checksum_means_none_over_ipv4() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    assert bench.inject(eth(ipv4(udp(1, 7, b"nocsum", csum=0), proto=17))) is None
    assert sock.recv() == (b"nocsum", "198.51.100.2", 1)


def test_bad_checksum_is_dropped_silently() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    assert bench.inject(eth(ipv4(udp(1, 7, b"x", csum=0x1234), proto=17))) is Drop.UDP_BAD_CHECKSUM
    assert sock.recv() is None and bench.sent() == []


def test_length_field_beyond_payload_is_dropped_and_shorter_trims() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    good = udp(1, 7, b"abcd")
    too_long = good[:4] + struct.pack("!H", 40) + good[6:]
    assert bench.inject(eth(ipv4(too_long, proto=17))) is Drop.UDP_BAD_LENGTH
    assert bench.inject(eth(ipv4(good[:7], proto=17))) is Drop.UDP_TRUNCATED
    # Octets after the UDP length are not part of the datagram (RFC 768 Length).
    assert bench.inject(eth(ipv4(good + b"junk", proto=17))) is None
    assert sock.recv() == (b"abcd", "198.51.100.2", 1)


def test_receive_queue_is_bounded() -> None:
    bench = make_bench()
    bench.stack.udp_bind("0.0.0.0", 7)
    limit = bench.stack.options.udp_receive_queue_len
    verdicts = [bench.inject(eth(ipv4(udp(1, 7, b"%d" % i), proto=17))) for i in range(limit + 3)]
    assert verdicts.count(None) == limit
    assert bench.stack.stats.drops[Drop.UDP_RECEIVE_QUEUE_FULL] == 3


def test_bind_errors_are_stack_errors() -> None:
    bench = make_bench()
    bench.stack.udp_bind("0.0.0.0", 7)
    with pytest.raises(StackError, match="port 7 already bound"):
        bench.stack.udp_bind("0.0.0.0", 7)
    with pytest.raises(StackError):
        bench.stack.udp_bind("not-an-ip", 8)
    with pytest.raises(StackError):
        bench.stack.udp_bind("203.0.113.9", 8)  # not ours
    with pytest.raises(StackError):
        bench.stack.udp_bind("0.0.0.0", 70000)


def test_close_frees_the_port_and_later_datagrams_get_port_unreachable() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.close()
    assert bench.inject(eth(ipv4(udp(1, 7, b"x"), proto=17))) is Drop.UDP_NO_LISTENER
    assert parse_out(bench.one()).payload[:2] == b"\x03\x03"
    bench.stack.udp_bind("0.0.0.0", 7)
    with pytest.raises(StackError):
        sock.sendto(b"x", "198.51.100.2", 1)


def test_sendto_errors() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 0)
    assert sock.port >= 32768
    with pytest.raises(StackError, match="no route"):
        sock.sendto(b"x", "203.0.113.5", 9)
    with pytest.raises(StackError, match="too long"):
        sock.sendto(b"x" * 65508, "198.51.100.2", 9)
    with pytest.raises(StackError):
        sock.sendto(b"x", "2001:db8::1", 9)
    with pytest.raises(StackError):
        sock.sendto(b"x", "198.51.100.2", 0)


def test_send_via_a_gateway_uses_the_gateways_mac() -> None:
    bench = make_bench()
    bench.stack.add_route("0.0.0.0/0", "eth0", gateway="198.51.100.2")
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"far", "203.0.113.5", 9)
    frame = bench.one()
    assert frame[:6] == TESTER_MAC and parse_out(frame).dst == bytes((203, 0, 113, 5))

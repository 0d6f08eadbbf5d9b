"""When ICMPv4 errors are (not) sent (RFC 1122 3.2.2, RFC 1812 4.3.2), the 576-octet cap, echo to
broadcast/multicast (RFC 1122 3.2.2.6) and IP IDs (RFC 6864)."""

from __future__ import annotations

import itertools

import pytest

from stack_under_test import Drop
from stack_under_test.buffer import PacketBuffer
from stack_under_test.network.ipv4 import icmp
from stack_under_test.testing import Bench
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    OTHER,
    OTHER_MAC,
    SUBNET_BROADCAST,
    TESTER,
    echo_request,
    eth,
    ipv4,
    make_bench,
    parse_out,
    udp,
)
from stack_under_test.tests._ipv4_bench import icmp as icmp_message


def _send_error_about(frame: bytes) -> tuple[bool, list[bytes]]:
    bench = make_bench()
    nic = bench.stack.nic("eth0")
    pkt = PacketBuffer(frame, 14, nic)
    pkt.end = 14 + int.from_bytes(frame[16:18], "big")
    sent = icmp.send_error(nic.ip[4], pkt, 3, 2)  # type: ignore[arg-type]
    return sent, bench.sent()


@pytest.mark.parametrize(
    "frame",
    [
        eth(ipv4(icmp_message(3, 3, body=bytes(28)), 1)),  # an ICMP error
        eth(ipv4(b"x" * 8, 99, dst=SUBNET_BROADCAST)),  # IP broadcast destination
        eth(ipv4(b"x" * 8, 99, dst=bytes((224, 0, 0, 1)))),  # IP multicast destination
        eth(ipv4(b"x" * 8, 99), dst=BROADCAST_MAC),  # link-layer broadcast
        eth(ipv4(b"x" * 8, 99), dst=bytes.fromhex("01005e000001")),  # link-layer multicast
        eth(ipv4(b"x" * 8, 99, flags_frag=0x2000 | 1)),  # a non-initial fragment
        eth(ipv4(b"x" * 8, 99, src=bytes(4))),  # source 0.0.0.0
        eth(ipv4(b"x" * 8, 99, src=bytes((127, 0, 0, 1)))),  # loopback source
        eth(ipv4(b"x" * 8, 99, src=SUBNET_BROADCAST)),  # broadcast source
        eth(ipv4(b"x" * 8, 99, src=bytes((224, 1, 2, 3)))),  # multicast source
        eth(ipv4(b"x" * 8, 99, src=bytes((240, 0, 0, 1)))),  # class E source
    ],
    ids=[
        "icmp-error", "ip-broadcast", "ip-multicast", "link-broadcast", "link-multicast", "non-first-fragment",
        "src-zero", "src-loopback", "src-broadcast", "src-multicast", "src-class-e",
    ],
)
def test_no_icmp_error_about(frame: bytes) -> None:
    assert _send_error_about(frame) == (False, [])


def test_error_about_a_first_fragment_is_sent() -> None:
    sent, frames = _send_error_about(eth(ipv4(b"x" * 8, 99, flags_frag=0x2000)))
    assert sent and len(frames) == 1


def test_error_quotes_as_much_as_fits_in_576_octets() -> None:
    bench = make_bench()
    big = ipv4(udp(5000, 9, bytes(1400)), 17)
    assert bench.inject(eth(big)) is Drop.UDP_NO_LISTENER
    out = parse_out(bench.one())
    assert int.from_bytes(out.header[2:4], "big") == 576
    assert out.payload[:2] == b"\x03\x03" and out.payload[8:] == big[: 576 - 28]


def test_small_datagram_is_quoted_whole() -> None:
    bench = make_bench()
    small = ipv4(udp(5000, 9, b"abc"), 17)
    bench.inject(eth(small))
    assert parse_out(bench.one()).payload[8:] == small


# ---- echo to broadcast and multicast -----------------------------------------------------------
@pytest.mark.parametrize("dst", [SUBNET_BROADCAST, b"\xff" * 4, bytes((224, 0, 0, 1))], ids=["subnet", "limited", "all-hosts"])
def test_broadcast_and_multicast_echo_is_ignored_by_default(dst: bytes) -> None:
    bench = make_bench()
    mac = BROADCAST_MAC if dst[0] != 224 else bytes.fromhex("01005e000001")
    assert bench.inject(eth(ipv4(echo_request(), dst=dst), dst=mac)) is Drop.ICMPV4_BROADCAST_ECHO_IGNORED
    assert bench.sent() == []


@pytest.mark.parametrize("dst", [SUBNET_BROADCAST, b"\xff" * 4, bytes((224, 0, 0, 1))], ids=["subnet", "limited", "all-hosts"])
def test_broadcast_echo_when_enabled_is_answered_from_our_unicast_address(dst: bytes) -> None:
    bench = make_bench()
    bench.stack.set_echo_ignore_broadcasts(False)
    mac = BROADCAST_MAC if dst[0] != 224 else bytes.fromhex("01005e000001")
    request = echo_request(ident=0xBEEF, seq=7, data=b"hello")
    assert bench.inject(eth(ipv4(request, dst=dst), dst=mac)) is None
    frame = bench.one()
    out = parse_out(frame)
    assert frame[:6] != BROADCAST_MAC and out.src == DUT and out.dst == TESTER
    assert out.payload[0] == 0 and out.payload[4:] == request[4:]  # id, sequence and data intact


# ---- IP identification (RFC 6864) --------------------------------------------------------------
def _ids_of(bench_sends: list[tuple[str, int]], seed: int = 1) -> list[tuple[bytes, int]]:
    bench = Bench(ipv6=False, seed=seed)
    bench.stack.add_static_neighbor("eth0", "198.51.100.3", OTHER_MAC)
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    for address, port in bench_sends:
        sock.sendto(b"x", address, port)
    return [(parse_out(f).dst, parse_out(f).ident) for f in bench.link.drain()]


def test_ids_are_sequential_per_destination_not_one_global_counter() -> None:
    sends = [("198.51.100.2", 9), ("198.51.100.3", 9)] * 5
    ids = _ids_of(sends)
    to_tester = [i for d, i in ids if d == TESTER]
    to_other = [i for d, i in ids if d == OTHER]
    # Interleaved sends: each destination's IDs still step by one (a global counter would step by 2).
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(to_tester))
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(to_other))
    assert len(set(to_tester)) == 5


def test_ids_do_not_repeat_for_a_tuple_within_65536_datagrams() -> None:
    ids = [i for _, i in _ids_of([("198.51.100.2", 9)] * 2000)]
    assert len(set(ids)) == 2000


def test_id_start_comes_from_the_stack_rng() -> None:
    one = _ids_of([("198.51.100.2", 9)], seed=1)
    assert one == _ids_of([("198.51.100.2", 9)], seed=1)
    assert one != _ids_of([("198.51.100.2", 9)], seed=2)

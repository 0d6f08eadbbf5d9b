"""IPv4 forwarding (RFC 1812 5) on the single test link: off-link destinations routed via a gateway
on the same link go back out of the interface they came in on."""

from __future__ import annotations

import struct

from stack_under_test import Drop
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    TESTER,
    IPv4Bench,
    eth,
    ipv4,
    make_bench,
    parse_out,
    udp,
)
from stack_under_test.wire.checksum import verify

GW = bytes((198, 51, 100, 254))
GW_MAC = bytes.fromhex("0200000000fe")
FAR = bytes((203, 0, 113, 5))
DF = 0x4000


def router(redirects: bool = False) -> IPv4Bench:
    bench = make_bench()
    stack = bench.stack
    stack.set_forwarding(4, True)
    stack.send_redirects = redirects
    stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.254")
    stack.add_static_neighbor("eth0", "198.51.100.254", GW_MAC)
    return bench


def datagram(size: int = 64, ttl: int = 64, flags: int = 0, options: bytes = b"", dst: bytes = FAR) -> bytes:
    return ipv4(udp(1000, 2000, bytes(range(256)) * (size // 256) + bytes(size % 256), dst=dst), 17, dst=dst,
                ttl=ttl, ident=0x4242, flags_frag=flags, options=options)


def test_forwarded_datagram_has_ttl_decremented_and_a_valid_checksum() -> None:
    bench = router()
    packet = datagram()
    assert bench.inject(eth(packet)) is None
    frame = bench.one()
    out = parse_out(frame)
    assert frame[:6] == GW_MAC and out.dst == FAR and out.src == TESTER
    assert out.ttl == 63 and out.ident == 0x4242 and verify(out.header)
    assert out.payload == packet[20:]


def test_redirect_is_sent_when_forwarding_back_out_of_the_same_interface() -> None:
    bench = router(redirects=True)
    packet = datagram()
    bench.inject(eth(packet))
    redirect, forwarded = (parse_out(f) for f in bench.sent())
    # RFC 792 Redirect type 5 code 1 (host), gateway field = the next hop; quotes our datagram.
    assert redirect.dst == TESTER and redirect.src == DUT and redirect.proto == 1
    assert redirect.payload[:2] == b"\x05\x01" and redirect.payload[4:8] == GW
    assert redirect.payload[8:28] == packet[:20]
    assert forwarded.dst == FAR and forwarded.ttl == 63


def test_ttl_one_gives_time_exceeded_in_transit() -> None:
    bench = router()
    assert bench.inject(eth(datagram(ttl=1))) is Drop.IPV4_TTL_EXCEEDED
    out = parse_out(bench.one())
    assert out.dst == TESTER and out.payload[:2] == b"\x0b\x00"


def test_no_route_gives_network_unreachable() -> None:
    bench = router()
    assert bench.inject(eth(datagram(dst=bytes((10, 1, 2, 3))))) is Drop.IPV4_NO_ROUTE
    assert parse_out(bench.one()).payload[:2] == b"\x03\x00"


def test_dont_fragment_and_too_big_gives_fragmentation_needed_with_the_mtu() -> None:
    bench = router()
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.254", mtu=576)
    assert bench.inject(eth(datagram(1000, flags=DF))) is Drop.IPV4_FRAGMENTATION_NEEDED
    out = parse_out(bench.one())
    assert out.payload[:2] == b"\x03\x04" and struct.unpack("!H", out.payload[6:8])[0] == 576


def test_too_big_without_df_is_fragmented_to_fit() -> None:
    bench = router()
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.254", mtu=576)
    packet = datagram(1000)
    assert bench.inject(eth(packet)) is None
    pieces = [parse_out(f) for f in bench.sent()]
    assert len(pieces) == 2
    payload = b""
    for i, piece in enumerate(pieces):
        flags_frag = struct.unpack("!H", piece.header[6:8])[0]
        assert 20 + len(piece.payload) <= 576 and piece.ident == 0x4242 and piece.ttl == 63
        assert (flags_frag & 0x1FFF) * 8 == len(payload)
        assert bool(flags_frag & 0x2000) == (i == 0)
        payload += piece.payload
    assert payload == packet[20:]


def test_link_mtu_limits_forwarding_too() -> None:
    bench = router()
    bench.stack.set_link_mtu("eth0", 600)
    assert bench.inject(eth(datagram(1000, flags=DF))) is Drop.IPV4_FRAGMENTATION_NEEDED
    assert struct.unpack("!H", parse_out(bench.one()).payload[6:8])[0] == 600


def test_record_route_gets_the_outgoing_address_and_unknown_options_pass() -> None:
    bench = router()
    opts = b"\x88\x04\xaa\xbb" + bytes((7, 7, 4)) + bytes(4) + b"\x00"
    assert bench.inject(eth(datagram(options=opts))) is None
    out = parse_out(bench.one())
    assert out.header[20:24] == b"\x88\x04\xaa\xbb" and out.header[24:31] == bytes((7, 7, 8)) + DUT
    assert verify(out.header) and out.ttl == 63


def test_bad_option_while_forwarding_gives_parameter_problem() -> None:
    bench = router()
    assert bench.inject(eth(datagram(options=bytes((7, 7, 2)) + bytes(5)))) is Drop.IPV4_BAD_OPTIONS
    out = parse_out(bench.one())
    assert out.payload[0] == 12 and out.payload[4] == 22


def test_nothing_is_forwarded_when_forwarding_is_off() -> None:
    bench = router()
    bench.stack.set_forwarding(4, False)
    assert bench.inject(eth(datagram())) is Drop.IPV4_NOT_FOR_US
    assert bench.sent() == []


def test_link_layer_broadcast_and_martians_are_not_forwarded() -> None:
    bench = router()
    assert bench.inject(eth(datagram(), dst=BROADCAST_MAC)) is Drop.IPV4_FORWARD_LINK_BROADCAST
    assert bench.inject(eth(datagram(dst=bytes((127, 0, 0, 1))))) is Drop.IPV4_FORWARD_MARTIAN
    assert bench.inject(eth(datagram(dst=bytes((240, 0, 0, 1))))) is Drop.IPV4_FORWARD_MARTIAN
    assert bench.sent() == []


def test_source_routed_hop_forwards_to_the_next_address() -> None:
    bench = router()
    bench.stack.set_accept_source_route(True)
    # LSRR listing FAR; the datagram is addressed to us (the current hop).
    opts = bytes((131, 7, 4)) + FAR + b"\x00"
    assert bench.inject(eth(datagram(options=opts, dst=DUT))) is None
    out = parse_out(bench.one())
    assert out.dst == FAR and out.header[20:27] == bytes((131, 7, 8)) + DUT and out.ttl == 63


def test_unresolvable_next_hop_gives_host_unreachable() -> None:
    bench = make_bench()
    bench.stack.set_forwarding(4, True)
    bench.stack.send_redirects = False
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.254")  # nobody answers ARP
    assert bench.inject(eth(datagram())) is None
    bench.clock.advance(10_000)
    frames = bench.sent()
    arp_requests = [f for f in frames if f[12:14] == b"\x08\x06"]
    errors = [parse_out(f) for f in frames if f[12:14] == b"\x08\x00"]
    assert len(arp_requests) == 3
    assert len(errors) == 1 and errors[0].dst == TESTER and errors[0].payload[:2] == b"\x03\x01"


def test_redirects_back_off_per_source_like_linux() -> None:
    bench = router(redirects=True)

    def redirects_for(count: int) -> int:
        for _ in range(count):
            bench.inject(eth(datagram()))
        return sum(1 for f in bench.sent() if parse_out(f).proto == 1)

    assert redirects_for(3) == 1  # the first at once, then 20 ms << 1 must pass
    bench.clock.advance(41)
    assert redirects_for(2) == 1
    bench.clock.advance(30)  # the third needs 80 ms
    assert redirects_for(1) == 0
    bench.clock.advance(60)
    assert redirects_for(1) == 1

"""IPv4 Path MTU Discovery (RFC 1191): DF on UDP datagrams that fit, Datagram Too Big messages
lowering the per-destination estimate (network/pmtu.py via network/ipv4/icmp.py), plateaus for
messages without a Next-Hop MTU, the 68-octet floor, and the estimate's expiry."""

from __future__ import annotations

import struct

from stack_under_test.network.ipv4.endpoint import IPv4Protocol
from stack_under_test.network.pmtu import PathMTUCache
from stack_under_test.tests._ipv4_bench import (
    DUT,
    TESTER,
    IPv4Bench,
    eth,
    icmp,
    ipv4,
    make_bench,
    parse_out,
    udp,
)
from stack_under_test.transport.udp import UDPSocket

FAR = bytes((203, 0, 113, 5))
GW = bytes((198, 51, 100, 11))
GW_MAC = bytes.fromhex("020000000011")
DF = 0x4000


def _bench() -> tuple[IPv4Bench, UDPSocket]:
    bench = make_bench()
    bench.stack.add_route("203.0.113.0/24", "eth0", gateway="198.51.100.11")
    bench.stack.add_static_neighbor("eth0", "198.51.100.11", GW_MAC)
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    return bench, sock


def _pmtu(bench: IPv4Bench) -> PathMTUCache:
    proto = bench.stack.ip_protocols[4]
    assert isinstance(proto, IPv4Protocol)
    return proto.pmtu


def _sizes_and_flags(frames: list[bytes]) -> list[tuple[int, int]]:
    out = []
    for f in frames:
        o = parse_out(f)
        out.append((len(o.header) + len(o.payload), int.from_bytes(o.header[6:8], "big") & 0xE000))
    return out


def _too_big(quoted_len: int, mtu: int, src: bytes = DUT) -> bytes:
    quoted = ipv4(udp(7, 9, bytes(quoted_len - 28), src=src, dst=FAR), proto=17, src=src, dst=FAR, flags_frag=DF)
    return eth(ipv4(icmp(3, 4, struct.pack("!HH", 0, mtu), quoted[:28]), src=GW), src=GW_MAC)


def test_udp_datagram_that_fits_carries_df_and_a_lowered_path_fragments_without_it() -> None:
    bench, sock = _bench()
    sock.sendto(bytes(1400), "203.0.113.5", 9)
    assert _sizes_and_flags(bench.sent()) == [(1428, DF)]
    assert bench.inject(_too_big(1428, 1000)) is None
    sock.sendto(bytes(1400), "203.0.113.5", 9)
    sent = _sizes_and_flags(bench.sent())
    assert len(sent) == 2 and all(size <= 1000 and not flags & DF for size, flags in sent)
    assert bench.nic_stats.events["icmpv4_pmtu_learned"] == 1


def test_missing_next_hop_mtu_takes_the_next_plateau_down() -> None:
    bench, _ = _bench()
    for quoted, plateau in ((1428, 1006), (1006, 508), (508, 296), (296, 68), (68, 68)):
        bench.inject(_too_big(quoted, 0))
        assert _pmtu(bench).get(FAR) == plateau


def test_estimate_stays_at_68_or_above_and_never_rises() -> None:
    bench, _ = _bench()
    pmtu = _pmtu(bench)
    bench.inject(_too_big(1428, 40))
    assert pmtu.get(FAR) == 68
    bench.inject(_too_big(1428, 1000))
    assert pmtu.get(FAR) == 68


def test_too_big_about_a_datagram_of_another_host_teaches_nothing() -> None:
    bench, _ = _bench()
    bench.inject(_too_big(1428, 1000, src=TESTER))
    assert _pmtu(bench).get(FAR) is None


def test_estimate_expires_after_ten_minutes() -> None:
    bench, _ = _bench()
    pmtu = _pmtu(bench)
    bench.inject(_too_big(1428, 1000))
    bench.clock.advance(599_000)
    assert pmtu.get(FAR) == 1000
    bench.clock.advance(1_000)
    assert pmtu.get(FAR) is None

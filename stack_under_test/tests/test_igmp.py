"""IGMP on the stack (network/ipv4/igmp.py): hand-built frames in, reports out, virtual time.

Defaults are Linux's: IGMPv3 until an older querier is heard, robustness 2, unsolicited report
interval 1 s (v3) / 10 s (v2), TTL 1, TOS 0xC0 and the Router Alert option on every report.
"""

from __future__ import annotations

import random
import struct

import pytest

from stack_under_test import Drop
from stack_under_test.testing import Bench
from stack_under_test.tests._ipv4_bench import (
    DUT,
    TESTER,
    IPv4Bench,
    eth,
    ipv4,
    make_bench,
    parse_out,
    udp,
)
from stack_under_test.wire.checksum import checksum, verify

G = bytes((224, 1, 2, 3))
G2 = bytes((224, 1, 2, 4))
ALL_SYSTEMS = bytes((224, 0, 0, 1))
ALL_ROUTERS = bytes((224, 0, 0, 2))
V3_ROUTERS = bytes((224, 0, 0, 22))
ROUTER_ALERT = b"\x94\x04\x00\x00"
OTHER_HOST = bytes((198, 51, 100, 3))


def mac_of(group: bytes) -> bytes:
    return bytes((0x01, 0x00, 0x5E, group[1] & 0x7F, group[2], group[3]))


def igmp_msg(kind: int, code: int, group: bytes, tail: bytes = b"", good: bool = True) -> bytes:
    raw = struct.pack("!BBH4s", kind, code, 0, group) + tail
    csum = checksum(raw) ^ (0 if good else 0x0101)
    return raw[:2] + struct.pack("!H", csum) + raw[4:]


def v3_query(code: int, group: bytes = b"\0\0\0\0", sources: tuple[bytes, ...] = ()) -> bytes:
    return igmp_msg(0x11, code, group, struct.pack("!BBH", 2, 125, len(sources)) + b"".join(sources))


def frame(msg: bytes, dst: bytes = ALL_SYSTEMS, src: bytes = TESTER) -> bytes:
    return eth(ipv4(msg, proto=2, src=src, dst=dst, ttl=1, options=ROUTER_ALERT), dst=mac_of(dst))


class Sent:
    """One IGMP packet the stack transmitted, checked for the RFC 3376 4 IP header rules."""

    def __init__(self, raw: bytes) -> None:
        out = parse_out(raw)
        assert out.proto == 2
        self.dst = out.dst
        self.src = out.src
        self.header = out.header
        self.msg = out.payload
        assert out.eth_dst == mac_of(out.dst)
        assert out.ttl == 1  # RFC 3376 4: "sent with an IP Time-to-Live of 1"
        assert out.header[20:24] == ROUTER_ALERT and out.header[1] == 0xC0
        assert verify(self.msg)

    @property
    def type(self) -> int:
        return self.msg[0]

    @property
    def group(self) -> bytes:
        return self.msg[4:8]

    def records(self) -> list[tuple[int, bytes, int]]:
        """(record type, group, number of sources) of a v3 report."""
        assert self.type == 0x22
        count = struct.unpack_from("!H", self.msg, 6)[0]
        out, off = [], 8
        for _ in range(count):
            rtype, aux, nsrc, group = struct.unpack_from("!BBH4s", self.msg, off)
            out.append((rtype, group, nsrc))
            off += 8 + 4 * nsrc + 4 * aux
        return out


def sent(bench: IPv4Bench) -> list[Sent]:
    return [Sent(f) for f in bench.sent()]


def test_join_sends_v3_to_ex_report_to_224_0_0_22_twice_within_one_second() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    first = sent(bench)
    assert len(first) == 1
    assert (first[0].dst, first[0].src) == (V3_ROUTERS, DUT)
    assert first[0].records() == [(4, G, 0)]  # CHANGE_TO_EXCLUDE_MODE {}
    bench.clock.advance(999)  # RFC 3376 8.11 Unsolicited Report Interval 1 s; robustness 2
    again = sent(bench)
    assert [s.records() for s in again] == [[(4, G, 0)]]
    bench.clock.advance(60_000)
    assert bench.sent() == []


def test_all_systems_is_joined_on_enable_and_never_reported() -> None:
    bench = Bench(ipv6=False, addresses=False, settle_ms=None)
    assert bench.nic.in_group(ALL_SYSTEMS)
    assert bench.advance(10_000) == []
    bench.stack.add_address("eth0", "198.51.100.1/24")
    assert bench.inject(frame(v3_query(10))) == (None, [])  # a general query: only 224.0.0.1, nothing to report
    assert bench.advance(10_000) == []


def test_group_joined_before_enable_is_reported_from_0_0_0_0_when_the_nic_comes_up() -> None:
    bench = Bench(ipv6=False, addresses=False, enable=False, settle_ms=None)
    bench.stack.join_group("eth0", "224.1.2.3")
    assert bench.link.drain() == []
    bench.stack.enable_nic("eth0")
    out = [Sent(f) for f in bench.link.drain()]
    # RFC 3376 4.2.13: "The 0.0.0.0 source address may be used by a system that has not yet
    # acquired an IP address."
    assert len(out) == 1 and out[0].src == b"\0\0\0\0" and out[0].records() == [(4, G, 0)]


def test_leave_sends_v3_to_in_report_twice() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    bench.sent()
    bench.stack.leave_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    assert [s.records() for s in sent(bench)] == [[(3, G, 0)], [(3, G, 0)]]  # CHANGE_TO_INCLUDE_MODE {}


def test_v3_general_query_is_answered_within_max_resp_time_with_is_ex_records() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.stack.join_group("eth0", "224.1.2.4")
    bench.clock.advance(2_000)
    bench.sent()
    assert bench.inject(frame(v3_query(20))) is None  # Max Resp Time 2 s
    bench.clock.advance(1_999)
    out = sent(bench)
    assert len(out) == 1 and out[0].dst == V3_ROUTERS
    assert sorted(out[0].records()) == [(2, G, 0), (2, G2, 0)]  # MODE_IS_EXCLUDE {}
    bench.clock.advance(60_000)
    assert bench.sent() == []


def test_v3_group_specific_query_reports_only_that_group() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.stack.join_group("eth0", "224.1.2.4")
    bench.clock.advance(2_000)
    bench.sent()
    bench.inject(frame(v3_query(10, G), dst=G))
    bench.clock.advance(1_000)
    assert [s.records() for s in sent(bench)] == [[(2, G, 0)]]


def v2_query(code: int = 100, group: bytes = b"\0\0\0\0") -> bytes:
    return frame(igmp_msg(0x11, code, group), dst=ALL_SYSTEMS if group == b"\0\0\0\0" else group)


def test_v2_querier_switches_to_v2_reports_to_the_group_and_leave_to_224_0_0_2() -> None:
    bench = make_bench()
    assert bench.inject(v2_query(10)) is None
    bench.stack.join_group("eth0", "224.1.2.3")
    first = sent(bench)
    assert [(s.type, s.dst, s.group) for s in first] == [(0x16, G, G)]
    bench.clock.advance(10_000)  # RFC 2236 8.10: repeated within the 10 s Unsolicited Report Interval
    assert [(s.type, s.dst) for s in sent(bench)] == [(0x16, G)]
    bench.stack.leave_group("eth0", "224.1.2.3")
    assert [(s.type, s.dst, s.group) for s in sent(bench)] == [(0x17, ALL_ROUTERS, G)]


def test_v2_query_answered_after_a_delay_below_max_resp_time() -> None:
    bench = make_bench()
    bench.inject(v2_query(10))
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(20_000)
    bench.sent()
    start = bench.clock.now_ms
    bench.inject(v2_query(30))  # 3 s
    times = []
    for _ in range(3_000):
        bench.clock.advance(1)
        if bench.sent():
            times.append(bench.clock.now_ms - start)
    assert len(times) == 1 and 0 <= times[0] <= 3_000


def test_v2_report_from_another_host_suppresses_ours_and_then_no_leave() -> None:
    bench = make_bench()
    bench.inject(v2_query(10))
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(20_000)
    bench.sent()
    bench.inject(v2_query(100))  # 10 s
    assert bench.inject(frame(igmp_msg(0x16, 0, G), dst=G, src=OTHER_HOST)) is None
    bench.clock.advance(10_000)
    assert bench.sent() == []
    bench.stack.leave_group("eth0", "224.1.2.3")  # not the last reporter: nothing (like Linux)
    assert bench.sent() == []


def test_older_querier_present_timeout_returns_to_v3() -> None:
    bench = make_bench()
    bench.inject(v2_query(10))
    # RFC 3376 8.12: Robustness 2 * Query Interval 125 s + Query Response Interval 10 s = 260 s.
    bench.clock.advance(259_999)
    bench.stack.join_group("eth0", "224.1.2.3")
    assert [s.type for s in sent(bench)] == [0x16]
    bench.clock.advance(20_000)
    bench.sent()
    bench.stack.join_group("eth0", "224.1.2.4")
    assert [s.type for s in sent(bench)] == [0x22]


def test_v1_querier_gives_v1_reports_within_ten_seconds_and_no_leave() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    bench.sent()
    bench.inject(frame(igmp_msg(0x11, 0, b"\0\0\0\0")))
    bench.clock.advance(10_000)  # RFC 1112: a random delay of up to 10 s
    assert [(s.type, s.dst) for s in sent(bench)] == [(0x12, G)]
    bench.stack.leave_group("eth0", "224.1.2.3")
    bench.clock.advance(10_000)
    assert bench.sent() == []


MALFORMED = [
    ("bad-checksum", frame(igmp_msg(0x11, 10, b"\0\0\0\0", good=False)), Drop.IGMP_BAD_CHECKSUM),
    ("truncated", frame(igmp_msg(0x11, 10, b"\0\0\0\0")[:6]), Drop.IGMP_TRUNCATED),
    ("query-10-octets", frame(igmp_msg(0x11, 10, b"\0\0\0\0", b"\0\0")), Drop.IGMP_BAD_QUERY_LENGTH),
    ("unknown-type", frame(igmp_msg(0x13, 0, b"\0\0\0\0")), Drop.IGMP_UNKNOWN_TYPE),
    ("general-query-with-sources", frame(v3_query(10, sources=(OTHER_HOST,))), Drop.IGMP_GENERAL_QUERY_WITH_SOURCES),
    ("query-unicast-group", frame(v3_query(10, OTHER_HOST)), Drop.IGMP_QUERY_BAD_GROUP),
    ("leave-for-routers", frame(igmp_msg(0x17, 0, G)), Drop.IGMP_FOR_ROUTERS),
    ("query-without-router-alert", eth(ipv4(v3_query(10), proto=2, dst=ALL_SYSTEMS, ttl=1), dst=mac_of(ALL_SYSTEMS)),
     Drop.IGMP_QUERY_WITHOUT_ROUTER_ALERT),
    ("general-query-to-a-group", frame(v3_query(10), dst=G), Drop.IGMP_GENERAL_QUERY_NOT_TO_ALL_SYSTEMS),
]


@pytest.mark.parametrize(("raw", "drop"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_invalid_igmp_is_dropped_counted_and_unanswered(raw: bytes, drop: Drop) -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    bench.sent()
    assert bench.inject(raw) is drop
    assert bench.nic_stats.drops == {drop: 1}
    bench.clock.advance(20_000)
    assert bench.sent() == []


def test_ip_identification_and_header_checksum_are_valid() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    raw = bench.sent()[0]
    header = raw[14:38]
    assert (header[0], verify(header)) == (0x46, True)
    assert struct.unpack_from("!H", header, 6)[0] & 0x4000  # DF, like Linux


def test_igmp_version_option_forces_v2_like_force_igmp_version() -> None:
    bench = Bench(ipv6=False, static_tester=False, igmp_version=2)
    bench.stack.join_group("eth0", "224.1.2.3")
    out = bench.inject(frame(v3_query(10)))[1]  # a v3 query is answered with a v2 report
    out += bench.advance(1_000)
    assert [(s.type, s.dst) for s in (Sent(f) for f in out)] == [(0x16, G), (0x16, G)]


def test_damaged_igmp_gets_exactly_one_verdict_and_never_raises() -> None:
    # A seeded walk over truncations and flipped octets of every message kind we parse.
    rng = random.Random(7)
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    seeds = [
        v3_query(10), v3_query(10, G, (OTHER_HOST,)), igmp_msg(0x11, 10, b"\0\0\0\0"), igmp_msg(0x16, 0, G),
        igmp_msg(0x17, 0, G), igmp_msg(0x22, 0, b"\0\0\0\1", struct.pack("!BBH4s", 4, 0, 0, G)),
    ]
    frames = []
    for _ in range(500):
        msg = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(3)):
            msg[rng.randrange(len(msg))] = rng.randrange(256)
        frames.append(frame(bytes(msg[: rng.randrange(len(msg) + 1)])))
    verdicts = [bench.inject(f) for f in frames]
    bench.clock.advance(300_000)
    stats = bench.stack.stats
    assert stats.rx_frames == len(frames)
    assert sum(stats.drops.values()) == sum(v is not None for v in verdicts)


def test_v1_query_group_field_is_ignored() -> None:
    bench = make_bench()
    bench.stack.join_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    bench.sent()
    # RFC 1112 appendix I: the Group Address of a query is "ignored when received".
    assert bench.inject(frame(igmp_msg(0x11, 0, OTHER_HOST))) is None
    bench.clock.advance(10_000)
    assert [(s.type, s.group) for s in sent(bench)] == [(0x12, G)]


def test_include_mode_join_reports_allow_is_in_and_block_and_filters_delivery() -> None:
    # RFC 3376 5.1: INCLUDE {} -> INCLUDE (A) is ALLOW (A), INCLUDE (A) -> INCLUDE {} is BLOCK (A);
    # 5.2: the current state of INCLUDE (A) is IS_IN (A); 3.2: only A's datagrams are delivered.
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 5000)
    bench.stack.join_source_group("eth0", "224.1.2.3", ["198.51.100.2"])
    bench.clock.advance(2_000)
    assert [s.records() for s in sent(bench)] == [[(5, G, 1)], [(5, G, 1)]]
    bench.inject(frame(v3_query(10)))
    bench.clock.advance(1_000)
    assert [s.records() for s in sent(bench)] == [[(1, G, 1)]]
    datagram = udp(6000, 5000, b"from S", src=TESTER, dst=G)
    assert bench.inject(eth(ipv4(datagram, proto=17, src=TESTER, dst=G), dst=mac_of(G))) is None
    assert sock.recv() is not None
    other = udp(6000, 5000, b"not S", src=OTHER_HOST, dst=G)
    verdict = bench.inject(eth(ipv4(other, proto=17, src=OTHER_HOST, dst=G), dst=mac_of(G)))
    assert verdict is Drop.IPV4_MULTICAST_SOURCE_NOT_INCLUDED and sock.recv() is None
    bench.stack.leave_group("eth0", "224.1.2.3")
    bench.clock.advance(2_000)
    assert [s.records() for s in sent(bench)] == [[(6, G, 1)], [(6, G, 1)]]

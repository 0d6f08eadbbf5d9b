"""MLD on the stack (network/ipv6/mld.py): hand-built queries in, reports out, virtual time.

Defaults are Linux's: MLDv2 until an MLDv1 querier is heard, robustness 2, unsolicited report
interval 1 s (v2) / 10 s (v1); every report with Hop Limit 1, a Hop-by-Hop Router Alert (value 0)
and a link-local source (RFC 2710 3, RFC 3810 5).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from ipaddress import IPv6Address

import pytest

from stack_under_test import Drop, testing
from stack_under_test.stack.addresses import AddressState
from stack_under_test.wire import mld
from stack_under_test.wire.icmpv6 import checksum_ok, icmpv6_checksum


def a(text: str) -> bytes:
    return IPv6Address(text).packed


DUT_MAC = bytes.fromhex("020000000001")
ROUTER_MAC = bytes.fromhex("020000000002")
LL = a("fe80::ff:fe00:1")  # EUI-64 link-local of DUT_MAC
SN = a("ff02::1:ff00:1")  # its solicited-node group (and that of 2001:db8:1::1)
ROUTER = a("fe80::1")
ALL_NODES = a("ff02::1")
ALL_ROUTERS = a("ff02::2")
G = a("ff05::1:3")
G2 = a("ff0e::1234")
# RFC 2711: Next Header 58, length 0, Router Alert (5, 2, value 0), PadN of 2 octets.
HBH_RA = bytes.fromhex("3a00050200000100")
TO_EX, TO_IN, IS_EX, IS_IN = 4, 3, 2, 1


def mac_of(group: bytes) -> bytes:
    return b"\x33\x33" + group[12:]


@dataclass
class Out:
    """One MLD packet the stack sent, checked for the RFC 2710 3 / RFC 3810 5 header rules."""

    src: bytes
    dst: bytes
    msg: mld.Message

    @classmethod
    def parse(cls, frame: bytes) -> Out:
        ip = frame[14:]
        src, dst = ip[8:24], ip[24:40]
        assert frame[:6] == mac_of(dst)
        assert ip[6] == 0  # a Hop-by-Hop header follows the fixed header
        assert ip[7] == 1  # "an IPv6 Hop Limit of 1"
        assert ip[40:48] == HBH_RA  # "an IPv6 Router Alert option ... in a Hop-by-Hop Options header"
        body = ip[48 : 40 + struct.unpack_from("!H", ip, 4)[0]]
        assert checksum_ok(src, dst, memoryview(body))
        msg = mld.parse(body)
        assert not isinstance(msg, Drop)
        return cls(src, dst, msg)

    def records(self) -> list[tuple[int, bytes, tuple[bytes, ...]]]:
        assert isinstance(self.msg, mld.V2Report)
        return [(r.type, r.group, r.sources) for r in self.msg.records]


class Bench:
    """The white-box bench with IPv6 only, no address but the link-local, and what enabling the
    NIC sent still queued; ``options`` are IPv6 knobs. ``inject`` takes an MLD message."""

    def __init__(self, **options: int) -> None:
        self.bench = testing.Bench(
            ipv4=False, addresses=False, static_tester=False, seed=2710, ipv6_options=options, settle_ms=None
        )
        self.stack, self.link, self.clock, self.nic = self.bench.stack, self.bench.link, self.bench.clock, self.bench.nic

    def sent(self) -> list[Out]:
        out = []
        while (frame := self.link.read_outbound()) is not None:
            if frame[12:14] == b"\x86\xdd" and frame[14 + 6] == 0:
                out.append(Out.parse(frame))
        return out

    def settle(self) -> None:
        """Let the unsolicited reports of enable run out, and forget them."""
        self.clock.advance(5_000)
        self.sent()

    def inject(
        self,
        message: bytes,
        *,
        src: bytes = ROUTER,
        dst: bytes = ALL_NODES,
        hop_limit: int = 1,
        hbh: bytes | None = HBH_RA,
    ) -> Drop | None:
        payload = (hbh or b"") + message
        header = struct.pack("!IHBB", 6 << 28, len(payload), 0 if hbh else 58, hop_limit) + src + dst
        return self.link.inject_inbound(mac_of(dst) + ROUTER_MAC + b"\x86\xdd" + header + payload)

    def query(self, version: int, max_resp: int, group: bytes = bytes(16), **kw: object) -> Drop | None:
        dst = kw.pop("dst", ALL_NODES if group == bytes(16) else group)
        sources = kw.pop("sources", ())
        q = mld.Query(version, max_resp, group, sources=sources, qrv=2, qqic=125) if version == 2 else mld.Query(1, max_resp, group)  # type: ignore[arg-type]
        src = kw.pop("src", ROUTER)
        return self.inject(q.encode(src, dst), src=src, dst=dst, **kw)  # type: ignore[arg-type]


# ---- unsolicited reports ----------------------------------------------------------------------------
def test_enable_reports_the_solicited_node_group_twice_from_the_link_local() -> None:
    b = Bench()
    first = b.sent()
    assert len(first) == 1
    report = first[0]
    assert report.src == LL and report.dst == mld.ALL_MLDV2_ROUTERS
    assert report.records() == [(TO_EX, SN, ())]
    # RFC 3810 6.1: retransmitted [Robustness Variable] - 1 more times within the Unsolicited Report Interval.
    b.clock.advance(1_000)
    again = b.sent()
    assert [o.records() for o in again] == [[(TO_EX, SN, ())]]
    b.clock.advance(10_000)
    assert b.sent() == []


def test_join_reports_at_once_and_leave_sends_to_include() -> None:
    b = Bench()
    b.settle()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    now = b.sent()  # synchronously: no time has passed
    assert [o.records() for o in now] == [[(TO_EX, G, ())]]
    b.clock.advance(1_000)
    assert [o.records() for o in b.sent()] == [[(TO_EX, G, ())]]
    b.stack.leave_group("eth0", str(IPv6Address(G)))
    assert [o.records() for o in b.sent()] == [[(TO_IN, G, ())]]
    b.clock.advance(1_000)
    assert [o.records() for o in b.sent()] == [[(TO_IN, G, ())]]
    b.clock.advance(5_000)
    assert b.sent() == []


def test_unsolicited_interval_comes_from_the_config() -> None:
    b = Bench(mldv2_unsolicited_report_interval_ms=100)
    assert len(b.sent()) == 1
    b.clock.advance(100)
    assert len(b.sent()) == 1


@pytest.mark.parametrize("group", ["ff02::1", "ff01::5", "ff00::5", "ff11::5"])
def test_all_nodes_and_interface_local_groups_are_never_reported(group: str) -> None:
    b = Bench()
    b.settle()
    b.stack.join_group("eth0", group)
    b.clock.advance(2_000)
    assert b.sent() == []
    assert b.query(2, 1000) is None
    b.clock.advance(1_000)
    (report,) = b.sent()
    assert a(group) not in [g for _, g, _ in report.records()]
    b.stack.leave_group("eth0", group)
    b.clock.advance(2_000)
    assert b.sent() == []


def test_report_source_is_unspecified_without_a_valid_link_local() -> None:
    b = Bench()
    b.settle()
    b.nic.addresses.get(LL).state = AddressState.TENTATIVE  # type: ignore[union-attr]
    b.stack.join_group("eth0", str(IPv6Address(G)))
    (report,) = b.sent()
    assert report.src == bytes(16)  # RFC 3810 5.2.13
    b.nic.addresses.get(LL).state = AddressState.PREFERRED  # type: ignore[union-attr]
    b.clock.advance(1_000)
    assert [o.src for o in b.sent()] == [LL]


def test_restart_reports_the_groups_again() -> None:
    b = Bench()
    b.stack.add_address("eth0", "2001:db8:1::5/64", dad=False)  # solicited-node ff02::1:ff00:5
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.settle()
    b.stack.restart_nic("eth0")
    b.clock.advance(0)
    groups = {g for o in b.sent() for _, g, _ in o.records()}
    assert groups == {SN, a("ff02::1:ff00:5"), G}


def test_disable_sends_nothing() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.sent()
    b.stack.disable_nic("eth0")
    b.clock.advance(10_000)
    assert b.sent() == []


# ---- MLDv2 queries -----------------------------------------------------------------------------------
def test_general_query_answered_within_maximum_response_delay() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.settle()
    assert b.query(2, 500) is None
    b.clock.advance(500)
    (report,) = b.sent()
    assert report.dst == mld.ALL_MLDV2_ROUTERS
    assert sorted(report.records()) == sorted([(IS_EX, SN, ()), (IS_EX, G, ())])
    b.clock.advance(10_000)
    assert b.sent() == []


def test_general_query_max_resp_code_float_format() -> None:
    b = Bench()
    b.settle()
    code = 0x8000 | 1 << 12 | 0x388  # >= 32768: the exponential form, (0x388 | 0x1000) << 4 = 80_000 ms
    assert mld.decode_max_resp_code(code) == 80_000
    b.query(2, code)
    b.clock.advance(80_000)
    assert len(b.sent()) == 1


def test_group_specific_and_group_and_source_specific_queries() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.stack.join_group("eth0", str(IPv6Address(G2)))
    b.settle()
    assert b.query(2, 1000, G) is None
    b.clock.advance(1_000)
    assert [o.records() for o in b.sent()] == [[(IS_EX, G, ())]]
    s1 = a("2001:db8:1::77")
    assert b.query(2, 1000, G2, sources=(s1,)) is None
    b.clock.advance(1_000)
    # EXCLUDE {} asked about {s1}: IS_IN (s1) (RFC 3810 6.3 table).
    assert [o.records() for o in b.sent()] == [[(IS_IN, G2, (s1,))]]
    # A query for a group we are not in gives nothing.
    assert b.query(2, 1000, a("ff05::999"), dst=ALL_NODES) is None
    b.clock.advance(1_000)
    assert b.sent() == []


def test_many_groups_split_into_reports_that_fit_the_mtu() -> None:
    b = Bench()
    for i in range(100):
        b.stack.join_group("eth0", f"ff05::{i + 1:x}")
    b.settle()
    b.query(2, 100)
    b.clock.advance(100)
    reports = b.sent()
    assert len(reports) == 2
    assert sum(len(o.records()) for o in reports) == 101  # + the solicited-node group


# ---- validation (RFC 3810 5.1.14, 6.2, 8.1) ------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "drop"),
    [
        ({"hbh": None}, Drop.MLD_NO_ROUTER_ALERT),
        ({"hbh": bytes.fromhex("3a00050200010100")}, Drop.MLD_NO_ROUTER_ALERT),  # Router Alert value 1 (RSVP)
        ({"hbh": bytes.fromhex("3a00010400000000")}, Drop.MLD_NO_ROUTER_ALERT),  # Hop-by-Hop without it
        ({"hop_limit": 2}, Drop.MLD_HOP_LIMIT_NOT_1),
        ({"hop_limit": 255}, Drop.MLD_HOP_LIMIT_NOT_1),
        ({"src": a("2001:db8:1::2")}, Drop.MLD_SOURCE_NOT_LINK_LOCAL),
        ({"src": bytes(16)}, Drop.MLD_SOURCE_NOT_LINK_LOCAL),
    ],
)
@pytest.mark.parametrize("version", [1, 2])
def test_invalid_queries_are_dropped_and_a_valid_one_answered(kw: dict[str, object], drop: Drop, version: int) -> None:
    b = Bench(force_mld_version=version)
    b.settle()
    assert b.query(version, 1000, **kw) is drop
    assert b.stack.stats.drops[drop] == 1
    b.clock.advance(2_000)
    assert b.sent() == []
    # Positive control: the same query, valid.
    assert b.query(version, 1000) is None
    b.clock.advance(1_000)
    assert len(b.sent()) == 1


def test_query_length_26_is_ignored() -> None:
    b = Bench()
    b.settle()
    msg = bytearray(mld.Query(2, 1000).encode(ROUTER, ALL_NODES)[:26])
    msg[2:4] = b"\0\0"
    struct.pack_into("!H", msg, 2, icmpv6_checksum(ROUTER, ALL_NODES, msg))
    assert b.inject(bytes(msg)) is Drop.MLD_BAD_QUERY_LENGTH


def test_query_group_must_be_multicast_and_general_query_has_no_sources() -> None:
    b = Bench()
    b.settle()
    assert b.query(2, 1000, a("2001:db8::1"), dst=ALL_NODES) is Drop.MLD_QUERY_BAD_GROUP
    assert b.query(2, 1000, bytes(16), sources=(a("2001:db8::1"),)) is Drop.MLD_GENERAL_QUERY_WITH_SOURCES


def test_done_and_v2_reports_are_for_routers() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    done = mld.Done(G).encode(ROUTER, G)
    assert b.inject(done, dst=G) is Drop.MLD_FOR_ROUTERS
    v2 = mld.V2Report((mld.AddressRecord(TO_EX, G),)).encode(ROUTER, G)
    assert b.inject(v2, dst=G) is Drop.MLD_FOR_ROUTERS


# ---- MLDv1 compatibility (RFC 3810 8.2.1) and MLDv1 (RFC 2710) -----------------------------------------
def test_v1_query_switches_to_mldv1_until_the_older_querier_timer_ends() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.settle()
    assert b.query(1, 1000) is None
    b.clock.advance(1_000)
    v1 = b.sent()
    assert {(type(o.msg), o.dst) for o in v1} == {(mld.V1Report, SN), (mld.V1Report, G)}
    assert all(o.msg.group == o.dst for o in v1)  # type: ignore[union-attr]
    b.stack.join_group("eth0", str(IPv6Address(G2)))
    (report,) = b.sent()
    assert report.msg == mld.V1Report(G2) and report.dst == G2
    b.clock.advance(10_000)  # repeated after up to [Unsolicited Report Interval] (10 s)
    assert [o.msg for o in b.sent()] == [mld.V1Report(G2)]
    b.stack.leave_group("eth0", str(IPv6Address(G2)))
    (done,) = b.sent()
    assert done.msg == mld.Done(G2) and done.dst == ALL_ROUTERS
    # Older Version Querier Present Timeout: 2 x 125 s + 10 s after the query (RFC 3810 9.12).
    b.clock.advance(260_000 - 1_000 - 10_000 - 2_000)
    b.stack.join_group("eth0", "ff05::77")
    assert isinstance(b.sent()[0].msg, mld.V1Report)
    b.clock.advance(3_000)
    b.sent()
    b.stack.join_group("eth0", "ff05::78")
    assert b.sent()[0].records() == [(TO_EX, a("ff05::78"), ())]


def test_v1_report_from_another_listener_suppresses_ours() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.settle()
    b.query(1, 10_000)
    other = a("fe80::3")
    assert b.inject(mld.V1Report(G).encode(other, G), src=other, dst=G) is None
    b.clock.advance(10_000)
    assert [o.dst for o in b.sent()] == [SN]  # only the group nobody else reported
    # We were not the last reporter of G: leaving sends no Done (RFC 2710 4 "MAY send nothing").
    b.stack.leave_group("eth0", str(IPv6Address(G)))
    assert b.sent() == []


def test_v1_report_from_a_global_source_is_dropped() -> None:
    b = Bench()
    src = a("2001:db8:1::3")
    b.stack.join_group("eth0", str(IPv6Address(G)))
    assert b.inject(mld.V1Report(G).encode(src, G), src=src, dst=G) is Drop.MLD_REPORT_BAD_SOURCE


def test_force_mld_version_1_speaks_mldv1() -> None:
    b = Bench(force_mld_version=1)
    (first,) = b.sent()
    assert first.msg == mld.V1Report(SN) and first.dst == SN
    b.stack.join_group("eth0", str(IPv6Address(G)))
    assert [o.msg for o in b.sent()] == [mld.V1Report(G)]
    # An MLDv2 query is answered in MLDv1 (the host's version is the older one).
    b.settle()
    assert b.query(2, 1000, G) is None
    b.clock.advance(1_000)
    assert [o.msg for o in b.sent()] == [mld.V1Report(G)]


def test_force_mld_version_2_ignores_mldv1_queries() -> None:
    b = Bench(force_mld_version=2)
    b.settle()
    assert b.query(1, 1000) is Drop.MLD_V1_QUERY_IGNORED
    b.stack.join_group("eth0", str(IPv6Address(G)))
    assert b.sent()[0].records() == [(TO_EX, G, ())]


def test_forcing_mldv2_later_forgets_an_mldv1_querier() -> None:
    b = Bench()
    b.settle()
    b.query(1, 1000)
    b.clock.advance(1_000)
    b.sent()
    b.stack.set_ipv6_option("eth0", "force_mld_version", 2)
    b.stack.join_group("eth0", str(IPv6Address(G)))
    assert b.sent()[0].records() == [(TO_EX, G, ())]


def test_mutated_mld_frames_never_raise() -> None:
    b = Bench()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    rng = random.Random(3810)
    seeds = [
        mld.Query(2, 1000, G, sources=(a("2001:db8::1"),)).encode(ROUTER, G),
        mld.Query(1, 1000).encode(ROUTER, ALL_NODES),
        mld.V1Report(G).encode(ROUTER, G),
        mld.V2Report((mld.AddressRecord(1, G, (a("2001:db8::1"),)),)).encode(ROUTER, G),
    ]
    for _ in range(1000):
        msg = bytearray(rng.choice(seeds))
        hbh = bytearray(HBH_RA)
        for _ in range(rng.randrange(0, 4)):
            target = msg if rng.random() < 0.7 else hbh
            target[rng.randrange(len(target))] = rng.randrange(256)
        msg = msg[: rng.randrange(len(msg) + 1)] if rng.random() < 0.3 else msg
        if len(msg) >= 4 and rng.random() < 0.6:  # a correct checksum, so the mutation reaches MLD
            msg[2:4] = b"\0\0"
            struct.pack_into("!H", msg, 2, icmpv6_checksum(ROUTER, G, msg))
        verdict = b.inject(bytes(msg), dst=G, hbh=bytes(hbh), hop_limit=rng.choice((1, 1, 2, 255)))
        assert verdict is None or isinstance(verdict, Drop)
        b.clock.advance(rng.randrange(0, 300))
    b.sent()


def test_querier_robustness_variable_sets_the_number_of_reports() -> None:
    b = Bench()
    b.settle()
    q = mld.Query(2, 100, qrv=3, qqic=125).encode(ROUTER, ALL_NODES)
    assert b.inject(q) is None
    b.clock.advance(100)
    b.sent()
    b.stack.join_group("eth0", str(IPv6Address(G)))
    b.clock.advance(5_000)
    assert [o.records() for o in b.sent()] == [[(TO_EX, G, ())]] * 3  # RFC 3810 6.1: [Robustness Variable] times


def test_with_dad_the_report_comes_from_unspecified_and_precedes_the_first_probe() -> None:
    b = Bench(accept_dad=1)
    b.settle()
    b.stack.add_address("eth0", "2001:db8:1::7/64")  # tentative: DAD runs (RFC 4862 5.4.2)
    frames = b.link.drain()
    kinds = [(f[20], f[54]) for f in frames]  # (next header, first octet after the fixed header)
    assert kinds[0] == (0, 58)  # the MLD report (Hop-by-Hop header, then ICMPv6) comes first
    report = Out.parse(frames[0])
    assert report.records() == [(TO_EX, a("ff02::1:ff00:7"), ())]
    assert report.src == LL  # the link-local is valid: only the new address is tentative
    assert (58, 135) in [(f[20], f[54]) for f in frames[1:]]  # then DAD's Neighbor Solicitation


def test_link_local_under_dad_reports_from_unspecified() -> None:
    b = Bench(accept_dad=1)
    b.clock.advance(1_000)  # RFC 4862 5.4.2: the report waits up to MAX_RTR_SOLICITATION_DELAY
    (first,) = [o for o in b.sent() if a("ff02::1:ff00:1") in [g for _, g, _ in o.records()]][:1]
    assert first.src == bytes(16)  # RFC 3810 5.2.13: no valid link-local address yet


def test_groups_are_reported_again_once_the_link_local_is_valid() -> None:
    # RFC 3810 5.2.13: "Once a valid link-local address is available, a node SHOULD generate new
    # MLDv2 Report messages for all multicast addresses joined on the interface."
    b = Bench(accept_dad=1, rtr_solicit_delay_ms=0)
    b.stack.join_group("eth0", str(IPv6Address(G)))
    early = b.sent()
    assert early and all(o.src == bytes(16) for o in early)  # tentative link-local: from ::
    b.clock.advance(1_000)  # RetransTimer after the single probe: DAD succeeds
    assert b.nic.is_local(LL)
    b.clock.advance(1_000)
    from_ll = [o for o in b.sent() if o.src == LL]
    reported = {g for o in from_ll for kind, g, _ in o.records() if kind == TO_EX}
    assert {SN, G} <= reported


def test_on_link_local_valid_sends_nothing_in_mldv1_mode() -> None:
    b = Bench(force_mld_version=1)
    b.settle()
    b.nic.ip[6].mld.on_link_local_valid()
    assert b.sent() == []

"""MLDv1 (RFC 2710) and the version 1 compatibility mode of an MLDv2 node (RFC 3810 §8.2).

The RFC 2710 tests run on every DUT that speaks MLD: natively on one that speaks only MLDv1 (it
declares the feature "mldv1" and not "mldv2"), in the version 1 mode of one that speaks MLDv2. The
compatibility-mode tests (RFC 3810) need an MLDv2 node.

An MLDv1 Query is exactly 24 octets (RFC 3810 8.1). After one, the node answers queries and
reports joins with MLDv1 Reports (type 131) sent to the group itself, sends Done (type 132) to
ff02::2 on leave, and suppresses its report when it hears another node's. The compatibility mode
lasts the Older Version Querier Present Interval, ([Robustness Variable] times [Query Interval]
in the last Query received) plus [Query Response Interval] (RFC 3810 9.12): each test first sends
an MLDv2 General Query announcing QRV 2, a Query Interval (QQIC) of 1 s and a Maximum Response
Delay of 0.1 s, so the mode lasts about 2.1 s and one test can watch it end.

Queries are built and MLDv1 messages read with Scapy's MLD layers (``harness.mld``).
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Final

import pytest
from scapy.layers.inet6 import (
    ICMPv6MLDone,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    IPv6,
)
from scapy.packet import Packet

from harness import (
    DUT,
    MUST,
    MUST_NOT,
    SHOULD,
    ExpectationFailed,
    bad_checksum,
    described,
    multicast_mac,
    rfc,
    with_icmpv6_checksum,
)
from harness.features import require_feature
from harness.mld import (
    ALL_NODES,
    CURRENT_STATE,
    MODE_IS_EXCLUDE,
    MRD_MS,
    QUIET_S,
    as_mldv1_listener,
    expect_record,
    flush_reports,
    has_record,
    message_bytes,
    mld_frame,
    parse_records,
    v1_query,
    v1_report,
    v2_query,
)
from harness.suppression import assert_suppressed, consume_all

ALL_ROUTERS: Final = "ff02::2"
FIXTURE_MRC_MS: Final = 100
OLDER_QUERIER_S: Final = 2.1  # 2 x QQI 1 s + Query Response Interval 0.1 s (RFC 3810 9.12)
QUERY_TAKEN_S: Final = 0.3  # a query's deferred processing has run (a kernel work item, under load)


def _g(n: int) -> str:
    return f"ff05::db8:1:{n:x}"


def v1_query_frame(dut: DUT, group: str = "::", mrd: int = MRD_MS) -> Packet:
    """An MLDv1 Query from the tester: a General Query to all nodes, or a specific one to ``group``."""
    return mld_frame(dut, v1_query(group, mrd), dst=ALL_NODES if group == "::" else group)


def enter_v1_mode(dut: DUT, group: str = "::") -> None:
    """Send an MLDv1 Query (to all nodes, or about ``group``) and give the DUT time to take it in
    before the test's next control verb. A stack may take queries in from deferred work (Linux
    queues them for a work queue): a join sent right behind the query's frame then overtakes it,
    and the switch to MLDv1 cancels the join's pending MLDv2 report (RFC 3810 8.2.1), so neither
    version reports the group (found by CI under load)."""
    dut.send(v1_query_frame(dut, group))
    dut.barrier()
    dut.wait(QUERY_TAKEN_S)


def expect_v1(dut: DUT, layer: type[Packet], group: str, within: float = QUIET_S) -> Packet:
    """The next MLDv1 Report or Done from the DUT about ``group``."""
    return dut.expect(IPv6(src=str(dut.info.dut_ipv6_ll)), layer(mladdr=group), within=within)


def _names(group: str) -> Callable[[list[Packet]], bool]:  # a predicate on the records field
    packed = IPv6Address(group).packed
    return lambda recs: packed in b"".join(bytes(r) for r in recs)


def expect_v2(dut: DUT, group: str, within: float) -> Packet:
    """The next MLDv2 report that names ``group``."""
    return dut.expect(ICMPv6MLReport2, within=within, records=_names(group))


# How long after its receive path a DUT may take an MLD query in (Linux: a work queue).
QUERY_WORK_S: Final = 0.05


def no_v2(dut: DUT, group: str, within: float, since: float | None = None) -> None:
    dut.expect_none(ICMPv6MLReport2, within=within, since=since, records=_names(group))


def expect_still_v1(dut: DUT, group: str, *, began: float, lasts: float) -> Packet:
    """The MLDv1 Report of a join made while the compatibility mode an MLDv1 query started is to
    last: it began no earlier than ``began`` (the tester's clock before it sent the query) and
    lasts at least ``lasts`` seconds (RFC 3810 9.12). A join a loaded tester made so late that
    its report, in MLDv2, left at ``began + lasts`` or later, when the mode may rightly have
    ended, tells nothing: the test skips saying so."""
    try:
        return expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    except ExpectationFailed as failure:
        try:
            v2 = expect_v2(dut, group, within=0)
        except ExpectationFailed:
            raise failure from None
        if float(v2.time) >= began + lasts:
            pytest.skip(f"the join of {group} was reported in MLDv2 {float(v2.time) - began:.2f} s after the MLDv1 "
                        f"query was sent (a loaded tester joined that late), when the {lasts}-s compatibility mode "
                        "may rightly have ended: nothing can be told")
        raise AssertionError(f"the join of {group} was reported in MLDv2 {float(v2.time) - began:.2f} s after the "
                             f"MLDv1 query, within the {lasts}-s compatibility mode it started") from None


@pytest.fixture
def v1_ready(dut: DUT) -> DUT:
    """The DUT as a listener an MLDv1 query is addressed to. One that speaks MLDv2 is first told by
    an MLDv2 querier that the Query Interval is 1 s (QQIC 1, QRV 2, MRD 0.1 s): an MLDv1 query then
    puts it in version 1 compatibility mode for about 2.1 s only. Its answer, for the solicited-node
    groups, is awaited here: sent after a test's join (the harness can be that slow on a loaded
    machine), it would name the test's group (found by stackcheck soak). One that speaks only MLDv1
    is tested as it is: to it that MLDv2 query would be one more General Query (RFC 3810 8.1), whose
    answers race the test's own."""
    if "mldv2" in dut.features:
        dut.send(mld_frame(dut, v2_query(mrc=FIXTURE_MRC_MS, qqic=1)))
        dut.expect(ICMPv6MLReport2, within=1.0)  # due within the Maximum Response Delay of 0.1 s
    else:
        require_feature(dut, "mldv1")
    return dut


OTHER_LISTENER: Final = "fe80::200:ff:fe00:3"


def other_report(dut: DUT, group: str) -> Packet:
    """Another listener's MLDv1 Report for ``group``."""
    return mld_frame(dut, v1_report(group), dst=group, src=OTHER_LISTENER, mac=dut.info.other_mac)


def settle(dut: DUT, *groups: str, v1_listener: bool = False) -> None:
    """Join ``groups`` so that every MLDv1 Report after this answers a query. An MLDv2 node, still
    in MLDv2 mode, announces them with MLDv2 reports. An MLDv1-only node (or, ``v1_listener``, one
    ``as_mldv1_listener`` made one) announces them with MLDv1 Reports "repeated once or twice after
    short delays" (RFC 2710 4): the first is consumed here, and another listener's Report stops the
    repeats ("it stops its timer and does not send a Report for that address", RFC 2710 4), as
    they could come up to the Unsolicited Report Interval (10 s) later."""
    for group in groups:
        dut.join_group(group)
    if v1_listener or "mldv2" not in dut.features:
        for group in groups:
            expect_v1(dut, ICMPv6MLReport, group, within=1.0)
            dut.send(other_report(dut, group))
        # A repeat whose short delay ran out before the other listener's Report was sent (a
        # loaded tester sends it late) is no answer to anything the test does next.
        consume_all(dut, IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport)


# ---- compatibility mode -------------------------------------------------------------------------


@rfc("RFC3810-8.2.1-1", "RFC9777-8.2.1-5")
def test_v1_general_query_is_answered_with_a_v1_report(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut, group = v1_ready, _g(1)
    settle(dut, group)
    dut.send(v1_query_frame(dut))
    report = expect_v1(dut, ICMPv6MLReport, group)
    assert report[IPv6].dst == group, f"the MLDv1 report went to {report[IPv6].dst}, not to the group"


@described(2710, "5", MUST, "The Report message is sent to the address being reported.")
def test_v1_report_goes_to_the_reported_address(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(2)
    enter_v1_mode(dut)
    dut.join_group(group)
    report = expect_v1(dut, ICMPv6MLReport, group, within=1.0)
    assert report[IPv6].dst == group and report.dst == multicast_mac(group), (report[IPv6].dst, report.dst)


@described(2710, "4", SHOULD,
           "When a node starts listening to a multicast address on an interface, it should immediately "
           "transmit an unsolicited Report for that address on that interface, in case it is the first "
           "listener on the link.")
def test_join_in_v1_mode_sends_an_unsolicited_v1_report(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(3)
    enter_v1_mode(dut)
    dut.join_group(group)
    expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    no_v2(dut, group, within=0.5)  # no MLDv2 report in v1 mode


@rfc("RFC2710-4-3")
def test_leave_in_v1_mode_sends_done_to_all_routers(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(4)
    enter_v1_mode(dut)
    dut.join_group(group)
    expect_v1(dut, ICMPv6MLReport, group, within=0.5)  # the DUT is the last node to report
    dut.leave_group(group)
    done = expect_v1(dut, ICMPv6MLDone, group, within=0.5)
    assert done[IPv6].dst == ALL_ROUTERS, f"Done sent to {done[IPv6].dst}"
    dut.expect_none(ICMPv6MLDone(mladdr=group), within=1.0)  # a single Done


@described(2710, "4", MUST,
           "If a node receives another node's Report from an interface for a multicast address while it has "
           "a timer running for that same address on that interface, it stops its timer and does not send a "
           "Report for that address, thus suppressing duplicate reports on the link.")
def test_another_nodes_report_suppresses_ours(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(5)
    settle(dut, group)
    other = other_report(dut, group)
    assert_suppressed(dut, [v1_query_frame(dut, mrd=1000), other], IPv6(src=str(dut.info.dut_ipv6_ll)),
                      ICMPv6MLReport(mladdr=group), within=1.3)
    dut.send(v1_query_frame(dut))  # control: without another report the DUT answers
    expect_v1(dut, ICMPv6MLReport, group)


@described(2710, "5", MUST,
           "A Multicast-Address-Specific Query applies to a single multicast address on the interface from "
           "which the Query is received.")
def test_v1_specific_query_is_answered_for_that_group_only(v1_ready: DUT) -> None:
    dut, group, other = v1_ready, _g(6), _g(7)
    settle(dut, group, other)
    dut.send(v1_query_frame(dut, group))
    expect_v1(dut, ICMPv6MLReport, group)
    dut.expect_none(IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport(mladdr=other), within=QUIET_S)


@pytest.mark.parametrize("field", ["link-local-source", "hop-limit-1", "router-alert"])
@described(2710, "3", MUST,
           "All MLD messages described in this document are sent with a link-local IPv6 Source Address, an "
           "IPv6 Hop Limit of 1, and an IPv6 Router Alert option [RTR-ALERT] in a Hop-by-Hop Options header.")
def test_v1_report_ipv6_header(v1_ready: DUT, field: str) -> None:
    dut, group = v1_ready, _g(8)
    enter_v1_mode(dut)
    dut.join_group(group)
    report = dut.expect(ICMPv6MLReport(mladdr=group), within=0.5)
    raw = bytes(report[IPv6])
    if field == "link-local-source":
        assert report[IPv6].src == str(dut.info.dut_ipv6_ll), f"report from {report[IPv6].src}"
    elif field == "hop-limit-1":
        assert report[IPv6].hlim == 1, f"Hop Limit {report[IPv6].hlim}"
    else:
        assert raw[6] == 0, "no Hop-by-Hop Options header"
        assert b"\x05\x02\x00\x00" in raw[42 : 40 + 8 * (raw[41] + 1)], "no Router Alert option (MLD)"


@rfc("RFC2710-5-1")
def test_v1_query_from_a_global_source_is_ignored(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(9)
    settle(dut, group)
    dut.send(mld_frame(dut, v1_query(mrd=MRD_MS), src=str(dut.info.tester_ipv6)))
    dut.expect_none(ICMPv6MLReport(mladdr=group), within=QUIET_S)
    dut.send(v1_query_frame(dut))  # control
    expect_v1(dut, ICMPv6MLReport, group)


@described(2710, "5", MUST,
           "... using a delay value chosen uniformly from the interval [0, Maximum Response Delay], where "
           "Maximum Response Delay is specified in the Query.")
def test_v1_query_is_answered_within_its_maximum_response_delay(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(10)
    settle(dut, group)
    for _ in range(3):
        dut.send(v1_query_frame(dut, mrd=200))
        expect_v1(dut, ICMPv6MLReport, group, within=0.45)


@described(2710, "4", MUST,
           "If a timer for the address is already running, it is reset to the new random value only if the "
           "requested Maximum Response Delay is less than the remaining value of the running timer.")
def test_v1_query_with_a_shorter_delay_resets_the_timer(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(17)
    settle(dut, group)
    dut.send(v1_query_frame(dut, group, mrd=10000), v1_query_frame(dut, group, mrd=200))
    expect_v1(dut, ICMPv6MLReport, group, within=0.45)


@described(2710, "4", MUST,
           "If a timer for any address is already running, it is reset to the new random value only if the "
           "requested Maximum Response Delay is less than the remaining value of the running timer.")
def test_v1_query_with_a_longer_delay_leaves_the_running_timer(v1_ready: DUT) -> None:
    # The other side of the rule: a General Query asking for 30 s right behind one asking for
    # 0.2 s must leave the timer the first one set. A node that restarted it would answer at a
    # random moment within 30 s: within 0.45 s with chance 1.5 % a round, in all three 3e-6.
    dut, group = v1_ready, _g(26)
    settle(dut, group)
    for _ in range(3):
        dut.send(v1_query_frame(dut, mrd=200), v1_query_frame(dut, mrd=30000))
        expect_v1(dut, ICMPv6MLReport, group, within=0.45)


@described(2710, "4", MUST,
           "If the Query packet specifies a Maximum Response Delay of zero, each timer is effectively set to "
           "zero, and the action specified below for timer expiration is performed immediately.")
def test_v1_query_with_a_zero_delay_is_answered_at_once(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(27)
    settle(dut, group)
    for _ in range(3):
        dut.send(v1_query_frame(dut, mrd=0))
        expect_v1(dut, ICMPv6MLReport, group, within=0.3)


@pytest.mark.parametrize("fault", [
    pytest.param("global-source", marks=rfc("RFC2710-5-2")),
    # RFC 3810 5.2.2 for a node in version 1 compatibility mode: "When a packet is received, the
    # checksum MUST be verified before processing it."
    pytest.param("bad-checksum", marks=rfc("RFC2710-5-2", "RFC3810-5.2.2-1")),
    pytest.param("23-octets", marks=rfc("RFC2710-5-2")),
    # ff02::1 is of link-local scope but no valid source (RFC 4291 2.7: "Multicast addresses must
    # not be used as source addresses in IPv6 packets").
    pytest.param("multicast-source", marks=rfc("RFC2710-5-2")),
])
def test_invalid_report_does_not_suppress_ours(v1_ready: DUT, fault: str) -> None:
    dut, group = v1_ready, _g(18)
    settle(dut, group)
    src = {"global-source": str(dut.info.other_ipv6), "multicast-source": "ff02::1"}.get(fault, "fe80::200:ff:fe00:3")
    report: Packet | bytes = message_bytes(v1_report(group))[:23] if fault == "23-octets" else v1_report(group)
    other = mld_frame(dut, report, dst=group, src=src, mac=dut.info.other_mac)
    if fault == "bad-checksum":
        other = bad_checksum(other, ICMPv6MLReport)
    dut.send(v1_query_frame(dut, mrd=MRD_MS), other)
    expect_v1(dut, ICMPv6MLReport, group)  # the invalid report suppressed nothing


@described(2710, "5", MUST, "Queries are ignored for addresses in the Non-Listener state.")
def test_v1_query_for_a_group_not_listened_to_is_not_answered(v1_ready: DUT) -> None:
    dut, group, absent = v1_ready, _g(19), _g(20)
    settle(dut, group)
    dut.send(v1_query_frame(dut, absent))
    dut.expect_none(ICMPv6MLReport(mladdr=absent), within=QUIET_S)
    dut.send(v1_query_frame(dut, group))  # control
    expect_v1(dut, ICMPv6MLReport, group)


@described(2710, "3.3", MUST,
           "The standard ICMPv6 checksum, covering the entire MLD message plus a \"pseudo-header\" of IPv6 "
           "header fields [ICMPv6,IPv6].")
def test_v1_report_checksum_is_valid(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(21)
    enter_v1_mode(dut)
    dut.join_group(group)
    report = expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    msg = bytes(report[ICMPv6MLReport])[:24]
    want = with_icmpv6_checksum(msg, report[IPv6].src, report[IPv6].dst)[2:4]
    assert msg[2:4] == want, f"checksum {msg[2:4].hex()}, over the pseudo-header it is {want.hex()}"


def _sent_report_and_done(dut: DUT, group: str) -> list[tuple[str, Packet]]:
    """The MLDv1 Report of a join and the Done of the leave after it (the DUT is the last reporter)."""
    enter_v1_mode(dut)
    dut.join_group(group)
    report = expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    dut.leave_group(group)
    done = expect_v1(dut, ICMPv6MLDone, group, within=0.5)
    return [("Report", report), ("Done", done)]


@pytest.mark.parametrize("field", [
    pytest.param("code", marks=described(2710, "3.2", MUST, "Initialized to zero by the sender; ignored by receivers.")),
    pytest.param("maximum-response-delay", marks=described(
        2710, "3.4", MUST, "In all other messages, it is set to zero by the sender and ignored by receivers.")),
    pytest.param("reserved", marks=described(2710, "3.5", MUST,
                                             "Initialized to zero by the sender; ignored by receivers.")),
    pytest.param("checksum", marks=described(
        2710, "3.3", MUST, "The standard ICMPv6 checksum, covering the entire MLD message plus a \"pseudo-header\" "
        "of IPv6 header fields [ICMPv6,IPv6].")),
])
def test_v1_report_and_done_fields(v1_ready: DUT, field: str) -> None:
    # Octets 1 (Code), 4-5 (Maximum Response Delay) and 6-7 (Reserved) of an MLDv1 Report and Done
    # are zero, and octets 2-3 hold the checksum over the pseudo-header (RFC 2710 3).
    dut = v1_ready
    for name, sent in _sent_report_and_done(dut, _g(36)):
        msg = bytes(sent[IPv6].payload)[-24:]  # the 24-octet message after the Hop-by-Hop header
        if field == "checksum":
            want = with_icmpv6_checksum(msg, sent[IPv6].src, sent[IPv6].dst)[2:4]
            assert msg[2:4] == want, f"{name} checksum {msg[2:4].hex()}, over the pseudo-header it is {want.hex()}"
        else:
            at = {"code": slice(1, 2), "maximum-response-delay": slice(4, 6), "reserved": slice(6, 8)}[field]
            assert msg[at] == bytes(at.stop - at.start), f"{name} {field} is 0x{msg[at].hex()}"


# ---- entering and leaving the compatibility mode ------------------------------------------------


@described(3810, "8.2.1", MUST,
           "Whenever a host changes its compatibility mode, it cancels all its pending responses and "
           "retransmission timers.")
def test_return_to_mldv2_cancels_pending_v1_answers(v1_ready: DUT) -> None:
    # An MLDv1 General Query with a Maximum Response Delay of 5 s: six groups' answers are due at
    # random within 5 s, but the compatibility mode it starts ends 2.1 s after it (the fixture's
    # QRV 2 x QQIC 1 s + 0.1 s). Answers due later are cancelled then: from 2.4 s on nothing
    # answers the query, neither an MLDv1 Report nor an MLDv2 Current State Record (all six
    # answers due before 2.1 s, with chance 0.5 %, leave nothing to cancel).
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut = v1_ready
    groups = [_g(0x40 + i) for i in range(6)]
    for group in groups:
        dut.join_group(group)
    dut.wait(1.2)  # the state-change reports and their retransmissions
    dut.send(v1_query_frame(dut, mrd=5000))
    # The mode's 2.1 s run from when the query reached the DUT: by the barrier's reply at the
    # latest (or, on a DUT that may reorder, by when the send returned; a loaded tester can send
    # it well after it meant to). 0.3 s more for a stack that takes queries in from deferred work.
    start = dut.barrier() or dut.now()
    dut.wait(max(0.0, start + 2.4 - dut.now()))
    wanted = {IPv6Address(g) for g in groups}
    dut.expect_none(IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport, since=start + 2.4, within=2.9)
    dut.expect_none(ICMPv6MLReport2, since=start + 2.4, within=2.9,
                    records=lambda recs: any(r[0] in CURRENT_STATE and r[1] in wanted
                                             for r in parse_records(b"".join(bytes(x) for x in recs))))
    dut.send(mld_frame(dut, v2_query(groups[0]), dst=groups[0]))  # control: MLDv2 mode, and listening
    expect_record(dut, groups[0], (MODE_IS_EXCLUDE,))


@described(3810, "8.2.1", MUST,
           "Whenever a host changes its compatibility mode, it cancels all its pending responses and "
           "retransmission timers.")
def test_v1_query_cancels_pending_v2_retransmissions(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut, group = v1_ready, _g(11)
    dut.join_group(group)
    dut.send(v1_query_frame(dut))  # right behind the join: the MLDv2 retransmission is surely pending
    # Reports that left before the DUT took the query in (the state-change report, an answer to
    # the fixture's query) prove nothing; from then on the retransmission, due within 1 s
    # (RFC 3810 9.11), must never come. Linux handles MLD queries in a work queue, after the
    # receive path that answers the barrier's echo: a report QUERY_WORK_S after the reply may
    # still precede the query (a linux soak: 2 ms after it). A DUT that keeps the retransmission,
    # due at a random time within that second, is still seen 95 times in 100.
    answered = dut.barrier()
    opens = (dut.now() if answered is None else answered) + QUERY_WORK_S
    dut.wait(max(0.0, opens - dut.now()))
    no_v2(dut, group, since=opens, within=1.2)
    expect_v1(dut, ICMPv6MLReport, group, within=0.1)  # control: the v1 query was processed


@described(3810, "8.2.1", MUST,
           "Whenever a host changes its compatibility mode, it cancels all its pending responses and "
           "retransmission timers.")
def test_v1_query_cancels_a_pending_v2_specific_query_answer(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    # The answer to an MLDv2 Multicast Address Specific Query about one group is pending (due
    # within 1.5 s) when an MLDv1 query about another group switches the node to MLDv1: the
    # pending answer is cancelled, so the first group is never reported, in either version,
    # while the second is (the control). The mode lasts 2.1 s (the fixture's querier).
    dut = v1_ready
    for attempt in range(ATTEMPTS):
        pending, asked = _g(0x33 + 2 * attempt), _g(0x34 + 2 * attempt)
        settle(dut, pending, asked)
        dut.send(mld_frame(dut, v2_query(pending, mrc=1500), dst=pending), v1_query_frame(dut, asked, mrd=200))
        switched = expect_v1(dut, ICMPv6MLReport, asked, within=0.45)
        answer = _current_state_report(dut, pending)
        if answer is None:
            break
        assert answer.time < switched.time, (
            f"the pending answer about {pending} went out as an MLDv2 report after the switch to MLDv1")
        # Its random delay (RFC 3810 6.2: anywhere up to the 1.5 s) ran out before the node took
        # the MLDv1 query in (a Linux soak run: 1 ms after the query, 6 ms before the next frame
        # left a loaded tester): nothing was pending at the switch. Once back in MLDv2 mode, again.
        dut.wait(OLDER_QUERIER_S + 0.5)
    else:
        pytest.skip(f"the DUT answered each of {ATTEMPTS} MLDv2 queries before it could take in the MLDv1 query "
                    "sent right behind it: no answer was ever pending when its mode changed")
    dut.expect_none(IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport(mladdr=pending), within=1.5)
    late = _current_state_report(dut, pending)
    assert late is None, f"the pending answer about {pending} went out as an MLDv2 report after the switch to MLDv1"


ATTEMPTS: Final = 3


def _current_state_report(dut: DUT, group: str) -> Packet | None:
    """An MLDv2 report the DUT sent so far with a Current State Record (an answer to a query,
    RFC 3810 5.2.12) about ``group``; None if there is none."""
    try:
        return expect_record(dut, group, CURRENT_STATE, within=0)
    except ExpectationFailed:
        return None


@rfc("RFC3810-9.12-1")
def test_node_returns_to_mldv2_after_the_older_version_querier_present_interval(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut = v1_ready
    began = dut.now()
    dut.send(v1_query_frame(dut))
    dut.wait(1.2)
    dut.join_group(_g(12))
    expect_still_v1(dut, _g(12), began=began, lasts=OLDER_QUERIER_S)  # still in MLDv1 mode after 1.2 s
    dut.wait(OLDER_QUERIER_S - 1.2 + 0.5)  # past the interval (+ jitter)
    dut.join_group(_g(13))
    expect_v2(dut, _g(13), within=1.0)  # back in MLDv2 mode: an MLDv2 state-change report
    dut.expect_none(ICMPv6MLReport(mladdr=_g(13)), within=0.3)


@rfc("RFC3810-9.12-1")
def test_v1_mode_lasts_an_announced_robustness_times_the_query_interval(dut: DUT) -> None:
    require_feature(dut, "mldv2")
    # RFC 3810 9.12: "([Robustness Variable] times (the [Query Interval] in the last Query
    # received)) plus ([Query Response Interval])". The querier announces QRV 4, not the default 2
    # (a node that kept its own 2 would be back in MLDv2 mode after 2.1 s): the mode lasts
    # 4 x 1 s + 0.1 s. Linux adopts the announced QRV (mc_qrv), as a node must to follow the
    # querier's timing.
    dut.send(mld_frame(dut, v2_query(mrc=FIXTURE_MRC_MS, qrv=4, qqic=1)))
    dut.expect(ICMPv6MLReport2, within=1.0)  # its answer, for the solicited-node groups
    began = dut.now()
    dut.send(v1_query_frame(dut))
    dut.wait(OLDER_QUERIER_S + 0.5)  # past 2.1 s, well before 4.1 s
    dut.join_group(_g(24))
    expect_still_v1(dut, _g(24), began=began, lasts=4.1)  # still MLDv1
    dut.wait(2.0)  # at least 4.6 s after the MLDv1 query
    dut.join_group(_g(25))
    expect_v2(dut, _g(25), within=1.0)  # back in MLDv2 mode
    dut.expect_none(ICMPv6MLReport(mladdr=_g(25)), within=0.3)


@rfc("RFC3810-9.12-1")
def test_v1_mode_lasts_an_announced_odd_robustness_times_the_query_interval(dut: DUT) -> None:
    require_feature(dut, "mldv2")
    # As above with QRV 3 (an odd value: all three bits of the field count, RFC 3810 5.1.8) and a
    # Query Interval of 2 s: the mode lasts 3 x 2 s + 0.1 s, not the 2 x 2 s + 0.1 s a QRV of 2
    # would give.
    dut.send(mld_frame(dut, v2_query(mrc=FIXTURE_MRC_MS, qrv=3, qqic=2)))
    dut.expect(ICMPv6MLReport2, within=1.0)  # its answer, for the solicited-node groups
    start = dut.now()
    dut.send(v1_query_frame(dut))
    # The query had reached the DUT by the barrier's reply (or, on a DUT that may reorder, had left
    # the tester by the send's return): the mode's end is timed from there, its start from ``start``.
    taken_in = dut.barrier() or dut.now()
    dut.wait(max(0.0, start + 5.0 - dut.now()))  # past 4.1 s, well before 6.1 s
    dut.join_group(_g(26))
    expect_still_v1(dut, _g(26), began=start, lasts=6.1)  # still MLDv1
    dut.wait(max(0.0, taken_in + 6.8 - dut.now()))  # past 6.1 s
    dut.join_group(_g(27))
    expect_v2(dut, _g(27), within=1.0)  # back in MLDv2 mode
    dut.expect_none(ICMPv6MLReport(mladdr=_g(27)), within=0.3)


@described(3810, "5.1.9", MUST,
           "If QQIC >= 128, QQIC represents a floating-point value as follows: ... QQI = (mant | 0x10) << "
           "(exp + 3)")
def test_qqic_of_128_or_more_is_a_floating_point_value(dut: DUT) -> None:
    require_feature(dut, "mldv2")
    # QQIC 0x80 (exp 0, mant 0) is a Query Interval of 128 s, so an MLDv1 query starts a compatibility
    # mode of 2 x 128 s + 0.1 s; a stack that read only the low 7 bits (0 s) would be back in MLDv2
    # mode after 0.1 s.
    dut.set_ipv6_option("force_mld_version", 0)  # the MLDv2 default; the wait needs a control surface
    dut.send(mld_frame(dut, v2_query(mrc=FIXTURE_MRC_MS, qqic=0x80)))
    dut.send(v1_query_frame(dut))
    dut.wait(OLDER_QUERIER_S + 0.5)
    group = _g(22)
    dut.join_group(group)
    expect_v1(dut, ICMPv6MLReport, group, within=0.5)  # still MLDv1 after 2.6 s


@described(3810, "8.2.1", MUST,
           "The Host Compatibility Mode of an interface is set to MLDv1 whenever an MLDv1 Multicast Address "
           "Listener Query is received on that interface.")
def test_v1_query_about_the_all_nodes_address_switches_to_v1_mode(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    # Whatever address the query asks about: ff02::1, which is never reported (RFC 2710 5), too.
    dut, group = v1_ready, _g(28)
    enter_v1_mode(dut, ALL_NODES)
    dut.join_group(group)
    expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    no_v2(dut, group, within=0.3)


@rfc("RFC3810-8.1-1")
def test_short_query_does_not_switch_to_v1_mode(v1_ready: DUT) -> None:
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut, group = v1_ready, _g(14)
    dut.send(mld_frame(dut, message_bytes(v1_query(mrd=MRD_MS))[:20]))  # 20 octets: not an MLD query
    dut.barrier()  # taken in before the join, or a DUT that wrongly switches could still pass
    dut.join_group(group)
    expect_v2(dut, group, within=1.0)  # still MLDv2
    dut.expect_none(ICMPv6MLReport(mladdr=group), within=0.3)


# ---- MLDv1-only node ----------------------------------------------------------------------------


@described(2710, "4", SHOULD,
           "To cover the possibility of the initial Report being lost or damaged, it is recommended that it "
           "be repeated once or twice after short delays [Unsolicited Report Interval].")
def test_v1_unsolicited_report_is_repeated(dut: DUT) -> None:
    as_mldv1_listener(dut)
    dut.set_ipv6_option("mldv1_unsolicited_report_interval", 1)
    group = _g(15)
    dut.join_group(group)
    expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    expect_v1(dut, ICMPv6MLReport, group, within=1.2)


@described(2710, "4", SHOULD,
           "To cover the possibility of the initial Report being lost or damaged, it is recommended that it "
           "be repeated once or twice after short delays [Unsolicited Report Interval].")
def test_v1_unsolicited_report_is_repeated_at_most_twice(dut: DUT) -> None:
    # Once or twice: with an Unsolicited Report Interval of 1 s, every repetition has come 2.2 s
    # after the join, and no fourth Report follows by 3.5 s. A query first announces a
    # Robustness Variable of 3 (QRV, RFC 3810 5.1.8; its first 24 octets are an MLDv1 Query to a
    # node that speaks only MLDv1): a node that repeats its Report [Robustness Variable] - 1
    # times repeats it twice, still within "once or twice".
    as_mldv1_listener(dut)
    dut.set_ipv6_option("mldv1_unsolicited_report_interval", 1)
    dut.send(mld_frame(dut, v2_query(mrc=FIXTURE_MRC_MS, qrv=3)))
    dut.barrier()
    dut.wait(QUERY_TAKEN_S)
    # The 3.5 s run from the first Report's arrival, which the join sends at once (RFC 2710 4:
    # "immediately"): the join is a control call a loaded tester can make well after it noted
    # the time.
    group = _g(35)
    dut.join_group(group)
    joined = dut.now()  # the join was made by now
    sent: list[float] = []
    while True:
        closes = (sent[0] if sent else joined) + 3.5
        try:
            report = expect_v1(dut, ICMPv6MLReport, group, within=max(0.0, closes - dut.now()))
        except ExpectationFailed:
            break
        if sent and float(report.time) > closes:
            break  # read late, but it came after the window closed
        sent.append(float(report.time))
    assert 2 <= len(sent) <= 3, (f"{len(sent)} unsolicited Reports for {group} within 3.5 s of the first, at "
                                 f"{[round(t - sent[0], 3) for t in sent]} s")


@described(2710, "5", MUST_NOT,
           "The node starts in Idle Listener state for that address on every interface, never transitions to "
           "another state, and never sends a Report or Done for that address.")
def test_v1_all_nodes_group_is_never_reported(dut: DUT) -> None:
    as_mldv1_listener(dut)
    group = _g(16)
    settle(dut, group, v1_listener=True)  # the join's own Reports are no answer to the query
    dut.send(v1_query_frame(dut))
    expect_v1(dut, ICMPv6MLReport, group)  # control: the query is answered ...
    dut.expect_none(ICMPv6MLReport(mladdr=ALL_NODES), within=0.3)  # ... but never for ff02::1
    dut.send(v1_query_frame(dut, ALL_NODES))
    dut.expect_none(ICMPv6MLReport(mladdr=ALL_NODES), within=QUIET_S)


# ---- message length (RFC 2710 3.7) and reports to a unicast address (RFC 3810 5.2.14) -------------


@rfc("RFC2710-3.7-1", quote="An implementation of the version of MLD specified in this document MUST NOT send an MLD "
                            "message longer than 24 octets")
def test_v1_reports_and_dones_are_24_octets(v1_ready: DUT) -> None:
    dut, group = v1_ready, _g(30)
    enter_v1_mode(dut)
    dut.join_group(group)
    report = expect_v1(dut, ICMPv6MLReport, group, within=0.5)
    dut.leave_group(group)
    done = expect_v1(dut, ICMPv6MLDone, group, within=0.5)
    for name, msg in (("Report", report), ("Done", done)):
        raw = bytes(msg[IPv6])
        size = len(raw) - 48  # IPv6 header and the 8-octet Hop-by-Hop header
        assert raw[6] == 0 and raw[40] == 58 and size == 24, f"the MLDv1 {name} is {size} octets long"


@rfc("RFC2710-3.7-2")
def test_longer_report_with_the_checksum_over_all_of_it_suppresses_ours(v1_ready: DUT) -> None:
    # Another node's Report with 4 octets more (a later version's), its checksum over all 28:
    # valid, so it is processed (as its first 24 octets) and suppresses the DUT's report.
    dut, group = v1_ready, _g(31)
    settle(dut, group)
    other = mld_frame(dut, message_bytes(v1_report(group)) + b"\x00\x01\x02\x03", dst=group,
                      src="fe80::200:ff:fe00:3", mac=dut.info.other_mac)
    assert_suppressed(dut, [v1_query_frame(dut, mrd=1000), other], IPv6(src=str(dut.info.dut_ipv6_ll)),
                      ICMPv6MLReport(mladdr=group), within=1.3)
    dut.send(v1_query_frame(dut))  # control: without another report the DUT answers
    expect_v1(dut, ICMPv6MLReport, group)


@rfc("RFC3810-5.2.14-1")
def test_v1_report_to_a_unicast_address_of_the_dut_is_processed(v1_ready: DUT) -> None:
    # RFC 3810's requirement of an MLDv2 node: RFC 2710 says nothing of Reports to a unicast address.
    require_feature(v1_ready, "mldv2")
    dut, group = v1_ready, _g(32)
    settle(dut, group)
    other = mld_frame(dut, v1_report(group), dst=str(dut.info.dut_ipv6_ll), src="fe80::200:ff:fe00:3",
                      mac=dut.info.other_mac)
    # The window opens once the DUT has taken in the other listener's Report: a short draw that
    # ran out before it proves nothing (harness.suppression).
    assert_suppressed(dut, [v1_query_frame(dut, mrd=1000), other], IPv6(src=str(dut.info.dut_ipv6_ll)),
                      ICMPv6MLReport(mladdr=group), within=1.3)
    dut.send(v1_query_frame(dut))  # control
    expect_v1(dut, ICMPv6MLReport, group)


@rfc("RFC2710-3.7-2")
def test_v1_listener_answers_an_mldv2_query_as_an_mldv1_query(dut: DUT) -> None:
    # A node that has just become an MLDv1 listener (as_mldv1_listener: natively, or an MLDv2 node
    # told to speak MLDv1) takes the first 24 octets of a 28-octet MLDv2 Query, a Multicast
    # Address Specific Query for its group, and answers it with an MLDv1 Report. The group was
    # joined before, so nothing but the query tells the node anything after the change.
    group = _g(37)
    settle(dut, group)
    if "mldv2" in dut.features:
        dut.wait(1.2)  # the MLDv2 state-change report's retransmission (Unsolicited Report Interval 1 s)
        flush_reports(dut)
    as_mldv1_listener(dut)
    dut.send(mld_frame(dut, v2_query(group, mrc=MRD_MS), dst=group))
    expect_v1(dut, ICMPv6MLReport, group)
    dut.expect_none(ICMPv6MLReport2, within=0.3, records=has_record(group, CURRENT_STATE))


@described(3810, "8.2.1", MUST,
           "When Host Compatibility Mode is MLDv1, a host acts in MLDv1 compatibility mode, using only the "
           "MLDv1 protocol, on that interface.")
def test_v1_listener_sends_no_mldv2_report_once_its_link_local_is_valid(dut: DUT) -> None:
    # An MLDv2 node sends its groups' reports again once its link-local address is valid (RFC 3810
    # 5.2.13): as an MLDv1 listener it does so, if at all, in MLDv1 Reports, never in MLDv2 ones.
    # After the link restart the link-local address is tentative for about 1 s (one DAD probe).
    as_mldv1_listener(dut)
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("dad_transmits", 1)
    dut.set_ipv6_option("retrans_time", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    group = _g(38)
    dut.join_group(group)
    dut.wait(1.1)
    consume_all(dut, IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport)
    flush_reports(dut)
    dut.restart_link()
    # Control: the group is reported again, in MLDv1 (from :: while the link-local is tentative).
    dut.expect(ICMPv6MLReport(mladdr=group), within=1.0)
    dut.expect_none(ICMPv6MLReport2, within=2.5)


@described(3810, "8.2.1", MUST,
           "The Host Compatibility Mode of an interface is set to MLDv1 whenever an MLDv1 Multicast Address "
           "Listener Query is received on that interface.")
def test_mldv1_querier_heard_still_counts_after_a_forced_version_is_lifted(v1_ready: DUT) -> None:
    # An MLDv1 Query starts the Older Version Querier Present timer (2.1 s here). Telling the node
    # to speak MLDv1 (force_mld_version 1) and back (0) within that time changes nothing about
    # the querier it heard: a join after that is still reported in MLDv1.
    require_feature(v1_ready, "mldv2")  # the compatibility mode of an MLDv2 node
    dut = v1_ready
    began = dut.now()
    enter_v1_mode(dut)
    dut.set_ipv6_option("force_mld_version", 1)
    dut.join_group(_g(39))  # a use of the setting while it is in force
    expect_v1(dut, ICMPv6MLReport, _g(39), within=0.5)
    dut.set_ipv6_option("force_mld_version", 0)
    dut.join_group(_g(40))
    report = expect_still_v1(dut, _g(40), began=began, lasts=OLDER_QUERIER_S)
    # Nor is it reported in MLDv2 besides (timed from the MLDv1 Report). An MLDv2 report that
    # left once the mode may have ended (a loaded tester got this far late) is no fault.
    try:
        extra = expect_v2(dut, _g(40), within=max(0.0, float(report.time) + 0.3 - dut.now()))
    except ExpectationFailed:
        return
    after = float(extra.time) - float(report.time)
    if after > 0.3:
        return  # read late, but it came after the window closed
    if float(extra.time) >= began + OLDER_QUERIER_S:
        pytest.skip(f"an MLDv2 report about {_g(40)} left {float(extra.time) - began:.2f} s after the MLDv1 query "
                    f"was sent (a loaded tester got this far that late), when the {OLDER_QUERIER_S}-s "
                    "compatibility mode may rightly have ended: too slow to tell whether the querier still counts")
    raise AssertionError(f"the join of {_g(40)} was also reported in MLDv2, {after:.3f} s after its MLDv1 Report, "
                         f"{float(extra.time) - began:.2f} s after the MLDv1 query")

"""IGMPv2 host behaviour (RFC 2236) and the compatibility modes of an IGMPv3 host (RFC 3376
§7.2.1, RFC 2236 §4): after hearing a v2 (or v1) query the host answers queries and reports
joins in that version, sends Leave Group, and suppresses its report when another host reports.

The older-version mode lasts the Older Version Querier Present Timeout, Robustness Variable x
Query Interval + Query Response Interval (RFC 3376 8.12), which would be 260 s or more with the
defaults. Each test first sends a v3 query announcing a 1 s Query Interval, so the mode lasts
about 2 s after the last old query: a test can see it end. The DUT's reset before the next test
forgets the mode (every backend returns to the state right after set-up), so no test waits it
out for the next one. IGMP messages come from ``harness.igmp``.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from typing import Final

import pytest
from scapy.layers.inet import IP
from scapy.packet import Packet
from scapy.utils import checksum

from harness import DUT, MUST, SHOULD, ExpectationFailed, described, rfc
from harness.features import require_feature
from harness.igmp import (
    ALL_ROUTERS,
    ALL_SYSTEMS,
    LEAVE,
    QUERY,
    ROUTER_ALERT,
    V1_REPORT,
    V2_REPORT,
    V3_REPORT,
    V3_REPORTS_TO,
    igmp_frame,
    igmp_of,
    message,
    v3_query,
    v3_records,
    with_checksum,
)
from harness.rfc import MUST_NOT
from harness.suppression import assert_suppressed

GROUP: Final = "224.1.2.3"
OTHER_GROUP: Final = "224.1.2.4"
MRC: Final = 5  # 0.5 s
FIXTURE_MRC: Final = 2  # 0.2 s: the fixture's v3 query, which nothing answers
QUIET_S: Final = 0.7
JITTER_S: Final = 0.3
# A DUT's response timer fires a little after its nominal moment (timer granularity, deferred
# work: Linux adds 2 jiffies to the random delay and rounds it to its timer wheel).
TIMER_SLACK_S: Final = 0.1


def _expect_report(dut: DUT, kind: int, group: str | None, within: float = QUIET_S) -> Packet:
    """The next IGMP message of type ``kind`` about ``group`` (None: any) from the DUT (others
    are consumed)."""
    seen = []
    while True:
        try:
            msg = dut.expect(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=within)
        except ExpectationFailed:
            raise ExpectationFailed(f"no IGMP type 0x{kind:02x} for {group}; seen {seen}") from None
        body = igmp_of(msg)
        seen.append((hex(body[0]), msg[IP].dst))
        if body[0] == kind and (group is None or body[4:8] == IPv4Address(group).packed):
            return msg


def _report_about(dut: DUT, group: str | None, within: float) -> Packet:
    """The next IGMP report (v1, v2 or v3) from the DUT about ``group`` (None: any), whatever its
    version (others are consumed)."""
    seen, deadline = [], dut.now() + within
    while True:
        try:
            msg = dut.expect(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=max(0.0, deadline - dut.now()))
        except ExpectationFailed:
            raise ExpectationFailed(f"no IGMP report about {group}; seen {seen}") from None
        body = igmp_of(msg)
        seen.append((hex(body[0]), msg[IP].dst))
        if body[0] == V3_REPORT:
            if group is None or any(g == group for _, g in v3_records(msg)):
                return msg
        elif body[0] in (V1_REPORT, V2_REPORT) and (group is None or body[4:8] == IPv4Address(group).packed):
            return msg


def _reported_in_older_version(dut: DUT, kind: int, group: str | None, *, began: float, lasts: float,
                               within: float = 0.5) -> Packet:
    """The report about ``group`` (None: any) that a join or a query just sent asks for, which
    must be of type ``kind``: the older version of a mode that began no earlier than ``began``
    (the tester's clock before it sent the older query) and lasts at least ``lasts`` seconds
    (RFC 3376 8.12). A loaded tester can make the join, or send the query, so late that the
    mode may rightly have ended: a report of another version that left at ``began + lasts`` or
    later, or none in a window that reached that far (RFC 3376 7.2.1: the change of mode
    cancels pending responses), tells nothing, and the test skips saying so."""
    ends = began + lasts
    opened = dut.now()
    try:
        msg = _report_about(dut, group, within)
    except ExpectationFailed:
        if opened + within >= ends:
            pytest.skip(f"no report about {group} in a window that opened {opened - began:.2f} s after the older "
                        f"query was sent (a loaded tester), so late that the {lasts}-s older version mode may "
                        "rightly have ended and cancelled the response: nothing can be told")
        raise
    sent = igmp_of(msg)[0]
    if sent != kind and float(msg.time) >= ends:
        pytest.skip(f"the report about {group} (IGMP type 0x{sent:02x}) left {float(msg.time) - began:.2f} s after "
                    f"the older query was sent (a loaded tester was that late), when the {lasts}-s older version "
                    "mode may rightly have ended: nothing can be told")
    assert sent == kind, (f"IGMP type 0x{sent:02x}, not 0x{kind:02x}, about {group}, "
                          f"{float(msg.time) - began:.2f} s after the older query, within the {lasts}-s mode")
    return msg


def _settle(host: Host, *groups: str) -> None:
    dut = host.dut
    host.join(*groups)
    dut.wait(1.1)
    while True:
        try:
            dut.expect(IP(proto=2), within=0)
        except ExpectationFailed:
            return


class Host:
    """The DUT as an IGMP host, set up by the fixture."""

    def __init__(self, dut: DUT) -> None:
        self.dut = dut

    def join(self, *groups: str) -> None:
        for group in groups:
            self.dut.join_group(group)


def _joins_in_v3_mode(host: Host, group: str) -> None:
    """Join ``group`` and see it reported the IGMPv3 way (the host is back in IGMPv3 mode), in a
    v3 report and not in a v2 one to the group."""
    dut = host.dut
    host.join(group)
    while True:
        report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=1.0)
        if any(g == group for _, g in v3_records(report)):
            break
    dut.expect_none(IP(proto=2, dst=group), within=0.3)


@pytest.fixture
def host(dut: DUT) -> Host:
    # A v3 general query with QRV 2 and QQIC 1 s (RFC 3376 4.1.6, 4.1.7); no group is joined
    # yet, so nothing answers it, once its response timer (up to Max Resp Time) has run out: the
    # answer reports the state when the timer expires (RFC 3376 5.2), so a group a test joined
    # before then would show in a current-state report in the middle of the test. The timer
    # starts when the DUT takes the query in, which the barrier's reply shows (a linux run under
    # load: the wait timed from the send ended first, and a report of the test's group came).
    dut.send(igmp_frame(dut, v3_query(mrc=FIXTURE_MRC, qrv=2, qqic=1)))
    dut.barrier()
    dut.wait(FIXTURE_MRC / 10 + TIMER_SLACK_S)
    return Host(dut)


@described(2236, "3", MUST,
           "When a host receives a General Query, it sets delay timers for each group (excluding the "
           "all-systems group) of which it is a member on the interface from which it received the query.")
def test_v2_general_query_is_answered_with_a_v2_report(dut: DUT, host: Host) -> None:
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    report = _expect_report(dut, V2_REPORT, GROUP)
    assert report[IP].dst == GROUP, f"the v2 report went to {report[IP].dst}, not to the group"


@described(2236, "3", MUST,
           "When a host receives a Group-Specific Query, it sets a delay timer to a random value selected "
           "from the range (0, Max Response Time] as above for the group being queried if it is a member on "
           "the interface from which it received the query.")
def test_v2_group_specific_query_is_answered_for_that_group_only(dut: DUT, host: Host) -> None:
    _settle(host, GROUP, OTHER_GROUP)
    dut.send(igmp_frame(dut, message(QUERY, MRC, GROUP), dst=GROUP))
    _expect_report(dut, V2_REPORT, GROUP)
    with pytest.raises(ExpectationFailed):
        _expect_report(dut, V2_REPORT, OTHER_GROUP, within=QUIET_S)


@described(2236, "3", MUST,
           "If a timer for the group is already running, it is reset to the random value only if the requested "
           "Max Response Time is less than the remaining value of the running timer.")
def test_v2_query_with_a_longer_max_response_time_leaves_the_running_timer(dut: DUT, host: Host) -> None:
    # A General Query asking for 25.5 s (Max Resp Time 255) right behind one asking for 0.2 s
    # must leave the timer the first one set. A host that restarted it would answer at a random
    # moment within 25.5 s: within 0.45 s with chance 1.8 % a round, in all three 6e-6.
    _settle(host, GROUP)
    for _ in range(3):
        dut.send(igmp_frame(dut, message(QUERY, 2)), igmp_frame(dut, message(QUERY, 255)))
        _expect_report(dut, V2_REPORT, GROUP, within=0.45)


@described(2236, "3", SHOULD,
           "When a host joins a multicast group, it should immediately transmit an unsolicited Version 2 "
           "Membership Report for that group, in case it is the first member of that group on the network.")
def test_join_in_v2_mode_sends_an_unsolicited_v2_report(dut: DUT, host: Host) -> None:
    dut.send(igmp_frame(dut, message(QUERY, MRC)))  # a v2 querier is present; no group joined yet
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    report = _expect_report(dut, V2_REPORT, GROUP, within=0.5)
    assert report[IP].dst == GROUP


@rfc("RFC2236-3-3", "RFC2236-9-2", "RFC3376-4-1", "RFC3376-7.2.1-1")
def test_leave_in_v2_mode_sends_leave_group_to_all_routers(dut: DUT, host: Host) -> None:
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    _expect_report(dut, V2_REPORT, GROUP, within=0.5)  # the DUT is the last reporter
    dut.leave_group(GROUP)
    leave = _expect_report(dut, LEAVE, GROUP, within=0.5)
    assert leave[IP].dst == ALL_ROUTERS, f"Leave Group sent to {leave[IP].dst}"


@rfc("RFC2236-3-3")
def test_leave_after_answering_a_query_sends_leave_group(dut: DUT, host: Host) -> None:
    # The group was joined in IGMPv3 mode, so the v2 Report that answers the query is the DUT's
    # only v2 one: it makes the DUT "the last host to reply to a Query" (the state diagram of
    # RFC 2236 6: "timer expired (send report, set flag)").
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, 2)))
    _expect_report(dut, V2_REPORT, GROUP, within=0.5)
    dut.leave_group(GROUP)
    leave = _expect_report(dut, LEAVE, GROUP, within=0.5)
    assert leave[IP].dst == ALL_ROUTERS, f"Leave Group sent to {leave[IP].dst}"


@described(2236, "6", SHOULD,
           "A Membership Report applies only to the membership in the group identified by the Membership "
           "Report, on the interface from which the Membership Report is received.  It is ignored for "
           "memberships in the Non-Member or Idle Member state.")
def test_report_heard_while_idle_leaves_the_last_reporter_flag(dut: DUT, host: Host) -> None:
    # After answering the query the DUT is an Idle Member with the flag set; another host's
    # Report then changes nothing ("report received" is ignored in Idle Member state: only the
    # Delaying Member's arc clears the flag), so leaving still sends Leave Group (RFC 2236 3:
    # "if it was the last host to reply to a Query ... it SHOULD send a Leave Group message").
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, 2)))
    _expect_report(dut, V2_REPORT, GROUP, within=0.5)
    dut.send(_other_hosts_report(dut, message(V2_REPORT, 0, GROUP)))
    # The Report is taken in before the leave: a kernel may hand a received frame to deferred
    # work, and a leave that overtakes it finds the flag still set whatever the Report would do.
    dut.barrier()
    dut.leave_group(GROUP)
    _expect_report(dut, LEAVE, GROUP, within=0.5)


@described(2236, "3", MUST,
           "If the host receives another host's Report (version 1 or 2) while it has a timer running, it "
           "stops its timer for the specified group and does not send a Report, in order to suppress "
           "duplicate Reports.")
def test_another_hosts_report_suppresses_ours(dut: DUT, host: Host) -> None:
    _settle(host, GROUP)
    other_report = igmp_frame(dut, message(V2_REPORT, 0, GROUP), dst=GROUP, src=str(dut.info.other_ipv4))
    other_report.src = dut.info.other_mac
    assert_suppressed(dut, [igmp_frame(dut, message(QUERY, MRC)), other_report],
                      IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))  # control: without the other report it answers
    _expect_report(dut, V2_REPORT, GROUP)


@rfc("RFC2236-4-4", "RFC3376-7.2.1-1")
def test_join_after_a_v1_query_sends_a_v1_report(dut: DUT, host: Host) -> None:
    dut.send(igmp_frame(dut, message(QUERY, 0)))  # Max Resp Time 0: an IGMPv1 query
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    report = _expect_report(dut, V1_REPORT, GROUP, within=0.5)
    assert report[IP].dst == GROUP


@described(2236, "2", MUST,
           "All IGMP messages described in this document are sent with IP TTL 1, and contain the IP Router "
           "Alert option [RFC 2113] in their IP header.")
def test_v2_report_has_ttl_1_and_router_alert(dut: DUT, host: Host) -> None:
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    report = _expect_report(dut, V2_REPORT, GROUP, within=0.5)
    ip = bytes(report[IP])
    assert report[IP].ttl == 1, f"TTL {report[IP].ttl}"
    assert ROUTER_ALERT in ip[20 : (ip[0] & 0x0F) * 4], "no Router Alert option"


@described(2236, "6", MUST_NOT,
           "The all-systems group (address 224.0.0.1) is handled as a special case. The host starts in Idle "
           "Member state for that group on every interface, never transitions to another state, and never "
           "sends a report for that group.")
def test_all_systems_group_is_never_reported_to_a_v2_querier(dut: DUT, host: Host) -> None:
    # The same rule as test_rfc3376_igmpv3.py's, asked with IGMPv2 queries so that it holds a
    # host that speaks only IGMPv2 to it too.
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    dut.expect_none(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    dut.send(igmp_frame(dut, message(QUERY, MRC, ALL_SYSTEMS), dst=ALL_SYSTEMS))
    dut.expect_none(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    _settle(host, GROUP)  # control: with a group joined, the same query is answered
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    _expect_report(dut, V2_REPORT, GROUP)


@rfc("RFC3376-8.12-1")
def test_v2_mode_lasts_an_announced_robustness_times_the_query_interval(dut: DUT, host: Host) -> None:
    # RFC 3376 8.12: the Older Version Querier Present Timeout "MUST be ([Robustness Variable]
    # times (the [Query Interval] in the last Query received)) plus ([Query Response Interval])".
    # The querier announces QRV 4, not the default 2 (a host that kept its own 2 would be back in
    # IGMPv3 mode after 2 x 1 s + 0.5 s): the mode lasts 4 x 1 s plus at most the 0.5 s Max Resp
    # Time. Linux adopts the announced QRV (mr_qrv), and so must a host that is to follow the
    # querier's timing.
    require_feature(dut, "igmpv3")  # the mode ends in a return to IGMPv3, which an IGMPv2-only host has not
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=4, qqic=1)))
    began = dut.now()
    dut.send(igmp_frame(dut, message(QUERY, MRC)))  # a v2 querier: IGMPv2 mode starts now
    dut.wait(3.2)  # past 2.5 s, well before 4 s
    host.join(GROUP)
    _reported_in_older_version(dut, V2_REPORT, GROUP, began=began, lasts=4.0)  # still IGMPv2
    dut.wait(1.8)  # at least 5.0 s after the v2 query: past 4.5 s
    _joins_in_v3_mode(host, OTHER_GROUP)


@rfc("RFC2236-4-1")
def test_v1_query_max_response_time_of_zero_is_taken_as_ten_seconds(dut: DUT, host: Host) -> None:
    # "The IGMPv1 router will send General Queries with the Max Response Time set to 0. This MUST
    # be interpreted as a value of 100 (10 seconds)." Each group's report comes at a random moment
    # within 10 s: all 16 arrive by then, and they are spread over it (all 16 within the first
    # 2.5 s would happen by chance once in 4 billion runs; a host that took the 0 literally sends
    # them at once). 16 groups stay below Linux's igmp_max_memberships of 20. A Query Interval of
    # 6 s keeps the IGMPv1 mode (2 x 6 s plus a Query Response Interval of at most 10 s) from
    # ending, and cancelling the pending reports (RFC 3376 7.2.1), before the 10 s are over.
    groups = [f"224.1.3.{i}" for i in range(1, 17)]
    _settle(host, *groups)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=2, qqic=6)))
    _settle(host)  # its answer, the current-state report
    dut.send(igmp_frame(dut, message(QUERY, 0)))
    # The query had left by now (a loaded tester may send it well after it was built): the 10 s
    # run from here, and a report "within 2.5 s" is one within 2.5 s of this instant at the latest.
    start = dut.now()
    times: dict[str, float] = {}
    while len(times) < len(groups):
        left = start + 10.0 + JITTER_S - dut.now()
        try:
            msg = dut.expect(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=max(0.0, left))
        except ExpectationFailed:
            raise ExpectationFailed(f"within 10 s of the v1 query only {sorted(times)} were reported") from None
        body = igmp_of(msg)
        group = str(IPv4Address(body[4:8]))
        if body[0] == V1_REPORT and group in groups:
            times.setdefault(group, msg.time - start)
    assert max(times.values()) > 2.5, f"every report came within 2.5 s of the query: {sorted(times.values())}"


# ---- message format (RFC 2236 2) -------------------------------------------------------------------

@pytest.mark.parametrize("kind", [V1_REPORT, V2_REPORT, LEAVE], ids=["v1-report", "v2-report", "leave"])
@rfc("RFC2236-2.3-1")
def test_sent_messages_carry_a_valid_checksum(dut: DUT, host: Host, kind: int) -> None:
    # RFC 2236 2.3: "the 16-bit one's complement of the one's complement sum of the whole IGMP
    # message": summed with its checksum in place, a correct message gives all ones (0 after
    # Scapy's final complement).
    dut.send(igmp_frame(dut, message(QUERY, 0 if kind == V1_REPORT else MRC)))
    # The query is taken in before the join: one the join overtook would cancel the join's IGMPv3
    # report on its switch to the older version (RFC 3376 7.2.1) and ask for none before its 10 s
    # (a linux soak run: nothing within 0.5 s).
    dut.barrier()
    host.join(GROUP)
    sent = _expect_report(dut, V1_REPORT if kind == V1_REPORT else V2_REPORT, GROUP, within=0.5)
    if kind == LEAVE:
        dut.leave_group(GROUP)
        sent = _expect_report(dut, LEAVE, GROUP, within=0.5)
    body = igmp_of(sent)
    assert checksum(body) == 0, f"IGMP type 0x{body[0]:02x} with checksum 0x{body[2:4].hex()} does not verify"


# ---- report suppression (RFC 2236 3, 5; RFC 3376 4.2.14) ------------------------------------------

def _other_hosts_report(dut: DUT, msg: bytes, dst: str = GROUP) -> Packet:
    frame = igmp_frame(dut, msg, dst=dst, src=str(dut.info.other_ipv4))
    frame.src = dut.info.other_mac
    return frame


def _assert_suppressed(dut: DUT, report: Packet) -> None:
    """In v2 mode with GROUP joined: a General Query and ``report`` back to back (the report
    arrives long before the DUT's randomly delayed answer) leave the DUT silent; the same query
    alone is answered (the positive control)."""
    assert_suppressed(dut, [igmp_frame(dut, message(QUERY, MRC)), report], IP(proto=2, src=str(dut.info.dut_ipv4.ip)),
                      within=QUIET_S)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    _expect_report(dut, V2_REPORT, GROUP)


@pytest.mark.parametrize("version", [V1_REPORT, V2_REPORT], ids=["v1-report", "v2-report"])
@rfc("RFC2236-5-1")
def test_v1_and_v2_reports_of_another_host_suppress_ours(dut: DUT, host: Host, version: int) -> None:
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))  # into IGMPv2 mode
    _expect_report(dut, V2_REPORT, GROUP)
    _assert_suppressed(dut, _other_hosts_report(dut, message(version, 0, GROUP)))


@rfc("RFC2236-2.5-1")
def test_octets_past_the_first_eight_of_a_report_are_ignored(dut: DUT, host: Host) -> None:
    # A v2 Report with four more octets, its checksum over all twelve (RFC 2236 2.3: "the whole
    # IGMP message"): read as the 8-octet report it starts with, it suppresses ours.
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    _expect_report(dut, V2_REPORT, GROUP)
    long_report = with_checksum(message(V2_REPORT, 0, GROUP) + b"\xde\xad\xbe\xef")
    _assert_suppressed(dut, _other_hosts_report(dut, long_report))


@rfc("RFC3376-4.2.14-1")
def test_v2_report_to_the_unicast_address_suppresses_ours(dut: DUT, host: Host) -> None:
    # RFC 3376's requirement of an IGMPv3 system: RFC 2236 says nothing of Reports to a unicast address.
    require_feature(dut, "igmpv3")
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    _expect_report(dut, V2_REPORT, GROUP)
    _assert_suppressed(dut, _other_hosts_report(dut, message(V2_REPORT, 0, GROUP), dst=str(dut.info.dut_ipv4.ip)))


# ---- IGMPv1 queriers (RFC 2236 4; RFC 3376 7.2.1) ---------------------------------------------------

V1_GROUPS: Final = tuple(f"224.1.3.{i}" for i in range(1, 9))


class _V1Querier:
    """IGMPv1 General Queries every 1.5 s, which keep the host in IGMPv1 mode: after each it lasts
    the Older Version Querier Interval, at least 2 s here (the fixture's Robustness Variable 2
    times its Query Interval of 1 s, RFC 3376 8.12). A loaded tester can send one late; the
    longest stretch from one query's send to the next one's is kept: once it reaches 2 s the
    host may rightly have returned to IGMPv3 mode and cancelled its pending reports (RFC 3376
    7.2.1: "Whenever a host changes its compatibility mode, it cancels all its pending response
    and retransmission timers"), and a test cannot tell."""

    LASTS_S: Final = 2.0

    def __init__(self, dut: DUT, group: str = "0.0.0.0") -> None:
        self.dut, self.group, self.longest = dut, group, 0.0
        self.previous = dut.now()  # the first query cannot leave before this
        dut.send(igmp_frame(dut, message(QUERY, 0, group)))
        self.first = dut.now()  # ... nor after this
        self.next_query = self.first + 1.5

    def keep_up(self) -> None:
        """Send the next query if it is due."""
        if self.dut.now() < self.next_query:
            return
        before = self.dut.now()
        self.dut.send(igmp_frame(self.dut, message(QUERY, 0, self.group)))
        self.longest = max(self.longest, self.dut.now() - self.previous)
        self.previous = before
        self.next_query += 1.5

    def skip_if_lapsed(self, seen: str) -> None:
        if self.longest >= self.LASTS_S:
            pytest.skip(f"{seen}; but the tester (loaded) let up to {self.longest:.2f} s pass between two IGMPv1 "
                        f"queries, which keep the host in IGMPv1 mode for {self.LASTS_S} s each (RFC 3376 8.12): "
                        "it may rightly have returned to IGMPv3 mode and cancelled its pending reports (RFC 3376 "
                        "7.2.1), so nothing can be told")


@rfc("RFC2236-4-1", "RFC3376-7.2.1-3")
def test_v1_query_max_response_time_is_read_as_ten_seconds(dut: DUT, host: Host) -> None:
    # Eight groups, each answered after its own random delay in (0, 10 s]: all within 10 s, and
    # not all at once (with delays drawn from up to 10 s, eight below 1 s has chance 1e-8). A v1
    # query now and then keeps the host in IGMPv1 mode; it leaves running timers alone (RFC 2236
    # 3: reset "only if the requested Max Response Time is less than the remaining value").
    _settle(host, *V1_GROUPS)
    querier = _V1Querier(dut)
    start = querier.first  # the first query had left by then: the 10 s run from here at the latest
    answered: dict[str, float] = {}
    while len(answered) < len(V1_GROUPS):
        querier.keep_up()
        left = start + 10.5 - dut.now()
        try:  # once the time is up, the reports that came meanwhile are still read
            msg = dut.expect(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=max(0.0, min(0.25, left)))
        except ExpectationFailed:
            if left <= 0:
                break
            continue
        body = igmp_of(msg)
        group = str(IPv4Address(body[4:8]))
        if body[0] != V1_REPORT:
            querier.skip_if_lapsed(f"IGMP type 0x{body[0]:02x} for {group}")
        assert body[0] == V1_REPORT, f"IGMP type 0x{body[0]:02x} for {group} in IGMPv1 mode"
        answered.setdefault(group, round(float(msg.time) - start, 3))
    missing = sorted(g for g in V1_GROUPS if answered.get(g, 10.5) >= 10.5)
    if missing:
        querier.skip_if_lapsed(f"no report for {missing}")
    assert not missing, f"no report within 10 s of the v1 query for {missing} (answered: {answered})"
    assert max(answered.values()) > 1.0, f"every group answered within 1 s of a v1 query: {answered}"


@rfc("RFC2236-4-2", "RFC2236-4-3")
def test_v1_querier_state_follows_the_v1_query_heard_not_the_last_query(dut: DUT, host: Host) -> None:
    # The fixture's v3 query set Robustness 2 and Query Interval 1 s, so a v1 query is "heard in
    # the last [Version 1 Router Present Timeout]" for 2 s (RFC 3376 8.12; 2.5 s counting a Query
    # Response Interval of 0.5 s). The v2 query right after it (MRC 2) cuts the report delay the
    # v1 query started (up to 10 s) to 0.2 s.
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, message(QUERY, 0)), igmp_frame(dut, message(QUERY, 2)))
    sent = dut.now()  # the v1 query had left by then (a loaded tester may send it late)
    _expect_report(dut, V1_REPORT, GROUP, within=0.5)  # the last query heard is a v2 one
    # Once the v1 query is older than the timeout, v2 queries are answered in v2.
    dut.wait(max(0.0, sent + 3.5 - dut.now()))
    dut.send(igmp_frame(dut, message(QUERY, 2)))
    _expect_report(dut, V2_REPORT, GROUP, within=0.5)


def _without_router_alert(frame: Packet) -> Packet:
    frame[IP].options = []
    return frame


@rfc("RFC3376-9.1-2")
def test_v2_query_without_router_alert_is_ignored(dut: DUT, host: Host) -> None:
    # RFC 3376 9.1 names v2 Queries as well as v3 ones (test_rfc3376_igmpv3.py asks the v3 case).
    _settle(host, GROUP)
    dut.send(_without_router_alert(igmp_frame(dut, message(QUERY, 2))))
    dut.expect_none(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    dut.send(igmp_frame(dut, message(QUERY, 2)))  # control: the same query with Router Alert
    _expect_report(dut, V2_REPORT, GROUP, within=0.5)


@rfc("RFC2236-4-3", "RFC3376-9.1-2",
     quote="This variable MUST be based upon whether or not an IGMPv1 query was heard in the last [Version 1 "
           "Router Present Timeout] seconds, and MUST NOT be based upon the type of the last Query heard.")
def test_v1_query_without_router_alert_is_heard(dut: DUT, host: Host) -> None:
    # An IGMPv1 router (RFC 1112) predates the Router Alert option (RFC 2113), and RFC 3376 9.1 lets
    # a host ignore only "v2 or v3 Queries" without it: a v1 Query without one is still heard. The
    # v2 query right behind it (MRC 2, with Router Alert) cuts the report delay to 0.2 s; the
    # report is a v1 one only if the v1 query was heard.
    _settle(host, GROUP)
    dut.send(_without_router_alert(igmp_frame(dut, message(QUERY, 0))), igmp_frame(dut, message(QUERY, 2)))
    _expect_report(dut, V1_REPORT, GROUP, within=0.5)


@rfc("RFC2236-6-1")
def test_no_leave_group_while_a_v1_querier_is_present(dut: DUT, host: Host) -> None:
    # The v1 query keeps the host in IGMPv1 mode for at least 2 s (the fixture's Robustness
    # Variable 2 times its Query Interval of 1 s, RFC 3376 8.12); past that, a loaded tester's
    # leave may rightly be reported the IGMPv3 way.
    began = dut.now()
    dut.send(igmp_frame(dut, message(QUERY, 0)))
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    _reported_in_older_version(dut, V1_REPORT, GROUP, began=began, lasts=2.0)
    dut.leave_group(GROUP)
    try:
        sent = dut.expect(IP(proto=2, src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    except ExpectationFailed:
        sent = None
    if sent is not None:
        if float(sent.time) >= began + 2.0:
            pytest.skip(f"IGMP type 0x{igmp_of(sent)[0]:02x} after the leave, {float(sent.time) - began:.2f} s after "
                        "the v1 query was sent (a loaded tester was that late), when the 2-s IGMPv1 mode may "
                        "rightly have ended: nothing can be told")
        raise AssertionError(f"IGMP type 0x{igmp_of(sent)[0]:02x} sent on leaving {GROUP} while a v1 querier is "
                             "present")
    # Control: the host still speaks IGMP here (a join is reported, in v1).
    host.join(OTHER_GROUP)
    _reported_in_older_version(dut, V1_REPORT, OTHER_GROUP, began=began, lasts=2.0)


@rfc("RFC3376-8.12-1")
def test_older_version_querier_present_timeout_follows_the_last_v3_query(dut: DUT, host: Host) -> None:
    require_feature(dut, "igmpv3")  # RFC 3376's rule: a host speaking only IGMPv2 has no v3 mode to return to
    # RFC 3376 8.12: Robustness Variable x the Query Interval "in the last Query received" plus
    # one Query Response Interval. After a v3 query with QRV 2 and QQIC 2 s that is 4 s plus a
    # Query Response Interval between 0 and 10 s (RFC 3376 8.3's default): IGMPv2 mode must hold
    # 3 s after the v2 query, and must be over 14.5 s after it. (The defaults, 2 x 125 + 10 s,
    # would keep it for 260 s.)
    _settle(host, GROUP)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=2, qqic=2)))
    dut.wait(QUIET_S)  # its answer
    start = dut.now()
    dut.send(igmp_frame(dut, message(QUERY, MRC)))
    sent = dut.now()  # the v2 query left between ``start`` and now (a loaded tester may be slow to send)
    _expect_report(dut, V2_REPORT, GROUP)
    dut.wait(max(0.0, start + 3.0 - dut.now()))
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=2, qqic=2)))
    # A v3 query, answered in IGMPv2 mode (which lasts at least 4 s from the v2 query's send).
    _reported_in_older_version(dut, V2_REPORT, GROUP, began=start, lasts=4.0, within=QUIET_S)
    dut.wait(max(0.0, sent + 14.5 - dut.now()))
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=2, qqic=2)))
    _expect_report(dut, V3_REPORT, None)  # IGMPv3 again: a Version 3 Report


@described(3376, "7.1", MUST, "IGMPv1 Query: length = 8 octets AND Max Resp Code field is zero")
def test_v1_query_group_field_is_ignored(dut: DUT, host: Host) -> None:
    # What makes a query an IGMPv1 one is its length and Max Resp Code, and "An IGMPv1 router will
    # send General Queries" (RFC 3376 7.2.1); its Group Address is "zeroed when sent, ignored when
    # received" (RFC 1112 appendix I).
    # A v1 query (Max Resp Code 0) whose Group Address field names GROUP is still a General Query:
    # OTHER_GROUP is reported too, within the 10 s a v1 query allows (RFC 2236 4). A v1 query
    # every 1.5 s keeps the host in IGMPv1 mode (the fixture's Query Interval is 1 s); it leaves
    # running timers alone (RFC 2236 3).
    _settle(host, GROUP, OTHER_GROUP)
    querier = _V1Querier(dut, GROUP)
    start = querier.first  # the first query had left by then: the 10 s run from here at the latest
    while True:
        querier.keep_up()
        left = start + 10.0 + JITTER_S - dut.now()
        try:  # once the time is up, the reports that came meanwhile are still read
            report = _expect_report(dut, V1_REPORT, OTHER_GROUP, within=max(0.0, min(0.25, left)))
        except ExpectationFailed:
            if left <= 0:
                break
            continue
        if float(report.time) <= start + 10.0 + JITTER_S:
            return
        break
    querier.skip_if_lapsed(f"no report for {OTHER_GROUP}")
    raise AssertionError(f"no report for {OTHER_GROUP} within 10 s of v1 queries whose group field named {GROUP}")


@rfc("RFC3376-8.12-1")
def test_v2_mode_lasts_an_announced_odd_robustness_times_the_query_interval(dut: DUT, host: Host) -> None:
    # As above with QRV 3 (an odd value: all three bits of the field count, RFC 3376 4.1.6) and a
    # Query Interval of 2 s: the IGMPv2 mode lasts 3 x 2 s plus at most the 0.5 s Max Resp Time,
    # not the 2 x 2 s + 0.5 s a QRV of 2 would give.
    require_feature(dut, "igmpv3")  # the mode ends in a return to IGMPv3, which an IGMPv2-only host has not
    dut.send(igmp_frame(dut, v3_query(mrc=MRC, qrv=3, qqic=2)))
    start = dut.now()
    dut.send(igmp_frame(dut, message(QUERY, MRC)))  # a v2 querier: IGMPv2 mode starts now
    sent = dut.now()  # ... and it had left by now (a loaded tester may be slow to send)
    dut.wait(max(0.0, start + 5.0 - dut.now()))  # past 4.5 s, well before 6 s
    host.join(GROUP)
    _reported_in_older_version(dut, V2_REPORT, GROUP, began=start, lasts=6.0)  # still IGMPv2
    dut.wait(max(0.0, sent + 7.0 - dut.now()))  # past 6.5 s
    _joins_in_v3_mode(host, OTHER_GROUP)


@pytest.mark.parametrize("kind", [V1_REPORT, V2_REPORT, LEAVE], ids=["v1-report", "v2-report", "leave"])
@described(2236, "2.2", MUST,
           "The Max Response Time field is meaningful only in Membership Query messages, and specifies the "
           "maximum allowed time before sending a responding report in units of 1/10 second.  In all other "
           "messages, it is set to zero by the sender and ignored by receivers.")
def test_sent_messages_carry_a_zero_max_response_time(dut: DUT, host: Host, kind: int) -> None:
    dut.send(igmp_frame(dut, message(QUERY, 0 if kind == V1_REPORT else MRC)))
    dut.barrier()  # the query is taken in before the join (see test_sent_messages_carry_a_valid_checksum)
    host.join(GROUP)
    sent = _expect_report(dut, V1_REPORT if kind == V1_REPORT else V2_REPORT, GROUP, within=0.5)
    if kind == LEAVE:
        dut.leave_group(GROUP)
        sent = _expect_report(dut, LEAVE, GROUP, within=0.5)
    body = igmp_of(sent)
    assert body[1] == 0, f"IGMP type 0x{body[0]:02x} sent with Max Response Time {body[1]}"

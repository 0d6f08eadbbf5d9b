"""IGMPv3 host side (RFC 3376), the default mode of a host that has heard no older querier:
state-change reports on join and leave with their retransmission, answers to general and
group-specific queries within the Max Resp Time, the IP header of reports, and queries that
must be ignored. IGMP messages come from ``harness.igmp`` (RFC 3376 §4).

Max Resp Codes stay small (5 = 0.5 s) so the linux backend spends little wall time; in-process
every wait is virtual.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address
from typing import Final

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, MUST_NOT, ExpectationFailed, described, multicast_mac, rfc
from harness.features import optional_feature
from harness.igmp import (
    ALL_SYSTEMS,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
    ROUTER_ALERT,
    V3_REPORT,
    V3_REPORTS_TO,
    igmp_frame,
    igmp_of,
    v3_query,
    v3_records,
    with_checksum,
)
from harness.time_budget import timer_deadline

GROUP: Final = "224.1.2.3"
OTHER_GROUP: Final = "224.1.2.4"
MRC: Final = 5  # Max Resp Code in units of 1/10 s: answers come within 0.5 s
QUIET_S: Final = 0.7  # longer than the Max Resp Time
FILTER_PORT: Final = 5380
JITTER_S: Final = 0.3
# No RFC requires IGMPv3 of a host (RFC 2236 hosts interoperate with it, RFC 3376 section 7): a
# DUT that speaks IGMPv2 only is tested by test_rfc2236_igmpv2.py, and these are not run on it.
pytestmark = optional_feature("igmpv3")


def expect_v3_record(dut: DUT, group: str, rtypes: tuple[int, ...], within: float = 1.5) -> Packet:
    """The next v3 report (consuming the ones before it) with a record of ``rtypes`` for ``group``."""
    seen = []
    while True:
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=within)
        except ExpectationFailed:
            raise ExpectationFailed(f"no IGMPv3 report with a {rtypes} record for {group}; "
                                    f"records seen: {seen}") from None
        records = v3_records(report)
        seen.append(records)
        if any(r in rtypes and g == group for r, g in records):
            return report


def join_and_settle(dut: DUT, *groups: str) -> None:
    """Join ``groups`` and let their state-change reports (and retransmissions) go by."""
    for group in groups:
        dut.join_group(group)
    dut.wait(1.1)  # Unsolicited Report Interval 1 s (RFC 3376 8.11)
    while True:
        try:
            dut.expect(IP(proto=2), within=0)
        except ExpectationFailed:
            return


@described(3376, "5.1", MUST,
           "A change of interface state causes the system to immediately transmit a State-Change Report from "
           "that interface.")
def test_join_sends_a_state_change_report_to_exclude_mode(dut: DUT) -> None:
    dut.join_group(GROUP)
    report = expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)
    assert igmp_of(report)[0] == V3_REPORT


@described(3376, "5.1", MUST,
           "To cover the possibility of the State-Change Report being missed by one or more multicast "
           "routers, it is retransmitted [Robustness Variable] - 1 more times, at intervals chosen at random "
           "from the range (0, [Unsolicited Report Interval]).")
def test_state_change_report_is_retransmitted_robustness_minus_one_times(dut: DUT) -> None:
    # Default Robustness Variable 2, Unsolicited Report Interval 1 s (RFC 3376 8.1, 8.11): each
    # group's TO_EX goes out twice, the second time within 1 s (plus jitter) of the first. Four
    # groups joined at once: four intervals drawn, where a DUT draws one per group. Each group is
    # timed from its first TO_EX's arrival, the transmission the interval follows: the joins are
    # four control calls, which a loaded tester can spread over a second or more.
    groups = [GROUP, *(f"224.1.2.{n}" for n in range(20, 23))]
    for group in groups:
        dut.join_group(group)
    joined = dut.now()  # every join was made by now: the latest a group's first TO_EX can be timed from
    sent: dict[str, list[float]] = {g: [] for g in groups}
    while True:
        # Each group is watched for 2.2 s after its first TO_EX (after the joins, for one not seen yet).
        closes = max(times[0] if times else joined for times in sent.values()) + 2.2
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=max(0.0, closes - dut.now()))
        except ExpectationFailed:
            break
        for rtype, group in v3_records(report):
            if rtype == CHANGE_TO_EXCLUDE and group in sent:
                sent[group].append(float(report.time))
    for group, times in sent.items():
        after = [round(t - times[0], 3) for t in times]
        assert len(times) == 2, f"{group}: TO_EX sent {len(times)} times in 2.2 s, at {after} s after the first"
        assert after[-1] <= 1.0 + JITTER_S, f"{group}: TO_EX retransmitted {after[-1]:.2f} s after the first one"


@described(3376, "4.2.12", MUST,
           "CHANGE_TO_INCLUDE_MODE - indicates that the interface has changed to INCLUDE filter mode for the "
           "specified multicast address.")
def test_leave_sends_a_state_change_report_to_include_mode(dut: DUT) -> None:
    dut.join_group(GROUP)
    expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.leave_group(GROUP)
    expect_v3_record(dut, GROUP, (CHANGE_TO_INCLUDE,), within=1.2)
    # Its retransmission too (Robustness 2): left pending, a real DUT would send it into the next
    # test, since the kernel's timer for it is already running when the reset shortens the interval.
    expect_v3_record(dut, GROUP, (CHANGE_TO_INCLUDE,), within=1.2)


@described(3376, "5.2", MUST,
           "If the expired timer is the interface timer (i.e., it is a pending response to a General Query), "
           "then one Current-State Record is sent for each multicast address for which the specified "
           "interface has reception state")
def test_general_query_is_answered_within_max_resp_time(dut: DUT) -> None:
    dut.join_group(GROUP)  # its state-change reports do not count as answers
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))
    report = expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)
    assert ALL_SYSTEMS not in [g for _, g in v3_records(report)], "the all-systems group was reported"


@described(3376, "5.2", MUST,
           "If the expired timer is a group timer and the list of recorded sources for the that group is "
           "empty (i.e., it is a pending response to a Group-Specific Query), then if and only if the "
           "interface has reception state for that group address, a single Current-State Record is sent for "
           "that address.")
@pytest.mark.parametrize("group", [GROUP, "239.255.1.2"], ids=["224", "239-top-of-the-range"])
def test_group_specific_query_is_answered_for_that_group_only(dut: DUT, group: str) -> None:
    # 239.255.1.2 is near the top of the range (RFC 1112 4: "host group addresses range from
    # 224.0.0.0 to 239.255.255.255"), an edge a host's check that the queried address is a group
    # must take in.
    dut.join_group(group)
    dut.join_group(OTHER_GROUP)
    dut.send(igmp_frame(dut, v3_query(group=group, mrc=MRC), dst=group))
    report = expect_v3_record(dut, group, (MODE_IS_EXCLUDE,), within=QUIET_S)
    assert [g for _, g in v3_records(report)] == [group]


@described(2236, "6", MUST_NOT,
           "The all-systems group (address 224.0.0.1) is handled as a special case. The host starts in Idle "
           "Member state for that group on every interface, never transitions to another state, and never "
           "sends a report for that group.")
def test_all_systems_group_is_never_reported(dut: DUT) -> None:
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    # Control: with a group joined, the same query is answered.
    join_and_settle(dut, GROUP)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@described(3376, "4.2.14", MUST,
           "Version 3 Reports are sent with an IP destination address of 224.0.0.22, to which all "
           "IGMPv3-capable multicast routers listen.")
def test_v3_reports_go_to_224_0_0_22(dut: DUT) -> None:
    dut.join_group(GROUP)
    report = dut.expect(IP(proto=2), within=2.0)
    assert report[IP].dst == V3_REPORTS_TO and igmp_of(report)[0] == V3_REPORT


@pytest.mark.parametrize("field", ["ttl-1", "router-alert", "tos-c0"])
@described(3376, "4", MUST,
           "Every IGMP message described in this document is sent with an IP Time-to-Live of 1, IP "
           "Precedence of Internetwork Control (e.g., Type of Service 0xc0), and carries an IP Router Alert "
           "option [RFC-2113] in its IP header.")
def test_report_ip_header(dut: DUT, field: str) -> None:
    dut.join_group(GROUP)
    report = expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)
    ip = bytes(report[IP])
    if field == "ttl-1":
        assert report[IP].ttl == 1, f"TTL {report[IP].ttl}"
    elif field == "router-alert":
        assert ROUTER_ALERT in ip[20 : (ip[0] & 0x0F) * 4], "no Router Alert option"
    else:
        assert report[IP].tos >> 5 == 6, f"TOS 0x{report[IP].tos:02x}: precedence is not Internetwork Control"


@rfc("RFC3376-4.1.12-1",
     quote="a system MUST accept and process any Query whose IP Destination Address field contains *any* of "
           "the addresses (unicast or multicast) assigned to the interface on which the Query arrives.")
def test_query_to_the_unicast_address_is_processed(dut: DUT) -> None:
    dut.join_group(GROUP)  # its state-change reports do not count as answers
    dut.send(igmp_frame(dut, v3_query(mrc=MRC), dst=str(dut.info.dut_ipv4.ip)))
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@pytest.mark.parametrize("length", [6, 9, 10, 11])
@rfc("RFC3376-7.1-1")
def test_query_of_invalid_length_is_ignored(dut: DUT, length: int) -> None:
    join_and_settle(dut, GROUP)
    msg = (v3_query(mrc=MRC) + bytes(4))[:length]
    dut.send(igmp_frame(dut, with_checksum(msg)))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))  # control: the well-formed query is answered
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@rfc("RFC3376-4.1.2-1", "RFC2236-2.3-2")
def test_query_with_a_bad_checksum_is_ignored(dut: DUT) -> None:
    join_and_settle(dut, GROUP)
    good = v3_query(mrc=MRC)
    dut.send(igmp_frame(dut, good[:2] + bytes([good[2] ^ 0x5A, good[3]]) + good[4:]))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(igmp_frame(dut, good))
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@described(3376, "4.2.13", MUST,
           "An IGMP report is sent with a valid IP source address for the destination subnet.")
def test_report_source_is_the_interface_address(dut: DUT) -> None:
    dut.join_group(GROUP)
    report = expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)
    assert report[IP].src == str(dut.info.dut_ipv4.ip), f"report from {report[IP].src}"


# ---- messages the host ignores (RFC 3376 4, 4.1.10, 9.1) -------------------------------------------

@rfc("RFC3376-4-2")
def test_unrecognized_message_type_is_silently_ignored(dut: DUT) -> None:
    join_and_settle(dut, GROUP)
    dut.send(igmp_frame(dut, with_checksum(bytes([0x30, 0]) + bytes(6))))  # type 0x30 is unassigned
    dut.expect_none(IP(src=str(dut.info.dut_ipv4.ip)), within=QUIET_S)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))  # control: a query is answered
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


TAIL: Final = b"\xde\xad\xbe\xef"


@rfc("RFC3376-4.1.10-1")
def test_query_with_additional_octets_is_answered(dut: DUT) -> None:
    # Four octets past the source list, the checksum computed over them too.
    dut.join_group(GROUP)
    dut.send(igmp_frame(dut, with_checksum(v3_query(mrc=MRC) + TAIL)))
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@rfc("RFC3376-4.1.10-1")
def test_additional_octets_of_a_query_count_in_its_checksum(dut: DUT) -> None:
    # The checksum of the 12-octet query, then four octets it does not cover: the checksum over
    # the whole message fails, so the query is ignored.
    join_and_settle(dut, GROUP)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC) + TAIL))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))  # control
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


def _query_without_router_alert(dut: DUT) -> Packet:
    frame = igmp_frame(dut, v3_query(mrc=MRC))
    frame[IP].options = []
    return frame


@rfc("RFC3376-9.1-2")
def test_query_without_router_alert_is_ignored(dut: DUT) -> None:
    join_and_settle(dut, GROUP)
    dut.send(_query_without_router_alert(dut))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))  # control: the same query with Router Alert
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@rfc("RFC3376-9.1-3")
def test_general_query_to_another_group_is_ignored(dut: DUT) -> None:
    # To a group the host has joined, so the datagram itself is received.
    join_and_settle(dut, GROUP)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC), dst=GROUP))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))  # control: to 224.0.0.1
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


# ---- the reports the host sends (RFC 3376 4.2, 5.2) --------------------------------------------------

def _record_layout(report: Packet) -> tuple[list[int], int]:
    """The Aux Data Len of each group record, and the octets after the last record."""
    msg, at, aux = igmp_of(report), 8, []
    for _ in range(struct.unpack_from("!H", msg, 6)[0]):
        aux.append(msg[at + 1])
        at += 8 + 4 * struct.unpack_from("!H", msg, at + 2)[0] + 4 * msg[at + 1]
    return aux, len(msg) - at


def _reports_of_each_kind(dut: DUT) -> list[Packet]:
    """A state-change report for a join and for a leave, and a current-state one for a query."""
    dut.join_group(GROUP)
    joined = expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))
    answered = expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=1.5)
    dut.leave_group(GROUP)
    left = expect_v3_record(dut, GROUP, (CHANGE_TO_INCLUDE,), within=1.5)
    again = expect_v3_record(dut, GROUP, (CHANGE_TO_INCLUDE,), within=1.2)  # its retransmission
    return [joined, answered, left, again]


@rfc("RFC3376-4.2.10-1")
def test_group_records_carry_no_auxiliary_data(dut: DUT) -> None:
    for report in _reports_of_each_kind(dut):
        aux, _ = _record_layout(report)
        assert aux and all(n == 0 for n in aux), f"Aux Data Len {aux} in {v3_records(report)}"


@rfc("RFC3376-4.2.11-2")
def test_report_ends_with_its_last_group_record(dut: DUT) -> None:
    for report in _reports_of_each_kind(dut):
        _, extra = _record_layout(report)
        assert extra == 0, f"{extra} octets past the last group record of {v3_records(report)}"


@rfc("RFC3376-5.2-1")
def test_general_query_is_not_answered_at_once(dut: DUT) -> None:
    # The answer comes after a random delay in [0, Max Resp Time): with 1 s, one within 50 ms
    # has chance 1/20, six in a row 1.6e-8; a host that answers at once does so every time.
    join_and_settle(dut, GROUP)
    delays = []
    for _ in range(6):
        dut.send(igmp_frame(dut, v3_query(mrc=10)))
        sent = dut.now()
        report = expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=timer_deadline(1.0))
        delays.append(float(report.time) - sent)  # when the report crossed the link
        if delays[-1] >= 0.05:
            return
    raise AssertionError(f"six General Queries (Max Resp Time 1 s) answered after {delays} s")


# ---- INCLUDE-mode membership (RFC 3376 3.1, 3.2) ------------------------------------------------------

_EXCLUDE_TYPES: Final = (MODE_IS_EXCLUDE, CHANGE_TO_EXCLUDE)


def _records_with_sources(report: Packet) -> list[tuple[int, str, list[str]]]:
    """(record type, group, sources) of each group record of a Version 3 Report."""
    msg, at, out = igmp_of(report), 8, []
    for _ in range(struct.unpack_from("!H", msg, 6)[0]):
        nsrc = struct.unpack_from("!H", msg, at + 2)[0]
        sources = [str(IPv4Address(msg[at + 8 + 4 * i : at + 12 + 4 * i])) for i in range(nsrc)]
        out.append((msg[at], str(IPv4Address(msg[at + 4 : at + 8])), sources))
        at += 8 + 4 * nsrc + 4 * msg[at + 1]
    return out


def _records_about(dut: DUT, group: str, within: float) -> list[tuple[int, list[str]]]:
    """Every record about ``group`` in the Version 3 Reports the DUT sends within ``within`` s."""
    out: list[tuple[int, list[str]]] = []
    end = dut.now() + within
    while dut.now() < end:
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=max(0.0, end - dut.now()))
        except ExpectationFailed:
            break
        out += [(rtype, sources) for rtype, g, sources in _records_with_sources(report) if g == group]
    return out


@rfc("RFC3376-3.2-1")
def test_group_joined_for_some_sources_is_never_reported_as_exclude(dut: DUT) -> None:
    source = str(dut.info.tester_ipv4)
    dut.join_source_group(GROUP, [source])
    changes = _records_about(dut, GROUP, within=1.5)  # the state-change report and its repetition
    assert changes, f"no report about {GROUP} after joining it for {source}"
    dut.send(igmp_frame(dut, v3_query(mrc=MRC)))
    current = _records_about(dut, GROUP, within=QUIET_S)
    assert current == [(MODE_IS_INCLUDE, [source])], f"the General Query was answered with {current} for {GROUP}"
    excluding = [r for r in changes + current if r[0] in _EXCLUDE_TYPES]
    assert not excluding, f"EXCLUDE records for a group joined in INCLUDE mode only: {excluding}"


ALLOW_NEW_SOURCES, BLOCK_OLD_SOURCES = 5, 6  # RFC 3376 4.2.12


@described(3376, "5.1", MUST,
           "Old State         New State         State-Change Record Sent ---------         ---------         "
           "------------------------ INCLUDE (A)       INCLUDE (B)       ALLOW (B-A), BLOCK (A-B)")
def test_joining_and_leaving_for_some_sources_sends_allow_then_block(dut: DUT) -> None:
    # "If no interface state existed for that multicast address before the change ... or if no
    # state exists after the change ..., then the "non-existent" state is considered to have a
    # filter mode of INCLUDE and an empty source list": a join for source S is INCLUDE {} to
    # INCLUDE {S}, ALLOW (S); leaving it is INCLUDE {S} to INCLUDE {}, BLOCK (S).
    source = str(dut.info.tester_ipv4)
    dut.join_source_group(GROUP, [source])
    joined = _records_about(dut, GROUP, within=1.5)  # the state-change report and its repetition
    assert joined and set(map(tuple, (s for _, s in joined))) == {(source,)}, joined
    assert {t for t, _ in joined} == {ALLOW_NEW_SOURCES}, f"joining {GROUP} for {source} reported {joined}"
    dut.leave_group(GROUP)
    left = _records_about(dut, GROUP, within=1.5)
    assert left and {t for t, _ in left} == {BLOCK_OLD_SOURCES} and all(s == [source] for _, s in left), (
        f"leaving {GROUP} (joined for {source}) reported {left}")
    # Left, the group has no state: a join for all sources now is INCLUDE {} to EXCLUDE {}, TO_EX ({}),
    # whatever the sources of the membership before.
    dut.join_group(GROUP)
    expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE,), within=1.0)


@described(3376, "2", MUST,
           "In INCLUDE mode, reception of packets sent to the specified multicast address is requested *only* "
           "from those IP source addresses listed in the source-list parameter.")
def test_group_joined_for_some_sources_takes_datagrams_from_those_sources_only(dut: DUT) -> None:
    source, other = str(dut.info.tester_ipv4), str(dut.info.other_ipv4)
    dut.udp_bind(FILTER_PORT)
    dut.join_source_group(GROUP, [source])

    def to_group(src: str, data: bytes) -> Packet:
        frame = dut.ipv4(src=src, dst=GROUP, ttl=1) / UDP(sport=40380, dport=FILTER_PORT) / Raw(data)
        frame[Ether].dst = multicast_mac(GROUP)
        return frame

    dut.send(to_group(other, b"from another source"))
    dut.send(to_group(source, b"from the source"))
    # The datagrams are taken in order: the one from the listed source arrives, the other never.
    got = dut.udp_recv(FILTER_PORT, within=2.0)
    assert got is not None and got[0] == b"from the source", f"the socket received {got}, not the listed source's"
    late = dut.udp_recv(FILTER_PORT, within=0.5)
    assert late is None, f"a datagram from {other}, not in the source list, was delivered: {late}"


# ---- the Router Alert option among others (RFC 3376 9.1) ------------------------------------------

NOPS: Final = b"\x01\x01\x01\x01"  # four No Operation options (RFC 791), before or instead of Router Alert
STREAM_ID: Final = b"\x88\x04\x12\x34"  # RFC 791's Stream Identifier: an option, but not Router Alert


def _query_with_options(dut: DUT, options: bytes) -> Packet:
    frame = igmp_frame(dut, v3_query(mrc=MRC))
    frame[IP].options = [options]
    return frame


@described(3376, "5.2", MUST,
           "If the expired timer is the interface timer (i.e., it is a pending response to a General Query), "
           "then one Current-State Record is sent for each multicast address for which the specified "
           "interface has reception state")
def test_query_with_router_alert_after_other_options_is_answered(dut: DUT) -> None:
    # An IP header of 28 octets: four NOPs, then the Router Alert option. A host that looks for
    # Router Alert (RFC 3376 9.1) must find it wherever it stands among the options; one that
    # read only the options' first word would ignore a valid General Query.
    dut.join_group(GROUP)  # its state-change reports do not count as answers
    dut.send(_query_with_options(dut, NOPS + ROUTER_ALERT))
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


def _query_spelling_router_alert(dut: DUT) -> Packet:
    """A General Query behind a Stream Identifier option (IP header 24 octets) whose own first
    octets, read on as if they were options, would spell Router Alert: type 0x11 with length
    2 (Max Resp Code 2), then the checksum 0x9404 and the group's 0x0000 (Router Alert, value
    0). The checksum is made right by the Resv/S/QRV and QQIC octets (ignored or free)."""
    msg = bytearray(v3_query(mrc=2))
    msg[2:4], msg[8:10] = b"\x94\x04", bytes(2)
    total = sum(struct.unpack("!6H", msg))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    msg[8:10] = (0xFFFF - total).to_bytes(2, "big")
    assert checksum(bytes(msg)) == 0
    frame = igmp_frame(dut, bytes(msg))
    frame[IP].options = [STREAM_ID]
    return frame


@rfc("RFC3376-9.1-2")
def test_query_with_options_but_no_router_alert_is_ignored(dut: DUT) -> None:
    # An IP option that is not Router Alert does not stand in for it; nor do octets past the IP
    # header (the IGMP message's) that happen to look like one.
    join_and_settle(dut, GROUP)
    dut.send(_query_with_options(dut, STREAM_ID), _query_spelling_router_alert(dut))
    dut.expect_none(IP(proto=2), within=QUIET_S)
    dut.send(_query_with_options(dut, STREAM_ID + ROUTER_ALERT))  # control: with Router Alert as well
    expect_v3_record(dut, GROUP, (MODE_IS_EXCLUDE,), within=QUIET_S)


@described(3376, "5.1", MUST,
           "A change of interface state causes the system to immediately transmit a State-Change Report from "
           "that interface.")
def test_restarted_link_reports_its_groups_again(dut: DUT) -> None:
    # The membership goes down with the interface and comes back with it: the host reports the
    # group again, as it does on a join, and the all-systems group still never (RFC 2236 6).
    join_and_settle(dut, GROUP)
    dut.restart_link()
    report = expect_v3_record(dut, GROUP, (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE), within=2.0)
    assert ALL_SYSTEMS not in [g for _, g in v3_records(report)], "the all-systems group was reported"


# ---- Group-and-Source-Specific Queries (RFC 3376 5.2) -------------------------------------------------

S1, S2, S3, S4, S5 = (f"192.0.2.{n}" for n in range(1, 6))


def _source_query(group: str, sources: list[str], mrc: int = MRC) -> bytes:
    """A Group-and-Source-Specific Query (RFC 3376 4.1.8-4.1.9), checksum filled in."""
    return v3_query(group, mrc=mrc, sources=tuple(sources))


def _current_state_about(dut: DUT, group: str, within: float) -> tuple[int, list[str]]:
    report = expect_v3_record(dut, group, (MODE_IS_INCLUDE, MODE_IS_EXCLUDE), within=within)
    return next((t, s) for t, g, s in _records_with_sources(report) if g == group)


@described(3376, "5.2", MUST,
           "If the expired timer is a group timer and the list of recorded sources for that group is "
           "non-empty (i.e., it is a pending response to a Group-and-Source-Specific Query), then if and only "
           "if the interface has reception state for that group address, the contents of the responding "
           "Current-State Record is determined from the interface state and the pending response record, as "
           "specified in the following table:")
def test_group_and_source_specific_query_is_answered_with_the_queried_sources_listened_to(dut: DUT) -> None:
    # The table's row "INCLUDE (A)  B  IS_IN (A*B)". Listening to GROUP from S1-S4 (INCLUDE mode),
    # asked about S5, S1, S2, S3: the answer is IS_IN ({S1..S4} * {S5, S1, S2, S3}) = IS_IN {S1, S2, S3}. S5 comes first, so a host that
    # misread the source list (its length or where each address starts) answers otherwise.
    dut.join_source_group(GROUP, [S1, S2, S3, S4])
    _records_about(dut, GROUP, within=1.5)  # the state-change report and its repetition
    dut.send(igmp_frame(dut, _source_query(GROUP, [S5, S1, S2, S3]), dst=GROUP))
    rtype, sources = _current_state_about(dut, GROUP, within=QUIET_S)
    assert (rtype, sorted(sources)) == (MODE_IS_INCLUDE, [S1, S2, S3]), (
        f"a query about {[S5, S1, S2, S3]} for {GROUP} (INCLUDE {[S1, S2, S3, S4]}) was answered with "
        f"record type {rtype}, sources {sources}")


@described(3376, "5.2", MUST,
           "If the received Query is a Group-and-Source-Specific Query and there is a pending response for "
           "this group with a non-empty source-list, then the group source list is augmented to contain the "
           "list of sources in the new Query and a single response is scheduled using the group timer.")
def test_second_source_specific_query_augments_the_pending_answer(dut: DUT) -> None:
    # About S1 with 2 s to answer, then about S2 with 0.5 s: one answer, due within 0.5 s of the
    # second (rule 5: "at the earliest of the remaining time for the pending report and the
    # selected delay"), naming both.
    dut.join_source_group(GROUP, [S1, S2, S3])
    _records_about(dut, GROUP, within=1.5)  # the state-change report and its repetition
    for _ in range(3):
        dut.send(igmp_frame(dut, _source_query(GROUP, [S1], mrc=20), dst=GROUP),
                 igmp_frame(dut, _source_query(GROUP, [S2], mrc=MRC), dst=GROUP))
        taken_in = dut.barrier()  # the DUT has read both queries (None: a DUT that may reorder)
        report = expect_v3_record(dut, GROUP, (MODE_IS_INCLUDE,), within=QUIET_S)
        sources = next(s for t, g, s in _records_with_sources(report) if g == GROUP)
        if taken_in is None or float(report.time) > taken_in:
            assert sorted(sources) == [S1, S2], f"the answer to queries about {S1}, then {S2} names {sources}"
            return
        # Its answer to the first query left before the DUT read the second: let the round end.
        dut.wait(2.2)
        _records_about(dut, GROUP, within=0.0)
    raise AssertionError("in 3 rounds the DUT answered the first query before it had read the second")


EIGHT_SOURCES: Final = [f"192.0.2.{n}" for n in range(1, 9)]


@pytest.mark.parametrize("mtu", [71, 72], ids=["71-split", "72-exact-fit"])
@described(3376, "4.2.16", MUST,
           "If a single Group Record contains so many source addresses that it does not fit within the size "
           "limit of a single Report message, if its Type is not MODE_IS_EXCLUDE or CHANGE_TO_EXCLUDE_MODE, it "
           "is split into multiple Group Records, each containing a different subset of the source addresses "
           "and each sent in a separate Report message.")
def test_record_with_more_sources_than_fit_the_mtu_is_split(dut: DUT, mtu: int) -> None:
    # After 24 octets of IP header with Router Alert and the report's own 8, a link of MTU 71 (IPv4
    # allows 68, RFC 791) leaves room for a record of 7 IPv4 sources (8 + 7 x 4 octets): joining
    # for 8 sources (ALLOW (B), RFC 3376 5.1) takes two reports, each within the MTU, which
    # together name all 8. On MTU 72 the record of 8 sources fits exactly: it is not split (a
    # record is split only when it "does not fit"), so a report names all 8. Not every report
    # need: a host may take the sources in one at a time (Linux joins each source on its own), and
    # a report can leave between two of them (a loaded linux soak run: one named 4); the next
    # change's report merges the pending ALLOW record with the new sources (RFC 3376 5.1), so it
    # names all 8.
    dut.set_link_mtu(mtu)
    dut.join_source_group(GROUP, EIGHT_SOURCES)
    reported: set[str] = set()
    per_report: list[list[str]] = []
    end = dut.now() + 1.5  # the state-change reports and their repetition
    while dut.now() < end:
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=max(0.0, end - dut.now()))
        except ExpectationFailed:
            break
        assert report[IP].len <= mtu, f"a {report[IP].len}-octet report on a link of MTU {mtu}"
        named = {s for _, g, sources in _records_with_sources(report) if g == GROUP for s in sources}
        per_report.append(sorted(named))
        reported |= named
    assert reported == set(EIGHT_SOURCES), f"reports on a link of MTU {mtu} named {sorted(reported)}"
    if mtu == 72:
        assert sorted(EIGHT_SOURCES) in per_report, (
            f"on MTU 72 no report names the 8 sources, which fit exactly: the reports named {per_report}")


TEN_GROUPS: Final = [f"224.1.4.{n}" for n in range(1, 11)]


@pytest.mark.parametrize("mtu", [71, 72], ids=["71", "72-exact-fit"])
@described(3376, "4.2.16", MUST,
           "If the set of Group Records required in a Report does not fit within the size limit of a single "
           "Report message (as determined by the MTU of the network on which it will be sent), the Group "
           "Records are sent in as many Report messages as needed to report the entire set.")
def test_general_query_answer_too_big_for_one_report_is_split(dut: DUT, mtu: int) -> None:
    # Ten groups joined for any source: ten MODE_IS_EXCLUDE records of 8 octets. After the IP
    # header with Router Alert (24) and the report's own 8 octets, a link of MTU 72 has room for
    # exactly 5 records, one of MTU 71 for 4. Every record is in some report, no report exceeds
    # the MTU, and no report but the last has room for one more record (as many reports as
    # needed, not more).
    dut.set_link_mtu(mtu)
    join_and_settle(dut, *TEN_GROUPS)
    dut.send(igmp_frame(dut, v3_query(mrc=2)))
    sizes: list[int] = []
    missing = set(TEN_GROUPS)
    while missing:
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=0.6)
        except ExpectationFailed:
            raise ExpectationFailed(f"no MODE_IS_EXCLUDE record for {sorted(missing)}; reports of {sizes} octets") from None
        answered = {g for t, g in v3_records(report) if t == MODE_IS_EXCLUDE}
        if answered:
            sizes.append(report[IP].len)
            missing -= answered
    assert max(sizes) <= mtu, f"an answer of {max(sizes)} octets on a link of MTU {mtu}: {sizes}"
    assert all(size + 8 > mtu for size in sizes[:-1]), (
        f"answer reports of {sizes} octets: one but the last had room for another 8-octet record")


@pytest.mark.parametrize("field", [
    pytest.param("reserved", marks=described(
        3376, "4.2.1", MUST, "The Reserved fields are set to zero on transmission, and ignored on reception.")),
    pytest.param("checksum", marks=described(
        3376, "4.2.2", MUST, "The Checksum is the 16-bit one's complement of the one's complement sum of the "
        "whole IGMP message (the entire IP payload).")),
])
def test_v3_report_reserved_fields_and_checksum(dut: DUT, field: str) -> None:
    # Octet 1 and octets 4-5 of every Version 3 Report are zero; summed with its checksum in place,
    # the whole message gives all ones (0 after Scapy's final complement).
    for report in _reports_of_each_kind(dut):
        msg = igmp_of(report)
        if field == "reserved":
            assert msg[1] == 0 and msg[4:6] == b"\x00\x00", f"Reserved fields 0x{msg[1]:02x}, 0x{msg[4:6].hex()}"
        else:
            assert checksum(msg) == 0, f"checksum 0x{msg[2:4].hex()} of {v3_records(report)} does not verify"


THREE_SOURCES: Final = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
SOURCED_GROUPS: Final = ["224.1.4.21", "224.1.4.22", "224.1.4.23"]


@pytest.mark.parametrize("mtu", [71, 72], ids=["71", "72-exact-fit"])
@described(3376, "4.2.16", MUST,
           "If the set of Group Records required in a Report does not fit within the size limit of a single "
           "Report message (as determined by the MTU of the network on which it will be sent), the Group "
           "Records are sent in as many Report messages as needed to report the entire set.")
def test_general_query_answer_with_sources_is_split_by_record_size(dut: DUT, mtu: int) -> None:
    # Three groups joined for three sources each: three MODE_IS_INCLUDE records of 8 + 3 x 4 = 20
    # octets. The 40 octets a link of MTU 72 leaves after the IP header with Router Alert (24)
    # and the report's own 8 hold exactly two of them; the 39 of MTU 71 only one.
    dut.set_link_mtu(mtu)
    for group in SOURCED_GROUPS:
        dut.join_source_group(group, THREE_SOURCES)
    join_and_settle(dut)
    dut.send(igmp_frame(dut, v3_query(mrc=2)))
    # (A record may also be continued in the next report, as Linux does to fill each report.)
    sizes: list[int] = []
    named: dict[str, set[str]] = {g: set() for g in SOURCED_GROUPS}
    while any(sources != set(THREE_SOURCES) for sources in named.values()):
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO), within=0.6)
        except ExpectationFailed:
            raise ExpectationFailed(f"MODE_IS_INCLUDE records named only {named}; reports of {sizes} octets") from None
        answer = [(g, s) for t, g, s in _records_with_sources(report) if t == MODE_IS_INCLUDE and g in named]
        if answer:
            sizes.append(report[IP].len)
            for group, sources in answer:
                named[group] |= set(sources)
    assert max(sizes) <= mtu, f"an answer of {max(sizes)} octets on a link of MTU {mtu}: {sizes}"
    assert all(size + 20 > mtu for size in sizes[:-1]), (
        f"answer reports of {sizes} octets: one but the last had room for another 20-octet record")


@described(3376, "5.2", MUST,
           "If the expired timer is the interface timer (i.e., it is a pending response to a General Query), "
           "then one Current-State Record is sent for each multicast address for which the specified "
           "interface has reception state, as described in section 3.2.  The Current-State Record carries "
           "the multicast address and its associated filter mode (MODE_IS_INCLUDE or MODE_IS_EXCLUDE) and "
           "source list")
def test_general_query_answer_names_every_source_while_a_source_query_is_pending(dut: DUT) -> None:
    # A Group-and-Source-Specific Query about S1 asks for an answer within 3174.4 s (Max Resp
    # Code 0xFF, RFC 3376 4.1.1); a General Query right behind it for one within 0.2 s. The
    # General Query's answer carries the group's whole state, INCLUDE {S1, S2, S3}, not only the
    # source the pending query asked about.
    dut.join_source_group(GROUP, [S1, S2, S3])
    _records_about(dut, GROUP, within=1.5)  # the state-change report and its repetition
    dut.send(igmp_frame(dut, _source_query(GROUP, [S1], mrc=0xFF), dst=GROUP), igmp_frame(dut, v3_query(mrc=2)))
    rtype, sources = _current_state_about(dut, GROUP, within=0.45)
    assert (rtype, sorted(sources)) == (MODE_IS_INCLUDE, [S1, S2, S3]), (
        f"the General Query was answered with record type {rtype}, sources {sources}")


@described(3376, "4.1.1", MUST,
           "If Max Resp Code >= 128, Max Resp Code represents a floating-point value as follows: ... Max Resp "
           "Time = (mant | 0x10) << (exp + 3)")
def test_max_resp_code_of_127_and_128_bound_the_answers(dut: DUT) -> None:
    # The two codes either side of the switch to floating point: 127 is 12.7 s ("If Max Resp Code
    # < 128, Max Resp Time = Max Resp Code"), 0x80 (exp 0, mant 0) is 0x10 << 3 = 128, 12.8 s.
    # Twelve groups, each asked by a Group-Specific Query of its own, all answer within 12.8 s;
    # a host that read 127 as a floating-point value (3174.4 s), or 0x80 with a larger exponent
    # or shift (25.6 s and more), leaves some unanswered then.
    # Each group's deadline runs from when its own query had left the tester (the clock read
    # right after that send): a loaded tester can take a second or more over the twelve sends.
    groups = [f"224.1.5.{n}" for n in range(1, 13)]
    join_and_settle(dut, *groups)
    due: dict[str, float] = {}
    for n, group in enumerate(groups):
        dut.send(igmp_frame(dut, v3_query(group=group, mrc=127 if n < 4 else 0x80), dst=group))
        due[group] = dut.now() + 12.8 + JITTER_S
    answered: dict[str, float] = {}
    while missing := set(groups) - set(answered):
        try:
            report = dut.expect(IP(proto=2, dst=V3_REPORTS_TO),
                                within=max(0.0, max(due[g] for g in missing) - dut.now()))
        except ExpectationFailed:
            raise ExpectationFailed(f"no answer within 12.8 s for {sorted(missing)}") from None
        for group in {g for t, g in v3_records(report) if t == MODE_IS_EXCLUDE} & missing:
            answered[group] = float(report.time)
    late = {g: round(answered[g] - due[g], 3) for g in groups if answered[g] > due[g]}
    assert not late, f"answered this many seconds past 12.8 s (and {JITTER_S} s of jitter) after the query: {late}"

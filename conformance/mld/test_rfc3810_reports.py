"""MLDv2 listener reports (RFC 3810), the default mode of a node that has heard no MLDv1
querier: state-change reports on join and leave with their retransmission, the IPv6 header
and fields of reports, and which groups are reported at all (RFC 9777 §6).

Queries and report records go through ``harness.mld``; in-process waits are virtual.
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest
from scapy.layers.inet6 import ICMPv6MLReport2, IPv6

from harness import (
    DUT,
    MUST,
    MUST_NOT,
    ExpectationFailed,
    described,
    multicast_mac,
    rfc,
    with_icmpv6_checksum,
)
from harness.features import optional_feature
from harness.mld import (
    ALL_NODES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MLDV2_ROUTERS,
    MODE_IS_EXCLUDE,
    MODE_IS_INCLUDE,
    ROUTER_ALERT_MLD,
    answers_a_query,
    expect_record,
    flush_reports,
    hop_by_hop_options,
    mld_frame,
    no_record,
    records,
    settle,
    site_group,
    sn_group,
    v2_query,
)

# MLDv2 is required of every node that joins groups (RFC 8504 5.11); a DUT without it fails that one
# requirement (ipv6/test_rfc8504_node_requirements.py), and these tests of its details are not run.
pytestmark = optional_feature("mldv2")

# ---- state-change reports -----------------------------------------------------------------------


@described(3810, "6.1", MUST,
           "A change of per-interface state causes the node to immediately transmit a State Change Report "
           "from that interface.")
def test_join_sends_a_change_to_exclude_report(dut: DUT) -> None:
    group = site_group(0x10)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    _, _, sources, _ = next(r for r in records(report) if r[1] == IPv6Address(group))
    assert sources == [], f"TO_EX record for a join of all sources carries sources {sources}"


@described(3810, "6.1", MUST,
           "To cover the possibility of the State Change Report being missed by one or more multicast "
           "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
           "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_state_change_report_is_sent_robustness_variable_times(dut: DUT) -> None:
    # Robustness Variable 2 and Unsolicited Report Interval 1 s by default (RFC 3810 9.1, 9.11):
    # each group's TO_EX goes out twice, the second time within 1 s (plus jitter) of the first.
    # Four groups joined at once: four intervals drawn, where a DUT draws one per group. Each
    # group is timed from its first TO_EX's arrival, the report the Retransmission Timer follows:
    # the joins are four control calls, which a loaded tester can spread over a second or more.
    groups = [IPv6Address(site_group(n)) for n in (0x11, 0x12, 0x13, 0x14)]
    for group in groups:
        dut.join_group(str(group))
    joined = dut.now()  # every join was made by now: the latest a group's first TO_EX can be timed from
    sent: dict[IPv6Address, list[float]] = {g: [] for g in groups}
    while True:
        # Each group is watched for 2.4 s after its first TO_EX (after the joins, for one not seen yet).
        closes = max(times[0] if times else joined for times in sent.values()) + 2.4
        try:
            report = dut.expect(ICMPv6MLReport2, within=max(0.0, closes - dut.now()))
        except ExpectationFailed:
            break
        for rtype, group, *_ in records(report):
            if rtype == CHANGE_TO_EXCLUDE and group in sent:
                sent[group].append(float(report.time))
    for group, times in sent.items():
        after = [round(t - times[0], 3) for t in times]
        assert len(times) == 2, f"{group}: TO_EX sent {len(times)} times in 2.4 s, at {after} s after the first"
        assert after[-1] <= 1.2, f"{group}: TO_EX retransmitted {after[-1]:.2f} s after the first one"


@described(3810, "6.1", MUST,
           "To cover the possibility of the State Change Report being missed by one or more multicast "
           "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
           "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_retransmission_follows_a_configured_unsolicited_report_interval(dut: DUT) -> None:
    dut.set_ipv6_option("mldv2_unsolicited_report_interval", 0.3)
    group = site_group(0x19)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.45)  # within (0, 0.3 s), plus jitter


@described(3810, "6.1", MUST,
           "To cover the possibility of the State Change Report being missed by one or more multicast "
           "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
           "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_leave_retransmission_follows_an_interval_configured_after_the_join(dut: DUT) -> None:
    # The Unsolicited Report Interval in effect when the group is left counts, not the one of
    # the join: 50 ms, so each leave's retransmission follows its first report within 0.2 s
    # (with the default 1 s, all three would with chance 1 %).
    groups = [site_group(0x1B), site_group(0x1C), site_group(0x1D)]
    settle(dut, *groups)
    dut.set_ipv6_option("mldv2_unsolicited_report_interval", 0.05)
    for group in groups:
        dut.leave_group(group)
        expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)
        expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.2)


@described(3810, "6.1", MUST,
           "The transmission of the merged State Change Report terminates retransmissions of the earlier "
           "State Change Reports for the same multicast address, and becomes the first of [Robustness "
           "Variable] transmissions of the new State Change Reports.")
def test_leave_ends_the_retransmissions_of_the_join_report(dut: DUT) -> None:
    group = site_group(0x1A)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    dut.leave_group(group)  # the join's retransmission (due within 1 s) is most likely pending
    leave = expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)
    # The retransmission comes at a random moment within the Unsolicited Report Interval (§6.1):
    # one that left before the leave was processed arrived before the TO_IN, and is no fault.
    while True:
        try:
            early = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0)
        except ExpectationFailed:
            break
        assert early.time <= leave.time, "a CHANGE_TO_EXCLUDE record was sent after the leave's report"
    no_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.2)


@described(3810, "5.2.12", MUST,
           "CHANGE_TO_INCLUDE_MODE - indicates that the interface has changed to INCLUDE filter mode for the "
           "specified multicast address.")
def test_leave_sends_a_change_to_include_report(dut: DUT) -> None:
    group = site_group(0x12)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.leave_group(group)
    report = expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)  # at once, not a retransmission
    _, _, sources, _ = next(r for r in records(report) if r[1] == IPv6Address(group) and r[0] == CHANGE_TO_INCLUDE)
    assert sources == [], f"TO_IN record for a leave carries sources {sources}"


@described(3810, "6.1", MUST,
           "To cover the possibility of the State Change Report being missed by one or more multicast "
           "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
           "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_leave_report_is_retransmitted(dut: DUT) -> None:
    group = site_group(0x13)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    dut.leave_group(group)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)
    no_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)


@pytest.mark.parametrize("field", ["link-local-source", "hop-limit-1", "router-alert"])
@rfc("RFC3810-5-1", "RFC8200-4-4")
def test_report_ipv6_header(dut: DUT, field: str) -> None:
    group = site_group(0x14)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    ip = report[IPv6]
    if field == "link-local-source":
        assert ip.src == str(dut.info.dut_ipv6_ll), f"report from {ip.src}, not the link-local {dut.info.dut_ipv6_ll}"
    elif field == "hop-limit-1":
        assert ip.hlim == 1, f"Hop Limit {ip.hlim}"
    else:
        options = hop_by_hop_options(report)
        assert options is not None, "no Hop-by-Hop Options header"
        want = bytes([5, 2]) + struct.pack("!H", ROUTER_ALERT_MLD)
        assert want in options, f"no Router Alert option (type 5, value 0) in {options.hex()}"


@described(3810, "5.2.14", MUST,
           "Version 2 Multicast Listener Reports are sent with an IP destination address of "
           "FF02:0:0:0:0:0:0:16, to which all MLDv2-capable multicast routers listen")
def test_report_goes_to_ff02_16(dut: DUT) -> None:
    group = site_group(0x15)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    assert report[IPv6].dst == MLDV2_ROUTERS, f"MLDv2 report sent to {report[IPv6].dst}"
    assert report.dst == multicast_mac(MLDV2_ROUTERS), f"Ethernet destination {report.dst}"


@rfc("RFC3810-5.2.10-1")
def test_report_records_carry_no_auxiliary_data(dut: DUT) -> None:
    group = site_group(0x16)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    lens = [r[3] for r in records(report)]
    assert all(n == 0 for n in lens), f"Aux Data Len {lens}"


@pytest.mark.parametrize("field", ["checksum", "reserved"])
@described(3810, "5.2.2", MUST,
           "The standard ICMPv6 checksum; it covers the entire MLDv2 message, plus a \"pseudo-header\" of "
           "IPv6 header fields ...")
def test_report_checksum_and_reserved_fields(dut: DUT, field: str) -> None:
    group = site_group(0x17)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    ip = report[IPv6]
    msg = bytes(report[ICMPv6MLReport2])[: 8 + sum(20 + 16 * len(r[2]) + 4 * r[3] for r in records(report))]
    if field == "checksum":
        want = with_icmpv6_checksum(msg, ip.src, ip.dst)[2:4]
        assert msg[2:4] == want, f"checksum {msg[2:4].hex()}, over the pseudo-header it is {want.hex()}"
    else:  # RFC 3810 5.2.1: "The Reserved fields are set to zero on transmission"
        assert msg[1] == 0 and msg[4:6] == b"\x00\x00", f"reserved fields {msg[1]:02x} {msg[4:6].hex()}"


# ---- listening scope ----------------------------------------------------------------------------


@rfc("RFC9777-6-1")
def test_link_scope_group_is_reported(dut: DUT) -> None:
    group = "ff02::db8:17"
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)


@described(3810, "6", MUST_NOT,
           "No MLD messages are ever sent regarding neither the link-scope all-nodes multicast address, nor "
           "any multicast address of scope 0 (reserved) or 1 (node-local).")
def test_interface_local_group_is_never_reported(dut: DUT) -> None:
    dut.join_group("ff01::db8:18")
    control = site_group(0x18)
    dut.join_group(control)
    expect_record(dut, control, (CHANGE_TO_EXCLUDE,), within=1.0)  # control: a scope-5 join is reported
    no_record(dut, "ff01::db8:18", (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE), within=0.5)
    dut.send(mld_frame(dut, v2_query()))
    report = expect_record(dut, control, (MODE_IS_EXCLUDE,))
    scopes = [str(g) for _, g, _, _ in records(report) if g.packed[1] & 0x0F < 2]
    assert not scopes, f"the general query answer reports groups of scope < 2: {scopes}"


@described(2710, "5", MUST_NOT,
           "The node starts in Idle Listener state for that address on every interface, never transitions to "
           "another state, and never sends a Report or Done for that address.")
def test_all_nodes_group_is_never_reported(dut: DUT) -> None:
    dut.send(mld_frame(dut, v2_query()))
    # Control: the answer exists (the solicited-node group is always listened to) ...
    report = expect_record(dut, sn_group(dut), (MODE_IS_EXCLUDE,))
    # ... and names every group but ff02::1.
    assert IPv6Address(ALL_NODES) not in [g for _, g, _, _ in records(report)], "ff02::1 was reported"
    dut.send(mld_frame(dut, v2_query(ALL_NODES), dst=ALL_NODES))
    no_record(dut, ALL_NODES, (MODE_IS_EXCLUDE, MODE_IS_INCLUDE))


@rfc("RFC3810-5.2.11-2")
def test_report_ends_with_its_last_record(dut: DUT) -> None:
    groups = [site_group(0x40), site_group(0x41)]
    for group in groups:
        dut.join_group(group)
    report = expect_record(dut, groups[-1], (CHANGE_TO_EXCLUDE,), within=1.0)
    message = bytes(report[ICMPv6MLReport2])
    ends = 8 + sum(20 + 16 * len(sources) + 4 * aux for _, _, sources, aux in records(report))
    assert len(message) == ends, f"the report is {len(message)} octets, its records end at {ends}"
    plen = report[IPv6].plen
    assert 40 + plen == len(bytes(report[IPv6])), "the IPv6 Payload Length does not match the packet"


@described(3810, "5.2.15", MUST,
           "If the set of Multicast Address Records required in a Report does not fit within the size limit "
           "of a single Report message (as determined by the MTU of the link on which it will be sent), the "
           "Multicast Address Records are sent in as many Report messages as needed to report the entire set.")
@pytest.mark.parametrize("mtu", [1500, 1296, 1295], ids=["1500", "1296-exact-fit", "1295"])
def test_general_query_answer_too_big_for_one_report_is_split(dut: DUT, mtu: int) -> None:
    # 80 groups need 80 records of 20 octets: 1600 octets, more than one report on a 1500-octet link
    # holds (its IPv6 header, the 8-octet Hop-by-Hop header and the report's own 8 octets leave
    # 1444). Every record is in some report, no report exceeds the MTU, and no report but the last
    # has room for one more record (as many reports as needed, not more). On MTU 1296 those 56
    # octets leave room for exactly 62 records (a report of 1296 octets); on 1295 for 61, and the
    # 62nd would overrun the MTU by one octet.
    if mtu != dut.info.mtu:
        dut.set_link_mtu(mtu)
    groups = {IPv6Address(site_group(0x400 + i)) for i in range(80)}
    for group in groups:
        dut.join_group(str(group))
    dut.wait(1.2)  # the state-change reports and their retransmissions (Unsolicited Report Interval 1 s)
    flush_reports(dut)
    dut.send(mld_frame(dut, v2_query(mrc=200)))
    reports, named = [], set()
    while not groups <= named:
        report = dut.expect(ICMPv6MLReport2, within=0.6)
        if not answers_a_query(report):
            # No Current State Record, so no part of the answer (RFC 3810 5.2.12): a state-change
            # retransmission the DUT's timer sent late, before it took the query in (found by CI).
            continue
        reports.append(report)
        named |= {g for t, g, _, _ in records(report) if t == MODE_IS_EXCLUDE}
    sizes = [len(bytes(r[IPv6])) for r in reports]
    assert max(sizes) <= mtu, f"an answer of {max(sizes)} octets on a link of MTU {mtu}: {sizes}"
    assert all(size + 20 > mtu for size in sizes[:-1]), (
        f"answer reports of {sizes} octets: one but the last had room for another 20-octet record")

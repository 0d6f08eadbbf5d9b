"""MLDv2 listener behaviour (RFC 3810), the default mode of a node that has heard no MLDv1
querier: state-change reports on join and leave with their retransmission, answers to general,
multicast-address-specific and source-specific queries within the Maximum Response Delay, the
IPv6 header of reports, and the queries a node must ignore (§5.1.14, §6.2, §8.1).

Queries are built byte by byte (with their ICMPv6 checksum over the pseudo-header) so a test
can send any length or field; reports are read with Scapy's MLD layers. Every multicast group
is a scope-2 (ff02::) or scope-5 (ff05::db8:...) group of our own; each test uses groups of its
own so reports about the groups an earlier test left cannot satisfy it. Maximum Response Codes
stay small (500 ms) so the linux backend spends little wall time; in-process waits are virtual.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Final

import pytest
from scapy.layers.inet6 import ICMPv6MLReport2, IPv6, IPv6ExtHdrHopByHop, RouterAlert
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from harness import DUT, MUST, MUST_NOT, SHOULD, ExpectationFailed, multicast_mac, rfc, solicited_node

ALL_NODES: Final = "ff02::1"
MLDV2_ROUTERS: Final = "ff02::16"
QUERY, V2_REPORT = 130, 143
MODE_IS_INCLUDE, MODE_IS_EXCLUDE, CHANGE_TO_INCLUDE, CHANGE_TO_EXCLUDE = 1, 2, 3, 4
MRD_MS: Final = 500  # Maximum Response Code < 32768: milliseconds (RFC 3810 5.1.3)
QUIET_S: Final = 0.8  # longer than the Maximum Response Delay, with room for scheduling jitter
ROUTER_ALERT_MLD: Final = 0  # RFC 2711 2.1: value 0 "Datagram contains a Multicast Listener Discovery message"
SOURCE_A: Final = "2001:db8:2::a"
SOURCE_B: Final = "2001:db8:2::b"


def _g(n: int) -> str:
    """A site-local-scope group of our own (documentation-style ff05::db8:n)."""
    return f"ff05::db8:{n:x}"


# ---- building queries -------------------------------------------------------------------------


def with_checksum(msg: bytes, src: str, dst: str) -> bytes:
    """``msg`` with its ICMPv6 checksum over the RFC 8200 8.1 pseudo-header filled in."""
    msg = msg[:2] + b"\x00\x00" + msg[4:]
    pseudo = IPv6Address(src).packed + IPv6Address(dst).packed + struct.pack("!I3xB", len(msg), 58)
    return msg[:2] + struct.pack("!H", checksum(pseudo + msg)) + msg[4:]


def v2_query(group: str = "::", mrc: int = MRD_MS, *, sources: tuple[str, ...] = (), qrv: int = 2,
             qqic: int = 125, s_flag: bool = False) -> bytes:
    """An MLDv2 Multicast Listener Query (RFC 3810 5.1), checksum left zero."""
    head = struct.pack("!BBHHH", QUERY, 0, 0, mrc, 0) + IPv6Address(group).packed
    tail = struct.pack("!BBH", (0x08 if s_flag else 0) | (qrv & 0x07), qqic, len(sources))
    return head + tail + b"".join(IPv6Address(s).packed for s in sources)


def mld_frame(dut: DUT, msg: bytes, *, dst: str = ALL_NODES, src: str | None = None, hlim: int = 1,
              router_alert: bool = True, fix_checksum: bool = True) -> Packet:
    """An MLD message from the tester: link-local source, Hop Limit 1, Router Alert (RFC 3810 5)."""
    src = src or str(dut.info.tester_ipv6_ll)
    if fix_checksum:
        msg = with_checksum(msg, src, dst)
    mac = multicast_mac(dst) if IPv6Address(dst).is_multicast else dut.info.dut_mac
    ip = dut.ether(dst=mac) / IPv6(src=src, dst=dst, hlim=hlim)
    if router_alert:
        return ip / IPv6ExtHdrHopByHop(nh=58, options=[RouterAlert(value=ROUTER_ALERT_MLD)]) / Raw(msg)
    ip.nh = 58
    return ip / Raw(msg)


# ---- reading reports --------------------------------------------------------------------------


Record = tuple[int, IPv6Address, list[str], int]  # (type, multicast address, sources, aux data len)


def parse_records(data: bytes, count: int | None = None) -> list[Record]:
    """Multicast Address Records (RFC 3810 5.2.4) read byte by byte from ``data``.

    Scapy 2.8.0 dissects the records of a report as one record whose payload is the next one,
    so the tests read the bytes themselves."""
    out: list[Record] = []
    at = 0
    while at + 20 <= len(data) and (count is None or len(out) < count):
        rtype, aux, nsrc = data[at], data[at + 1], struct.unpack_from("!H", data, at + 2)[0]
        group = IPv6Address(data[at + 4 : at + 20])
        sources = [str(IPv6Address(data[at + 20 + 16 * i : at + 36 + 16 * i])) for i in range(nsrc)
                   if at + 36 + 16 * i <= len(data)]
        out.append((rtype, group, sources, aux))
        at += 20 + 16 * nsrc + 4 * aux
    return out


def _has_record(group: str, rtypes: tuple[int, ...]) -> Callable[[list[Packet]], bool]:
    want = IPv6Address(group)
    return lambda recs: any(r[0] in rtypes and r[1] == want
                            for r in parse_records(b"".join(bytes(x) for x in recs)))


def expect_record(dut: DUT, group: str, rtypes: tuple[int, ...], within: float = QUIET_S) -> Packet:
    """The next MLDv2 report (from now or still queued) with a record of ``rtypes`` for ``group``."""
    return dut.expect(ICMPv6MLReport2, within=within, records=_has_record(group, rtypes))


def no_record(dut: DUT, group: str, rtypes: tuple[int, ...], within: float = QUIET_S) -> None:
    dut.expect_none(ICMPv6MLReport2, within=within, records=_has_record(group, rtypes))


def records(report: Packet) -> list[Record]:
    body = bytes(report[ICMPv6MLReport2])
    return parse_records(body[8:], struct.unpack_from("!H", body, 6)[0])


def hop_by_hop_options(report: Packet) -> bytes | None:
    """The option bytes of the Hop-by-Hop header right after the IPv6 header, if there is one."""
    raw = bytes(report[IPv6])
    if raw[6] != 0:
        return None
    return raw[40 + 2 : 40 + 8 * (raw[41] + 1)]


def settle(dut: DUT, *groups: str) -> None:
    """Join ``groups`` and let their state-change reports (and retransmissions) go by."""
    for group in groups:
        dut.join_group(group)
    missing = {IPv6Address(g) for g in groups}
    while missing:  # one report may carry the records of several joins
        report = dut.expect(ICMPv6MLReport2, within=1.2)
        missing -= {g for t, g, _, _ in records(report) if t == CHANGE_TO_EXCLUDE}
    dut.wait(1.1)  # Unsolicited Report Interval 1 s (RFC 3810 9.11): the retransmissions are out


def flush_reports(dut: DUT) -> None:
    """Consume every MLDv2 report the DUT emitted so far, so later expects see only new ones."""
    while True:
        try:
            dut.expect(ICMPv6MLReport2, within=0)
        except ExpectationFailed:
            return


def sn_group(dut: DUT) -> str:
    """The solicited-node group of the DUT's addresses (both end in ...:0:1)."""
    return solicited_node(dut.info.dut_ipv6.ip)


# ---- state-change reports -----------------------------------------------------------------------


@rfc(3810, "6.1", MUST,
     "A change of per-interface state causes the node to immediately transmit a State Change Report "
     "from that interface.")
def test_join_sends_a_change_to_exclude_report(dut: DUT) -> None:
    group = _g(0x10)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    _, _, sources, _ = next(r for r in records(report) if r[1] == IPv6Address(group))
    assert sources == [], f"TO_EX record for a join of all sources carries sources {sources}"


@rfc(3810, "6.1", MUST,
     "To cover the possibility of the State Change Report being missed by one or more multicast "
     "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
     "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_state_change_report_is_sent_robustness_variable_times(dut: DUT) -> None:
    group = _g(0x11)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    # Robustness Variable 2 and Unsolicited Report Interval 1 s by default (RFC 3810 9.1, 9.11).
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.2)
    no_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.2)


@rfc(3810, "6.1", MUST,
     "To cover the possibility of the State Change Report being missed by one or more multicast "
     "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
     "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_retransmission_follows_a_configured_unsolicited_report_interval(dut: DUT) -> None:
    dut.set_ipv6_option("mldv2_unsolicited_report_interval", 0.3)
    group = _g(0x19)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.45)  # within (0, 0.3 s), plus jitter


@rfc(3810, "6.1", MUST,
     "The transmission of the merged State Change Report terminates retransmissions of the earlier State "
     "Change Reports for the same multicast address, and becomes the first of [Robustness Variable] "
     "transmissions of the new State Change Reports.")
def test_leave_ends_the_retransmissions_of_the_join_report(dut: DUT) -> None:
    group = _g(0x1A)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    dut.leave_group(group)  # the join's retransmission (due within 1 s) is still pending
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)
    no_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.2)


@rfc(3810, "5.2.12", MUST,
     "CHANGE_TO_INCLUDE_MODE - indicates that the interface has changed to INCLUDE filter mode for "
     "the specified multicast address.")
def test_leave_sends_a_change_to_include_report(dut: DUT) -> None:
    group = _g(0x12)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.leave_group(group)
    report = expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)  # at once, not a retransmission
    _, _, sources, _ = next(r for r in records(report) if r[1] == IPv6Address(group) and r[0] == CHANGE_TO_INCLUDE)
    assert sources == [], f"TO_IN record for a leave carries sources {sources}"


@rfc(3810, "6.1", MUST,
     "To cover the possibility of the State Change Report being missed by one or more multicast "
     "routers, [Robustness Variable] - 1 retransmissions are scheduled, through a Retransmission "
     "Timer, at intervals chosen at random from the range (0, [Unsolicited Report Interval]).")
def test_leave_report_is_retransmitted(dut: DUT) -> None:
    group = _g(0x13)
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=0.5)
    dut.leave_group(group)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=0.5)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)
    no_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)


@pytest.mark.parametrize("field", ["link-local-source", "hop-limit-1", "router-alert"])
@rfc(3810, "5", MUST,
     "All MLDv2 messages described in this document MUST be sent with a link-local IPv6 Source "
     "Address, an IPv6 Hop Limit of 1, and an IPv6 Router Alert option [RFC2711] in a Hop-by-Hop "
     "Options header.")
def test_report_ipv6_header(dut: DUT, field: str) -> None:
    group = _g(0x14)
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


@rfc(3810, "5.2.14", MUST,
     "Version 2 Multicast Listener Reports are sent with an IP destination address of FF02:0:0:0:0:0:0:16, "
     "to which all MLDv2-capable multicast routers listen")
def test_report_goes_to_ff02_16(dut: DUT) -> None:
    group = _g(0x15)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    assert report[IPv6].dst == MLDV2_ROUTERS, f"MLDv2 report sent to {report[IPv6].dst}"
    assert report.dst == multicast_mac(MLDV2_ROUTERS), f"Ethernet destination {report.dst}"


@rfc(3810, "5.2.10", MUST_NOT,
     "implementations of MLDv2 MUST NOT include any auxiliary data (i.e., MUST set the Aux Data Len "
     "field to zero) in any transmitted Multicast Address Record")
def test_report_records_carry_no_auxiliary_data(dut: DUT) -> None:
    group = _g(0x16)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    lens = [r[3] for r in records(report)]
    assert all(n == 0 for n in lens), f"Aux Data Len {lens}"


@pytest.mark.parametrize("field", ["checksum", "reserved"])
@rfc(3810, "5.2.2", MUST,
     "The standard ICMPv6 checksum; it covers the entire MLDv2 message, plus a \"pseudo-header\" of "
     "IPv6 header fields ...")
def test_report_checksum_and_reserved_fields(dut: DUT, field: str) -> None:
    group = _g(0x17)
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    ip = report[IPv6]
    msg = bytes(report[ICMPv6MLReport2])[: 8 + sum(20 + 16 * len(r[2]) + 4 * r[3] for r in records(report))]
    if field == "checksum":
        want = with_checksum(msg, ip.src, ip.dst)[2:4]
        assert msg[2:4] == want, f"checksum {msg[2:4].hex()}, over the pseudo-header it is {want.hex()}"
    else:  # RFC 3810 5.2.1: "The Reserved fields are set to zero on transmission"
        assert msg[1] == 0 and msg[4:6] == b"\x00\x00", f"reserved fields {msg[1]:02x} {msg[4:6].hex()}"


# ---- listening scope ----------------------------------------------------------------------------


@rfc(9777, "6", MUST,
     "Multicast listeners MUST send MLD messages for all multicast addresses except for the "
     "link-scope all-nodes multicast address and any multicast addresses of scope less than 2.")
def test_link_scope_group_is_reported(dut: DUT) -> None:
    group = "ff02::db8:17"
    dut.join_group(group)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)


@rfc(3810, "6", MUST_NOT,
     "No MLD messages are ever sent regarding neither the link-scope all-nodes multicast address, nor "
     "any multicast address of scope 0 (reserved) or 1 (node-local).")
def test_interface_local_group_is_never_reported(dut: DUT) -> None:
    dut.join_group("ff01::db8:18")
    control = _g(0x18)
    dut.join_group(control)
    expect_record(dut, control, (CHANGE_TO_EXCLUDE,), within=1.0)  # control: a scope-5 join is reported
    no_record(dut, "ff01::db8:18", (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE), within=0.5)
    dut.send(mld_frame(dut, v2_query()))
    report = expect_record(dut, control, (MODE_IS_EXCLUDE,))
    scopes = [str(g) for _, g, _, _ in records(report) if g.packed[1] & 0x0F < 2]
    assert not scopes, f"the general query answer reports groups of scope < 2: {scopes}"


@rfc(2710, "5", MUST_NOT,
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


# ---- answering queries --------------------------------------------------------------------------


@rfc(3810, "6.3", MUST,
     "If the expired timer is the Interface Timer (i.e., there is a pending response to a General "
     "Query), then one Current State Record is sent for each multicast address for which the specified "
     "interface has listening state, as described in section 4.2.")
def test_general_query_is_answered_within_the_maximum_response_delay(dut: DUT) -> None:
    group = _g(0x20)
    dut.join_group(group)  # its state-change reports (type 4) are not answers
    dut.send(mld_frame(dut, v2_query(mrc=MRD_MS)))
    report = expect_record(dut, group, (MODE_IS_EXCLUDE,), within=QUIET_S)
    assert report[IPv6].dst == MLDV2_ROUTERS


@rfc(9777, "6", MUST,
     "Multicast listeners MUST send MLD messages for all multicast addresses except for the "
     "link-scope all-nodes multicast address and any multicast addresses of scope less than 2.")
def test_general_query_answer_includes_the_solicited_node_group(dut: DUT) -> None:
    # RFC 2710 5: "MLD messages ARE sent for multicast addresses whose scope is 2 (link-local),
    # including Solicited-Node multicast addresses".
    dut.send(mld_frame(dut, v2_query()))
    report = expect_record(dut, sn_group(dut), (MODE_IS_EXCLUDE,))
    rec = next(r for r in records(report) if r[1] == IPv6Address(sn_group(dut)))
    assert rec[2] == [], f"MODE_IS_EXCLUDE record of the solicited-node group has sources {rec[2]}"


@rfc(3810, "6.3", MUST,
     "If the expired timer is a Multicast Address Timer and the list of recorded sources for that "
     "multicast address is empty (i.e., there is a pending response to a Multicast Address Specific "
     "Query), then if, and only if, the interface has listening state for that multicast address, a "
     "single Current State Record is sent for that address.")
def test_multicast_address_specific_query_is_answered_for_that_group_only(dut: DUT) -> None:
    group, other = _g(0x21), _g(0x22)
    settle(dut, group, other)
    dut.send(mld_frame(dut, v2_query(group), dst=group))
    report = expect_record(dut, group, (MODE_IS_EXCLUDE,))
    named = [str(g) for _, g, _, _ in records(report)]
    assert named == [str(IPv6Address(group))], f"the answer to a query for {group} reports {named}"
    no_record(dut, other, (MODE_IS_EXCLUDE,), within=0.3)


@rfc(3810, "6.2", MUST,
     "Similarly, when a new valid Multicast Address (and Source) Specific Query arrives on an interface, "
     "the node checks whether it has a per-interface listening state record that corresponds to the "
     "queried multicast address (and source), or not.")
def test_query_for_a_group_not_listened_to_is_not_answered(dut: DUT) -> None:
    group, absent = _g(0x23), _g(0x24)
    dut.join_group(group)  # its state-change reports are not answers
    dut.send(mld_frame(dut, v2_query(absent), dst=absent))
    no_record(dut, absent, (MODE_IS_EXCLUDE, MODE_IS_INCLUDE))
    dut.send(mld_frame(dut, v2_query(group), dst=group))  # control: the joined group is answered
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@rfc(3810, "6.3", MUST,
     "If the expired timer is a Multicast Address Timer and the list of recorded sources for that "
     "multicast address is non-empty (i.e., there is a pending response to a Multicast Address and "
     "Source Specific Query), then if, and only if, the interface has listening state for that "
     "multicast address, the contents of the corresponding Current State Record are determined from the "
     "per-interface state and the pending response record, ...")
def test_source_specific_query_is_answered_with_is_include_of_the_queried_sources(dut: DUT) -> None:
    # Table 3: per-interface state EXCLUDE ({}) and queried sources B give IS_IN (B - {}) = IS_IN (B).
    group = _g(0x25)
    dut.join_group(group)  # its state-change reports are not answers
    dut.send(mld_frame(dut, v2_query(group, sources=(SOURCE_A, SOURCE_B)), dst=group))
    report = expect_record(dut, group, (MODE_IS_INCLUDE, MODE_IS_EXCLUDE))
    rec = next(r for r in records(report) if r[1] == IPv6Address(group))
    assert rec[0] == MODE_IS_INCLUDE, f"record type {rec[0]} sources {rec[2]}, not MODE_IS_INCLUDE (Table 3: IS_IN (B-A))"
    assert sorted(IPv6Address(s) for s in rec[2]) == [IPv6Address(SOURCE_A), IPv6Address(SOURCE_B)], rec[2]


@rfc(3810, "5.1.15", MUST,
     "... a node MUST accept and process any Query whose IP Destination Address field contains "
     "*any* of the addresses (unicast or multicast) assigned to the interface on which the Query arrives.")
@pytest.mark.parametrize("which", ["link-local", "global"])
def test_query_to_a_unicast_address_is_processed(dut: DUT, which: str) -> None:
    group = _g(0x26)
    dut.join_group(group)
    dst = str(dut.info.dut_ipv6_ll if which == "link-local" else dut.info.dut_ipv6.ip)
    dut.send(mld_frame(dut, v2_query(), dst=dst))
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@rfc(3810, "6.3", MUST,
     "If the expired timer is the Interface Timer (i.e., there is a pending response to a General "
     "Query), then one Current State Record is sent for each multicast address for which the specified "
     "interface has listening state, as described in section 4.2.")
def test_general_query_answer_names_every_group_listened_to(dut: DUT) -> None:
    groups = [_g(0x60), _g(0x61), "ff02::db8:62"]
    for group in groups:
        dut.join_group(group)  # their state-change reports are not answers
    dut.send(mld_frame(dut, v2_query()))
    missing = {IPv6Address(g) for g in [*groups, sn_group(dut)]}
    while missing:  # the records may come in one report or several
        try:
            report = dut.expect(ICMPv6MLReport2, within=QUIET_S)
        except AssertionError:
            raise AssertionError(f"no MODE_IS_EXCLUDE record for {sorted(map(str, missing))}") from None
        missing -= {g for t, g, _, _ in records(report) if t == MODE_IS_EXCLUDE}


@rfc(3810, "6.2", MUST,
     "If the received Query is a General Query, the Interface Timer is used to schedule a response to "
     "the General Query after the selected delay. Any previously pending response to a General Query is "
     "canceled.")
def test_general_query_with_a_shorter_delay_advances_the_answer(dut: DUT) -> None:
    group = sn_group(dut)
    dut.send(mld_frame(dut, v2_query(mrc=10000)))  # the answer is due some time in 10 s ...
    dut.send(mld_frame(dut, v2_query(mrc=200)))  # ... this one needs it within 0.2 s
    expect_record(dut, group, (MODE_IS_EXCLUDE,), within=0.45)


@rfc(3810, "6.2", MUST,
     "If there is a pending response to a previous General Query scheduled sooner than the selected "
     "delay, no additional response needs to be scheduled.")
def test_two_general_queries_get_one_answer(dut: DUT) -> None:
    group = sn_group(dut)
    dut.send(mld_frame(dut, v2_query(mrc=200)), mld_frame(dut, v2_query(mrc=1500)))
    expect_record(dut, group, (MODE_IS_EXCLUDE,), within=1.8)
    no_record(dut, group, (MODE_IS_EXCLUDE,), within=1.0)


@rfc(3810, "6.2", MUST,
     "If there is already a pending response to a previous Query scheduled for this multicast address, "
     "and either the new Query is a Multicast Address Specific Query or the recorded source list "
     "associated with the multicast address is empty, then the multicast address source list is cleared "
     "and a single response is scheduled, using the Multicast Address Timer. The new response is "
     "scheduled to be sent at the earliest of the remaining time for the pending report and the selected "
     "delay.")
def test_specific_query_with_a_shorter_delay_advances_the_answer(dut: DUT) -> None:
    group = _g(0x63)
    dut.join_group(group)  # its state-change reports are not answers
    dut.send(mld_frame(dut, v2_query(group, mrc=10000), dst=group),
             mld_frame(dut, v2_query(group, mrc=200), dst=group))
    expect_record(dut, group, (MODE_IS_EXCLUDE,), within=0.45)
    no_record(dut, group, (MODE_IS_EXCLUDE,), within=0.5)  # a single response, not one per query


@rfc(3810, "6.3", MUST,
     "If the expired timer is a Multicast Address Timer and the list of recorded sources for that "
     "multicast address is empty (i.e., there is a pending response to a Multicast Address Specific "
     "Query), then if, and only if, the interface has listening state for that multicast address, a "
     "single Current State Record is sent for that address.")
def test_left_group_is_no_longer_reported(dut: DUT) -> None:
    group = _g(0x64)
    dut.join_group(group)
    dut.leave_group(group)
    dut.send(mld_frame(dut, v2_query(group), dst=group), mld_frame(dut, v2_query()))
    report = expect_record(dut, sn_group(dut), (MODE_IS_EXCLUDE,))  # control: the general query is answered
    assert IPv6Address(group) not in [g for t, g, _, _ in records(report) if t == MODE_IS_EXCLUDE]
    no_record(dut, group, (MODE_IS_EXCLUDE, MODE_IS_INCLUDE), within=0.3)


@pytest.mark.parametrize("kind", ["mldv2-report", "mldv1-report"])
@rfc(3810, "6", MUST,
     "(Received MLD messages of types other than Query are silently ignored, except as required for "
     "interoperation with nodes that implement MLDv1.)")
def test_another_nodes_report_does_not_suppress_a_general_query_answer(dut: DUT, kind: str) -> None:
    # MLDv2 has no report suppression for General Query answers; RFC 3810 8.2.2 lets an MLDv1
    # report suppress an MLDv2 report only as a MAY, and a General Query answer (Interface
    # Timer) names every group, so it must still name ours.
    group = _g(0x65)
    dut.join_group(group)
    other_ll = "fe80::200:ff:fe00:3"
    if kind == "mldv2-report":
        rec = struct.pack("!BBH", MODE_IS_EXCLUDE, 0, 0) + IPv6Address(group).packed
        body, dst = struct.pack("!BBHHH", V2_REPORT, 0, 0, 0, 1) + rec, MLDV2_ROUTERS
    else:
        body, dst = struct.pack("!BBHHH", 131, 0, 0, 0, 0) + IPv6Address(group).packed, group
    other = mld_frame(dut, body, dst=dst, src=other_ll)
    other.src = dut.info.other_mac
    dut.send(mld_frame(dut, v2_query()), other)
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


# ---- queries that must be ignored ---------------------------------------------------------------


@pytest.mark.parametrize("fault", ["global-source", "unspecified-source"])
@rfc(3810, "5.1.14", MUST,
     "If a node (router or host) receives a Query message with the IPv6 Source Address set to the "
     "unspecified address (::), or any other address that is not a valid IPv6 link-local address, it "
     "MUST silently discard the message and SHOULD log a warning.")
def test_query_from_a_non_link_local_source_is_ignored(dut: DUT, fault: str) -> None:
    group = sn_group(dut)  # always listened to: no join needed
    src = str(dut.info.tester_ipv6) if fault == "global-source" else "::"
    dut.send(mld_frame(dut, v2_query(), src=src))
    no_record(dut, group, (MODE_IS_EXCLUDE,))
    dut.send(mld_frame(dut, v2_query()))  # control: the same query from fe80::... is answered
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@pytest.mark.parametrize("fault", ["no-router-alert", "hop-limit-2", "hop-limit-255"])
@rfc(3810, "6.2", MUST,
     "Upon reception of an MLD message that contains a Query, the node checks if the source address of "
     "the message is a valid link-local address, if the Hop Limit is set to 1, and if the Router Alert "
     "option is present in the Hop-By-Hop Options header of the IPv6 packet. If any of these checks "
     "fails, the packet is dropped.")
def test_query_without_router_alert_or_with_hop_limit_above_1_is_ignored(dut: DUT, fault: str) -> None:
    group = sn_group(dut)
    if fault == "no-router-alert":
        bad = mld_frame(dut, v2_query(), router_alert=False)
    else:
        bad = mld_frame(dut, v2_query(), hlim=int(fault.rsplit("-", 1)[1]))
    dut.send(bad)
    no_record(dut, group, (MODE_IS_EXCLUDE,))
    dut.send(mld_frame(dut, v2_query()))  # control
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@pytest.mark.parametrize("length", [25, 26, 27])
@rfc(3810, "8.1", MUST,
     "Query messages that do not match any of the above conditions (e.g., a Query of length 26 octets) "
     "MUST be silently ignored.")
def test_query_of_invalid_length_is_ignored(dut: DUT, length: int) -> None:
    group = sn_group(dut)
    dut.send(mld_frame(dut, v2_query()[:length]))
    no_record(dut, group, (MODE_IS_EXCLUDE,))
    dut.send(mld_frame(dut, v2_query()))  # control: 28 octets, an MLDv2 query
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@rfc(3810, "5.1.12", MUST,
     "If the Payload Length field in the IPv6 header of a received Query indicates that there are "
     "additional octets of data present, beyond the fields described here, MLDv2 implementations MUST "
     "include those octets in the computation to verify the received MLD Checksum, but MUST otherwise "
     "ignore those additional octets.")
def test_query_with_trailing_octets_is_processed(dut: DUT) -> None:
    group = sn_group(dut)
    dut.send(mld_frame(dut, v2_query() + b"\x5a" * 8))
    report = expect_record(dut, group, (MODE_IS_EXCLUDE,))
    assert report[ICMPv6MLReport2].type == V2_REPORT  # answered as MLDv2, not as a v1 query


@rfc(3810, "5.1.2", MUST,
     "When a packet is received, the checksum MUST be verified before processing it.")
def test_query_with_a_bad_checksum_is_ignored(dut: DUT) -> None:
    group = sn_group(dut)
    good = with_checksum(v2_query(), str(dut.info.tester_ipv6_ll), ALL_NODES)
    bad = good[:2] + bytes([good[2] ^ 0x5A, good[3]]) + good[4:]
    dut.send(mld_frame(dut, bad, fix_checksum=False))
    no_record(dut, group, (MODE_IS_EXCLUDE,))
    dut.send(mld_frame(dut, good, fix_checksum=False))
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


# ---- Maximum Response Code ----------------------------------------------------------------------


@rfc(3810, "5.1.3", MUST,
     "If Maximum Response Code < 32768, Maximum Response Delay = Maximum Response Code")
def test_maximum_response_code_below_32768_is_milliseconds(dut: DUT) -> None:
    group = sn_group(dut)
    # 200 ms; a stack that read the code as 1/10 s (IGMP's unit) or seconds would answer too late.
    for _ in range(3):
        dut.send(mld_frame(dut, v2_query(mrc=200)))
        expect_record(dut, group, (MODE_IS_EXCLUDE,), within=0.45)


@rfc(3810, "5.1.3", MUST,
     "If Maximum Response Code >=32768, Maximum Response Code represents a floating-point value as "
     "follows: ... Maximum Response Delay = (mant | 0x1000) << (exp+3)")
def test_maximum_response_code_above_32768_is_a_floating_point_value(dut: DUT) -> None:
    # Code 0x8000 (exp 0, mant 0) is (0x1000) << 3 = 32768 ms. Eight groups each get their own
    # Multicast Address Timer, random in (0, 32.768 s): after 4.5 s all eight have answered only
    # with probability (4.5/32.768)^8 < 1e-6, while a stack that drops the "+3" (4096 ms), takes
    # the code as a signed or 15-bit number (0 ms), or otherwise decodes a delay under 4.5 s,
    # answers all eight.
    dut.set_ipv6_option("force_mld_version", 0)  # the MLDv2 default; the wait needs a control surface
    groups = [_g(0x30 + i) for i in range(8)]
    for group in groups:
        dut.join_group(group)
    for group in groups:
        dut.send(mld_frame(dut, v2_query(group, mrc=0x8000), dst=group))
    answered = set()
    dut.wait(4.5)
    for group in groups:
        try:
            expect_record(dut, group, (MODE_IS_EXCLUDE,), within=0)
            answered.add(group)
        except AssertionError:
            pass
    assert len(answered) < len(groups), (
        "all eight groups were answered within 4.5 s of a query with Maximum Response Code 0x8000 "
        "(32.768 s): the code was not decoded as (mant | 0x1000) << (exp+3)")


@rfc(3810, "6.3", MUST_NOT,
     "Note that any such implementation MUST avoid the \"ack-implosion\" problem, i.e., MUST NOT send a "
     "Report immediately upon reception of a General Query.")
def test_general_query_answer_is_delayed_not_immediate(dut: DUT) -> None:
    # A Maximum Response Delay of 10 s: an answer in the first 50 ms happens to a conforming node
    # with probability 0.5 % per query; it must not happen for all three queries.
    group = sn_group(dut)
    immediate = 0
    for _ in range(3):
        dut.send(mld_frame(dut, v2_query(mrc=10000)))
        try:
            expect_record(dut, group, (MODE_IS_EXCLUDE,), within=0.05)
            immediate += 1
        except AssertionError:
            pass
    assert immediate < 3, "every general query was answered at once"


# ---- QRV, S flag --------------------------------------------------------------------------------


@rfc(3810, "5.1.7", MUST,
     "Nevertheless, it does not suppress the querier election or the normal \"host-side\" processing of "
     "a Query that a router may be required to perform as a consequence of itself being a multicast "
     "listener.")
def test_query_with_the_s_flag_is_still_answered(dut: DUT) -> None:
    group = _g(0x40)
    dut.join_group(group)  # its state-change reports are not answers
    dut.send(mld_frame(dut, v2_query(group, s_flag=True), dst=group))
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


@rfc(3810, "5.1.8", MUST,
     "If non-zero, the QRV field contains the [Robustness Variable] value used by the Querier. If the "
     "Querier's [Robustness Variable] exceeds 7 (the maximum value of the QRV field), the QRV field is "
     "set to zero.")
@pytest.mark.parametrize("qrv,qqic", [(0, 125), (7, 0), (2, 0xFF)])
def test_query_with_any_qrv_and_qqic_is_answered(dut: DUT, qrv: int, qqic: int) -> None:
    group = sn_group(dut)
    dut.send(mld_frame(dut, v2_query(qrv=qrv, qqic=qqic)))
    expect_record(dut, group, (MODE_IS_EXCLUDE,))


# ---- address changes and link restart -----------------------------------------------------------

EXTRA_ADDRESS: Final = "2001:db8:1::ab:cdef/64"  # solicited-node group ff02::1:ffab:cdef


@rfc(2710, "5", MUST,
     "MLD messages ARE sent for multicast addresses whose scope is 2 (link-local), including "
     "Solicited-Node multicast addresses [ADDR-ARCH], except for the link-scope, all-nodes address "
     "(FF02::1).")
def test_new_address_reports_its_solicited_node_group(dut: DUT) -> None:
    dut.add_address(EXTRA_ADDRESS)
    expect_record(dut, solicited_node(EXTRA_ADDRESS.split("/")[0]), (CHANGE_TO_EXCLUDE,), within=1.0)


@rfc(3810, "5.2.12", MUST,
     "CHANGE_TO_INCLUDE_MODE - indicates that the interface has changed to INCLUDE filter mode for "
     "the specified multicast address.")
def test_removed_address_leaves_its_solicited_node_group(dut: DUT) -> None:
    group = solicited_node(EXTRA_ADDRESS.split("/")[0])
    dut.add_address(EXTRA_ADDRESS)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    dut.remove_address(EXTRA_ADDRESS)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)


@pytest.mark.parametrize("which", ["link-local-solicited-node", "added-address-solicited-node", "joined-group"])
@rfc(9777, "6", MUST,
     "Multicast listeners MUST send MLD messages for all multicast addresses except for the "
     "link-scope all-nodes multicast address and any multicast addresses of scope less than 2.")
def test_restarted_link_reports_its_groups_again(dut: DUT, which: str) -> None:
    joined = _g(0x50)
    dut.add_address(EXTRA_ADDRESS)
    dut.join_group(joined)
    dut.wait(2.2)  # the reports of the add and the join (and their retransmissions) are over
    flush_reports(dut)  # only reports sent after the restart count
    group = {"link-local-solicited-node": sn_group(dut),
             "added-address-solicited-node": solicited_node(EXTRA_ADDRESS.split("/")[0]),
             "joined-group": joined}[which]
    dut.restart_link()
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE), within=2.0)
    assert IPv6Address(ALL_NODES) not in [g for _, g, _, _ in records(report)], "ff02::1 was reported"


def short_dad(dut: DUT) -> None:
    """DAD on, one probe, 1 s RetransTimer, no random start delay (RFC 4862 5.4)."""
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("dad_transmits", 1)
    dut.set_ipv6_option("retrans_time", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)


@rfc(3810, "5.2.13", MUST,
     "An MLDv2 Report MUST be sent with a valid IPv6 link-local source address, or the unspecified "
     "address (::), if the sending interface has not acquired a valid link-local address yet.")
def test_reports_while_the_link_local_is_tentative_come_from_the_unspecified_address(dut: DUT) -> None:
    # DAD on, one probe, 1 s RetransTimer, no random start delay: after the link flap the
    # link-local address is tentative for about 1 s (RFC 4862 5.4).
    short_dad(dut)
    dut.restart_link()
    ll = str(dut.info.dut_ipv6_ll)
    dut.expect_none(IPv6(src=ll), ICMPv6MLReport2, within=0.7)  # no report from a tentative address
    dut.expect(IPv6(src="::"), ICMPv6MLReport2, within=0)  # control: the reports did go out, from ::


@rfc(3810, "5.2.13", SHOULD,
     "Once a valid link-local address is available, a node SHOULD generate new MLDv2 Report messages "
     "for all multicast addresses joined on the interface.")
def test_reports_are_sent_again_once_the_link_local_is_valid(dut: DUT) -> None:
    group = _g(0x51)
    short_dad(dut)
    dut.join_group(group)
    dut.wait(1.1)  # the join's reports (from the link-local) are over ...
    flush_reports(dut)  # ... and do not count
    dut.restart_link()
    dut.wait(0.7)  # the link-local address is still tentative
    dut.expect(IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport2, within=2.3,
               records=_has_record(group, (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE)))

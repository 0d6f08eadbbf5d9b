"""MLDv2 and address changes (RFC 3810, RFC 2710, RFC 9777): the solicited-node groups of
added and removed addresses, the groups reported again after a link restart, and reports
sent while the link-local address is tentative.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Final

import pytest
from scapy.layers.inet6 import ICMPv6MLReport2, ICMPv6ND_NS, IPv6

from harness import DUT, MUST, described, rfc, solicited_node
from harness.features import optional_feature
from harness.mld import (
    ALL_NODES,
    CHANGE_TO_EXCLUDE,
    CHANGE_TO_INCLUDE,
    MODE_IS_EXCLUDE,
    expect_record,
    flush_reports,
    has_record,
    records,
    site_group,
    sn_group,
)

# MLDv2 is required of every node that joins groups (RFC 8504 5.11); a DUT without it fails that one
# requirement (ipv6/test_rfc8504_node_requirements.py), and these tests of its details are not run.
pytestmark = optional_feature("mldv2")

# ---- address changes and link restart -----------------------------------------------------------

EXTRA_ADDRESS: Final = "2001:db8:1::ab:cdef/64"  # solicited-node group ff02::1:ffab:cdef
TWIN_ADDRESS: Final = "2001:db8:1::1:ab:cdef/64"  # the same low-order 24 bits: the same group


@described(2710, "5", MUST,
           "MLD messages ARE sent for multicast addresses whose scope is 2 (link-local), including "
           "Solicited-Node multicast addresses [ADDR-ARCH], except for the link-scope, all-nodes address "
           "(FF02::1).")
def test_new_address_reports_its_solicited_node_group(dut: DUT) -> None:
    dut.add_address(EXTRA_ADDRESS)
    expect_record(dut, solicited_node(EXTRA_ADDRESS.split("/")[0]), (CHANGE_TO_EXCLUDE,), within=1.0)


@described(3810, "5.2.12", MUST,
           "CHANGE_TO_INCLUDE_MODE - indicates that the interface has changed to INCLUDE filter mode for the "
           "specified multicast address.")
@pytest.mark.parametrize("shared", [False, True], ids=["alone", "after-another-address-of-its-group"])
def test_removed_address_leaves_its_solicited_node_group(dut: DUT, shared: bool) -> None:
    group = solicited_node(EXTRA_ADDRESS.split("/")[0])
    dut.add_address(EXTRA_ADDRESS)
    expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    if shared:
        # A second address of the same group comes and goes first (RFC 4861 7.2.1 keeps the group
        # while one remains): the group is left when the last of its addresses goes, not never.
        dut.add_address(TWIN_ADDRESS)
        dut.remove_address(TWIN_ADDRESS)
    dut.remove_address(EXTRA_ADDRESS)
    expect_record(dut, group, (CHANGE_TO_INCLUDE,), within=1.2)


@pytest.mark.parametrize("which", ["link-local-solicited-node", "added-address-solicited-node", "joined-group"])
@rfc("RFC9777-6-1")
def test_restarted_link_reports_its_groups_again(dut: DUT, which: str) -> None:
    joined = site_group(0x50)
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


@rfc("RFC3810-5.2.13-1")
def test_reports_while_the_link_local_is_tentative_come_from_the_unspecified_address(dut: DUT) -> None:
    # DAD on, one probe, 1 s RetransTimer, no random start delay: after the link flap the
    # link-local address is tentative until 1 s after its probe (RFC 4862 5.4). The window is
    # timed from the probe's arrival, not from when the tester got the link back, which a loaded
    # tester can learn late, when the address is valid and rightly reported from.
    short_dad(dut)
    flapped = dut.now()
    dut.restart_link()
    ll = str(dut.info.dut_ipv6_ll)
    probe = dut.expect(IPv6(src="::"), ICMPv6ND_NS(tgt=ll), within=1.0)
    dut.expect_none(IPv6(src=ll), ICMPv6MLReport2, since=flapped,  # no report from a tentative address
                    within=float(probe.time) + 0.7 - flapped)
    dut.expect(IPv6(src="::"), ICMPv6MLReport2, within=0)  # control: the reports did go out, from ::


@rfc("RFC3810-5.2.13-3")
def test_reports_are_sent_again_once_the_link_local_is_valid(dut: DUT) -> None:
    group = site_group(0x51)
    short_dad(dut)
    dut.join_group(group)
    dut.wait(1.1)  # the join's reports (from the link-local) are over ...
    flush_reports(dut)  # ... and do not count
    dut.restart_link()
    dut.wait(0.7)  # the link-local address is still tentative
    dut.expect(IPv6(src=str(dut.info.dut_ipv6_ll)), ICMPv6MLReport2, within=2.3,
               records=has_record(group, (CHANGE_TO_EXCLUDE, MODE_IS_EXCLUDE)))


@rfc("RFC3810-5.2.13-1")
def test_report_comes_from_the_remaining_link_local_address(dut: DUT) -> None:
    # A second link-local address, valid at once (no DAD), then the first one removed: the
    # interface still has a valid link-local address, so a join's report is sent from it, not
    # from :: ("or the unspecified address (::), if the sending interface has not acquired a valid
    # link-local address yet").
    other = "fe80::db8:5"
    group = site_group(0x52)
    dut.add_address(f"{other}/64")
    dut.remove_address(f"{dut.info.dut_ipv6_ll}/64")
    flush_reports(dut)  # the solicited-node groups' reports of the change do not count
    dut.join_group(group)
    report = expect_record(dut, group, (CHANGE_TO_EXCLUDE,), within=1.0)
    assert report[IPv6].src == other, f"the report was sent from {report[IPv6].src}, not the link-local {other}"

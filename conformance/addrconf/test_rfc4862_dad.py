"""RFC 4862 §5.4: Duplicate Address Detection of an address added with ``dad=True``.

The address under test is 2001:db8:2::77/64 (solicited-node group ff02::1:ff00:77, joined by no
other address of the DUT). ``rtr_solicit_delay`` 0 makes the first probe prompt (RFC 4862 §5.4.2
lets a node delay it up to MAX_RTR_SOLICITATION_DELAY); ``retrans_time`` sets RetransTimer.
Another node's answers come from 2001:db8:1::3 / MAC 02:00:00:00:00:03.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Final

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from harness import (
    DUT,
    MUST,
    SHOULD,
    SHOULD_NOT,
    ExpectationFailed,
    described,
    multicast_mac,
    rfc,
    solicited_node,
)
from harness.features import become_router
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import PIO_FORMS_AN_ADDRESS

TARGET: Final = "2001:db8:2::77"
CIDR: Final = f"{TARGET}/64"
GROUP: Final = solicited_node(TARGET)
UNSPECIFIED: Final = "::"
ALL_NODES: Final = "ff02::1"
MLDV2_REPORTS: Final = "ff02::16"
PEER: Final = "2001:db8:2::5"
ECHO_ID: Final = 0x4862
RETRANS_TIMER_S: Final = 1.0  # RFC 4861 10: RETRANS_TIMER, RetransTimer where start_dad does not set it


def start_dad(dut: DUT, transmits: int = 1, retrans: float = 1.0, delay: float = 0) -> None:
    dut.set_ipv6_option("rtr_solicit_delay", delay)
    dut.set_ipv6_option("dad_transmits", transmits)
    dut.set_ipv6_option("retrans_time", retrans)
    dut.add_address(CIDR, dad=True)


def dad_probe(dut: DUT, within: float = 1.5, target: str = TARGET) -> Packet:
    try:
        return dut.expect(IPv6(src=UNSPECIFIED), ICMPv6ND_NS(tgt=target), within=within)
    except ExpectationFailed:
        raise AssertionError(f"no DAD Neighbor Solicitation for {target} within {within} s") from None


def state_of(dut: DUT, addr: str = TARGET) -> str | None:
    for info in dut.ipv6_addresses():
        if info.interface.ip == IPv6Address(addr):
            return info.state
    return None


def skip_if_late(what: str, sent_by: float, probe: Packet | float, lasts: float = RETRANS_TIMER_S,
                 since: str = "the DAD probe") -> None:
    """Skip the test when ``what`` left the tester ``lasts`` or more after ``probe``, the last DAD
    probe, reached it (or after the DUT time ``probe``, a moment DAD cannot have begun before):
    DAD may have ended before it came, a loaded tester's doing. RFC 4862 5.4: "An address is
    considered unique if none of the tests indicate the presence of a duplicate address within
    RetransTimer milliseconds after having sent DupAddrDetectTransmits Neighbor Solicitations."
    Called only where the outcome shows the address was no longer tentative."""
    after = sent_by - (probe if isinstance(probe, float) else float(probe.time))
    if after >= lasts:
        pytest.skip(f"{what} left the tester {after:.2f} s after {since}, when DAD ({lasts:g} s from it) may "
                    "have ended: a loaded tester; nothing to show about a tentative address")


def tentative_state(dut: DUT, probe: Packet, lasts: float = RETRANS_TIMER_S, addr: str = TARGET) -> str | None:
    """The address's state while DAD still runs: no sooner than ``lasts`` after ``probe`` reached
    the tester can it end. The test skips when the listing came later and the address was no
    longer tentative (skip_if_late)."""
    state = state_of(dut, addr)
    if state != "tentative":
        skip_if_late("the listing of the addresses", dut.now(), probe, lasts)
    return state


def ping(dut: DUT, seq: int, dst: str = TARGET) -> None:
    dut.send(dut.ipv6(dst=dst) / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))


def other_node_advertises(dut: DUT, target: str = TARGET) -> None:
    mac = dut.info.other_mac
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=str(dut.info.other_ipv6), dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=target, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))


def other_node_probes(dut: DUT, target: str = TARGET) -> None:
    group = solicited_node(target)
    dut.send(Ether(src=dut.info.other_mac, dst=multicast_mac(group))
             / IPv6(src=UNSPECIFIED, dst=group, hlim=NDP_HOP_LIMIT) / ICMPv6ND_NS(tgt=target))


# ---- the probes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("transmits", [1, 3])
@rfc("RFC4862-5.1-1")
def test_dad_sends_dup_addr_detect_transmits_solicitations(dut: DUT, transmits: int) -> None:
    # RFC 4862 §5.4.2: "To check an address, a node sends DupAddrDetectTransmits Neighbor Solicitations, each
    # separated by RetransTimer milliseconds."
    start_dad(dut, transmits, retrans=0.5)
    for _ in range(transmits):
        dad_probe(dut, within=1.0)
    dut.expect_none(ICMPv6ND_NS(tgt=TARGET), within=1.0)


@described(4862, "5.4.2", MUST,
           "To check an address, a node sends DupAddrDetectTransmits Neighbor Solicitations, each separated "
           "by RetransTimer milliseconds.")
def test_dad_solicitations_are_retrans_timer_apart(dut: DUT) -> None:
    start_dad(dut, 2, retrans=1.0)
    first = dad_probe(dut)
    # Timed from the first probe's arrival, not from when a loaded tester read it: the second
    # one, due a RetransTimer later, must not fall in a window opened late.
    dut.expect_none(ICMPv6ND_NS(tgt=TARGET), within=0.85, since=float(first.time))
    dad_probe(dut, within=max(0.0, float(first.time) + 0.85 + 0.5 - dut.now()))


@described(4862, "5.4.2", MUST,
           "The solicitation's Target Address is set to the address being checked, the IP source is set to "
           "the unspecified address, and the IP destination is set to the solicited-node multicast address "
           "of the target address.")
def test_dad_solicitation_is_from_unspecified_to_solicited_node_group(dut: DUT) -> None:
    start_dad(dut)
    ns = dut.expect(ICMPv6ND_NS(tgt=TARGET), within=1.5)
    assert ns[IPv6].src == UNSPECIFIED, f"DAD probe from {ns[IPv6].src}"
    assert IPv6Address(ns[IPv6].dst) == IPv6Address(GROUP), f"DAD probe to {ns[IPv6].dst}"
    assert ns[Ether].dst.lower() == multicast_mac(GROUP)


@rfc("RFC4861-4.3-3", quote="Source link-layer address The link-layer address for the sender.")
def test_dad_solicitation_has_no_source_link_layer_option(dut: DUT) -> None:
    start_dad(dut)
    assert not dad_probe(dut).haslayer(ICMPv6NDOptSrcLLAddr)


@rfc("RFC4861-7.1.1-1", quote="The IP Hop Limit field has a value of 255")
def test_dad_solicitation_has_hop_limit_255(dut: DUT) -> None:
    start_dad(dut)
    assert dad_probe(dut)[IPv6].hlim == NDP_HOP_LIMIT


def _is_report_for(pkt: Packet, group: str) -> bool:
    packed = IPv6Address(group).packed
    return any(pkt.haslayer(cls) and packed in bytes(pkt[cls]) for cls in (ICMPv6MLReport2, ICMPv6MLReport))


@rfc("RFC4862-5.4.2-1")
def test_mld_report_for_solicited_node_group_precedes_first_probe(dut: DUT) -> None:
    # §5.4.2: "In the case of Duplicate Address Detection, the MLD report message is required in
    # order to inform MLD-snooping switches, rather than routers, to forward multicast packets."
    # The join is only visible on the wire through that report, so it must come first.
    start_dad(dut, delay=1.0)
    order = []
    while True:
        pkt = dut.expect(IPv6, dst=lambda d: d in (GROUP, MLDV2_REPORTS), within=2.0)
        if _is_report_for(pkt, GROUP):
            order.append("report")
        elif pkt.haslayer(ICMPv6ND_NS) and pkt[ICMPv6ND_NS].tgt == TARGET:
            order.append("probe")
            break
    assert order[0] == "report", f"the first DAD probe came before any MLD report for {GROUP}"


# ---- the tentative address ------------------------------------------------------------------------------

@described(4862, "5.4", MUST,
           "An address on which the Duplicate Address Detection procedure is applied is said to be tentative "
           "until the procedure has completed successfully.")
def test_address_is_tentative_during_dad_then_preferred(dut: DUT) -> None:
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    assert tentative_state(dut, probe) == "tentative"
    dut.wait(1.5)
    assert state_of(dut) == "preferred", "the address did not become usable after DAD found no duplicate"


@described(4862, "5.4", SHOULD,
           "Other packets addressed to the tentative address should be silently discarded.")
@pytest.mark.parametrize("role", ["host", "router"])
def test_tentative_address_receives_nothing(dut: DUT, role: str) -> None:
    # A router neither: it does not take the packet for one to forward (which would have it
    # resolve the address it is checking, with a solicitation carrying its link-layer address).
    if role == "router":
        become_router(dut, 6)
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    ping(dut, 1)
    pinged = dut.now()
    try:
        dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=1), within=0.4)
    except ExpectationFailed:
        skip_if_late("the echo request", pinged, probe)
        raise
    dut.expect_none(ICMPv6ND_NS(tgt=TARGET), ICMPv6NDOptSrcLLAddr, within=0.0)
    dut.wait(1.0)
    ping(dut, 2)  # control: the same request once DAD is over
    dut.expect(IPv6(src=TARGET), ICMPv6EchoReply(id=ECHO_ID, seq=2))


@rfc("RFC4862-5.4.3-1")
def test_solicitation_for_tentative_address_is_not_answered(dut: DUT) -> None:
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    resolve = (dut.ether(dst=multicast_mac(GROUP)) / IPv6(src=str(dut.info.tester_ipv6), dst=GROUP)
               / ICMPv6ND_NS(tgt=TARGET) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    dut.send(resolve)
    resolved = dut.now()
    try:
        dut.expect_none(ICMPv6ND_NA(tgt=TARGET), within=0.4)
    except ExpectationFailed:
        skip_if_late("the solicitation", resolved, probe)
        raise
    dut.wait(1.0)
    # "If the target address is tentative, and the source address is a unicast address, the
    # solicitation's sender is performing address resolution on the target": no duplicate.
    assert state_of(dut) == "preferred"
    dut.send(resolve)  # control
    dut.expect(ICMPv6ND_NA(tgt=TARGET))


def _udp_source(dut: DUT, port: int, dst: str) -> tuple[str, float]:
    """Send a datagram from the DUT to ``dst`` (on-link), answering its resolution; its source,
    and the DUT time by which the DUT had been told to send it (and so had chosen the source)."""
    dut.udp_send(port, b"which source", dst, 9)
    asked = dut.now()
    while True:
        pkt = _next_ns_or_udp(dut, dst)
        if pkt.haslayer(UDP):
            return str(pkt[IPv6].src), asked
        mac = dut.info.other_mac
        dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=dst, dst=pkt[IPv6].src)
                 / ICMPv6ND_NA(tgt=dst, S=1, O=1, R=0) / ICMPv6NDOptDstLLAddr(lladdr=mac))


def _next_ns_or_udp(dut: DUT, dst: str) -> Packet:
    wanted = (IPv6Address(dst), IPv6Address(solicited_node(dst)))
    return dut.expect(IPv6, dst=lambda d: IPv6Address(d) in wanted, within=2.0)


@described(4862, "5.4", MUST,
           "A tentative address is not considered \"assigned to an interface\" in the traditional sense.")
def test_tentative_address_is_not_used_as_source(dut: DUT) -> None:
    # To 2001:db8:2::5, the address of the same /64 is the better source (RFC 6724 rule 8)
    # once it is assigned; while tentative the DUT must pick another one.
    dut.udp_bind(4862, 6)
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    source, asked = _udp_source(dut, 4862, PEER)
    if source == TARGET:
        skip_if_late("the request to send the datagram", asked, probe)
    assert source != TARGET, "a datagram left from the tentative address"
    dut.wait(1.2)
    assert state_of(dut) == "preferred"
    assert _udp_source(dut, 4862, PEER)[0] == TARGET  # control: the assigned address is chosen


# ---- duplicates ---------------------------------------------------------------------------------------


def _assert_never_assigned(dut: DUT, claimed: float, probe: Packet | None) -> None:
    """The duplicate found by the other node's message, which left the tester by ``claimed``,
    after ``probe`` (None: the DAD probe, if any, is still to be read)."""
    dut.wait(1.5)  # past the end of DAD
    state = state_of(dut)
    if state is not None:
        if probe is None:
            try:
                probe = dut.expect(IPv6(src=UNSPECIFIED), ICMPv6ND_NS(tgt=TARGET), within=0)
            except ExpectationFailed:
                probe = None  # no probe at all: DAD cannot have ended, the message came in time
        if probe is not None:
            skip_if_late("the other node's message", claimed, probe)
    assert state is None, f"the duplicate address is listed as {state}"
    # Control: the DUT answers on its configured address, so the silence below is the duplicate's.
    ping(dut, 8, str(dut.info.dut_ipv6.ip))
    dut.expect(ICMPv6EchoReply(id=ECHO_ID, seq=8))
    ping(dut, 9)
    dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=9), within=0.5)


@rfc("RFC4862-5.4.5-1")
def test_advertisement_for_tentative_address_is_a_duplicate(dut: DUT) -> None:
    # §5.4.4: "If the target address is tentative, the tentative address is not unique."
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    assert tentative_state(dut, probe) == "tentative"
    other_node_advertises(dut)
    _assert_never_assigned(dut, dut.now(), probe)


@described(4862, "5.4.3", SHOULD_NOT,
           "If the solicitation is from another node, the tentative address is a duplicate and should not be "
           "used (by either node).")
def test_probe_from_another_node_is_a_duplicate(dut: DUT) -> None:
    start_dad(dut, 1, retrans=1.0)
    probe = dad_probe(dut)
    assert tentative_state(dut, probe) == "tentative"
    other_node_probes(dut)
    _assert_never_assigned(dut, dut.now(), probe)


@rfc("RFC4862-5.4-1",
     quote="- An interface whose DupAddrDetectTransmits variable is set to zero does not perform Duplicate "
           "Address Detection.")
def test_zero_dup_addr_detect_transmits_means_no_dad(dut: DUT) -> None:
    # §5.1: "A value of zero indicates that Duplicate Address Detection is not performed on
    # tentative addresses."
    start_dad(dut, 0)
    dut.expect_none(ICMPv6ND_NS(tgt=TARGET), within=1.0)
    assert state_of(dut) == "preferred"
    ping(dut, 1)
    dut.expect(ICMPv6EchoReply(id=ECHO_ID, seq=1))


# ---- the link-local address ------------------------------------------------------------------------------

@rfc("RFC4862-5.4-1")
def test_link_local_address_is_checked_when_the_link_comes_up(dut: DUT) -> None:
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.restart_link()
    ns = dad_probe(dut, target=str(dut.info.dut_ipv6_ll))
    assert IPv6Address(ns[IPv6].dst) == IPv6Address(solicited_node(dut.info.dut_ipv6_ll))


@rfc("RFC4862-5.4.5-1")
def test_duplicate_link_local_address_is_not_assigned(dut: DUT) -> None:
    link_local = str(dut.info.dut_ipv6_ll)
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.restart_link()
    probe = dad_probe(dut, target=link_local)
    other_node_advertises(dut, link_local)
    claimed = dut.now()
    dut.wait(1.5)
    if state_of(dut, link_local) is not None:
        skip_if_late("the other node's advertisement", claimed, probe)
    assert state_of(dut, link_local) is None, "the duplicate link-local address is assigned"


@rfc("RFC4862-5.4-1")
def test_configured_address_is_checked_again_when_the_link_comes_up(dut: DUT) -> None:
    # A manually configured address the DUT keeps over a link flap (Linux keep_addr_on_down) is
    # assigned to the interface anew when it comes up: another node may have taken it meanwhile.
    start_dad(dut)
    dad_probe(dut)
    dut.wait(1.5)
    assert state_of(dut) == "preferred", "the address did not become usable after DAD found no duplicate"
    dut.restart_link()
    probe = dad_probe(dut, within=2.5)
    # ... and a duplicate found now is not assigned (RFC 4862 5.4.5)
    other_node_advertises(dut)
    claimed = dut.now()
    dut.wait(1.5)
    if state_of(dut) is not None:
        skip_if_late("the other node's advertisement", claimed, probe)
    assert state_of(dut) is None, "the address kept over the link flap is assigned although it is a duplicate"


@rfc("RFC4862-5.4-1", quote="An interface whose DupAddrDetectTransmits variable is set to zero does not "
                             "perform Duplicate Address Detection.")
def test_address_left_tentative_is_assigned_when_the_link_comes_up_without_dad(dut: DUT) -> None:
    # The link goes down while the address is tentative, and DupAddrDetectTransmits is 0 when it
    # comes up again: no Duplicate Address Detection, so nothing keeps the address tentative.
    start_dad(dut, 3, retrans=1.0)
    probe = dad_probe(dut)
    assert tentative_state(dut, probe, lasts=3 * 1.0) == "tentative"  # three probes, RetransTimer apart
    dut.set_ipv6_option("dad_transmits", 0)
    dut.restart_link()
    # No more probes for it (the first one above shows how they look), and it is assigned.
    dut.expect_none(IPv6(src=UNSPECIFIED), ICMPv6ND_NS(tgt=TARGET), within=2.5)
    assert state_of(dut) == "preferred", f"{TARGET} is {state_of(dut)} after the link came up without DAD"


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_address_that_failed_dad_is_formed_again_on_a_new_attachment(dut: DUT) -> None:
    # The EUI-64 address of 2001:db8:2::/64 is a duplicate; after a link flap (a new attachment:
    # the duplicate is gone with the other autoconfigured addresses) the prefix forms it again.
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    slaac = "2001:db8:2::ff:fe00:1"  # RFC 4291 Appendix A: the EUI-64 identifier of 02:00:00:00:00:01
    _advertise_slaac_prefix(dut)
    probe = dad_probe(dut, target=slaac)
    other_node_advertises(dut, slaac)
    claimed = dut.now()
    dut.wait(1.5)
    if state_of(dut, slaac) is not None:
        skip_if_late("the other node's advertisement", claimed, probe)
    assert state_of(dut, slaac) is None, "the duplicate autoconfigured address is assigned"
    dut.restart_link()
    dut.wait(1.5)  # the link-local address's DAD
    _advertise_slaac_prefix(dut)
    dad_probe(dut, within=2.5, target=slaac)
    dut.wait(1.5)
    assert state_of(dut, slaac) == "preferred", f"{slaac} was not formed again on the new attachment"


def _advertise_slaac_prefix(dut: DUT) -> None:
    mac = dut.info.tester_mac
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_RA(routerlifetime=0, prf=0) / ICMPv6NDOptSrcLLAddr(lladdr=mac)
             / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=600, preferredlifetime=300,
                                     prefix="2001:db8:2::"))


@rfc("RFC4862-5.4-1", "RFC4862-5.4-3", "RFC4862-5.4-4")
def test_autoconfigured_address_is_checked(dut: DUT) -> None:
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    _advertise_slaac_prefix(dut)
    # RFC 4291 Appendix A: the EUI-64 identifier of 02:00:00:00:00:01.
    slaac = "2001:db8:2::ff:fe00:1"
    probe = dad_probe(dut, target=slaac)
    assert tentative_state(dut, probe, addr=slaac) == "tentative"


@rfc("RFC4862-5.4.2-4")
def test_advertisement_during_the_initial_delay_is_a_duplicate(dut: DUT) -> None:
    # MAX_RTR_SOLICITATION_DELAY 1 s: the advertisement arrives before (or right at) the first probe.
    adding = dut.now()  # DAD ends a RetransTimer after its probe at the earliest, after this
    start_dad(dut, 1, retrans=1.0, delay=1.0)
    state = state_of(dut)
    if state != "tentative":
        skip_if_late("the listing of the addresses", dut.now(), adding, since="the address was added")
    assert state == "tentative"
    other_node_advertises(dut)
    claimed = dut.now()
    dut.wait(1.0)
    _assert_never_assigned(dut, claimed, None)


DISABLED_PORT = 45645


@rfc("RFC4862-5.4.5-2")
def test_duplicate_hardware_based_link_local_disables_ip_on_the_interface(dut: DUT) -> None:
    link_local = str(dut.info.dut_ipv6_ll)
    global_address = str(dut.info.dut_ipv6.ip)
    ping(dut, 1, global_address)  # control: IPv6 works before
    dut.expect(ICMPv6EchoReply(id=ECHO_ID, seq=1))
    dut.udp_bind(DISABLED_PORT, 6)
    dut.send(dut.ipv6(dst=global_address) / UDP(sport=DISABLED_PORT, dport=DISABLED_PORT) / Raw(b"enabled"))
    assert dut.udp_recv(DISABLED_PORT) is not None, "control: the datagram before the link flap was not delivered"
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.restart_link()
    probe = dad_probe(dut, target=link_local)
    other_node_advertises(dut, link_local)
    claimed = dut.now()
    dut.wait(1.5)
    ping(dut, 2, global_address)
    try:
        dut.expect_none(ICMPv6EchoReply(id=ECHO_ID, seq=2), within=0.7)
    except ExpectationFailed:
        if state_of(dut, link_local) is not None:  # assigned: the advertisement may have come too late
            skip_if_late("the other node's advertisement", claimed, probe)
        raise
    # Nor is anything received: a UDP datagram to a bound port is not delivered (no answer on
    # the wire would show it).
    dut.send(dut.ipv6(dst=global_address) / UDP(sport=DISABLED_PORT, dport=DISABLED_PORT) / Raw(b"disabled"))
    assert dut.udp_recv(DISABLED_PORT, within=0.5) is None, "a datagram was delivered on the disabled interface"


# ---- what DAD ignores, and where it does not run ---------------------------------------------------------

def _invalid_probe(dut: DUT) -> Packet:
    # A DAD probe from another node, but with Hop Limit 254: it fails RFC 4861 §7.1.1.
    return (Ether(src=dut.info.other_mac, dst=multicast_mac(GROUP))
            / IPv6(src=UNSPECIFIED, dst=GROUP, hlim=NDP_HOP_LIMIT - 1) / ICMPv6ND_NS(tgt=TARGET))


def _invalid_advert(dut: DUT) -> Packet:
    # Another node's advertisement for the address, but with ICMP Code 1: it fails §7.1.2.
    mac = dut.info.other_mac
    return (Ether(src=mac, dst=multicast_mac(ALL_NODES))
            / IPv6(src=str(dut.info.other_ipv6), dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
            / ICMPv6ND_NA(tgt=TARGET, R=0, S=0, O=1, code=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))


@pytest.mark.parametrize("invalid", [_invalid_probe, _invalid_advert], ids=["ns-hop-limit-254", "na-code-1"])
@rfc("RFC4862-5.4.1-1")
def test_invalid_solicitation_or_advertisement_does_not_stop_dad(dut: DUT, invalid: object) -> None:
    start_dad(dut, 2, retrans=0.5)
    dad_probe(dut)
    assert callable(invalid)
    dut.send(invalid(dut))
    dad_probe(dut, within=1.0)  # DAD goes on: the second probe comes
    dut.wait(0.8)
    assert state_of(dut) == "preferred", "an invalid message made the tentative address a duplicate"


SUBNET_ROUTER_ANYCAST: Final = "2001:db8:2::"  # RFC 4291 2.6.1, of TARGET's subnet


@rfc("RFC4862-5.4-2")
def test_no_dad_for_the_subnet_router_anycast_address(dut: DUT) -> None:
    # A router holds the Subnet-Router anycast address of each of its subnets (RFC 4291 2.6.1).
    dut.set_forwarding(6, True)
    start_dad(dut, 1, retrans=0.5)
    dad_probe(dut)  # the unicast address is checked ...
    # ... the anycast address never, before or after the unicast one is assigned.
    dut.expect_none(IPv6(src=UNSPECIFIED), ICMPv6ND_NS(tgt=SUBNET_ROUTER_ANYCAST), within=2.0)
    anycast_group = solicited_node(SUBNET_ROUTER_ANYCAST)
    dut.send(dut.ether(dst=multicast_mac(anycast_group))
             / IPv6(src=str(dut.info.tester_ipv6), dst=anycast_group, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NS(tgt=SUBNET_ROUTER_ANYCAST) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    # Control: the DUT does hold the anycast address (RFC 4861 §7.2.7: answered within 1 s).
    dut.expect(ICMPv6ND_NA(tgt=SUBNET_ROUTER_ANYCAST), within=1.5)

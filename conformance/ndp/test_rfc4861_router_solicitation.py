"""RFC 4861 §4.1, §6.3.7 (updated by RFC 7559): Router Solicitations a host sends when its
interface comes up.

``dut.restart_link()`` is the "interface becomes enabled" event; ``router_solicitations``,
``rtr_solicit_interval`` and ``rtr_solicit_delay`` (the protocol constants MAX_RTR_SOLICITATIONS,
RTR_SOLICITATION_INTERVAL and MAX_RTR_SOLICITATION_DELAY, §10) are shortened so the linux
backend spends a few seconds at most; in-process the waits are virtual.
"""

from __future__ import annotations

from typing import Any, Final

import pytest
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6ND_RA, ICMPv6ND_RS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import DUT, MUST, SHOULD, ExpectationFailed, described, multicast_mac, rfc
from harness.features import become_router
from harness.rfc import NDP_HOP_LIMIT

ALL_ROUTERS: Final = "ff02::2"
ALL_NODES: Final = "ff02::1"
UNSPECIFIED: Final = "::"
INTERVAL_S: Final = 1.0  # RTR_SOLICITATION_INTERVAL for these tests
DEFAULT_INTERVAL_S: Final = 4.0  # RFC 4861 §10: RTR_SOLICITATION_INTERVAL 4 seconds
DELAY_S: Final = 1.0  # MAX_RTR_SOLICITATION_DELAY for these tests
SLACK_S: Final = 0.5
# RFC 7559 §2 (which updates §6.3.7) lets the retransmission time be randomized by +-10% around
# the interval ("RAND is a random number in the range [-0.1, +0.1]" of RFC 3315 §14).
JITTER: Final = 0.1


def solicit(dut: DUT, count: int = 3, interval: float = INTERVAL_S, delay: float = DELAY_S) -> None:
    """Let the DUT send up to ``count`` solicitations after a link flap."""
    dut.set_ipv6_option("router_solicitations", count)
    dut.set_ipv6_option("rtr_solicit_interval", interval)
    dut.set_ipv6_option("rtr_solicit_delay", delay)
    dut.restart_link()


def next_rs(dut: DUT, within: float) -> Packet:
    return dut.expect(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=within)


def first_rs(dut: DUT) -> Packet:
    try:
        return next_rs(dut, DELAY_S + SLACK_S)
    except ExpectationFailed:
        raise AssertionError(f"no Router Solicitation within MAX_RTR_SOLICITATION_DELAY ({DELAY_S} s) "
                             "+ 0.5 s of the link coming up") from None


@rfc("RFC4861-6.3.7-1")
@pytest.mark.parametrize("count", [1, 2])
def test_host_sends_up_to_max_solicitations(dut: DUT, count: int) -> None:
    solicit(dut, count)
    first_rs(dut)
    for _ in range(count - 1):
        next_rs(dut, INTERVAL_S * (1 + JITTER) + SLACK_S)
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=2 * INTERVAL_S + SLACK_S)


@rfc("RFC4861-6.3.7-1")
def test_solicitations_are_separated_by_the_interval(dut: DUT) -> None:
    solicit(dut, 2)
    first = first_rs(dut)
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=INTERVAL_S * (1 - JITTER) - 0.05, since=first.time)
    next_rs(dut, 2 * JITTER * INTERVAL_S + SLACK_S)


@rfc("RFC4861-6.3.7-1")
def test_solicitations_are_separated_by_the_default_interval(dut: DUT) -> None:
    # RTR_SOLICITATION_INTERVAL left at its default, §10: "4 seconds" (the tests above shorten it).
    dut.set_ipv6_option("router_solicitations", 2)
    dut.set_ipv6_option("rtr_solicit_delay", DELAY_S)
    dut.restart_link()
    first = first_rs(dut)
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=DEFAULT_INTERVAL_S * (1 - JITTER) - 0.05,
                    since=first.time)
    next_rs(dut, 2 * JITTER * DEFAULT_INTERVAL_S + SLACK_S)


@rfc("RFC4861-6.3.7-3")
def test_first_solicitation_comes_within_the_maximum_delay(dut: DUT) -> None:
    solicit(dut, 1)
    first_rs(dut)


@described(4861, "6.3.7", SHOULD, "A host sends Router Solicitations to the all-routers multicast address.")
def test_solicitation_goes_to_all_routers(dut: DUT) -> None:
    solicit(dut, 1)
    rs = dut.expect(ICMPv6ND_RS, within=DELAY_S + SLACK_S)
    assert rs[IPv6].dst == ALL_ROUTERS
    assert rs[Ether].dst.lower() == multicast_mac(ALL_ROUTERS)


@described(4861, "4.1", MUST, "Hop Limit 255")
def test_solicitation_has_hop_limit_255(dut: DUT) -> None:
    # §6.1.1: a router "MUST silently discard any received Router Solicitation messages" whose
    # "IP Hop Limit field" is not 255, so any other value makes the solicitation useless.
    solicit(dut, 1)
    rs = first_rs(dut)
    assert rs[IPv6].hlim == NDP_HOP_LIMIT
    assert rs[ICMPv6ND_RS].code == 0


@rfc("RFC4861-6.3.7-2", "RFC4861-4.1-3",
     quote="The IP source address is set to either one of the interface's unicast addresses or the "
           "unspecified address.")
def test_solicitation_from_link_local_carries_source_link_layer_address(dut: DUT) -> None:
    # DAD is off (the baseline): the link-local address is usable at once.
    solicit(dut, 1)
    rs = first_rs(dut)
    assert rs[IPv6].src == str(dut.info.dut_ipv6_ll), f"RS from {rs[IPv6].src}, not the link-local"
    assert rs.haslayer(ICMPv6NDOptSrcLLAddr), "no Source Link-Layer Address option"
    assert rs[ICMPv6NDOptSrcLLAddr].lladdr.lower() == dut.info.dut_mac


@rfc("RFC4861-4.1-2", quote="Source link-layer address The link-layer address of the sender, if known.")
def test_solicitation_from_unspecified_address_has_no_link_layer_option(dut: DUT) -> None:
    # With DAD on the link-local is tentative at first, so an early RS can only come from ::
    # (a host may also wait for DAD to finish). Every RS seen must follow the rule; at least one
    # must come, so the test cannot pass on silence.
    dut.set_ipv6_option("accept_dad", 1)
    solicit(dut, 2, delay=0)
    seen = [next_rs(dut, 3.0)]  # DAD of the link-local takes RetransTimer (1 s) first
    while True:
        try:
            seen.append(next_rs(dut, 1.6))
        except ExpectationFailed:
            break
    for rs in seen:
        if rs[IPv6].src == UNSPECIFIED:
            assert not rs.haslayer(ICMPv6NDOptSrcLLAddr), "RS from :: with a Source Link-Layer option"
        else:
            assert rs.haslayer(ICMPv6NDOptSrcLLAddr), f"RS from {rs[IPv6].src} without its link-layer address"


def _collect(dut: DUT, *layers: Any, first_within: float, then_within: float) -> list[Packet]:
    """Every frame matching ``layers`` until none comes for ``then_within`` seconds."""
    seen: list[Packet] = []
    while True:
        try:
            seen.append(dut.expect(*layers, within=then_within if seen else first_within))
        except ExpectationFailed:
            return seen


@rfc("RFC4861-6.3.7-2",
     quote="The IP source address is set to either one of the interface's unicast addresses or the "
           "unspecified address.")
def test_solicitation_never_comes_from_a_link_local_address_still_under_dad(dut: DUT) -> None:
    # RFC 4862 5.4: 'A tentative address is not considered "assigned to an interface" in the
    # traditional sense': until its DAD ends (RetransTimer after its last probe) the link-local
    # address is not one of the interface's unicast addresses. A host may solicit from :: meanwhile
    # or wait; every solicitation from the link-local must come after its DAD ended.
    retrans_s = 1.0
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("dad_transmits", 2)
    dut.set_ipv6_option("retrans_time", retrans_s)
    solicit(dut, 3, delay=0)
    link_local = str(dut.info.dut_ipv6_ll)
    probes = _collect(dut, IPv6(src=UNSPECIFIED), ICMPv6ND_NS(tgt=link_local), first_within=3.0,
                      then_within=retrans_s + SLACK_S)
    assert probes, "no Duplicate Address Detection probe for the link-local address after the link came up"
    dad_end = float(probes[-1].time) + retrans_s
    solicitations = _collect(dut, IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, first_within=3 * INTERVAL_S,
                             then_within=INTERVAL_S * (1 + JITTER) + SLACK_S)
    assert solicitations, "no Router Solicitation after the link came up"
    for rs in solicitations:
        if rs[IPv6].src == link_local:
            early = dad_end - float(rs.time)
            assert early <= 0.1, f"RS from the link-local address {early:.2f} s before its DAD ended"


@rfc("RFC4861-6.3.7-6")
def test_solicitations_stop_after_an_advertisement(dut: DUT) -> None:
    solicit(dut, 3)
    first_rs(dut)
    mac = dut.info.tester_mac
    dut.send(Ether(src=mac, dst=multicast_mac(ALL_NODES))
             / IPv6(src=str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_RA(routerlifetime=1, prf=0) / ICMPv6NDOptSrcLLAddr(lladdr=mac))  # the least non-zero
    # From when the advertisement has left: a solicitation sent before it came (the interval
    # after the first, when a loaded tester answers late) was due then.
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=2 * INTERVAL_S + SLACK_S, since=dut.now())


@rfc("RFC4861-6.3.7-1")
def test_router_sends_no_solicitations(dut: DUT) -> None:
    # Router Solicitations are the host's (§6.3.7); a router advertises instead (§6.2).
    become_router(dut, 6)
    solicit(dut, 2)
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=DELAY_S + SLACK_S)
    dut.set_forwarding(6, False)  # control: the same link flap as a host solicits
    dut.restart_link()
    first_rs(dut)


@rfc("RFC4861-6.3.7-1")
def test_host_that_becomes_a_router_stops_soliciting(dut: DUT) -> None:
    # Forwarding switched on between the first and the second of three solicitations: the node
    # is a router from then on, and the solicitations still due are not sent.
    solicit(dut, 3)
    first_rs(dut)  # control: it was soliciting as a host
    become_router(dut, 6)
    # From when it is a router: a solicitation sent before (the interval after the first, when
    # a loaded tester switches forwarding on late) was a host's.
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=2 * INTERVAL_S + SLACK_S, since=dut.now())


@rfc("RFC4861-6.3.7-7")
def test_advertisement_before_the_first_solicitation_still_lets_one_go_out(dut: DUT) -> None:
    solicit(dut, 3, delay=DELAY_S)
    # A router advertises at once, most likely within the random initial delay.
    ra = (Ether(src=dut.info.tester_mac, dst=multicast_mac(ALL_NODES))
          / IPv6(src=str(dut.info.tester_ipv6_ll), dst=ALL_NODES, hlim=NDP_HOP_LIMIT)
          / ICMPv6ND_RA(routerlifetime=600, prf=0) / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    dut.send(ra)
    heard = dut.now()  # the advertisement has left
    first_rs(dut)
    # §6.3.7: having sent one and heard an advertisement, it sends no more. From when the
    # advertisement left: a tester late with it may have let a second one go out rightly before.
    dut.expect_none(IPv6(dst=ALL_ROUTERS), ICMPv6ND_RS, within=2 * INTERVAL_S + SLACK_S, since=heard)

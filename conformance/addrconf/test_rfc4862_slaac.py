"""RFC 4862 §5.3, §5.5.3, §5.5.4: stateless address autoconfiguration from Prefix Information.

The router is the tester's link-local address; the autoconfigured prefix is 2001:db8:2::/64, so
the formed address differs from the DUT's static 2001:db8:1::1. With the baseline EUI-64
interface identifiers (RFC 4291 Appendix A) the expected address is computed from the DUT's
MAC. Lifetimes are read back with ``ipv6_addresses()`` (remaining seconds), which is how the
two-hour rule of §5.5.3 (e) is checked without waiting hours. Source choice is observed on a UDP
datagram the DUT sends to 2001:db8:2::5 through the router.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptUnknown,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from harness import (
    DUT,
    MUST,
    AddressInfo,
    ExpectationFailed,
    described,
    eui64_address,
    rfc,
    router_discovery,
)
from harness.router_discovery import PIO_FORMS_AN_ADDRESS

ALL_NODES: Final = "ff02::1"
PREFIX: Final = IPv6Network("2001:db8:2::/64")
PEER: Final = "2001:db8:2::5"
PORT: Final = 4862
ECHO_ID: Final = 0x5A5C
TOLERANCE_S: Final = 3.0
TWO_HOURS: Final = 7200
# RFC 4862 5.4: Duplicate Address Detection "MUST be performed on all unicast addresses prior to
# assigning them". The baseline turns it off where a DUT lets it (accept_dad=0), not everywhere:
# a DUT that runs it on an autoconfigured address holds it tentative for up to
# MAX_RTR_SOLICITATION_DELAY (1 s, 5.4.2) plus DupAddrDetectTransmits x RetransTimer (1 x 1 s),
# and a DUT that runs its timers on a one-second tick may take one more.
DAD_LIMIT_S: Final = 3.5


def ra(dut: DUT, *options: Packet, lifetime: int = 0) -> Packet:
    """A Router Advertisement; the tester is no default router unless ``lifetime``."""
    return router_discovery.ra(dut, *options, lifetime=lifetime)


def pio(*, valid: int = 600, preferred: int = 300, autonomous: int = 1, on_link: int = 1,
        prefix: str = str(PREFIX.network_address), length: int = 64) -> Packet:
    """A Prefix Information option for SLAAC: autonomous, PREFIX, lifetimes of minutes."""
    return router_discovery.pio(on_link=on_link, autonomous=autonomous, valid=valid, preferred=preferred,
                                prefix=prefix, length=length)


def in_prefix(dut: DUT, prefix: IPv6Network = PREFIX) -> list[AddressInfo]:
    return [a for a in dut.ipv6_addresses() if a.interface.ip in prefix]


def slaac_address(dut: DUT) -> IPv6Address:
    return eui64_address(PREFIX, dut.info.dut_mac)


def the_address(dut: DUT) -> AddressInfo:
    want = slaac_address(dut)
    found = [a for a in dut.ipv6_addresses() if a.interface.ip == want]
    assert found, f"no address {want} (addresses in {PREFIX}: {[str(a.interface) for a in in_prefix(dut)]})"
    return found[0]


def usable_address(dut: DUT) -> AddressInfo:
    """The autoconfigured address once Duplicate Address Detection, if the DUT runs it, is over."""
    waited = 0.0
    while (info := the_address(dut)).state == "tentative":
        assert waited < DAD_LIMIT_S, f"{info.interface} is still tentative after {waited:.1f} s"
        dut.wait(0.1)
        waited += 0.1
    return info


def answers_echo(dut: DUT, dst: str, seq: int) -> bool:
    dut.send(dut.ipv6(dst=dst) / ICMPv6EchoRequest(id=ECHO_ID, seq=seq))
    try:
        dut.expect(IPv6(src=dst), ICMPv6EchoReply(id=ECHO_ID, seq=seq), within=0.7)
    except ExpectationFailed:
        return False
    return True


def udp_source(dut: DUT) -> str:
    """Source address of a datagram the DUT sends to PEER (answering its resolution if any)."""
    dut.udp_send(PORT, b"which source", PEER, 9)
    while True:
        pkt = _ns_or_udp(dut)
        if pkt.haslayer(UDP):
            return str(pkt[IPv6].src)
        mac = dut.info.other_mac
        dut.send(Ether(src=mac, dst=dut.info.dut_mac) / IPv6(src=PEER, dst=pkt[IPv6].src)
                 / ICMPv6ND_NA(tgt=PEER, S=1, O=1, R=0) / ICMPv6NDOptDstLLAddr(lladdr=mac))


def _ns_or_udp(dut: DUT) -> Packet:
    def wanted(p: Packet) -> bool:
        return bool((p.haslayer(UDP) and p[UDP].dport == 9)
                    or (p.haslayer(ICMPv6ND_NS) and p[ICMPv6ND_NS].tgt == PEER))
    for _ in range(20):
        pkt = dut.expect(IPv6, within=2.0)
        if wanted(pkt):
            return pkt
    raise AssertionError(f"no datagram to {PEER} and no resolution of it")


# ---- forming the address (§5.5.3 d) -------------------------------------------------------------


@rfc("RFC4862-5.5-2")
def test_autonomous_prefix_forms_an_address_that_is_reachable(dut: DUT) -> None:
    # At the DUT's defaults (the baseline leaves autoconf at its default), a new prefix with A=1 forms
    # an address (§5.5.3 d).
    assert not in_prefix(dut)
    dut.send(ra(dut, pio()))
    dut.wait(0.3)
    info = usable_address(dut)
    assert info.interface.network == PREFIX, f"formed {info.interface}, not a /64 of the prefix"
    assert answers_echo(dut, str(info.interface.ip), 1)


@described(4862, "5.5.3", MUST,
           "If an address is formed successfully and the address is not yet in the list, the host adds it to "
           "the list of addresses assigned to the interface, initializing its preferred and valid lifetime "
           "values from the Prefix Information option.")
def test_formed_address_takes_the_advertised_lifetimes(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=600, preferred=300)))
    dut.wait(0.3)
    info = the_address(dut)
    assert info.valid_lifetime is not None and abs(info.valid_lifetime - 600) <= TOLERANCE_S, info
    assert info.preferred_lifetime is not None and abs(info.preferred_lifetime - 300) <= TOLERANCE_S, info


@described(4862, "5.5.3", MUST,
           "a) If the Autonomous flag is not set, silently ignore the Prefix Information option.")
def test_prefix_without_autonomous_flag_forms_no_address(dut: DUT) -> None:
    dut.send(ra(dut, pio(autonomous=0)))
    dut.wait(0.3)
    assert not in_prefix(dut), "an address was formed from a prefix with A=0"
    dut.send(ra(dut, pio(autonomous=1)))  # control
    dut.wait(0.3)
    the_address(dut)


@described(4862, "5.5.3", MUST,
           "b) If the prefix is the link-local prefix, silently ignore the Prefix Information option.")
def test_link_local_prefix_is_ignored(dut: DUT) -> None:
    # The same EUI-64 identifier on fe80::/64 would be the link-local address the DUT has: a
    # DUT that processed the option would give it the option's lifetimes (or list it twice).
    dut.send(ra(dut, pio(prefix="fe80::", valid=600, preferred=300), pio()))
    dut.wait(0.3)
    the_address(dut)  # control: the other option of the same advertisement was processed
    link_locals = in_prefix(dut, IPv6Network("fe80::/64"))
    assert len(link_locals) == 1, f"link-local addresses now: {[str(a.interface) for a in link_locals]}"
    assert link_locals[0].valid_lifetime is None, "the link-local address took the option's lifetime"


@described(4862, "5.5.3", MUST,
           "c) If the preferred lifetime is greater than the valid lifetime, silently ignore the Prefix "
           "Information option.")
def test_preferred_lifetime_above_valid_lifetime_is_ignored(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=100, preferred=200)))
    dut.wait(0.3)
    assert not in_prefix(dut), "an address was formed from an option with preferred > valid"
    dut.send(ra(dut, pio(valid=200, preferred=100)))
    dut.wait(0.3)
    the_address(dut)


@pytest.mark.parametrize("length", [56, 96])
@rfc("RFC4862-5.5.3-2")
def test_prefix_of_other_length_than_64_is_ignored(dut: DUT, length: int) -> None:
    # The interface identifier of an Ethernet link is 64 bits (RFC 2464 §4).
    dut.send(ra(dut, pio(length=length, on_link=0)))
    dut.wait(0.3)
    assert not in_prefix(dut, IPv6Network("2001:db8:2::/56")), f"an address was formed from a /{length}"
    dut.send(ra(dut, pio()))  # control
    dut.wait(0.3)
    the_address(dut)


@pytest.mark.parametrize("length", [129, 255])
@rfc("RFC4862-5.5.3-2")
def test_prefix_length_beyond_128_ignores_the_option_not_the_rest_of_the_advertisement(dut: DUT, length: int) -> None:
    # RFC 4861 4.6.2: the Prefix Length "ranges from 0 to 128"; a larger one can never sum with
    # the 64-bit interface identifier to 128, so the option "MUST be ignored" -- that option:
    # §5.5.3 processes "each Prefix-Information option", so the valid one beside it in the same
    # advertisement still forms its address.
    other = IPv6Network("2001:db8:3::/64")
    dut.send(ra(dut, pio(length=length, prefix=str(other.network_address)), pio()))
    dut.wait(0.3)
    the_address(dut)
    assert not in_prefix(dut, other), f"an address was formed from a Prefix Length of {length}"


@described(4862, "5.5.3", MUST, "For each Prefix-Information option in the Router Advertisement:")
def test_prefix_option_too_short_to_hold_a_prefix_does_not_stop_the_others(dut: DUT) -> None:
    # A Prefix Information option of Length 3 (24 octets; RFC 4861 4.6.2 gives it 4) has no room
    # for a whole Prefix: whatever a host makes of it, the valid option after it in the same
    # advertisement is processed and forms its address.
    short = ICMPv6NDOptUnknown(type=3, len=3, data=bytes([64, 0xC0]) + (600).to_bytes(4, "big")
                               + (300).to_bytes(4, "big") + bytes(4) + IPv6Address("2001:db8:3::").packed[:8])
    assert len(bytes(short)) == 24
    dut.send(ra(dut, short, pio()))
    dut.wait(0.3)
    the_address(dut)


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_prefix_with_zero_valid_lifetime_forms_no_address(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=0, preferred=0)))
    dut.wait(0.3)
    assert not in_prefix(dut)
    dut.send(ra(dut, pio()))
    dut.wait(0.3)
    the_address(dut)


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_prefix_with_one_second_valid_lifetime_forms_an_address(dut: DUT) -> None:
    # The smallest Valid Lifetime that is not 0 (with a Preferred Lifetime no longer, 5.5.3 c):
    # the address is formed, and is gone when that second is over (5.5.4).
    sending = dut.now()  # the address is formed after this, and lives a second from then
    dut.send(ra(dut, pio(valid=1, preferred=1)))
    dut.wait(0.2)
    formed = [a.interface.ip for a in in_prefix(dut)]
    listed_by = dut.now()
    if not formed and listed_by - sending >= 1.0:
        pytest.skip(f"the tester listed the addresses {listed_by - sending:.2f} s after sending the advertisement, "
                    "when a Valid Lifetime of 1 s may have ended: a loaded tester")
    assert formed == [slaac_address(dut)], (
        f"a Valid Lifetime of 1 s formed {[str(a) for a in formed]}, not {slaac_address(dut)}")
    dut.wait(1.0 + TOLERANCE_S)
    assert not in_prefix(dut), f"{slaac_address(dut)} outlived its valid lifetime of 1 s"


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_address_is_formed_with_no_limit_on_addresses(dut: DUT) -> None:
    # max_addresses 0 (Linux's "no limit"): a limit of the DUT's own (RFC 8981 4 suggests
    # "implementation-specific limits") switched off leaves nothing in the way of 5.5.3 d.
    dut.set_ipv6_option("max_addresses", 0)
    dut.send(ra(dut, pio()))
    dut.wait(0.3)
    the_address(dut)


# ---- updating lifetimes (§5.5.3 e) ----------------------------------------------------------------

TWO_HOUR_RULE = {
    # id: (first valid, second valid, expected remaining valid, the rule's text)
    "above-two-hours": (10800, 14400, 14400,
                        "1. If the received Valid Lifetime is greater than 2 hours or greater than "
                        "RemainingLifetime, set the valid lifetime of the corresponding address to the "
                        "advertised Valid Lifetime."),
    "above-remaining": (1800, 3600, 3600,
                        "1. If the received Valid Lifetime is greater than 2 hours or greater than "
                        "RemainingLifetime, set the valid lifetime of the corresponding address to the "
                        "advertised Valid Lifetime."),
    "remaining-within-two-hours": (3600, 60, 3600,
                                   "2. If RemainingLifetime is less than or equal to 2 hours, ignore the "
                                   "Prefix Information option with regards to the valid lifetime, unless "
                                   "the Router Advertisement from which this option was obtained has been "
                                   "authenticated (e.g., via Secure Neighbor Discovery [RFC3971])."),
    "zero-within-two-hours": (3600, 0, 3600,
                              "2. If RemainingLifetime is less than or equal to 2 hours, ignore the "
                              "Prefix Information option with regards to the valid lifetime, unless the "
                              "Router Advertisement from which this option was obtained has been "
                              "authenticated (e.g., via Secure Neighbor Discovery [RFC3971])."),
    "cut-to-two-hours": (10800, 60, TWO_HOURS,
                         "3. Otherwise, reset the valid lifetime of the corresponding address to 2 hours."),
    # Each rule's comparison taken on both sides of its threshold, not only far from it: a
    # received lifetime above 2 hours lowers a longer remaining one (rule 1 by its first clause
    # alone); one between 1 and 2 hours is cut to 2 hours, not taken (rule 3); one above the
    # remaining time by half of it is taken (rule 1 by its second clause alone); one below a
    # remaining time of at most 2 hours, but not far below, is ignored (rule 2).
    "above-two-hours-below-remaining": (10800, 9000, 9000,
                                        "1. If the received Valid Lifetime is greater than 2 hours or "
                                        "greater than RemainingLifetime, set the valid lifetime of the "
                                        "corresponding address to the advertised Valid Lifetime."),
    "between-one-and-two-hours": (10800, 5400, TWO_HOURS,
                                  "3. Otherwise, reset the valid lifetime of the corresponding address to 2 "
                                  "hours."),
    "above-remaining-by-half": (1800, 2700, 2700,
                                "1. If the received Valid Lifetime is greater than 2 hours or greater than "
                                "RemainingLifetime, set the valid lifetime of the corresponding address to "
                                "the advertised Valid Lifetime."),
    "below-remaining-within-two-hours": (3600, 2400, 3600,
                                         "2. If RemainingLifetime is less than or equal to 2 hours, ignore "
                                         "the Prefix Information option with regards to the valid lifetime, "
                                         "unless the Router Advertisement from which this option was obtained "
                                         "has been authenticated (e.g., via Secure Neighbor Discovery "
                                         "[RFC3971])."),
}


@pytest.mark.parametrize("case", [
    pytest.param(case, id=case, marks=described(4862, "5.5.3", MUST, f"e) ... {text}"))
    for case, (_, _, _, text) in TWO_HOUR_RULE.items()
])
def test_two_hour_rule(dut: DUT, case: str) -> None:
    first, second, expected, _ = TWO_HOUR_RULE[case]
    dut.send(ra(dut, pio(valid=first, preferred=min(60, first))))
    dut.wait(0.3)
    assert abs((the_address(dut).valid_lifetime or 0) - first) <= TOLERANCE_S
    dut.send(ra(dut, pio(valid=second, preferred=min(30, second))))
    dut.wait(0.3)
    got = the_address(dut).valid_lifetime
    assert got is not None and abs(got - expected) <= TOLERANCE_S, (
        f"valid lifetime {got} s after advertising {second} s to an address with {first} s left; "
        f"expected {expected} s")


@described(4862, "5.5.3", MUST,
           "e) If the advertised prefix is equal to the prefix of an address configured by stateless "
           "autoconfiguration in the list, the preferred lifetime of the address is reset to the Preferred "
           "Lifetime in the received advertisement.")
def test_preferred_lifetime_is_reset_by_a_new_advertisement(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=600, preferred=500)))
    dut.wait(0.3)
    dut.send(ra(dut, pio(valid=600, preferred=100)))
    dut.wait(0.3)
    got = the_address(dut).preferred_lifetime
    assert got is not None and abs(got - 100) <= TOLERANCE_S, f"preferred lifetime {got} s, expected 100 s"


@described(4862, "5.5.3", MUST,
           "e) If the advertised prefix is equal to the prefix of an address configured by stateless "
           "autoconfiguration in the list, the preferred lifetime of the address is reset to the Preferred "
           "Lifetime in the received advertisement.")
def test_shortened_preferred_lifetime_deprecates_the_address_when_it_ends(dut: DUT) -> None:
    # The reset is of the lifetime itself, not only of the number the DUT lists: an address
    # preferred for 500 s, then advertised as preferred for 3 s, is deprecated 3 s later.
    dut.send(ra(dut, pio(valid=600, preferred=500)))
    dut.wait(0.3)
    assert usable_address(dut).state == "preferred"
    dut.send(ra(dut, pio(valid=600, preferred=3)))
    dut.wait(0.3)
    remaining = the_address(dut).preferred_lifetime
    assert remaining is not None and remaining <= 3 + TOLERANCE_S, f"preferred lifetime {remaining} s, not reset to 3 s"
    dut.wait(remaining + 1.2)
    assert the_address(dut).state == "deprecated", "still preferred after the reset preferred lifetime ended"


# ---- expiry (§5.5.4) -------------------------------------------------------------------------------

@rfc("RFC4862-5.5.4-1", "RFC4862-5.5.4-2")
def test_deprecated_address_is_not_chosen_for_new_communication(dut: DUT) -> None:
    # L=0: 2001:db8:2::5 is reached through the router; the static 2001:db8:1::1 is the
    # alternative of the same (global) scope.
    dut.udp_bind(PORT, 6)
    # Preferred for 4 s: longer than DAD may hold it tentative (DAD_LIMIT_S).
    dut.send(ra(dut, pio(valid=30, preferred=4, on_link=0), lifetime=60))
    dut.wait(0.3)
    address = str(slaac_address(dut))
    assert usable_address(dut).state == "preferred"
    assert udp_source(dut) == address  # control: preferred, it wins by longest match (RFC 6724)
    remaining = the_address(dut).preferred_lifetime
    assert remaining is not None, "a preferred lifetime of 4 s is listed as infinite"
    dut.wait(remaining + 1.2)
    assert the_address(dut).state == "deprecated", "still preferred after its preferred lifetime"
    assert udp_source(dut) == str(dut.info.dut_ipv6.ip), "a deprecated address began a new conversation"
    # RFC 4862 §5.5.4: a deprecated address is still valid; packets to it are still received.
    assert answers_echo(dut, address, 1)


@rfc("RFC4862-5.5.4-4")
def test_address_is_removed_when_its_valid_lifetime_ends(dut: DUT) -> None:
    dut.set_ipv6_option("autoconf", 1)  # a control verb: this test waits seconds of real time
    # Valid for 5 s: longer than DAD may hold it tentative (DAD_LIMIT_S).
    dut.send(ra(dut, pio(valid=5, preferred=4)))
    dut.wait(0.3)
    address = str(slaac_address(dut))
    usable_address(dut)
    assert answers_echo(dut, address, 1)  # control
    remaining = the_address(dut).valid_lifetime
    assert remaining is not None, "a valid lifetime of 5 s is listed as infinite"
    dut.wait(remaining + 1.2)
    assert not in_prefix(dut), f"still listed: {[str(a.interface) for a in in_prefix(dut)]}"
    assert not answers_echo(dut, address, 2), "an expired address still receives"


# ---- the link-local address (§5.3) ------------------------------------------------------------------

@described(4862, "5.3", MUST, "A node forms a link-local address whenever an interface becomes enabled.")
def test_link_local_address_is_formed_when_the_link_comes_up(dut: DUT) -> None:
    dut.restart_link()
    dut.wait(0.3)
    link_local = eui64_address(IPv6Network("fe80::/64"), dut.info.dut_mac)
    found = [a for a in dut.ipv6_addresses() if a.interface.ip == link_local]
    assert found, f"no link-local {link_local} after the link came up"
    assert found[0].interface.network.prefixlen == 64


@described(4861, "4.6.2", MUST,
           "Valid Lifetime 32-bit unsigned integer. The length of time in seconds (relative to the time the "
           "packet is sent) that the prefix is valid for the purpose of on-link determination. A value of "
           "all one bits (0xffffffff) represents infinity.")
def test_all_ones_lifetimes_are_infinite(dut: DUT) -> None:
    dut.send(ra(dut, pio(valid=0xFFFFFFFF, preferred=0xFFFFFFFF)))
    dut.wait(0.3)
    info = the_address(dut)
    assert info.valid_lifetime is None, f"valid lifetime {info.valid_lifetime} s, not infinite"
    assert info.preferred_lifetime is None, f"preferred lifetime {info.preferred_lifetime} s, not infinite"


# ---- configuration (§5.5, §5.5.4, §5.6) -----------------------------------------------------------

@rfc("RFC4862-5.5-1")
def test_forming_global_addresses_can_be_switched_off(dut: DUT) -> None:
    dut.set_ipv6_option("autoconf", 0)
    dut.send(ra(dut, pio()))
    dut.wait(0.3)
    assert not in_prefix(dut), f"autoconf 0, yet {[str(a.interface) for a in in_prefix(dut)]} was formed"
    dut.set_ipv6_option("autoconf", 1)  # control: the same advertisement forms the address
    dut.send(ra(dut, pio()))
    dut.wait(0.3)
    assert usable_address(dut).state == "preferred"


@rfc("RFC4862-5.5.4-3", quote="and the facility MUST be disabled by default.")
def test_deprecated_address_may_begin_new_communication_by_default(dut: DUT) -> None:
    # With no other global address, a new conversation with a global destination can only use the
    # deprecated one: a DUT that kept deprecated addresses from new communication would not send.
    dut.remove_address(str(dut.info.dut_ipv6))
    dut.udp_bind(PORT, 6)
    dut.send(ra(dut, pio(valid=60, preferred=1, on_link=0), lifetime=60))
    dut.wait(2.2)
    assert the_address(dut).state == "deprecated"
    assert udp_source(dut) == str(slaac_address(dut))


@rfc("RFC4862-5.6-1")
def test_most_recent_advertisement_takes_precedence(dut: DUT) -> None:
    # Two routers (the tester and fe80::5, both without security) say different things; what the
    # DUT heard last wins, both for a parameter (Cur Hop Limit) and for the prefix's lifetimes.
    other = {"src": "fe80::5", "mac": dut.info.other_mac}
    dut.send(router_discovery.ra(dut, pio(preferred=300), chlim=33, lifetime=0))
    dut.send(router_discovery.ra(dut, pio(preferred=100), chlim=44, lifetime=0, **other))
    dut.wait(0.3)
    assert router_discovery.hop_limit_of_reply(dut, 1) == 44
    got = the_address(dut).preferred_lifetime
    assert got is not None and abs(got - 100) <= TOLERANCE_S, f"preferred lifetime {got} s, expected 100 s"
    dut.send(router_discovery.ra(dut, pio(preferred=200), chlim=33, lifetime=0))
    dut.wait(0.3)
    assert router_discovery.hop_limit_of_reply(dut, 2) == 33
    got = the_address(dut).preferred_lifetime
    assert got is not None and abs(got - 200) <= TOLERANCE_S, f"preferred lifetime {got} s, expected 200 s"

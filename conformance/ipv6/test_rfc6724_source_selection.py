"""RFC 6724 section 5: which source address the DUT picks for a UDP datagram sent from a socket
bound to the wildcard address ``::``.

The DUT's addresses are the baseline ``dut.info.dut_ipv6`` and ``dut_ipv6_ll``, plus what a test adds
(2001:db8:2::/64 is the second documentation prefix of the test link). Each off-link destination
gets a /128 route through the tester's link-local address, whose neighbor entry is static, so the
datagram leaves at once and the tester reads its source. Rule 1 (the destination is one of the
DUT's own addresses) never reaches the wire: the datagram is read back from a second socket.

Not tested here: Rule 4 (home addresses, Mobile IPv6), Rule 5 (outgoing interface: the DUT has
one test interface) and Rule 6 (labels): in the default policy table (RFC 6724 2.1) every
documentation address (2001:db8::/32, and fe80::/10) has label 1, so a Rule 6 case would need
addresses outside the documentation prefixes (6to4, Teredo, ULA), which the test link never uses.
"""

from __future__ import annotations

import ipaddress
from typing import Final

import pytest
from scapy.layers.inet import UDP
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo, ICMPv6NDOptSrcLLAddr, IPv6

from harness import DUT, MUST, SHOULD, described, rfc
from harness.features import require_feature
from harness.router_discovery import pio, ra

SPORT: Final = 46724
DPORT: Final = 9
SECOND_PREFIX: Final = "2001:db8:2::"


def _bind(dut: DUT) -> None:
    dut.udp_bind(SPORT, family=6)


def _via_tester(dut: DUT, dst: str) -> None:
    """A host route to ``dst`` through the tester (its link-local is a static neighbor)."""
    dut.add_route(f"{dst}/128", via=str(dut.info.tester_ipv6_ll))


def source_for(dut: DUT, dst: str) -> str:
    """Send a datagram to ``dst`` from the wildcard-bound socket; the source it left with."""
    dut.udp_send(SPORT, b"rfc6724", dst, DPORT)
    pkt = dut.expect(IPv6(dst=dst), UDP(sport=SPORT, dport=DPORT), within=1.0)
    return str(ipaddress.IPv6Address(pkt[IPv6].src))


# ---- Rule 1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["baseline", "added"])
@described(6724, "5", SHOULD,
           "Rule 1: Prefer same address. If SA = D, then prefer SA. Similarly, if SB = D, then prefer SB.")
def test_rule1_destination_that_is_an_own_address_is_the_source(dut: DUT, which: str) -> None:
    # Two addresses of the same /64: Rules 2-8 cannot tell them apart, only Rule 1 can, and it
    # picks a different one for each destination.
    added = dut.info.dut_ipv6.network.network_address + 5
    own = str(dut.info.dut_ipv6.ip if which == "baseline" else added)
    dut.add_address(f"{added}/64")
    _bind(dut)
    dut.udp_bind(DPORT, family=6)
    dut.udp_send(SPORT, b"rfc6724-rule1", own, DPORT)
    got = dut.udp_recv(DPORT, within=1.0)
    assert got is not None, f"the datagram to the DUT's own address {own} never arrived"
    assert ipaddress.IPv6Address(got[1]) == ipaddress.IPv6Address(own), f"sent to {own} from {got[1]}"


# ---- Rule 2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["link-local-unicast", "global-unicast", "link-scope-multicast",
                                  "realm-scope-multicast", "site-scope-multicast"])
@described(6724, "5", SHOULD,
           "Rule 2: Prefer appropriate scope. If Scope(SA) < Scope(SB): If Scope(SA) < Scope(D), then prefer "
           "SB and otherwise prefer SA. Similarly, if Scope(SB) < Scope(SA): If Scope(SB) < Scope(D), then "
           "prefer SA and otherwise prefer SB.")
def test_rule2_source_scope_fits_the_destination(dut: DUT, case: str) -> None:
    info = dut.info
    dst, want = {
        "link-local-unicast": (str(info.tester_ipv6_ll), str(info.dut_ipv6_ll)),
        "global-unicast": (str(info.tester_ipv6), str(info.dut_ipv6.ip)),
        # Multicast scopes (RFC 4291 2.7): 2 is link-local, so the link-local source fits; 5 is
        # site-local, larger than the link-local source's scope, so the global one is needed.
        "link-scope-multicast": ("ff02::db8:6724", str(info.dut_ipv6_ll)),
        # Scope 3, one above link-local (RFC 4291 2.7 reserves it, RFC 7346 names it realm-local):
        # the link-local source is already too small.
        "realm-scope-multicast": ("ff03::db8:6724", str(info.dut_ipv6.ip)),
        "site-scope-multicast": ("ff05::db8:6724", str(info.dut_ipv6.ip)),
    }[case]
    _bind(dut)
    assert source_for(dut, dst) == want


RULE2: Final = ("Rule 2: Prefer appropriate scope. If Scope(SA) < Scope(SB): If Scope(SA) < Scope(D), then "
                "prefer SB and otherwise prefer SA. Similarly, if Scope(SB) < Scope(SA): If Scope(SB) < "
                "Scope(D), then prefer SA and otherwise prefer SB.")


@pytest.mark.parametrize("case", ["link-local-unicast", "link-scope-multicast", "site-scope-multicast",
                                  "global-unicast"])
@described(6724, "5", SHOULD, RULE2)
def test_rule2_holds_for_a_link_local_address_assigned_after_the_global_one(dut: DUT, case: str) -> None:
    # The link-local address is removed and assigned again, so the global address is the older
    # one: Rule 2 compares SA with SB either way round, and the order addresses were assigned in
    # is no rule of section 5.
    info = dut.info
    link_local = f"{info.dut_ipv6_ll}/64"
    dut.remove_address(link_local)
    dut.add_address(link_local)
    dst, want = {
        "link-local-unicast": (str(info.tester_ipv6_ll), str(info.dut_ipv6_ll)),
        "link-scope-multicast": ("ff02::db8:6724", str(info.dut_ipv6_ll)),
        "site-scope-multicast": ("ff05::db8:6724", str(info.dut_ipv6.ip)),
        "global-unicast": (str(info.tester_ipv6), str(info.dut_ipv6.ip)),
    }[case]
    _bind(dut)
    assert source_for(dut, dst) == want


@pytest.mark.parametrize("iid", ["7f00:9", "a9fe:9"])
@described(6724, "5", SHOULD, RULE2)
def test_rule2_global_destination_whose_last_32_bits_spell_a_link_local_ipv4_address(dut: DUT, iid: str) -> None:
    # RFC 6724 3.2 gives 127/8 and 169.254/16 link-local scope as IPv4 addresses (IPv4-mapped,
    # ::ffff:0:0/96); 2001:db8:2::7f00:9 and 2001:db8:2::a9fe:9 are global unicast addresses all
    # the same (RFC 4291 2.4: the prefix decides the type), so the link-local source is too small.
    dst = f"2001:db8:2::{iid}"
    _via_tester(dut, dst)
    _bind(dut)
    assert source_for(dut, dst) == str(dut.info.dut_ipv6.ip)


@described(6724, "5", SHOULD, RULE2)
def test_rule2_top_of_fe80_10_is_link_local_scope(dut: DUT) -> None:
    # febf::5 lies in FE80::/10, "Link-Local unicast" (RFC 4291 2.4), as does the DUT's
    # fe80::/64 address: for a global destination with no global address left, Rule 2 ties the
    # two and Rule 3 avoids the deprecated febf::5. A DUT that took febf::5 for a global address
    # would pick it by Rule 2 instead.
    dst = str(dut.info.tester_ipv6)
    dut.remove_address(str(dut.info.dut_ipv6))
    _via_tester(dut, dst)
    dut.add_address("febf::5/64", valid_lifetime=3600, preferred_lifetime=0)
    _bind(dut)
    assert source_for(dut, dst) == str(dut.info.dut_ipv6_ll)


@rfc("RFC6724-5-1", "RFC6724-2.1-2",
     quote="Rule 2: Prefer appropriate scope. If Scope(SA) < Scope(SB): If Scope(SA) < Scope(D), then "
           "prefer SB and otherwise prefer SA. Similarly, if Scope(SB) < Scope(SA): If Scope(SB) < "
           "Scope(D), then prefer SA and otherwise prefer SB.")
def test_rule2_comes_before_rule3(dut: DUT) -> None:
    # The only global address is deprecated; the link-local one is preferred but too small in
    # scope for a global destination: Rule 2 decides before Rule 3 is looked at. (RFC 4862 5.5.4:
    # a deprecated address "SHOULD NOT be used to initiate new communications if an alternate
    # (non-deprecated) address of sufficient scope can easily be used instead" - there is none.)
    dut.remove_address(str(dut.info.dut_ipv6))
    dut.add_address("2001:db8:1::7/64", valid_lifetime=3600, preferred_lifetime=0)
    _bind(dut)
    assert source_for(dut, str(dut.info.tester_ipv6)) == "2001:db8:1::7"


@described(4862, "5.4", MUST,
           "An address on which the Duplicate Address Detection procedure is applied is said to be tentative "
           "until the procedure has completed successfully. A tentative address is not considered \"assigned "
           "to an interface\" in the traditional sense.")
def test_tentative_address_is_not_a_source(dut: DUT) -> None:
    # One DAD probe, 1 s RetransTimer, no random start delay: 2001:db8:2::1 is tentative for 1 s.
    # Rule 8 would pick it for 2001:db8:2::9 (64 common bits against 46), but it is not a candidate.
    dut.set_ipv6_option("rtr_solicit_delay", 0)
    dut.set_ipv6_option("dad_transmits", 1)
    dut.set_ipv6_option("retrans_time", 1)
    dst = "2001:db8:2::9"
    dut.add_address("2001:db8:2::1/64", dad=True)
    _via_tester(dut, dst)
    _bind(dut)
    assert source_for(dut, dst) == str(dut.info.dut_ipv6.ip)
    dut.wait(1.6)  # DAD completes (no answer to the probe): the address is preferred now
    assert source_for(dut, dst) == "2001:db8:2::1"  # control


# ---- Rule 3 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["preferred-first", "deprecated-first"])
@described(6724, "5", SHOULD,
           "Rule 3: Avoid deprecated addresses. If one of the two source addresses is \"preferred\" and one "
           "of them is \"deprecated\" (in the RFC 4862 sense), then prefer the one that is \"preferred\".")
def test_rule3_deprecated_address_is_avoided(dut: DUT, order: str) -> None:
    dst = "2001:db8:2::9"
    _via_tester(dut, dst)
    if order == "deprecated-first":
        # The baseline address assigned again after the deprecated one: Rule 3 holds either way round.
        dut.remove_address(str(dut.info.dut_ipv6))
    # 2001:db8:2::5 shares 64 bits with the destination (Rule 8 would pick it), but it is deprecated.
    dut.add_address("2001:db8:2::5/64", valid_lifetime=3600, preferred_lifetime=0)
    if order == "deprecated-first":
        dut.add_address(str(dut.info.dut_ipv6))
    _bind(dut)
    assert source_for(dut, dst) == str(dut.info.dut_ipv6.ip)
    # Control: a preferred address of the same prefix is picked over both.
    dut.add_address("2001:db8:2::6/64")
    assert source_for(dut, dst) == "2001:db8:2::6"


# ---- Rule 7 -------------------------------------------------------------------------------------


def _slaac_with_temporary(dut: DUT) -> tuple[str, str]:
    """Let the DUT form a public and a temporary address in 2001:db8:2::/64 from an RA (RFC 4862
    5.5.3, RFC 8981 3.4); return (public, temporary)."""
    require_feature(dut, "temporary-addresses")  # RFC 8504 6.4: "RFC 4941 SHOULD be supported"
    dut.set_ipv6_option("use_tempaddr", 2)
    ra = (dut.ether(dst="33:33:00:00:00:01")
          / IPv6(src=str(dut.info.tester_ipv6_ll), dst="ff02::1", hlim=255)
          / ICMPv6ND_RA(routerlifetime=0)
          / ICMPv6NDOptPrefixInfo(prefix=SECOND_PREFIX, prefixlen=64, L=1, A=1,
                                  validlifetime=3600, preferredlifetime=1800)
          / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    dut.send(ra)
    net = ipaddress.IPv6Network(f"{SECOND_PREFIX}/64")
    for _ in range(20):
        dut.wait(0.1)
        mine = [a for a in dut.ipv6_addresses() if a.interface.ip in net and a.state == "preferred"]
        public = [str(a.interface.ip) for a in mine if not a.temporary]
        temporary = [str(a.interface.ip) for a in mine if a.temporary]
        if public and temporary:
            return public[0], temporary[0]
    raise AssertionError(f"no public and temporary address formed in {net} (use_tempaddr=2): "
                         f"{dut.ipv6_addresses()}")


@described(6724, "5", SHOULD,
           "Rule 7: Prefer temporary addresses. If SA is a temporary address and SB is a public address, "
           "then prefer SA. Similarly, if SB is a temporary address and SA is a public address, then prefer "
           "SB.")
def test_rule7_temporary_address_is_preferred(dut: DUT) -> None:
    public, temporary = _slaac_with_temporary(dut)
    dst = "2001:db8:2::9"
    _via_tester(dut, dst)
    _bind(dut)
    got = source_for(dut, dst)
    assert got == temporary, f"source {got}; the temporary address is {temporary}, the public one {public}"


# ---- Rule 5 and the candidate set: an address on a second interface ----------------------------


@described(6724, "5", SHOULD,
           "Rule 5: Prefer outgoing interface. If SA is assigned to the interface that will be used to send to D "
           "and SB is assigned to a different interface, then prefer SA.")
def test_rule5_address_of_the_outgoing_interface_is_preferred(dut: DUT) -> None:
    # 2001:db8:1::3/128 on a second interface shares 127 bits with the tester's 2001:db8:1::2,
    # the baseline 2001:db8:1::1/64 only its 64 (CommonPrefixLen stops at the prefix, 2.2): Rule 8
    # would take the second interface's address, Rule 5 decides before it. (A DUT whose candidate
    # set holds the outgoing interface's addresses alone, as section 4 recommends, agrees.)
    dst = str(dut.info.tester_ipv6)
    dut.add_second_interface_address("2001:db8:1::3/128")
    _bind(dut)
    assert source_for(dut, dst) == str(dut.info.dut_ipv6.ip)


# ---- Rule 8 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dst,want", [("2001:db8:2::9", "2001:db8:2::1"), ("2001:db8:1::9", "baseline")])
@described(6724, "5", SHOULD,
           "Rule 8: Use longest matching prefix. If CommonPrefixLen(SA, D) > CommonPrefixLen(SB, D), then "
           "prefer SA. Similarly, if CommonPrefixLen(SB, D) > CommonPrefixLen(SA, D), then prefer SB.")
def test_rule8_longest_matching_prefix(dut: DUT, dst: str, want: str) -> None:
    # Two global addresses of equal scope, state and label; each destination shares 64 bits with
    # one of them and 46 with the other, so each picks a different source.
    dut.add_address("2001:db8:2::1/64")
    _via_tester(dut, dst)
    _bind(dut)
    assert source_for(dut, dst) == (str(dut.info.dut_ipv6.ip) if want == "baseline" else want)


@pytest.mark.parametrize("first,second,want", [
    # 2001:db8:2:1::1 shares 63 bits with the destination, 2001:db8:2::1 64 (CommonPrefixLen
    # stops at the /64): one bit more wins.
    pytest.param("2001:db8:2:1::1/64", "2001:db8:2::1/64", "2001:db8:2::1", id="63-64"),
    # 2001:db8:2::1/48 shares 124 bits, but CommonPrefixLen stops at its prefix, 48;
    # 2001:db8:2:4000::1 shares 49 (its 49th bit is the first to differ from the destination's).
    pytest.param("2001:db8:2::1/48", "2001:db8:2:4000::1/64", "2001:db8:2:4000::1", id="48-49"),
])
@described(6724, "5", SHOULD,
           "Rule 8: Use longest matching prefix. If CommonPrefixLen(SA, D) > CommonPrefixLen(SB, D), then "
           "prefer SA. Similarly, if CommonPrefixLen(SB, D) > CommonPrefixLen(SA, D), then prefer SB.")
def test_rule8_one_more_common_bit_decides(dut: DUT, first: str, second: str, want: str) -> None:
    # RFC 6724 2.2: CommonPrefixLen(S, D) is the common leading bits "up to the length of S's
    # prefix". The loser is assigned first, so a DUT that saw a tie and kept the older address
    # would pick it.
    dst = "2001:db8:2::9"
    dut.add_address(first)
    dut.add_address(second)
    _via_tester(dut, dst)
    _bind(dut)
    got = source_for(dut, dst)
    assert got == want, f"source {got} for {dst}; {want} shares one more bit with it than {first}"


@rfc("RFC6724-5-7")
def test_privacy_preference_switch_moves_the_source_between_temporary_and_public(dut: DUT) -> None:
    # Linux's use_tempaddr: 2 prefers temporary addresses (Rule 7), 1 forms them but prefers public
    # ones: the reverse sense of Rule 7 the Privacy Preference flag gives.
    public, temporary = _slaac_with_temporary(dut)
    dst = "2001:db8:2::9"
    _via_tester(dut, dst)
    _bind(dut)
    assert source_for(dut, dst) == temporary
    dut.set_ipv6_option("use_tempaddr", 1)
    got = source_for(dut, dst)
    assert got == public, f"with the preference for temporary addresses off the source is {got}, not {public}"


@rfc("RFC6724-5-8")
def test_temporary_addresses_can_be_switched_off(dut: DUT) -> None:
    dut.set_ipv6_option("use_tempaddr", 0)
    ra = (dut.ether(dst="33:33:00:00:00:01") / IPv6(src=str(dut.info.tester_ipv6_ll), dst="ff02::1", hlim=255)
          / ICMPv6ND_RA(routerlifetime=0)
          / ICMPv6NDOptPrefixInfo(prefix=SECOND_PREFIX, prefixlen=64, L=1, A=1, validlifetime=3600,
                                  preferredlifetime=1800)
          / ICMPv6NDOptSrcLLAddr(lladdr=dut.info.tester_mac))
    dut.send(ra)
    dut.wait(0.5)
    net = ipaddress.IPv6Network(f"{SECOND_PREFIX}/64")
    formed = [a for a in dut.ipv6_addresses() if a.interface.ip in net]
    assert formed, "the prefix formed no address at all"
    assert not [a for a in formed if a.temporary], f"temporary addresses off, yet {formed}"


@rfc("RFC6724-4-6")
def test_joined_group_and_unspecified_address_are_never_the_source(dut: DUT) -> None:
    # Were the group a candidate, Rule 1 ("If SA = D, then prefer SA") would pick it as the source
    # of a datagram sent to it.
    group = "ff0e::db8:6724"
    dut.join_group(group)
    _bind(dut)
    got = source_for(dut, group)
    address = ipaddress.IPv6Address(got)
    assert not address.is_multicast and not address.is_unspecified, f"a datagram to {group} left from {got}"
    assert got == str(dut.info.dut_ipv6.ip), f"a datagram to the global group {group} left from {got}"


@rfc("RFC6724-4-6")
def test_address_formed_from_a_multicast_prefix_is_never_the_source(dut: DUT) -> None:
    # A Prefix Information option with a multicast prefix and the A flag: RFC 4862 5.5.3 names no
    # check that ignores it (Linux does), so a host may have formed an "address" ff0e:0:0:db8::IID
    # from it; as a multicast address it is no candidate all the same. Were it one, Rule 8 would
    # pick it for a destination of that /64 (64 common bits against none).
    dut.send(ra(dut, pio(on_link=0, autonomous=1, valid=3600, preferred=1800, prefix="ff0e:0:0:db8::"),
                lifetime=0))
    dut.wait(0.5)
    _bind(dut)
    group = "ff0e:0:0:db8::9"
    got = source_for(dut, group)
    assert not ipaddress.IPv6Address(got).is_multicast, f"a datagram to {group} left from the multicast address {got}"
    assert got == str(dut.info.dut_ipv6.ip), f"a datagram to the global group {group} left from {got}"

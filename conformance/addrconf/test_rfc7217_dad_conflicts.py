"""RFC 7217 §5, §6 (and RFC 4291 Appendix A): what a host using stable, semantically opaque
identifiers does when one of them is taken: it tries another (DAD_Counter + 1) after a random
delay of at most IDGEN_DELAY, tries at least IDGEN_RETRIES of them, then stops, and never falls
back to another kind of identifier; and the link-local address is formed the same way.

Duplicate Address Detection runs with one probe, RetransTimer 0.5 s and no random start delay
(RFC 4862 §5.4.2 would allow one). Another node claims every address the DUT probes for by
answering with a Neighbor Advertisement the moment the probe arrives.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import Final

import pytest
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import Ether

from harness import (
    DUT,
    MUST,
    ExpectationFailed,
    described,
    eui64_address,
    eui64_interface_id,
    multicast_mac,
    rfc,
)
from harness.icmp import echo6, expect_echo_reply6
from harness.rfc import NDP_HOP_LIMIT
from harness.router_discovery import pio, ra

PREFIX: Final = IPv6Network("2001:db8:2::/64")
SECOND_PREFIX: Final = IPv6Network("2001:db8:3::/64")
SECRET: Final = "2001:db8:7217::dad"
IDGEN_RETRIES: Final = 3  # RFC 7217 §7
IDGEN_DELAY_S: Final = 1.0  # RFC 7217 §7
RETRANS_S: Final = 0.5
JITTER_S: Final = 0.3
# How long after its last try a host that stopped trying stays silent in these tests.
GIVEN_UP_S: Final = IDGEN_DELAY_S + RETRANS_S + 3.0
MAX_TRIES: Final = 20  # a DUT still trying after this many is taken to try forever


def iid(addr: IPv6Address) -> int:
    return int(addr) & ((1 << 64) - 1)


def _stable_with_dad(dut: DUT) -> None:
    dut.set_ipv6_option("stable_secret", SECRET)
    dut.set_ipv6_option("addr_gen_mode", 2)
    dut.set_ipv6_option("accept_dad", 1)
    dut.set_ipv6_option("dad_transmits", 1)
    dut.set_ipv6_option("retrans_time", RETRANS_S)
    dut.set_ipv6_option("rtr_solicit_delay", 0)


def _advertise(dut: DUT, prefix: IPv6Network) -> None:
    dut.send(ra(dut, pio(autonomous=1, valid=600, preferred=300, prefix=str(prefix.network_address)), lifetime=0))


def _claim(dut: DUT, target: str) -> None:
    """Another node advertises ``target``: a duplicate for the DUT (RFC 4862 §5.4.4)."""
    mac = dut.info.other_mac
    dut.send(Ether(src=mac, dst=multicast_mac("ff02::1"))
             / IPv6(src=str(dut.info.other_ipv6), dst="ff02::1", hlim=NDP_HOP_LIMIT)
             / ICMPv6ND_NA(tgt=target, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac))


def _taken_in_at(dut: DUT, n: int) -> float:
    """When the DUT had taken in the claim just sent, which is when its IDGEN_DELAY starts: the
    arrival of its reply to an echo request sent right behind the claim. A DUT answers in order,
    and on a loaded machine it may read the claim late (the time the claim was sent made a
    conforming stack's delays look long once, in CI)."""
    dut.send(echo6(dut, 0x7217 + n))
    return float(expect_echo_reply6(dut, 0x7217 + n).time)


@dataclass(frozen=True)
class Try:
    address: IPv6Address
    delay: float  # seconds from the conflict on the previous try (0 for the first)


def _probe(dut: DUT, prefix: IPv6Network, within: float) -> tuple[IPv6Address, float] | None:
    """The next DAD probe for an address of ``prefix``, and when it came."""
    deadline = dut.now() + within
    while dut.now() <= deadline:
        try:
            ns = dut.expect(IPv6(src="::"), ICMPv6ND_NS, within=max(0.0, deadline - dut.now()))
        except ExpectationFailed:
            return None
        target = IPv6Address(ns[ICMPv6ND_NS].tgt)
        if target in prefix:
            return target, float(ns.time)
    return None


def _conflict_on_every_try(dut: DUT, prefix: IPv6Network) -> list[Try]:
    """Advertise ``prefix`` and claim every address the DUT tries in it, until it stops."""
    _advertise(dut, prefix)
    tries: list[Try] = []
    conflict_at = None
    while len(tries) < MAX_TRIES:
        got = _probe(dut, prefix, 2.0 if not tries else GIVEN_UP_S)
        if got is None:
            break
        address, at = got
        tries.append(Try(address, 0.0 if conflict_at is None else max(0.0, at - conflict_at)))
        _claim(dut, str(address))
        conflict_at = _taken_in_at(dut, len(tries))
    assert tries, f"no DAD probe for an address of {prefix} after it was advertised"
    return tries


# ---- a new identifier after a conflict (§5, §6) -------------------------------------------------------

@rfc("RFC7217-5-11", "RFC7217-6-1", "RFC4291-A-2")
def test_conflict_makes_the_host_try_another_identifier(dut: DUT) -> None:
    _stable_with_dad(dut)
    _advertise(dut, PREFIX)
    got = _probe(dut, PREFIX, 2.0)
    assert got is not None, "no DAD probe for the autoconfigured address"
    first = got[0]
    _claim(dut, str(first))
    got = _probe(dut, PREFIX, IDGEN_DELAY_S + RETRANS_S + JITTER_S)
    assert got is not None, f"no new tentative address tried after {first} turned out a duplicate"
    second = got[0]
    assert iid(second) != iid(first), f"the new tentative address {second} has the same identifier"
    assert iid(second) != eui64_interface_id(dut.info.dut_mac), f"{second} fell back to the EUI-64 identifier"
    dut.wait(RETRANS_S + JITTER_S)  # no one claims it: it is assigned
    assert second in [a.interface.ip for a in dut.ipv6_addresses()], f"{second} was not assigned after DAD"


@rfc("RFC7217-6-3")
def test_host_tries_at_least_idgen_retries_more_identifiers(dut: DUT) -> None:
    _stable_with_dad(dut)
    tries = _conflict_on_every_try(dut, PREFIX)
    addresses = [t.address for t in tries]
    assert len(set(addresses)) == len(addresses), f"an address was tried twice: {addresses}"
    assert len(tries) >= 1 + IDGEN_RETRIES, (
        f"{len(tries)} tentative addresses tried in all, not 1 + IDGEN_RETRIES ({IDGEN_RETRIES}): {addresses}")


@rfc("RFC7217-6-4")
def test_host_stops_trying_new_identifiers(dut: DUT) -> None:
    _stable_with_dad(dut)
    tries = _conflict_on_every_try(dut, PREFIX)
    assert len(tries) < MAX_TRIES, f"still trying new addresses after {len(tries)} conflicts"


@rfc("RFC7217-6-7")
def test_host_does_not_fall_back_to_another_identifier_scheme(dut: DUT) -> None:
    _stable_with_dad(dut)
    tries = _conflict_on_every_try(dut, PREFIX)
    eui64 = eui64_address(PREFIX, dut.info.dut_mac)
    assert eui64 not in [t.address for t in tries], f"the DUT tried the EUI-64 address {eui64}"
    left = [str(a.interface.ip) for a in dut.ipv6_addresses() if a.interface.ip in PREFIX]
    assert not left, f"after every identifier was taken the DUT still holds {left} in {PREFIX}"


@rfc("RFC7217-6-2")
def test_new_tentative_address_waits_a_random_delay_up_to_idgen_delay(dut: DUT) -> None:
    # One delay cannot tell random from fixed; six (the retries of two prefixes) can, roughly:
    # uniform in [0, 1] s they spread over more than 0.2 s and average about 0.5 s (a fixed
    # delay of IDGEN_DELAY, or none at all, fails; a random one fails by chance < 1 in 100).
    _stable_with_dad(dut)
    delays = [t.delay for prefix in (PREFIX, SECOND_PREFIX) for t in _conflict_on_every_try(dut, prefix)[1:]]
    assert len(delays) >= 2, f"too few retries to measure the delay: {delays}"
    assert max(delays) <= IDGEN_DELAY_S + JITTER_S, f"a retry waited longer than IDGEN_DELAY: {delays}"
    assert max(delays) - min(delays) > 0.2, f"the delays before each new try do not vary: {delays}"
    assert statistics.mean(delays) <= 0.85 * IDGEN_DELAY_S, (
        f"the delays average {statistics.mean(delays):.2f} s, not what a random delay in [0, IDGEN_DELAY] gives")


# ---- identifiers already in use, and the link-local address (§5) ----------------------------------------

@rfc("RFC7217-5-16", "RFC7217-5-17",
     quote="and against those Interface Identifiers already employed in an address of the same network "
           "interface and the same network prefix.")
def test_identifier_already_in_use_on_the_prefix_is_not_used_again(dut: DUT) -> None:
    # The stable address S of PREFIX, learnt, then configured by hand after a link flap (which
    # removes autoconfigured addresses): the algorithm yields S again, which is in use, so the
    # host must handle it as a DAD conflict and form another address.
    dut.set_ipv6_option("stable_secret", SECRET)
    dut.set_ipv6_option("addr_gen_mode", 2)
    _advertise(dut, PREFIX)
    dut.wait(0.3)
    formed = [a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip in PREFIX]
    assert len(formed) == 1, f"expected one address in {PREFIX}, got {formed}"
    stable = formed[0]
    dut.restart_link()
    dut.wait(0.3)
    dut.add_address(f"{stable}/64")
    _advertise(dut, PREFIX)
    dut.wait(1.5)
    now = sorted(a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip in PREFIX)
    others = [a for a in now if a != stable]
    assert len(others) == 1, f"expected {stable} (by hand) and one autoconfigured address, got {now}"
    assert iid(others[0]) != eui64_interface_id(dut.info.dut_mac)


@rfc("RFC7217-5-3", quote="including IPv6 global, link-local, and unique-local addresses.")
def test_link_local_address_uses_a_stable_identifier_too(dut: DUT) -> None:
    dut.set_ipv6_option("stable_secret", SECRET)
    dut.set_ipv6_option("addr_gen_mode", 2)
    dut.restart_link()
    dut.wait(0.5)
    link_locals = [a.interface.ip for a in dut.ipv6_addresses() if a.interface.ip.is_link_local]
    assert link_locals, "no link-local address after the link came up"
    for addr in link_locals:
        assert iid(addr) != eui64_interface_id(dut.info.dut_mac), f"the link-local address {addr} is EUI-64"


LINK_LOCAL_PREFIX: Final = IPv6Network("fe80::/64")


@rfc("RFC7217-6-3", "RFC7217-6-1", "RFC7217-5-3")
def test_link_local_conflicts_make_the_host_try_at_least_idgen_retries_identifiers(dut: DUT) -> None:
    # The stable link-local address formed when the link comes up is claimed, and so is every
    # one the DUT tries after it: each conflict makes it try a new one (DAD_Counter + 1), at least
    # IDGEN_RETRIES times, never the EUI-64 one, until it stops.
    _stable_with_dad(dut)
    dut.restart_link()
    tries: list[IPv6Address] = []
    while len(tries) < MAX_TRIES:
        got = _probe(dut, LINK_LOCAL_PREFIX, 2.0 if not tries else GIVEN_UP_S)
        if got is None:
            break
        tries.append(got[0])
        _claim(dut, str(got[0]))
        _taken_in_at(dut, len(tries))
    assert tries, "no DAD probe for the link-local address after the link came up"
    assert len(set(tries)) == len(tries), f"a link-local address was tried twice: {tries}"
    assert eui64_address(LINK_LOCAL_PREFIX, dut.info.dut_mac) not in tries, f"the DUT fell back to EUI-64: {tries}"
    assert len(tries) >= 1 + IDGEN_RETRIES, (
        f"{len(tries)} tentative link-local addresses tried in all, not 1 + IDGEN_RETRIES ({IDGEN_RETRIES}): {tries}")
    assert len(tries) < MAX_TRIES, f"still trying new link-local addresses after {len(tries)} conflicts"


@pytest.mark.parametrize(("valid", "preferred"), [(600, 300), (0xFFFFFFFF, 0xFFFFFFFF)], ids=["finite", "infinite"])
@described(4862, "5.5.3", MUST,
           "If an address is formed successfully and the address is not yet in the list, the host adds it to "
           "the list of addresses assigned to the interface, initializing its preferred and valid lifetime "
           "values from the Prefix Information option.")
def test_new_tentative_address_takes_the_prefix_lifetimes(dut: DUT, valid: int, preferred: int) -> None:
    # The address tried after a conflict is formed from the same Prefix Information: its lifetimes
    # are the option's (less the seconds since), finite or infinite (RFC 4861 4.6.2: all ones).
    _stable_with_dad(dut)
    dut.send(ra(dut, pio(autonomous=1, valid=valid, preferred=preferred, prefix=str(PREFIX.network_address)),
                lifetime=0))
    got = _probe(dut, PREFIX, 2.0)
    assert got is not None, "no DAD probe for the autoconfigured address"
    _claim(dut, str(got[0]))
    again = _probe(dut, PREFIX, IDGEN_DELAY_S + RETRANS_S + JITTER_S)
    assert again is not None, f"no new tentative address tried after {got[0]} turned out a duplicate"
    dut.wait(RETRANS_S + JITTER_S)
    info = [a for a in dut.ipv6_addresses() if a.interface.ip == again[0]]
    assert info, f"{again[0]} was not assigned after DAD"
    if valid == 0xFFFFFFFF:
        assert info[0].valid_lifetime is None and info[0].preferred_lifetime is None, (
            f"{again[0]}: lifetimes {info[0].valid_lifetime} / {info[0].preferred_lifetime} s under an infinite prefix")
        return
    assert info[0].valid_lifetime is not None and valid - 5 <= info[0].valid_lifetime <= valid, (
        f"{again[0]}: valid lifetime {info[0].valid_lifetime} s, the prefix's is {valid} s")
    assert info[0].preferred_lifetime is not None and preferred - 5 <= info[0].preferred_lifetime <= preferred, (
        f"{again[0]}: preferred lifetime {info[0].preferred_lifetime} s, the prefix's is {preferred} s")

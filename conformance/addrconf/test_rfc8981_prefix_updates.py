"""RFC 8981 §3.4-§3.8: what later Router Advertisements for a prefix, and the configuration
variables, do to its temporary addresses: their lifetimes follow the prefix under RFC 4862's
rules, a refresh neither multiplies them nor moves their regeneration early, DESYNC_FACTOR stays
within MAX_DESYNC_FACTOR, the end of TEMP_VALID_LIFETIME removes one, and switching temporary
addresses off stops their regeneration.

The prefix is 2001:db8:2::/64 with A=1 from the tester, not a default router; REGEN_ADVANCE is
2 + 3 x DupAddrDetectTransmits (1) x RetransTimer (1 s) = 5 s (§3.8). Lifetimes are read back
with ``ipv6_addresses`` (remaining seconds; Linux reports whole ones).
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

import pytest

from harness import DUT, MUST, SHOULD, AddressInfo, described, rfc
from harness.router_discovery import pio, ra
from harness.temporary_addresses import (
    INFINITE,
    OTHER_PREFIX,
    advertise_prefix,
    one_temporary,
    temporaries,
)

REGEN_ADVANCE_S: Final = 2 + 3 * 1 * 1  # §3.8 with DupAddrDetectTransmits 1, RetransTimer 1 s
SLACK_S: Final = 1.5
DAY_S: Final = 86_400


def _successor(dut: DUT, first: IPv6Address, within: float) -> tuple[AddressInfo, float]:
    """The first temporary address of PREFIX other than ``first`` to be listed within ``within`` s,
    and the DUT time just before the listing that showed it."""
    deadline = dut.now() + within
    while True:
        listed_from = dut.now()
        others = [a for a in temporaries(dut) if a.interface.ip != first]
        if others:
            return others[0], listed_from
        if listed_from >= deadline:  # listed once more after the deadline: a late look still counts
            break
        dut.wait(0.25)
    raise AssertionError(f"no temporary address other than {first} within {within} s")


# ---- lifetimes of an existing temporary address (§3.4 steps 1-2, 4) --------------------------------------

@described(8981, "3.4", MUST,
           "1. Process the Prefix Information option as specified in [RFC4862], adjusting the lifetimes "
           "of existing temporary addresses")
def test_temporary_address_keeps_its_valid_lifetime_under_the_two_hour_rule(dut: DUT) -> None:
    dut.set_ipv6_option("use_tempaddr", 2)
    advertise_prefix(dut, valid=1200, preferred=600)
    dut.wait(0.3)
    first = one_temporary(dut)
    # RFC 4862 5.5.3 e: with a RemainingLifetime of about 1200 s, at most 2 hours, a received Valid
    # Lifetime of 60 s is ignored (rule 2); the preferred lifetime is reset all the same.
    advertise_prefix(dut, valid=60, preferred=30)
    dut.wait(0.3)
    info = one_temporary(dut)
    assert info.interface.ip == first.interface.ip
    assert info.preferred_lifetime is not None and info.preferred_lifetime <= 30, (
        f"the advertisement's preferred lifetime of 30 s was not applied: {info.preferred_lifetime} s")
    assert info.valid_lifetime is not None and info.valid_lifetime > 1000, (
        f"an unauthenticated Valid Lifetime of 60 s cut the temporary address's {first.valid_lifetime} s "
        f"to {info.valid_lifetime} s (RFC 4862 5.5.3 e rule 2)")


@rfc("RFC8981-3.4-3",
     quote="Its valid lifetime is the lower of the Valid Lifetime of the prefix and TEMP_VALID_LIFETIME. * Its "
           "preferred lifetime is the lower of the Preferred Lifetime of the prefix and TEMP_PREFERRED_LIFETIME "
           "- DESYNC_FACTOR.")
def test_temporary_lifetimes_under_an_infinite_valid_lifetime(dut: DUT) -> None:
    # An infinite Valid Lifetime beside a finite Preferred Lifetime: TEMP_VALID_LIFETIME (80 s)
    # bounds the one, the prefix's 30 s the other (TEMP_PREFERRED_LIFETIME - DESYNC_FACTOR is at
    # least 60 - 0.4 x 60 = 36 s).
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("temp_valid_lft", 80)
    dut.set_ipv6_option("temp_prefered_lft", 60)
    made = dut.now()
    advertise_prefix(dut, valid=INFINITE, preferred=30)
    dut.wait(0.3)
    info = one_temporary(dut)
    # Remaining seconds, counting down from the send: two less at most, or as many more as a
    # loaded tester took before it listed the addresses.
    lowest = 80 - max(2.0, dut.now() - made + 1.0)
    assert info.valid_lifetime is not None and lowest <= info.valid_lifetime <= 80, (
        f"valid lifetime {info.valid_lifetime} s under an infinite prefix with TEMP_VALID_LIFETIME 80 s")
    assert info.preferred_lifetime is not None and REGEN_ADVANCE_S < info.preferred_lifetime <= 30, (
        f"preferred lifetime {info.preferred_lifetime} s under a prefix preferred for 30 s")


@rfc("RFC8981-3.4-3",
     quote="Its valid lifetime is the lower of the Valid Lifetime of the prefix and TEMP_VALID_LIFETIME. * Its "
           "preferred lifetime is the lower of the Preferred Lifetime of the prefix and TEMP_PREFERRED_LIFETIME "
           "- DESYNC_FACTOR.")
def test_temporary_lifetimes_follow_the_default_temp_lifetimes(dut: DUT) -> None:
    # TEMP_VALID_LIFETIME and TEMP_PREFERRED_LIFETIME left at their §3.8 defaults ("2 days", "1 day"),
    # under a prefix valid for 30 days and preferred for 10: those bound the lifetimes, the preferred
    # one less a DESYNC_FACTOR of at most 0.4 x 1 day.
    dut.set_ipv6_option("use_tempaddr", 2)
    advertise_prefix(dut, valid=30 * DAY_S, preferred=10 * DAY_S)
    dut.wait(0.3)
    info = one_temporary(dut)
    assert info.valid_lifetime is not None and 2 * DAY_S - 60 <= info.valid_lifetime <= 2 * DAY_S, (
        f"valid lifetime {info.valid_lifetime} s with TEMP_VALID_LIFETIME at its default of 2 days")
    assert info.preferred_lifetime is not None and 0.6 * DAY_S - 60 <= info.preferred_lifetime <= DAY_S, (
        f"preferred lifetime {info.preferred_lifetime} s with TEMP_PREFERRED_LIFETIME at its default of 1 day")


@described(8981, "3.8", MUST, "A random value within the range 0 - MAX_DESYNC_FACTOR.")
def test_desync_factor_stays_within_max_desync_factor(dut: DUT) -> None:
    # TEMP_PREFERRED_LIFETIME 2000 s: MAX_DESYNC_FACTOR is 800 s, so every temporary address is
    # preferred for at least 1200 s (the prefix allows 3000 s). Twelve prefixes, twelve draws.
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("max_addresses", 40)
    dut.set_ipv6_option("temp_prefered_lft", 2000)
    prefixes = [IPv6Network(f"2001:db8:{n:x}::/64") for n in range(0x10, 0x1C)]
    made = dut.now()
    dut.send(ra(dut, *[pio(on_link=1, autonomous=1, valid=4000, preferred=3000, prefix=str(p.network_address))
                       for p in prefixes], lifetime=0))
    dut.wait(0.5)
    for prefix in prefixes:
        info = one_temporary(dut, prefix)
        # The lifetime is read as remaining seconds, after however long a loaded tester took: its
        # age is that of its valid lifetime (4000 s advertised), within the time since the send.
        elapsed = dut.now() - made
        age = min(max(0.0, 4000 - info.valid_lifetime), elapsed) if info.valid_lifetime is not None else 0.0
        assert info.preferred_lifetime is not None and 2000 - 800 - 1 <= info.preferred_lifetime + age <= 2000, (
            f"{info.interface}: preferred lifetime {info.preferred_lifetime} s at an age of {age:.3f} s with "
            "TEMP_PREFERRED_LIFETIME 2000 s (DESYNC_FACTOR at most 0.4 x 2000 s)")


@pytest.mark.parametrize(("preferred", "temp_preferred"), [(3, None), (REGEN_ADVANCE_S, None), (600, REGEN_ADVANCE_S - 1)],
                         ids=["prefix-below", "prefix-equal", "temp-preferred-below"])
@rfc("RFC8981-3.4-4",
     quote="A temporary address is created only if this calculated preferred lifetime is greater than "
           "REGEN_ADVANCE time units.")
def test_no_temporary_address_unless_preferred_longer_than_regen_advance(
        dut: DUT, preferred: int, temp_preferred: int | None) -> None:
    # The calculated preferred lifetime is the lower of the prefix's and TEMP_PREFERRED_LIFETIME -
    # DESYNC_FACTOR (step 4): either one at most REGEN_ADVANCE leaves no temporary address.
    dut.set_ipv6_option("use_tempaddr", 2)
    if temp_preferred is not None:
        dut.set_ipv6_option("temp_prefered_lft", temp_preferred)
    advertise_prefix(dut, preferred=preferred)
    dut.wait(0.3)
    found = temporaries(dut)
    assert not found, (f"a prefix preferred for {preferred} s, TEMP_PREFERRED_LIFETIME {temp_preferred or 86400} s "
                       f"(REGEN_ADVANCE {REGEN_ADVANCE_S} s) got {[str(a.interface) for a in found]}")
    dut.set_ipv6_option("temp_prefered_lft", 86400)
    advertise_prefix(dut, OTHER_PREFIX)  # control: a prefix preferred for 600 s gets its temporary address
    dut.wait(0.3)
    assert one_temporary(dut, OTHER_PREFIX).state == "preferred"


@described(8981, "3.4", MUST,
           "no temporary addresses should ever remain \"valid\" or \"preferred\" for a time longer than "
           "(TEMP_VALID_LIFETIME) or (TEMP_PREFERRED_LIFETIME - DESYNC_FACTOR), respectively.")
def test_temporary_address_is_removed_when_temp_valid_lifetime_ends(dut: DUT) -> None:
    # TEMP_PREFERRED_LIFETIME 10 s, TEMP_VALID_LIFETIME 16 s: the first address is replaced (§3.5)
    # and then, 16 s after it was made, removed; its successor stays.
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("temp_valid_lft", 16)
    dut.set_ipv6_option("temp_prefered_lft", 10)
    made = dut.now()
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    successor, _ = _successor(dut, first.interface.ip, 10 + SLACK_S)
    deadline = made + 16 + SLACK_S
    while dut.now() < deadline and first.interface.ip in [a.interface.ip for a in temporaries(dut)]:
        dut.wait(0.5)
    listed = [a.interface.ip for a in temporaries(dut)]
    assert first.interface.ip not in listed, f"{first.interface} outlived TEMP_VALID_LIFETIME (16 s)"
    # Its successor, or (a DESYNC_FACTOR near its bound brings that at once) the successor's own.
    assert [ip for ip in listed if ip != first.interface.ip], (
        f"no temporary address is left after {first.interface} (its successor was {successor.interface})")


# ---- what a refresh does not do (§3.4 step 3, §3.5) ---------------------------------------------------------

@described(8981, "3.5", SHOULD,
           "Note that, in normal operation, except for the transient period when a temporary address is "
           "being regenerated, at most one temporary address per prefix should be in a nondeprecated state "
           "at any given time on a given interface.")
def test_further_advertisements_keep_one_temporary_address(dut: DUT) -> None:
    dut.set_ipv6_option("use_tempaddr", 2)
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    for _ in range(2):  # the router advertises again, unchanged
        advertise_prefix(dut)
        dut.wait(0.5)
    found = temporaries(dut)
    assert [a.interface.ip for a in found] == [first.interface.ip], (
        f"after repeated advertisements: {[str(a.interface) for a in found]}, expected only {first.interface}")
    assert found[0].state == "preferred"


@described(8981, "3.5", SHOULD,
           "Note that, in normal operation, except for the transient period when a temporary address is "
           "being regenerated, at most one temporary address per prefix should be in a nondeprecated state "
           "at any given time on a given interface.")
def test_advertisement_during_regeneration_makes_no_third_address(dut: DUT) -> None:
    # TEMP_PREFERRED_LIFETIME 20 s: the successor comes REGEN_ADVANCE before the first address is
    # deprecated and is itself preferred for at least 20 - 8 s; an advertisement in between
    # refreshes both and regenerates neither again.
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("temp_prefered_lft", 20)
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    successor, listed_from = _successor(dut, first.interface.ip, 20 + SLACK_S)
    advertise_prefix(dut)
    dut.wait(1.0)
    found = temporaries(dut)
    elapsed = dut.now() - listed_from  # the second meant, or more from a loaded tester
    if successor.preferred_lifetime is not None and successor.preferred_lifetime <= REGEN_ADVANCE_S + elapsed + SLACK_S:
        # A DESYNC_FACTOR near TEMP_PREFERRED_LIFETIME - REGEN_ADVANCE (Linux draws it up to that,
        # above MAX_DESYNC_FACTOR) makes the successor's own successor due within the time waited.
        pytest.skip(f"the successor is preferred for only {successor.preferred_lifetime} s: its own successor is "
                    f"due within the {elapsed:.2f} s that passed before the addresses were listed again")
    listed = sorted(str(a.interface.ip) for a in found)
    assert listed == sorted([str(first.interface.ip), str(successor.interface.ip)]), (
        f"after an advertisement during regeneration: {listed}, expected {first.interface} and its "
        f"successor {successor.interface}")


@rfc("RFC8981-3.5-4")
def test_regeneration_follows_a_preferred_lifetime_an_advertisement_extends(dut: DUT) -> None:
    # Formed under a prefix preferred for 8 s (its regeneration due 3 s later), then the prefix is
    # preferred for 3000 s: the address is now preferred until TEMP_PREFERRED_LIFETIME (2000 s) -
    # DESYNC_FACTOR from its creation, and its successor is due REGEN_ADVANCE before that, not at
    # the old time. (2000 s: MAX_DESYNC_FACTOR 800 s; Linux draws DESYNC_FACTOR below its own
    # max_desync_factor, 600 s, or TEMP_PREFERRED_LIFETIME - REGEN_ADVANCE if that is less.)
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("temp_prefered_lft", 2000)
    made = dut.now()  # the first address is formed after this
    advertise_prefix(dut, valid=4000, preferred=8)
    dut.wait(0.3)
    first = one_temporary(dut)
    assert first.preferred_lifetime is not None and first.preferred_lifetime <= 8
    advertise_prefix(dut, valid=4000, preferred=3000)
    extending = dut.now() - made  # the extending advertisement left this long after the first one

    def _unless_extended_too_late(found: list[AddressInfo]) -> None:
        # The old regeneration is due 8 - REGEN_ADVANCE s after the first address was formed (half
        # a second early at most, as the regeneration test allows): an advertisement that a loaded
        # tester sent no sooner than that may have come after it, and a successor shows nothing.
        if [a for a in found if a.interface.ip != first.interface.ip] and extending >= 8 - REGEN_ADVANCE_S - 0.5:
            pytest.skip(f"the tester sent the extending advertisement {extending:.2f} s after the first one, when "
                        f"the first address's regeneration ({8 - REGEN_ADVANCE_S} s after it was formed) may "
                        f"have run: a loaded tester (listed: {[str(a.interface) for a in found]})")

    dut.wait(0.3)
    _unless_extended_too_late(temporaries(dut))
    extended = one_temporary(dut)
    assert extended.preferred_lifetime is not None and extended.preferred_lifetime > 60, (
        f"the refresh left {extended.interface} preferred for {extended.preferred_lifetime} s")
    dut.wait(8.0)  # past the first deprecation time, and REGEN_ADVANCE before it
    found = temporaries(dut)
    _unless_extended_too_late(found)
    assert [a.interface.ip for a in found] == [first.interface.ip], (
        f"a successor came {REGEN_ADVANCE_S} s before the deprecation the first advertisement set, although "
        f"the second one moved it: {[str(a.interface) for a in found]}")
    assert found[0].state == "preferred"


# ---- switching temporary addresses off and on (§3.7) --------------------------------------------------------

@rfc("RFC8981-3.7-1")
def test_disabled_temporary_addresses_are_not_regenerated(dut: DUT) -> None:
    dut.set_ipv6_option("use_tempaddr", 2)
    dut.set_ipv6_option("temp_prefered_lft", 10)
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    dut.set_ipv6_option("use_tempaddr", 0)
    dut.wait(10 + SLACK_S)  # past its deprecation, when it would have been replaced
    others = [str(a.interface) for a in temporaries(dut) if a.interface.ip != first.interface.ip]
    assert not others, f"with temporary addresses switched off the DUT still made {others}"
    dut.set_ipv6_option("use_tempaddr", 2)  # control: switched on again, a new prefix gets one
    advertise_prefix(dut, OTHER_PREFIX)
    dut.wait(0.3)
    assert one_temporary(dut, OTHER_PREFIX).state == "preferred"


@pytest.mark.parametrize("use_tempaddr", [1, 2], ids=["enabled", "preferred"])
@rfc("RFC8981-3.6-2")
def test_temporary_address_is_regenerated_whichever_source_preference(dut: DUT, use_tempaddr: int) -> None:
    # use_tempaddr 1 enables temporary addresses without preferring them as a source (RFC 6724
    # rule 7 is a matter of source selection): they are regenerated all the same.
    dut.set_ipv6_option("use_tempaddr", use_tempaddr)
    dut.set_ipv6_option("temp_prefered_lft", 10)
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    successor, _ = _successor(dut, first.interface.ip, 10 + SLACK_S)
    assert successor.state in ("preferred", "tentative"), f"the successor {successor.interface} is {successor.state}"


@rfc("RFC8981-3.4-2")
def test_temporary_address_past_a_lowered_temp_valid_lifetime_is_replaced(dut: DUT) -> None:
    # TEMP_VALID_LIFETIME is lowered to 10 s when the temporary address is 12 s old: the next
    # advertisement ends it (step 1: none remains valid longer than TEMP_VALID_LIFETIME), which
    # leaves the prefix without a temporary address, so the host makes a new one (step 3),
    # preferred for TEMP_PREFERRED_LIFETIME 9 s - DESYNC_FACTOR, more than REGEN_ADVANCE.
    dut.set_ipv6_option("use_tempaddr", 2)
    advertise_prefix(dut)
    dut.wait(0.3)
    first = one_temporary(dut)
    dut.wait(12.0)
    dut.set_ipv6_option("temp_valid_lft", 10)
    dut.set_ipv6_option("temp_prefered_lft", 9)
    advertise_prefix(dut)
    dut.wait(0.5)
    listed = [a for a in temporaries(dut) if a.state != "deprecated"]
    assert first.interface.ip not in [a.interface.ip for a in listed], (
        f"{first.interface} is still valid 12 s after it was made, with TEMP_VALID_LIFETIME lowered to 10 s")
    assert listed, "the prefix was left without a temporary address"

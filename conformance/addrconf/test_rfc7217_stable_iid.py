"""RFC 7217: semantically opaque, stable interface identifiers for SLAAC (Linux addr_gen_mode 2).

With a ``stable_secret`` set, the identifier of an autoconfigured address is F(Prefix, Net_Iface,
Network_ID, DAD_Counter, secret_key) (§5): not the MAC-derived EUI-64 one, the same whenever the
same prefix is configured again on the same interface, different for different prefixes.
The prefixes are 2001:db8:2::/64 and the test link's own 2001:db8:1::/64.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

from harness import DUT, MUST, described, eui64_interface_id, rfc
from harness.features import optional_feature
from harness.router_discovery import PIO_FORMS_AN_ADDRESS, pio, ra

ALL_NODES: Final = "ff02::1"
PREFIX: Final = IPv6Network("2001:db8:2::/64")
LINK_PREFIX: Final = IPv6Network("2001:db8:1::/64")
SECRET: Final = "2001:db8:7217::5ec:4e7"
# RFC 8504 6.3 RECOMMENDS stable identifiers; a DUT that forms EUI-64 ones has nothing to test here.
pytestmark = optional_feature("stable-addresses")


def iid(addr: IPv6Address) -> int:
    return int(addr) & ((1 << 64) - 1)


def advertise(dut: DUT, *prefixes: IPv6Network) -> None:
    """The tester, not a default router, advertises ``prefixes`` for SLAAC."""
    options = [pio(autonomous=1, valid=600, preferred=300, prefix=str(p.network_address)) for p in prefixes]
    dut.send(ra(dut, *options, lifetime=0))
    dut.wait(0.3)


def autoconfigured(dut: DUT, prefix: IPv6Network) -> IPv6Address:
    """The one address of ``prefix`` that is not the DUT's static address."""
    found = [a.interface.ip for a in dut.ipv6_addresses()
             if a.interface.ip in prefix and a.interface.ip != dut.info.dut_ipv6.ip]
    assert len(found) == 1, f"expected one autoconfigured address in {prefix}, found {[str(a) for a in found]}"
    return found[0]


def use_stable_identifiers(dut: DUT) -> None:
    dut.set_ipv6_option("stable_secret", SECRET)
    dut.set_ipv6_option("addr_gen_mode", 2)


@rfc("RFC7217-5-1", "RFC7217-5-4")
def test_stable_identifier_is_not_derived_from_the_mac(dut: DUT) -> None:
    # The algorithm replaces the MAC-derived identifier ("such as those specified in [RFC2464]"); the
    # baseline (addr_gen_mode 0, EUI-64) is the other position of the switch §5 asks for.
    use_stable_identifiers(dut)
    advertise(dut, PREFIX)
    address = autoconfigured(dut, PREFIX)
    assert iid(address) != eui64_interface_id(dut.info.dut_mac), f"{address} embeds the MAC address (EUI-64)"


@rfc("RFC7217-5-18")
def test_stable_identifier_is_the_same_after_the_link_comes_back(dut: DUT) -> None:
    # Net_Iface (and the secret) survive the link flap, so the identifier does: §4, "the algorithm
    # generates the same Interface Identifier when configuring an address (for the same interface)
    # belonging to the same prefix within the same subnet."
    use_stable_identifiers(dut)
    advertise(dut, PREFIX)
    first = autoconfigured(dut, PREFIX)
    dut.restart_link()
    dut.wait(0.3)
    advertise(dut, PREFIX)
    assert autoconfigured(dut, PREFIX) == first


@described(7217, "4", MUST,
           "The resulting Interface Identifiers must change when addresses are configured for different "
           "prefixes. That is, if different autoconfiguration prefixes are used to configure addresses for "
           "the same network interface card, the resulting Interface Identifiers must be (statistically) "
           "different.")
def test_stable_identifiers_differ_between_prefixes(dut: DUT) -> None:
    use_stable_identifiers(dut)
    advertise(dut, PREFIX, LINK_PREFIX)
    one, other = autoconfigured(dut, PREFIX), autoconfigured(dut, LINK_PREFIX)
    assert iid(one) != iid(other), f"{one} and {other} share their interface identifier"


@described(7217, "5", MUST, "RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key)")
def test_stable_identifier_changes_with_the_secret_key(dut: DUT) -> None:
    # secret_key is one of F()'s inputs: with another secret (RFC 7217 5 lets the administrator
    # change it, which the stable_secret option does) the same prefix gets another identifier,
    # the old one again with the old secret.
    use_stable_identifiers(dut)
    advertise(dut, PREFIX)
    first = autoconfigured(dut, PREFIX)
    dut.set_ipv6_option("stable_secret", "2001:db8:7217::5ec:4e8")
    dut.restart_link()
    dut.wait(0.3)
    advertise(dut, PREFIX)
    other = autoconfigured(dut, PREFIX)
    assert iid(other) != iid(first), f"{other}: the identifier did not change with the secret key"
    assert iid(other) != eui64_interface_id(dut.info.dut_mac), f"{other} embeds the MAC address (EUI-64)"
    dut.set_ipv6_option("stable_secret", SECRET)
    dut.restart_link()
    dut.wait(0.3)
    advertise(dut, PREFIX)
    assert autoconfigured(dut, PREFIX) == first, "the first secret key no longer gives the first identifier"


@rfc("RFC7217-5-1", "RFC7217-5-18")
def test_identifier_from_a_random_secret_is_stable(dut: DUT) -> None:
    # Linux addr_gen_mode 3: the algorithm with a secret_key the DUT draws itself (RFC 7217 5:
    # "initialized to a pseudo-random number"), not a configured one.
    dut.set_ipv6_option("addr_gen_mode", 3)
    advertise(dut, PREFIX)
    first = autoconfigured(dut, PREFIX)
    assert iid(first) != eui64_interface_id(dut.info.dut_mac), f"{first} embeds the MAC address (EUI-64)"
    dut.restart_link()
    dut.wait(0.3)
    advertise(dut, PREFIX)
    assert autoconfigured(dut, PREFIX) == first, "the identifier changed over a link flap"


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_prefix_advertised_again_forms_no_second_stable_address(dut: DUT) -> None:
    # The prefix is that of the stable address formed already: the advertisement refreshes its
    # lifetimes (5.5.3 e) and forms no other address (with a stable identifier a second one would
    # differ from the first, DAD_Counter + 1, where an EUI-64 one would be the same address).
    use_stable_identifiers(dut)
    advertise(dut, PREFIX)
    first = autoconfigured(dut, PREFIX)
    advertise(dut, PREFIX)
    advertise(dut, PREFIX)
    assert autoconfigured(dut, PREFIX) == first

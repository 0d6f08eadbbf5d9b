"""RFC 8981: temporary addresses (Linux use_tempaddr 2), optional and off in the baseline.

The router is the tester's link-local address; it advertises 2001:db8:2::/64 with A=1 and L=0, so
a datagram to 2001:db8:2::5 goes through it and its source address shows which address the DUT
prefers.
"""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network
from typing import Final

from scapy.layers.inet import UDP
from scapy.layers.inet6 import IPv6

from harness import DUT, MUST, SHOULD, AddressInfo, described, eui64_interface_id, rfc
from harness.features import require_feature
from harness.router_discovery import PIO_FORMS_AN_ADDRESS, pio, ra

ALL_NODES: Final = "ff02::1"
PREFIX: Final = IPv6Network("2001:db8:2::/64")
PEER: Final = "2001:db8:2::5"
PORT: Final = 8981
VALID_S, PREFERRED_S = 1200, 600


def advertise(dut: DUT) -> None:
    """The tester, a default router, advertises PREFIX for SLAAC (not on-link)."""
    dut.send(ra(dut, pio(on_link=0, autonomous=1, valid=VALID_S, preferred=PREFERRED_S,
                         prefix=str(PREFIX.network_address)), lifetime=60))
    dut.wait(0.5)


def in_prefix(dut: DUT) -> list[AddressInfo]:
    return [a for a in dut.ipv6_addresses() if a.interface.ip in PREFIX]


def temporaries(dut: DUT) -> list[AddressInfo]:
    found = [a for a in in_prefix(dut) if a.temporary]
    assert found, f"no temporary address in {PREFIX}: {[str(a.interface) for a in in_prefix(dut)]}"
    return found


def with_temporary_addresses(dut: DUT) -> None:
    # RFC 8504 6.4: "RFC 4941 SHOULD be supported" -- a DUT without temporary addresses is tested
    # only for what it owes without them (test_without_temporary_addresses_one_address_per_prefix).
    require_feature(dut, "temporary-addresses")
    dut.set_ipv6_option("use_tempaddr", 2)


@described(4862, "5.5.3", MUST, PIO_FORMS_AN_ADDRESS)
def test_without_temporary_addresses_one_address_per_prefix(dut: DUT) -> None:
    # The baseline (use_tempaddr 0): temporary addresses are an option of RFC 8981 that is off.
    advertise(dut)
    found = in_prefix(dut)
    assert len(found) == 1, f"addresses in {PREFIX}: {[str(a.interface) for a in found]}"
    assert not found[0].temporary


@rfc("RFC8981-3.4-1", "RFC8981-3.4-2", "RFC8981-3.4-5", "RFC8981-3.7-1", "RFC8981-3.7-2")
def test_temporary_address_is_formed_with_a_random_identifier(dut: DUT) -> None:
    with_temporary_addresses(dut)
    advertise(dut)
    temporary = temporaries(dut)[0].interface.ip
    public = [a for a in in_prefix(dut) if not a.temporary]
    assert public, "the public (stable) address is missing next to the temporary one"
    mask = (1 << 64) - 1
    assert int(temporary) & mask != eui64_interface_id(dut.info.dut_mac), "the temporary address is the EUI-64 one"
    assert temporary != public[0].interface.ip


@rfc("RFC8981-3.4-3",
     quote="When creating a temporary address, DESYNC_FACTOR MUST be computed and associated with the newly "
           "created address, and the address lifetime values MUST be derived from the corresponding prefix "
           "as follows: * Its valid lifetime is the lower of the Valid Lifetime of the prefix and "
           "TEMP_VALID_LIFETIME. * Its preferred lifetime is the lower of the Preferred Lifetime of the "
           "prefix and TEMP_PREFERRED_LIFETIME - DESYNC_FACTOR.")
def test_temporary_address_lifetimes_do_not_exceed_the_prefix(dut: DUT) -> None:
    with_temporary_addresses(dut)
    advertise(dut)
    for info in temporaries(dut):
        assert info.preferred_lifetime is not None and info.preferred_lifetime <= PREFERRED_S + 1, info
        assert info.valid_lifetime is not None and info.valid_lifetime <= VALID_S + 1, info


@described(6724, "5", SHOULD,
           "Rule 7: Prefer temporary addresses. If SA is a temporary address and SB is a public address, "
           "then prefer SA. Similarly, if SB is a temporary address and SA is a public address, then prefer "
           "SB.")
def test_temporary_address_is_the_preferred_source(dut: DUT) -> None:
    with_temporary_addresses(dut)
    dut.udp_bind(PORT, 6)
    advertise(dut)
    temporary = {str(a.interface.ip) for a in temporaries(dut)}
    dut.udp_send(PORT, b"which source", PEER, 9)
    datagram = dut.expect(IPv6(dst=PEER), UDP(dport=9), within=1.5)
    assert datagram[IPv6].src in temporary, f"sent from {datagram[IPv6].src}, not from {temporary}"
    assert IPv6Address(datagram[IPv6].src) in PREFIX


@described(8981, "3.1", MUST,
           "These IIDs must be semantically opaque [RFC7136] and must not follow any specific patterns.")
def test_temporary_identifiers_have_no_fixed_bits(dut: DUT) -> None:
    # 24 prefixes, 24 temporary identifiers: a bit that is the same in all of them is a pattern
    # (RFC 8981 3.3.1: "there are no special bits in an IID"); a random bit is the same in all 24
    # with probability 2^-23, any of the 64 with about 8 in a million.
    with_temporary_addresses(dut)
    dut.set_ipv6_option("max_addresses", 60)
    prefixes = [IPv6Network(f"2001:db8:{n:x}::/64") for n in range(0x20, 0x38)]
    dut.send(ra(dut, *[pio(on_link=1, autonomous=1, valid=VALID_S, preferred=PREFERRED_S,
                           prefix=str(p.network_address)) for p in prefixes], lifetime=0))
    dut.wait(0.5)
    mask = (1 << 64) - 1
    iids = [int(a.interface.ip) & mask for a in dut.ipv6_addresses()
            if a.temporary and any(a.interface.ip in p for p in prefixes)]
    assert len(iids) == len(prefixes), f"{len(iids)} temporary addresses for {len(prefixes)} prefixes"
    ones = mask
    zeros = mask
    for value in iids:
        ones &= value
        zeros &= ~value & mask
    fixed = [63 - bit for bit in range(64) if (ones | zeros) >> bit & 1]
    assert not fixed, (f"bits {fixed} (0 = the first bit of the identifier) are the same in all {len(iids)} "
                       f"temporary identifiers: {[f'{v:016x}' for v in iids]}")

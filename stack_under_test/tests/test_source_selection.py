"""RFC 6724 source address selection (network/ipv6/source_selection.py): each rule of section 5,
the default policy table of section 2.1, CommonPrefixLen of 2.2, the candidate set of section 4,
and the stack's select_source using it."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Interface
from typing import Any

import pytest

from stack_under_test import Stack
from stack_under_test.network.ipv6 import source_selection as sel
from stack_under_test.network.ipv6.source_selection import Candidate
from stack_under_test.stack.addresses import AddressState
from stack_under_test.testing import Bench


def a(text: str) -> bytes:
    return IPv6Address(text).packed


@dataclass
class FakeEntry:
    """An address entry as source selection reads it."""

    interface: IPv6Interface
    state: AddressState = AddressState.PREFERRED
    temporary: bool = False

    @property
    def packed(self) -> bytes:
        return self.interface.ip.packed

    @property
    def usable(self) -> bool:
        return self.state is not AddressState.TENTATIVE


OUT, OTHER = object(), object()


def cand(cidr: str, *, outgoing: bool = True, **kw: Any) -> Candidate:
    return Candidate(FakeEntry(IPv6Interface(cidr), **kw), OUT if outgoing else OTHER, outgoing)  # type: ignore[arg-type]


def pick(dst: str, *cands: Candidate, prefer_temporary: bool = False) -> str:
    best = sel.choose(cands, a(dst), prefer_temporary=prefer_temporary)
    assert best is not None
    return str(best.entry.interface.ip)


# ---- policy table, scope, CommonPrefixLen --------------------------------------------------------
@pytest.mark.parametrize(
    ("addr", "precedence", "label"),
    [
        ("::1", 50, 0),
        ("2001:db8:1::1", 40, 1),
        ("::ffff:198.51.100.1", 35, 4),
        ("2002:c633:6401::1", 30, 2),
        ("2001:0:1::1", 5, 5),
        ("fd00::1", 3, 13),
        ("fc00::1", 3, 13),
        ("::198.51.100.1", 1, 3),
        ("fec0::1", 1, 11),
        ("3ffe::1", 1, 12),
        ("fe80::1", 40, 1),
    ],
)
def test_default_policy_table_rfc6724_2_1(addr: str, precedence: int, label: int) -> None:
    assert sel.policy(a(addr)) == (precedence, label)


@pytest.mark.parametrize(
    ("addr", "scope"),
    [("fe80::1", 2), ("::1", 2), ("fec0::1", 5), ("2001:db8::1", 14), ("fd00::1", 14), ("ff02::1", 2), ("ff05::1", 5), ("ff0e::1", 14)],
)
def test_scope_rfc6724_3_1(addr: str, scope: int) -> None:
    assert sel.scope(a(addr)) == scope


def test_common_prefix_len_stops_at_the_source_prefix_rfc6724_2_2() -> None:
    assert sel.common_prefix_len(a("2001:db8:1::4"), 64, a("2001:db8:1::5")) == 64
    assert sel.common_prefix_len(a("2001:db8:1::4"), 128, a("2001:db8:1::5")) == 127
    assert sel.common_prefix_len(a("2001:db8:1::4"), 64, a("3001::")) == 3


# ---- section 5, rule by rule -------------------------------------------------------------------------
def test_rule1_prefer_same_address() -> None:
    # Rule 8 would prefer ::4/120 (common 120 > the /64 cap); rule 1 wins first.
    assert pick("2001:db8:1::5", cand("2001:db8:1::4/120"), cand("2001:db8:1::5/64")) == "2001:db8:1::5"
    assert pick("2001:db8:1::5", cand("2001:db8:1::5/64"), cand("2001:db8:1::4/120")) == "2001:db8:1::5"


def test_rule2_prefer_appropriate_scope() -> None:
    # RFC 6724 10.1: "Destination: 2001:db8:1::1  Candidate Source Addresses: 2001:db8:3::1 or
    # fe80::1  Result: 2001:db8:3::1 (prefer appropriate scope)".
    assert pick("2001:db8:1::1", cand("fe80::1/64"), cand("2001:db8:3::1/64")) == "2001:db8:3::1"
    # "Destination: fe80::1  Candidate Source Addresses: fe80::2 or 2001:db8:1::1  Result: fe80::2".
    assert pick("fe80::1", cand("2001:db8:1::1/64"), cand("fe80::2/64")) == "fe80::2"
    # "Destination: ff05::1  Candidate Source Addresses: fe80::1 or fec0::1 or 2001::1  Result: fec0::1".
    assert pick("ff05::1", cand("fe80::1/64"), cand("2001::1/64"), cand("fec0::1/64")) == "fec0::1"
    # With only a smaller scope than the destination's, that address is still a candidate.
    assert pick("2001:db8:1::1", cand("fe80::1/64")) == "fe80::1"


def test_rule3_avoid_deprecated_addresses() -> None:
    deprecated = cand("2001:db8:1::1/64", state=AddressState.DEPRECATED)
    # Rule 8 would pick the deprecated one (it shares 64 bits with D, the other fewer).
    assert pick("2001:db8:1::9", deprecated, cand("2001:db8:2::1/64")) == "2001:db8:2::1"
    assert pick("2001:db8:1::9", cand("2001:db8:2::1/64"), deprecated) == "2001:db8:2::1"


def test_rule3_comes_after_scope() -> None:
    deprecated = cand("2001:db8:1::1/64", state=AddressState.DEPRECATED)
    assert pick("2001:db8:1::9", cand("fe80::1/64"), deprecated) == "2001:db8:1::1"


def test_rule4_home_addresses_tie_without_mobile_ipv6() -> None:
    # No Mobile IPv6: rule 4 never separates two addresses; the later rules decide.
    x, y = cand("2001:db8:1::1/64"), cand("2001:db8:2::1/64")
    assert sel.compare(x, y, a("2001:db8:1::9")) > 0
    assert sel.compare(y, x, a("2001:db8:1::9")) < 0


def test_rule5_prefer_outgoing_interface() -> None:
    other = cand("2001:db8:1::1/64", outgoing=False)  # rule 8 favours it
    assert pick("2001:db8:1::9", other, cand("2001:db8:2::1/64")) == "2001:db8:2::1"


def test_rule6_prefer_matching_label() -> None:
    # RFC 6724 10.1: "Destination: 2002:c633:6401::1  Candidate Source Addresses:
    # 2002:c633:6401::d5e3:7953:13eb:22e8 or 2001:db8:1::2 Result: 2002:c633:6401::d5e3:7953:13eb:22e8".
    assert pick("2002:c633:6401::1", cand("2001:db8:1::2/64"), cand("2002:c633:6401::d5e3:7953:13eb:22e8/64")) == (
        "2002:c633:6401:0:d5e3:7953:13eb:22e8"
    )
    # Against rule 8: the /8 caps the 6to4 source's CommonPrefixLen at 8, below the 14 bits
    # 2001:db8::1 shares with D; the matching label still wins.
    assert pick("2002:c633:6401::1", cand("2001:db8::1/64"), cand("2002:c633:6401::2/8")) == "2002:c633:6401::2"
    # ULA to ULA (label 13), global to global (label 1).
    assert pick("fd00:5::1", cand("2001:db8::1/64"), cand("fd11::1/64")) == "fd11::1"
    assert pick("2001:db8:5::1", cand("fd11::1/64"), cand("2001:db8:1::1/64")) == "2001:db8:1::1"


def test_rule7_prefer_temporary_addresses_when_configured() -> None:
    public, temporary = cand("2001:db8:1::1/64"), cand("2001:db8:1::abcd/64", temporary=True)
    assert pick("2001:db8:9::1", public, temporary, prefer_temporary=True) == "2001:db8:1::abcd"
    assert pick("2001:db8:9::1", temporary, public, prefer_temporary=True) == "2001:db8:1::abcd"
    # The sense reversed (use_tempaddr 0/1, RFC 6724: "MUST provide a mechanism ... to reverse").
    assert pick("2001:db8:9::1", temporary, public, prefer_temporary=False) == "2001:db8:1::1"


def test_rule8_longest_matching_prefix() -> None:
    assert pick("2001:db8:1::9", cand("2001:db8:2::1/64"), cand("2001:db8:1::1/64")) == "2001:db8:1::1"
    # Up to the source's prefix length: ::4/64 shares 127 bits with D but counts 64; ::1/120 counts 120.
    assert pick("2001:db8:1::5", cand("2001:db8:1::4/64"), cand("2001:db8:1::1/120")) == "2001:db8:1::1"


def test_ties_keep_the_first_candidate() -> None:
    x, y = cand("2001:db8:1::1/64"), cand("2001:db8:1::2/64")
    assert sel.compare(x, y, a("2001:db8:9::1")) == 0
    assert pick("2001:db8:9::1", x, y) == "2001:db8:1::1"
    assert pick("2001:db8:9::1", y, x) == "2001:db8:1::2"


# ---- the candidate set (section 4) and the stack -----------------------------------------------------
def _stack(*extra_nics: str) -> Stack:
    """eth0 (and the other NICs named) with only its IPv6 link-local address."""
    bench = Bench(ipv4=False, addresses=False, static_tester=False, seed=6724)
    for i, name in enumerate(extra_nics, start=2):
        bench.add_nic(name, bytes([2, 0, 0, 0, 0, i]))
    return bench.stack


def test_stack_select_source_uses_the_rules() -> None:
    stack = _stack()
    stack.add_address("eth0", "2001:db8:1::1/64")
    stack.add_address("eth0", "2001:db8:2::1/64")
    ep = stack.nic("eth0").ip[6]
    assert ep.select_source(a("2001:db8:2::77")) == a("2001:db8:2::1")  # rule 8
    assert ep.select_source(a("fe80::77")) == a("fe80::ff:fe00:1")  # rule 2
    stack.nic("eth0").addresses.get(a("2001:db8:2::1")).state = AddressState.DEPRECATED  # type: ignore[union-attr]
    assert ep.select_source(a("2001:db8:2::77")) == a("2001:db8:1::1")  # rule 3


def test_tentative_and_anycast_are_not_candidates() -> None:
    stack = _stack()
    entry = stack.add_address("eth0", "2001:db8:1::1/64")
    ep = stack.nic("eth0").ip[6]
    stack.set_forwarding(6, True)  # RFC 4291 2.6.1: a router holds the Subnet-Router anycast address
    subnet_router = a("2001:db8:1::")
    assert ep.is_anycast(subnet_router)
    found = {c.address for c in sel.candidates(ep, a("2001:db8:1::9"))}
    assert found == {a("fe80::ff:fe00:1"), a("2001:db8:1::1")}  # the anycast address is not among them
    entry.state = AddressState.TENTATIVE
    # Only the link-local is left (rule 2 prefers a larger scope, but there is none).
    assert ep.select_source(a("2001:db8:1::9")) == a("fe80::ff:fe00:1")
    assert sel._eligible(FakeEntry(IPv6Interface("2001:db8:1::2/64"))) is True  # type: ignore[arg-type]


def test_link_local_and_multicast_destinations_use_only_the_outgoing_interface() -> None:
    stack = _stack("eth1")
    stack.add_address("eth1", "2001:db8:2::1/64")
    ep0 = stack.nic("eth0").ip[6]
    for dst in ("fe80::77", "ff02::1", "ff05::1", "ff0e::1"):
        found = sel.candidates(ep0, a(dst))
        assert {c.address for c in found} == {a("fe80::ff:fe00:1")}, dst
    # A global destination may take another interface's global address (weak host model):
    # rule 2 then prefers it to eth0's link-local. eth1's link-local is never a candidate on eth0.
    found = sel.candidates(ep0, a("2001:db8:9::1"))
    assert {c.address for c in found} == {a("fe80::ff:fe00:1"), a("2001:db8:2::1")}
    assert ep0.select_source(a("2001:db8:9::1")) == a("2001:db8:2::1")
    # Rule 5: once eth0 has a global address of its own, it wins.
    stack.add_address("eth0", "2001:db8:1::1/64")
    assert ep0.select_source(a("2001:db8:2::9")) == a("2001:db8:1::1")


def test_use_tempaddr_2_prefers_temporary_on_the_stack() -> None:
    stack = _stack()
    stack.add_address("eth0", "2001:db8:1::1/64")
    ep = stack.nic("eth0").ip[6]
    nic = stack.nic("eth0")
    temp = FakeEntry(IPv6Interface("2001:db8:1::abcd/64"), temporary=True)
    public = nic.addresses.get(a("2001:db8:1::1"))
    found = [Candidate(public, nic, True), Candidate(temp, nic, True)]  # type: ignore[arg-type]
    assert sel.choose(found, a("2001:db8:9::1"), prefer_temporary=nic.ipv6_config.use_tempaddr >= 2) is found[0]
    stack.set_ipv6_option("eth0", "use_tempaddr", 2)
    assert sel.choose(found, a("2001:db8:9::1"), prefer_temporary=nic.ipv6_config.use_tempaddr >= 2) is found[1]
    assert ep.select_source(a("2001:db8:9::1")) == a("2001:db8:1::1")


def test_rule1_traffic_to_an_own_address_is_looped_back_from_that_address() -> None:
    stack = _stack()
    stack.add_address("eth0", "2001:db8:1::1/64")
    stack.add_address("eth0", "2001:db8:1::5/64")
    link = stack.nic("eth0").link
    link.drain()
    sender, receiver = stack.udp_bind("::", 46724), stack.udp_bind("::", 9)
    for own in ("2001:db8:1::5", "2001:db8:1::1", "fe80::ff:fe00:1"):
        sender.sendto(b"self", own, 9)
        assert receiver.recv() == (b"self", own, 46724)
    assert link.drain() == []  # nothing reached the link (no Neighbor Solicitation for ourselves)

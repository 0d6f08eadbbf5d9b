"""What a stimulus may do beyond its immediate answers: late answers and state left behind."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6MLQuery,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    IPv6,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    RouterAlert,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from fuzz.differential.stimulus import Stimulus
from fuzz.differential.traits import answer_reasons, traits_of

E = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")


def _traits(pkt: Packet):  # type: ignore[no-untyped-def]
    return traits_of(Stimulus("t", (bytes(pkt),)))


def test_an_echo_request_leaves_nothing_behind() -> None:
    t = _traits(E / IP(src="198.51.100.2", dst="198.51.100.1") / ICMP())
    assert (t.fragments, t.report_bound_s, t.reasons) == (False, None, set())


@pytest.mark.parametrize(("pkt", "reason"), [
    (E / ARP(), "neighbor"),
    (E / IPv6() / ICMPv6ND_NS(tgt="2001:db8:1::1"), "neighbor"),
    (E / IPv6() / ICMPv6ND_RA(), "router"),
    (E / IP() / ICMP(type=3, code=4), "route"),
    (E / IP() / ICMP(type=5), "route"),
], ids=["arp", "ns", "ra", "frag-needed", "redirect"])
def test_state_changing_messages_name_their_state(pkt: Packet, reason: str) -> None:
    assert reason in _traits(pkt).reasons


def test_an_mld_query_bounds_its_reports_by_its_maximum_response_delay() -> None:
    query = E / IPv6(hlim=1) / IPv6ExtHdrHopByHop(options=[RouterAlert()]) / ICMPv6MLQuery(mrd=1500)
    t = _traits(query)
    assert t.report_bound_s == 1.5 and "multicast" in t.reasons


def test_an_igmpv1_query_allows_ten_seconds() -> None:
    t = _traits(E / IP(proto=2) / Raw(b"\x11\x00\xee\xff\x00\x00\x00\x00"))
    assert t.report_bound_s == 10.0


def test_fragments_of_either_family_are_seen() -> None:
    assert _traits(E / IP(flags=1) / ICMP()).fragments
    assert _traits(E / IPv6() / IPv6ExtHdrFragment(offset=1) / Raw(b"x" * 8)).fragments
    assert not _traits(E / IPv6() / IPv6ExtHdrFragment(offset=0, m=0) / ICMPv6EchoRequest()).fragments


def test_an_answer_that_resolves_an_address_is_state() -> None:
    ns = bytes(E / IPv6(src="fe80::1", dst="ff02::1:ff00:3", hlim=255) / ICMPv6ND_NS(tgt="2001:db8:1::3"))
    assert answer_reasons([ns]) == {"neighbor"}
    assert answer_reasons([bytes(E / IP() / ICMP(type=0))]) == set()


def test_a_stimulus_is_named_by_its_family_and_where_it_went() -> None:
    from fuzz.differential.shape import kind_of
    from fuzz.differential.symbols import Symbols
    from harness.backends.base import TEST_LINK

    symbols = Symbols(TEST_LINK)

    def kind(pkt: Packet) -> str:
        return kind_of(Stimulus("ipv4", (bytes(pkt),)), symbols)

    ip = IP(src="198.51.100.2", dst="198.51.100.1") / ICMP()
    assert kind(E / ip) == "ipv4"
    assert kind(Ether(src="02:00:00:00:00:02", dst="ff:ff:ff:ff:ff:ff") / ip) == "ipv4 l2=bcast"
    assert kind(E / IP(src="198.51.100.2", dst="203.0.113.9") / ICMP()) == "ipv4 to=other"
    assert kind(E / IP(src="198.51.100.2", dst="198.51.100.255") / ICMP()) == "ipv4 to=bcast"

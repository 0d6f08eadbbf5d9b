"""RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: every invalid ND message is dropped with its reason,
and the valid twin of each is processed (the positive control)."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test.drops import Drop
from stack_under_test.tests._ipv6_bench import (
    DUT,
    DUT_LL,
    TESTER,
    TESTER_LL,
    TESTER_MAC,
    UNSPECIFIED,
    icmp_packet,
)
from stack_under_test.tests._ndp_bench import NDPBench
from stack_under_test.wire.icmpv6 import UnknownICMPv6
from stack_under_test.wire.ipv6 import solicited_node
from stack_under_test.wire.ndp import (
    NDPOption,
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    Redirect,
    RouterAdvert,
    RouterSolicit,
    source_link_option,
)

DUT_SN = solicited_node(DUT)
DUT_SN_MAC = b"\x33\x33" + DUT_SN[12:]
ALL_NODES_MAC = bytes.fromhex("333300000001")
ALL_NODES = IPv6Address("ff02::1").packed
GW_LL = IPv6Address("fe80::1").packed
REMOTE = IPv6Address("2001:db8:2::9").packed


def ns(target: bytes = DUT, options: NDPOptions | None = None) -> NeighborSolicit:
    return NeighborSolicit(IPv6Address(target), source_link_option(TESTER_MAC) if options is None else options)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(ns(), id="NS"),
        pytest.param(NeighborAdvert(IPv6Address(TESTER_LL), solicited=False), id="NA"),
        pytest.param(RouterSolicit(), id="RS"),
        pytest.param(RouterAdvert(router_lifetime_s=100), id="RA"),
        pytest.param(Redirect(IPv6Address(GW_LL), IPv6Address(REMOTE)), id="Redirect"),
    ],
)
def test_hop_limit_other_than_255_is_dropped(message: object) -> None:
    bench = NDPBench()
    assert bench.inject(icmp_packet(TESTER_LL, DUT_LL, message, hop_limit=254)) is Drop.NDP_HOP_LIMIT_NOT_255  # type: ignore[arg-type]


@pytest.mark.parametrize(("icmp_type", "body"), [(133, bytes(4)), (134, bytes(12)), (135, bytes(4) + DUT), (137, bytes(36))])
def test_nonzero_code_is_dropped(icmp_type: int, body: bytes) -> None:
    bench = NDPBench()
    packet = icmp_packet(TESTER_LL, DUT_LL, UnknownICMPv6(icmp_type, 1, body), hop_limit=255)
    assert bench.inject(packet) is Drop.NDP_BAD_CODE


@pytest.mark.parametrize(("icmp_type", "fixed"), [(133, 4), (134, 12), (135, 20), (136, 20), (137, 36)])
def test_short_messages_and_zero_length_options_are_dropped(icmp_type: int, fixed: int) -> None:
    bench = NDPBench()
    short = icmp_packet(TESTER_LL, DUT_LL, UnknownICMPv6(icmp_type, 0, bytes(fixed - 1)), hop_limit=255)
    assert bench.inject(short) is Drop.NDP_TRUNCATED
    zero = icmp_packet(TESTER_LL, DUT_LL, UnknownICMPv6(icmp_type, 0, bytes(fixed) + bytes([1, 0]) + bytes(6)), hop_limit=255)
    assert bench.inject(zero) is Drop.NDP_ZERO_LENGTH_OPTION


def test_multicast_target_is_dropped_and_the_unicast_one_answered() -> None:
    bench = NDPBench()
    packet = icmp_packet(TESTER, DUT, ns(IPv6Address("ff02::1").packed), hop_limit=255)
    assert bench.inject(packet) is Drop.NDP_MULTICAST_TARGET
    assert bench.sent() == []
    assert bench.inject(icmp_packet(TESTER, DUT, ns(), hop_limit=255)) is None
    assert isinstance(bench.only_sent().message, NeighborAdvert)


def test_solicitation_from_unspecified_rules() -> None:
    bench = NDPBench()
    to_unicast = icmp_packet(UNSPECIFIED, DUT, ns(options=NDPOptions()), hop_limit=255)
    assert bench.inject(to_unicast) is Drop.NDP_DAD_NOT_TO_SOLICITED_NODE
    with_slla = icmp_packet(UNSPECIFIED, DUT_SN, ns(), hop_limit=255)
    assert bench.inject(with_slla, eth_dst=DUT_SN_MAC) is Drop.NDP_DAD_WITH_SOURCE_LINK_ADDRESS
    assert bench.sent() == []
    valid = icmp_packet(UNSPECIFIED, DUT_SN, ns(options=NDPOptions()), hop_limit=255)
    assert bench.inject(valid, eth_dst=DUT_SN_MAC) is None
    advert = bench.only_sent()
    # §7.2.4: to all-nodes with Solicited clear.
    assert advert.ip.dst.packed == ALL_NODES
    assert isinstance(advert.message, NeighborAdvert) and not advert.message.solicited and advert.message.override


def test_router_solicitation_from_unspecified_with_source_link_option_is_dropped() -> None:
    bench = NDPBench()
    packet = icmp_packet(UNSPECIFIED, DUT_LL, RouterSolicit(source_link_option(TESTER_MAC)), hop_limit=255)
    assert bench.inject(packet) is Drop.NDP_ROUTER_SOLICIT_UNSPECIFIED_WITH_SLLA


def test_solicited_advert_to_multicast_is_dropped() -> None:
    bench = NDPBench()
    advert = NeighborAdvert(IPv6Address(TESTER), solicited=True)
    packet = icmp_packet(TESTER, ALL_NODES, advert, hop_limit=255)
    assert bench.inject(packet, eth_dst=ALL_NODES_MAC) is Drop.NDP_SOLICITED_ADVERT_TO_MULTICAST


def test_link_layer_option_of_wrong_size_is_dropped() -> None:
    bench = NDPBench()
    bad = NDPOptions((NDPOption(1, bytes(14)),))
    assert bench.inject(icmp_packet(TESTER, DUT, ns(options=bad), hop_limit=255)) is Drop.NDP_BAD_LINK_LAYER_OPTION


@pytest.mark.parametrize(
    ("src", "target", "destination", "reason"),
    [
        pytest.param(IPv6Address("2001:db8:1::9").packed, GW_LL, REMOTE, Drop.NDP_REDIRECT_SOURCE_NOT_LINK_LOCAL, id="global-source"),
        pytest.param(GW_LL, GW_LL, IPv6Address("ff0e::1").packed, Drop.NDP_REDIRECT_MULTICAST_DESTINATION, id="multicast-dest"),
        pytest.param(GW_LL, IPv6Address("2001:db8:1::7").packed, REMOTE, Drop.NDP_REDIRECT_BAD_TARGET, id="global-target"),
    ],
)
def test_invalid_redirects_are_dropped(src: bytes, target: bytes, destination: bytes, reason: Drop) -> None:
    bench = NDPBench()
    msg = Redirect(IPv6Address(target), IPv6Address(destination))
    assert bench.inject(icmp_packet(src, DUT, msg, hop_limit=255)) is reason

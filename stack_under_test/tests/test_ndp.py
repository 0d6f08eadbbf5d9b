"""Neighbor Discovery (RFC 4861) through the channel link: NS -> NA, NA -> cache, resolution."""

from __future__ import annotations

from ipaddress import IPv6Address

import pytest

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborState
from stack_under_test.tests._ipv6_bench import (
    ALL_NODES,
    DUT,
    DUT_LL,
    DUT_MAC,
    ICMPV6,
    OTHER,
    OTHER_MAC,
    TESTER,
    TESTER_LL,
    TESTER_MAC,
    UDP,
    UNSPECIFIED,
    Bench,
    icmp_packet,
)
from stack_under_test.wire import icmpv6
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest
from stack_under_test.wire.ipv6 import build_packet, solicited_node
from stack_under_test.wire.ndp import (
    NDPOption,
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    source_link_option,
    target_link_option,
)

DUT_SN = solicited_node(DUT)
DUT_SN_MAC = b"\x33\x33" + DUT_SN[12:]


def ns_packet(
    src: bytes, dst: bytes, target: bytes, options: NDPOptions | None = None, *, hop_limit: int = 255
) -> bytes:
    opts = source_link_option(TESTER_MAC) if options is None else options
    return icmp_packet(src, dst, NeighborSolicit(IPv6Address(target), opts), hop_limit=hop_limit)


def na_packet(
    src: bytes,
    dst: bytes,
    target: bytes,
    mac: bytes | None,
    *,
    solicited: bool = True,
    override: bool = True,
    hop_limit: int = 255,
) -> bytes:
    opts = target_link_option(mac) if mac is not None else NDPOptions()
    advert = NeighborAdvert(IPv6Address(target), False, solicited, override, opts)
    return icmp_packet(src, dst, advert, hop_limit=hop_limit)


# ---- Neighbor Solicitation -> Neighbor Advertisement ----------------------------------------


@pytest.mark.parametrize(
    ("dst", "eth_dst"),
    [pytest.param(DUT_SN, DUT_SN_MAC, id="multicast"), pytest.param(DUT, DUT_MAC, id="unicast")],
)
def test_solicitation_is_answered_with_a_solicited_advertisement(dst: bytes, eth_dst: bytes) -> None:
    bench = Bench(static_tester=False)
    assert bench.inject(ns_packet(TESTER, dst, DUT), eth_dst=eth_dst) is None
    advert = bench.only_sent()
    assert (advert.ip.src.packed, advert.ip.dst.packed, advert.ip.hop_limit) == (DUT, TESTER, 255)
    assert advert.eth_dst == TESTER_MAC  # from the Source Link-Layer Address option
    assert advert.message == NeighborAdvert(
        IPv6Address(DUT), router=False, solicited=True, override=True, options=target_link_option(DUT_MAC)
    )


def test_solicitation_creates_a_stale_neighbor_entry() -> None:
    # RFC 4861 §7.2.3 creates it STALE; sending our advertisement to it is §7.3.3's first packet
    # to a STALE neighbor, so it is DELAY afterwards (as Linux shows in `ip -6 neigh`).
    bench = Bench(static_tester=False)
    bench.inject(ns_packet(TESTER, DUT_SN, DUT), eth_dst=DUT_SN_MAC)
    entry = bench.stack.nic("eth0").neighbors[6].get(TESTER)
    assert entry is not None
    assert (entry.mac, entry.state) == (TESTER_MAC, NeighborState.DELAY)


def test_solicitation_for_the_link_local_address() -> None:
    bench = Bench(static_tester=False)
    group = solicited_node(DUT_LL)
    assert bench.inject(ns_packet(TESTER_LL, group, DUT_LL), eth_dst=b"\x33\x33" + group[12:]) is None
    advert = bench.only_sent()
    assert (advert.ip.src.packed, advert.ip.dst.packed) == (DUT_LL, TESTER_LL)


def test_solicitation_from_unspecified_is_answered_to_all_nodes_with_solicited_clear() -> None:
    bench = Bench(static_tester=False)
    assert bench.inject(ns_packet(UNSPECIFIED, DUT_SN, DUT, NDPOptions()), eth_dst=DUT_SN_MAC) is None
    advert = bench.only_sent()
    assert (advert.ip.src.packed, advert.ip.dst.packed, advert.ip.hop_limit) == (DUT, ALL_NODES, 255)
    assert advert.eth_dst == bytes.fromhex("333300000001")
    assert isinstance(advert.message, NeighborAdvert)
    assert (advert.message.solicited, advert.message.override) == (False, True)


def test_solicitation_from_unspecified_to_a_non_solicited_node_address_is_dropped() -> None:
    bench = Bench()
    packet = ns_packet(UNSPECIFIED, DUT, DUT, NDPOptions())
    assert bench.inject(packet) is Drop.NDP_DAD_NOT_TO_SOLICITED_NODE
    assert bench.sent() == []


def test_solicitation_from_unspecified_with_a_source_link_address_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(ns_packet(UNSPECIFIED, DUT_SN, DUT), eth_dst=DUT_SN_MAC) is Drop.NDP_DAD_WITH_SOURCE_LINK_ADDRESS
    assert bench.sent() == []


def test_solicitation_with_hop_limit_254_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(ns_packet(TESTER, DUT_SN, DUT, hop_limit=254), eth_dst=DUT_SN_MAC) is Drop.NDP_HOP_LIMIT_NOT_255
    assert bench.sent() == []


def test_solicitation_with_code_1_is_dropped() -> None:
    bench = Bench()
    raw = bytearray(icmpv6.encode(NeighborSolicit(IPv6Address(DUT), source_link_option(TESTER_MAC)), TESTER, DUT))
    raw[1] = 1
    raw[2:4] = b"\0\0"
    raw[2:4] = icmpv6.icmpv6_checksum(TESTER, DUT, raw).to_bytes(2, "big")
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, bytes(raw), 255)) is Drop.NDP_BAD_CODE


def test_solicitation_shorter_than_24_octets_is_dropped() -> None:
    bench = Bench()
    raw = bytearray(icmpv6.encode(NeighborSolicit(IPv6Address(DUT)), TESTER, DUT)[:20])
    raw[2:4] = b"\0\0"
    raw[2:4] = icmpv6.icmpv6_checksum(TESTER, DUT, raw).to_bytes(2, "big")
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, bytes(raw), 255)) is Drop.NDP_TRUNCATED


def test_solicitation_with_a_zero_length_option_is_dropped() -> None:
    bench = Bench()
    options = NDPOptions((NDPOption(1, TESTER_MAC),))
    raw = bytearray(icmpv6.encode(NeighborSolicit(IPv6Address(DUT), options), TESTER, DUT))
    raw[25] = 0  # the option's Length field
    raw[2:4] = b"\0\0"
    raw[2:4] = icmpv6.icmpv6_checksum(TESTER, DUT, raw).to_bytes(2, "big")
    assert bench.inject(build_packet(TESTER, DUT, ICMPV6, bytes(raw), 255)) is Drop.NDP_ZERO_LENGTH_OPTION
    assert bench.stack.nic("eth0").neighbors[6].get(TESTER) is not None  # the static entry only


def test_solicitation_with_a_wrong_size_link_address_option_is_dropped() -> None:
    bench = Bench(static_tester=False)
    options = NDPOptions((NDPOption(1, TESTER_MAC + bytes(8)),))
    assert bench.inject(ns_packet(TESTER, DUT, DUT, options)) is Drop.NDP_BAD_LINK_LAYER_OPTION
    assert bench.stack.nic("eth0").neighbors[6].get(TESTER) is None


def test_solicitation_for_a_multicast_target_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(ns_packet(TESTER, DUT, ALL_NODES)) is Drop.NDP_MULTICAST_TARGET


def test_solicitation_for_someone_elses_address_is_dropped() -> None:
    bench = Bench()
    group = solicited_node(OTHER)
    assert bench.inject(ns_packet(TESTER, group, OTHER), eth_dst=b"\x33\x33" + group[12:]) is Drop.IPV6_NOT_FOR_US
    assert bench.inject(ns_packet(TESTER, DUT, OTHER)) is Drop.NDP_TARGET_NOT_OURS
    assert bench.sent() == []


def test_unicast_solicitation_without_source_link_address_resolves_before_answering() -> None:
    # RFC 4861 §7.2.4: "a node will first have to use Neighbor Discovery to determine the
    # link-layer address of its neighbor".
    bench = Bench(static_tester=False)
    assert bench.inject(ns_packet(TESTER, DUT, DUT, NDPOptions())) is None
    probe = bench.only_sent()
    assert isinstance(probe.message, NeighborSolicit)
    assert probe.ip.dst.packed == solicited_node(TESTER)
    assert bench.inject(na_packet(TESTER, DUT, TESTER, TESTER_MAC)) is None
    advert = bench.only_sent()
    assert isinstance(advert.message, NeighborAdvert) and advert.message.target == IPv6Address(DUT)
    assert advert.eth_dst == TESTER_MAC


# ---- Neighbor Advertisement -------------------------------------------------------------------


def test_advertisement_with_hop_limit_below_255_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(na_packet(TESTER, DUT, TESTER, TESTER_MAC, hop_limit=64)) is Drop.NDP_HOP_LIMIT_NOT_255


def test_solicited_advertisement_to_multicast_is_dropped() -> None:
    bench = Bench()
    packet = na_packet(TESTER, ALL_NODES, TESTER, TESTER_MAC, solicited=True)
    assert bench.inject(packet, eth_dst=bytes.fromhex("333300000001")) is Drop.NDP_SOLICITED_ADVERT_TO_MULTICAST


def test_advertisement_without_a_cache_entry_is_dropped() -> None:
    bench = Bench(static_tester=False)
    assert bench.inject(na_packet(OTHER, DUT, OTHER, OTHER_MAC, solicited=False)) is Drop.NDP_ADVERT_NO_ENTRY
    assert bench.stack.nic("eth0").neighbors[6].get(OTHER) is None


def test_advertisement_for_our_own_address_is_dropped() -> None:
    bench = Bench()
    assert bench.inject(na_packet(TESTER, DUT, DUT, TESTER_MAC, solicited=False)) is Drop.NDP_ADVERT_FOR_OUR_ADDRESS


# ---- address resolution -----------------------------------------------------------------------


def send_udp_to_other(bench: Bench) -> None:
    sock = bench.stack.udp_bind("::", 5000)
    sock.sendto(b"queued", "2001:db8:1::3", 9)


def test_resolution_sends_ns_then_releases_the_queued_packet_on_na() -> None:
    bench = Bench()
    send_udp_to_other(bench)
    solicit = bench.only_sent()
    other_sn = solicited_node(OTHER)
    assert (solicit.ip.src.packed, solicit.ip.dst.packed, solicit.ip.hop_limit) == (DUT, other_sn, 255)
    assert solicit.eth_dst == b"\x33\x33" + other_sn[12:]
    assert solicit.message == NeighborSolicit(IPv6Address(OTHER), source_link_option(DUT_MAC))

    assert bench.inject(na_packet(OTHER, DUT, OTHER, OTHER_MAC), eth_src=OTHER_MAC) is None
    datagram = bench.only_sent()
    assert datagram.eth_dst == OTHER_MAC
    assert (datagram.ip.dst.packed, datagram.ip.next_header) == (OTHER, UDP)
    assert datagram.payload.endswith(b"queued")
    entry = bench.stack.nic("eth0").neighbors[6].get(OTHER)
    assert entry is not None and entry.state is NeighborState.REACHABLE


def test_unsolicited_advertisement_makes_the_entry_stale_and_still_releases_the_queue() -> None:
    bench = Bench()
    send_udp_to_other(bench)
    bench.sent()
    assert bench.inject(na_packet(OTHER, ALL_NODES, OTHER, OTHER_MAC, solicited=False), eth_dst=bytes.fromhex("333300000001")) is None
    assert bench.only_sent().eth_dst == OTHER_MAC
    entry = bench.stack.nic("eth0").neighbors[6].get(OTHER)
    # STALE (§7.2.5), then the queued packet went out: DELAY (§7.3.3).
    assert entry is not None and entry.state is NeighborState.DELAY


def test_advertisement_without_target_link_address_for_incomplete_entry_is_dropped() -> None:
    bench = Bench()
    send_udp_to_other(bench)
    bench.sent()
    assert bench.inject(na_packet(OTHER, DUT, OTHER, None)) is Drop.NDP_ADVERT_WITHOUT_TARGET_LINK_ADDRESS
    assert bench.sent() == []


def test_solicitations_are_retransmitted_then_resolution_fails() -> None:
    bench = Bench()
    send_udp_to_other(bench)
    assert len(bench.sent()) == 1
    for _ in range(params.MAX_MULTICAST_SOLICIT - 1):
        bench.clock.advance(params.RETRANS_TIMER_MS - 1)
        assert bench.sent() == []
        bench.clock.advance(1)
        assert isinstance(bench.only_sent().message, NeighborSolicit)
    bench.clock.advance(params.RETRANS_TIMER_MS)
    assert bench.sent() == []
    assert bench.stack.stats.tx_drops[Drop.NEIGHBOR_RESOLUTION_FAILED] == 1
    assert bench.stack.nic("eth0").neighbors[6].get(OTHER) is None


def test_echo_reply_to_an_unknown_neighbor_waits_for_resolution() -> None:
    bench = Bench(static_tester=False)
    assert bench.inject(icmp_packet(TESTER, DUT, EchoRequest(9, 9, b"who"))) is None
    assert isinstance(bench.only_sent().message, NeighborSolicit)
    assert bench.inject(na_packet(TESTER, DUT, TESTER, TESTER_MAC)) is None
    reply = bench.only_sent()
    assert reply.message == EchoReply(9, 9, b"who")
    assert reply.eth_dst == TESTER_MAC


def test_override_clear_with_a_new_address_keeps_the_old_one() -> None:
    bench = Bench()
    send_udp_to_other(bench)
    bench.sent()
    bench.inject(na_packet(OTHER, DUT, OTHER, OTHER_MAC))
    bench.sent()
    new_mac = bytes.fromhex("020000000099")
    assert bench.inject(na_packet(OTHER, DUT, OTHER, new_mac, solicited=True, override=False)) is None
    entry = bench.stack.nic("eth0").neighbors[6].get(OTHER)
    assert entry is not None
    assert (entry.mac, entry.state) == (OTHER_MAC, NeighborState.STALE)
    assert bench.inject(na_packet(OTHER, DUT, OTHER, new_mac, solicited=True, override=True)) is None
    assert (entry.mac, entry.state) == (new_mac, NeighborState.REACHABLE)


def test_static_neighbor_is_not_changed_by_advertisements() -> None:
    bench = Bench()
    assert bench.inject(na_packet(TESTER, DUT, TESTER, OTHER_MAC)) is None
    entry = bench.stack.nic("eth0").neighbors[6].get(TESTER)
    assert entry is not None
    assert (entry.mac, entry.state) == (TESTER_MAC, NeighborState.STATIC)

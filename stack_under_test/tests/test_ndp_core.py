"""Through the channel link: NUD-sized queue for fragments, anycast answers (RFC 4861 §7.2.7,
RFC 4291 §2.6.1), Redirect receive (RFC 4861 §8.3) and the DAD hooks."""

from __future__ import annotations

from ipaddress import IPv6Address

from stack_under_test.drops import Drop
from stack_under_test.stack.addresses import AddressEntry
from stack_under_test.stack.neighbor import NeighborState
from stack_under_test.tests._ipv6_bench import (
    DUT,
    DUT_LL,
    DUT_MAC,
    OTHER,
    OTHER_MAC,
    TESTER,
    TESTER_LL,
    TESTER_MAC,
    icmp_packet,
)
from stack_under_test.tests._ndp_bench import NDPBench
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest
from stack_under_test.wire.ipv6 import solicited_node
from stack_under_test.wire.ndp import (
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    Redirect,
    options_of,
    source_link_option,
    target_link_option,
)

ANYCAST = IPv6Address("2001:db8:1::").packed
ANYCAST_SN = solicited_node(ANYCAST)
ANYCAST_SN_MAC = b"\x33\x33" + ANYCAST_SN[12:]
GW_LL = IPv6Address("fe80::1").packed
GW_MAC = bytes.fromhex("0200000000f1")
NEW_LL = IPv6Address("fe80::5").packed
NEW_MAC = bytes.fromhex("0200000000f5")
REMOTE = IPv6Address("2001:db8:2::9").packed


def na(target: bytes, mac: bytes | None, *, solicited: bool = True, override: bool = True, router: bool = False) -> NeighborAdvert:
    opts = target_link_option(mac) if mac is not None else NDPOptions()
    return NeighborAdvert(IPv6Address(target), router, solicited, override, opts)


# ---- queue during resolution -------------------------------------------------------------------


def test_every_fragment_of_a_large_datagram_waits_for_resolution() -> None:
    bench = NDPBench()
    sock = bench.stack.udp_bind("::", 7)
    sock.sendto(b"z" * 20_000, "2001:db8:1::3", 9)  # 14 fragments at MTU 1500 (the old 3-packet queue lost 11)
    (solicit,) = bench.sent()
    assert isinstance(solicit.message, NeighborSolicit)
    assert bench.inject(icmp_packet(OTHER, DUT, na(OTHER, OTHER_MAC), hop_limit=255)) is None
    frags = bench.sent()
    assert len(frags) == 14 and all(f.eth_dst == OTHER_MAC for f in frags)
    assert sum(len(f.payload) - 8 for f in frags) == 20_008  # all of the UDP datagram


# ---- NUD through the stack ------------------------------------------------------------------------


def test_stale_neighbor_is_probed_with_unicast_solicitations_after_the_delay() -> None:
    bench = NDPBench()
    bench.stack.set_ipv6_option("eth0", "delay_first_probe_time_ms", 2000)
    sock = bench.stack.udp_bind("::", 7)
    sock.sendto(b"a", "2001:db8:1::3", 9)
    bench.sent()
    bench.inject(icmp_packet(OTHER, DUT, na(OTHER, OTHER_MAC), hop_limit=255))
    bench.sent()
    bench.clock.advance(50_000)  # past any ReachableTime: STALE
    sock.sendto(b"b", "2001:db8:1::3", 9)
    (datagram,) = bench.sent()
    assert datagram.eth_dst == OTHER_MAC
    bench.clock.advance(1999)
    assert bench.sent() == []
    bench.clock.advance(1)
    (probe,) = bench.sent()
    assert isinstance(probe.message, NeighborSolicit)
    assert (probe.eth_dst, probe.ip.dst.packed) == (OTHER_MAC, OTHER)  # unicast (§7.3.3)
    bench.clock.advance(3000)
    assert len(bench.sent()) == 2
    assert bench.stack.nic("eth0").neighbors[6].get(OTHER) is None


def test_advert_clearing_the_router_flag_calls_the_hook() -> None:
    bench = NDPBench()
    cleared: list[bytes] = []
    table = bench.stack.nic("eth0").neighbors[6]
    table.on_router_cleared = cleared.append
    table.learn(OTHER, OTHER_MAC)
    table.get(OTHER).is_router = True  # type: ignore[union-attr]
    bench.inject(icmp_packet(OTHER, DUT, na(OTHER, OTHER_MAC, router=True), hop_limit=255))
    assert cleared == []
    bench.inject(icmp_packet(OTHER, DUT, na(OTHER, OTHER_MAC, router=False), hop_limit=255))
    assert cleared == [OTHER]


# ---- anycast -----------------------------------------------------------------------------------


def ns_for_anycast(dst: bytes) -> bytes:
    return icmp_packet(TESTER, dst, NeighborSolicit(IPv6Address(ANYCAST), source_link_option(TESTER_MAC)), hop_limit=255)


def test_subnet_router_anycast_only_while_forwarding() -> None:
    bench = NDPBench()
    assert bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) is Drop.IPV6_NOT_FOR_US
    bench.stack.set_forwarding(6, True)
    assert bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) is None
    bench.clock.advance(1000)
    assert len(bench.sent()) == 1
    bench.stack.set_forwarding(6, False)
    assert bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) is Drop.IPV6_NOT_FOR_US
    assert bench.inject(ns_for_anycast(ANYCAST), eth_dst=DUT_MAC) is Drop.IPV6_NOT_FOR_US


def test_multicast_solicitation_for_anycast_is_answered_late_with_override_clear() -> None:
    bench = NDPBench(forwarding=True)
    assert bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) is None
    assert bench.sent() == []  # §7.2.7: a random delay first
    bench.clock.advance(1000)  # MAX_ANYCAST_DELAY_TIME
    (advert,) = bench.sent()
    assert advert.message == NeighborAdvert(IPv6Address(ANYCAST), router=True, solicited=True, override=False, options=target_link_option(DUT_MAC))
    assert advert.ip.src.packed == DUT  # never the anycast address itself
    assert advert.ip.dst.packed == TESTER


def test_unicast_solicitation_for_anycast_is_answered_at_once() -> None:
    bench = NDPBench(forwarding=True)
    assert bench.inject(ns_for_anycast(ANYCAST), eth_dst=DUT_MAC) is None
    (advert,) = bench.sent()
    assert isinstance(advert.message, NeighborAdvert) and not advert.message.override


def test_echo_to_anycast_is_answered_from_a_unicast_address() -> None:
    bench = NDPBench(forwarding=True)
    assert bench.inject(icmp_packet(TESTER, ANYCAST, EchoRequest(1, 2, b"hi"))) is None
    (reply,) = bench.sent()
    assert reply.message == EchoReply(1, 2, b"hi") and reply.ip.src.packed == DUT


# ---- Redirect receive ----------------------------------------------------------------------------


def host_with_gateway() -> NDPBench:
    bench = NDPBench()
    bench.stack.add_static_neighbor("eth0", "fe80::1", GW_MAC)
    bench.stack.add_route("::/0", "eth0", gateway="fe80::1")
    return bench


def send_to_remote(bench: NDPBench) -> bytes:
    sock = bench.stack.udp_bind("::", 0)
    sock.sendto(b"x", "2001:db8:2::9", 9)
    sent = bench.sent()
    sock.close()
    return sent[-1].eth_dst


def redirect(target: bytes, destination: bytes, mac: bytes | None, *, src: bytes = GW_LL) -> bytes:
    opts = options_of(target_link_option(mac)) if mac is not None else NDPOptions()
    return icmp_packet(src, DUT, Redirect(IPv6Address(target), IPv6Address(destination), opts), hop_limit=255)


def test_redirect_to_a_better_router_is_followed() -> None:
    bench = host_with_gateway()
    assert send_to_remote(bench) == GW_MAC
    assert bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC), eth_src=GW_MAC) is None
    entry = bench.stack.nic("eth0").neighbors[6].get(NEW_LL)
    assert entry is not None and entry.state is NeighborState.STALE and entry.is_router
    assert send_to_remote(bench) == NEW_MAC
    # other destinations keep the default router
    sock = bench.stack.udp_bind("::", 0)
    sock.sendto(b"y", "2001:db8:3::1", 9)
    assert bench.sent()[-1].eth_dst == GW_MAC


def test_redirect_to_the_destination_itself_makes_it_on_link() -> None:
    bench = host_with_gateway()
    assert bench.inject(redirect(REMOTE, REMOTE, OTHER_MAC), eth_src=GW_MAC) is None
    (frame,) = bench.sent() or [None]  # nothing sent by the redirect itself
    assert frame is None or frame.eth_dst == OTHER_MAC


def test_redirect_not_from_the_first_hop_is_dropped() -> None:
    bench = host_with_gateway()
    assert bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC, src=TESTER_LL)) is Drop.NDP_REDIRECT_NOT_FROM_FIRST_HOP
    assert send_to_remote(bench) == GW_MAC
    # on-link destinations have no first-hop router at all
    assert bench.inject(redirect(NEW_LL, TESTER, NEW_MAC)) is Drop.NDP_REDIRECT_NOT_FROM_FIRST_HOP


def test_router_ignores_redirects() -> None:
    bench = host_with_gateway()
    bench.stack.set_forwarding(6, True)
    assert bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC), eth_src=GW_MAC) is Drop.NDP_REDIRECT_ON_ROUTER


def test_redirect_routes_go_with_the_link() -> None:
    bench = host_with_gateway()
    bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC), eth_src=GW_MAC)
    bench.stack.disable_nic("eth0")
    assert not bench.stack.nic("eth0").ip[6].protocol.redirect_routes  # type: ignore[attr-defined]


# ---- DAD hooks -------------------------------------------------------------------------------------


class FakeDAD:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def on_neighbor_solicit(self, src: bytes, entry: AddressEntry, nonce: bytes | None) -> Drop | None:
        self.calls.append(("ns", (src, entry.packed, nonce)))
        return None

    def on_neighbor_advert(self, entry: AddressEntry) -> Drop | None:
        self.calls.append(("na", entry.packed))
        return Drop.NDP_ADVERT_FOR_OUR_ADDRESS


def test_solicitation_for_a_tentative_target_and_advert_for_ours_go_to_dad() -> None:
    from stack_under_test.stack.addresses import AddressState
    from stack_under_test.wire.ndp import nonce_option

    bench = NDPBench()
    ep = bench.stack.nic("eth0").ip[6]
    dad = FakeDAD()
    ep.ndp.addrconf = dad  # type: ignore[attr-defined,assignment]
    bench.stack.nic("eth0").addresses.get(DUT).state = AddressState.TENTATIVE  # type: ignore[union-attr]
    dut_sn = solicited_node(DUT)
    packet = icmp_packet(bytes(16), dut_sn, NeighborSolicit(IPv6Address(DUT), nonce_option(b"123456")), hop_limit=255)
    assert bench.inject(packet, eth_dst=b"\x33\x33" + dut_sn[12:]) is None
    assert dad.calls == [("ns", (bytes(16), DUT, b"123456"))]
    assert bench.inject(icmp_packet(TESTER, DUT_LL, na(DUT, TESTER_MAC, solicited=False), hop_limit=255)) is Drop.NDP_ADVERT_FOR_OUR_ADDRESS
    assert dad.calls[-1] == ("na", DUT)
    assert bench.sent() == []


# ---- totality -----------------------------------------------------------------------------------


def test_random_nd_messages_never_raise() -> None:
    import random

    from stack_under_test.wire.icmpv6 import UnknownICMPv6

    rng = random.Random(7)
    for forwarding in (False, True):
        bench = host_with_gateway()
        bench.stack.set_forwarding(6, forwarding)
        for _ in range(1500):
            icmp_type = rng.choice([133, 134, 135, 136, 137])
            body = bytearray(rng.getrandbits(8) for _ in range(rng.randrange(0, 90)))
            if len(body) >= 20 and rng.random() < 0.5:
                body[4:20] = rng.choice([DUT, OTHER, GW_LL, REMOTE, IPv6Address("2001:db8:1::").packed])
            src = rng.choice([GW_LL, TESTER, TESTER_LL, bytes(16)])
            dst = rng.choice([DUT, DUT_LL, solicited_node(DUT), IPv6Address("ff02::1").packed])
            eth_dst = DUT_MAC if dst[0] != 0xFF else b"\x33\x33" + dst[12:]
            verdict = bench.inject(icmp_packet(src, dst, UnknownICMPv6(icmp_type, 0, bytes(body)), hop_limit=255), eth_dst=eth_dst)
            assert verdict is None or isinstance(verdict, Drop)
            bench.clock.advance(rng.randrange(0, 3000))


def test_redirect_from_the_default_router_learnt_from_an_advert_is_followed() -> None:
    from stack_under_test.wire.ndp import RouterAdvert

    bench = NDPBench()
    ra = RouterAdvert(router_lifetime_s=600, options=source_link_option(GW_MAC))
    all_nodes = IPv6Address("ff02::1").packed
    assert bench.inject(icmp_packet(GW_LL, all_nodes, ra, hop_limit=255), eth_dst=bytes.fromhex("333300000001"), eth_src=GW_MAC) is None
    assert send_to_remote(bench) == GW_MAC
    assert bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC, src=TESTER_LL)) is Drop.NDP_REDIRECT_NOT_FROM_FIRST_HOP
    assert bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC), eth_src=GW_MAC) is None
    assert send_to_remote(bench) == NEW_MAC


def test_delayed_anycast_adverts_are_bounded() -> None:
    from stack_under_test import params

    bench = NDPBench(forwarding=True)
    verdicts = [bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) for _ in range(params.ANYCAST_DELAYED_ADVERTS_MAX + 5)]
    assert verdicts.count(Drop.NDP_ANYCAST_ADVERTS_QUEUED) == 5
    bench.clock.advance(1000)
    assert len(bench.sent()) == params.ANYCAST_DELAYED_ADVERTS_MAX
    assert bench.inject(ns_for_anycast(ANYCAST_SN), eth_dst=ANYCAST_SN_MAC) is None


def test_solicitation_with_a_new_source_link_address_updates_the_entry_to_stale() -> None:
    bench = NDPBench()
    table = bench.stack.nic("eth0").neighbors[6]
    table.learn(OTHER, OTHER_MAC, solicited=True)
    assert table.get(OTHER).state is NeighborState.REACHABLE  # type: ignore[union-attr]
    new_mac = bytes.fromhex("0200000000aa")
    packet = icmp_packet(OTHER, DUT, NeighborSolicit(IPv6Address(DUT), source_link_option(new_mac)), hop_limit=255)
    assert bench.inject(packet, eth_src=new_mac) is None
    (advert,) = bench.sent()
    assert advert.eth_dst == new_mac  # §7.2.3: recorded, STALE; the answer itself made it DELAY
    assert table.get(OTHER).state is NeighborState.DELAY  # type: ignore[union-attr]


def test_redirect_target_turning_host_undoes_the_redirect() -> None:
    bench = host_with_gateway()
    bench.inject(redirect(NEW_LL, REMOTE, NEW_MAC), eth_src=GW_MAC)
    assert send_to_remote(bench) == NEW_MAC
    all_nodes = IPv6Address("ff02::1").packed
    advert = icmp_packet(NEW_LL, all_nodes, na(NEW_LL, NEW_MAC, solicited=False, router=False), hop_limit=255)
    assert bench.inject(advert, eth_dst=bytes.fromhex("333300000001"), eth_src=NEW_MAC) is None
    assert send_to_remote(bench) == GW_MAC  # §7.2.5: Destination Cache entries through it are gone

"""Router discovery (RFC 4861 6.3, RFC 4191): solicitations on enable and advertisement processing."""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from stack_under_test import Drop
from stack_under_test.stack.route import RouteEntry
from stack_under_test.tests._addrconf_bench import (
    ALL_ROUTERS,
    ROUTER2_LL,
    ROUTER2_MAC,
    ROUTER_LL,
    UNSPECIFIED,
    Host,
    addr,
    pio,
    quiet_host,
    rio,
)
from stack_under_test.tests._ipv6_bench import DUT_LL, TESTER_MAC
from stack_under_test.wire.ndp import PREF_HIGH, PREF_LOW, RouterSolicit, mtu_option, source_link_option
from stack_under_test.wire.numbers import NDPOptionType

REMOTE = addr("2001:db8:99::5")


def solicitations(h: Host) -> list:  # type: ignore[type-arg]
    return h.messages(RouterSolicit)


def send_udp(h: Host, dst: bytes) -> list:  # type: ignore[type-arg]
    sock = h.stack.udp_bind("::", 0)
    try:
        sock.sendto(b"x", str(IPv6Address(dst)), 9)
    except Exception:
        return []
    return [s for s in h.sent() if s.ip.next_header == 17]


# ---- Router Solicitations (6.3.7) ----------------------------------------------------------------


def test_solicitations_after_a_random_delay_then_interval_apart() -> None:
    h = Host(accept_dad=False, rtr_solicit_delay_ms=1000, rtr_solicit_interval_ms=4000)
    t = 0
    while not (first := solicitations(h)):
        h.clock.advance(1)
        t += 1
        assert t <= 1000
    (rs,) = first
    assert rs.ip.dst.packed == ALL_ROUTERS and rs.ip.hop_limit == 255
    assert rs.ip.src.packed == DUT_LL  # a usable link-local: with its link-layer address
    assert rs.message.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS) == bytes.fromhex("020000000001")
    h.clock.advance(3999)
    assert solicitations(h) == []
    h.clock.advance(1)
    assert len(solicitations(h)) == 1
    h.clock.advance(4000)
    assert len(solicitations(h)) == 1
    h.clock.advance(60_000)
    assert solicitations(h) == []  # MAX_RTR_SOLICITATIONS = 3
    assert h.events["ndp_router_solicit_sent"] == 3


def test_a_solicitation_before_the_link_local_is_usable_comes_from_the_unspecified_address() -> None:
    h = Host(rtr_solicit_delay_ms=0)  # DAD on: the link-local is still tentative
    h.clock.advance(0)
    (rs,) = solicitations(h)
    assert rs.ip.src.packed == UNSPECIFIED
    assert rs.message.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS) is None


def test_an_advert_with_a_router_lifetime_stops_the_solicitations() -> None:
    h = Host(accept_dad=False, rtr_solicit_delay_ms=0)
    h.clock.advance(0)
    assert len(solicitations(h)) == 1
    assert h.ra(router_lifetime_s=0) is None  # zero lifetime: keep soliciting
    h.clock.advance(4000)
    assert len(solicitations(h)) == 1
    assert h.ra() is None
    h.clock.advance(60_000)
    assert solicitations(h) == []


def test_no_solicitations_from_a_router_or_when_switched_off() -> None:
    for options in ({"router_solicitations": 0}, {"accept_ra": False}):
        h = Host(accept_dad=False, **options)
        h.clock.advance(60_000)
        assert solicitations(h) == []
    h = Host(accept_dad=False, enable=False)
    h.stack.set_forwarding(6, True)
    h.stack.enable_nic("eth0")
    h.clock.advance(60_000)
    assert solicitations(h) == []


def test_a_restart_solicits_again() -> None:
    h = Host(accept_dad=False, rtr_solicit_delay_ms=0, router_solicitations=1)
    h.clock.advance(10_000)
    assert len(solicitations(h)) == 1
    h.stack.restart_nic("eth0")
    h.clock.advance(10_000)
    assert len(solicitations(h)) == 1


def test_a_host_discards_solicitations_and_a_router_takes_their_link_address() -> None:
    h = quiet_host()
    rs = RouterSolicit(source_link_option(TESTER_MAC))
    other = addr("fe80::77")
    assert h.inject(other, DUT_LL, rs) is Drop.NDP_ROUTER_SOLICIT_ON_HOST
    assert h.inject(other, ALL_ROUTERS, rs) is Drop.IPV6_NOT_FOR_US  # a host has not joined ff02::2
    h.stack.set_forwarding(6, True)
    assert h.nic.in_group(ALL_ROUTERS)
    assert h.inject(other, ALL_ROUTERS, rs) is None
    assert h.ep.neighbors.get(other).mac == TESTER_MAC
    assert h.inject(UNSPECIFIED, ALL_ROUTERS, RouterSolicit()) is None


# ---- Router Advertisements (6.3.4) ----------------------------------------------------------------


def test_an_advert_must_come_from_a_link_local_address() -> None:
    h = quiet_host()
    assert h.ra(src=addr("2001:db8:1::2")) is Drop.NDP_RA_SOURCE_NOT_LINK_LOCAL
    assert h.ep.router_discovery.routers == {}
    assert h.ra() is None
    assert ROUTER_LL in h.ep.router_discovery.routers


def test_adverts_are_ignored_when_forwarding_or_accept_ra_is_off() -> None:
    h = quiet_host(accept_ra=False)
    assert h.ra(cur_hop_limit=7) is Drop.NDP_RA_NOT_ACCEPTED
    h = quiet_host()
    h.stack.set_forwarding(6, True)
    assert h.ra(cur_hop_limit=7) is Drop.NDP_RA_ON_ROUTER
    assert h.nic.ipv6_config.hop_limit == 64 and h.ep.router_discovery.routers == {}


def test_the_default_router_carries_traffic_to_off_link_destinations() -> None:
    h = quiet_host()
    assert send_udp(h, REMOTE) == []  # no route yet
    assert h.ra(router_lifetime_s=30) is None
    (udp,) = send_udp(h, REMOTE)
    assert udp.eth_dst == TESTER_MAC and udp.ip.dst.packed == REMOTE
    assert h.ep.neighbors.get(ROUTER_LL).is_router
    h.clock.advance(30_000)  # the Router Lifetime runs out (6.3.5)
    assert h.ep.router_discovery.routers == {}
    assert send_udp(h, REMOTE) == []


def test_a_zero_router_lifetime_removes_the_router_at_once() -> None:
    h = quiet_host()
    h.ra()
    assert h.ra(router_lifetime_s=0) is None
    assert h.ep.router_discovery.routers == {}


def test_cur_hop_limit_reachable_time_and_retrans_timer_are_taken() -> None:
    h = quiet_host()
    h.ra(cur_hop_limit=33, reachable_time_ms=12_000, retrans_timer_ms=2_500)
    cfg = h.nic.ipv6_config
    assert (cfg.hop_limit, cfg.base_reachable_time_ms, cfg.retrans_time_ms) == (33, 12_000, 2_500)
    h.ra(cur_hop_limit=0, reachable_time_ms=0, retrans_timer_ms=0)  # zero: unspecified, unchanged
    assert (cfg.hop_limit, cfg.base_reachable_time_ms, cfg.retrans_time_ms) == (33, 12_000, 2_500)
    (udp,) = send_udp(h, REMOTE)
    assert udp.ip.hop_limit == 33


def test_the_mtu_option_is_taken_only_between_1280_and_the_link_mtu() -> None:
    h = quiet_host()
    for bad in (1279, 1501):
        h.ra(mtu_option(bad))
        assert h.ep.link_mtu == 1500
    h.ra(mtu_option(1400))
    assert h.ep.link_mtu == 1400 and h.ep.path_mtu(REMOTE) == 1400
    assert h.nic.mtu == 1500  # IPv4 keeps the NIC's MTU


def test_a_source_link_layer_option_updates_the_neighbor_cache() -> None:
    h = quiet_host()
    h.ra(src=ROUTER2_LL, eth_src=ROUTER2_MAC)
    entry = h.ep.neighbors.get(ROUTER2_LL)
    assert entry.mac == ROUTER2_MAC and entry.is_router and entry.state.value == "stale"


def test_on_link_prefixes_come_and_go_with_their_valid_lifetime() -> None:
    h = quiet_host()
    h.ra(pio("2001:db8:2::", autonomous=False, valid=100, preferred=50))
    route = h.stack.routes.lookup(addr("2001:db8:2::9"), "eth0")
    assert route == RouteEntry(IPv6Network("2001:db8:2::/64"), "eth0")
    h.clock.advance(100_000)
    assert h.stack.routes.lookup(addr("2001:db8:2::9"), "eth0") is None
    h.ra(pio("2001:db8:2::", autonomous=False, valid=100, preferred=50))
    h.ra(pio("2001:db8:2::", autonomous=False, valid=0, preferred=0))
    assert h.stack.routes.lookup(addr("2001:db8:2::9"), "eth0") is None


def test_a_prefix_of_a_manual_address_keeps_its_route_when_the_advert_withdraws_it() -> None:
    h = quiet_host()
    h.stack.add_address("eth0", "2001:db8:1::1/64")
    h.ra(pio(autonomous=False))
    h.ra(pio(autonomous=False, valid=0, preferred=0))
    assert h.stack.routes.lookup(addr("2001:db8:1::2"), "eth0") is not None


def test_the_link_local_prefix_is_never_learnt() -> None:
    h = quiet_host()
    h.ra(pio("fe80::", autonomous=False))
    assert h.ep.router_discovery.prefixes == {}


def test_route_information_up_to_the_configured_prefix_length() -> None:
    h = quiet_host()
    h.ra(rio("2001:db8:5::", 48), router_lifetime_s=0)
    assert h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0") is None  # max_plen 0
    h.stack.set_ipv6_option("eth0", "accept_ra_rt_info_max_plen", 64)
    h.ra(rio("2001:db8:5::", 48, lifetime=60), router_lifetime_s=0)
    route = h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0")
    assert route is not None and route.gateway == ROUTER_LL
    (udp,) = send_udp(h, addr("2001:db8:5::1"))
    assert udp.eth_dst == TESTER_MAC
    h.clock.advance(60_000)
    assert h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0") is None
    h.ra(rio("2001:db8:5::", 48, lifetime=60), router_lifetime_s=0)
    h.ra(rio("2001:db8:5::", 48, lifetime=0), router_lifetime_s=0)
    assert h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0") is None


def test_the_default_router_list_is_bounded() -> None:
    h = quiet_host()
    for i in range(20):
        h.ra(src=addr(f"fe80::{i + 100:x}"), eth_src=bytes([2, 0, 0, 0, 1, i]))
    assert len(h.ep.router_discovery.routers) == 16
    assert h.events["ndp_default_router_list_full"] == 4


def test_a_more_preferred_reachable_router_wins() -> None:
    h = quiet_host()
    h.ra(preference=PREF_LOW)
    h.ra(src=ROUTER2_LL, eth_src=ROUTER2_MAC, preference=PREF_HIGH)
    (udp,) = send_udp(h, REMOTE)
    assert udp.eth_dst == ROUTER2_MAC


def test_reachable_routers_come_before_unknown_ones_and_unknown_ones_take_turns() -> None:
    h = quiet_host()
    h.ra(slla=False)  # no entry: reachability unknown
    h.ra(src=ROUTER2_LL, slla=False)
    rd = h.ep.router_discovery
    picks = {rd.default_router() for _ in range(4)}
    assert picks == {ROUTER_LL, ROUTER2_LL}  # round-robin (6.3.6)
    h.stack.add_static_neighbor("eth0", str(IPv6Address(ROUTER2_LL)), ROUTER2_MAC)
    assert {rd.default_router() for _ in range(4)} == {ROUTER2_LL}


def test_an_advert_with_a_bad_option_changes_nothing() -> None:
    from stack_under_test.wire.ndp import NDPOption

    h = quiet_host()
    bad_mtu = NDPOption(5, bytes(14))  # an MTU option of Length 2
    assert h.ra(bad_mtu, cur_hop_limit=9) is Drop.NDP_BAD_MTU_OPTION
    assert h.nic.ipv6_config.hop_limit == 64 and h.ep.router_discovery.routers == {}


def test_going_down_forgets_routers_prefixes_and_routes() -> None:
    h = quiet_host(accept_ra_rt_info_max_plen=64)
    h.ra(pio("2001:db8:2::", autonomous=False), rio("2001:db8:5::", 48))
    h.stack.disable_nic("eth0")
    rd = h.ep.router_discovery
    assert (rd.routers, rd.prefixes, rd.routes) == ({}, {}, {})
    assert h.stack.routes.lookup(addr("2001:db8:5::1")) is None


def test_becoming_a_router_forgets_what_adverts_taught() -> None:
    h = quiet_host()
    h.ra()
    h.stack.set_forwarding(6, True)
    assert h.ep.router_discovery.routers == {}


def test_route_preference_breaks_ties_between_routers_for_one_prefix() -> None:
    h = quiet_host(accept_ra_rt_info_max_plen=64)
    h.ra(rio("2001:db8:5::", 48, preference=PREF_LOW), router_lifetime_s=0)
    h.ra(rio("2001:db8:5::", 48, preference=PREF_HIGH), src=ROUTER2_LL, eth_src=ROUTER2_MAC, router_lifetime_s=0)
    assert h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0").gateway == ROUTER2_LL
    h.ra(rio("2001:db8:5::", 48, lifetime=0), src=ROUTER2_LL, eth_src=ROUTER2_MAC, router_lifetime_s=0)
    assert h.stack.routes.lookup(addr("2001:db8:5::1"), "eth0").gateway == ROUTER_LL


def test_a_default_route_information_option_overrides_the_header() -> None:
    h = quiet_host()
    h.ra(rio("::", 0, lifetime=0), router_lifetime_s=60)
    assert h.ep.router_discovery.routers == {}
    h.ra(rio("::", 0, lifetime=60, preference=PREF_HIGH), router_lifetime_s=0)
    assert h.ep.router_discovery.routers[ROUTER_LL].preference == PREF_HIGH


def test_an_advertised_on_link_prefix_outlives_the_last_manual_address_in_it() -> None:
    h = quiet_host()
    h.stack.add_address("eth0", "2001:db8:2::1/64")
    h.ra(pio("2001:db8:2::", autonomous=False))
    h.stack.remove_address("eth0", "2001:db8:2::1/64")
    assert h.stack.routes.lookup(addr("2001:db8:2::9"), "eth0") is not None


def test_an_advert_clearing_the_router_flag_removes_the_router() -> None:
    from stack_under_test.wire.ndp import NeighborAdvert, target_link_option

    h = quiet_host()
    h.ra(src=ROUTER2_LL, eth_src=ROUTER2_MAC)
    assert ROUTER2_LL in h.ep.router_discovery.routers
    na = NeighborAdvert(IPv6Address(ROUTER2_LL), router=False, solicited=False, override=True,
                        options=target_link_option(ROUTER2_MAC))
    assert h.inject(ROUTER2_LL, addr("ff02::1"), na, eth_src=ROUTER2_MAC) is None
    assert h.ep.router_discovery.routers == {}


def test_random_adverts_never_raise_and_stay_bounded() -> None:
    import random

    from stack_under_test.wire.ndp import NDPOption

    rng = random.Random(5)
    h = quiet_host(accept_ra_rt_info_max_plen=128, use_tempaddr=1, accept_dad=True)
    for _ in range(400):
        opts: list = []  # type: ignore[type-arg]
        for _option in range(rng.randrange(4)):
            kind = rng.randrange(4)
            if kind == 0:
                opts.append(pio(f"2001:db8:{rng.randrange(40):x}::", rng.choice([48, 64, 64, 128]),
                                on_link=rng.random() < 0.5, autonomous=rng.random() < 0.7,
                                valid=rng.choice([0, 5, 7300, INF]), preferred=rng.choice([0, 3, 7200, INF])))
            elif kind == 1:
                opts.append(rio(f"2001:db8:{rng.randrange(40):x}::", rng.choice([0, 32, 48, 64]),
                                lifetime=rng.choice([0, 10, INF]), preference=rng.choice([-1, 0, 1])))
            elif kind == 2:
                opts.append(mtu_option(rng.randrange(1000, 2000)))
            else:
                opts.append(NDPOption(rng.randrange(256), bytes(rng.randrange(256) for _ in range(6))))
        src = addr(f"fe80::{rng.randrange(1, 40):x}")
        h.ra(*opts, src=src, eth_src=bytes([2, 0, 0, 0, 9, rng.randrange(256)]),
             router_lifetime_s=rng.choice([0, 30, 9000]), cur_hop_limit=rng.randrange(256),
             reachable_time_ms=rng.choice([0, 1, 4_000_000]), retrans_timer_ms=rng.choice([0, 1, 5000]))
        h.clock.advance(rng.randrange(20_000))
        h.frames()
    rd = h.ep.router_discovery
    assert len(rd.routers) <= 16 and len(rd.prefixes) <= 16 and len(rd.routes) <= 16
    assert len(h.nic.addresses.of_family(6)) <= h.nic.ipv6_config.max_addresses


INF = 0xFFFFFFFF


def test_a_new_reachable_time_redraws_the_randomized_reachable_time() -> None:
    h = quiet_host()
    h.ra(reachable_time_ms=10_000)
    drawn = h.ep.neighbors.reachable_time_ms()
    assert 5_000 <= drawn <= 15_000  # RFC 4861 6.3.2: MIN_RANDOM_FACTOR .. MAX_RANDOM_FACTOR x base
    h.ra(reachable_time_ms=100_000)
    assert 50_000 <= h.ep.neighbors.reachable_time_ms() <= 150_000

"""Duplicate Address Detection (RFC 4862 5.4, RFC 7527) and address lifetimes (RFC 4862 5.5.4)."""

from __future__ import annotations

from ipaddress import IPv6Address

from stack_under_test import Drop, params
from stack_under_test.tests._addrconf_bench import UNSPECIFIED, Host, addr
from stack_under_test.tests._ipv6_bench import TESTER, TESTER_LL, icmp_packet, is_mld_report, parse_sent
from stack_under_test.wire.ipv6 import solicited_node
from stack_under_test.wire.ndp import NeighborAdvert, NeighborSolicit
from stack_under_test.wire.numbers import NDPOptionType

GLOBAL = "2001:db8:1::1"
LL = "fe80::ff:fe00:1"


def quiet_host(**options: object) -> Host:
    """Enabled with DAD on, its link-local DAD finished and the link drained."""
    host = Host(router_solicitations=0, **options)
    host.clock.advance(10_000)
    host.frames()
    return host


def dad_probes(host: Host) -> list[NeighborSolicit]:
    return [s.message for s in host.sent() if isinstance(s.message, NeighborSolicit)]  # type: ignore[misc]


def test_an_added_address_is_tentative_and_probed_from_the_unspecified_address() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    assert host.state(GLOBAL) == "tentative"
    frames = host.sent()
    (probe,) = [s for s in frames if isinstance(s.message, NeighborSolicit)]
    # RFC 4862 5.4.2: source ::, destination the solicited-node group, target the address.
    assert probe.ip.src.packed == UNSPECIFIED
    assert probe.ip.dst.packed == solicited_node(addr(GLOBAL))
    assert probe.ip.hop_limit == 255
    assert probe.message.target == IPv6Address(GLOBAL)
    # RFC 4861 4.3: no Source Link-Layer Address from ::; RFC 7527: a 6-octet nonce.
    assert probe.message.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS) is None
    nonce = probe.message.options.nonce()
    assert nonce is not None and len(nonce) == 6
    host.clock.advance(999)
    assert host.state(GLOBAL) == "tentative"
    host.clock.advance(1)  # RetransTimer after the last (only) probe
    assert host.state(GLOBAL) == "preferred"
    assert host.events["dad_succeeded"] >= 1


def test_the_solicited_node_group_is_joined_and_reported_before_the_first_probe() -> None:
    host = quiet_host()
    other = "2001:db8:1::abcd"  # a solicited-node group not joined yet (the link-local has ff02::1:ff00:1)
    host.stack.add_address("eth0", f"{other}/64")
    assert host.nic.in_group(solicited_node(addr(other)))
    frames = host.frames()
    group = solicited_node(addr(other))
    reports = [i for i, f in enumerate(frames) if is_mld_report(f) and group in f]
    probes = [i for i, f in enumerate(frames) if not is_mld_report(f) and isinstance(parse_sent(f).message, NeighborSolicit)]
    assert reports and probes and reports[0] < probes[0]


def test_dad_transmits_probes_retrans_timer_apart_with_fresh_nonces() -> None:
    host = quiet_host(dad_transmits=3, retrans_time_ms=2000)
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    nonces = [p.options.nonce() for p in dad_probes(host)]
    for _ in range(2):
        assert host.sent() == []
        host.clock.advance(2000)
        nonces += [p.options.nonce() for p in dad_probes(host)]
    assert len(set(nonces)) == 3
    assert host.state(GLOBAL) == "tentative"
    host.clock.advance(2000)
    assert host.state(GLOBAL) == "preferred"
    assert host.sent() == []


def test_an_advert_for_the_tentative_address_makes_it_a_duplicate() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    other = "2001:db8:1::abcd"  # its solicited-node group is not the link-local's
    host.stack.add_address("eth0", f"{other}/64")
    assert host.na(addr(GLOBAL)) is None
    assert host.state(GLOBAL) is None  # RFC 4862 5.4.5: not assigned
    assert host.na(addr(other)) is None
    assert not host.nic.in_group(solicited_node(addr(other)))
    assert host.events["dad_duplicate"] == 2
    assert "duplicate" in host.ep.addrconf.dad.failures[-1]
    host.clock.advance(5000)
    assert GLOBAL + "/64" not in host.stack.addresses("eth0")


def test_a_dad_probe_from_another_node_makes_it_a_duplicate() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    host.frames()
    assert host.dad_ns(addr(GLOBAL), nonce=b"\x01\x02\x03\x04\x05\x06") is None
    assert host.state(GLOBAL) is None
    assert host.sent() == []  # RFC 4862 5.4.3: never answered


def test_a_dad_probe_without_nonce_from_another_node_is_a_duplicate_too() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    assert host.dad_ns(addr(GLOBAL)) is None
    assert host.state(GLOBAL) is None


def test_our_own_probe_looped_back_is_not_a_duplicate() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    (probe,) = dad_probes(host)
    # RFC 7527: the NS comes back with our nonce (a looping link, or a node repeating it).
    assert host.dad_ns(addr(GLOBAL), nonce=probe.options.nonce()) is Drop.NDP_DAD_LOOPED_BACK
    assert host.state(GLOBAL) == "tentative"
    host.clock.advance(1000)
    assert host.state(GLOBAL) == "preferred"


def test_address_resolution_for_a_tentative_address_is_ignored() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    host.frames()
    from stack_under_test.wire.ndp import source_link_option

    ns = NeighborSolicit(IPv6Address(GLOBAL), source_link_option(bytes.fromhex("020000000002")))
    assert host.inject(TESTER, solicited_node(addr(GLOBAL)), ns) is Drop.NDP_TARGET_TENTATIVE
    assert host.sent() == []  # RFC 4862 5.4.3: "silently ignored", no NA
    assert host.state(GLOBAL) == "tentative"


def test_a_tentative_address_receives_nothing_and_is_no_source() -> None:
    from stack_under_test.wire.icmpv6 import EchoRequest

    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    host.frames()
    packet = icmp_packet(TESTER, addr(GLOBAL), EchoRequest(1, 1, b"x"), hop_limit=64)
    frame = bytes.fromhex("020000000001020000000002") + b"\x86\xdd" + packet
    assert host.link.inject_inbound(frame) is Drop.IPV6_TENTATIVE_DESTINATION
    assert host.ep.select_source(TESTER) != addr(GLOBAL)


def test_an_advert_for_an_assigned_address_changes_nothing() -> None:
    host = quiet_host()
    assert host.na(addr(LL)) is Drop.NDP_ADVERT_FOR_OUR_ADDRESS
    assert host.state(LL) == "preferred"


def test_the_link_local_address_is_probed_after_a_random_delay_on_enable() -> None:
    host = Host(router_solicitations=0, rtr_solicit_delay_ms=1000)
    assert host.state(LL) == "tentative"
    waited = 0
    while not dad_probes(host):
        host.clock.advance(10)
        waited += 10
        assert waited <= 1000  # RFC 4862 5.4.2: up to MAX_RTR_SOLICITATION_DELAY
    host.clock.advance(1000)
    assert host.state(LL) == "preferred"


def test_the_delay_is_drawn_from_the_stack_rng() -> None:
    delays = set()
    for seed in range(6):
        host = Host(seed=seed, router_solicitations=0)
        t = 0
        while not dad_probes(host):
            host.clock.advance(1)
            t += 1
        delays.add(t)
    assert len(delays) > 1


def test_no_dad_when_switched_off_for_the_interface_or_the_address() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64", dad=False)  # Linux nodad
    assert host.state(GLOBAL) == "preferred"
    assert dad_probes(host) == []
    host.stack.set_ipv6_option("eth0", "accept_dad", False)
    host.stack.add_address("eth0", "2001:db8:1::9/64")
    assert host.state("2001:db8:1::9") == "preferred"
    host.stack.set_ipv6_option("eth0", "accept_dad", True)
    host.stack.set_ipv6_option("eth0", "dad_transmits", 0)
    host.stack.add_address("eth0", "2001:db8:1::a/64")
    assert host.state("2001:db8:1::a") == "preferred"
    assert dad_probes(host) == []


def test_a_restart_probes_the_kept_addresses_again() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    host.clock.advance(1000)
    assert host.state(GLOBAL) == "preferred"
    host.stack.restart_nic("eth0")
    assert host.state(GLOBAL) == "tentative"
    host.clock.advance(3000)
    assert host.state(GLOBAL) == "preferred"
    assert host.state(LL) == "preferred"


def test_an_address_added_while_down_is_probed_when_the_interface_comes_up() -> None:
    host = Host(enable=False, router_solicitations=0)
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    assert host.state(GLOBAL) == "tentative"
    host.stack.enable_nic("eth0")
    host.clock.advance(3000)
    assert host.state(GLOBAL) == "preferred"


def test_a_duplicate_stable_link_local_is_replaced_by_a_new_identifier() -> None:
    host = Host(router_solicitations=0, addr_gen_mode=2, stable_secret=bytes(range(16)))
    (first,) = [e for e in host.nic.addresses.of_family(6)]
    assert first.packed[:8] == bytes.fromhex("fe80000000000000")
    assert first.packed != addr(LL)  # not EUI-64
    assert host.na(first.packed) is None
    assert not list(host.nic.addresses.of_family(6))  # RFC 7217 6: a random delay first
    host.clock.advance(params.IDGEN_DELAY_MS)
    (second,) = [e for e in host.nic.addresses.of_family(6)]
    assert second.packed != first.packed and second.state.value == "tentative"
    assert host.ep.link_local == second.packed


def test_a_duplicate_eui64_link_local_turns_ipv6_off_with_the_default_accept_dad() -> None:
    # RFC 4862 5.4.5 SHOULD: our accept_dad=1 does what Linux does with 2.
    host = Host(router_solicitations=0)
    assert host.na(addr(LL)) is None
    assert host.state(LL) is None
    assert host.ep.ipv6_disabled


def test_an_na_from_a_tentative_source_is_not_answered() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    host.frames()
    advert = NeighborAdvert(IPv6Address("2001:db8:1::2"), solicited=False, override=True)
    host.inject(TESTER_LL, addr("ff02::1"), advert)
    assert host.state(GLOBAL) == "tentative"


# ---- lifetimes of addresses added by hand (RFC 4862 5.5.4) ---------------------------------------


def test_a_manual_address_is_deprecated_then_removed_by_its_lifetimes() -> None:
    host = quiet_host(accept_dad=False)
    host.stack.add_address("eth0", f"{GLOBAL}/64", valid_lifetime_s=20, preferred_lifetime_s=10)
    assert host.state(GLOBAL) == "preferred"
    host.clock.advance(9_999)
    assert host.state(GLOBAL) == "preferred"
    host.clock.advance(1)
    assert host.state(GLOBAL) == "deprecated"
    assert host.ep.is_local(addr(GLOBAL))  # still receives (5.5.4)
    host.clock.advance(10_000)
    assert host.state(GLOBAL) is None
    assert host.stack.routes.lookup(addr("2001:db8:1::2"), "eth0") is None  # its on-link route went too


def test_a_zero_preferred_lifetime_makes_the_address_deprecated_at_once() -> None:
    host = quiet_host(accept_dad=False)
    host.stack.add_address("eth0", f"{GLOBAL}/64", valid_lifetime_s=20, preferred_lifetime_s=0)
    assert host.state(GLOBAL) == "deprecated"


def test_an_address_whose_preferred_lifetime_ends_during_dad_ends_dad_deprecated() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64", valid_lifetime_s=20, preferred_lifetime_s=0)
    assert host.state(GLOBAL) == "tentative"
    host.clock.advance(1000)
    assert host.state(GLOBAL) == "deprecated"
    host.clock.advance(19_000)
    assert host.state(GLOBAL) is None


def test_dad_probes_do_not_count_a_tester_unicast_source_as_a_duplicate() -> None:
    host = quiet_host()
    host.stack.add_address("eth0", f"{GLOBAL}/64")
    ns = NeighborSolicit(IPv6Address(GLOBAL))
    assert host.inject(TESTER, solicited_node(addr(GLOBAL)), ns) is Drop.NDP_TARGET_TENTATIVE
    host.clock.advance(1000)
    assert host.state(GLOBAL) == "preferred"


def test_with_accept_dad_2_a_duplicate_eui64_link_local_turns_ipv6_off_until_restart() -> None:  # as Linux
    from stack_under_test.wire.icmpv6 import EchoRequest

    host = Host(router_solicitations=0, accept_dad=2)
    host.stack.add_address("eth0", f"{GLOBAL}/64", dad=False)
    assert host.na(addr(LL)) is None
    assert host.ep.ipv6_disabled and host.events["ipv6_disabled_by_dad"] == 1
    packet = icmp_packet(TESTER, addr(GLOBAL), EchoRequest(1, 1, b"x"), hop_limit=64)
    frame = bytes.fromhex("020000000001020000000002") + b"\x86\xdd" + packet
    assert host.link.inject_inbound(frame) is Drop.IPV6_DISABLED_BY_DAD
    host.frames()
    host.clock.advance(10_000)
    assert host.sent() == []
    host.stack.restart_nic("eth0")
    host.clock.advance(3_000)
    assert host.state(LL) == "preferred" and not host.ep.ipv6_disabled
    assert host.link.inject_inbound(frame) is None


def test_a_duplicate_stable_link_local_never_turns_ipv6_off() -> None:
    host = Host(router_solicitations=0, accept_dad=2, addr_gen_mode=2)
    (ll,) = host.nic.addresses.of_family(6)
    assert host.na(ll.packed) is None
    assert not host.ep.ipv6_disabled

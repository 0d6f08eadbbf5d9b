"""Stateless address autoconfiguration (RFC 4862 5.3, 5.5), RFC 7217 identifiers, RFC 8981."""

from __future__ import annotations

from ipaddress import IPv6Address, IPv6Network

from stack_under_test import params
from stack_under_test.network.ipv6.addrconf.stable_iid import is_reserved_iid, stable_iid
from stack_under_test.tests._addrconf_bench import EUI64_IID, INFINITE, Host, addr, pio, quiet_host
from stack_under_test.wire.ndp import NeighborSolicit

SLAAC = "2001:db8:1::ff:fe00:1"  # 2001:db8:1::/64 + the EUI-64 identifier of 02:00:00:00:00:01
HOUR = 3600


def remaining_valid_s(h: Host, text: str) -> float | None:
    entry = h.nic.addresses.get(addr(text))
    assert entry is not None
    return None if entry.valid_until_ms is None else (entry.valid_until_ms - h.clock.now_ms) / 1000


def test_an_autonomous_prefix_forms_an_eui64_address_with_its_lifetimes() -> None:
    h = quiet_host()
    h.ra(pio(valid=7200 + 100, preferred=3600))
    entry = h.nic.addresses.get(addr(SLAAC))
    assert entry is not None and entry.packed[8:] == EUI64_IID
    assert entry.interface.network == IPv6Network("2001:db8:1::/64")
    assert entry.state.value == "preferred" and not entry.static and not entry.temporary
    assert remaining_valid_s(h, SLAAC) == 7300
    # RFC 5942: the address does not make its prefix on-link; the L flag does.
    h2 = quiet_host()
    h2.ra(pio(on_link=False))
    assert h2.state(SLAAC) == "preferred"
    assert h2.stack.routes.lookup(addr("2001:db8:1::2"), "eth0") is None


def test_the_new_address_runs_dad_delayed_for_a_multicast_advert() -> None:
    h = quiet_host(accept_dad=True)
    h.ra(pio())
    assert h.state(SLAAC) == "tentative"
    t = 0
    while not h.messages(NeighborSolicit):
        h.clock.advance(1)
        t += 1
        assert t <= 1000
    h.clock.advance(1000)
    assert h.state(SLAAC) == "preferred"


def test_prefixes_that_must_be_ignored() -> None:
    cases = [
        pio(autonomous=False),  # 5.5.3 a
        pio("fe80::"),  # 5.5.3 b
        pio(valid=100, preferred=200),  # 5.5.3 c
        pio(length=48),  # 5.5.3 d: 48 + 64 != 128
        pio(valid=0, preferred=0),  # 5.5.3 d: a zero valid lifetime forms nothing
    ]
    for option in cases:
        h = quiet_host()
        h.ra(option)
        assert [e for e in h.nic.addresses.of_family(6) if not e.static and e.packed[:2] != b"\xfe\x80"] == []
    h = quiet_host(autoconf=False)
    h.ra(pio())
    assert h.state(SLAAC) is None


def test_the_preferred_lifetime_deprecates_and_the_valid_lifetime_removes() -> None:
    h = quiet_host()
    h.ra(pio(valid=20, preferred=10))
    h.clock.advance(10_000)
    assert h.state(SLAAC) == "deprecated"
    assert h.ep.is_local(addr(SLAAC))  # RFC 4862 5.5.4: a deprecated address still receives
    h.clock.advance(10_000)
    assert h.state(SLAAC) is None
    assert not h.ep.is_local(addr(SLAAC))


def test_a_refreshed_preferred_lifetime_makes_a_deprecated_address_preferred_again() -> None:
    h = quiet_host()
    h.ra(pio(valid=3 * HOUR, preferred=10))
    h.clock.advance(10_000)
    assert h.state(SLAAC) == "deprecated"
    h.ra(pio(valid=3 * HOUR, preferred=100))
    assert h.state(SLAAC) == "preferred"


def test_two_hour_rule_1_a_long_or_longer_lifetime_is_taken() -> None:
    h = quiet_host()
    h.ra(pio(valid=10 * HOUR, preferred=HOUR))
    h.ra(pio(valid=3 * HOUR, preferred=HOUR))  # > 2 hours: taken even though shorter
    assert remaining_valid_s(h, SLAAC) == 3 * HOUR
    h2 = quiet_host()
    h2.ra(pio(valid=600, preferred=60))
    h2.ra(pio(valid=1200, preferred=60))  # greater than RemainingLifetime: taken
    assert remaining_valid_s(h2, SLAAC) == 1200


def test_two_hour_rule_2_a_remaining_lifetime_of_two_hours_or_less_is_kept() -> None:
    h = quiet_host()
    h.ra(pio(valid=HOUR, preferred=60))
    h.ra(pio(valid=60, preferred=30))
    assert remaining_valid_s(h, SLAAC) == HOUR
    assert h.events["slaac_two_hour_rule"] == 1
    h.ra(pio(valid=0, preferred=0))  # not even a zero lifetime removes it
    assert h.state(SLAAC) == "deprecated"


def test_two_hour_rule_3_otherwise_two_hours() -> None:
    h = quiet_host()
    h.ra(pio(valid=10 * HOUR, preferred=HOUR))
    h.ra(pio(valid=60, preferred=30))
    assert remaining_valid_s(h, SLAAC) == 2 * HOUR
    h2 = quiet_host()
    h2.ra(pio(valid=INFINITE, preferred=INFINITE))
    assert remaining_valid_s(h2, SLAAC) is None
    h2.ra(pio(valid=0, preferred=0))
    assert remaining_valid_s(h2, SLAAC) == 2 * HOUR


def test_the_preferred_lifetime_never_outlasts_the_valid_one() -> None:
    h = quiet_host()
    h.ra(pio(valid=10 * HOUR, preferred=10 * HOUR))
    h.ra(pio(valid=60, preferred=60))  # valid becomes 2 h (rule 3), preferred 60 s
    entry = h.nic.addresses.get(addr(SLAAC))
    assert entry.preferred_until_ms <= entry.valid_until_ms


def test_addresses_are_bounded_by_max_addresses() -> None:
    h = quiet_host(max_addresses=4)  # the link-local counts, as on Linux
    for i in range(6):
        h.ra(pio(f"2001:db8:{i + 10:x}::"))
    assert len(h.nic.addresses.of_family(6)) == 4
    assert h.events["slaac_address_limit"] == 3


def test_stable_identifiers_are_stable_per_prefix_and_secret() -> None:
    secret = bytes(range(16))
    ids = []
    for _ in range(2):
        h = quiet_host(addr_gen_mode=2, stable_secret=secret)
        h.ra(pio())
        (auto,) = [e for e in h.nic.addresses.of_family(6) if e.packed[:2] == b"\x20\x01"]
        ids.append(auto.packed)
    assert ids[0] == ids[1]
    assert ids[0][8:] != EUI64_IID
    expected = stable_iid(IPv6Network("2001:db8:1::/64"), b"eth0", 0, secret)
    assert ids[0][8:] == expected and not is_reserved_iid(expected)
    h = quiet_host(addr_gen_mode=2, stable_secret=bytes(16))
    h.ra(pio())
    (auto,) = [e for e in h.nic.addresses.of_family(6) if e.packed[:2] == b"\x20\x01"]
    assert auto.packed != ids[0]  # another secret, another identifier
    assert stable_iid(IPv6Network("2001:db8:2::/64"), b"eth0", 0, secret) != expected
    assert stable_iid(IPv6Network("2001:db8:1::/64"), b"eth0", 1, secret) != expected


def test_a_duplicate_stable_address_is_retried_with_the_next_dad_counter() -> None:
    h = quiet_host(addr_gen_mode=2, stable_secret=bytes(range(16)), accept_dad=True)
    h.ra(pio(), dst=h.ep.link_local)  # unicast RA: DAD starts at once
    (first,) = [e for e in h.nic.addresses.of_family(6) if e.packed[:2] == b"\x20\x01"]
    assert h.na(first.packed) is None
    h.clock.advance(params.IDGEN_DELAY_MS)  # RFC 7217 6: a random delay of at most IDGEN_DELAY first
    (second,) = [e for e in h.nic.addresses.of_family(6) if e.packed[:2] == b"\x20\x01"]
    assert second.packed != first.packed
    assert second.packed[8:] == stable_iid(IPv6Network("2001:db8:1::/64"), b"eth0", 1, bytes(range(16)))


def test_reserved_interface_identifiers() -> None:
    assert is_reserved_iid(bytes(8))
    assert is_reserved_iid(bytes.fromhex("02005efffe000001"))
    assert is_reserved_iid(bytes.fromhex("fdffffffffffff80"))
    assert not is_reserved_iid(bytes.fromhex("0200000000000001"))


def test_a_stable_link_local_address_on_enable() -> None:
    h = quiet_host(addr_gen_mode=2, stable_secret=bytes(range(16)))
    (ll,) = h.nic.addresses.of_family(6)
    assert ll.packed[:8] == bytes.fromhex("fe80000000000000")
    assert ll.packed[8:] == stable_iid(IPv6Network("fe80::/64"), b"eth0", 0, bytes(range(16)))


def test_a_random_secret_is_drawn_once_from_the_stack_rng() -> None:
    h = quiet_host(addr_gen_mode=2)
    h.ra(pio())
    h.ra(pio("2001:db8:2::"))
    autos = [e.packed for e in h.nic.addresses.of_family(6) if e.packed[:2] == b"\x20\x01"]
    assert len(autos) == 2 and autos[0][8:] != autos[1][8:]
    ll_before = h.ep.link_local
    h.stack.restart_nic("eth0")
    assert h.ep.link_local == ll_before  # the same secret after a restart


# ---- temporary addresses (RFC 8981) ----------------------------------------------------------------


def temporaries(h: Host) -> list:  # type: ignore[type-arg]
    return [e for e in h.nic.addresses.of_family(6) if e.temporary]


def test_no_temporary_addresses_by_default() -> None:
    h = quiet_host()
    h.ra(pio())
    assert temporaries(h) == []


def test_a_temporary_address_next_to_the_public_one() -> None:
    h = quiet_host(use_tempaddr=1)
    h.ra(pio(valid=INFINITE, preferred=INFINITE))
    (temp,) = temporaries(h)
    assert temp.packed[:8] == addr(SLAAC)[:8] and temp.packed != addr(SLAAC)
    assert h.state(SLAAC) == "preferred"
    now = h.clock.now_ms
    assert temp.valid_until_ms - now == params.TEMP_VALID_LIFETIME_MS
    lifetime = temp.preferred_until_ms - now
    assert params.TEMP_PREFERRED_LIFETIME_MS - params.MAX_DESYNC_FACTOR_MS <= lifetime <= params.TEMP_PREFERRED_LIFETIME_MS
    h.ra(pio(valid=INFINITE, preferred=INFINITE))
    assert len(temporaries(h)) == 1  # refreshed, not multiplied


def test_a_temporary_address_never_outlives_the_public_one_and_is_regenerated() -> None:
    h = quiet_host(use_tempaddr=1)
    h.ra(pio(valid=5 * HOUR, preferred=3 * HOUR))
    (temp,) = temporaries(h)
    assert temp.preferred_until_ms - h.clock.now_ms == 3 * HOUR * 1000
    h = quiet_host(use_tempaddr=1)
    h.ra(pio(valid=INFINITE, preferred=INFINITE))
    (first,) = temporaries(h)
    h.clock.advance(first.preferred_until_ms - h.clock.now_ms)
    assert len(temporaries(h)) == 2  # a new one REGEN_ADVANCE before the first is deprecated
    assert h.state(str(IPv6Address(first.packed))) == "deprecated"


def test_an_address_that_failed_dad_is_not_formed_again_by_the_next_advert() -> None:
    h = quiet_host(accept_dad=True)
    h.ra(pio(), dst=h.ep.link_local)
    assert h.na(addr(SLAAC)) is None
    assert h.state(SLAAC) is None
    h.frames()
    h.ra(pio(), dst=h.ep.link_local)
    assert h.state(SLAAC) is None and h.messages(NeighborSolicit) == []
    h.stack.restart_nic("eth0")
    h.clock.advance(5000)
    h.ra(pio(), dst=h.ep.link_local)
    assert h.state(SLAAC) == "tentative"


def test_addr_gen_mode_1_forms_no_link_local_but_slaac_still_works() -> None:
    h = quiet_host(addr_gen_mode=1)
    assert h.nic.addresses.of_family(6) == [] and h.ep.link_local is None
    h.ra(pio())
    assert h.state(SLAAC) == "preferred"

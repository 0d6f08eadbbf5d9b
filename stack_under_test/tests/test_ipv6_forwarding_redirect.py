"""ND Redirect from a forwarding node (RFC 4861 §8.2, §4.5), under Linux's conditions."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from stack_under_test.tests._ipv6_bench import (
    DUT_LL,
    OTHER,
    OTHER_MAC,
    TESTER,
    TESTER_MAC,
    Bench,
    Sent,
    udp_packet,
)
from stack_under_test.wire.ndp import Redirect

REMOTE = IPv6Address("2001:db8:2::5").packed
OTHER_LL = IPv6Address("fe80::ff:fe00:3").packed
REDIRECT = 137


def router(*, gateway: str = "2001:db8:1::3") -> Bench:
    bench = Bench()
    bench.stack.set_forwarding(6, True)
    bench.stack.add_static_neighbor("eth0", "2001:db8:1::3", OTHER_MAC)
    bench.stack.add_static_neighbor("eth0", "fe80::ff:fe00:3", OTHER_MAC)
    bench.stack.add_route("2001:db8:2::/64", "eth0", gateway=gateway)
    return bench


def redirect_fields(sent: Sent) -> tuple[bytes, bytes, dict[int, bytes]]:
    assert isinstance(sent.message, Redirect), sent.message
    body = sent.message.encode()
    target, dest = body[4:20], body[20:36]
    options: dict[int, bytes] = {}
    i = 36
    while i < len(body):
        length = body[i + 1] * 8
        options[body[i]] = body[i + 2 : i + length]
        i += length
    return target, dest, options


def test_a_packet_for_an_on_link_destination_draws_a_redirect_to_it() -> None:
    bench = router()
    original = udp_packet(TESTER, OTHER, 1, 2, b"hello")
    assert bench.inject(original) is None
    redirect, forwarded = bench.sent()
    assert (redirect.eth_dst, redirect.ip.src.packed, redirect.ip.dst.packed) == (TESTER_MAC, DUT_LL, TESTER)
    assert redirect.ip.hop_limit == 255
    target, dest, options = redirect_fields(redirect)
    assert (target, dest) == (OTHER, OTHER)  # §4.5: the destination is a neighbor: target = destination
    assert options[2] == OTHER_MAC  # Target Link-Layer Address
    assert options[4][6 : 6 + len(original)] == original  # Redirected Header: the packet as received
    assert forwarded.eth_dst == OTHER_MAC


def test_a_link_local_gateway_is_named_as_the_better_first_hop() -> None:
    bench = router(gateway="fe80::ff:fe00:3")
    assert bench.inject(udp_packet(TESTER, REMOTE, 1, 2, b"x")) is None
    redirect, forwarded = bench.sent()
    target, dest, _options = redirect_fields(redirect)
    assert (target, dest) == (OTHER_LL, REMOTE)
    assert forwarded.eth_dst == OTHER_MAC


def test_no_redirect_when_the_gateway_has_only_a_global_address_like_linux() -> None:
    bench = router()
    assert bench.inject(udp_packet(TESTER, REMOTE, 1, 2, b"x")) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def test_no_redirect_when_redirects_are_switched_off() -> None:
    bench = router()
    bench.stack.send_redirects = False
    assert bench.inject(udp_packet(TESTER, OTHER, 1, 2, b"x")) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def test_no_redirect_to_a_source_that_is_not_a_neighbor() -> None:
    bench = router()
    far = IPv6Address("2001:db8:2::9").packed  # reached via the gateway, not on the link
    assert bench.inject(udp_packet(far, OTHER, 1, 2, b"x")) is None
    assert bench.only_sent().eth_dst == OTHER_MAC


def test_redirects_are_rate_limited_per_destination() -> None:
    bench = router()
    for i in range(10):
        bench.inject(udp_packet(TESTER, OTHER, 1, 2, bytes([i])))
    sent = bench.sent()
    assert sum(isinstance(s.message, Redirect) for s in sent) == 6
    assert sum(s.eth_dst == OTHER_MAC for s in sent) == 10
    bench.clock.advance(1000)
    bench.inject(udp_packet(TESTER, OTHER, 1, 2, b"again"))
    assert len(bench.sent()) == 2


def test_the_redirect_never_exceeds_1280_octets() -> None:
    bench = router()
    assert bench.inject(udp_packet(TESTER, OTHER, 1, 2, bytes(1400))) is None
    redirect, _forwarded = bench.sent()
    assert 40 + len(redirect.payload) <= 1280
    _t, _d, options = redirect_fields(redirect)
    assert len(options[4]) % 8 == 6 and len(options[4]) > 1100
    assert struct.unpack("!H", redirect.payload[2:4])[0] != 0  # a computed checksum

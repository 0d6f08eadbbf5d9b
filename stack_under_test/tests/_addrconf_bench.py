"""A host stack with the RFC defaults (DAD on, Router Solicitations on) for the DAD, SLAAC and
router discovery tests: the white-box bench (stack_under_test.testing) with no address configured
by hand; frames in and out with the stack's own wire code."""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import Any

from stack_under_test import Drop, testing
from stack_under_test.tests._ipv6_bench import DUT_MAC, TESTER_LL, TESTER_MAC, Sent, is_mld_report, parse_sent
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ethernet import ipv6_multicast_mac
from stack_under_test.wire.ipv6 import build_packet, solicited_node
from stack_under_test.wire.ndp import (
    NDPOption,
    NDPOptions,
    NeighborAdvert,
    NeighborSolicit,
    PrefixInfo,
    RouteInfo,
    RouterAdvert,
    options_of,
    source_link_option,
)

ALL_NODES = IPv6Address("ff02::1").packed
ALL_ROUTERS = IPv6Address("ff02::2").packed
UNSPECIFIED = bytes(16)
ROUTER_LL = TESTER_LL
ROUTER2_LL = IPv6Address("fe80::ff:fe00:3").packed
ROUTER2_MAC = bytes.fromhex("020000000003")
PREFIX = IPv6Address("2001:db8:1::")
EUI64_IID = IPv6Address("::ff:fe00:1").packed[8:]  # of DUT_MAC 02:00:00:00:00:01
INFINITE = 0xFFFFFFFF


def addr(text: str) -> bytes:
    return IPv6Address(text).packed


class Host:
    """``options`` are IPv6 knobs (``Stack.set_ipv6_option``), set before the NIC comes up; what it
    sends on enable stays queued for the test."""

    def __init__(self, *, seed: int = 1, enable: bool = True, **options: Any) -> None:
        self.bench = testing.Bench(
            addresses=False, static_tester=False, quiet=False, enable=enable, seed=seed, ipv6_options=options,
            settle_ms=None,
        )
        self.stack, self.link, self.clock, self.nic = self.bench.stack, self.bench.link, self.bench.clock, self.bench.nic
        self._out: list[bytes] = []

    @property
    def ep(self) -> Any:
        return self.nic.ip[6]

    @property
    def events(self) -> Any:
        return self.nic.stats.events

    def frames(self) -> list[bytes]:
        """Every frame the stack sent since the last call, MLD reports included."""
        frames, self._out = self._out + self.link.drain(), []
        return frames

    def sent(self) -> list[Sent]:
        return [parse_sent(f) for f in self.frames() if not is_mld_report(f)]

    def messages(self, kind: type) -> list[Sent]:
        return [s for s in self.sent() if isinstance(s.message, kind)]

    def state(self, text: str) -> str | None:
        entry = self.nic.addresses.get(addr(text))
        return None if entry is None else entry.state.value

    def inject(self, src: bytes, dst: bytes, message: icmpv6.ICMPv6Message, *, hop_limit: int = 255,
               eth_src: bytes = TESTER_MAC) -> Drop | None:
        eth_dst = ipv6_multicast_mac(dst) if dst[0] == 0xFF else DUT_MAC
        packet = build_packet(src, dst, 58, icmpv6.encode(message, src, dst), hop_limit)
        verdict, out = self.bench.inject(eth_dst + eth_src + b"\x86\xdd" + packet)
        self._out += out
        return verdict

    def dad_ns(self, target: bytes, nonce: bytes | None = None) -> Drop | None:
        options = NDPOptions() if nonce is None else NDPOptions((NDPOption(14, nonce),))
        return self.inject(UNSPECIFIED, solicited_node(target), NeighborSolicit(IPv6Address(target), options))

    def na(self, target: bytes) -> Drop | None:
        from stack_under_test.wire.ndp import target_link_option

        advert = NeighborAdvert(IPv6Address(target), override=True, options=target_link_option(TESTER_MAC))
        return self.inject(TESTER_LL, ALL_NODES, advert)

    def ra(self, *extra: NDPOption | NDPOptions, src: bytes = ROUTER_LL, dst: bytes = ALL_NODES,
           eth_src: bytes = TESTER_MAC, slla: bool = True, **fields: Any) -> Drop | None:
        fields.setdefault("router_lifetime_s", 1800)
        opts = options_of(source_link_option(eth_src), *extra) if slla else options_of(*extra)
        return self.inject(src, dst, RouterAdvert(options=opts, **fields), eth_src=eth_src)


def quiet_host(**options: object) -> Host:
    """A host past its start-up chatter: DAD off, no solicitations unless asked."""
    options.setdefault("accept_dad", False)
    options.setdefault("router_solicitations", 0)
    h = Host(**options)
    h.clock.advance(10_000)
    h.frames()
    return h


def pio(prefix: str = "2001:db8:1::", length: int = 64, *, on_link: bool = True, autonomous: bool = True,
        valid: int = 86400, preferred: int = 14400) -> NDPOption:
    return PrefixInfo(length, on_link, autonomous, valid, preferred, IPv6Address(prefix)).option()


def rio(prefix: str, length: int, *, lifetime: int = 1800, preference: int = 0) -> NDPOption:
    return RouteInfo(length, preference, lifetime, IPv6Address(prefix)).option()

"""Stack: the protocol registry, NICs, routes, the clock and the rng; the public control surface.

Every method that takes user input raises ``StackError`` with a sentence a user can act on.
Addresses cross this API as strings; inside the stack they are packed bytes (4 or 16 octets).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stack_under_test import params
from stack_under_test.clock import Clock, VirtualClock
from stack_under_test.link.endpoint import LinkEndpoint
from stack_under_test.stack.addresses import AddressEntry
from stack_under_test.stack.interfaces import IPProtocol, NetworkProtocol, TransportProtocol
from stack_under_test.stack.interfaces import Route as Route  # transports import it from here too
from stack_under_test.stack.ipv6_config import OPTION_BOUNDS, OPTION_NAMES
from stack_under_test.stack.nic import NIC
from stack_under_test.stack.ratelimit import TokenBucket
from stack_under_test.stack.route import RouteEntry, RouteTable
from stack_under_test.stats import StackStats

NetworkFactory = Callable[["Stack"], NetworkProtocol]
IPFactory = Callable[["Stack"], IPProtocol]
TransportFactory = Callable[["Stack"], TransportProtocol]


class StackError(Exception):
    """A control-surface call the stack refuses; the message says why."""


@dataclass
class StackOptions:
    clock: Clock = field(default_factory=VirtualClock)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    ipv4: bool = True
    ipv6: bool = True
    ipv4_reassembly_timeout_ms: int = params.IPV4_REASSEMBLY_TIMEOUT_MS
    ipv6_reassembly_timeout_ms: int = params.IPV6_REASSEMBLY_TIMEOUT_MS
    ipv6_pmtu_expiry_ms: int = params.IPV6_PMTU_EXPIRY_MS  # RFC 8201 4
    ipv4_pmtu_expiry_ms: int = params.IPV4_PMTU_EXPIRY_MS  # RFC 1191 6.3
    arp_cache_timeout_ms: int = params.REACHABLE_TIME_MS  # RFC 1122 2.3.2.1, Linux base_reachable_time
    dad_transmits: int = params.DUP_ADDR_DETECT_TRANSMITS
    default_ttl: int = params.IPV4_DEFAULT_TTL
    default_hop_limit: int = params.IPV6_DEFAULT_HOP_LIMIT
    udp_receive_queue_len: int = params.UDP_RECEIVE_QUEUE_LEN
    # ---- Fragment reassembly, both families (network/fragmentation.py) ----
    # Octets queued for reassembly (payload plus measured per-fragment and per-datagram overhead),
    # per family like Linux ipfrag_high_thresh / ip6frag_high_thresh: above high, the oldest
    # datagrams are evicted until under low. The cap discards a datagram with more fragments.
    reassembly_high_thresh: int = params.REASSEMBLY_HIGH_THRESH
    reassembly_low_thresh: int = params.REASSEMBLY_LOW_THRESH
    max_fragments_per_datagram: int = params.MAX_FRAGMENTS_PER_DATAGRAM
    # ---- IPv4 behaviour ----
    # RFC 1812 4.3.2.8 rate limit for ICMP errors, per family; 0 = unlimited (Linux 1000/s, 50).
    icmp_rate_per_second: float = params.ICMP_RATE_PER_SECOND
    icmp_rate_burst: int = params.ICMP_RATE_BURST
    # RFC 1122 3.2.2.6 "MAY be silently discarded"; Linux icmp_echo_ignore_broadcasts=1.
    echo_ignore_broadcasts: bool = True
    # Linux accept_source_route=0: datagrams carrying LSRR/SSRR are dropped (counted).
    accept_source_route: bool = False
    # RFC 1812 5.2.7.2 redirects when forwarding back out of the receiving interface; Linux
    # send_redirects=1.
    send_redirects: bool = True
    # ---- IGMP ----
    # The version spoken with no older querier present (1, 2 or 3); like Linux force_igmp_version,
    # except that 0 is not accepted: 3 is Linux's default behaviour.
    igmp_version: int = params.IGMP_DEFAULT_VERSION
    # None = the protocols the public ``stack_under_test.Stack`` registers by default.
    network_protocols: Sequence[NetworkFactory] | None = None
    ip_protocols: Sequence[IPFactory] | None = None
    transport_protocols: Sequence[TransportFactory] | None = None


def _family(packed: bytes) -> int:
    return 4 if len(packed) == 4 else 6


class Stack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options = options or StackOptions()
        self.clock: Clock = options.clock
        self.rng = options.rng
        self.stats = StackStats(lambda: (nic.stats for nic in self.nics.values()))
        self.nics: dict[str, NIC] = {}
        self.routes = RouteTable()
        self.forwarding: dict[int, bool] = {4: False, 6: False}
        # ICMP error rate limit per family (stack/ratelimit.py); ICMPv6 may use icmp_rate_limits[6].
        self.icmp_rate_limits: dict[int, TokenBucket] = {
            family: TokenBucket(self.clock, options.icmp_rate_per_second, options.icmp_rate_burst) for family in (4, 6)
        }
        self.echo_ignore_broadcasts = options.echo_ignore_broadcasts
        self.default_ttl = options.default_ttl  # RFC 1122 3.2.1.7, IPv4 (set_default_ttl)
        self.accept_source_route = options.accept_source_route
        self.send_redirects = options.send_redirects
        # Timers a user may set (stack.set_timer), in ms.
        self.timers_ms: dict[str, int] = {
            "ipv4_reassembly_timeout": options.ipv4_reassembly_timeout_ms,
            "ipv6_reassembly_timeout": options.ipv6_reassembly_timeout_ms,
            "ipv6_pmtu_expiry": options.ipv6_pmtu_expiry_ms,
            "ipv4_pmtu_expiry": options.ipv4_pmtu_expiry_ms,  # RFC 1191 (network/pmtu.py)
            # RFC 1122 2.3.2.1: ARP's cache timeout (network/arp.py; Linux base_reachable_time).
            "arp_cache_timeout": options.arp_cache_timeout_ms,
        }
        net, ip, tra = options.network_protocols, options.ip_protocols, options.transport_protocols
        self.network_protocols: list[NetworkProtocol] = [
            f(self) for f in (self.default_network_protocols(options) if net is None else net)
        ]
        self.ip_protocols: dict[int, IPProtocol] = {}  # by family, 4 / 6
        for ip_factory in self.default_ip_protocols(options) if ip is None else ip:
            ip_proto = ip_factory(self)
            self.ip_protocols[ip_proto.family] = ip_proto
        self.transport_protocols: dict[int, TransportProtocol] = {}
        for factory in self.default_transport_protocols(options) if tra is None else tra:
            proto = factory(self)
            self.transport_protocols[proto.number] = proto

    # Overridden by stack_under_test.Stack, which knows the protocol modules.
    @classmethod
    def default_network_protocols(cls, options: StackOptions) -> Sequence[NetworkFactory]:
        return ()

    @classmethod
    def default_ip_protocols(cls, options: StackOptions) -> Sequence[IPFactory]:
        return ()

    @classmethod
    def default_transport_protocols(cls, options: StackOptions) -> Sequence[TransportFactory]:
        return ()

    # ---- NICs --------------------------------------------------------------------------------
    def create_nic(self, name: str, link: LinkEndpoint) -> NIC:
        if name in self.nics:
            raise StackError(f"NIC {name!r} already exists")
        nic = self.nics[name] = NIC(name, link)
        for proto in self.network_protocols:
            nic.endpoints[proto.ethertype] = proto.new_endpoint(nic)
        for family, ip_proto in self.ip_protocols.items():
            nic.endpoints[ip_proto.ethertype] = nic.ip[family] = ip_proto.new_endpoint(nic)
        link.attach(nic)
        return nic

    def nic(self, name: str) -> NIC:
        nic = self.nics.get(name)
        if nic is None:
            raise StackError(f"no NIC named {name!r} (have: {', '.join(self.nics) or 'none'})")
        return nic

    def enable_nic(self, name: str) -> None:
        nic = self.nic(name)
        if nic.enabled:
            return
        nic.enabled = True
        for endpoint in nic.endpoints.values():
            endpoint.enable()

    def disable_nic(self, name: str) -> None:
        nic = self.nic(name)
        if not nic.enabled:
            return
        for endpoint in nic.endpoints.values():
            endpoint.disable()
        nic.enabled = False

    def set_link_address(self, name: str, mac: bytes) -> None:
        """Give the NIC another link-layer address (a hot-swapped interface card, RFC 4861 7.2.6):
        frames leave from it and only frames to it (or to groups) are received; the network
        endpoints hear of it (IPv6 may announce it with unsolicited Neighbor Advertisements)."""
        nic = self.nic(name)
        if len(mac) != 6 or mac[0] & 1:
            raise StackError(f"not a unicast MAC address: {mac.hex(':')}")
        if mac == nic.mac:
            return
        nic.mac = bytes(mac)
        nic.link.mac = nic.mac
        for endpoint in nic.endpoints.values():
            endpoint.on_link_address_changed()

    # ---- addresses -----------------------------------------------------------------------------
    def _interface(self, cidr: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
        try:
            iface = ipaddress.ip_interface(cidr)
        except ValueError as exc:
            raise StackError(f"not an interface address: {cidr!r} ({exc})") from None
        if iface.version not in self.ip_protocols:
            raise StackError(f"IPv{iface.version} is not enabled in this stack")
        return iface

    def add_address(
        self,
        nic_name: str,
        cidr: str,
        *,
        static: bool = True,
        dad: bool = True,
        valid_lifetime_s: int | None = None,
        preferred_lifetime_s: int | None = None,
    ) -> AddressEntry:
        """Assign ``cidr`` ("198.51.100.1/24") to the NIC and add its on-link route.

        IPv6: ``dad=False`` makes the address usable at once (Linux "nodad"); otherwise it is
        tentative until Duplicate Address Detection ends (RFC 4862 5.4) when the NIC's
        ``accept_dad`` is on. Lifetimes in seconds (None: infinite) count from now (RFC 4862 5.5.4).
        """
        nic = self.nic(nic_name)
        iface = self._interface(cidr)
        if iface.ip.is_multicast or iface.ip.is_unspecified:
            raise StackError(f"{iface.ip} cannot be assigned to an interface")
        if nic.addresses.get(iface.ip.packed) is not None:
            raise StackError(f"{iface.ip} is already assigned to {nic_name}")
        for name, value in (("valid", valid_lifetime_s), ("preferred", preferred_lifetime_s)):
            if value is not None and value < 0:
                raise StackError(f"{name} lifetime must not be negative, got {value}")
        if valid_lifetime_s is not None and preferred_lifetime_s is not None and preferred_lifetime_s > valid_lifetime_s:
            raise StackError("the preferred lifetime must not exceed the valid lifetime (RFC 4862 5.5.3 c)")
        now = self.clock.now_ms
        entry = AddressEntry(
            iface,
            static=static,
            dad=dad,
            valid_until_ms=None if valid_lifetime_s is None else now + valid_lifetime_s * 1000,
            preferred_until_ms=None if preferred_lifetime_s is None else now + preferred_lifetime_s * 1000,
        )
        self.routes.add(RouteEntry(iface.network, nic_name))
        nic.add_address(entry)
        return entry

    def remove_address(self, nic_name: str, cidr: str) -> None:
        nic = self.nic(nic_name)
        iface = self._interface(cidr)
        entry = nic.addresses.get(iface.ip.packed)
        if entry is None:
            raise StackError(f"{iface.ip} is not assigned to {nic_name}")
        nic.remove_address(iface.ip.packed)
        # What was derived for this source (a connection's route, a cached reply path) is derived
        # again: RFC 1122 3.2.1.3 "the IP source address MUST be one of its own IP addresses".
        self.routes.version += 1
        # The on-link route goes with the last address of its subnet on this NIC, unless a Router
        # Advertisement made the prefix on-link too (RFC 4861 6.3.4; the IPv6 endpoint knows).
        network = entry.interface.network
        if not any(e.interface.network == network for e in nic.addresses.entries.values()) and not nic.ip[
            entry.family
        ].keeps_on_link_route(network):
            self.routes.remove(RouteEntry(network, nic_name))

    def addresses(self, nic_name: str) -> list[str]:
        """Every address of the NIC as an interface string, link-local and tentative ones included."""
        return [str(e.interface) for e in self.nic(nic_name).addresses.entries.values()]

    def address_states(self, nic_name: str, family: int = 6) -> dict[str, str]:
        """``{"2001:db8:1::1/64": "preferred" | "tentative" | "deprecated"}`` for one family."""
        return {str(e.interface): e.state.value for e in self.nic(nic_name).addresses.of_family(family)}

    # ---- IPv6 host configuration (stack/ipv6_config.py) ---------------------------------------
    def set_ipv6_option(self, nic_name: str, name: str, value: int | bool | bytes | None) -> None:
        """Set one ``IPv6Config`` knob of the NIC (Linux sysctl names; times in ms)."""
        nic = self.nic(nic_name)
        if name not in OPTION_NAMES:
            raise StackError(f"unknown IPv6 option {name!r} (known: {', '.join(sorted(OPTION_NAMES))})")
        if name == "stable_secret":
            if value is not None and (not isinstance(value, bytes) or len(value) < 16):
                raise StackError("stable_secret must be at least 16 octets (RFC 7217 5: 128 bits)")
        elif isinstance(getattr(nic.ipv6_config, name), bool):
            value = bool(value)
        else:
            if isinstance(value, bytes) or value is None:
                raise StackError(f"IPv6 option {name} takes an integer")
            low, high = OPTION_BOUNDS[name]
            if not low <= int(value) <= high:
                raise StackError(f"IPv6 option {name} must be within {low}..{high}, got {value}")
            value = int(value)
        setattr(nic.ipv6_config, name, value)  # read by the IPv6 endpoint at its next use

    def restart_nic(self, name: str) -> None:
        """Disable and enable the NIC again: a link flap. Static addresses stay (as Linux with
        keep_addr_on_down); the link-local address is formed again, with DAD, Router
        Solicitations and MLD reports as a freshly enabled interface (RFC 4862 5.3, RFC 4861 6.3.7)."""
        self.disable_nic(name)
        self.enable_nic(name)

    # ---- neighbors, routes, groups, forwarding, timers -------------------------------------------
    def _ip(self, address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        try:
            return ipaddress.ip_address(address)
        except ValueError:
            raise StackError(f"not an IP address: {address!r}") from None

    def add_static_neighbor(self, nic_name: str, address: str, mac: bytes) -> None:
        nic = self.nic(nic_name)
        ip = self._ip(address)
        if len(mac) != 6:
            raise StackError(f"a MAC address is 6 octets, got {len(mac)}")
        table = nic.neighbors.get(ip.version)
        if table is None:
            raise StackError(f"IPv{ip.version} neighbor resolution is not available on {nic_name}")
        table.add_static(ip.packed, bytes(mac))

    def add_route(self, cidr: str, nic_name: str, gateway: str | None = None, mtu: int | None = None) -> None:
        """Route ``cidr`` out of ``nic_name`` (via ``gateway``); ``mtu`` is the route (path) MTU,
        used for local sends and forwarding instead of the link MTU when smaller."""
        self.nic(nic_name)
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise StackError(f"not a network: {cidr!r}") from None
        gw = None if gateway is None else self._ip(gateway)
        if gw is not None and gw.version != network.version:
            raise StackError(f"gateway {gateway} is not of the same family as {cidr}")
        if mtu is not None:
            minimum = params.IPV4_MIN_MTU if network.version == 4 else params.IPV6_MIN_MTU
            if not minimum <= int(mtu) <= 65535:
                raise StackError(f"route MTU {mtu} is outside {minimum}..65535 for IPv{network.version}")
            mtu = int(mtu)
        self.routes.add(RouteEntry(network, nic_name, None if gw is None else gw.packed, mtu))

    def set_link_mtu(self, nic_name: str, mtu: int) -> None:
        """The IP MTU of the NIC (at most the link's own MTU; at least 68, RFC 791)."""
        nic = self.nic(nic_name)
        mtu = int(mtu)
        if not params.IPV4_MIN_MTU <= mtu <= nic.link.mtu:
            raise StackError(f"MTU {mtu} is outside {params.IPV4_MIN_MTU}..{nic.link.mtu} (the link's MTU)")
        nic.mtu_override = None if mtu == nic.link.mtu else mtu
        self.routes.version += 1  # cached reply paths size their payload by the MTU

    def set_icmp_rate_limit(self, family: int, per_second: float, burst: int) -> None:
        """ICMP error rate limit for ``family`` (4 or 6): ``per_second == 0`` means unlimited."""
        if family not in (4, 6):
            raise StackError(f"family must be 4 or 6, got {family!r}")
        if per_second < 0 or burst < 0:
            raise StackError(f"rate {per_second}/s and burst {burst} must not be negative")
        self.icmp_rate_limits[family].configure(per_second, burst)

    def set_default_ttl(self, family: int, ttl: int) -> None:
        """The TTL (IPv6: every NIC's Hop Limit, RFC 4861 6.3.2 CurHopLimit) of what we originate.

        RFC 1122 3.2.1.7: "When a fixed TTL value is used, it MUST be configurable." 1-255."""
        if family not in (4, 6):
            raise StackError(f"family must be 4 or 6, got {family!r}")
        if not 1 <= int(ttl) <= 255:
            raise StackError(f"a TTL must be 1-255, got {ttl}")
        if family == 4:
            self.default_ttl = int(ttl)
            self.routes.version += 1  # cached reply paths carry the TTL in their header template
        else:
            for nic in self.nics.values():
                nic.ipv6_config.hop_limit = int(ttl)

    def set_echo_ignore_broadcasts(self, ignore: bool) -> None:
        """Whether echo requests to a broadcast or multicast address go unanswered (default True)."""
        self.echo_ignore_broadcasts = bool(ignore)

    def set_accept_source_route(self, accept: bool) -> None:
        """Whether datagrams with LSRR/SSRR options are processed (True) or dropped (default)."""
        self.accept_source_route = bool(accept)

    def remove_route(self, cidr: str, nic_name: str, gateway: str | None = None) -> None:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise StackError(f"not a network: {cidr!r}") from None
        gw = None if gateway is None else self._ip(gateway).packed
        if not self.routes.remove(RouteEntry(network, nic_name, gw)):
            raise StackError(f"no route {cidr} via {nic_name}")

    def set_forwarding(self, family: int, enabled: bool) -> None:
        if family not in (4, 6):
            raise StackError(f"family must be 4 or 6, got {family!r}")
        self.forwarding[family] = bool(enabled)
        proto = self.ip_protocols.get(family)
        if proto is not None:
            proto.on_forwarding_changed(bool(enabled))

    def _group(self, group: str) -> bytes:
        ip = self._ip(group)
        if not ip.is_multicast:
            raise StackError(f"{group} is not a multicast address")
        return ip.packed

    def join_group(self, nic_name: str, group: str) -> None:
        self.nic(nic_name).join_group(self._group(group))

    def join_source_group(self, nic_name: str, group: str, sources: list[str]) -> None:
        """Join IPv4 ``group`` in INCLUDE mode: datagrams from ``sources`` only (RFC 3376 3.1,
        IPMulticastListen with filter-mode INCLUDE). leave_group leaves it."""
        packed = self._group(group)
        nic = self.nic(nic_name)
        if len(packed) != 4:
            raise StackError("INCLUDE-mode membership is implemented for IPv4 groups (IGMPv3) only")
        if not sources:
            raise StackError("an INCLUDE-mode join names at least one source")
        if nic.in_group(packed):
            raise StackError(f"{nic_name} has joined {group} already")
        nic.join_source_group(packed, frozenset(self._ip(s).packed for s in sources))

    def leave_group(self, nic_name: str, group: str) -> None:
        if not self.nic(nic_name).leave_group(self._group(group)):
            raise StackError(f"{nic_name} has not joined {group}")

    def set_timer(self, name: str, ms: int) -> None:
        if name not in self.timers_ms:
            raise StackError(f"unknown timer {name!r} (known: {', '.join(self.timers_ms)})")
        if int(ms) <= 0:
            raise StackError(f"timer {name} must be positive, got {ms} ms")
        self.timers_ms[name] = int(ms)

    # ---- routing for the layers ------------------------------------------------------------------
    def find_route(self, dst: bytes, nic: NIC | None = None, src: bytes | None = None) -> Route | None:
        """A route to ``dst`` (packed), restricted to ``nic`` if given, from ``src`` if given and ours."""
        entry = self.routes.lookup(dst, None if nic is None else nic.name)
        if entry is None:
            entry = self._default_router_route(dst, nic) or self._local_multicast_route(dst, nic)
            if entry is None:
                return None
        if entry.gateway is not None:
            entry = self._live_gateway(entry, nic)
        out = self.nics.get(entry.nic)
        if out is None or not out.enabled:
            return None
        endpoint = out.ip.get(_family(dst))
        if endpoint is None:
            return None
        if src is not None:
            # Weak ES model (RFC 1122 3.3.4.2, as Linux): any address of ours may be the source.
            if not out.is_local(src) and not any(n.is_local(src) for n in self.nics.values()):
                return None
            local: bytes | None = src
        else:
            local = endpoint.select_source(dst)
        if local is None:
            return None
        return Route(out, endpoint, local, dst, entry.gateway or dst, entry.mtu, entry.gateway is not None)

    def _live_gateway(self, entry: RouteEntry, only: NIC | None) -> RouteEntry:
        """Among the routes to ``entry``'s prefix, the first whose gateway is not known to be
        dead; ``entry`` when none is alive.

        RFC 1122 3.3.1.4: "The IP layer MUST be able to detect the failure of a "next-hop" gateway
        that is listed in its route cache and to choose an alternate gateway"; 3.3.1.5: "If it is
        the current default that failed, the IP layer MUST select a different default gateway
        (assuming more than one default is known)". A gateway is dead when ARP (NDP) could not
        resolve or re-validate it lately, the negative advice of the link layer (Linux
        fib_select_default() asks the neighbour state the same way).
        """
        for candidate in self.routes.alike(entry):
            if only is not None and candidate.nic != only.name:
                continue
            nic = self.nics.get(candidate.nic)
            table = None if nic is None else nic.neighbors.get(candidate.family)
            if candidate.gateway is None or table is None or not table.has_failed(candidate.gateway):
                return candidate
        return entry

    def _local_multicast_route(self, dst: bytes, nic: NIC | None) -> RouteEntry | None:
        """No route covers an IPv4 group or the limited broadcast: they go out of the first NIC
        that has an IPv4 address (Linux: the interface a socket's IP_MULTICAST_IF names). RFC
        1122 3.3.7: "Support for local IP multicasting includes sending multicast datagrams"."""
        if len(dst) != 4 or not (224 <= dst[0] <= 239 or dst == b"\xff\xff\xff\xff"):
            return None
        for out in [nic] if nic is not None else list(self.nics.values()):
            if out.enabled and any(e.family == 4 for e in out.addresses.entries.values()):
                return RouteEntry(ipaddress.ip_network("224.0.0.0/4" if dst[0] < 240 else "255.255.255.255/32"), out.name)
        return None

    def _default_router_route(self, dst: bytes, nic: NIC | None) -> RouteEntry | None:
        """No route covers ``dst``: the next hop is a default router an interface learnt, if any
        (RFC 4861 5.2: "the sender selects a router from the Default Router List")."""
        family = _family(dst)
        for out in [nic] if nic is not None else list(self.nics.values()):
            endpoint = out.ip.get(family)
            router = endpoint.default_router() if out.enabled and endpoint is not None else None
            if router is not None:
                return RouteEntry(ipaddress.ip_network("::/0" if family == 6 else "0.0.0.0/0"), out.name, router)
        return None

    # ---- UDP ------------------------------------------------------------------------------------
    def udp_bind(self, address: str, port: int) -> Any:
        """A UDP socket bound to ``address`` ("0.0.0.0", "::" or one of ours) and ``port`` (0 = any)."""
        udp = self.transport_protocols.get(17)
        if udp is None:
            raise StackError("UDP is not enabled in this stack")
        return udp.bind(address, port)

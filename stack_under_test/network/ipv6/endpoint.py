"""IPv6 on one NIC: receive (RFC 8200 §3-4), send, addresses and groups; the mediator of its parts.

The receive path: the fixed header (wire/ipv6.py), the addresses, the destination (not ours:
forwarding.py), the extension headers (wire/ipv6_ext.py), fragments (reassembly.py; the whole
packet is received here again), then delivery: an ICMPv6 message to the module of its protocol
(icmp.py for echo and errors, ndp.py, router_discovery.py, redirect_rx.py, mld.py), anything else
to a transport protocol. The parts see this endpoint as an ``IPv6Host`` (contracts.py); what one
reports for another (a prefix to configure, a valid link-local address, IPv6 turned off) comes
back here and is passed on, so no part knows another.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import fragment_ipv6
from stack_under_test.stack.addresses import AddressEntry
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.stack.neighbor import NeighborTable
from stack_under_test.stack.ratelimit import TokenBucket
from stack_under_test.stack.route import RouteEntry
from stack_under_test.wire import icmpv6, ipv6_ext
from stack_under_test.wire.ethernet import ipv6_multicast_mac
from stack_under_test.wire.icmpv6 import EchoReply, EchoRequest, ICMPv6Error
from stack_under_test.wire.ipv6 import (
    ALL_NODES,
    HEADER_LEN,
    LOOPBACK,
    NEXT_HEADER_OFFSET,
    IPv6View,
    build_header,
    is_multicast,
    is_v4mapped,
)
from stack_under_test.wire.ndp import (
    NeighborAdvert,
    NeighborSolicit,
    PrefixInfo,
    Redirect,
    RouterAdvert,
    RouterSolicit,
)
from stack_under_test.wire.numbers import (
    ETH_P_IPV6,
    PROTO_HOP_BY_HOP,
    PROTO_ICMPV6,
    PROTO_NO_NEXT_HEADER,
    ICMPv6DestUnreachableCode,
    ICMPv6ParamProblemCode,
    ICMPv6Type,
)

from . import forwarding, icmp, redirect_rx, source_selection, validation
from .addrconf import AddressConfiguration
from .anycast import AnycastAddresses
from .flowlabel import FlowLabeler
from .mld import MLD
from .ndp import NeighborDiscovery
from .pmtu import PathMTUCache
from .reassembly import IPv6Reassembly
from .router_discovery import RouterDiscovery

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface, Route
    from stack_under_test.stack.neighbor import Pending
    from stack_under_test.stack.stack import Stack

# RFC 4291 §2.7: Linux installs "multicast ff00::/8 dev <nic>" so multicast sends find the NIC.
MULTICAST_NETWORK = IPv6Network("ff00::/8")
# RFC 2710 3 / RFC 3810 5: the MLD messages, for the NIC's MLD host (mld.py).
_MLD_TYPES = frozenset({ICMPv6Type.MLD_QUERY, ICMPv6Type.MLD_REPORT, ICMPv6Type.MLD_DONE, ICMPv6Type.MLDV2_REPORT})


class IPv6Protocol:
    ethertype = ETH_P_IPV6
    family = 6

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.pmtu = PathMTUCache(stack)  # RFC 8201: per destination, for the whole stack
        self.reassembly = IPv6Reassembly(stack)  # RFC 8200 4.5, for the whole stack
        self._flow_labels: FlowLabeler | None = None
        self.redirect_peers: dict[bytes, TokenBucket] = {}  # redirect.py's per-destination limit
        self.redirect_routes: dict[bytes, RouteEntry] = {}  # redirect_rx.py: /128 routes learned (RFC 4861 §8.3)
        self.endpoints: list[IPv6Endpoint] = []

    @property
    def flow_labels(self) -> FlowLabeler:
        # Made on first use, so stacks that never send IPv6 draw nothing from the rng.
        if self._flow_labels is None:
            self._flow_labels = FlowLabeler(self.stack.rng)
        return self._flow_labels

    def new_endpoint(self, nic: NetworkInterface) -> IPv6Endpoint:
        endpoint = IPv6Endpoint(self, nic)
        self.endpoints.append(endpoint)
        return endpoint

    def on_forwarding_changed(self, enabled: bool) -> None:
        # The NA Router flag reads stack.forwarding (RFC 4861 §7.2.4); forwarding.py reads it per packet.
        # RFC 4291 §2.6.1: a router holds the Subnet-Router anycast address of each subnet.
        for endpoint in self.endpoints:
            endpoint.anycast.refresh()
            endpoint.router_discovery.on_forwarding_changed(enabled)  # a router learns nothing from RAs


class IPv6Endpoint:
    def __init__(self, protocol: IPv6Protocol, nic: NetworkInterface) -> None:
        stack = self.stack = protocol.stack
        self.nic = nic
        self.protocol = protocol
        self.pmtu = protocol.pmtu
        self.redirect_peers = protocol.redirect_peers
        self.redirect_routes = protocol.redirect_routes
        self.neighbors = NeighborTable(
            stack.clock,
            nic.write_packet,
            lambda target, mac, first: self.ndp.send_neighbor_solicit(target, mac, first),
            nic.stats.count_tx_drop,
            on_failed=self.on_neighbor_failed,
            config=lambda: nic.ipv6_config,  # RFC 4861 §7.3.3 NUD with the NIC's knobs, read at use
            rng=stack.rng,
        )
        nic.neighbors[6] = self.neighbors
        # StackOptions seed the NIC's knobs: default_hop_limit is CurHopLimit, which an RA may change
        # (RFC 4861 6.3.4); dad_transmits is DupAddrDetectTransmits (RFC 4862 5.1; --dad-transmits).
        nic.ipv6_config.hop_limit = stack.options.default_hop_limit
        nic.ipv6_config.dad_transmits = stack.options.dad_transmits
        self.anycast = AnycastAddresses(stack, nic)  # RFC 4291 §2.6.1 Subnet-Router anycast
        self.mld = MLD(self)  # RFC 2710 / RFC 3810 host side
        # RFC 4862, RFC 7217, RFC 8981: DAD, lifetimes, link-local, SLAAC and temporary addresses.
        self.addrconf = AddressConfiguration(self)
        self.ndp = NeighborDiscovery(self, self.addrconf, self.anycast)
        self.router_discovery = RouterDiscovery(self)  # RFC 4861 6.3, RFC 4191
        # RFC 4861 7.2.5: an NA turning IsRouter false removes the router from the list.
        self.neighbors.on_router_cleared = self._on_router_cleared
        # RFC 4862 5.4.5: a duplicate EUI-64 link-local turns IPv6 off until the interface is
        # brought up again (addrconf/configuration.py).
        self.ipv6_disabled = False

    @property
    def link_local(self) -> bytes | None:
        return self.addrconf.link_local

    def _on_router_cleared(self, addr: bytes) -> None:
        # RFC 4861 §7.2.5: when IsRouter goes from TRUE to FALSE "the node MUST remove that router
        # from the Default Router List and update the Destination Cache entries for all
        # destinations using that neighbor as a router" (our Destination Cache: redirect routes).
        redirect_rx.forget_router(self, addr)
        self.router_discovery.on_router_flag_cleared(addr)

    # ---- NIC lifecycle ---------------------------------------------------------------------------
    def enable(self) -> None:
        nic = self.nic
        self.ipv6_disabled = False
        self.mld.enable()  # first: the groups joined below are reported at once (RFC 3810 6.1)
        # RFC 4291 §2.8: "all-nodes multicast addresses" are among those a node "is required to
        # recognize as identifying itself".
        nic.join_group(ALL_NODES)
        self.stack.routes.add(RouteEntry(MULTICAST_NETWORK, nic.name))
        self.addrconf.enable()  # DAD for the addresses kept, then the link-local address
        self.anycast.refresh()
        # RFC 4861 6.3.7: solicit routers (unless a router, or accept_ra / router_solicitations off).
        self.router_discovery.on_enable()

    def on_link_address_changed(self) -> None:
        self.ndp.announce_link_address()  # RFC 4861 7.2.6, when configured (ndisc_notify)

    def disable(self) -> None:
        nic = self.nic
        self.ndp.stop_announcing()
        self.mld.disable()  # first: a NIC going down sends no Done / state-change reports
        self.router_discovery.reset()
        self.addrconf.disable()  # stops DAD, removes the addresses it formed
        self.anycast.release()
        redirect_rx.forget(self)
        self.neighbors.clear()  # RFC 4861 §7.3: entries of a link we left are no longer known (as Linux)
        nic.leave_group(ALL_NODES)
        self.stack.routes.remove(RouteEntry(MULTICAST_NETWORK, nic.name))

    # ---- addresses and groups (IPEndpoint) --------------------------------------------------------
    def on_address_added(self, entry: AddressEntry) -> None:
        self.addrconf.on_address_added(entry)  # solicited-node group, DAD, lifetimes
        self.anycast.refresh()

    def on_address_removed(self, entry: AddressEntry) -> None:
        self.addrconf.on_address_removed(entry)
        self.anycast.refresh()

    def on_group_joined(self, group: bytes) -> None:
        self.mld.join(group)

    def on_group_left(self, group: bytes) -> None:
        self.mld.leave(group)

    def on_neighbor_failed(self, addr: bytes, pending: list[Pending]) -> None:
        """Neighbor Discovery gave up on ``addr`` (RFC 4861 7.2.2; ndp.py answers what waited)."""
        self.ndp.on_resolution_failed(addr, pending)

    def keeps_on_link_route(self, network: IPv4Network | IPv6Network) -> bool:
        """Whether the Prefix List holds ``network`` (its route outlives the addresses in it)."""
        return network in self.router_discovery.prefixes

    def default_router(self) -> bytes | None:
        """A router from the Default Router List (RFC 4861 6.3.6), for destinations no route
        covers; None when the list is empty (Stack.find_route, send)."""
        return self.router_discovery.default_router()

    # ---- events the parts report (IPv6Host) ------------------------------------------------------------
    def on_prefix_information(self, pi: PrefixInfo, *, multicast_ra: bool) -> None:
        self.addrconf.on_prefix(pi, multicast_ra=multicast_ra)

    def on_link_local_valid(self) -> None:
        self.mld.on_link_local_valid()

    def next_hop_prefixes(self, dst: bytes) -> frozenset[IPv6Network]:
        entry = self.stack.routes.lookup(dst, self.nic.name)
        if entry is not None and entry.gateway is None:
            return frozenset()  # on-link: no next hop advertised anything
        return self.router_discovery.advertised_by_next_hop(None if entry is None else entry.gateway)

    def hold_report(self, group: bytes) -> None:
        self.mld.hold(group)

    def release_report(self, group: bytes) -> None:
        self.mld.release(group)

    def disable_ipv6(self) -> None:
        self.ipv6_disabled = True
        self.nic.stats.count_event("ipv6_disabled_by_dad")
        self.router_discovery.stop_soliciting()

    # ---- receive ---------------------------------------------------------------------------------
    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        if self.ipv6_disabled:
            return Drop.IPV6_DISABLED_BY_DAD
        view = IPv6View(pkt.network())
        drop = view.check()
        if drop is not None:
            return drop
        # RFC 8200 §3: octets past Payload Length are link padding, not part of the packet.
        # RFC 2675 §3: a zero Payload Length with a Hop-by-Hop header is a jumbogram candidate;
        # the walker judges it on the untrimmed frame.
        if view.payload_length or view.next_header != PROTO_HOP_BY_HOP:
            pkt.end = pkt.network_offset + HEADER_LEN + view.payload_length
        src, dst = view.src, view.dst
        drop = check_addresses(src, dst)
        if drop is not None:
            return drop
        dst_multicast = is_multicast(dst)
        if dst_multicast:
            if not self.nic.in_group(dst):
                return Drop.IPV6_NOT_FOR_US
        elif not self.nic.is_local(dst) and not self._local_elsewhere(dst) and not self.anycast.has(dst):
            return self._not_local(pkt, view, src, dst)
        cfg = self.nic.ipv6_config
        chain = ipv6_ext.walk(
            pkt.network(), dst_multicast,
            hop_by_hop_limits=ipv6_ext.OptionLimits(cfg.max_hbh_opts_number, cfg.max_hbh_length),
            destination_limits=ipv6_ext.OptionLimits(cfg.max_dst_opts_number, cfg.max_dst_opts_length),
        )
        if isinstance(chain, Drop):
            return chain
        if isinstance(chain, ipv6_ext.ParamProblem):
            icmp.send_param_problem(self, pkt, chain)
            return chain.reason
        if chain.fragment is not None:
            # RFC 8200 4.5: held until whole (reassembly.py); the whole packet is received anew.
            whole = self.protocol.reassembly.handle_fragment(self, pkt, view, chain)
            return self.handle_packet(whole) if isinstance(whole, PacketBuffer) else whole
        return self.deliver(pkt, view, chain, src, dst, dst_multicast)

    def _local_elsewhere(self, dst: bytes) -> bool:
        # Weak host model (RFC 1122 3.3.4.2, as Linux): an address of another NIC is ours too.
        return any(n.is_local(dst) for n in self.stack.nics.values() if n is not self.nic)

    def _not_local(self, pkt: PacketBuffer, view: IPv6View, src: bytes, dst: bytes) -> Drop | None:
        """A unicast destination that is not a usable address of ours: tentative, or to forward."""
        # RFC 4862 §5.4: "the node MUST silently discard" packets to an address that is still
        # tentative (other than DAD's NS/NA, which go to the solicited-node group); never forwarded.
        if any(n.addresses.get(dst) is not None for n in self.stack.nics.values()):
            return Drop.IPV6_TENTATIVE_DESTINATION
        if self.stack.forwarding[6]:
            return forwarding.forward(self, pkt, view, src, dst)
        return Drop.IPV6_NOT_FOR_US

    def deliver(
        self, pkt: PacketBuffer, view: IPv6View, chain: ipv6_ext.ExtChain, src: bytes, dst: bytes, dst_multicast: bool
    ) -> Drop | None:
        """Hand a whole (unfragmented or reassembled) packet to ICMPv6 or the transport protocol."""
        proto = chain.upper_proto
        pkt.transport_offset = pkt.network_offset + chain.upper_offset
        # RFC 8200 §4.7: "there is nothing following that header"; the packet is consumed.
        if proto == PROTO_NO_NEXT_HEADER:
            return None
        if proto == PROTO_ICMPV6:
            return self._deliver_icmpv6(pkt, view, chain, src, dst)
        transport = self.stack.transport_protocols.get(proto)
        if transport is None:
            # RFC 8200 §4: "If ... the Next Header value in the current header is unrecognized by the
            # node, it should discard the packet and send an ICMP Parameter Problem message to the
            # source of the packet, with an ICMP Code value of 1 ... and the ICMP Pointer field
            # containing the offset of the unrecognized value within the original packet."
            code = ICMPv6ParamProblemCode.UNRECOGNIZED_NEXT_HEADER
            icmp.send_error(self, pkt, ICMPv6Type.PARAMETER_PROBLEM, code, chain.upper_proto_pointer)
            return Drop.IPV6_UNKNOWN_NEXT_HEADER
        tpkt = TransportPacket(6, src, dst, pkt.transport(), pkt, self, multicast=dst_multicast)
        return transport.handle_packet(tpkt)

    def _deliver_icmpv6(
        self, pkt: PacketBuffer, view: IPv6View, chain: ipv6_ext.ExtChain, src: bytes, dst: bytes
    ) -> Drop | None:
        """One ICMPv6 message addressed to us, to the module of its protocol."""
        msg = icmpv6.parse(pkt.transport(), src, dst)
        if isinstance(msg, Drop):
            return msg
        if isinstance(msg, EchoRequest):
            return icmp.handle_echo_request(self, view, src, dst, msg)
        if isinstance(msg, EchoReply):
            return Drop.ICMPV6_ECHO_REPLY_UNSOLICITED  # no ping sockets yet
        if isinstance(msg, ICMPv6Error):
            return icmp.handle_error(self, msg.type, msg.code, msg.invoking, msg.param)
        if isinstance(msg, (NeighborSolicit, NeighborAdvert, RouterSolicit, RouterAdvert, Redirect)):
            # RFC 4861: validate (§6.1, §7.1, §8.1), then hand the message to its protocol module.
            drop = validation.check(view.hop_limit, src, dst, msg)
            if drop is not None:
                return drop
            if isinstance(msg, NeighborSolicit):
                return self.ndp.handle_neighbor_solicit(src, dst, msg)
            if isinstance(msg, NeighborAdvert):
                return self.ndp.handle_neighbor_advert(src, dst, msg)
            if isinstance(msg, Redirect):
                return redirect_rx.handle_redirect(self, src, dst, msg)
            if isinstance(msg, RouterSolicit):
                return self.router_discovery.handle_router_solicit(src, msg)
            return self.router_discovery.handle_router_advert(src, dst, msg)
        if msg.type in _MLD_TYPES:
            return self.mld.handle(pkt, view, src, chain.router_alert)
        return icmp.handle_unknown(self, msg)

    # ---- addresses -----------------------------------------------------------------------------
    def is_local(self, addr: bytes) -> bool:
        return self.nic.is_local(addr)

    def is_anycast(self, addr: bytes) -> bool:
        return self.anycast.has(addr)

    def select_source(self, dst: bytes) -> bytes | None:
        """RFC 6724 section 5, all eight rules (source_selection.py)."""
        return source_selection.select(self, dst)

    # ---- send ----------------------------------------------------------------------------------
    def write_packet(
        self, route: Route, proto: int, payload: bytes, *, dont_fragment: bool = False, ttl: int | None = None,
        tos: int = 0, options: bytes = b"", discover_mtu: bool = False,
    ) -> Drop | None:
        """IPEndpoint: UDP (and others) send through here with a route from stack.find_route.
        ``ttl`` is the Hop Limit, ``tos`` the Traffic Class; IPv6 has no header options."""
        return self.send(route.local, route.remote, proto, payload, next_hop=route.next_hop, dont_fragment=dont_fragment,
                         hop_limit=ttl, traffic_class=tos)

    @property
    def link_mtu(self) -> int:
        """The IPv6 MTU of the link: the NIC's, lowered by an RA's MTU option (RFC 4861 6.3.4),
        which never touches IPv4."""
        ra_mtu = self.router_discovery.mtu
        return self.nic.mtu if ra_mtu is None else min(ra_mtu, self.nic.mtu)

    def path_mtu(self, dst: bytes) -> int:
        """The largest packet we send towards ``dst``: the link MTU, capped by the route MTU
        (stack.add_route(..., mtu=)) and by what Packet Too Big taught us (RFC 8201)."""
        mtu = self.link_mtu
        entry = self.stack.routes.lookup(dst, self.nic.name)
        if entry is not None and entry.mtu is not None:
            mtu = min(mtu, entry.mtu)
        learned = self.pmtu.get(dst)
        return mtu if learned is None else min(mtu, learned)

    def send(
        self,
        src: bytes,
        dst: bytes,
        proto: int,
        payload: bytes,
        *,
        hop_limit: int | None = None,
        traffic_class: int = 0,
        next_hop: bytes | None = None,
        dont_fragment: bool = False,
    ) -> Drop | None:
        """Put a fixed header on ``payload`` and transmit it out of this NIC.

        Multicast destinations map straight to a MAC (RFC 2464 §7); unicast ones go to the next
        hop (the route's gateway, else ``dst`` itself) through neighbor resolution. A packet over
        the path MTU is fragmented here, its source (RFC 8200 4.5), unless ``dont_fragment``.
        """
        if self.ipv6_disabled:
            self.nic.stats.count_tx_drop(Drop.IPV6_DISABLED_BY_DAD)
            return Drop.IPV6_DISABLED_BY_DAD
        # RFC 4291 2.7: "Nodes must not originate a packet to a multicast address whose scop field
        # contains the reserved value 0".
        if is_multicast(dst) and dst[1] & 0x0F == 0:
            self.nic.stats.count_tx_drop(Drop.IPV6_SCOPE_0_MULTICAST_DESTINATION)
            return Drop.IPV6_SCOPE_0_MULTICAST_DESTINATION
        if hop_limit is None:
            # RFC 4861 6.3.2 CurHopLimit: "The default value that should be placed in the Hop
            # Count field of the IP header for outgoing (unicast) IP packets" (an RA may set it).
            hop_limit = self.nic.ipv6_config.hop_limit
        label = self.protocol.flow_labels.label(src, dst, proto, payload)
        packet = build_header(src, dst, proto, len(payload), hop_limit, traffic_class, label) + payload
        nic = self.nic
        if not is_multicast(dst) and (nic.is_local(dst) or self._local_elsewhere(dst)):
            self._loop_back(packet)
            return None
        mtu = self.path_mtu(dst)
        if len(packet) <= mtu:
            packets = [packet]
        elif dont_fragment:
            packets = []
        else:
            packets = self._fragment(packet, mtu)
        if not packets:
            nic.stats.count_tx_drop(Drop.PACKET_TOO_BIG)
            return Drop.PACKET_TOO_BIG
        if is_multicast(dst):
            for one in packets:
                nic.write_packet(ipv6_multicast_mac(dst), ETH_P_IPV6, one)
            return None
        if next_hop is None:
            route = self.stack.routes.lookup(dst, nic.name)
            # RFC 4861 5.2: with no route (prefix) covering dst, "the sender selects a router
            # from the Default Router List".
            router = self.default_router() if route is None else None
            if route is None and router is None:
                nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
                return Drop.IPV6_NO_ROUTE
            next_hop = router or (route.gateway if route is not None else None) or dst
        for one in packets:
            self.neighbors.send(next_hop, ETH_P_IPV6, one)
        return None

    def _fragment(self, packet: bytes, mtu: int) -> list[bytes]:
        """RFC 8200 4.5: a packet larger than the path MTU is fragmented by its source. RFC 7739
        3.1: the Identification must not be predictable, so it comes from the stack's rng. Only
        for a packet that does not fit: RFC 8021 2 deprecates atomic fragments. None fit: []."""
        ident = self.stack.rng.getrandbits(32)
        packets = fragment_ipv6(packet[:HEADER_LEN], b"", packet[NEXT_HEADER_OFFSET], packet[HEADER_LEN:], ident, mtu)
        if packets:
            self.nic.stats.count_event("ipv6_packet_fragmented")
        return packets

    def _loop_back(self, packet: bytes) -> None:
        """A packet to one of our own addresses never reaches the link (RFC 4291 2.5.3 keeps loopback
        traffic inside the node; RFC 6724 5 rule 1 makes that address the source too): it is
        received here at once, as Linux's loopback interface does. A verdict of the receive path
        (a closed port, say) is not a failure of the send."""
        self.nic.stats.count_event("ipv6_looped_back")
        frame = self.nic.mac + self.nic.mac + ETH_P_IPV6.to_bytes(2, "big") + packet
        self.handle_packet(PacketBuffer(frame, len(frame) - len(packet), self.nic))

    def send_port_unreachable(self, tpkt: TransportPacket) -> None:
        """IPEndpoint: RFC 4443 §3.1 Destination Unreachable code 4 for a closed UDP port."""
        icmp.send_error(self, tpkt.pkt, ICMPv6Type.DEST_UNREACHABLE, ICMPv6DestUnreachableCode.PORT, 0)


def check_addresses(src: bytes, dst: bytes) -> Drop | None:
    """Addresses that never arrive legitimately from a link (silent discards, as Linux's ipv6_rcv)."""
    # RFC 4291 §2.7: "Multicast addresses must not be used as source addresses in IPv6 packets".
    if is_multicast(src):
        return Drop.IPV6_MULTICAST_SOURCE
    # RFC 4291 §2.5.3: "An IPv6 packet received on an interface with a destination address of
    # loopback must be dropped." Linux drops a loopback source from the wire as well.
    if src == LOOPBACK or dst == LOOPBACK:
        return Drop.IPV6_LOOPBACK_ADDRESS
    # RFC 4038 §5.1 ("IPv4-mapped addresses ... on the wire" are a security risk); Linux drops a
    # v4-mapped source, and no v4-mapped destination can be ours either.
    if is_v4mapped(src) or is_v4mapped(dst):
        return Drop.IPV6_V4MAPPED_ADDRESS
    # RFC 4291 §2.7: for scope 0 "if such a packet is received, it must be silently dropped";
    # interface-local (1) "is useful only for loopback transmission of multicast" (Linux drops it).
    if dst[0] == 0xFF and dst[1] & 0x0F <= 1:
        return Drop.IPV6_MULTICAST_SCOPE_INVALID
    return None

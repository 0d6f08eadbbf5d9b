"""IPv4 (RFC 791, RFC 1122 3.2.1): the receive path's checks, delivery upward, and sending.

The receive path is a run of guard clauses, each returning the named Drop that RFC 1122 3.2.1
asks for; what survives is delivered to ICMP (network/ipv4/icmp.py) or to a transport protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import BROADCAST, MULTICAST, UNICAST, forwarding, icmp, options
from stack_under_test.network.ipv4.ident import IdentAllocator
from stack_under_test.network.ipv4.igmp import IGMP
from stack_under_test.network.ipv4.reassembly import IPv4Reassembly, send_fragmented
from stack_under_test.stack.addresses import AddressEntry, AddressState
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.stack.neighbor import NeighborState, NeighborTable
from stack_under_test.wire.ethernet import BROADCAST_MAC, ipv4_multicast_mac
from stack_under_test.wire.ipv4 import (
    ALL_HOSTS,
    FLAG_DF,
    FLAG_MF,
    LIMITED_BROADCAST,
    MIN_HEADER_LEN,
    OFFSET_MASK,
    HeaderTemplate,
    HeaderTuple,
    encode_header,
    parse_header,
)
from stack_under_test.wire.numbers import (
    ETH_P_IPV4,
    PROTO_ICMP,
    PROTO_IGMP,
    ICMPv4DestUnreachableCode,
    ICMPv4Type,
)

if TYPE_CHECKING:
    from stack_under_test.stack.nic import NIC
    from stack_under_test.stack.stack import Route, Stack

_TENTATIVE = AddressState.TENTATIVE
_FRAGMENT_BITS = FLAG_MF | OFFSET_MASK  # MF set or a non-zero offset: a fragment


class IPv4Protocol:
    ethertype = ETH_P_IPV4
    family = 4

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # RFC 6864: IDs unique per (src, dst, protocol), not one global counter (network/ipv4/ident.py).
        self.idents = IdentAllocator(stack.rng)
        # Redirects sent per source: [count, time of the last one] (network/ipv4/forwarding.py).
        self.redirect_peers: dict[bytes, list[int]] = {}
        self.reassembly = IPv4Reassembly(stack)  # fragments of every NIC (network/ipv4/reassembly.py)

    def next_ident(self, src: bytes = b"", dst: bytes = b"", proto: int = 0) -> int:
        """The ID for a datagram from ``src`` to ``dst`` carrying ``proto`` (RFC 6864 4.1)."""
        return self.idents.next(src, dst, proto)

    def new_endpoint(self, nic: NIC) -> IPv4Endpoint:
        return IPv4Endpoint(self, nic)

    def on_forwarding_changed(self, enabled: bool) -> None:
        pass


class IPv4Endpoint:
    def __init__(self, protocol: IPv4Protocol, nic: NIC) -> None:
        self.protocol = protocol
        self.stack = protocol.stack
        self.nic = nic
        self._addresses = nic.addresses  # hot-path shortcuts; both objects live as long as the NIC
        self._routes = protocol.stack.routes
        self._ttl = protocol.stack.options.default_ttl
        # (remote, local, proto) -> (out NIC, Ethernet+IPv4 header template, route table version,
        # neighbor table, its version, largest payload, IP ID counter index): replies to a STATIC neighbor skip route lookup and
        # resolution while neither table has changed. Bounded; only filled for static neighbors,
        # so Neighbor Unreachability Detection is never bypassed.
        self._reply_paths: dict[
            tuple[bytes, bytes, int], tuple[NIC, HeaderTemplate, int, NeighborTable, int, int, int]
        ] = {}
        self.igmp = IGMP(self)  # host group membership (network/ipv4/igmp.py)

    # ---- lifecycle hooks (IGMP will use the group ones) -------------------------------------------
    def enable(self) -> None:
        self.igmp.enable()

    def disable(self) -> None:
        self.igmp.disable()

    def on_address_added(self, entry: AddressEntry) -> None:
        pass

    def on_address_removed(self, entry: AddressEntry) -> None:
        pass

    def on_group_joined(self, group: bytes) -> None:
        self.igmp.join(group)

    def on_group_left(self, group: bytes) -> None:
        self.igmp.leave(group)

    # ---- receive ---------------------------------------------------------------------------------
    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        data, off = pkt.data, pkt.network_offset
        h = parse_header(data, off, len(data))
        if type(h) is not tuple:
            return h  # type: ignore[return-value]
        pkt.end = off + h[2]  # trims Ethernet padding beyond the total length
        src, dst = h[8], h[9]
        addresses = self._addresses
        # RFC 1122 3.2.1.3: "A host MUST silently discard an incoming datagram containing an IP source
        # address that is invalid by the rules of this section": a broadcast or multicast (Class D)
        # source, and (g) loopback: "Addresses of this form MUST NOT appear outside a host."
        first = src[0]
        if 224 <= first <= 239 or first == 127 or src == LIMITED_BROADCAST or src in addresses.ipv4_broadcasts:
            return Drop.IPV4_BAD_SOURCE
        entry = addresses.entries.get(dst)
        cast = UNICAST if entry is not None and entry.state is not _TENTATIVE else self._classify_destination(dst)
        if cast is None:
            return self._forward(pkt, h)
        # RFC 1122 3.3.6: "A host SHOULD silently discard a datagram that is received via a
        # link-layer broadcast (see Section 2.4) but does not specify an IP multicast or broadcast
        # destination address."
        if cast == UNICAST and data[0] & 1:
            return Drop.IPV4_LINK_BROADCAST_UNICAST
        ihl = (h[0] & 0x0F) << 2
        if ihl > MIN_HEADER_LEN:
            checked = options.check(self, pkt, ihl)  # network/ipv4/options.py
            if type(checked) is Drop:
                return checked
            if checked.source_route >= 0:  # type: ignore[union-attr]
                # Linux ip_options_rcv_srr(): "if (skb->pkt_type != PACKET_HOST) return -EINVAL;"
                # a source-routed datagram must come to us alone, not as a broadcast or multicast.
                if cast != UNICAST:
                    return Drop.IPV4_SOURCE_ROUTE_FAILED
                # An accepted source route: deliver if completed, else we are a hop, not the end.
                verdict = forwarding.source_route_hop(self, pkt, h, checked)  # type: ignore[arg-type]
                if verdict is not forwarding.DELIVER:
                    return verdict  # type: ignore[return-value]
        if h[4] & _FRAGMENT_BITS:
            return self._reassemble(pkt, h)
        pkt.transport_offset = off + ihl
        if h[6] == PROTO_ICMP:
            return icmp.handle_packet(self, pkt, h, cast)
        return self.deliver(pkt, h, cast)

    def _classify_destination(self, dst: bytes) -> int | None:
        """RFC 1122 3.2.1.3: accept our addresses, limited and directed broadcasts, joined groups."""
        addresses = self.nic.addresses
        entry = addresses.entries.get(dst)
        if entry is not None:
            return UNICAST if entry.usable else None
        if dst == LIMITED_BROADCAST or dst in addresses.ipv4_broadcasts:
            return BROADCAST
        if 224 <= dst[0] <= 239:
            # RFC 1112 4: the all-hosts group 224.0.0.1 is joined "automatically" and permanently.
            return MULTICAST if dst == ALL_HOSTS or dst in self.nic.groups else None
        # RFC 1122 3.3.4.2 leaves the host model open; like Linux (weak ES model) we accept a
        # datagram for an address of ours that lives on another interface.
        for other in self.stack.nics.values():
            if other is not self.nic and other.is_local(dst):
                return UNICAST
        return None

    def _reassemble(self, pkt: PacketBuffer, h: HeaderTuple) -> Drop | None:
        """A fragment (options already verified): queued by network/ipv4/reassembly.py; the whole
        datagram re-enters ``handle_packet`` as a new PacketBuffer (frag helper)."""
        return self.protocol.reassembly.handle_fragment(self, pkt, h)

    def _forward(self, pkt: PacketBuffer, h: HeaderTuple) -> Drop | None:
        """Not for us: forwarded when enabled (RFC 1812, network/ipv4/forwarding.py)."""
        # RFC 1122 3.3.1: a host that is not a gateway silently discards what is not addressed to it.
        if not self.stack.forwarding[4]:
            return Drop.IPV4_NOT_FOR_US
        return forwarding.forward(self, pkt, h)

    def deliver(self, pkt: PacketBuffer, h: HeaderTuple, cast: int) -> Drop | None:
        """Hand a whole datagram (``pkt.transport_offset`` set) to ICMP or a transport protocol."""
        proto = h[6]
        if proto == PROTO_ICMP:
            return icmp.handle_packet(self, pkt, h, cast)
        if proto == PROTO_IGMP:
            return self.igmp.handle_packet(pkt, h, cast)
        transport = self.stack.transport_protocols.get(proto)
        if transport is None:
            # RFC 1122 3.2.2.1: a host SHOULD generate Destination Unreachable code 2 "(Protocol
            # Unreachable), if the designated transport protocol is not supported".
            if cast == UNICAST:
                icmp.send_error(self, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.PROTOCOL)
            return Drop.IPV4_UNKNOWN_PROTOCOL
        payload = memoryview(pkt.data)[pkt.transport_offset : pkt.end]
        return transport.handle_packet(TransportPacket(4, h[8], h[9], payload, pkt, self, cast != UNICAST))

    # ---- send ----------------------------------------------------------------------------------
    def select_source(self, dst: bytes) -> bytes | None:
        return self.nic.addresses.select_source(4, dst)

    def write_packet(
        self, route: Route, proto: int, payload: bytes, ttl: int | None = None, dont_fragment: bool = False,
    ) -> Drop | None:
        """Prepend a header (TTL 64, a fresh ID, header checksum) and transmit on ``route``.

        ``dont_fragment``: set DF, and refuse rather than fragment a datagram too big for the route
        (RFC 1191 3: Path MTU Discovery, which TCP uses, sends with the DF bit set)."""
        nic = route.nic
        if dont_fragment:
            if MIN_HEADER_LEN + len(payload) > route.mtu:
                nic.stats.count_tx_drop(Drop.PACKET_TOO_BIG)
                return Drop.PACKET_TOO_BIG
            header = encode_header(
                route.local, route.remote, proto, len(payload),
                self.protocol.next_ident(route.local, route.remote, proto), self._ttl if ttl is None else ttl,
                flags_frag=FLAG_DF,
            )
            self.transmit(nic, route.remote, route.next_hop, header + payload)
            return None
        if MIN_HEADER_LEN + len(payload) > route.mtu:
            # RFC 791 3.2: too big for the route's MTU: fragment it (network/ipv4/reassembly.py).
            return send_fragmented(
                self, route, proto, payload, self.protocol.next_ident(route.local, route.remote, proto),
                self._ttl if ttl is None else ttl, mtu=route.mtu,
            )
        header = encode_header(
            route.local, route.remote, proto, len(payload), self.protocol.next_ident(route.local, route.remote, proto),
            self._ttl if ttl is None else ttl,
        )
        self.transmit(nic, route.remote, route.next_hop, header + payload)
        return None

    def send_reply(self, remote: bytes, local: bytes, proto: int, payload: bytes) -> None:
        """Send ``payload`` from ``local`` (one of ours) back to ``remote``, e.g. an echo reply."""
        path = self._reply_paths.get((remote, local, proto))
        if path is not None:
            nic, template, routes_version, table, table_version, max_payload, bucket = path
            size = len(payload)
            if routes_version == self._routes.version and table_version == table.version and size <= max_payload:
                counters = self.protocol.idents.counters  # next_ident(), inlined with the cached bucket
                ident = counters[bucket]
                counters[bucket] = (ident + 1) & 0xFFFF
                nic.write_frame(template.encode(size, ident) + payload)
                return
        route = self.stack.find_route(remote, src=local)
        if route is None:
            self.nic.stats.count_tx_drop(Drop.NO_ROUTE)
            return
        self.write_packet(route, proto, payload)
        table = route.nic.neighbors[4]
        entry = table.entries.get(route.next_hop)
        if entry is not None and entry.state is NeighborState.STATIC and entry.mac is not None and remote[0] < 224:
            if len(self._reply_paths) >= 1024:
                self._reply_paths.clear()
            template = HeaderTemplate(local, remote, proto, self._ttl, entry.mac + route.nic.mac + b"\x08\x00")
            self._reply_paths[(remote, local, proto)] = (
                route.nic, template, self._routes.version, table, table.version, route.mtu - MIN_HEADER_LEN,
                self.protocol.idents.bucket(local, remote, proto),
            )

    def transmit(self, nic: NIC, dst: bytes, next_hop: bytes, packet: bytes) -> None:
        """Frame a finished datagram: multicast and broadcast map to MACs, unicast is resolved."""
        if 224 <= dst[0] <= 239:
            nic.write_packet(ipv4_multicast_mac(dst), ETH_P_IPV4, packet)
        elif dst == LIMITED_BROADCAST or dst in nic.addresses.ipv4_broadcasts:
            nic.write_packet(BROADCAST_MAC, ETH_P_IPV4, packet)
        else:
            nic.neighbors[4].send(next_hop, ETH_P_IPV4, packet)

    def on_neighbor_failed(self, addr: bytes, pending: list[tuple[int, bytes]]) -> None:
        """ARP gave up on ``addr``: forwarded datagrams that waited earn Host Unreachable."""
        forwarding.neighbor_failed(self, pending)

    def send_port_unreachable(self, tpkt: TransportPacket) -> None:
        # RFC 1122 3.2.2.1: a host SHOULD generate code 3 "(Port Unreachable), if the designated
        # transport protocol (e.g., UDP) is unable to demultiplex the datagram".
        if not tpkt.multicast:
            icmp.send_error(self, tpkt.pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.PORT)


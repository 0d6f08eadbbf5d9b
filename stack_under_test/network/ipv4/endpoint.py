"""IPv4 (RFC 791, RFC 1122 3.2.1) on one NIC: the receive path's checks and delivery upward.

The receive path is a run of guard clauses, each returning the named Drop that RFC 1122 3.2.1
asks for: the header (wire/ipv4.py), the source, the destination (not ours: forwarding.py), the
options (options.py; a malformed one is answered through icmp.py, a source route with hops left
goes on through forwarding.py), fragments (reassembly.py; the whole datagram is received here
again), then delivery to ICMP (icmp.py), IGMP (igmp.py) or a transport protocol. Collaborators
see this endpoint as an ``IPv4Host`` (contracts.py); whatever IPv4 sends leaves through the
stack's ``IPv4Output`` (output.py).
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import BROADCAST, MULTICAST, UNICAST, icmp, options, redirect_rx
from stack_under_test.network.ipv4.forwarding import IPv4Forwarding
from stack_under_test.network.ipv4.igmp import IGMP
from stack_under_test.network.ipv4.output import IPv4Output
from stack_under_test.network.ipv4.reassembly import IPv4Reassembly
from stack_under_test.network.pmtu import PathMTUCache
from stack_under_test.stack.addresses import AddressEntry, AddressState
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.wire.ipv4 import ALL_HOSTS, FRAGMENT_BITS, MIN_HEADER_LEN, IPv4Header
from stack_under_test.wire.ipv4_options import ParamProblem
from stack_under_test.wire.numbers import (
    ETH_P_IPV4,
    PROTO_ICMP,
    PROTO_IGMP,
    ICMPv4DestUnreachableCode,
    ICMPv4Type,
)

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface, Route
    from stack_under_test.stack.neighbor import Pending
    from stack_under_test.stack.route import RouteEntry
    from stack_under_test.stack.stack import Stack

_TENTATIVE = AddressState.TENTATIVE
_parse = IPv4Header.parse


class IPv4Protocol:
    ethertype = ETH_P_IPV4
    family = 4

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # Shared by every NIC: what IPv4 sends, what it forwards, the fragments it holds (a
        # datagram's fragments may arrive on different NICs).
        self.output = IPv4Output(stack)
        self.forwarding = IPv4Forwarding(stack)
        self.reassembly = IPv4Reassembly(stack)
        self.redirect_routes: dict[bytes, RouteEntry] = {}  # redirect_rx.py: /32 routes learned (RFC 1122 3.2.2.2)
        # RFC 1191: what Datagram Too Big messages taught, per destination (icmp.py learns it).
        self.pmtu = PathMTUCache(stack, "ipv4_pmtu_expiry", params.IPV4_MIN_MTU)

    def new_endpoint(self, nic: NetworkInterface) -> IPv4Endpoint:
        return IPv4Endpoint(self, nic)

    def on_forwarding_changed(self, enabled: bool) -> None:
        pass  # forwarding.py reads stack.forwarding per datagram


class IPv4Endpoint:
    def __init__(self, protocol: IPv4Protocol, nic: NetworkInterface) -> None:
        self.protocol = protocol
        self.stack = protocol.stack
        self.nic = nic
        self.output = protocol.output
        self._addresses = nic.addresses  # hot-path shortcut; it lives as long as the NIC
        self.redirect_routes = protocol.redirect_routes
        self.pmtu = protocol.pmtu
        self.igmp = IGMP(self.stack, nic, self.output)  # host group membership (igmp.py)

    # ---- lifecycle hooks ---------------------------------------------------------------------------
    def enable(self) -> None:
        self.igmp.enable()

    def on_link_address_changed(self) -> None:
        """Frames are built with the NIC's MAC as it is when sent, except the cached reply paths'
        prebuilt Ethernet headers: forget them."""
        self.output.forget_reply_paths()

    def disable(self) -> None:
        self.igmp.disable()
        redirect_rx.forget(self, self.redirect_routes)

    def on_address_added(self, entry: AddressEntry) -> None:
        pass  # IPv4 addresses are usable at once (no DAD)

    def on_address_removed(self, entry: AddressEntry) -> None:
        pass

    def on_group_joined(self, group: bytes) -> None:
        self.igmp.join(group)

    def on_group_left(self, group: bytes) -> None:
        self.igmp.leave(group)

    # ---- receive ---------------------------------------------------------------------------------
    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        data, off = pkt.data, pkt.network_offset
        h = _parse(data, off)
        if not isinstance(h, IPv4Header):  # a Drop (isinstance(h, Drop) costs more: Enum's metaclass)
            return h
        pkt.end = off + h.total_length  # trims Ethernet padding beyond the total length
        src, dst = h.src, h.dst
        addresses = self._addresses
        # RFC 1122 3.2.1.3: "A host MUST silently discard an incoming datagram containing an IP source
        # address that is invalid by the rules of this section": a broadcast or multicast (Class D)
        # source, and (g) loopback: "Addresses of this form MUST NOT appear outside a host."
        first = src[0]
        if 224 <= first <= 239 or first == 127 or src in addresses.ipv4_broadcasts:
            return Drop.IPV4_BAD_SOURCE
        entry = addresses.entries.get(dst)
        cast = UNICAST if entry is not None and entry.state is not _TENTATIVE else self._classify_destination(dst)
        if cast is None:
            return self._not_for_us(pkt, h)
        # RFC 1122 3.3.6: "A host SHOULD silently discard a datagram that is received via a
        # link-layer broadcast (see Section 2.4) but does not specify an IP multicast or broadcast
        # destination address."
        if cast == UNICAST and data[0] & 1:
            return Drop.IPV4_LINK_BROADCAST_UNICAST
        if h.ver_ihl == 0x45:  # version 4 and no options: the common case
            pkt.transport_offset = off + MIN_HEADER_LEN
        else:  # options (RFC 1122 3.2.1.8); a bad version was dropped above
            checked = options.check(self.stack, pkt, h)
            if isinstance(checked, ParamProblem):
                return icmp.send_param_problem(self, pkt, checked)
            if isinstance(checked, Drop):
                if checked is Drop.IPV4_SOURCE_ROUTE_NOT_FOLLOWED and cast == UNICAST:
                    # RFC 1122 3.3.5: "If a host receives a datagram with an incomplete source route
                    # but does not forward it for some reason, the host SHOULD return an ICMP
                    # Destination Unreachable (code 5, Source Route Failed) message, unless the
                    # datagram was itself an ICMP error message." (send_error checks the last.)
                    code = ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED
                    icmp.send_error(self, pkt, ICMPv4Type.DEST_UNREACHABLE, code)
                return checked
            if checked.source_route >= 0:
                # Linux ip_options_rcv_srr(): "if (skb->pkt_type != PACKET_HOST) return -EINVAL;"
                # a source-routed datagram must come to us alone, not as a broadcast or multicast.
                if cast != UNICAST:
                    return Drop.IPV4_SOURCE_ROUTE_FAILED
                next_hop = options.source_route_next_hop(pkt, h, checked)
                if next_hop is not None:  # we are a hop on its route, not its end
                    return self.protocol.forwarding.forward_source_routed(self, pkt, h, checked, next_hop)
            pkt.transport_offset = off + h.header_len
        if h.flags_frag & FRAGMENT_BITS:  # MF or a non-zero offset: a fragment
            # RFC 791 3.2: held until whole (reassembly.py); the whole datagram is received anew.
            whole = self.protocol.reassembly.handle_fragment(self, pkt, h)
            return self.handle_packet(whole) if isinstance(whole, PacketBuffer) else whole
        # Delivery: to ICMP, IGMP or the transport protocol the header names.
        proto = h.protocol
        if proto == PROTO_ICMP:
            return icmp.handle_packet(self, pkt, h, cast)
        if proto == PROTO_IGMP:
            return self.igmp.handle_packet(pkt, cast)
        if cast == MULTICAST:
            # RFC 3376 3.2: a group joined in INCLUDE mode takes datagrams from its sources only.
            included = self.nic.source_filters.get(h.dst)
            if included is not None and h.src not in included:
                return Drop.IPV4_MULTICAST_SOURCE_NOT_INCLUDED
        transport = self.stack.transport_protocols.get(proto)
        if transport is None:
            # RFC 1122 3.2.2.1: a host SHOULD generate Destination Unreachable code 2 "(Protocol
            # Unreachable), if the designated transport protocol is not supported".
            if cast == UNICAST:
                icmp.send_error(self, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.PROTOCOL)
            return Drop.IPV4_UNKNOWN_PROTOCOL
        payload = memoryview(pkt.data)[pkt.transport_offset : pkt.end]
        return transport.handle_packet(TransportPacket(4, h.src, h.dst, payload, pkt, self, cast != UNICAST))

    def _classify_destination(self, dst: bytes) -> int | None:
        """RFC 1122 3.2.1.3: accept our addresses, limited and directed broadcasts, joined groups."""
        addresses = self.nic.addresses
        entry = addresses.entries.get(dst)
        if entry is not None:
            return UNICAST if entry.usable else None
        if dst in addresses.ipv4_broadcasts:
            return BROADCAST
        if dst in addresses.ipv4_zero_broadcasts:
            # RFC 1122 3.3.6: "All hosts SHOULD recognize and accept any of these non-standard
            # broadcast addresses as the destination address of an incoming datagram."
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

    def _not_for_us(self, pkt: PacketBuffer, h: IPv4Header) -> Drop | None:
        """Not for us: forwarded when enabled (RFC 1812, forwarding.py)."""
        # RFC 1122 3.3.1: a host that is not a gateway silently discards what is not addressed to it.
        if not self.stack.forwarding[4]:
            return Drop.IPV4_NOT_FOR_US
        return self.protocol.forwarding.forward(self, pkt, h)

    # ---- send (IPEndpoint) -------------------------------------------------------------------------
    def select_source(self, dst: bytes) -> bytes | None:
        return self.nic.addresses.select_source(4, dst)

    def path_mtu(self, dst: bytes) -> int:
        """The NIC's MTU, or less where a Datagram Too Big taught a smaller one (RFC 1191)."""
        learned = self.pmtu.get(dst)
        return self.nic.mtu if learned is None else min(learned, self.nic.mtu)

    def write_packet(
        self, route: Route, proto: int, payload: bytes, *, dont_fragment: bool = False, ttl: int | None = None,
        tos: int = 0, options: bytes = b"", discover_mtu: bool = False,
    ) -> Drop | None:
        """Prepend a header (a fresh ID; the default TTL unless given) and transmit on ``route`` (output.py).

        ``discover_mtu``: Path MTU Discovery (RFC 1191 3: "The basic idea is that a source host
        initially assumes that the PMTU of a path is the (known) MTU of the first hop, and sends all
        datagrams on that path with the DF bit set"). A datagram within the path MTU leaves with
        DF set; a larger one is fragmented to the path MTU without DF, as Linux does
        (IP_PMTUDISC_WANT, its UDP default)."""
        if discover_mtu:
            learned = self.pmtu.get(route.remote)
            mtu = route.mtu if learned is None else min(route.mtu, learned)
            fits = MIN_HEADER_LEN + len(options) + len(payload) <= mtu
            return self.output.write_packet(route, proto, payload, dont_fragment=fits, ttl=ttl, tos=tos,
                                            options=options, mtu=mtu)
        return self.output.write_packet(route, proto, payload, dont_fragment=dont_fragment, ttl=ttl, tos=tos,
                                        options=options)

    def send_port_unreachable(self, tpkt: TransportPacket) -> None:
        # RFC 1122 3.2.2.1: a host SHOULD generate code 3 "(Port Unreachable), if the designated
        # transport protocol (e.g., UDP) is unable to demultiplex the datagram".
        if not tpkt.multicast:
            icmp.send_error(self, tpkt.pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.PORT)

    def on_neighbor_failed(self, addr: bytes, pending: list[Pending]) -> None:
        """ARP gave up on ``addr``: forwarded datagrams that waited earn Host Unreachable."""
        self.protocol.forwarding.neighbor_failed(self, pending)

    # ---- routing (IPEndpoint) ------------------------------------------------------------------------
    def keeps_on_link_route(self, network: IPv4Network | IPv6Network) -> bool:
        return False  # IPv4 learns no on-link prefixes: a subnet is on-link while we hold an address in it

    def default_router(self) -> bytes | None:
        return None  # IPv4 learns no default routers (no RFC 1256 router discovery); routes are configured

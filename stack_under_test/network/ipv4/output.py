"""IPv4 output (RFC 791 3.2, RFC 1122 3.3): headers, IDs, fragmentation and framing of what we send.

One ``IPv4Output`` per stack serves every NIC: whatever IPv4 sends (transport payloads, ICMP
messages, IGMP reports, forwarded datagrams) leaves through ``transmit``, which maps multicast and
broadcast destinations to MACs and resolves unicast next hops through the NIC's neighbor table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import fragment_ipv4
from stack_under_test.network.ipv4.ident import IdentAllocator
from stack_under_test.network.ipv4.options import originate
from stack_under_test.stack.neighbor import NeighborState, NeighborTable
from stack_under_test.wire.ethernet import BROADCAST_MAC, ipv4_multicast_mac
from stack_under_test.wire.ipv4 import FLAG_DF, MIN_HEADER_LEN, HeaderTemplate, encode_header
from stack_under_test.wire.numbers import ETH_P_IPV4

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface, Route
    from stack_under_test.stack.stack import Stack

_REPLY_PATHS_MAX = 1024

# A cached reply path to one remote address: our address and the protocol it is for, the out
# NIC's write_frame, the Ethernet+IPv4 header template, the route table's version, the neighbor
# table and its version, the largest payload, and the IP ID counter the (src, dst, proto) tuple uses.
_ReplyPath = tuple[bytes, int, Callable[[bytes], bool], HeaderTemplate, int, NeighborTable, int, int, int]


class IPv4Output:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # RFC 6864: IDs unique per (src, dst, protocol), not one global counter (ident.py).
        self.idents = IdentAllocator(stack.rng)
        self._routes = stack.routes
        # remote -> _ReplyPath: replies to a STATIC neighbor skip route lookup and resolution while
        # neither table has changed. Bounded; only filled for static neighbors, so Neighbor
        # Unreachability Detection is never bypassed.
        self._reply_paths: dict[bytes, _ReplyPath] = {}

    def forget_reply_paths(self) -> None:
        """A NIC's MAC changed: the cached paths' Ethernet headers carry the old one."""
        self._reply_paths.clear()

    def next_ident(self, src: bytes, dst: bytes, proto: int) -> int:
        """The ID for a datagram from ``src`` to ``dst`` carrying ``proto`` (RFC 6864 4.1)."""
        return self.idents.next(src, dst, proto)

    def transmit(self, nic: NetworkInterface, dst: bytes, next_hop: bytes, packet: bytes) -> None:
        """Frame a finished datagram: multicast and broadcast map to MACs, unicast is resolved."""
        if 224 <= dst[0] <= 239:
            nic.write_packet(ipv4_multicast_mac(dst), ETH_P_IPV4, packet)
        elif dst in nic.addresses.ipv4_broadcasts:
            nic.write_packet(BROADCAST_MAC, ETH_P_IPV4, packet)
        else:
            nic.neighbors[4].send(next_hop, ETH_P_IPV4, packet)

    def write_packet(
        self, route: Route, proto: int, payload: bytes, *, dont_fragment: bool = False, ttl: int | None = None,
        tos: int = 0, options: bytes = b"", mtu: int | None = None,
    ) -> Drop | None:
        """Prepend a header (a fresh ID; the default TTL unless ``ttl``; ``tos``; ``options`` as the
        originating host processes them) and transmit on ``route``. ``dont_fragment`` sets DF and
        refuses a datagram too big for the route (RFC 1191 3). ``mtu``: a path MTU below the
        route's to fragment to."""
        # RFC 1122 3.2.1.7: "The IP layer MUST provide a means for the transport layer to set the
        # TTL field of every datagram that is sent"; 3.2.1.6 the same for TOS, "the default is all
        # zero bits"; 3.2.1.8 for options.
        ttl = self.stack.default_ttl if ttl is None else ttl
        if options:
            originated = originate(self.stack, options, route.local, route.remote)
            if isinstance(originated, Drop):
                route.nic.stats.count_tx_drop(originated)
                return originated
            first_hop, strict, options = originated
            if first_hop != route.remote:
                # A source route: the datagram goes to its first hop (options.originate).
                hop_route = self.stack.find_route(first_hop, src=route.local)
                if hop_route is None or (strict and hop_route.gateway):
                    route.nic.stats.count_tx_drop(Drop.IPV4_BAD_OUTGOING_OPTIONS)
                    return Drop.IPV4_BAD_OUTGOING_OPTIONS
                route = hop_route
        ident = self.idents.next(route.local, route.remote, proto)
        limit = route.mtu if mtu is None else min(mtu, route.mtu)
        if MIN_HEADER_LEN + len(options) + len(payload) > limit:
            if dont_fragment:
                route.nic.stats.count_tx_drop(Drop.PACKET_TOO_BIG)
                return Drop.PACKET_TOO_BIG
            # RFC 791 3.2: too big for the route's MTU: fragment it.
            self.send_fragmented(route, proto, payload, ident, ttl, options=options, tos=tos, mtu=limit)
            return None
        flags_frag = FLAG_DF if dont_fragment else 0
        header = encode_header(route.local, route.remote, proto, len(payload), ident, ttl, tos, flags_frag, options)
        self.transmit(route.nic, route.remote, route.next_hop, header + payload)
        return None

    def send_with_options(self, route: Route, proto: int, payload: bytes, options: bytes) -> None:
        """A datagram from ``route.local`` to ``route.remote`` whose header carries ``options``
        (padded). With a source route, ``route.remote`` is the first hop and the final destination
        is in the options."""
        dst = route.remote
        ident = self.idents.next(route.local, dst, proto)
        if MIN_HEADER_LEN + len(options) + len(payload) > route.mtu:
            # RFC 791 3.2: fragment; only copied options go past the first fragment.
            self.send_fragmented(route, proto, payload, ident, self.stack.default_ttl, options=options)
            return
        header = encode_header(route.local, dst, proto, len(payload), ident, self.stack.default_ttl, options=options)
        self.transmit(route.nic, dst, route.next_hop, header + payload)

    def send_fragmented(
        self, route: Route, proto: int, payload: bytes, ident: int, ttl: int, *, options: bytes = b"", tos: int = 0,
        mtu: int | None = None,
    ) -> None:
        """Send ``payload``, too big for ``mtu`` (default ``route.mtu``), in fragments (RFC 791 3.2)."""
        size = route.mtu if mtu is None else mtu
        packets = fragment_ipv4(route.local, route.remote, proto, payload, ident, ttl, size, tos=tos, options=options)
        route.nic.stats.count_event("ipv4_datagram_fragmented")
        for packet in packets:
            self.transmit(route.nic, route.remote, route.next_hop, packet)

    def send_reply(self, nic: NetworkInterface, remote: bytes, local: bytes, proto: int, payload: bytes) -> None:
        """Send ``payload`` from ``local`` (one of ours) back to ``remote``, e.g. an echo reply to a
        request that came in on ``nic``."""
        path = self._reply_paths.get(remote)
        if path is not None:
            path_local, path_proto, write_frame, template, routes_version, table, table_version, max_payload, bucket = path
            size = len(payload)
            if (
                path_local == local and path_proto == proto and routes_version == self._routes.version
                and table_version == table.version and size <= max_payload
            ):
                counters = self.idents.counters  # next_ident(), inlined with the cached bucket
                ident = counters[bucket]
                counters[bucket] = (ident + 1) & 0xFFFF
                write_frame(template.encode(size, ident) + payload)
                return
        route = self.stack.find_route(remote, src=local)
        if route is None:
            nic.stats.count_tx_drop(Drop.NO_ROUTE)
            return
        self.write_packet(route, proto, payload)
        table = route.nic.neighbors[4]
        entry = table.entries.get(route.next_hop)
        if entry is not None and entry.state is NeighborState.STATIC and entry.mac is not None and remote[0] < 224:
            if len(self._reply_paths) >= _REPLY_PATHS_MAX:
                self._reply_paths.clear()
            template = HeaderTemplate(local, remote, proto, self.stack.default_ttl, entry.mac + route.nic.mac + b"\x08\x00")
            self._reply_paths[remote] = (
                local, proto, route.nic.write_frame, template, self._routes.version, table, table.version, route.mtu - MIN_HEADER_LEN,
                self.idents.bucket(local, remote, proto),
            )

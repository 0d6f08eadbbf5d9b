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
        self._ttl = stack.options.default_ttl
        # remote -> _ReplyPath: replies to a STATIC neighbor skip route lookup and resolution while
        # neither table has changed. Bounded; only filled for static neighbors, so Neighbor
        # Unreachability Detection is never bypassed.
        self._reply_paths: dict[bytes, _ReplyPath] = {}

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

    def write_packet(self, route: Route, proto: int, payload: bytes, *, dont_fragment: bool = False,
                     tos: int = 0, ttl: int | None = None) -> Drop | None:
        """Prepend a header (``ttl`` or the default TTL, ``tos``, a fresh ID, no options) and
        transmit on ``route``. ``dont_fragment`` sets DF and refuses a datagram too big for the
        route (RFC 1191 3). Fragments (of a datagram without DF) carry TOS 0."""
        ident = self.idents.next(route.local, route.remote, proto)
        hops = self._ttl if ttl is None else ttl
        if MIN_HEADER_LEN + len(payload) > route.mtu:
            if dont_fragment:
                route.nic.stats.count_tx_drop(Drop.PACKET_TOO_BIG)
                return Drop.PACKET_TOO_BIG
            # RFC 791 3.2: too big for the route's MTU: fragment it.
            return self.send_fragmented(route, proto, payload, ident, hops)
        flags_frag = FLAG_DF if dont_fragment else 0
        header = encode_header(route.local, route.remote, proto, len(payload), ident, hops, tos=tos, flags_frag=flags_frag)
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
            self.send_fragmented(route, proto, payload, ident, self._ttl, options=options)
            return
        header = encode_header(route.local, dst, proto, len(payload), ident, self._ttl, options=options)
        self.transmit(route.nic, dst, route.next_hop, header + payload)

    def send_fragmented(
        self, route: Route, proto: int, payload: bytes, ident: int, ttl: int, *, options: bytes = b""
    ) -> Drop | None:
        """Send ``payload`` in as many datagrams as ``route.mtu`` needs (RFC 791 3.2)."""
        packets = fragment_ipv4(route.local, route.remote, proto, payload, ident, ttl, route.mtu, options=options)
        if isinstance(packets, Drop):
            route.nic.stats.count_tx_drop(packets)
            return packets
        if len(packets) > 1:
            route.nic.stats.count_event("ipv4_datagram_fragmented")
        for packet in packets:
            self.transmit(route.nic, route.remote, route.next_hop, packet)
        return None

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
            template = HeaderTemplate(local, remote, proto, self._ttl, entry.mac + route.nic.mac + b"\x08\x00")
            self._reply_paths[remote] = (
                local, proto, route.nic.write_frame, template, self._routes.version, table, table.version, route.mtu - MIN_HEADER_LEN,
                self.idents.bucket(local, remote, proto),
            )

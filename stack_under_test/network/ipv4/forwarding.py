"""IPv4 forwarding (RFC 1812 5), when ``stack.set_forwarding(4, True)``.

The checks run in the order of Linux ip_rcv_finish() / ip_forward(): options (and the source-route
policy), route lookup (none: Destination Unreachable, net), TTL (Time Exceeded), the next hop's
MTU (DF: Fragmentation Needed with the MTU, RFC 1191; otherwise fragment), then the TTL decrement,
a Redirect when the datagram leaves by the interface it came in on, and transmission.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.fragmentation import fragment_ipv4
from stack_under_test.network.ipv4 import icmp, options
from stack_under_test.wire import ipv4_options
from stack_under_test.wire.checksum import incremental_update
from stack_under_test.wire.ipv4 import FLAG_DF, MIN_HEADER_LEN, IPv4Header, encode_header
from stack_under_test.wire.ipv4_options import ParamProblem, Processed, Usage
from stack_under_test.wire.numbers import (
    ETH_P_IPV4,
    ICMPv4DestUnreachableCode,
    ICMPv4TimeExceededCode,
    ICMPv4Type,
)

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.contracts import IPv4Host
    from stack_under_test.stack.interfaces import Route
    from stack_under_test.stack.neighbor import Pending
    from stack_under_test.stack.stack import Stack

_REDIRECT_HOST: Final = 1  # RFC 792 Redirect "1 = Redirect datagrams for the Host"
_DST_FIELD: Final = 16  # offset of the destination address in the IPv4 header
_REDIRECT_PEERS_MAX: Final = 1024


class IPv4Forwarding:
    """Forwarding for every NIC of a stack; ``ep`` is the endpoint the datagram came in on."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # Redirects sent per source: [count, time of the last one] (Linux's inet_peer rate_tokens).
        self.redirect_peers: dict[bytes, list[int]] = {}

    def forward(self, ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header) -> Drop | None:
        """A datagram that is not for us, received on ``ep`` while forwarding is on."""
        src, dst = h.src, h.dst
        # RFC 1812 5.3.4: "A router SHOULD NOT forward ... a packet [that] was received as a
        # link-layer broadcast" or multicast unless it is addressed to an IP broadcast or multicast.
        if pkt.data[0] & 1:
            return Drop.IPV4_FORWARD_LINK_BROADCAST
        # RFC 1812 5.3.7: a router "SHOULD NOT forward any packet that has an invalid IP source
        # address or a source address on network 0" and MUST NOT forward to a destination of 0/8,
        # 127/8 or class E; we forward no multicast either (no multicast routing).
        if dst[0] in (0, 127) or dst[0] >= 224 or src[0] == 0:
            return Drop.IPV4_FORWARD_MARTIAN
        checked: Processed | None = None
        if h.header_len > MIN_HEADER_LEN:
            result = options.check(self.stack, pkt, h)
            if isinstance(result, ParamProblem):
                return icmp.send_param_problem(ep, pkt, result)
            if isinstance(result, Drop):
                return result
            # Linux ip_options_rcv_srr(): a strict source route whose current destination is not
            # us was broken by the previous hop: Parameter Problem pointing at the destination field.
            if result.strict:
                icmp.send_error(ep, pkt, ICMPv4Type.PARAMETER_PROBLEM, 0, _DST_FIELD << 24)
                return Drop.IPV4_SOURCE_ROUTE_FAILED
            checked = result
        return self._forward_to(ep, pkt, h, dst, checked)

    def forward_source_routed(
        self, ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, checked: Processed, next_hop: bytes
    ) -> Drop | None:
        """A datagram addressed to us whose accepted LSRR/SSRR lists ``next_hop`` next: forward
        it there (RFC 791: "the recorded route address replaces the source route address just
        used, and the pointer is increased by four")."""
        if not self.stack.forwarding[4] or next_hop[0] in (0, 127) or next_hop[0] >= 224:
            # We are a listed hop but do not forward (RFC 1122 3.3.5: a host that does not act as
            # a gateway does not pass source-routed datagrams on), or the next hop is no host.
            code = ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED
            icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, code)
            return Drop.IPV4_SOURCE_ROUTE_FAILED
        return self._forward_to(ep, pkt, h, next_hop, checked, source_routed=True)

    def _forward_to(
        self, ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, dst: bytes, checked: Processed | None,
        source_routed: bool = False,
    ) -> Drop | None:
        route = self.stack.find_route(dst)
        if route is None:
            # RFC 1812 5.2.7.1: "If the router has no route to the destination, it SHOULD send an
            # ICMP Destination Unreachable ... Network Unreachable" (Linux: code 0 for no route).
            icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.NET)
            return Drop.IPV4_NO_ROUTE
        if checked is not None and checked.strict and source_routed and route.gateway:
            # RFC 791 SSRR: "the next address in the source route must be the address of a gateway
            # on a directly connected network" -- otherwise the source route fails.
            icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED)
            return Drop.IPV4_SOURCE_ROUTE_FAILED
        if h.ttl <= 1:
            # RFC 1812 5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be
            # discarded, and if the destination is not a multicast address the router MUST send an
            # ICMP Time Exceeded message, Code 0 (TTL Exceeded in Transit)". Linux: "if (ttl <= 1)
            # goto too_many_hops".
            icmp.send_error(ep, pkt, ICMPv4Type.TIME_EXCEEDED, ICMPv4TimeExceededCode.TTL)
            return Drop.IPV4_TTL_EXCEEDED
        too_big = h.total_length > route.mtu
        if too_big and h.flags_frag & FLAG_DF:
            # RFC 1191 4: the router "MUST include the MTU of that next-hop network in the low-order
            # 16 bits of the ICMP header field that is labelled "unused" in the ICMP specification".
            code = ICMPv4DestUnreachableCode.FRAGMENTATION_NEEDED
            icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, code, route.mtu & 0xFFFF)
            return Drop.IPV4_FRAGMENTATION_NEEDED
        forwarded_options = b""
        if h.header_len > MIN_HEADER_LEN:
            processed = self._options_for(pkt, h, route, source_routed)
            if isinstance(processed, Drop):
                return processed
            forwarded_options = processed
        if self.stack.send_redirects and not source_routed and (checked is None or checked.source_route < 0):
            self._maybe_redirect(ep, pkt, h, route)
        ep.nic.stats.count_event("ipv4_forwarded")
        off = pkt.network_offset
        payload = pkt.data[off + h.header_len : pkt.end]
        if too_big:
            self._send_fragmented(ep, route, h, dst, forwarded_options, payload)
            return None
        if forwarded_options:
            header = encode_header(
                h.src, dst, h.protocol, len(payload), h.ident, h.ttl - 1, h.tos, h.flags_frag, forwarded_options
            )
        else:
            header = _decrement_ttl(pkt.data[off : off + MIN_HEADER_LEN], h.ttl)
        ep.output.transmit(route.nic, dst, route.next_hop, header + payload)
        return None

    def _options_for(self, pkt: PacketBuffer, h: IPv4Header, route: Route, source_routed: bool) -> bytes | Drop:
        """The options of the forwarded datagram: RR and TS record the outgoing interface's
        address (RFC 791), unknown options pass on, a source route advances."""
        result = options.process(self.stack, pkt, h, Usage.FORWARD, route.local)
        if isinstance(result, ParamProblem):  # verified on receipt; cannot happen
            return Drop.IPV4_BAD_OPTIONS
        if source_routed and result.source_route >= 0:
            return ipv4_options.advance_source_route(result.options, result.source_route, route.local)
        return result.options

    def _send_fragmented(
        self, ep: IPv4Host, route: Route, h: IPv4Header, dst: bytes, forwarded_options: bytes, payload: bytes
    ) -> None:
        """RFC 791 3.2 / RFC 1812 5.2.6: a datagram without DF that exceeds the next hop's MTU is
        fragmented: 8-octet multiples, MF on all but the last piece (and on the last if the
        datagram was itself a non-last fragment), offsets relative to the original datagram, only
        options with the copied flag in fragments after the first."""
        pieces = fragment_ipv4(
            h.src, dst, h.protocol, payload, h.ident, h.ttl - 1, route.mtu, tos=h.tos, options=forwarded_options,
            flags_frag=h.flags_frag,
        )
        route.nic.stats.count_event("ipv4_forward_fragmented")
        for piece in pieces:
            ep.output.transmit(route.nic, dst, route.next_hop, piece)

    def _maybe_redirect(self, ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, route: Route) -> None:
        """RFC 1812 5.2.7.2: "Routers MUST NOT generate a Redirect Message unless all the following
        conditions are met: The packet is being forwarded out the same physical interface that it
        was received from, The IP source address in the packet is on the same Logical IP
        (sub)network as the next-hop IP address, and The packet does not contain an IP source
        route option." Linux (send_redirects=1) sends code 1, Redirect for the Host, naming the
        next hop."""
        if route.nic is not ep.nic:
            return
        src = int.from_bytes(h.src, "big")
        next_hop = int.from_bytes(route.next_hop, "big")
        for entry in ep.nic.addresses.of_family(4):
            net = entry.interface.network
            mask, base = int(net.netmask), int(net.network_address)
            if src & mask == base and next_hop & mask == base:
                if self._redirect_allowed(h.src):
                    icmp.send_error(ep, pkt, ICMPv4Type.REDIRECT, _REDIRECT_HOST, next_hop)
                return

    def _redirect_allowed(self, src: bytes) -> bool:
        """Linux ip_rt_send_redirect()'s back-off per source: the first redirect at once, the n-th
        only REDIRECT_LOAD_MS << n after the previous, none after REDIRECT_NUMBER, and a fresh
        start after REDIRECT_SILENCE_MS without redirected datagrams."""
        peers = self.redirect_peers
        now = self.stack.clock.now_ms
        peer = peers.get(src)
        if peer is None:
            if len(peers) >= _REDIRECT_PEERS_MAX:  # bounded memory
                peers.clear()
            peer = peers[src] = [0, now]
        count, last = peer
        if now - last > params.REDIRECT_SILENCE_MS:
            count = 0
        if count >= params.REDIRECT_NUMBER:
            peer[:] = [count, now]
            return False
        if count == 0 or now > last + (params.REDIRECT_LOAD_MS << count):
            peer[:] = [count + 1, now]
            return True
        peer[0] = count
        return False

    def neighbor_failed(self, ep: IPv4Host, pending: list[Pending]) -> None:
        """Address resolution of a next hop failed. RFC 1812 5.2.7.1 / 4.3.3.1: the router sends
        Destination Unreachable "Host Unreachable" (code 1) for each forwarded datagram that
        waited, as Linux ipv4_link_failure() does. Datagrams we originated are just dropped
        (counted by ARP)."""
        for ethertype, packet in pending:
            if ethertype != ETH_P_IPV4 or len(packet) < MIN_HEADER_LEN:
                continue
            if any(nic.is_local(IPv4Header.read(packet).src) for nic in self.stack.nics.values()):
                continue
            # A frame-shaped buffer for send_error: a zero (unicast) Ethernet destination, the datagram.
            frame = PacketBuffer(bytes(14) + packet, 14, ep.nic)
            icmp.send_error(ep, frame, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.HOST)


def _decrement_ttl(header: bytes, ttl: int) -> bytes:
    """RFC 791: the TTL "must be decreased at each point that the internet header is processed";
    RFC 1624 3 eqn. 3 updates the checksum for the changed TTL/protocol word in place."""
    old_word = ttl << 8 | header[9]
    csum = incremental_update(header[10] << 8 | header[11], old_word, old_word - 0x100)
    return header[:8] + bytes((ttl - 1, header[9], csum >> 8, csum & 0xFF)) + header[12:]

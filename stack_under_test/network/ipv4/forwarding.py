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
from stack_under_test.network.ipv4 import icmp, options
from stack_under_test.wire import ipv4_options
from stack_under_test.wire.checksum import incremental_update
from stack_under_test.wire.ipv4 import (
    FLAG_DF,
    FLAG_MF,
    MIN_HEADER_LEN,
    OFFSET_MASK,
    HeaderTuple,
    encode_header,
)
from stack_under_test.wire.ipv4_options import ParamProblem, Processed, Usage, copied_options
from stack_under_test.wire.numbers import ICMPv4DestUnreachableCode, ICMPv4TimeExceededCode, ICMPv4Type

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.endpoint import IPv4Endpoint
    from stack_under_test.stack.stack import Route

DELIVER: Final = object()  # source_route_hop(): the route is completed, deliver the datagram here
_REDIRECT_HOST: Final = 1  # RFC 792 Redirect "1 = Redirect datagrams for the Host"
_DST_FIELD: Final = 16  # offset of the destination address in the IPv4 header


def forward(ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple) -> Drop | None:
    """A datagram that is not for us, received on ``ep`` while forwarding is on."""
    src, dst = h[8], h[9]
    # RFC 1812 5.3.4: "A router SHOULD NOT forward ... a packet [that] was received as a
    # link-layer broadcast" or multicast unless it is addressed to an IP broadcast or multicast.
    if pkt.data[0] & 1:
        return Drop.IPV4_FORWARD_LINK_BROADCAST
    # RFC 1812 5.3.7: a router "SHOULD NOT forward any packet that has an invalid IP source
    # address or a source address on network 0" and MUST NOT forward to a destination of 0/8,
    # 127/8 or class E; we forward no multicast either (no multicast routing).
    if dst[0] in (0, 127) or dst[0] >= 224 or src[0] == 0:
        return Drop.IPV4_FORWARD_MARTIAN
    ihl = (h[0] & 0x0F) << 2
    checked: Processed | None = None
    if ihl > MIN_HEADER_LEN:
        result = options.check(ep, pkt, ihl)
        if isinstance(result, Drop):
            return result
        checked = result
        # Linux ip_options_rcv_srr(): a strict source route whose current destination is not us
        # was broken by the previous hop: Parameter Problem pointing at the destination field.
        if checked.strict:
            icmp.send_error(ep, pkt, ICMPv4Type.PARAMETER_PROBLEM, 0, _DST_FIELD << 24)
            return Drop.IPV4_SOURCE_ROUTE_FAILED
    return _forward_to(ep, pkt, h, dst, ihl, checked)


def source_route_hop(ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple, checked: Processed) -> Drop | object | None:
    """A datagram addressed to us with an accepted LSRR/SSRR: DELIVER when the route is completed,
    else forward it to the next listed address (RFC 791: "the recorded route address replaces the
    source route address just used, and the pointer is increased by four")."""
    ihl = (h[0] & 0x0F) << 2
    opts = options.options_of(pkt, ihl)
    next_hop = ipv4_options.source_route_next_hop(opts, checked.source_route)
    if next_hop is None:
        return DELIVER
    if not ep.stack.forwarding[4]:
        # We are a listed hop but do not forward (RFC 1122 3.3.5: a host that does not act as a
        # gateway does not pass source-routed datagrams on).
        icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED)
        return Drop.IPV4_SOURCE_ROUTE_FAILED
    if next_hop[0] in (0, 127) or next_hop[0] >= 224:
        icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED)
        return Drop.IPV4_SOURCE_ROUTE_FAILED
    return _forward_to(ep, pkt, h, next_hop, ihl, checked, source_routed=True)


def _forward_to(
    ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple, dst: bytes, ihl: int, checked: Processed | None,
    source_routed: bool = False,
) -> Drop | None:
    stack = ep.stack
    route = stack.find_route(dst)
    if route is None:
        # RFC 1812 5.2.7.1: "If the router has no route to the destination, it SHOULD send an
        # ICMP Destination Unreachable ... Network Unreachable" (Linux: code 0 for no route).
        icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.NET)
        return Drop.IPV4_NO_ROUTE
    if checked is not None and checked.strict and source_routed and route.gateway:
        # RFC 791 SSRR: "the next address in the source route must be the address of a gateway on
        # a directly connected network" -- otherwise the source route fails.
        icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.SOURCE_ROUTE_FAILED)
        return Drop.IPV4_SOURCE_ROUTE_FAILED
    ttl = h[5]
    if ttl <= 1:
        # RFC 1812 5.3.1: "If the TTL is reduced to zero (or less), the packet MUST be discarded,
        # and if the destination is not a multicast address the router MUST send an ICMP Time
        # Exceeded message, Code 0 (TTL Exceeded in Transit)". Linux: "if (ttl <= 1) goto too_many_hops".
        icmp.send_error(ep, pkt, ICMPv4Type.TIME_EXCEEDED, ICMPv4TimeExceededCode.TTL)
        return Drop.IPV4_TTL_EXCEEDED
    total = h[2]
    data, off = pkt.data, pkt.network_offset
    if total > route.mtu and h[4] & FLAG_DF:
        # RFC 1191 4: the router "MUST include the MTU of that next-hop network in the low-order
        # 16 bits of the ICMP header field that is labelled "unused" in the ICMP specification".
        icmp.send_error(
            ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.FRAGMENTATION_NEEDED, route.mtu & 0xFFFF
        )
        return Drop.IPV4_FRAGMENTATION_NEEDED
    if ihl > MIN_HEADER_LEN:
        packet = _with_new_options(ep, pkt, h, dst, ihl, route, source_routed)
        if isinstance(packet, Drop):
            return packet
    else:
        packet = _decrement_ttl(bytes(data[off : pkt.end]), ttl)
    if stack.send_redirects and not source_routed and (checked is None or checked.source_route < 0):
        _maybe_redirect(ep, pkt, h, route)
    ep.nic.stats.count_event("ipv4_forwarded")
    if total > route.mtu:
        return _fragment_and_send(ep, route, packet, ihl)
    ep.transmit(route.nic, dst, route.next_hop, packet)
    return None


def _decrement_ttl(packet: bytes, ttl: int) -> bytes:
    """RFC 791: the TTL "must be decreased at each point that the internet header is processed";
    RFC 1624 3 eqn. 3 updates the checksum for the changed TTL/protocol word in place."""
    old_word = ttl << 8 | packet[9]
    csum = incremental_update(packet[10] << 8 | packet[11], old_word, old_word - 0x100)
    return packet[:8] + bytes((ttl - 1, packet[9], csum >> 8, csum & 0xFF)) + packet[12:]


def _with_new_options(
    ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple, dst: bytes, ihl: int, route: Route, source_routed: bool
) -> bytes | Drop:
    """The forwarded datagram with its options processed for forwarding: RR and TS record the
    outgoing interface's address (RFC 791), unknown options pass on, a source route advances."""
    result = options.process(ep, pkt, ihl, Usage.FORWARD, route.local)
    if isinstance(result, ParamProblem):  # verified on receipt; cannot happen
        return Drop.IPV4_BAD_OPTIONS
    opts = result.options
    if source_routed and result.source_route >= 0:
        opts = ipv4_options.advance_source_route(opts, result.source_route, route.local)
    off = pkt.network_offset
    payload = pkt.data[off + ihl : pkt.end]
    return encode_header(h[8], dst, h[6], len(payload), h[3], h[5] - 1, h[1], h[4], opts) + payload


def _maybe_redirect(ep: IPv4Endpoint, pkt: PacketBuffer, h: HeaderTuple, route: Route) -> None:
    """RFC 1812 5.2.7.2: "Routers MUST NOT generate a Redirect Message unless all the following
    conditions are met: The packet is being forwarded out the same physical interface that it was
    received from, The IP source address in the packet is on the same Logical IP (sub)network as
    the next-hop IP address, and The packet does not contain an IP source route option."
    Linux (send_redirects=1) sends code 1, Redirect for the Host, naming the next hop."""
    if route.nic is not ep.nic:
        return
    src = int.from_bytes(h[8], "big")
    next_hop = int.from_bytes(route.next_hop, "big")
    for entry in ep.nic.addresses.of_family(4):
        net = entry.interface.network
        mask, base = int(net.netmask), int(net.network_address)
        if src & mask == base and next_hop & mask == base:
            if _redirect_allowed(ep, h[8]):
                icmp.send_error(ep, pkt, ICMPv4Type.REDIRECT, _REDIRECT_HOST, next_hop)
            return


def _redirect_allowed(ep: IPv4Endpoint, src: bytes) -> bool:
    """Linux ip_rt_send_redirect()'s back-off per source: the first redirect at once, the n-th
    only REDIRECT_LOAD_MS << n after the previous, none after REDIRECT_NUMBER, and a fresh start
    after REDIRECT_SILENCE_MS without redirected datagrams."""
    peers = ep.protocol.redirect_peers
    now = ep.stack.clock.now_ms
    peer = peers.get(src)
    if peer is None:
        if len(peers) >= 1024:  # bounded memory
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


def _fragment_and_send(ep: IPv4Endpoint, route: Route, packet: bytes, ihl: int) -> Drop | None:
    """RFC 791 3.2 / RFC 1812 5.2.6: a datagram without DF that exceeds the next hop's MTU is
    fragmented: 8-octet multiples, MF on all but the last piece (and on the last if the datagram
    was itself a non-last fragment), offsets relative to the original datagram, only options with
    the copied flag in fragments after the first."""
    mtu = route.mtu
    tos, total, ident, flags_frag, ttl, proto = packet[1], len(packet), packet[4] << 8 | packet[5], \
        packet[6] << 8 | packet[7], packet[8], packet[9]
    src, dst = packet[12:16], packet[16:20]
    opts = packet[MIN_HEADER_LEN:ihl]
    later = copied_options(opts)
    payload = packet[ihl:total]
    base = (flags_frag & OFFSET_MASK) << 3
    more_after = flags_frag & FLAG_MF
    pieces: list[bytes] = []
    pos = 0
    header_opts = opts
    while pos < len(payload):
        room = (mtu - MIN_HEADER_LEN - len(header_opts)) & ~7
        if room <= 0:
            route.nic.stats.count_tx_drop(Drop.PACKET_TOO_BIG)
            return Drop.IPV4_FORWARD_CANNOT_FRAGMENT
        chunk = payload[pos : pos + room]
        last = pos + len(chunk) >= len(payload)
        ff = ((base + pos) >> 3) | (0 if last and not more_after else FLAG_MF)
        pieces.append(encode_header(src, dst, proto, len(chunk), ident, ttl, tos, ff, header_opts) + chunk)
        pos += len(chunk)
        header_opts = later
    route.nic.stats.count_event("ipv4_forward_fragmented")
    for piece in pieces:
        ep.transmit(route.nic, dst, route.next_hop, piece)
    return None


def neighbor_failed(ep: IPv4Endpoint, pending: list[tuple[int, bytes]]) -> None:
    """Address resolution of a next hop failed. RFC 1812 5.2.7.1 / 4.3.3.1: the router sends
    Destination Unreachable "Host Unreachable" (code 1) for each forwarded datagram that waited,
    as Linux ipv4_link_failure() does. Datagrams we originated are just dropped (counted by ARP)."""
    for ethertype, packet in pending:
        if ethertype != 0x0800 or len(packet) < MIN_HEADER_LEN:
            continue
        src = packet[12:16]
        if any(nic.is_local(src) for nic in ep.stack.nics.values()):
            continue
        # A frame-shaped buffer for send_error: a zero (unicast) Ethernet destination, the datagram.
        pkt = PacketBuffer(bytes(14) + packet, 14, ep.nic)
        icmp.send_error(ep, pkt, ICMPv4Type.DEST_UNREACHABLE, ICMPv4DestUnreachableCode.HOST)

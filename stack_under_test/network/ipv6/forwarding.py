"""IPv6 forwarding (RFC 8200 §3, RFC 4443 §3, RFC 4291 §2.5.6) when stack.set_forwarding(6, True).

The checks run in the order of Linux's ip6_forward(): route, hop limit, scope, MTU. A router
never fragments (RFC 8200 §4.5) and changes nothing but the Hop Limit (the Flow Label included:
RFC 6437 §2 has it delivered unchanged to the destination). A packet routed back out of its
incoming NIC is forwarded after an ND Redirect where RFC 4861 §8.2 asks for one (redirect.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.wire import ipv6_ext
from stack_under_test.wire.ipv6 import UNSPECIFIED, IPv6View, is_link_local
from stack_under_test.wire.numbers import (
    ETH_P_IPV6,
    ICMPv6DestUnreachableCode,
    ICMPv6TimeExceededCode,
    ICMPv6Type,
)

from . import icmp, redirect

if TYPE_CHECKING:
    from .contracts import IPv6Host

HOP_LIMIT_OFFSET = 7


def forward(host: IPv6Host, pkt: PacketBuffer, view: IPv6View, src: bytes, dst: bytes) -> Drop | None:
    """Forward a unicast packet that is not for us; return its verdict on the incoming NIC."""
    stack = host.stack
    # Only frames sent to our MAC are routed (Linux: pkt_type must be PACKET_HOST).
    if pkt.data[0] & 1:
        return Drop.IPV6_NOT_FOR_US
    # RFC 4291 §2.5.2: "An IPv6 packet with a source address of unspecified must never be
    # forwarded by an IPv6 router."
    if src == UNSPECIFIED:
        return Drop.IPV6_UNSPECIFIED_SOURCE_FORWARD
    # RFC 8200 §4: "The Hop-by-Hop Options header is not inserted or deleted, but may be examined
    # or processed by any node along a packet's delivery path"; the others are the destination's.
    chain = ipv6_ext.walk(pkt.network(), False, hop_by_hop_only=True)
    if isinstance(chain, Drop):
        return chain
    if isinstance(chain, ipv6_ext.ParamProblem):
        icmp.send_param_problem(host, pkt, chain)
        return chain.reason
    in_nic = host.nic
    # A link-local destination is only meaningful on the link the packet came from (RFC 4291
    # §2.5.6): look it up on the incoming NIC only.
    entry = stack.routes.lookup(dst, in_nic.name if is_link_local(dst) else None)
    out_nic = None if entry is None else stack.nics.get(entry.nic)
    neighbors = None if out_nic is None or not out_nic.enabled else out_nic.neighbors.get(6)
    if entry is None or out_nic is None or neighbors is None:
        # RFC 4443 §3.1: "If the reason for the failure to deliver is lack of a matching entry in
        # the forwarding node's routing table, the Code field is set to 0".
        icmp.send_error(host, pkt, ICMPv6Type.DEST_UNREACHABLE, ICMPv6DestUnreachableCode.NO_ROUTE, 0)
        return Drop.IPV6_FORWARD_NO_ROUTE
    # RFC 8200 §3: "When forwarding, the packet is discarded if Hop Limit was zero when received
    # or is decremented to zero." RFC 4443 §3.3: the router "MUST discard the packet and originate
    # an ICMPv6 Time Exceeded message with Code 0 to the source of the packet".
    if view.hop_limit <= 1:
        icmp.send_error(host, pkt, ICMPv6Type.TIME_EXCEEDED, ICMPv6TimeExceededCode.HOP_LIMIT, 0)
        return Drop.IPV6_HOP_LIMIT_EXCEEDED
    # RFC 4291 §2.5.6: "Routers must not forward any packets with Link-Local source or
    # destination addresses to other links." RFC 4443 §3.1: "If the reason for the failure to
    # deliver is that the destination is beyond the scope of the source address, the Code field
    # is set to 2".
    if out_nic is not in_nic and is_link_local(src):
        icmp.send_error(host, pkt, ICMPv6Type.DEST_UNREACHABLE, ICMPv6DestUnreachableCode.BEYOND_SCOPE, 0)
        return Drop.IPV6_FORWARD_BEYOND_SCOPE
    mtu = out_nic.mtu if entry.mtu is None else min(out_nic.mtu, entry.mtu)
    packet = pkt.network()
    if len(packet) > mtu:
        # RFC 4443 §3.2: "A Packet Too Big MUST be sent by a router in response to a packet that
        # it cannot forward because the packet is larger than the MTU of the outgoing link."
        # RFC 8200 §4.5: "fragmentation in IPv6 is performed only by source nodes, not by routers
        # along a packet's delivery path".
        icmp.send_error(host, pkt, ICMPv6Type.PACKET_TOO_BIG, 0, mtu)
        return Drop.IPV6_FORWARD_TOO_BIG
    target = entry.gateway or dst
    if out_nic is in_nic:
        # RFC 4861 §8.2: the sender had a better first hop on its own link (Linux sends first).
        redirect.maybe_send(host, packet, src, dst, target)
    out = bytearray(packet)
    out[HOP_LIMIT_OFFSET] -= 1
    # Address resolution failure answers with Destination Unreachable code 3 (ndp.py).
    neighbors.send(target, ETH_P_IPV6, bytes(out))
    in_nic.stats.count_event("ipv6_forwarded")
    return None

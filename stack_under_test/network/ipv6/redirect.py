"""ND Redirect (RFC 4861 §8.2, §4.5) from a router that forwards a packet back onto its own link.

Sent under the same conditions as Linux's ip6_forward()/ndisc_send_redirect(): the packet leaves
by the interface it arrived on, its source is a neighbor, the better first hop is the destination
itself or a link-local router address, and at most about one per second per destination.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Final

from stack_under_test.params import NDP_HOP_LIMIT
from stack_under_test.stack.ratelimit import TokenBucket
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ipv6 import HEADER_LEN, build_header, is_link_local
from stack_under_test.wire.ndp import NDPOption, NDPOptions, Redirect
from stack_under_test.wire.numbers import ETH_P_IPV6, PROTO_ICMPV6, NDPOptionType

if TYPE_CHECKING:
    from .contracts import IPv6Host

# Linux: inet_peer_xrlim_allow(peer, 1*HZ) per destination, bursts of XRLIM_BURST_FACTOR = 6.
PER_DESTINATION_RATE: Final = 1.0
PER_DESTINATION_BURST: Final = 6
MAX_PEERS: Final = 1024  # bounded memory
_FIXED_LEN: Final = HEADER_LEN + 4 + 4 + 32  # IPv6 + ICMPv6 header + reserved + target + destination


def maybe_send(host: IPv6Host, packet: memoryview, src: bytes, dst: bytes, target: bytes) -> None:
    """Called for a packet about to be forwarded out of ``host``'s NIC, the one it came in on."""
    stack = host.stack
    if not stack.send_redirects or host.link_local is None:
        return
    # RFC 4861 §8.2: "The Source Address field of the packet identifies a neighbor".
    route_back = stack.routes.lookup(src, host.nic.name)
    if not is_link_local(src) and (route_back is None or route_back.gateway is not None):
        return
    # RFC 4861 §4.5: "When the target is the actual endpoint of communication ... the Target Address
    # field MUST contain the same value as the ICMP Destination Address field. Otherwise ... the
    # Target Address MUST be the router's link-local address" (a global gateway cannot be named).
    if target != dst and not is_link_local(target):
        return
    # RFC 4861 §8.2: "A router SHOULD send a redirect message, subject to rate limiting".
    peers: dict[bytes, TokenBucket] = host.redirect_peers
    bucket = peers.get(dst)
    if bucket is None:
        if len(peers) >= MAX_PEERS:
            peers.clear()
        bucket = peers[dst] = TokenBucket(stack.clock, PER_DESTINATION_RATE, PER_DESTINATION_BURST)
    if not bucket.allow():
        host.nic.stats.count_event("ndp_redirect_rate_limited")
        return
    options: list[NDPOption] = []
    # RFC 4861 §4.5: Target Link-Layer Address "should be included (if known)".
    target_mac = host.neighbors.lookup(target)
    if target_mac is not None:
        options.append(NDPOption(NDPOptionType.TARGET_LINK_ADDRESS, target_mac))
    # RFC 4861 §4.5: Redirected Header "As much as possible of the IP packet that triggered the
    # sending of the Redirect without making the redirect packet exceed the minimum MTU".
    room = (1280 - _FIXED_LEN - 8 * len(options) - 8) & ~7
    options.append(NDPOption(NDPOptionType.REDIRECTED_HEADER, bytes(6) + bytes(packet[:room])))
    message = Redirect(IPv6Address(target), IPv6Address(dst), NDPOptions(tuple(options)))
    raw = icmpv6.encode(message, host.link_local, src)
    # RFC 4861 §4.5: "Source Address MUST be the link-local address assigned to the interface from
    # which this message is sent"; "Destination Address: The Source Address of the invoking packet."
    out = build_header(host.link_local, src, PROTO_ICMPV6, len(raw), NDP_HOP_LIMIT) + raw
    host.neighbors.send(src, ETH_P_IPV6, out)
    host.nic.stats.count_event("ndp_redirect_sent")

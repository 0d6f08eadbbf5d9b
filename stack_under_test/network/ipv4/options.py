"""IPv4 options at the network layer (RFC 791 3.1, RFC 1122 3.2.1.8): checking a received
datagram's options, the source-route policy, and the options of an Echo Reply.

The octet-level work is in wire/ipv4_options.py (pure); this module supplies what it needs from the
stack: the address to record, the time, which addresses are ours, and where errors go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.clock import VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import icmp
from stack_under_test.network.ipv4.reassembly import send_fragmented
from stack_under_test.params import MS_PER_DAY
from stack_under_test.wire import ipv4_options
from stack_under_test.wire.ipv4 import MIN_HEADER_LEN, encode_header
from stack_under_test.wire.ipv4_options import ParamProblem, Processed, Usage
from stack_under_test.wire.numbers import PROTO_ICMP, ICMPv4Type

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.endpoint import IPv4Endpoint
    from stack_under_test.stack.stack import Route, Stack


def timestamp_ms(stack: Stack) -> int:
    """RFC 791: "The Timestamp is a right-justified, 32-bit timestamp in milliseconds since
    midnight UT." The VirtualClock's zero is taken to be midnight UT. Any other clock (monotonic,
    for a TAP link) has no relation to UT, and RFC 791 says then "any time may be inserted as a time
    stamp provided the high order bit of the timestamp field is set to one"."""
    now = stack.clock.now_ms % MS_PER_DAY
    return now if isinstance(stack.clock, VirtualClock) else now | 0x8000_0000


def _ours(stack: Stack) -> Callable[[bytes], bool]:
    """RFC 791 Timestamp flag 3 records a time only where the prespecified address is ours."""
    return lambda addr: any(nic.is_local(addr) for nic in stack.nics.values())


def options_of(pkt: PacketBuffer, ihl: int) -> memoryview:
    off = pkt.network_offset
    return memoryview(pkt.data)[off + MIN_HEADER_LEN : off + ihl]


def process(ep: IPv4Endpoint, pkt: PacketBuffer, ihl: int, usage: Usage, address: bytes) -> Processed | ParamProblem:
    """Apply ``usage`` to the datagram's options, recording ``address`` (RR, TS flag 1)."""
    stack = ep.stack
    return ipv4_options.process(options_of(pkt, ihl), usage, address, timestamp_ms(stack), _ours(stack))


def check(ep: IPv4Endpoint, pkt: PacketBuffer, ihl: int) -> Processed | Drop:
    """Verify a received datagram's options (RFC 1122 3.2.1.8) and apply the source-route policy.

    A malformed option drops the datagram; RFC 1122 3.2.2.5: "A host SHOULD generate Parameter
    Problem messages" -- icmp.send_error applies the rules of when one may not be sent.
    """
    result = ipv4_options.process(options_of(pkt, ihl), Usage.VERIFY)
    if isinstance(result, ParamProblem):
        icmp.send_error(ep, pkt, ICMPv4Type.PARAMETER_PROBLEM, 0, result.pointer << 24)
        return Drop.IPV4_BAD_OPTIONS
    # Linux ip_rcv_options(): with accept_source_route=0 a datagram carrying LSRR/SSRR is dropped,
    # silently, whether it is for us or to be forwarded (RFC 1122 3.3.5 makes forwarding of
    # source-routed datagrams a configurable choice: "MUST ... be configurable").
    if result.source_route >= 0 and not ep.stack.accept_source_route:
        return Drop.IPV4_SOURCE_ROUTE_REJECTED
    return result


def verify(ep: IPv4Endpoint, pkt: PacketBuffer, ihl: int) -> Drop | None:
    """For fragments before reassembly: check only, change nothing (the frag helper's hook)."""
    result = check(ep, pkt, ihl)
    return result if isinstance(result, Drop) else None


def send_echo_reply(ep: IPv4Endpoint, pkt: PacketBuffer, ihl: int, remote: bytes, local: bytes, reply: bytes) -> None:
    """An Echo Reply to a request that carried options.

    RFC 1122 3.2.2.6: "If a Record Route and/or Time Stamp option is received in an ICMP Echo
    Request, this option (these options) SHOULD be updated to include the current host and
    included in the IP header of the Echo Reply message, without "truncation". ... If a Source
    Route option is received in an ICMP Echo Request, the return route MUST be reversed and used as
    a Source Route option for the Echo Reply message." Other options are not returned.
    """
    result = process(ep, pkt, ihl, Usage.ECHO, local)
    if isinstance(result, ParamProblem):  # already verified on receipt; cannot happen
        return
    opts = result.options
    dst = remote
    checked = ipv4_options.process(options_of(pkt, ihl), Usage.VERIFY)
    if isinstance(checked, Processed) and checked.source_route >= 0:
        reversed_route = ipv4_options.reverse_source_route(options_of(pkt, ihl), checked.source_route, remote)
        if reversed_route is not None:
            dst, srr = reversed_route
            used = sum(2 + len(o.data) for o in ipv4_options.walk(opts) if isinstance(o, ipv4_options.Option))
            opts = ipv4_options.pad_options(opts[:used] + srr)
    if MIN_HEADER_LEN + len(opts) > 60:
        opts = result.options  # the reversed route does not fit: reply without it
        dst = remote
    route = ep.stack.find_route(dst, src=local)
    if route is None:
        ep.nic.stats.count_tx_drop(Drop.NO_ROUTE)
        return
    send_with_options(ep, route, PROTO_ICMP, reply, opts)
    ep.nic.stats.count_event("icmpv4_echo_reply_with_options_sent")


def send_with_options(ep: IPv4Endpoint, route: Route, proto: int, payload: bytes, opts: bytes) -> None:
    """A datagram from ``route.local`` to ``route.remote`` whose header carries ``opts`` (padded).
    With a source route, ``route.remote`` is the first hop and the final destination is in ``opts``."""
    dst = route.remote
    ident = ep.protocol.next_ident(route.local, dst, proto)
    ttl = ep.stack.options.default_ttl
    if MIN_HEADER_LEN + len(opts) + len(payload) > route.mtu:
        # RFC 791 3.2: fragment; only copied options go past the first fragment (frag helper).
        send_fragmented(ep, route, proto, payload, ident, ttl, mtu=route.mtu, options=opts)
        return
    header = encode_header(route.local, dst, proto, len(payload), ident, ttl, options=opts)
    ep.transmit(route.nic, dst, route.next_hop, header + payload)

"""IPv4 options at the network layer (RFC 791 3.1, RFC 1122 3.2.1.8): checking a received
datagram's options, the source-route policy, and the options an Echo Reply carries back.

The octet-level work is in wire/ipv4_options.py (pure); this module supplies what it needs from the
stack: the address to record, the time, which addresses are ours. Nothing here sends: a malformed
option comes back as the ``ParamProblem`` the caller answers (network/ipv4/icmp.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.params import MS_PER_DAY
from stack_under_test.wire import ipv4_options
from stack_under_test.wire.ipv4 import MAX_HEADER_LEN, MIN_HEADER_LEN, IPv4Header
from stack_under_test.wire.ipv4_options import ParamProblem, Processed, Usage

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack


def timestamp_ms(stack: Stack) -> int:
    """RFC 791: "The Timestamp is a right-justified, 32-bit timestamp in milliseconds since
    midnight UT. If the time is not available in milliseconds or cannot be provided with respect
    to midnight UT then any time may be inserted as a timestamp provided the high order bit of the
    timestamp field is set to one"; RFC 1122 3.2.2.8 gives the same rules for ICMP Timestamp.
    Midnight UT comes from the clock (``Clock.utc_origin_ms``)."""
    origin = stack.clock.utc_origin_ms
    if origin is None:
        return stack.clock.now_ms % MS_PER_DAY | 0x8000_0000
    return (origin + stack.clock.now_ms) % MS_PER_DAY


def _ours(stack: Stack) -> Callable[[bytes], bool]:
    """RFC 791 Timestamp flag 3 records a time only where the prespecified address is ours."""
    return lambda addr: any(nic.is_local(addr) for nic in stack.nics.values())


def process(stack: Stack, pkt: PacketBuffer, h: IPv4Header, usage: Usage, address: bytes) -> Processed | ParamProblem:
    """Apply ``usage`` to the datagram's options, recording ``address`` (RR, TS flag 1)."""
    options = h.options(pkt.data, pkt.network_offset)
    return ipv4_options.process(options, usage, address, timestamp_ms(stack), _ours(stack))


def check(stack: Stack, pkt: PacketBuffer, h: IPv4Header) -> Processed | ParamProblem | Drop:
    """Verify a received datagram's options (RFC 1122 3.2.1.8) and apply the source-route policy.

    A malformed option is a ``ParamProblem``: RFC 1122 3.2.2.5 "A host SHOULD generate Parameter
    Problem messages", which the caller sends (icmp.send_param_problem) and drops the datagram.
    """
    result = ipv4_options.process(h.options(pkt.data, pkt.network_offset), Usage.VERIFY)
    if isinstance(result, ParamProblem):
        return result
    # Linux ip_rcv_options(): with accept_source_route=0 a datagram carrying LSRR/SSRR is dropped,
    # silently, whether it is for us or to be forwarded (RFC 1122 3.3.5 makes forwarding of
    # source-routed datagrams a configurable choice: "MUST ... be configurable").
    if result.source_route >= 0 and not stack.accept_source_route:
        if ipv4_options.source_route_next_hop(h.options(pkt.data, pkt.network_offset), result.source_route) is not None:
            return Drop.IPV4_SOURCE_ROUTE_NOT_FOLLOWED  # hops left: the caller answers (RFC 1122 3.3.5)
        return Drop.IPV4_SOURCE_ROUTE_REJECTED
    return result


def originate(stack: Stack, options: bytes, local: bytes, remote: bytes) -> tuple[bytes, bool, bytes] | Drop:
    """The options a transport asked for, as the originating host ``local`` sends them to
    ``remote``: (the header's destination, whether it must be on a connected network, the options
    padded).

    RFC 1122 3.2.1.8: "There MUST be a means for the transport layer to specify IP options to be
    included in transmitted IP datagrams"; the originating host is the first to process them:
    "The originating host MUST record a timestamp in a Timestamp option whose Internet address
    fields are not pre-specified or whose first pre-specified address is the host's interface
    address", and Record Route takes our address as every hop's does (RFC 791). (c): "A host MUST
    support originating a source route": the route's first address becomes the header's
    destination (a strict route's first hop must be on a connected network, RFC 791 SSRR) and
    ``remote`` its last (ipv4_options.originate_source_route).
    """
    result = ipv4_options.process(options, Usage.FORWARD, local, timestamp_ms(stack), _ours(stack))
    if isinstance(result, ParamProblem):
        return Drop.IPV4_BAD_OUTGOING_OPTIONS
    if result.source_route < 0:
        return remote, False, ipv4_options.pad_options(result.options)
    routed = ipv4_options.originate_source_route(result.options, result.source_route, remote)
    if routed is None:
        return Drop.IPV4_BAD_OUTGOING_OPTIONS
    first_hop, routed_options = routed
    return first_hop, result.strict, ipv4_options.pad_options(routed_options)


def source_route_next_hop(pkt: PacketBuffer, h: IPv4Header, checked: Processed) -> bytes | None:
    """The next address of the datagram's accepted LSRR/SSRR, or None when the route is completed
    and the datagram is ours to deliver."""
    return ipv4_options.source_route_next_hop(h.options(pkt.data, pkt.network_offset), checked.source_route)


def echo_reply_options(
    stack: Stack, pkt: PacketBuffer, h: IPv4Header, remote: bytes, local: bytes
) -> tuple[bytes, bytes] | None:
    """(first hop, options) of the Echo Reply to a request that carried options; None when the
    options cannot be processed (they were verified on receipt, so never in practice).

    RFC 1122 3.2.2.6: "If a Record Route and/or Time Stamp option is received in an ICMP Echo
    Request, this option (these options) SHOULD be updated to include the current host and
    included in the IP header of the Echo Reply message, without "truncation". ... If a Source
    Route option is received in an ICMP Echo Request, the return route MUST be reversed and used as
    a Source Route option for the Echo Reply message." Other options are not returned.
    """
    result = process(stack, pkt, h, Usage.ECHO, local)
    if isinstance(result, ParamProblem):
        return None
    received = h.options(pkt.data, pkt.network_offset)
    checked = ipv4_options.process(received, Usage.VERIFY)
    if isinstance(checked, Processed) and checked.source_route >= 0:
        reversed_route = ipv4_options.reverse_source_route(received, checked.source_route, remote)
        if reversed_route is not None:
            first_hop, srr = reversed_route
            used = sum(2 + len(o.data) for o in ipv4_options.walk(result.options) if isinstance(o, ipv4_options.Option))
            options = ipv4_options.pad_options(result.options[:used] + srr)
            if MIN_HEADER_LEN + len(options) <= MAX_HEADER_LEN:
                return first_hop, options
            # The reversed route does not fit: reply without it.
    return remote, result.options

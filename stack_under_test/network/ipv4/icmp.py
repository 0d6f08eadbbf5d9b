"""ICMP for IPv4 (RFC 792, RFC 1122 3.2.2): echo replies, receiving errors, sending errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import UNICAST, options
from stack_under_test.wire.icmpv4 import (
    HEADER_LEN,
    TYPE_ECHO_REPLY,
    TYPE_ECHO_REQUEST,
    ICMPv4Error,
    echo_reply_from_request,
    valid_checksum,
)
from stack_under_test.wire.ipv4 import MIN_HEADER_LEN, IPv4Header
from stack_under_test.wire.ipv4_options import ParamProblem
from stack_under_test.wire.numbers import ICMPV4_ERROR_TYPES, PROTO_ICMP, ICMPv4Type

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.contracts import IPv4Host

# The types RFC 1122 3.2.2 lists (errors and queries, Address Mask among them) and Router Discovery
# (RFC 1256). About a datagram carrying any other type no error is sent: it might be an error
# message we do not know (Linux's icmp_send() likewise ignores types it has no entry for).
_KNOWN_TYPES = frozenset(int(t) for t in ICMPv4Type)
_ERROR_TYPES = frozenset(int(t) for t in ICMPV4_ERROR_TYPES)
# Linux icmp_ratemask default 0x1818: Destination Unreachable, Source Quench, Time Exceeded,
# Parameter Problem.
_RATE_LIMITED = frozenset((3, 4, 11, 12))
_FRAG_NEEDED = 4
# Room for the quoted datagram: RFC 1812 4.3.2.3 keeps an error within 576 octets.
_MAX_QUOTE = params.ICMPV4_ERROR_MAX_LEN - MIN_HEADER_LEN - HEADER_LEN


def handle_packet(ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, cast: int) -> Drop | None:
    message = pkt.data[pkt.transport_offset : pkt.end]
    if len(message) < HEADER_LEN:
        return Drop.ICMPV4_TRUNCATED
    if not valid_checksum(message):
        return Drop.ICMPV4_BAD_CHECKSUM
    kind = message[0]
    if kind == TYPE_ECHO_REQUEST:
        local = h.dst
        if cast != UNICAST:
            # RFC 1122 3.2.2.6: "An ICMP Echo Request destined to an IP broadcast or IP multicast
            # address MAY be silently discarded." Linux does so by default
            # (icmp_echo_ignore_broadcasts=1); stack.set_echo_ignore_broadcasts(False) answers.
            if ep.stack.echo_ignore_broadcasts:
                return Drop.ICMPV4_BROADCAST_ECHO_IGNORED
            # RFC 1122 3.2.2.6: the reply's source is "the same as the specific-destination address
            # (defined in Section 3.2.1.3) of the corresponding ICMP Echo Request message" -- for
            # a broadcast or multicast request that is one of our unicast addresses on this NIC.
            unicast = ep.select_source(h.src)
            if unicast is None:
                ep.nic.stats.count_tx_drop(Drop.NO_ROUTE)
                return None
            local = unicast
        if h.ver_ihl == 0x45:  # the fast path: no options to return
            ep.output.send_reply(ep.nic, h.src, local, PROTO_ICMP, echo_reply_from_request(message))
        else:
            send_echo_reply(ep, pkt, h, local, echo_reply_from_request(message))
        return None
    if kind == TYPE_ECHO_REPLY:
        return None  # no ping sockets yet: consumed
    if kind in _ERROR_TYPES:
        return _handle_error(ep, message)
    if kind in _KNOWN_TYPES:
        return Drop.ICMPV4_NOT_IMPLEMENTED
    # RFC 1122 3.2.2: "If an ICMP message of unknown type is received, it MUST be silently discarded."
    return Drop.ICMPV4_UNKNOWN_TYPE


def _handle_error(ep: IPv4Host, message: bytes) -> Drop | None:
    """RFC 1122 3.2.2: errors are passed to the transport protocol named in the quoted header."""
    quoted = memoryview(message)[HEADER_LEN:]
    if len(quoted) < MIN_HEADER_LEN + params.ICMPV4_ERROR_QUOTE_MIN:
        return Drop.ICMPV4_TRUNCATED
    transport = ep.stack.transport_protocols.get(IPv4Header.read(quoted).protocol)
    if transport is not None:
        transport.handle_error(4, f"{message[0]}/{message[1]}", quoted, int.from_bytes(message[4:8], "big"))
    return None


def send_echo_reply(ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, local: bytes, reply: bytes) -> None:
    """An Echo Reply to a request that carried options: RR and TS updated, a source route
    reversed (RFC 1122 3.2.2.6; network/ipv4/options.py decides which)."""
    stack = ep.stack
    answer = options.echo_reply_options(stack, pkt, h, h.src, local)
    if answer is None:
        return
    first_hop, reply_options = answer
    route = stack.find_route(first_hop, src=local)
    if route is None:
        ep.nic.stats.count_tx_drop(Drop.NO_ROUTE)
        return
    ep.output.send_with_options(route, PROTO_ICMP, reply, reply_options)
    ep.nic.stats.count_event("icmpv4_echo_reply_with_options_sent")


def send_param_problem(ep: IPv4Host, pkt: PacketBuffer, problem: ParamProblem) -> Drop:
    """RFC 1122 3.2.2.5: "A host SHOULD generate Parameter Problem messages"; RFC 792: the
    pointer "identifies the octet where an error was detected". The datagram is dropped."""
    send_error(ep, pkt, ICMPv4Type.PARAMETER_PROBLEM, 0, problem.pointer << 24)
    return Drop.IPV4_BAD_OPTIONS


def send_error(ep: IPv4Host, pkt: PacketBuffer, kind: int, code: int, rest: int = 0) -> bool:
    """Send an ICMP error about the received datagram ``pkt`` unless RFC 1122 3.2.2 forbids it.

    RFC 1122 3.2.2: "An ICMP error message MUST NOT be sent as the result of receiving: an ICMP
    error message, or a datagram destined to an IP broadcast or IP multicast address, or a
    datagram sent as a link-layer broadcast, or a non-initial fragment, or a datagram whose source
    address does not define a single host -- e.g., a zero address, a loopback address, a broadcast
    address, a multicast address, or a Class E address." Returns whether an error was sent.
    """
    data, off, end = pkt.data, pkt.network_offset, pkt.end
    h = IPv4Header.read(data, off)
    src, dst = h.src, h.dst
    nic = ep.nic
    if data[0] & 1:
        return False
    if dst[0] >= 224 or dst in nic.addresses.ipv4_broadcasts:
        return False
    if src[0] in (0, 127) or src[0] >= 224 or src in nic.addresses.ipv4_broadcasts:
        return False
    if h.fragment_offset:
        return False
    if h.protocol == PROTO_ICMP:
        inner = off + h.header_len
        if inner >= end or data[inner] in _ERROR_TYPES or data[inner] not in _KNOWN_TYPES:
            return False
    # RFC 1812 4.3.2.8: "a router SHOULD limit the rate at which it generates ICMP error
    # messages". Linux's bucket covers the types in icmp_ratemask (0x1818: 3, 4, 11, 12) except
    # Fragmentation Needed ("Don't limit PMTU discovery", icmpv4_mask_allow()).
    limited = kind in _RATE_LIMITED and not (kind == ICMPv4Type.DEST_UNREACHABLE and code == _FRAG_NEEDED)
    if limited and not ep.stack.icmp_rate_limits[4].allow():
        nic.stats.count_tx_drop(Drop.ICMPV4_ERROR_RATE_LIMITED)
        return False
    # RFC 1122 3.2.2: quote "the Internet header and at least the first 8 data octets"; we quote
    # as much as keeps the whole error within 576 octets, as Linux does.
    quoted = bytes(data[off : off + min(end - off, _MAX_QUOTE)])
    route = ep.stack.find_route(src, src=dst if nic.is_local(dst) else None)
    if route is None:
        nic.stats.count_tx_drop(Drop.NO_ROUTE)
        return False
    ep.output.write_packet(route, PROTO_ICMP, ICMPv4Error(kind, code, quoted, rest).encode())
    nic.stats.count_event(f"icmpv4_error_sent_{kind}_{code}")
    return True

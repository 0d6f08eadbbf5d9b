"""ICMP for IPv4 (RFC 792, RFC 1122 3.2.2): echo replies, receiving errors, sending errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.network.ipv4 import UNICAST, options, redirect_rx
from stack_under_test.wire.icmpv4 import (
    HEADER_LEN,
    TIMESTAMP_LEN,
    TYPE_ECHO_REPLY,
    TYPE_ECHO_REQUEST,
    TYPE_TIMESTAMP_REPLY,
    TYPE_TIMESTAMP_REQUEST,
    ICMPv4Error,
    echo_reply_from_request,
    timestamp_reply_from_request,
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
        return _answer(ep, pkt, h, cast, echo_reply_from_request(message))
    if kind == TYPE_TIMESTAMP_REQUEST:
        if len(message) < TIMESTAMP_LEN:
            return Drop.ICMPV4_TRUNCATED
        # RFC 1122 3.2.2.8: "A host MAY implement Timestamp and Timestamp Reply"; we do, as Linux
        # does: "The ICMP Timestamp server function returns a Timestamp Reply to every Timestamp
        # message that is received", both times read once (RFC 792: receive and transmit).
        now = options.timestamp_ms(ep.stack)
        return _answer(ep, pkt, h, cast, timestamp_reply_from_request(message, now, now))
    if kind in (TYPE_ECHO_REPLY, TYPE_TIMESTAMP_REPLY):
        return None  # no ping sockets yet: consumed
    if kind == ICMPv4Type.REDIRECT:
        return redirect_rx.handle_redirect(ep, h.src, message, ep.redirect_routes)
    if kind in _ERROR_TYPES:
        return _handle_error(ep, message)
    if kind in _KNOWN_TYPES:
        return Drop.ICMPV4_NOT_IMPLEMENTED
    # RFC 1122 3.2.2: "If an ICMP message of unknown type is received, it MUST be silently discarded."
    return Drop.ICMPV4_UNKNOWN_TYPE


def _answer(ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, cast: int, reply: bytes) -> Drop | None:
    """Send ``reply`` to the Echo or Timestamp Request ``pkt``. RFC 1122 3.2.2.8: Timestamp
    requests "are to be handled according to the corresponding rules for ICMP Echo"."""
    local = h.dst
    if cast != UNICAST:
        # RFC 1122 3.2.2.6: "An ICMP Echo Request destined to an IP broadcast or IP multicast
        # address MAY be silently discarded." Linux does so by default
        # (icmp_echo_ignore_broadcasts=1, for Timestamp too); stack.set_echo_ignore_broadcasts(False)
        # answers.
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
        ep.output.send_reply(ep.nic, h.src, local, PROTO_ICMP, reply)
    else:
        send_echo_reply(ep, pkt, h, local, reply)
    return None


def _handle_error(ep: IPv4Host, message: bytes) -> Drop | None:
    """RFC 1122 3.2.2: errors are passed to the transport protocol named in the quoted header."""
    quoted = memoryview(message)[HEADER_LEN:]
    if len(quoted) < MIN_HEADER_LEN + params.ICMPV4_ERROR_QUOTE_MIN:
        return Drop.ICMPV4_TRUNCATED
    header = IPv4Header.read(quoted)
    transport = ep.stack.transport_protocols.get(header.protocol)
    # As for a Packet Too Big (RFC 8201 4: "validate the payload ... to ensure these are received
    # in response to transmitted traffic"): a TCP segment of no connection moves no estimate
    # (Linux: the socket lookup in tcp_v4_err).
    if (message[0] == ICMPv4Type.DEST_UNREACHABLE and message[1] == _FRAG_NEEDED
            and (transport is None or transport.sent(4, quoted))):
        _learn_path_mtu(ep, header, int.from_bytes(message[6:8], "big"))
    if transport is not None:
        transport.handle_error(4, f"{message[0]}/{message[1]}", quoted, int.from_bytes(message[4:8], "big"))
    return None


# RFC 1191 7: the plateaus of "Table 7-1: Common MTUs in the Internet", highest first.
_PLATEAUS = (65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68)


def _learn_path_mtu(ep: IPv4Host, quoted: IPv4Header, next_hop_mtu: int) -> None:
    """A Datagram Too Big (type 3 code 4) about a datagram we sent (RFC 1191 3: "When a host
    receives a Datagram Too Big message, it MUST reduce its estimate of the PMTU for the relevant
    path, based on the value of the Next-Hop MTU field in the message")."""
    if not ep.nic.addresses.is_local(quoted.src):
        return  # not about a datagram of ours: nothing to learn
    mtu = next_hop_mtu
    if mtu == 0:
        # RFC 1191 3: "Hosts MUST be able to deal with Datagram Too Big messages that do not include
        # the next-hop MTU"; 5: "the PMTU should be reduced to the next lower plateau" below the
        # Total Length of the datagram it returns. Each message without one moves a plateau lower,
        # which forces the search to converge.
        mtu = next((p for p in _PLATEAUS if p < quoted.total_length), _PLATEAUS[-1])
    if ep.pmtu.update(quoted.dst, mtu, ep.path_mtu(quoted.dst)):
        ep.nic.stats.count_event("icmpv4_pmtu_learned")


def send_echo_reply(ep: IPv4Host, pkt: PacketBuffer, h: IPv4Header, local: bytes, reply: bytes) -> None:
    """An Echo (or Timestamp) Reply to a request that carried options: RR and TS updated, a source
    route reversed (RFC 1122 3.2.2.6, 3.2.2.8; network/ipv4/options.py decides which)."""
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
    if dst[0] >= 224 or dst in nic.addresses.ipv4_broadcasts or dst in nic.addresses.ipv4_zero_broadcasts:
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

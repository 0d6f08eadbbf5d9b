"""ICMPv6 (RFC 4443): echo, errors received, and the error messages we originate.

The endpoint hands each parsed message to the module of its protocol (Neighbor Discovery, router
discovery, redirects, MLD); echoes, errors and unknown types come here. Errors we send obey
RFC 4443 §2.4(e): never about an ICMPv6 error or redirect, a multicast destination or link-layer
multicast (except Packet Too Big and Parameter Problem code 2), or a source that does not
identify a single node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from stack_under_test import params
from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.wire import icmpv6, ipv6_ext
from stack_under_test.wire.icmpv6 import (
    EchoReply,
    EchoRequest,
    ICMPv6Error,
    ICMPv6Message,
    UnknownICMPv6,
    is_error_type,
)
from stack_under_test.wire.ipv6 import (
    HEADER_LEN,
    LOOPBACK,
    UNSPECIFIED,
    IPv6View,
    is_link_local,
    is_multicast,
    is_v4mapped,
)
from stack_under_test.wire.numbers import PROTO_ICMPV6, ICMPv6Type

if TYPE_CHECKING:
    from .contracts import IPv6Host

# RFC 4443 §2.4(c): "as much of the invoking packet as possible without the ICMPv6 packet
# exceeding the minimum IPv6 MTU": 1280 minus our IPv6 header and the 8-octet ICMPv6 header.
MAX_QUOTE = params.IPV6_MIN_MTU - HEADER_LEN - icmpv6.ERROR_HEADER_LEN

# ---- receive ---------------------------------------------------------------------------------------


def handle_unknown(host: IPv6Host, msg: UnknownICMPv6) -> Drop | None:
    if is_error_type(msg.type):
        # RFC 4443 §2.4(a): "If an ICMPv6 error message of unknown type is received at its
        # destination, it MUST be passed to the upper-layer process that originated the packet".
        return handle_error(host, msg.type, msg.code, msg.body[4:])
    # RFC 4443 §2.4(b): "If an ICMPv6 informational message of unknown type is received at its
    # destination, it MUST be silently discarded."
    return Drop.ICMPV6_UNKNOWN_INFORMATIONAL


def handle_echo_request(host: IPv6Host, ip: IPv6View, src: bytes, dst: bytes, msg: EchoRequest) -> Drop | None:
    if src == UNSPECIFIED:
        return Drop.ICMPV6_UNSPECIFIED_SOURCE  # nowhere to send the reply
    # RFC 4443 §4.2: to a unicast address "the Source Address of the reply MUST be that same
    # address"; to a multicast address it "MUST be a unicast address belonging to the interface
    # on which the multicast Echo Request message was received."
    # An anycast address of ours is never a source (anycast.py; Linux anycast_src_echo_reply=0).
    reply_src = host.select_source(src) if is_multicast(dst) or host.is_anycast(dst) else dst
    if reply_src is None:
        host.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return None
    # RFC 4443 §4.2: "The data received in the ICMPv6 Echo Request message MUST be returned
    # entirely and unmodified in the ICMPv6 Echo Reply message." Linux also echoes the Traffic
    # Class; we echo its DSCP but not its ECN field: RFC 3168 5.2 "an ECT codepoint MUST NOT be
    # set in a packet unless the loss of that packet in the network would be detected by the end
    # nodes and interpreted as an indication of congestion", which no echo reply's loss is.
    reply = EchoReply(msg.ident, msg.seq, msg.data)
    if send_icmpv6(host, reply_src, src, reply, traffic_class=ip.traffic_class & ~3) is None:
        host.nic.stats.count_event("icmpv6_echo_reply_sent")
    return None


def handle_error(host: IPv6Host, icmp_type: int, code: int, invoking: bytes, param: int = 0) -> Drop | None:
    """Hand an error about one of our packets to the transport protocol that sent it."""
    quoted = memoryview(invoking)
    ours = len(quoted) >= HEADER_LEN and _is_ours(host, IPv6View(quoted).src)
    if icmp_type == ICMPv6Type.PACKET_TOO_BIG:
        # RFC 8201 §4: "When a Packet Too Big message is received, the node MUST reduce its
        # estimate of the PMTU for the relevant path, based on the value of the MTU field".
        # A forged message could lower it (RFC 8201 §6), so the quoted packet must be one we
        # could have sent: its source is one of our addresses (Linux checks the same).
        if not ours:
            return Drop.ICMPV6_PTB_NOT_OURS
        # RFC 8201 §4: "If a node receives a Packet Too Big message reporting a next-hop MTU that
        # is less than the IPv6 minimum link MTU, it must discard it." (Linux clamps to 1280
        # instead; the RFC decides. RFC 8021 retired the atomic fragments such a PTB asked for.)
        if param < params.IPV6_MIN_MTU:
            return Drop.ICMPV6_PTB_BELOW_MINIMUM_MTU
        # RFC 8201 §4: "Nodes should appropriately validate the payload of ICMPv6 PTB messages to
        # ensure these are received in response to transmitted traffic (i.e., a reported error
        # condition that corresponds to an IPv6 packet actually sent by the application)". A
        # quoted UDP datagram needs the socket that sent it, a TCP segment its connection and to
        # be in flight (Linux: udpv6_err, tcp_v6_err look them up before the PMTU changes); other
        # quoted packets (our echo replies) pass on their source alone.
        proto, offset = ipv6_ext.upper_layer(quoted)
        transport = host.stack.transport_protocols.get(proto)
        if transport is not None and offset is not None and not transport.sent(6, quoted):
            return Drop.ICMPV6_PTB_NOT_SENT
        quoted_dst = IPv6View(quoted).dst
        learned = host.pmtu.update(quoted_dst, param, host.path_mtu(quoted_dst))
        _pass_up(host, icmp_type, code, quoted, param)  # the sender first: it may retransmit at once
        if learned:
            host.nic.stats.count_event("icmpv6_pmtu_learned")
            # RFC 8201 5.2: "The packetization layers must be notified about decreases in the PMTU."
            mtu = host.path_mtu(quoted_dst)
            for transport in list(host.stack.transport_protocols.values()):
                transport.path_mtu_lowered(6, quoted_dst, mtu)
        return None
    # gVisor (handleControl) and Linux only notify when the quoted source is one of ours.
    if not ours:
        return Drop.ICMPV6_ERROR_NO_HANDLER
    return _pass_up(host, icmp_type, code, quoted, param)


def _is_ours(host: IPv6Host, addr: bytes) -> bool:
    return any(nic.is_local(addr) for nic in host.stack.nics.values())


def _pass_up(host: IPv6Host, icmp_type: int, code: int, quoted: memoryview, param: int = 0) -> Drop | None:
    proto, offset = ipv6_ext.upper_layer(quoted)
    transport = host.stack.transport_protocols.get(proto)
    # RFC 4443 §2.4(d): "In cases where it is not possible to retrieve the upper-layer protocol
    # type from the ICMPv6 message, the ICMPv6 message is silently dropped".
    if transport is None or offset is None:
        return Drop.ICMPV6_ERROR_NO_HANDLER
    # The kind is "<type>/<code>", as IPv4 reports it.
    transport.handle_error(6, f"{icmp_type}/{code}", quoted, param)
    return None


# ---- send --------------------------------------------------------------------------------------


def send_icmpv6(
    host: IPv6Host,
    src: bytes,
    dst: bytes,
    message: ICMPv6Message,
    *,
    hop_limit: int | None = None,
    traffic_class: int = 0,
) -> Drop | None:
    raw = icmpv6.encode(message, src, dst)
    return host.send(src, dst, PROTO_ICMPV6, raw, hop_limit=hop_limit, traffic_class=traffic_class)


def send_param_problem(host: IPv6Host, pkt: PacketBuffer, problem: ipv6_ext.ParamProblem) -> None:
    send_error(host, pkt, ICMPv6Type.PARAMETER_PROBLEM, problem.code, problem.pointer, to_multicast=problem.to_multicast)


def send_error(
    host: IPv6Host, pkt: PacketBuffer, icmp_type: int, code: int, param: int, *, to_multicast: bool = False
) -> None:
    """Answer the packet in ``pkt`` with an ICMPv6 error, where RFC 4443 §2.4(e) allows one."""
    link_multicast = bool(pkt.data[0] & 1) if len(pkt.data) else False
    send_error_about(host, pkt.network(), icmp_type, code, param, to_multicast=to_multicast, link_multicast=link_multicast)


def send_error_about(
    host: IPv6Host,
    invoking: memoryview,
    icmp_type: int,
    code: int,
    param: int,
    *,
    to_multicast: bool = False,
    link_multicast: bool = False,
) -> None:
    if not may_send_error(invoking, to_multicast=to_multicast, link_multicast=link_multicast):
        host.nic.stats.count_event("icmpv6_error_suppressed")
        return
    # RFC 4443 §3.1: Destination Unreachable switched off on the interface the packet came in on.
    if icmp_type == ICMPv6Type.DEST_UNREACHABLE and not host.nic.ipv6_config.send_dest_unreachable:
        host.nic.stats.count_event("icmpv6_dest_unreachable_disabled")
        return
    # RFC 4443 §2.4(f): "an IPv6 node MUST limit the rate of ICMPv6 error messages it
    # originates"; a token bucket (stack.set_icmp_rate_limit(6, ...), Linux's defaults).
    if not host.stack.icmp_rate_limits[6].allow():
        host.nic.stats.count_tx_drop(Drop.ICMPV6_ERROR_RATE_LIMITED)
        return
    view = IPv6View(invoking)
    orig_src, orig_dst = view.src, view.dst
    # The error leaves by the route back to the offender's source (another NIC when forwarding).
    route = None if is_link_local(orig_src) else host.stack.find_route(orig_src)
    # A route to an IPv6 address leaves through the IPv6 endpoint of its NIC.
    out = host if route is None else cast("IPv6Host", route.endpoint)
    # RFC 4443 §2.2: "If the message is a response to a message sent to one of the node's unicast
    # addresses, the Source Address of the reply MUST be that same address"; otherwise (multicast,
    # or a forwarded packet) it is chosen like any other source (RFC 6724).
    src = orig_dst if _is_ours(host, orig_dst) else out.select_source(orig_src)
    if src is None:
        host.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return
    # RFC 4443 §2.4(c): "Every ICMPv6 error message (type < 128) MUST include as much of the IPv6
    # offending (invoking) packet ... as possible without making the error message packet exceed
    # the minimum IPv6 MTU".
    quote = bytes(invoking[: min(MAX_QUOTE, out.nic.mtu - HEADER_LEN - icmpv6.ERROR_HEADER_LEN)])
    if send_icmpv6(out, src, orig_src, ICMPv6Error(icmp_type, code, param, quote)) is None:
        host.nic.stats.count_event("icmpv6_error_sent")


def may_send_error(invoking: memoryview, *, to_multicast: bool, link_multicast: bool) -> bool:
    """RFC 4443 §2.4(e): "An ICMPv6 error message MUST NOT be originated as a result of receiving" ...

    ``invoking`` holds at least the fixed header: it is a received packet IPv6View.check() passed,
    or one the neighbor table queued (ndp.py answers those of HEADER_LEN octets or more)."""
    view = IPv6View(invoking)
    src, dst = view.src, view.dst
    # (e.3) "A packet destined to an IPv6 multicast address." (e.4) "A packet sent as a link-layer
    # multicast" and (e.5) "... broadcast"; both except "the Packet Too Big Message ... and the
    # Parameter Problem Message, Code 2 ... [option type] highest-order two bits set to 10".
    if (is_multicast(dst) or link_multicast) and not to_multicast:
        return False
    # (e.6) "A packet whose source address does not uniquely identify a single node -- e.g., the
    # IPv6 Unspecified Address, an IPv6 multicast address".
    if src in (UNSPECIFIED, LOOPBACK) or is_multicast(src) or is_v4mapped(src):
        return False
    # (e.1) "An ICMPv6 error message." (e.2) "An ICMPv6 redirect message". Like Linux, a packet
    # whose ICMPv6 type cannot be read (truncated chain) is treated as ineligible.
    proto, offset = ipv6_ext.upper_layer(invoking)
    if proto == PROTO_ICMPV6:
        if offset is None:
            # Linux is_ineligible(): "return false if this is a fragment packet with no icmp
            # header info": a non-first fragment (RFC 8200 4.5) may be answered.
            return True
        if offset >= len(invoking):
            # The same Linux rule for a first fragment that stops before the ICMPv6 header
            # (RFC 7112 / RFC 8200 4.5: it is answered with Parameter Problem code 3); a
            # packet that is not a fragment and lacks its ICMPv6 type stays ineligible.
            return ipv6_ext.is_fragment(invoking)
        icmp_type = invoking[offset]
        if is_error_type(icmp_type) or icmp_type == ICMPv6Type.REDIRECT:
            return False
    return True

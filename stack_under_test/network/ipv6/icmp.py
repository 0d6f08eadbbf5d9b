"""ICMPv6 (RFC 4443): receive dispatch, echo, and the error messages we originate.

Neighbor Discovery messages are handed to ndp.py. Errors we send obey RFC 4443 §2.4(e): never
about an ICMPv6 error or redirect, a multicast destination or link-layer multicast (except Packet
Too Big and Parameter Problem code 2), or a source that does not identify a single node.
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
from stack_under_test.wire.ndp import NeighborAdvert, NeighborSolicit, Redirect, RouterAdvert, RouterSolicit
from stack_under_test.wire.numbers import PROTO_ICMPV6, ICMPv6Type

from . import ndp, redirect_rx, validation

if TYPE_CHECKING:
    from .endpoint import IPv6Endpoint

# RFC 4443 §2.4(c): "as much of the invoking packet as possible without the ICMPv6 packet
# exceeding the minimum IPv6 MTU": 1280 minus our IPv6 header and the 8-octet ICMPv6 header.
MAX_QUOTE = params.IPV6_MIN_MTU - HEADER_LEN - icmpv6.ERROR_HEADER_LEN

# RFC 2710 3 / RFC 3810 5: handed to the NIC's MLD host (network/ipv6/mld.py).
_MLD_TYPES = frozenset(
    {
        ICMPv6Type.MLD_QUERY,
        ICMPv6Type.MLD_REPORT,
        ICMPv6Type.MLD_DONE,
        ICMPv6Type.MLDV2_REPORT,
    }
)

# ---- receive ---------------------------------------------------------------------------------------


def handle(ep: IPv6Endpoint, pkt: PacketBuffer, ip: IPv6View, src: bytes, dst: bytes) -> Drop | None:
    """One ICMPv6 message addressed to us (``pkt.transport()`` is the message)."""
    msg = icmpv6.parse(pkt.transport(), src, dst)
    if isinstance(msg, Drop):
        return msg
    if isinstance(msg, EchoRequest):
        return handle_echo_request(ep, ip, src, dst, msg)
    if isinstance(msg, EchoReply):
        return Drop.ICMPV6_ECHO_REPLY_UNSOLICITED  # no ping sockets yet
    if isinstance(msg, (NeighborSolicit, NeighborAdvert, RouterSolicit, RouterAdvert, Redirect)):
        return _handle_ndp(ep, ip, src, dst, msg)
    if isinstance(msg, ICMPv6Error):
        return handle_error(ep, msg.type, msg.code, msg.invoking, msg.param)
    if msg.type in _MLD_TYPES:
        # MLD re-reads the message and the Hop-by-Hop header's Router Alert itself.
        return ep.mld.handle(pkt, ip, src, dst)
    return _handle_other(ep, msg)


def _handle_ndp(
    ep: IPv6Endpoint,
    ip: IPv6View,
    src: bytes,
    dst: bytes,
    msg: NeighborSolicit | NeighborAdvert | RouterSolicit | RouterAdvert | Redirect,
) -> Drop | None:
    """RFC 4861: validate (§6.1, §7.1, §8.1), then hand the message to its protocol module."""
    drop = validation.check(ip.hop_limit, src, dst, msg)
    if drop is not None:
        return drop
    if isinstance(msg, NeighborSolicit):
        return ndp.handle_neighbor_solicit(ep, src, dst, msg)
    if isinstance(msg, NeighborAdvert):
        return ndp.handle_neighbor_advert(ep, src, dst, msg)
    if isinstance(msg, Redirect):
        return redirect_rx.handle_redirect(ep, src, dst, msg)
    try:  # router discovery is S2's module (network/ipv6/router_discovery.py), imported when used
        from . import router_discovery
    except ImportError:  # pragma: no cover - only while the module is absent
        return Drop.ICMPV6_NOT_IMPLEMENTED
    if isinstance(msg, RouterSolicit):
        return router_discovery.handle_router_solicit(ep, src, dst, msg)
    return router_discovery.handle_router_advert(ep, src, dst, msg)


def _handle_other(ep: IPv6Endpoint, msg: UnknownICMPv6) -> Drop | None:
    if is_error_type(msg.type):
        # RFC 4443 §2.4(a): "If an ICMPv6 error message of unknown type is received at its
        # destination, it MUST be passed to the upper-layer process that originated the packet".
        return handle_error(ep, msg.type, msg.code, msg.body[4:])
    # RFC 4443 §2.4(b): "If an ICMPv6 informational message of unknown type is received at its
    # destination, it MUST be silently discarded."
    return Drop.ICMPV6_UNKNOWN_INFORMATIONAL


def handle_echo_request(ep: IPv6Endpoint, ip: IPv6View, src: bytes, dst: bytes, msg: EchoRequest) -> Drop | None:
    if src == UNSPECIFIED:
        return Drop.ICMPV6_UNSPECIFIED_SOURCE  # nowhere to send the reply
    # RFC 4443 §4.2: to a unicast address "the Source Address of the reply MUST be that same
    # address"; to a multicast address it "MUST be a unicast address belonging to the interface
    # on which the multicast Echo Request message was received."
    # An anycast address of ours is never a source (anycast.py; Linux anycast_src_echo_reply=0).
    reply_src = ep.select_source(src) if is_multicast(dst) or ep.anycast.has(dst) else dst
    if reply_src is None:
        ep.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return None
    # RFC 4443 §4.2: "The data received in the ICMPv6 Echo Request message MUST be returned
    # entirely and unmodified in the ICMPv6 Echo Reply message." Linux also echoes the Traffic Class.
    reply = EchoReply(msg.ident, msg.seq, msg.data)
    if send_icmpv6(ep, reply_src, src, reply, traffic_class=ip.traffic_class) is None:
        ep.nic.stats.count_event("icmpv6_echo_reply_sent")
    return None


def handle_error(ep: IPv6Endpoint, icmp_type: int, code: int, invoking: bytes, param: int = 0) -> Drop | None:
    """Hand an error about one of our packets to the transport protocol that sent it."""
    quoted = memoryview(invoking)
    ours = len(quoted) >= HEADER_LEN and _is_ours(ep, bytes(quoted[8:24]))
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
        quoted_dst = bytes(quoted[24:40])
        learned = ep.protocol.pmtu.update(quoted_dst, param, ep.path_mtu(quoted_dst))
        if learned:
            ep.nic.stats.count_event("icmpv6_pmtu_learned")
        _pass_up(ep, icmp_type, code, quoted, param)
        return None
    # gVisor (handleControl) and Linux only notify when the quoted source is one of ours.
    if not ours:
        return Drop.ICMPV6_ERROR_NO_HANDLER
    return _pass_up(ep, icmp_type, code, quoted, param)


def _is_ours(ep: IPv6Endpoint, addr: bytes) -> bool:
    return any(nic.is_local(addr) for nic in ep.stack.nics.values())


def _pass_up(ep: IPv6Endpoint, icmp_type: int, code: int, quoted: memoryview, param: int = 0) -> Drop | None:
    proto, offset = ipv6_ext.upper_layer(quoted)
    transport = ep.stack.transport_protocols.get(proto)
    # RFC 4443 §2.4(d): "In cases where it is not possible to retrieve the upper-layer protocol
    # type from the ICMPv6 message, the ICMPv6 message is silently dropped".
    if transport is None or offset is None:
        return Drop.ICMPV6_ERROR_NO_HANDLER
    # The kind is "<type>/<code>", as IPv4 reports it.
    transport.handle_error(6, f"{icmp_type}/{code}", quoted, param)
    return None


# ---- send --------------------------------------------------------------------------------------


def send_icmpv6(
    ep: IPv6Endpoint,
    src: bytes,
    dst: bytes,
    message: ICMPv6Message,
    *,
    hop_limit: int | None = None,
    traffic_class: int = 0,
) -> Drop | None:
    raw = icmpv6.encode(message, src, dst)
    return ep.send(src, dst, PROTO_ICMPV6, raw, hop_limit=hop_limit, traffic_class=traffic_class)


def send_param_problem(ep: IPv6Endpoint, pkt: PacketBuffer, problem: ipv6_ext.ParamProblem) -> None:
    send_error(ep, pkt, ICMPv6Type.PARAMETER_PROBLEM, problem.code, problem.pointer, to_multicast=problem.to_multicast)


def send_error(
    ep: IPv6Endpoint, pkt: PacketBuffer, icmp_type: int, code: int, param: int, *, to_multicast: bool = False
) -> None:
    """Answer the packet in ``pkt`` with an ICMPv6 error, where RFC 4443 §2.4(e) allows one."""
    link_multicast = bool(pkt.data[0] & 1) if len(pkt.data) else False
    send_error_about(ep, pkt.network(), icmp_type, code, param, to_multicast=to_multicast, link_multicast=link_multicast)


def send_error_about(
    ep: IPv6Endpoint,
    invoking: memoryview,
    icmp_type: int,
    code: int,
    param: int,
    *,
    to_multicast: bool = False,
    link_multicast: bool = False,
) -> None:
    if not may_send_error(invoking, to_multicast=to_multicast, link_multicast=link_multicast):
        ep.nic.stats.count_event("icmpv6_error_suppressed")
        return
    # RFC 4443 §2.4(f): "an IPv6 node MUST limit the rate of ICMPv6 error messages it
    # originates"; a token bucket (stack.set_icmp_rate_limit(6, ...), Linux's defaults).
    if not ep.stack.icmp_rate_limits[6].allow():
        ep.nic.stats.count_tx_drop(Drop.ICMPV6_ERROR_RATE_LIMITED)
        return
    orig_src, orig_dst = bytes(invoking[8:24]), bytes(invoking[24:40])
    # The error leaves by the route back to the offender's source (another NIC when forwarding).
    route = None if is_link_local(orig_src) else ep.stack.find_route(orig_src)
    out = ep if route is None else cast("IPv6Endpoint", route.endpoint)
    # RFC 4443 §2.2: "If the message is a response to a message sent to one of the node's unicast
    # addresses, the Source Address of the reply MUST be that same address"; otherwise (multicast,
    # or a forwarded packet) it is chosen like any other source (RFC 6724).
    src = orig_dst if _is_ours(ep, orig_dst) else out.select_source(orig_src)
    if src is None:
        ep.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return
    # RFC 4443 §2.4(c): "Every ICMPv6 error message (type < 128) MUST include as much of the IPv6
    # offending (invoking) packet ... as possible without making the error message packet exceed
    # the minimum IPv6 MTU".
    quote = bytes(invoking[: min(MAX_QUOTE, out.nic.mtu - HEADER_LEN - icmpv6.ERROR_HEADER_LEN)])
    if send_icmpv6(out, src, orig_src, ICMPv6Error(icmp_type, code, param, quote)) is None:
        ep.nic.stats.count_event("icmpv6_error_sent")


def may_send_error(invoking: memoryview, *, to_multicast: bool, link_multicast: bool) -> bool:
    """RFC 4443 §2.4(e): "An ICMPv6 error message MUST NOT be originated as a result of receiving" ..."""
    if len(invoking) < HEADER_LEN:
        return False
    src, dst = bytes(invoking[8:24]), bytes(invoking[24:40])
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
            # header info": a non-first fragment (RFC 8200 4.5) may be answered (frag helper).
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

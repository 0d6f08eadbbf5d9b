"""Neighbor Discovery (RFC 4861): address resolution with Neighbor Solicitation/Advertisement.

The neighbor table itself (states, queue, retransmissions) is the core's stack/neighbor.py; this
module validates NS/NA (§7.1), answers solicitations (§7.2.3-7.2.4), applies advertisements
(§7.2.5) and sends the solicitations the table asks for (§7.2.2).
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from stack_under_test.drops import Drop
from stack_under_test.params import NDP_HOP_LIMIT
from stack_under_test.stack.neighbor import NeighborState, Pending
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ethernet import ipv6_multicast_mac
from stack_under_test.wire.ipv6 import (
    ALL_NODES,
    HEADER_LEN,
    UNSPECIFIED,
    build_header,
    is_multicast,
    is_solicited_node,
    solicited_node,
)
from stack_under_test.wire.ndp import (
    NeighborAdvert,
    NeighborSolicit,
    source_link_option,
    target_link_option,
)
from stack_under_test.wire.numbers import (
    ETH_P_IPV6,
    PROTO_ICMPV6,
    ICMPv6DestUnreachableCode,
    ICMPv6Type,
    NDPOptionType,
)

if TYPE_CHECKING:
    from .endpoint import IPv6Endpoint


def handle_neighbor_solicit(
    ep: IPv6Endpoint, hop_limit: int, src: bytes, dst: bytes, ns: NeighborSolicit
) -> Drop | None:
    # Length, code, multicast target and zero-length options were checked by the parser (§7.1.1).
    if hop_limit != NDP_HOP_LIMIT:
        return Drop.NDP_HOP_LIMIT_NOT_255
    source_mac = ns.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS)
    if isinstance(source_mac, Drop):
        return source_mac
    from_unspecified = src == UNSPECIFIED
    if from_unspecified:
        # §7.1.1: "If the IP source address is the unspecified address, the IP destination address
        # is a solicited-node multicast address."
        if not is_solicited_node(dst):
            return Drop.NDP_DAD_NOT_TO_SOLICITED_NODE
        # §7.1.1: "... there is no source link-layer address option in the message."
        if source_mac is not None:
            return Drop.NDP_DAD_WITH_SOURCE_LINK_ADDRESS
    target = ns.target.packed
    entry = ep.nic.addresses.get(target)
    # §7.2.3: the target must be "a "valid" unicast or anycast address assigned to the receiving
    # interface"; otherwise "the solicitation ... SHOULD be silently discarded".
    if entry is None:
        return Drop.NDP_TARGET_NOT_OURS
    if not entry.usable:
        # §7.2.3: "If the Target Address is tentative, the Neighbor Solicitation should be
        # processed as described in [ADDRCONF]" (DAD, a later issue).
        return Drop.NDP_TARGET_TENTATIVE
    if source_mac is not None:
        # §7.2.3: "the recipient SHOULD create or update the Neighbor Cache entry for the IP Source
        # Address of the solicitation" (STALE when new or when the address changed).
        ep.neighbors.learn(src, source_mac)
    # §7.2.4: "If the source of the solicitation is the unspecified address, the node MUST set the
    # Solicited flag to zero and multicast the advertisement to the all-nodes address. Otherwise,
    # the node MUST set the Solicited flag to one and unicast the advertisement to the Source
    # Address of the solicitation." Override: "Otherwise, it SHOULD be set to one." We always
    # include the Target Link-Layer Address option (it "MAY be omitted" only for unicast NS).
    na_dst = ALL_NODES if from_unspecified else src
    advert = NeighborAdvert(
        ns.target,
        router=ep.stack.forwarding[6],
        solicited=not from_unspecified,
        override=True,
        options=target_link_option(ep.nic.mac),
    )
    raw = icmpv6.encode(advert, target, na_dst)
    # ND is link-scoped: the NS source is on this link whatever the route table says.
    if ep.send(target, na_dst, PROTO_ICMPV6, raw, hop_limit=NDP_HOP_LIMIT, next_hop=na_dst) is None:
        ep.nic.stats.count_event("ndp_neighbor_advert_sent")
    return None


def handle_neighbor_advert(
    ep: IPv6Endpoint, hop_limit: int, src: bytes, dst: bytes, na: NeighborAdvert
) -> Drop | None:
    if hop_limit != NDP_HOP_LIMIT:
        return Drop.NDP_HOP_LIMIT_NOT_255
    # §7.1.2: "If the IP Destination Address is a multicast address the Solicited flag is zero."
    if na.solicited and is_multicast(dst):
        return Drop.NDP_SOLICITED_ADVERT_TO_MULTICAST
    target_mac = na.options.link_address(NDPOptionType.TARGET_LINK_ADDRESS)
    if isinstance(target_mac, Drop):
        return target_mac
    target = na.target.packed
    if ep.nic.addresses.get(target) is not None:
        # RFC 4862 §5.4.4: someone else answers for our address; duplicate detection comes with DAD.
        return Drop.NDP_ADVERT_FOR_OUR_ADDRESS
    entry = ep.neighbors.get(target)
    # §7.2.5: "If no entry exists, the advertisement SHOULD be silently discarded."
    if entry is None:
        return Drop.NDP_ADVERT_NO_ENTRY
    if entry.state is NeighborState.INCOMPLETE:
        # §7.2.5: "If the link layer has addresses and no Target Link-Layer Address option is
        # included, the receiving node SHOULD silently discard the received advertisement."
        if target_mac is None:
            return Drop.NDP_ADVERT_WITHOUT_TARGET_LINK_ADDRESS
        # "... record the link-layer address ... If the advertisement's Solicited flag is set, the
        # state of the entry is set to REACHABLE; otherwise, it is set to STALE." Queued packets go.
        ep.neighbors.learn(target, target_mac, solicited=na.solicited, create=False)
        entry.is_router = na.router
        return None
    # §7.2.5, entry not INCOMPLETE: with Override clear and a different address, only a REACHABLE
    # entry turns STALE; otherwise the advertisement updates the entry (the core's learn()).
    mac = target_mac if target_mac is not None else entry.mac
    if mac is None:
        return None
    ignored = not na.override and mac != entry.mac
    ep.neighbors.learn(target, mac, solicited=na.solicited, override=na.override, create=False)
    if not ignored:
        # "the IsRouter flag in the cache entry MUST be set based on the Router flag"
        entry.is_router = na.router
    return None


def send_neighbor_solicit(ep: IPv6Endpoint, target: bytes, unicast_mac: bytes | None, first: bytes | None) -> None:
    """The neighbor table's solicit hook (§7.2.2): multicast to the solicited-node group, or a
    unicast probe when ``unicast_mac`` is known."""
    # §7.2.2: "If the source address of the packet prompting the solicitation is the same as one of
    # the addresses assigned to the outgoing interface, that address SHOULD be placed in the IP
    # Source Address of the outgoing solicitation. Otherwise, any one of the addresses assigned to
    # the interface should be used."
    src = None
    if first is not None and len(first) >= HEADER_LEN and ep.is_local(first[8:24]):
        src = bytes(first[8:24])
    if src is None:
        src = ep.select_source(target) or ep.link_local
    if src is None or not ep.is_local(src):
        ep.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return
    dst = target if unicast_mac is not None else solicited_node(target)
    # §4.3: the Source Link-Layer Address option "MUST be included in multicast solicitations and
    # SHOULD be included in unicast solicitations" on links with addresses.
    solicit = NeighborSolicit(IPv6Address(target), source_link_option(ep.nic.mac))
    raw = icmpv6.encode(solicit, src, dst)
    packet = build_header(src, dst, PROTO_ICMPV6, len(raw), NDP_HOP_LIMIT) + raw
    mac = unicast_mac if unicast_mac is not None else ipv6_multicast_mac(dst)
    if ep.nic.write_packet(mac, ETH_P_IPV6, packet):
        ep.nic.stats.count_event("ndp_neighbor_solicit_sent")


def on_resolution_failed(ep: IPv6Endpoint, target: bytes, pending: list[Pending]) -> None:
    """§7.2.2: "The sender MUST return ICMP destination unreachable indications with code 3
    (Address Unreachable) for each packet queued awaiting address resolution."

    Our own packets are not answered on the wire (Linux reports EHOSTUNREACH to the socket);
    only packets of another source (forwarded, a later issue) get the ICMPv6 error.
    """
    from . import icmp  # icmp imports this module

    for _ethertype, packet in pending:
        view = memoryview(packet)
        if len(view) >= HEADER_LEN and not ep.is_local(bytes(view[8:24])):
            icmp.send_error_about(ep, view, ICMPv6Type.DEST_UNREACHABLE, ICMPv6DestUnreachableCode.ADDRESS, 0)

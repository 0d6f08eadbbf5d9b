"""Neighbor Discovery (RFC 4861): address resolution with Neighbor Solicitation/Advertisement.

The neighbor table itself (states, queue, retransmissions) is the core's stack/neighbor.py; this
module answers solicitations (§7.2.3-7.2.4, §7.2.7 for anycast targets), applies advertisements
(§7.2.5) and sends the solicitations the table asks for (§7.2.2). validation.py checks §7.1 first.
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.params import NDP_HOP_LIMIT
from stack_under_test.stack.neighbor import Pending
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ethernet import ipv6_multicast_mac
from stack_under_test.wire.ipv6 import (
    ALL_NODES,
    HEADER_LEN,
    UNSPECIFIED,
    build_header,
    is_multicast,
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


def handle_neighbor_solicit(ep: IPv6Endpoint, src: bytes, dst: bytes, ns: NeighborSolicit) -> Drop | None:
    """§7.2.3 (validation.check() has applied §7.1.1 already)."""
    source_mac = ns.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS)
    from_unspecified = src == UNSPECIFIED
    target = ns.target.packed
    entry = ep.nic.addresses.get(target)
    anycast = entry is None and ep.anycast.has(target)
    # §7.2.3: the target must be "a "valid" unicast or anycast address assigned to the receiving
    # interface"; otherwise "the solicitation ... SHOULD be silently discarded".
    if entry is None and not anycast:
        return Drop.NDP_TARGET_NOT_OURS
    if entry is not None and not entry.usable:
        # §7.2.3: "If the Target Address is tentative, the Neighbor Solicitation should be
        # processed as described in [ADDRCONF]" (RFC 4862 §5.4.3: Duplicate Address Detection).
        dad = getattr(ep, "dad", None)
        if dad is None:
            return Drop.NDP_TARGET_TENTATIVE
        result: Drop | None = dad.on_neighbor_solicit(src, dst, target, ns.options.nonce())
        return result
    if source_mac is not None and not isinstance(source_mac, Drop) and not from_unspecified:
        # §7.2.3: "If the Source Address is not the unspecified address and, on link layers that
        # have addresses, the solicitation includes a Source Link-Layer Address option, then the
        # recipient SHOULD create or update the Neighbor Cache entry for the IP Source Address of
        # the solicitation." (STALE when new or when the address changed.)
        ep.neighbors.learn(src, source_mac)
    if anycast and is_multicast(dst):
        # §7.2.7: "If the Target Address is an anycast address, the sender SHOULD delay sending a
        # response for a random time between 0 and MAX_ANYCAST_DELAY_TIME seconds." Like Linux,
        # only a multicast solicitation waits (a unicast one is a NUD probe of a known neighbor).
        # Bounded like Linux's proxy queue (proxy_qlen 64): a flood cannot grow the timer heap.
        if ep.anycast.delayed >= params.ANYCAST_DELAYED_ADVERTS_MAX:
            return Drop.NDP_ANYCAST_ADVERTS_QUEUED
        ep.anycast.delayed += 1
        delay = ep.stack.rng.randint(0, params.MAX_ANYCAST_DELAY_TIME_MS)
        ep.stack.clock.schedule(delay, lambda: _send_delayed_advert(ep, src, ns.target))
        ep.nic.stats.count_event("ndp_anycast_advert_delayed")
        return None
    _send_advert(ep, src, ns.target, anycast=anycast)
    return None


def _send_delayed_advert(ep: IPv6Endpoint, solicitor: bytes, target: IPv6Address) -> None:
    ep.anycast.delayed -= 1
    _send_advert(ep, solicitor, target, anycast=True)


def _send_advert(ep: IPv6Endpoint, solicitor: bytes, target: IPv6Address, *, anycast: bool) -> None:
    if not ep.nic.enabled:
        return
    from_unspecified = solicitor == UNSPECIFIED
    # §7.2.4: "If the source of the solicitation is the unspecified address, the node MUST set the
    # Solicited flag to zero and multicast the advertisement to the all-nodes address. Otherwise,
    # the node MUST set the Solicited flag to one and unicast the advertisement to the Source
    # Address of the solicitation."
    na_dst = ALL_NODES if from_unspecified else solicitor
    # §7.2.4: "If the Target Address is either an anycast address or a unicast address for which
    # the node is providing proxy service, ... the Override flag SHOULD be set to zero. Otherwise,
    # it SHOULD be set to one." The Router flag tells whether we forward (§4.4). We always include
    # the Target Link-Layer Address option (it "MAY be omitted" only for unicast NS).
    advert = NeighborAdvert(
        target,
        router=ep.stack.forwarding[6],
        solicited=not from_unspecified,
        override=not anycast,
        options=target_link_option(ep.nic.mac),
    )
    # An anycast address is never a source (Linux ndisc_send_na() picks one by source selection).
    src = ep.select_source(na_dst) if anycast else target.packed
    if src is None:
        ep.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
        return
    raw = icmpv6.encode(advert, src, na_dst)
    # ND is link-scoped: the NS source is on this link whatever the route table says.
    if ep.send(src, na_dst, PROTO_ICMPV6, raw, hop_limit=NDP_HOP_LIMIT, next_hop=na_dst) is None:
        ep.nic.stats.count_event("ndp_neighbor_advert_sent")


def handle_neighbor_advert(ep: IPv6Endpoint, src: bytes, dst: bytes, na: NeighborAdvert) -> Drop | None:
    """§7.2.5 (validation.check() has applied §7.1.2 already)."""
    target_mac = na.options.link_address(NDPOptionType.TARGET_LINK_ADDRESS)
    if isinstance(target_mac, Drop):
        return target_mac
    target = na.target.packed
    if ep.nic.addresses.get(target) is not None:
        # RFC 4862 §5.4.4: an advertisement for one of our addresses: a duplicate while it is
        # tentative (Duplicate Address Detection decides), else someone else's mistake.
        dad = getattr(ep, "dad", None)
        if dad is None:
            return Drop.NDP_ADVERT_FOR_OUR_ADDRESS
        result: Drop | None = dad.on_neighbor_advert(target)
        return result
    return ep.neighbors.on_advert(target, target_mac, solicited=na.solicited, override=na.override, router=na.router)


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

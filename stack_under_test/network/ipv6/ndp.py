"""Neighbor Discovery (RFC 4861): address resolution with Neighbor Solicitation/Advertisement.

The neighbor table itself (states, queue, retransmissions) is the core's stack/neighbor.py; this
module answers solicitations (§7.2.3-7.2.4, §7.2.7 for anycast targets), applies advertisements
(§7.2.5), sends the solicitations the table asks for (§7.2.2) and answers the packets it gave up
on. validation.py checks §7.1 first; solicitations and advertisements for our own addresses are
Duplicate Address Detection's (addrconf/).
"""

from __future__ import annotations

from ipaddress import IPv6Address
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Timer
from stack_under_test.drops import Drop
from stack_under_test.params import NDP_HOP_LIMIT
from stack_under_test.stack.neighbor import Pending
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ethernet import ipv6_multicast_mac
from stack_under_test.wire.ipv6 import (
    ALL_NODES,
    HEADER_LEN,
    UNSPECIFIED,
    IPv6View,
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

from . import icmp

if TYPE_CHECKING:
    from .addrconf import AddressConfiguration
    from .anycast import AnycastAddresses
    from .contracts import IPv6Host


class NeighborDiscovery:
    """Neighbor Solicitations and Advertisements of one NIC."""

    def __init__(self, host: IPv6Host, addrconf: AddressConfiguration, anycast: AnycastAddresses) -> None:
        self.host = host
        self.addrconf = addrconf
        self.anycast = anycast
        self.delayed_adverts = 0  # anycast advertisements waiting out their §7.2.7 random delay
        self._next_announcement: Timer | None = None  # §7.2.6: the chain's one pending advertisement

    def handle_neighbor_solicit(self, src: bytes, dst: bytes, ns: NeighborSolicit) -> Drop | None:
        """§7.2.3 (validation.check() has applied §7.1.1 already)."""
        host = self.host
        source_mac = ns.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS)
        from_unspecified = src == UNSPECIFIED
        target = ns.target.packed
        entry = host.nic.addresses.get(target)
        anycast = entry is None and self.anycast.has(target)
        # §7.2.3: the target must be "a "valid" unicast or anycast address assigned to the receiving
        # interface"; otherwise "the solicitation ... SHOULD be silently discarded".
        if entry is None and not anycast:
            return Drop.NDP_TARGET_NOT_OURS
        if entry is not None and not entry.usable:
            # §7.2.3: "If the Target Address is tentative, the Neighbor Solicitation should be
            # processed as described in [ADDRCONF]" (RFC 4862 §5.4.3: Duplicate Address Detection).
            return self.addrconf.on_neighbor_solicit(src, entry, ns.options.nonce())
        if source_mac is not None and not isinstance(source_mac, Drop) and not from_unspecified:
            # §7.2.3: "If the Source Address is not the unspecified address and, on link layers that
            # have addresses, the solicitation includes a Source Link-Layer Address option, then the
            # recipient SHOULD create or update the Neighbor Cache entry for the IP Source Address of
            # the solicitation." (STALE when new or when the address changed.)
            host.neighbors.learn(src, source_mac)
        if anycast and is_multicast(dst):
            # §7.2.7: "If the Target Address is an anycast address, the sender SHOULD delay sending a
            # response for a random time between 0 and MAX_ANYCAST_DELAY_TIME seconds." Like Linux,
            # only a multicast solicitation waits (a unicast one is a NUD probe of a known neighbor).
            # Bounded like Linux's proxy queue (proxy_qlen 64): a flood cannot grow the timer heap.
            if self.delayed_adverts >= params.ANYCAST_DELAYED_ADVERTS_MAX:
                return Drop.NDP_ANYCAST_ADVERTS_QUEUED
            self.delayed_adverts += 1
            delay = host.stack.rng.randint(0, params.MAX_ANYCAST_DELAY_TIME_MS)
            host.stack.clock.schedule(delay, lambda: self._send_delayed_advert(src, ns.target))
            host.nic.stats.count_event("ndp_anycast_advert_delayed")
            return None
        self._send_advert(src, ns.target, anycast=anycast)
        return None

    def _send_delayed_advert(self, solicitor: bytes, target: IPv6Address) -> None:
        self.delayed_adverts -= 1
        self._send_advert(solicitor, target, anycast=True)

    def _send_advert(self, solicitor: bytes, target: IPv6Address, *, anycast: bool) -> None:
        host = self.host
        if not host.nic.enabled:
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
            router=host.stack.forwarding[6],
            solicited=not from_unspecified,
            override=not anycast,
            options=target_link_option(host.nic.mac),
        )
        # An anycast address is never a source (Linux ndisc_send_na() picks one by source selection).
        src = host.select_source(na_dst) if anycast else target.packed
        if src is None:
            host.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
            return
        raw = icmpv6.encode(advert, src, na_dst)
        # ND is link-scoped: the NS source is on this link whatever the route table says.
        if host.send(src, na_dst, PROTO_ICMPV6, raw, hop_limit=NDP_HOP_LIMIT, next_hop=na_dst) is None:
            host.nic.stats.count_event("ndp_neighbor_advert_sent")

    # ---- unsolicited advertisements (§7.2.6) -------------------------------------------------------
    def announce_link_address(self) -> None:
        """The link-layer address changed: "a node MAY send up to MAX_NEIGHBOR_ADVERTISEMENT
        unsolicited Neighbor Advertisement messages to the all-nodes multicast address. These
        advertisements MUST be separated by at least RetransTimer seconds." We do when configured
        to (Linux ndisc_notify; Linux sends one per address), for each usable unicast address."""
        self.stop_announcing()
        host = self.host
        cfg = host.nic.ipv6_config
        if not cfg.ndisc_notify:
            return
        targets = [e.packed for e in host.nic.addresses.of_family(6) if e.usable]
        spacing = params.UNSOLICITED_ADVERT_SPACING_MS
        # §7.2.6: "A node that has multiple IP addresses assigned to an interface MAY multicast a
        # separate Neighbor Advertisement for each address. In such a case, the node SHOULD
        # introduce a small delay between the sending of each advertisement". Each round starts
        # RetransTimer after the one before.
        round_gap = max(0, cfg.retrans_time_ms - (len(targets) - 1) * spacing)
        steps = [(spacing if i else round_gap if round_ else 0, target)
                 for round_ in range(params.MAX_NEIGHBOR_ADVERTISEMENT) for i, target in enumerate(targets)]
        self._announce_from(steps, 0)

    def _announce_from(self, steps: list[tuple[int, bytes]], index: int) -> None:
        """Schedule announcement ``index`` of ``steps`` (delay after the one before, target). Each
        is timed from when the one before went out, not all from the change: a host that runs
        late sends them late, but never closer together than the delays above."""
        delay, target = steps[index]

        def announce() -> None:
            self._announce(target)
            if index + 1 < len(steps):
                self._announce_from(steps, index + 1)

        self._next_announcement = self.host.stack.clock.schedule(delay, announce)

    def stop_announcing(self) -> None:
        if self._next_announcement is not None:
            self._next_announcement.cancel()
            self._next_announcement = None

    def _announce(self, target: bytes) -> None:
        host = self.host
        if not host.nic.enabled or not host.is_local(target):
            return
        # §7.2.6: "the Target Link-Layer Address option is filled with the new link-layer address.
        # The Solicited flag MUST be set to zero ... If the node is a router, it MUST set the Router
        # flag to one; otherwise, it MUST set it to zero. The Override flag MAY be set to either
        # zero or one." (One, as Linux: neighbors install the new address at once.)
        advert = NeighborAdvert(IPv6Address(target), router=host.stack.forwarding[6], solicited=False,
                                override=True, options=target_link_option(host.nic.mac))
        raw = icmpv6.encode(advert, target, ALL_NODES)
        if host.send(target, ALL_NODES, PROTO_ICMPV6, raw, hop_limit=NDP_HOP_LIMIT) is None:
            host.nic.stats.count_event("ndp_unsolicited_advert_sent")

    def handle_neighbor_advert(self, src: bytes, dst: bytes, na: NeighborAdvert) -> Drop | None:
        """§7.2.5 (validation.check() has applied §7.1.2 already)."""
        target_mac = na.options.link_address(NDPOptionType.TARGET_LINK_ADDRESS)
        if isinstance(target_mac, Drop):
            return target_mac
        target = na.target.packed
        ours = self.host.nic.addresses.get(target)
        if ours is not None:
            # RFC 4862 §5.4.4: an advertisement for one of our addresses: a duplicate while it is
            # tentative (Duplicate Address Detection decides), else someone else's mistake.
            return self.addrconf.on_neighbor_advert(ours)
        return self.host.neighbors.on_advert(
            target, target_mac, solicited=na.solicited, override=na.override, router=na.router
        )

    def send_neighbor_solicit(self, target: bytes, unicast_mac: bytes | None, first: bytes | None) -> None:
        """The neighbor table's solicit hook (§7.2.2): multicast to the solicited-node group, or a
        unicast probe when ``unicast_mac`` is known."""
        host = self.host
        # §7.2.2: "If the source address of the packet prompting the solicitation is the same as one
        # of the addresses assigned to the outgoing interface, that address SHOULD be placed in the
        # IP Source Address of the outgoing solicitation. Otherwise, any one of the addresses
        # assigned to the interface should be used."
        src = None
        if first is not None and len(first) >= HEADER_LEN:
            prompting = IPv6View(memoryview(first)).src
            if host.is_local(prompting):
                src = prompting
        if src is None:
            src = host.select_source(target) or host.link_local
        if src is None or not host.is_local(src):
            host.nic.stats.count_tx_drop(Drop.IPV6_NO_ROUTE)
            return
        dst = target if unicast_mac is not None else solicited_node(target)
        # §4.3: the Source Link-Layer Address option "MUST be included in multicast solicitations
        # and SHOULD be included in unicast solicitations" on links with addresses.
        solicit = NeighborSolicit(IPv6Address(target), source_link_option(host.nic.mac))
        raw = icmpv6.encode(solicit, src, dst)
        packet = build_header(src, dst, PROTO_ICMPV6, len(raw), NDP_HOP_LIMIT) + raw
        mac = unicast_mac if unicast_mac is not None else ipv6_multicast_mac(dst)
        if host.nic.write_packet(mac, ETH_P_IPV6, packet):
            host.nic.stats.count_event("ndp_neighbor_solicit_sent")

    def on_resolution_failed(self, target: bytes, pending: list[Pending]) -> None:
        """§7.2.2: "The sender MUST return ICMP destination unreachable indications with code 3
        (Address Unreachable) for each packet queued awaiting address resolution."

        A packet of another source (a forwarded one) gets the ICMPv6 error on the wire; for one of
        our own the indication goes to the upper-layer process that sent it, as an error quoting
        it would (RFC 4443 2.4 (d); Linux sends itself the ICMPv6 error).
        """
        code = ICMPv6DestUnreachableCode.ADDRESS
        for _ethertype, packet in pending:
            view = memoryview(packet)
            if len(view) < HEADER_LEN:
                continue
            if self.host.is_local(IPv6View(view).src):
                icmp.handle_error(self.host, ICMPv6Type.DEST_UNREACHABLE, code, packet)
            else:
                icmp.send_error_about(self.host, view, ICMPv6Type.DEST_UNREACHABLE, code, 0)

"""Router discovery for hosts (RFC 4861 6.3, RFC 4191): Router Solicitations on enable, Router
Advertisement processing, the Default Router List, the Prefix List and Route Information routes.

A node with forwarding on is a router: it sends no solicitations and learns nothing for host
configuration from advertisements (RFC 4861 6.2.7 only asks routers to check them for
consistency). Routers must answer solicitations with advertisements (6.2.6); this stack has no
advertising-interface configuration and sends none (like Linux without radvd), so a router only
takes a solicitation's link-layer address into its Neighbor Cache.

On-link prefixes and Route Information routes become route table entries; the Default Router
List is consulted by ``Stack.find_route`` / ``IPv6Endpoint.send`` when no route matches
(``default_router``), so the selection of 6.3.6 and RFC 4191 3.2 runs per lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Timer
from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborState
from stack_under_test.stack.route import RouteEntry
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ipv6 import ALL_ROUTERS, UNSPECIFIED, is_link_local, is_multicast
from stack_under_test.wire.ndp import NDPOptions, RouterAdvert, RouterSolicit, source_link_option
from stack_under_test.wire.numbers import PROTO_ICMPV6, NDPOptionType

if TYPE_CHECKING:
    from .contracts import IPv6Host

_LINK_LOCAL_SCOPE = IPv6Network("fe80::/10")


@dataclass(slots=True, eq=False)
class DefaultRouter:
    address: bytes
    preference: int  # RFC 4191: PREF_HIGH 1, PREF_MEDIUM 0, PREF_LOW -1
    timer: Timer | None = None
    probed_ms: int | None = None  # when RFC 4191 3.5 last probed it
    # RFC 6724 rule 5.5 (RFC 8028): the prefixes it advertised (at most MAX_DEFAULT_ROUTERS).
    prefixes: set[IPv6Network] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class LearntRoute:  # RFC 4191 Route Information, per (prefix, router)
    preference: int
    timer: Timer | None


class RouterDiscovery:
    """Router discovery on one NIC; the endpoint hands it Router Solicitations and Advertisements."""

    def __init__(self, host: IPv6Host) -> None:
        self.host = host
        self.routers: dict[bytes, DefaultRouter] = {}
        self.prefixes: dict[IPv6Network, Timer | None] = {}
        self.routes: dict[tuple[IPv6Network, bytes], LearntRoute] = {}
        self.mtu: int | None = None  # RFC 4861 4.6.4 LinkMTU from the MTU option
        self._rs_timer: Timer | None = None
        self._rs_left = 0
        self._rs_sent = False  # a solicitation went out since the interface came up
        self._round_robin = 0
        self._all_routers = False  # joined ff02::2 as a router

    # ---- Router Solicitations (RFC 4861 6.3.7) -----------------------------------------------------
    def on_enable(self) -> None:
        self._router_groups(self.host.stack.forwarding[6])
        self.start_soliciting()

    def _router_groups(self, router: bool) -> None:
        # RFC 4291 2.8: "A router is required to recognize all addresses that a host is required
        # to recognize, plus the following addresses as identifying itself: ... The All-Routers
        # multicast addresses defined in Section 2.7.1." Router Solicitations go there (6.3.7).
        if router and not self._all_routers and self.host.nic.enabled:
            self.host.nic.join_group(ALL_ROUTERS)
            self._all_routers = True
        elif not router and self._all_routers:
            self.host.nic.leave_group(ALL_ROUTERS)
            self._all_routers = False

    def start_soliciting(self) -> None:
        """The interface became enabled: solicit unless we are a router or ignore RAs anyway."""
        self.stop_soliciting()
        cfg = self.host.nic.ipv6_config
        if self.host.stack.forwarding[6] or not cfg.accept_ra or cfg.router_solicitations <= 0:
            return
        # 6.3.7: "a host SHOULD transmit up to MAX_RTR_SOLICITATIONS Router Solicitation messages,
        # each separated by at least RTR_SOLICITATION_INTERVAL seconds." "Before a host sends an
        # initial solicitation, it SHOULD delay the transmission for a random amount of time
        # between 0 and MAX_RTR_SOLICITATION_DELAY."
        self._rs_left = cfg.router_solicitations
        self._rs_sent = False
        delay = self.host.stack.rng.randint(0, cfg.rtr_solicit_delay_ms)
        self._rs_timer = self.host.stack.clock.schedule(delay, self._solicit)

    def stop_soliciting(self) -> None:
        if self._rs_timer is not None:
            self._rs_timer.cancel()
            self._rs_timer = None

    def _advertised_while_soliciting(self) -> None:
        # 6.3.7: "Once the host sends a Router Solicitation, and receives a valid Router
        # Advertisement with a non-zero Router Lifetime, the host MUST desist from sending additional
        # solicitations on that interface". "Moreover, a host SHOULD send at least one solicitation
        # in the case where an advertisement is received prior to having sent a solicitation":
        # still in the initial delay, the first solicitation goes out as planned, and is the last.
        if self._rs_timer is not None and not self._rs_sent:
            self._rs_left = 1
            return
        self.stop_soliciting()

    def _solicit(self) -> None:
        # Armed only with solicitations left, and cancelled when the node becomes a router.
        self._rs_timer = None
        host = self.host
        self._rs_left -= 1
        self._rs_sent = True
        # 6.3.7: "The IP source address is set to either one of the interface's unicast
        # addresses or the unspecified address." A tentative address is no source (RFC 4862 5.4),
        # so before DAD ends we use ::. 4.1: the Source Link-Layer Address option "MUST NOT be
        # included when the source IP address is the unspecified address. Otherwise, it SHOULD be
        # included on link layers that have addresses."
        src = self._link_local_source()
        options = NDPOptions() if src == UNSPECIFIED else source_link_option(host.nic.mac)
        raw = icmpv6.encode(RouterSolicit(options), src, ALL_ROUTERS)
        if host.send(src, ALL_ROUTERS, PROTO_ICMPV6, raw, hop_limit=params.NDP_HOP_LIMIT) is None:
            host.nic.stats.count_event("ndp_router_solicit_sent")
        if self._rs_left > 0:
            interval = host.nic.ipv6_config.rtr_solicit_interval_ms
            self._rs_timer = host.stack.clock.schedule(interval, self._solicit)

    def _link_local_source(self) -> bytes:
        host = self.host
        for entry in host.nic.addresses.of_family(6):
            if entry.usable and is_link_local(entry.packed):
                return entry.packed
        return UNSPECIFIED

    # ---- the Default Router List (RFC 4861 6.3.4, 6.3.5, 6.3.6; RFC 4191) ----------------------------
    def default_router(self) -> bytes | None:
        """6.3.6 default router selection, with the preferences of RFC 4191 3.2."""
        if not self.routers:
            return None
        routers = list(self.routers.values())
        # 6.3.6: "1) Routers that are reachable or probably reachable (i.e., in any state other
        # than INCOMPLETE) SHOULD be preferred over routers whose reachability is unknown or
        # suspect (i.e., in the INCOMPLETE state, or for which no Neighbor Cache entry exists)."
        # RFC 4191 3.2: among those, the higher preference wins.
        reachable = [r for r in routers if self._probably_reachable(r.address)]
        if reachable:
            chosen = max(reachable, key=lambda r: r.preference)
            self._probe_preferred(chosen, routers)
            return chosen.address
        # 6.3.6: "2) When no routers on the list are known to be reachable or probably reachable,
        # routers SHOULD be selected in a round-robin fashion, so that subsequent requests for a
        # default router do not return the same router until all other routers have been
        # selected." (Among the most preferred ones, RFC 4191 3.2.)
        best = max(r.preference for r in routers)
        candidates = [r for r in routers if r.preference == best]
        self._round_robin = (self._round_robin + 1) % len(candidates)
        return candidates[self._round_robin].address

    def advertised_by_next_hop(self, gateway: bytes | None) -> frozenset[IPv6Network]:
        """RFC 6724 rule 5.5: the prefixes advertised by the next hop, ``gateway`` or else the
        default router ``default_router`` chose last (the route is found before the source)."""
        if gateway is None and self.routers:
            routers = list(self.routers.values())
            reachable = [r for r in routers if self._probably_reachable(r.address)]
            if reachable:
                gateway = max(reachable, key=lambda r: r.preference).address
            else:
                best = max(r.preference for r in routers)
                candidates = [r for r in routers if r.preference == best]
                gateway = candidates[self._round_robin % len(candidates)].address
        router = None if gateway is None else self.routers.get(gateway)
        return frozenset() if router is None else frozenset(router.prefixes)

    def _probe_preferred(self, chosen: DefaultRouter, routers: list[DefaultRouter]) -> None:
        """RFC 4191 3.5: "When a host avoids using any non-reachable router X and instead sends a
        data packet to another router Y, and the host would have used router X if router X were
        reachable, then the host SHOULD probe each such router X's reachability by sending a
        single Neighbor Solicitation to that router's address. A host MUST NOT probe a router's
        reachability in the absence of useful traffic ... these probes MUST be rate-limited to no
        more than one per minute per router." Called as a packet is about to go to ``chosen``."""
        now = self.host.stack.clock.now_ms
        for router in routers:
            if router.preference <= chosen.preference or self._probably_reachable(router.address):
                continue
            if router.probed_ms is not None and now - router.probed_ms < params.ROUTER_PROBE_INTERVAL_MS:
                continue
            if self.host.neighbors.probe(router.address):
                router.probed_ms = now
                self.host.nic.stats.count_event("ndp_router_probed")

    def _probably_reachable(self, addr: bytes) -> bool:
        entry = self.host.neighbors.get(addr)
        return entry is not None and entry.state is not NeighborState.INCOMPLETE and entry.mac is not None

    def _update_router(self, src: bytes, lifetime_s: int, preference: int) -> None:
        router = self.routers.get(src)
        if lifetime_s == 0:
            # 6.3.4: "If the address is already present in the host's Default Router List and the
            # received Router Lifetime value is zero, immediately time-out the entry".
            if router is not None:
                self.remove_router(src)
            return
        if router is None:
            # 6.3.4: "If the address is not already present in the host's Default Router List,
            # and the advertisement's Router Lifetime is non-zero, create a new entry in the
            # list". "To limit the storage needed for the Default Router List, a host MAY choose
            # not to store all of the router addresses discovered via advertisements."
            if len(self.routers) >= params.MAX_DEFAULT_ROUTERS:
                self.host.nic.stats.count_event("ndp_default_router_list_full")
                return
            router = self.routers[src] = DefaultRouter(src, preference)
            self.host.nic.stats.count_event("ndp_default_router_added")
        router.preference = preference
        # "... reset its invalidation timer to the Router Lifetime value in the newly received
        # advertisement."
        if router.timer is not None:
            router.timer.cancel()
        router.timer = self.host.stack.clock.schedule(lifetime_s * 1000, lambda: self._expire_router(router))
        self._routes_changed()

    def _expire_router(self, router: DefaultRouter) -> None:
        if self.routers.get(router.address) is router:
            router.timer = None
            self.remove_router(router.address)

    def remove_router(self, addr: bytes) -> None:
        router = self.routers.pop(addr, None)
        if router is None:
            return
        if router.timer is not None:
            router.timer.cancel()
        self.host.nic.stats.count_event("ndp_default_router_removed")
        # 6.3.5: "When removing a router from the Default Router list, the node MUST update the
        # Destination Cache in such a way that all entries using the router perform next-hop
        # determination again". Ours is the route version that cached paths check.
        self._routes_changed()

    def on_router_flag_cleared(self, addr: bytes) -> None:
        """RFC 4861 7.2.5: "In those cases where the IsRouter flag changes from TRUE to FALSE as
        a result of this update, the node MUST remove that router from the Default Router List"."""
        self.remove_router(addr)

    def _routes_changed(self) -> None:
        self.host.stack.routes.version += 1

    # ---- the Prefix List: on-link determination (RFC 4861 6.3.4, 6.3.5) --------------------------
    def _on_link_prefix(self, prefix: IPv6Network, valid_s: int) -> None:
        nic = self.host.nic
        if prefix.network_address in _LINK_LOCAL_SCOPE:
            # 6.3.4: "If the prefix is the link-local prefix, silently ignore the Prefix
            # Information option."
            return
        known = prefix in self.prefixes
        if not known:
            # "If the Prefix Information option's Valid Lifetime field is zero, and the prefix is
            # not present in the host's Prefix List, silently ignore the option."
            if valid_s == 0:
                return
            if len(self.prefixes) >= params.MAX_RA_PREFIXES:
                nic.stats.count_event("ndp_prefix_list_full")
                return
            self.host.stack.routes.add(RouteEntry(prefix, nic.name))
            nic.stats.count_event("ndp_prefix_added")
        else:
            self._cancel(self.prefixes[prefix])
        if valid_s == 0:
            # "If the new Lifetime value is zero, time-out the prefix immediately".
            self.remove_prefix(prefix)
            return
        # "... create a new entry for the prefix and initialize its invalidation timer to the
        # Valid Lifetime value" / "reset its invalidation timer to the Valid Lifetime value".
        self.prefixes[prefix] = self._lifetime_timer(valid_s, lambda: self.remove_prefix(prefix))

    def remove_prefix(self, prefix: IPv6Network) -> None:
        """Only for a prefix in the list: a removed prefix's timer is cancelled with it."""
        self._cancel(self.prefixes.pop(prefix))
        nic = self.host.nic
        # An address configured by hand (static) in the prefix keeps its own on-link route (as
        # Linux keeps the kernel route beside the RA one).
        if not any(e.interface.network == prefix and e.static for e in nic.addresses.of_family(6)):
            self.host.stack.routes.remove(RouteEntry(prefix, nic.name))
        nic.stats.count_event("ndp_prefix_removed")

    # ---- Route Information (RFC 4191 2.3, 3.1) -------------------------------------------------------
    def _route_info(self, router: bytes, prefix: IPv6Network, lifetime_s: int, preference: int) -> None:
        if prefix.prefixlen == 0:
            # RFC 4191 3.1: "The Router Preference and Lifetime values in a ::/0 Route Information
            # Option override the preference and lifetime values in the Router Advertisement
            # header." (Linux updates the default router entry the same way.)
            self._update_router(router, lifetime_s, preference)
            return
        nic = self.host.nic
        key = (prefix, router)
        known = self.routes.get(key)
        if known is not None:
            self._cancel(known.timer)
        elif lifetime_s == 0:
            return
        elif len(self.routes) >= params.MAX_RA_ROUTES:
            nic.stats.count_event("ndp_route_info_list_full")
            return
        else:
            nic.stats.count_event("ndp_route_info_added")
        if lifetime_s == 0:
            # RFC 4191 3.1: a Route Lifetime of zero removes the route at once.
            self.remove_route(key)
            return
        self.routes[key] = LearntRoute(preference, self._lifetime_timer(lifetime_s, lambda: self.remove_route(key)))
        self._sync_route(prefix)

    def remove_route(self, key: tuple[IPv6Network, bytes]) -> None:
        """Only for a learnt route: a removed route's timer is cancelled with it."""
        known = self.routes.pop(key)
        self._cancel(known.timer)
        self._sync_route(key[0])

    def _sync_route(self, prefix: IPv6Network) -> None:
        """Keep one route table entry per learnt prefix: via its most preferred router.

        RFC 4191 3.2: the host "searches its routing table to find the route with the longest
        prefix that matches the destination, using route preference values as a tie-breaker if
        multiple matching routes have the same prefix length." Equal preferences: the router
        heard first.
        """
        name = self.host.nic.name
        table = self.host.stack.routes
        via = [(router, learnt) for (net, router), learnt in self.routes.items() if net == prefix]
        best = max(via, key=lambda item: item[1].preference)[0] if via else None
        for entry in table.entries():
            if entry.network == prefix and entry.nic == name and entry.gateway is not None and entry.gateway != best:
                table.remove(entry)
        if best is not None:
            table.add(RouteEntry(prefix, name, best))

    # ---- helpers and lifecycle ----------------------------------------------------------------------
    def _lifetime_timer(self, seconds: int, callback: Callable[[], None]) -> Timer | None:
        if seconds == params.INFINITE_LIFETIME_S:
            return None
        return self.host.stack.clock.schedule(seconds * 1000, callback)

    @staticmethod
    def _cancel(timer: Timer | None) -> None:
        if timer is not None:
            timer.cancel()

    def clear_learned(self) -> None:
        """Forget routers, prefixes and routes (the interface went down, or became a router)."""
        for addr in list(self.routers):
            self.remove_router(addr)
        for prefix in list(self.prefixes):
            self.remove_prefix(prefix)
        for key in list(self.routes):
            self.remove_route(key)

    def reset(self) -> None:
        """The interface goes down."""
        self.stop_soliciting()
        self.clear_learned()
        self._router_groups(False)

    def on_forwarding_changed(self, enabled: bool) -> None:
        # A router keeps no host-only state learnt from advertisements (gVisor becomeIPv6Router;
        # RFC 4861 6.2.7) and solicits nothing.
        if enabled:
            self.stop_soliciting()
            self.clear_learned()
        self._router_groups(enabled)


    # ---- receive (from the endpoint, after the common ND checks of RFC 4861 6.1) -----------------------
    def handle_router_solicit(self, src: bytes, msg: RouterSolicit) -> Drop | None:
        if not self.host.stack.forwarding[6]:
            # RFC 4861 6.2.6: "A host MUST silently discard any received Router Solicitation messages."
            return Drop.NDP_ROUTER_SOLICIT_ON_HOST
        mac = msg.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS)
        if isinstance(mac, Drop):
            return mac
        if src == UNSPECIFIED:
            # 6.1.1: "If the IP source address is the unspecified address, there is no source
            # link-layer address option in the message." 6.2.6: such solicitations "MUST NOT update
            # the router's Neighbor Cache".
            return Drop.NDP_ROUTER_SOLICIT_UNSPECIFIED_WITH_SLLA if mac is not None else None
        if mac is not None:
            # 6.2.6: a new entry is created STALE, a changed link-layer address updates the entry
            # and makes it STALE (the table's learn()).
            self.host.neighbors.learn(src, mac)
        self.host.nic.stats.count_event("ndp_router_solicit_received")
        return None

    def handle_router_advert(self, src: bytes, dst: bytes, msg: RouterAdvert) -> Drop | None:
        # 6.1.2: "IP Source Address is a link-local address. Routers must use their link-local
        # address as the source for Router Advertisement messages so that hosts can uniquely identify
        # routers."
        if not is_link_local(src):
            return Drop.NDP_RA_SOURCE_NOT_LINK_LOCAL
        if self.host.stack.forwarding[6]:
            return Drop.NDP_RA_ON_ROUTER
        nic = self.host.nic
        cfg = nic.ipv6_config
        if not cfg.accept_ra:
            return Drop.NDP_RA_NOT_ACCEPTED
        # Every option is read before anything changes, so a malformed one drops the whole message;
        # an unreadable Prefix Information option is ignored alone (RFC 4862 5.5.3, prefix_infos).
        mac = msg.options.link_address(NDPOptionType.SOURCE_LINK_ADDRESS)
        if isinstance(mac, Drop):
            return mac
        mtu = msg.options.mtu()
        if isinstance(mtu, Drop):
            return mtu
        prefixes = msg.options.prefix_infos()
        route_infos = msg.options.route_infos()
        nic.stats.count_event("ndp_router_advert_accepted")
        if msg.router_lifetime_s != 0:
            self._advertised_while_soliciting()
        # 6.3.4: "If the received Cur Hop Limit value is non-zero, the host SHOULD set its
        # CurHopLimit variable to the received value."
        if msg.cur_hop_limit != 0:
            cfg.hop_limit = msg.cur_hop_limit
        # "If the received Reachable Time value is non-zero, the host SHOULD set its
        # BaseReachableTime variable to the received value. If the new value differs from the
        # previous value, the host SHOULD re-compute a new random ReachableTime value" (the
        # Neighbor Cache draws anew whenever it finds the base changed). Values above the 6.2.1
        # maximum ("MUST be no greater than 3,600,000 milliseconds") are not taken.
        if msg.reachable_time_ms != 0:
            if msg.reachable_time_ms > params.MAX_REACHABLE_TIME_MS:
                nic.stats.count_event("ndp_reachable_time_out_of_range")
            else:
                cfg.base_reachable_time_ms = msg.reachable_time_ms
        # "The RetransTimer variable SHOULD be copied from the Retrans Timer field, if the received
        # value is non-zero." (bounded like the option: stack/ipv6_config.py)
        if msg.retrans_timer_ms != 0:
            cfg.retrans_time_ms = min(msg.retrans_timer_ms, params.MAX_REACHABLE_TIME_MS)
        # "If the advertisement contains a Source Link-Layer Address option, the link-layer address
        # SHOULD be recorded in the Neighbor Cache entry for the router (creating an entry if
        # necessary) and the IsRouter flag in the Neighbor Cache entry MUST be set to TRUE. If no
        # Source Link-Layer Address is included, but a corresponding Neighbor Cache entry exists, its
        # IsRouter flag MUST be set to TRUE." A new entry is STALE (7.3.3), as learn() makes it.
        if mac is not None:
            self.host.neighbors.learn(src, mac)
        entry = self.host.neighbors.get(src)
        if entry is not None:
            entry.is_router = True
        # RFC 4191 2.2: "If the Router Lifetime is zero, the preference value MUST be set to (00) by
        # the sender and MUST be ignored by the receiver." (The parser maps Reserved (10) to (00).)
        self._update_router(src, msg.router_lifetime_s, msg.preference)
        # 6.3.4 MTU: "Hosts SHOULD copy the option's value into LinkMTU so long as the value is
        # greater than or equal to the minimum link MTU [IPv6] and does not exceed the maximum
        # LinkMTU value specified in the link-type-specific document". Ours: the NIC's MTU.
        if mtu is not None:
            if params.IPV6_MIN_MTU <= mtu <= nic.mtu:
                self.mtu = mtu  # read at each send (IPv6Endpoint.path_mtu): nothing cached to redo
            else:
                nic.stats.count_event("ndp_mtu_option_out_of_range")
        multicast_ra = is_multicast(dst)
        for pi in prefixes:
            prefix = IPv6Network((int(pi.prefix), pi.prefix_len), strict=False)
            # 6.3.4 (on-link determination, L flag) and RFC 4862 5.5.3 (A flag) are independent.
            if pi.on_link:
                self._on_link_prefix(prefix, pi.valid_lifetime_s)
            self.host.on_prefix_information(pi, multicast_ra=multicast_ra)
            router = self.routers.get(src)
            if router is not None and pi.valid_lifetime_s and len(router.prefixes) < params.MAX_DEFAULT_ROUTERS:
                router.prefixes.add(prefix)
        for ri in route_infos:
            # RFC 4191 3.1 as Linux accept_ra_rt_info_max_plen: longer prefixes are not learnt.
            if ri.prefix_len > cfg.accept_ra_rt_info_max_plen:
                nic.stats.count_event("ndp_route_info_too_specific")
                continue
            self._route_info(src, IPv6Network((int(ri.prefix), ri.prefix_len), strict=False), ri.lifetime_s, ri.preference)
        return None

"""Receiving an ND Redirect (RFC 4861 §8.3): a host learns a better first hop for a destination.

redirect.py is the router side (sending). validation.check() has applied the stateless rules of
§8.1 (hop limit, code, length, link-local source, target, multicast destination, options); here
the one that needs state: the Redirect must come from our current first hop for the destination.

The Destination Cache of RFC 4861 §5.1 is the route table: a valid Redirect installs a host route
(/128) for the destination, via the target (a router) or on-link (target == destination), so
find_route(), send() and path_mtu() honour it with no further change. Bounded by
params.MAX_REDIRECT_ROUTES (oldest first out); forgotten when the NIC goes down, as Linux flushes
a device's cached routes.
"""

from __future__ import annotations

from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.route import RouteEntry
from stack_under_test.wire.ndp import Redirect
from stack_under_test.wire.numbers import NDPOptionType

if TYPE_CHECKING:
    from .contracts import IPv6Host


def handle_redirect(host: IPv6Host, src: bytes, dst: bytes, msg: Redirect) -> Drop | None:
    stack = host.stack
    if stack.forwarding[6]:
        # §8.3 is the host's behaviour; a router keeps its own routing (Linux: accept_redirects
        # is off while forwarding).
        return Drop.NDP_REDIRECT_ON_ROUTER
    destination = msg.destination.packed
    target = msg.target.packed
    # §8.1: "The IP source address of the Redirect is the same as the current first-hop router
    # for the specified ICMP Destination Address."
    if first_hop(host, destination) != src:
        return Drop.NDP_REDIRECT_NOT_FROM_FIRST_HOP
    on_link = target == destination
    mac = msg.options.link_address(NDPOptionType.TARGET_LINK_ADDRESS)
    if isinstance(mac, bytes):
        # §8.3: "If the redirect contains a Target Link-Layer Address option, the host either
        # creates or updates the Neighbor Cache entry for the target. ... If a Neighbor Cache
        # entry is created for the target, its reachability state MUST be set to STALE ... If a
        # cache entry already existed and it is updated with a different link-layer address, its
        # reachability state MUST also be set to STALE."
        host.neighbors.learn(target, mac)
    if not on_link:
        # §8.3: "if the Target Address is not the same as the Destination Address, the host MUST
        # set IsRouter to TRUE for the target."
        entry = host.neighbors.get(target)
        if entry is not None:
            entry.is_router = True
    # §8.3: "A host receiving a valid redirect SHOULD update its Destination Cache accordingly so
    # that subsequent traffic goes to the specified target." "If the Target Address and the
    # Destination Address are the same, the host MUST treat the Target as on-link."
    install(host, destination, None if on_link else target)
    host.nic.stats.count_event("ndp_redirect_accepted")
    return None


def first_hop(host: IPv6Host, destination: bytes) -> bytes | None:
    """The router we send ``destination``'s traffic to through ``host``'s NIC now, None when the
    destination is on-link or reached elsewhere: a route's gateway, else (no route covers it,
    RFC 4861 §5.2) the router the Default Router List selects."""
    route = host.stack.routes.lookup(destination)
    if route is not None:
        return route.gateway if route.nic == host.nic.name else None
    return host.default_router()


def install(host: IPv6Host, destination: bytes, gateway: bytes | None) -> None:
    routes = host.redirect_routes
    old = routes.pop(destination, None)
    if old is not None:
        host.stack.routes.remove(old)
    while len(routes) >= params.MAX_REDIRECT_ROUTES:
        oldest = next(iter(routes))
        host.stack.routes.remove(routes.pop(oldest))
    entry = RouteEntry(IPv6Network((destination, 128)), host.nic.name, gateway)
    routes[destination] = entry
    host.stack.routes.add(entry)


def forget_router(host: IPv6Host, router: bytes) -> None:
    """``router`` is no longer a router: its redirect routes go, next-hop determination runs again."""
    routes = host.redirect_routes
    for destination, entry in list(routes.items()):
        if entry.nic == host.nic.name and entry.gateway == router:
            host.stack.routes.remove(entry)
            del routes[destination]


def forget(host: IPv6Host) -> None:
    """The NIC goes down: drop the redirect routes through it."""
    routes = host.redirect_routes
    for destination, entry in list(routes.items()):
        if entry.nic == host.nic.name:
            host.stack.routes.remove(entry)
            del routes[destination]

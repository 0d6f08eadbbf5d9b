"""Receiving an ICMP Redirect (RFC 792, RFC 1122 3.2.2.2 and 3.3.1.2): a host learns a better
first hop for one destination.

The route cache of RFC 1122 3.3.1.3 is the route table: a valid Redirect installs a host route
(/32) for the destination via the new gateway, so find_route() honours it with no further change.
Bounded by params.MAX_REDIRECT_ROUTES (oldest first out); forgotten when the NIC goes down.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import TYPE_CHECKING, Final

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.route import RouteEntry
from stack_under_test.wire.ipv4 import MIN_HEADER_LEN, IPv4Header

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.contracts import IPv4Host

# RFC 792 Redirect codes: 0 network, 1 host, 2 TOS and network, 3 TOS and host.
_CODES: Final = frozenset({0, 1, 2, 3})


def handle_redirect(ep: IPv4Host, src: bytes, message: bytes, routes: dict[bytes, RouteEntry]) -> Drop | None:
    """A Redirect from ``src``; ``message`` is the ICMP message, ``routes`` the redirect routes
    learned so far (destination -> route), updated here."""
    stack, nic = ep.stack, ep.nic
    if stack.forwarding[4]:
        # RFC 1122 3.2.2.2 is a host's rule; a gateway keeps its own routing (Linux accepts no
        # redirects while forwarding, accept_redirects).
        return Drop.ICMPV4_REDIRECT_ON_ROUTER
    if message[1] not in _CODES or len(message) < 8 + MIN_HEADER_LEN:
        return Drop.ICMPV4_REDIRECT_MALFORMED
    gateway = bytes(message[4:8])
    quoted = IPv4Header.read(message, 8)
    destination = quoted.dst
    if not nic.is_local(quoted.src):
        return Drop.ICMPV4_REDIRECT_MALFORMED  # about a datagram we did not send
    # RFC 1122 3.2.2.2: "A Redirect message SHOULD be silently discarded if the new gateway address
    # it specifies is not on the same connected (sub-) net through which the Redirect arrived
    # [INTRO:2, Appendix A], or if the source of the Redirect is not the current first-hop gateway
    # for the specified destination (see Section 3.3.1)."
    if not _on_link_host(ep, gateway):
        return Drop.ICMPV4_REDIRECT_BAD_GATEWAY
    route = stack.find_route(destination)
    if route is None or route.nic is not nic or not route.gateway or route.next_hop != src:
        return Drop.ICMPV4_REDIRECT_NOT_FROM_FIRST_HOP
    # RFC 1122 3.2.2.2: "A host receiving a Redirect message MUST update its routing information
    # accordingly." 3.3.1.2: "a Network Redirect message SHOULD be treated identically to a Host
    # Redirect message; i.e., the cache entry for the destination host (only) would be updated
    # (or created, if an entry for that host did not exist) for the new gateway."
    _install(ep, routes, destination, gateway)
    nic.stats.count_event("icmpv4_redirect_accepted")
    return None


def _on_link_host(ep: IPv4Host, gateway: bytes) -> bool:
    """A unicast address of another host on one of the NIC's subnets."""
    addresses = ep.nic.addresses
    if gateway[0] in (0, 127) or gateway[0] >= 224 or gateway in addresses.ipv4_broadcasts or ep.nic.is_local(gateway):
        return False
    value = int.from_bytes(gateway, "big")
    return any(
        value & int(e.interface.network.netmask) == int(e.interface.network.network_address)
        and gateway != e.interface.network.network_address.packed
        for e in addresses.of_family(4)
    )


def _install(ep: IPv4Host, routes: dict[bytes, RouteEntry], destination: bytes, gateway: bytes) -> None:
    table = ep.stack.routes
    old = routes.pop(destination, None)
    if old is not None:
        table.remove(old)
    while len(routes) >= params.MAX_REDIRECT_ROUTES:
        table.remove(routes.pop(next(iter(routes))))
    entry = RouteEntry(IPv4Network((destination, 32)), ep.nic.name, gateway)
    routes[destination] = entry
    table.add(entry)


def forget(ep: IPv4Host, routes: dict[bytes, RouteEntry]) -> None:
    """The NIC goes down: drop the redirect routes through it."""
    for destination, entry in list(routes.items()):
        if entry.nic == ep.nic.name:
            ep.stack.routes.remove(entry)
            del routes[destination]

"""What IPv6's collaborators may use of the IPv6 endpoint of one NIC.

ICMPv6, Neighbor Discovery, router discovery, redirects, MLD, forwarding, reassembly, source
selection and address configuration take an ``IPv6Host``, not the endpoint class: they import
nothing above them in this package, and none reaches through the endpoint into another. What one
of them tells the others goes through the endpoint's event methods below, which pass it on (the
endpoint is the only module that knows them all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ipaddress import IPv6Network

    from stack_under_test.drops import Drop
    from stack_under_test.network.ipv6.pmtu import PathMTUCache
    from stack_under_test.stack.interfaces import NetworkInterface
    from stack_under_test.stack.neighbor import NeighborTable
    from stack_under_test.stack.ratelimit import TokenBucket
    from stack_under_test.stack.route import RouteEntry
    from stack_under_test.stack.stack import Stack
    from stack_under_test.wire.ndp import PrefixInfo


class IPv6Host(Protocol):
    """The IPv6 side of one NIC."""

    @property
    def stack(self) -> Stack: ...

    @property
    def nic(self) -> NetworkInterface: ...

    @property
    def neighbors(self) -> NeighborTable:
        """The NIC's IPv6 Neighbor Cache (RFC 4861 5.1)."""
        ...

    @property
    def link_local(self) -> bytes | None:
        """The link-local address formed when the NIC came up (RFC 4862 5.3); it may be tentative."""
        ...

    # ---- state shared by every NIC of the stack ----------------------------------------------------
    @property
    def pmtu(self) -> PathMTUCache:
        """Path MTUs learnt from Packet Too Big (RFC 8201)."""
        ...

    @property
    def redirect_peers(self) -> dict[bytes, TokenBucket]:
        """Redirects sent, rate-limited per destination (redirect.py)."""
        ...

    @property
    def redirect_routes(self) -> dict[bytes, RouteEntry]:
        """Host routes learnt from Redirects, by destination (redirect_rx.py)."""
        ...

    # ---- sending and addressing ----------------------------------------------------------------------
    def send(
        self,
        src: bytes,
        dst: bytes,
        proto: int,
        payload: bytes,
        *,
        hop_limit: int | None = None,
        traffic_class: int = 0,
        next_hop: bytes | None = None,
        dont_fragment: bool = False,
    ) -> Drop | None:
        """A packet from this NIC: fixed header, fragmentation to the path MTU, next hop."""
        ...

    def select_source(self, dst: bytes) -> bytes | None:
        """RFC 6724 source selection for ``dst``, or None when no address will do."""
        ...

    def is_local(self, addr: bytes) -> bool:
        """An address of this NIC that may receive (not tentative)."""
        ...

    def is_anycast(self, addr: bytes) -> bool:
        """A Subnet-Router anycast address we hold (RFC 4291 2.6.1)."""
        ...

    def path_mtu(self, dst: bytes) -> int: ...

    def default_router(self) -> bytes | None:
        """RFC 4861 6.3.6 default router selection; None when the Default Router List is empty."""
        ...

    # ---- events one collaborator reports for others ---------------------------------------------------
    def on_prefix_information(self, pi: PrefixInfo, *, multicast_ra: bool) -> None:
        """A Router Advertisement carried ``pi`` (RFC 4862 5.5.3 address configuration)."""
        ...

    def next_hop_prefixes(self, dst: bytes) -> frozenset[IPv6Network]:
        """RFC 6724 rule 5.5: the prefixes the next hop towards ``dst`` advertised (none on-link)."""
        ...

    def hold_report(self, group: bytes) -> None:
        """Join ``group`` from now on without its MLD report (RFC 4862 5.4.2's delay), until
        ``release_report``; the group's datagrams are received meanwhile."""
        ...

    def release_report(self, group: bytes) -> None:
        """End ``hold_report``: report ``group`` now if it is joined and not reported yet."""
        ...

    def on_link_local_valid(self) -> None:
        """DAD of a link-local address succeeded (RFC 3810 5.2.13: MLD reports again)."""
        ...

    def disable_ipv6(self) -> None:
        """RFC 4862 5.4.5: DAD found our hardware-based link-local address duplicated; "IP operation
        on the interface SHOULD be disabled" until it is brought up again."""
        ...

"""What IPv4's collaborators may use of the IPv4 endpoint of one NIC.

ICMP, forwarding and reassembly take an ``IPv4Host``, not the endpoint class, so they import
nothing above them in this package and the endpoint stays the only module that knows them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stack_under_test.network.ipv4.output import IPv4Output
    from stack_under_test.network.pmtu import PathMTUCache
    from stack_under_test.stack.interfaces import NetworkInterface
    from stack_under_test.stack.route import RouteEntry
    from stack_under_test.stack.stack import Stack


class IPv4Host(Protocol):
    """The IPv4 side of one NIC: the packet came in on ``nic``; replies leave through ``output``."""

    @property
    def stack(self) -> Stack: ...

    @property
    def nic(self) -> NetworkInterface: ...

    @property
    def output(self) -> IPv4Output: ...

    def select_source(self, dst: bytes) -> bytes | None:
        """Our address on this NIC to send to ``dst`` from, or None when there is none."""
        ...

    @property
    def redirect_routes(self) -> dict[bytes, RouteEntry]:
        """The host routes Redirects installed (redirect_rx.py), by destination; shared by the NICs."""
        ...

    @property
    def pmtu(self) -> PathMTUCache:
        """What Datagram Too Big messages taught (RFC 1191), by destination; shared by the NICs."""
        ...

    def path_mtu(self, dst: bytes) -> int:
        """The largest datagram towards ``dst``: the NIC's MTU, lowered by a learned path MTU."""
        ...

"""The Subnet-Router anycast addresses of a NIC while the stack forwards (RFC 4291 §2.6.1).

RFC 4291 §2.6.1: "Routers must support the Subnet-Router anycast address for the subnets to which
they have interfaces." The address is the subnet prefix with an all-zero interface identifier.
Like Linux (addrconf_join_anycast()), we hold one for every prefix of an address of ours shorter
than /127 while forwarding is on, and none when it is off. Anycast addresses receive packets and
are answered for in Neighbor Discovery with Override clear (RFC 4861 §7.2.4, §7.2.7), but are never
used as a source (Linux anycast_src_echo_reply=0).
"""

from __future__ import annotations

from ipaddress import IPv6Network
from typing import TYPE_CHECKING

from stack_under_test.wire.ipv6 import solicited_node

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface
    from stack_under_test.stack.stack import Stack


class AnycastAddresses:
    def __init__(self, stack: Stack, nic: NetworkInterface) -> None:
        self.stack = stack
        self.nic = nic
        self.addresses: set[bytes] = set()

    def has(self, addr: bytes) -> bool:
        return addr in self.addresses

    def release(self) -> None:
        """The NIC is going down: give every anycast address up."""
        self._set(set())

    def refresh(self) -> None:
        """Bring the set in line with the NIC's addresses and the forwarding switch."""
        want: set[bytes] = set()
        if self.stack.forwarding[6] and self.nic.enabled:
            for entry in self.nic.addresses.of_family(6):
                net = entry.interface.network
                if net.prefixlen < 127:
                    subnet_router = IPv6Network(net).network_address.packed
                    if any(subnet_router):  # never ::
                        want.add(subnet_router)
        self._set(want)

    def _set(self, want: set[bytes]) -> None:
        for addr in want - self.addresses:
            # RFC 4291 §2.8: a node recognizes "the Solicited-Node multicast address for each of
            # its unicast and anycast addresses".
            self.nic.join_group(solicited_node(addr))
        for addr in self.addresses - want:
            self.nic.leave_group(solicited_node(addr))
        self.addresses = want

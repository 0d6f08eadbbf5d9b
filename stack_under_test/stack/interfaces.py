"""Every contract between the stack's layers, in one file (gVisor's registration.go).

A network protocol (ARP, IPv4, IPv6) is a ``NetworkProtocol`` registered with the Stack; for each
NIC it makes one ``NetworkEndpoint``, to which the NIC hands frames of the protocol's EtherType.
A transport protocol (UDP) is a ``TransportProtocol`` registered by IP protocol number; network
endpoints hand it a ``TransportPacket`` whose addresses are packed bytes of either family.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop

if TYPE_CHECKING:
    from stack_under_test.stack.addresses import AddressEntry
    from stack_under_test.stack.nic import NIC
    from stack_under_test.stack.stack import Route


class NetworkEndpoint(Protocol):
    """One network protocol on one NIC."""

    def enable(self) -> None:
        """The NIC came up (IPv6: configure the link-local address, start DAD, join groups)."""
        ...

    def disable(self) -> None: ...

    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        """One received frame of our EtherType; ``pkt.network_offset`` is where our header starts."""
        ...

    def on_address_added(self, entry: AddressEntry) -> None:
        """An address of our family was added; the entry starts PREFERRED (IPv6 may make it TENTATIVE)."""
        ...

    def on_address_removed(self, entry: AddressEntry) -> None: ...

    def on_group_joined(self, group: bytes) -> None:
        """First join of a multicast group on this NIC (IGMP/MLD report later)."""
        ...

    def on_group_left(self, group: bytes) -> None: ...


class IPEndpoint(NetworkEndpoint, Protocol):
    """A network endpoint that carries transport packets (IPv4, IPv6)."""

    def select_source(self, dst: bytes) -> bytes | None:
        """The source address for a packet to ``dst`` from this NIC, or None when there is none."""
        ...

    def write_packet(self, route: Route, proto: int, payload: bytes) -> Drop | None:
        """Wrap ``payload`` in our header (src route.local, dst route.remote) and transmit it,
        resolving ``route.next_hop`` or mapping a multicast/broadcast destination."""
        ...

    def send_port_unreachable(self, tpkt: TransportPacket) -> None:
        """Answer ``tpkt`` with ICMP Port Unreachable (IPv4 3/3, ICMPv6 1/4) where the RFCs allow."""
        ...


class NetworkProtocol(Protocol):
    ethertype: int
    family: int | None  # 4 or 6 for IP protocols; None for ARP

    def new_endpoint(self, nic: NIC) -> NetworkEndpoint: ...

    def on_forwarding_changed(self, enabled: bool) -> None: ...


class TransportPacket:
    """A transport payload handed up by IPv4 or IPv6. Addresses are packed (4 or 16 octets)."""

    __slots__ = ("dst", "family", "multicast", "network", "nic", "payload", "pkt", "src")

    def __init__(
        self,
        family: int,
        src: bytes,
        dst: bytes,
        payload: memoryview,
        pkt: PacketBuffer,
        network: IPEndpoint,
        multicast: bool = False,
    ) -> None:
        self.family = family
        self.src = src
        self.dst = dst
        self.payload = payload  # the transport header and data, trimmed to the IP payload length
        self.pkt = pkt  # the whole frame, for quoting in ICMP errors
        self.network = network  # the endpoint it came in on; sends errors back
        self.nic = pkt.nic
        self.multicast = multicast  # destination was broadcast or multicast: never answer with errors


class TransportProtocol(Protocol):
    number: int  # IP protocol number

    def handle_packet(self, tpkt: TransportPacket) -> Drop | None: ...

    def handle_error(self, family: int, kind: str, quoted: memoryview, param: int = 0) -> None:
        """An ICMP error quoting one of our packets (``quoted`` starts at its IP header); ``param``
        is the error's 32 bits after the checksum (the MTU of Fragmentation Needed / Packet Too Big)."""
        ...

    def bind(self, address: str, port: int) -> Any:
        """Open a socket (UDP); raises StackError."""
        ...

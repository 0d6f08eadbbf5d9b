"""Every contract between the stack's layers, in one file (gVisor's registration.go).

A network protocol is registered with the Stack and makes one endpoint per NIC, to which the NIC
hands frames of the protocol's EtherType; the endpoint sees the NIC as a ``NetworkInterface``. ARP is a ``NetworkProtocol``: frames in, nothing else.
IPv4 and IPv6 are ``IPProtocol``s: their ``IPEndpoint`` also hears of the NIC's addresses and
groups, answers the Stack's routing questions and carries transport packets.

A transport protocol (UDP, TCP) is a ``TransportProtocol`` registered by IP protocol number; IP
endpoints hand it a ``TransportPacket`` whose addresses are packed bytes of either family, and
ICMP errors about its packets through ``handle_error``. It sends through ``IPEndpoint.write_packet``
on a route from ``Stack.find_route``.

The core (stack/) calls only what is declared here; nothing is probed with getattr.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import TYPE_CHECKING, Any, Protocol

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop

if TYPE_CHECKING:
    from stack_under_test.stack.addresses import AddressEntry, AddressTable
    from stack_under_test.stack.ipv6_config import IPv6Config
    from stack_under_test.stack.neighbor import NeighborTable, Pending
    from stack_under_test.stats import Stats


class NetworkInterface(Protocol):
    """A NIC as the network layer sees it (gVisor's NetworkInterface): stack/nic.py's NIC."""

    @property
    def name(self) -> str: ...

    @property
    def mac(self) -> bytes: ...

    @property
    def mtu(self) -> int:
        """The IP MTU (``Stack.set_link_mtu`` may lower the link's)."""
        ...

    @property
    def enabled(self) -> bool: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def addresses(self) -> AddressTable:
        """The NIC's addresses of both families; read them, change them through the calls below."""
        ...

    @property
    def groups(self) -> dict[bytes, int]:
        """Joined multicast groups (packed) and how often each was joined."""
        ...

    @property
    def source_filters(self) -> dict[bytes, frozenset[bytes]]:
        """Groups joined in INCLUDE mode (RFC 3376 3.1) and the sources they take datagrams from;
        a joined group not here is in EXCLUDE mode with no sources (any source)."""
        ...

    @property
    def neighbors(self) -> dict[int, NeighborTable]:
        """The neighbor table of each family (4: ARP's, 6: NDP's)."""
        ...

    @property
    def ip(self) -> dict[int, IPEndpoint]:
        """The IP endpoint of each family on this NIC."""
        ...

    @property
    def ipv6_config(self) -> IPv6Config:
        """The NIC's IPv6 host settings (RFC 4861/4862/3810 knobs, Linux sysctl names)."""
        ...

    def is_local(self, packed: bytes) -> bool:
        """An address of this NIC that may receive (not tentative)."""
        ...

    def in_group(self, group: bytes) -> bool: ...

    def join_group(self, group: bytes) -> None: ...

    def leave_group(self, group: bytes) -> bool: ...

    def add_address(self, entry: AddressEntry) -> None: ...

    def remove_address(self, packed: bytes) -> AddressEntry | None: ...

    def write_packet(self, dst_mac: bytes, ethertype: int, payload: bytes) -> bool:
        """Frame ``payload`` for ``dst_mac`` and transmit it; False when the link dropped it."""
        ...

    def write_frame(self, frame: bytes) -> bool: ...


class NetworkEndpoint(Protocol):
    """One network protocol on one NIC: the frames of its EtherType."""

    def enable(self) -> None:
        """The NIC came up (IPv6: configure the link-local address, start DAD, join groups)."""
        ...

    def disable(self) -> None: ...

    def on_link_address_changed(self) -> None:
        """The NIC's link-layer address changed (``NetworkInterface.mac`` is the new one)."""
        ...

    def handle_packet(self, pkt: PacketBuffer) -> Drop | None:
        """One received frame of our EtherType; ``pkt.network_offset`` is where our header starts."""
        ...


class IPEndpoint(NetworkEndpoint, Protocol):
    """IPv4 or IPv6 on one NIC."""

    # ---- the NIC's addresses and groups (NIC calls these) ----------------------------------------
    def on_address_added(self, entry: AddressEntry) -> None:
        """An address of our family was added; the entry starts PREFERRED (IPv6 may make it TENTATIVE)."""
        ...

    def on_address_removed(self, entry: AddressEntry) -> None: ...

    def on_group_joined(self, group: bytes) -> None:
        """First join of a multicast group of our family on this NIC (IGMP/MLD report it)."""
        ...

    def on_group_left(self, group: bytes) -> None: ...

    def on_neighbor_failed(self, addr: bytes, pending: list[Pending]) -> None:
        """Resolving ``addr`` failed; ``pending`` are the packets that waited for it."""
        ...

    # ---- routing (Stack calls these) ---------------------------------------------------------------
    def keeps_on_link_route(self, network: IPv4Network | IPv6Network) -> bool:
        """Whether ``network`` stays on-link after its last address goes (an IPv6 Prefix List
        entry learnt from a Router Advertisement, RFC 4861 6.3.4)."""
        ...

    def default_router(self) -> bytes | None:
        """A router for destinations no route covers (RFC 4861 6.3.6), or None."""
        ...

    # ---- for transport protocols ---------------------------------------------------------------------
    def select_source(self, dst: bytes) -> bytes | None:
        """The source address for a packet to ``dst`` from this NIC, or None when there is none."""
        ...

    def write_packet(
        self, route: Route, proto: int, payload: bytes, *, dont_fragment: bool = False, ttl: int | None = None,
        tos: int = 0, options: bytes = b"", discover_mtu: bool = False,
    ) -> Drop | None:
        """Wrap ``payload`` in our header (src route.local, dst route.remote) and transmit it,
        resolving ``route.next_hop`` or mapping a multicast/broadcast destination. A payload too
        big for the route is fragmented, unless ``dont_fragment``: then it is refused
        (``Drop.PACKET_TOO_BIG``) and IPv4 sets DF (RFC 1191 3, Path MTU Discovery).

        RFC 1122 3.2.1.6, 3.2.1.7, 3.2.1.8: the transport may set the TTL (IPv6: Hop Limit; None:
        the default), the TOS (IPv6: Traffic Class) and, IPv4 only, IP options (unpadded; they are
        checked and processed as the originating host's: RR and TS record us).

        ``discover_mtu`` (IPv4): Path MTU Discovery, RFC 1191: DF set on a datagram within the
        learned path MTU, a larger one fragmented to it. IPv6 always keeps to its path MTU (RFC
        8201) and ignores it."""
        ...

    def path_mtu(self, dst: bytes) -> int:
        """The largest packet this endpoint sends towards ``dst`` as far as the IP layer knows:
        the NIC's MTU, for IPv6 also capped by an RA's MTU option, the route and Packet Too Big."""
        ...

    def send_port_unreachable(self, tpkt: TransportPacket) -> None:
        """Answer ``tpkt`` with ICMP Port Unreachable (IPv4 3/3, ICMPv6 1/4) where the RFCs allow."""
        ...


class NetworkProtocol(Protocol):
    """A protocol that is not IP (ARP): frames of its EtherType, one endpoint per NIC."""

    ethertype: int

    def new_endpoint(self, nic: NetworkInterface) -> NetworkEndpoint: ...


class IPProtocol(Protocol):
    """IPv4 or IPv6: one ``IPEndpoint`` per NIC."""

    ethertype: int
    family: int  # 4 or 6

    def new_endpoint(self, nic: NetworkInterface) -> IPEndpoint: ...

    def on_forwarding_changed(self, enabled: bool) -> None:
        """``Stack.set_forwarding`` switched forwarding of our family."""
        ...


class Route:
    """Where a packet to ``remote`` goes: out of ``nic`` via ``endpoint`` from ``local`` to ``next_hop``
    (``Stack.find_route`` makes them; ``IPEndpoint.write_packet`` takes them).

    ``mtu`` is the largest IP datagram for this route: the route MTU if one was set, capped by the
    NIC's MTU. ``gateway`` is True when ``next_hop`` is a router rather than ``remote`` itself.
    """

    __slots__ = ("endpoint", "gateway", "local", "mtu", "next_hop", "nic", "remote")

    def __init__(
        self, nic: NetworkInterface, endpoint: IPEndpoint, local: bytes, remote: bytes, next_hop: bytes, mtu: int | None = None,
        gateway: bool = False,
    ) -> None:
        self.nic, self.endpoint, self.local, self.remote, self.next_hop = nic, endpoint, local, remote, next_hop
        self.mtu = nic.mtu if mtu is None else min(mtu, nic.mtu)
        self.gateway = gateway


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
        """An ICMP error quoting one of our packets (``quoted`` starts at its IP header); ``kind`` is
        "<type>/<code>"; ``param`` is the error's 32 bits after the checksum (the MTU of
        Fragmentation Needed and Packet Too Big, the pointer of Parameter Problem)."""
        ...

    def sent(self, family: int, quoted: memoryview) -> bool:
        """Whether ``quoted`` (from its IP header) may be a packet we sent that still matters: an
        error about anything else is not believed (RFC 8201 4: validate the payload of a Packet
        Too Big "to ensure these are received in response to transmitted traffic")."""
        ...

    def bind(self, address: str, port: int) -> Any:
        """Open a socket (UDP); raises StackError."""
        ...

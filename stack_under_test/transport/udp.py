"""UDP (RFC 768, RFC 1122 4.1): port demultiplexing, sockets with bounded queues, both families.

What the IP layer knows of a datagram travels with it to the application and back (RFC 1122
4.1.4): a socket receives the specific-destination address, TOS (Traffic Class), TTL (hop limit)
and IPv4 options of each datagram (``recvmsg``), sends with a chosen source address, TTL, TOS and
options (``sendto``), and keeps the ICMP errors about what it sent (``errors``).
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import TYPE_CHECKING, NamedTuple

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.stack.stack import StackError
from stack_under_test.wire import ipv4_options, ipv6_ext
from stack_under_test.wire.ipv4 import IPv4Header
from stack_under_test.wire.ipv6 import IPv6View
from stack_under_test.wire.numbers import PROTO_UDP
from stack_under_test.wire.udp import UDPView, encode_datagram

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

Datagram = tuple[bytes, str, int]  # (data, source address, source port)
# ICMP types whose 32 bits after the checksum the socket reports as ``info``: (family, type) ->
# how to read them. RFC 1191 4: Fragmentation Needed carries the Next-Hop MTU in its low 16 bits;
# RFC 792: Parameter Problem's pointer is the first octet; RFC 4443 3.2 / 3.4: the MTU and the
# pointer are the whole 32 bits. Linux reports the same values in sock_extended_err.ee_info.
_INFO_SHIFT = {(4, 12): 24, (6, 2): 0, (6, 4): 0}
_FRAG_NEEDED = (4, 3, 4)


class ReceivedDatagram(NamedTuple):
    """A datagram as the application receives it (``UDPSocket.recvmsg``)."""

    data: bytes
    src: str
    sport: int
    dst: str  # RFC 1122 4.1.3.5: the specific-destination address
    tos: int  # RFC 1122 3.2.1.6: the TOS octet (IPv6: Traffic Class), ECN bits included
    ttl: int  # TTL (IPv6: Hop Limit) as received
    options: bytes  # RFC 1122 4.1.3.2: the IPv4 options as received (IPv6: none)


class ICMPErrorReport(NamedTuple):
    """An ICMP (``family`` 4) or ICMPv6 (6) error about a datagram this socket sent."""

    family: int
    type: int
    code: int
    info: int  # the MTU of Fragmentation Needed / Packet Too Big, Parameter Problem's pointer, else 0
    dst: str  # where the datagram the error is about was going
    dport: int


class UDPSocket:
    """A bound UDP endpoint. ``recv()`` never blocks; ``sendto`` raises StackError on failure."""

    def __init__(self, udp: UDPProtocol, family: int, local: bytes | None, port: int) -> None:
        self.udp = udp
        self.family = family
        self.local = local  # None = the wildcard address of the family
        self.port = port
        self.queue: deque[ReceivedDatagram] = deque()
        self.closed = False
        # RFC 1122 4.1.3.3: the ICMP errors about datagrams we sent, oldest first, bounded.
        self.errors: deque[ICMPErrorReport] = deque(maxlen=params.UDP_ERROR_QUEUE_LEN)

    def recv(self) -> Datagram | None:
        got = self.recvmsg()
        return None if got is None else (got.data, got.src, got.sport)

    def recvmsg(self) -> ReceivedDatagram | None:
        return self.queue.popleft() if self.queue else None

    def sendto(
        self,
        data: bytes,
        address: str,
        port: int,
        *,
        src: str | None = None,
        ttl: int | None = None,
        tos: int | None = None,
        options: bytes = b"",
    ) -> None:
        """Send ``data`` to ``address``:``port``. RFC 1122 4.1.3.5: the application may choose the
        source address (``src``, one of ours) or leave it to the stack; 4.1.4: it may set the TTL,
        the TOS and (IPv4) the IP options, which pass to the IP layer unchanged."""
        if self.closed:
            raise StackError("the socket is closed")
        if not 0 < port <= 0xFFFF:
            raise StackError(f"destination port must be 1-65535, got {port}")
        dst = self._address(address, "destination")
        local = self.local
        if src is not None:
            chosen = self._address(src, "source").packed
            if local is not None and chosen != local:
                raise StackError(f"the socket is bound to {ipaddress.ip_address(local)}, not {src}")
            local = chosen
        if ttl is not None and not 0 < ttl <= 255:
            raise StackError(f"TTL must be 1-255, got {ttl}")
        if tos is not None and not 0 <= tos <= 255:
            raise StackError(f"TOS must be 0-255, got {tos}")
        if options and self.family != 4:
            raise StackError("IP options are an IPv4 header field (IPv6 carries extension headers)")
        if len(options) > 40:
            raise StackError(f"{len(options)} octets of options do not fit an IPv4 header (at most 40)")
        stack = self.udp.stack
        # RFC 6724 4: "if the application or upper layer specifies a source address that is not in
        # the candidate set for the destination, then the network layer MUST treat this as an
        # error"; the candidates are our own addresses (weak ES model, as Linux).
        if src is not None and local is not None and not any(nic.is_local(local) for nic in stack.nics.values()):
            raise StackError(f"{src} is not an address of this host: it cannot be the source")
        # RFC 1122 3.2.1.8 (c): with a source route the datagram goes to the route's first address
        # (network/ipv4/options.py originate); the final destination stays ``route.remote``.
        first_hop = ipv4_options.source_route_first_hop(options) if options else None
        route = stack.find_route(first_hop or dst.packed, src=local)
        if route is None:
            raise StackError(f"no route to {address}" + (f" from {src}" if src is not None else ""))
        route.remote = dst.packed
        # RFC 768: the Length field is 16 bits, and the IP datagram around it (RFC 791 3.1, RFC 8200 3)
        # holds at most 65,535 octets: 65,507 octets of data over IPv4, 65,527 over IPv6.
        limit = 0xFFFF - 8 - (20 + len(options) if self.family == 4 else 0)
        if len(data) > limit:
            raise StackError(f"datagram of {len(data)} octets is too long: UDP over IPv{self.family} carries at most {limit}")
        datagram = encode_datagram(route.local, dst.packed, self.port, port, bytes(data))
        # Larger than the path MTU: the network layer fragments it (network/fragmentation.py). IPv4
        # discovers the path MTU (RFC 1191) as Linux does for UDP: DF on what fits.
        drop = route.endpoint.write_packet(route, PROTO_UDP, datagram, ttl=ttl, tos=tos or 0, options=bytes(options),
                                           discover_mtu=True)
        if drop is not None:
            raise StackError(f"datagram of {len(data)} octets could not be sent: {drop.value}")

    def _address(self, text: str, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            raise StackError(f"not an IP address: {text!r}") from None
        if ip.version != self.family:
            raise StackError(f"{what} {text} is not an IPv{self.family} address")
        return ip

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.udp.sockets.pop((self.family, self.port), None)


class UDPProtocol:
    number = PROTO_UDP

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.queue_len = stack.options.udp_receive_queue_len
        self.sockets: dict[tuple[int, int], UDPSocket] = {}  # (family, port); "::" is v6-only

    def bind(self, address: str, port: int) -> UDPSocket:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise StackError(f"not an IP address: {address!r}") from None
        if not 0 <= port <= 0xFFFF:
            raise StackError(f"port must be 0-65535, got {port}")
        local = None if ip.is_unspecified else ip.packed
        if local is not None and not any(n.is_local(local) for n in self.stack.nics.values()):
            raise StackError(f"{address} is not an address of this host")
        if port == 0:
            port = self._ephemeral_port(ip.version)
        if (ip.version, port) in self.sockets:
            raise StackError(f"port {port} already bound")
        sock = self.sockets[(ip.version, port)] = UDPSocket(self, ip.version, local, port)
        return sock

    def _ephemeral_port(self, family: int) -> int:
        first, last = params.EPHEMERAL_PORT_FIRST, params.EPHEMERAL_PORT_LAST
        start = self.stack.rng.randint(first, last)
        for i in range(last - first + 1):
            port = first + (start - first + i) % (last - first + 1)
            if (family, port) not in self.sockets:
                return port
        raise StackError("no ephemeral UDP port is free")

    def handle_packet(self, tpkt: TransportPacket) -> Drop | None:
        view = UDPView(tpkt.payload)
        drop = view.check()
        if drop is not None:
            return drop
        csum = view.checksum
        if csum == 0:
            # RFC 768: "An all zero transmitted checksum value means that the transmitter generated
            # no checksum"; RFC 8200 8.1: over IPv6 "a UDP checksum is not optional" and such packets
            # must be discarded.
            if tpkt.family == 6:
                return Drop.UDP_MISSING_CHECKSUM_V6
        elif not view.checksum_ok(tpkt.src, tpkt.dst):
            # RFC 1122 4.1.3.4: "If a UDP datagram is received with a checksum that is non-zero and
            # invalid, UDP MUST silently discard the datagram."
            return Drop.UDP_BAD_CHECKSUM
        sock = self.sockets.get((tpkt.family, view.dst_port))
        if sock is None or (sock.local is not None and sock.local != tpkt.dst):
            # RFC 1122 4.1.3.1: "If a datagram arrives addressed to a UDP port for which there is
            # no pending LISTEN call, UDP SHOULD send an ICMP Port Unreachable message."
            tpkt.network.send_port_unreachable(tpkt)
            return Drop.UDP_NO_LISTENER
        if len(sock.queue) >= self.queue_len:
            return Drop.UDP_RECEIVE_QUEUE_FULL
        sock.queue.append(_received(tpkt, bytes(view.data()), view.src_port))
        return None

    def path_mtu_lowered(self, family: int, remote: bytes, mtu: int) -> None:
        """Datagrams take the path MTU from the IP layer as they go: nothing to tell."""

    def sent(self, family: int, quoted: memoryview) -> bool:
        """A socket bound to the quoted source port (and to the quoted source address, if bound
        to one): UDP keeps no record of the datagrams themselves."""
        if family == 4:
            offset: int | None = (quoted[0] & 0x0F) << 2 if quoted else None
            src = bytes(quoted[12:16])
        else:
            _, offset = ipv6_ext.upper_layer(quoted)
            src = bytes(quoted[8:24])
        if offset is None or len(quoted) < offset + 2:
            return False
        sock = self.sockets.get((family, quoted[offset] << 8 | quoted[offset + 1]))
        return sock is not None and (sock.local is None or sock.local == src)

    def handle_error(self, family: int, kind: str, quoted: memoryview, param: int = 0) -> None:
        """RFC 1122 4.1.3.3: "UDP MUST pass to the application layer all ICMP error messages that
        it receives from the IP layer"; the socket that sent the quoted datagram keeps them."""
        if family == 4:
            offset: int | None = (quoted[0] & 0x0F) << 2 if len(quoted) else None
            dst = bytes(quoted[16:20])
        else:
            _, offset = ipv6_ext.upper_layer(quoted)
            dst = bytes(quoted[24:40])
        if offset is None or len(quoted) < offset + 4 or len(dst) not in (4, 16):
            return
        sport = quoted[offset] << 8 | quoted[offset + 1]
        dport = quoted[offset + 2] << 8 | quoted[offset + 3]
        sock = self.sockets.get((family, sport))
        if sock is None:
            return
        icmp_type, code = (int(part) for part in kind.split("/"))
        shift = _INFO_SHIFT.get((family, icmp_type))
        info = (param >> shift) & 0xFFFFFFFF if shift is not None else 0
        if (family, icmp_type, code) == _FRAG_NEEDED:
            info = param & 0xFFFF
        sock.errors.append(ICMPErrorReport(family, icmp_type, code, info, str(ipaddress.ip_address(dst)), dport))


def _received(tpkt: TransportPacket, data: bytes, sport: int) -> ReceivedDatagram:
    """The datagram with what its IP header says (RFC 1122 3.2.1.6 TOS, 4.1.3.2 options,
    4.1.3.5 the specific-destination address)."""
    pkt = tpkt.pkt
    src, dst = str(ipaddress.ip_address(tpkt.src)), str(ipaddress.ip_address(tpkt.dst))
    if tpkt.family == 4:
        h = IPv4Header.read(pkt.data, pkt.network_offset)
        return ReceivedDatagram(data, src, sport, dst, h.tos, h.ttl, bytes(h.options(pkt.data, pkt.network_offset)))
    ip6 = IPv6View(pkt.network())
    return ReceivedDatagram(data, src, sport, dst, ip6.traffic_class, ip6.hop_limit, b"")

"""UDP (RFC 768, RFC 1122 4.1): port demultiplexing, sockets with bounded queues, both families."""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.stack.stack import StackError
from stack_under_test.wire.numbers import PROTO_UDP
from stack_under_test.wire.udp import UDPView, encode_datagram

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

Datagram = tuple[bytes, str, int]  # (data, source address, source port)


class UDPSocket:
    """A bound UDP endpoint. ``recv()`` never blocks; ``sendto`` raises StackError on failure."""

    def __init__(self, udp: UDPProtocol, family: int, local: bytes | None, port: int) -> None:
        self.udp = udp
        self.family = family
        self.local = local  # None = the wildcard address of the family
        self.port = port
        self.queue: deque[Datagram] = deque()
        self.closed = False
        self.errors: deque[str] = deque(maxlen=16)  # ICMP errors about datagrams we sent

    def recv(self) -> Datagram | None:
        return self.queue.popleft() if self.queue else None

    def sendto(self, data: bytes, address: str, port: int) -> None:
        if self.closed:
            raise StackError("the socket is closed")
        if not 0 < port <= 0xFFFF:
            raise StackError(f"destination port must be 1-65535, got {port}")
        try:
            dst = ipaddress.ip_address(address)
        except ValueError:
            raise StackError(f"not an IP address: {address!r}") from None
        if dst.version != self.family:
            raise StackError(f"{address} is not an IPv{self.family} address")
        stack = self.udp.stack
        route = stack.find_route(dst.packed, src=self.local)
        if route is None:
            raise StackError(f"no route to {address}")
        # RFC 768: the Length field is 16 bits, and the IP datagram around it (RFC 791 3.1, RFC 8200 3)
        # holds at most 65,535 octets: 65,507 octets of data over IPv4, 65,527 over IPv6.
        limit = 0xFFFF - 8 - (20 if self.family == 4 else 0)
        if len(data) > limit:
            raise StackError(f"datagram of {len(data)} octets is too long: UDP over IPv{self.family} carries at most {limit}")
        datagram = encode_datagram(route.local, dst.packed, self.port, port, bytes(data))
        # Larger than the path MTU: the network layer fragments it (network/fragmentation.py).
        drop = route.endpoint.write_packet(route, PROTO_UDP, datagram)
        if drop is not None:
            raise StackError(f"datagram of {len(data)} octets could not be sent: {drop.value}")

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
        src = str(ipaddress.ip_address(tpkt.src))
        sock.queue.append((bytes(view.data()), src, view.src_port))
        return None

    def path_mtu_lowered(self, family: int, remote: bytes, mtu: int) -> None:
        """Datagrams take the path MTU from the IP layer as they go: nothing to tell."""

    def sent(self, family: int, quoted: memoryview) -> bool:
        """UDP keeps no record of the datagrams it sent: any may be ours."""
        return True

    def handle_error(self, family: int, kind: str, quoted: memoryview, param: int = 0) -> None:
        """RFC 1122 4.1.3.3: "UDP MUST pass to the application layer all ICMP error messages that
        it receives from the IP layer"; we keep the last few on the socket that sent the datagram."""
        hlen = (quoted[0] & 0x0F) << 2 if family == 4 else 40
        if len(quoted) < hlen + 4:
            return
        sport = quoted[hlen] << 8 | quoted[hlen + 1]
        sock = self.sockets.get((family, sport))
        if sock is not None:
            sock.errors.append(kind)

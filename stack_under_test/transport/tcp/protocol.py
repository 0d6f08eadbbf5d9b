"""TCP as a transport protocol of the stack: segments in (checked, then demultiplexed to a
connection or a listener, or answered with a RST for a closed port), the application's entry
points (listen, connect), ports, and the bounds over all connections.

Registered like UDP (stack_under_test/host.py); IPv4 and IPv6 hand it a ``TransportPacket`` by
protocol number, and ICMP errors about our segments through ``handle_error``.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.drops import Drop
from stack_under_test.stack.interfaces import TransportPacket
from stack_under_test.stack.stack import StackError
from stack_under_test.transport.tcp import icmp, seq
from stack_under_test.transport.tcp.acceptability import ChallengeACKLimiter
from stack_under_test.transport.tcp.config import SocketOptions, TCPConfig
from stack_under_test.transport.tcp.connection import Connection
from stack_under_test.transport.tcp.isn import SequenceSecrets
from stack_under_test.transport.tcp.listen import Listener
from stack_under_test.transport.tcp.tcb import TCB, Key, State, TCPError
from stack_under_test.wire.numbers import PROTO_TCP
from stack_under_test.wire.tcp import (
    ACK,
    FIN,
    HEADER_LEN,
    RST,
    SYN,
    TCPOptions,
    TCPSegment,
    address_sum,
    encode_segment,
    verify_checksum,
)

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack


class TCPProtocol:
    number = PROTO_TCP

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.clock = stack.clock
        self.config = TCPConfig()
        self.secrets = SequenceSecrets(stack.rng, stack.clock)
        self.connections: dict[Key, Connection] = {}
        self.listeners: dict[tuple[int, int], Listener] = {}  # (family, port)
        self.challenge_acks = ChallengeACKLimiter(self.config.challenge_ack_limit, self.config.challenge_ack_interval_ms)
        self.time_wait_count = 0
        self.events: Counter[str] = Counter()  # for white-box tests, like a NIC's Stats.events
        self.tx_drops: Counter[Drop] = Counter()

    # ---- counting ------------------------------------------------------------------------------------
    def count_event(self, name: str) -> None:
        self.events[name] += 1

    def count_tx_drop(self, reason: Drop) -> None:
        self.tx_drops[reason] += 1

    def has_room(self) -> bool:
        return len(self.connections) < self.config.max_connections

    def add(self, conn: Connection) -> None:
        self.connections[conn.key] = conn

    def remove(self, conn: TCB) -> None:
        if self.connections.get(conn.key) is conn:
            del self.connections[conn.key]

    # ---- segments in -----------------------------------------------------------------------------------
    def handle_packet(self, tpkt: TransportPacket) -> Drop | None:
        buf = tpkt.payload
        if len(buf) < HEADER_LEN:
            return Drop.TCP_TRUNCATED
        hlen = (buf[12] >> 4) << 2
        if hlen < HEADER_LEN or hlen > len(buf):
            return Drop.TCP_BAD_DATA_OFFSET
        if tpkt.multicast:
            # RFC 9293 3.9.2.3 (RFC 1122): "A TCP implementation MUST silently discard an incoming
            # SYN segment that is addressed to a broadcast or multicast address [(MUST-57)]"; no
            # other segment to such an address can belong to a connection either.
            return Drop.TCP_NOT_UNICAST
        if not verify_checksum(buf, tpkt.src, tpkt.dst):
            # RFC 9293 3.1: "The TCP checksum is never optional. The sender MUST generate it (MUST-2)
            # and the receiver MUST check it (MUST-3)."
            return Drop.TCP_BAD_CHECKSUM
        seg = TCPSegment.parse(buf)
        if isinstance(seg, Drop):
            return seg
        conn = self.connections.get((tpkt.dst, seg.dst_port, tpkt.src, seg.src_port))
        if conn is not None:
            if conn.state is State.TIME_WAIT and seg.flags & (SYN | ACK | RST) == SYN and self._may_reopen(conn, tpkt, seg):
                iss = seq.add(conn.sender.snd_max if conn.sender else 0, 65_537)
                conn._delete()
                self.count_event("tcp_time_wait_reopened")
                return self.listeners[(tpkt.family, seg.dst_port)].on_segment(tpkt, seg, iss)
            return conn.on_segment(seg)
        listener = self.listeners.get((tpkt.family, seg.dst_port))
        if listener is not None and listener.matches(tpkt.dst):
            return listener.on_segment(tpkt, seg)
        # RFC 9293 3.10.7.1: "An incoming segment containing a RST is discarded. An incoming segment
        # not containing a RST causes a RST to be sent in response."
        if seg.flags & RST:
            return Drop.TCP_RST_NO_CONNECTION
        self.reset_for(tpkt, seg)
        return Drop.TCP_NO_CONNECTION

    def _may_reopen(self, conn: Connection, tpkt: TransportPacket, seg: TCPSegment) -> bool:
        """RFC 9293 3.6.1: a connection in TIME-WAIT "MAY accept a new SYN from the remote TCP
        endpoint to reopen the connection directly from TIME-WAIT state (MAY-2), if it: (1) assigns
        its initial sequence number for the new connection to be larger than the largest sequence
        number it used on the previous connection incarnation, and (2) returns to TIME-WAIT state if
        the SYN turns out to be an old duplicate." Like Linux (tcp_timewait_state_process()), the
        SYN must lie beyond RCV.NXT, or carry a newer timestamp when timestamps were in use; the
        new ISS is the old SND.NXT + 65537. Otherwise the SYN goes to the connection (a challenge ACK)."""
        listener = self.listeners.get((tpkt.family, seg.dst_port))
        receiver = conn.receiver
        if listener is None or not listener.matches(tpkt.dst) or receiver is None:
            return False
        agreed, ts = conn.agreed, seg.options.timestamps
        if agreed is not None and agreed.timestamps and ts is not None:
            return seq.gt(ts[0], conn.ts_recent)
        return seq.gt(seg.seq, receiver.rcv_nxt)

    def reset_for(self, tpkt: TransportPacket, seg: TCPSegment) -> None:
        """A RST that the sender of ``seg`` will accept (RFC 9293 3.10.7.1): "If the ACK bit is off,
        sequence number zero is used, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is
        on, <SEQ=SEG.ACK><CTL=RST>"."""
        if seg.flags & ACK:
            seq_no, ack, flags = seg.ack, 0, RST
        else:
            seg_len = len(seg.payload) + (1 if seg.flags & SYN else 0) + (1 if seg.flags & FIN else 0)
            seq_no, ack, flags = 0, seq.add(seg.seq, seg_len), RST | ACK
        # RFC 7323 5.2: "if the segment causing the <RST> to be generated contains a Timestamps
        # option, the <RST> should also contain a Timestamps option. In the <RST> segment, SEG.TSecr
        # SHOULD be set to SEG.TSval from the incoming segment and SEG.TSval SHOULD be set to zero."
        ts = seg.options.timestamps
        options = TCPOptions(timestamps=(0, ts[0])).encode() if ts is not None else b""
        route = self.stack.find_route(tpkt.src, src=tpkt.dst)
        if route is None:
            self.count_tx_drop(Drop.NO_ROUTE)
            return
        segment = encode_segment(
            address_sum(tpkt.dst, tpkt.src), seg.dst_port, seg.src_port, seq_no, ack, flags, 0, options, b"",
        )
        if tpkt.family == 4:
            route.endpoint.write_packet(route, PROTO_TCP, segment, dont_fragment=True)
        else:
            route.endpoint.write_packet(route, PROTO_TCP, segment)
        self.count_event("tcp_rst_sent")

    def has_sender(self, family: int, src: bytes, dst: bytes, header: memoryview) -> bool:
        """A connection with the quoted segment's addresses and ports."""
        if len(header) < 4:
            return False
        sport, dport = header[0] << 8 | header[1], header[2] << 8 | header[3]
        return (src, sport, dst, dport) in self.connections

    def handle_error(self, family: int, kind: str, quoted: memoryview, param: int = 0) -> None:
        icmp.handle_error(self, family, kind, quoted, param)

    # ---- the application's entry points -------------------------------------------------------------------
    @staticmethod
    def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            raise StackError(f"not an IP address: {text!r}") from None

    def bind(self, address: str, port: int) -> Listener:
        """TransportProtocol: a TCP socket is bound by ``listen`` or ``connect``; this listens."""
        return self.listen(address, port)

    def listen(self, address: str, port: int, backlog: int = 16, options: SocketOptions | None = None) -> Listener:
        """Passive open on ``address`` ("0.0.0.0", "::" or one of ours) and ``port`` (RFC 9293 3.10.1)."""
        ip = self._address(address)
        if not 0 < port <= 0xFFFF:
            raise StackError(f"port must be 1-65535, got {port}")
        if not 0 < backlog <= params.TCP_MAX_BACKLOG:
            raise StackError(f"backlog must be 1-{params.TCP_MAX_BACKLOG}, got {backlog}")
        local = None if ip.is_unspecified else ip.packed
        if local is not None and not any(n.is_local(local) for n in self.stack.nics.values()):
            raise StackError(f"{address} is not an address of this host")
        if (ip.version, port) in self.listeners:
            raise StackError(f"TCP port {port} is already listening (IPv{ip.version})")
        listener = Listener(self, ip.version, local, port, backlog, options.copy() if options else SocketOptions())
        self.listeners[(ip.version, port)] = listener
        return listener

    def close_listener(self, listener: Listener) -> None:
        if self.listeners.get((listener.family, listener.port)) is listener:
            del self.listeners[(listener.family, listener.port)]
        listener.close()

    def connect(
        self, address: str, port: int, local_port: int | None = None, options: SocketOptions | None = None,
    ) -> Connection:
        """Active open to ``address``:``port``; returns once the SYN is sent (RFC 9293 3.10.1)."""
        ip = self._address(address)
        if not 0 < port <= 0xFFFF:
            raise StackError(f"port must be 1-65535, got {port}")
        route = self.stack.find_route(ip.packed)
        if route is None:
            raise TCPError("unreachable", f"no route to {address}")
        if local_port is None:
            local_port = self._ephemeral_port(route.local, ip.packed, port)
        elif not 0 < local_port <= 0xFFFF:
            raise StackError(f"local port must be 1-65535, got {local_port}")
        key = (route.local, local_port, ip.packed, port)
        if key in self.connections:
            raise StackError(f"a connection from port {local_port} to {address}:{port} exists already")
        if not self.has_room():
            raise TCPError("closed", "insufficient resources: too many connections")
        conn = Connection(self, route, local_port, port, options.copy() if options else SocketOptions())
        self.add(conn)
        conn.open_active()
        return conn

    def _ephemeral_port(self, local: bytes, remote: bytes, remote_port: int) -> int:
        first, last = params.EPHEMERAL_PORT_FIRST, params.EPHEMERAL_PORT_LAST
        count = last - first + 1
        start = self.stack.rng.randrange(count)
        family = 4 if len(local) == 4 else 6
        for i in range(count):
            port = first + (start + i) % count
            if (local, port, remote, remote_port) not in self.connections and (family, port) not in self.listeners:
                return port
        raise TCPError("closed", "no ephemeral TCP port is free")

    def clear(self) -> None:
        """Forget every connection and listener without a word on the wire (a fresh start)."""
        for conn in list(self.connections.values()):
            conn.listener = None
            conn.timers.cancel()
            conn.state = State.CLOSED
        self.connections.clear()
        self.listeners.clear()
        self.time_wait_count = 0

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
from stack_under_test.transport.tcp.contracts import Key, Keyed
from stack_under_test.transport.tcp.isn import SequenceSecrets
from stack_under_test.transport.tcp.listen import Listener
from stack_under_test.transport.tcp.tcb import State, TCPError
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

    def remove(self, conn: Keyed) -> None:
        if self.connections.get(conn.key) is conn:
            del self.connections[conn.key]

    def enter_time_wait(self) -> bool:
        self.time_wait_count += 1
        return self.time_wait_count <= self.config.max_time_wait

    def leave_time_wait(self) -> None:
        self.time_wait_count -= 1

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
                return self._on_listen(self.listeners[(tpkt.family, seg.dst_port)], tpkt, seg, iss)
            return conn.on_segment(seg)
        listener = self.listeners.get((tpkt.family, seg.dst_port))
        if listener is not None and listener.matches(tpkt.dst):
            return self._on_listen(listener, tpkt, seg)
        # RFC 9293 3.10.7.1: "An incoming segment containing a RST is discarded. An incoming segment
        # not containing a RST causes a RST to be sent in response."
        if seg.flags & RST:
            return Drop.TCP_RST_NO_CONNECTION
        self.reset_for(tpkt, seg)
        return Drop.TCP_NO_CONNECTION

    def _on_listen(self, listener: Listener, tpkt: TransportPacket, seg: TCPSegment, iss: int | None = None) -> Drop | None:
        """A segment for no connection, to a listening port (RFC 9293 3.10.7.2)."""
        flags = seg.flags
        if flags & RST:
            # "An incoming RST segment could not be valid since it could not have been sent in
            # response to anything sent by this incarnation of the connection. An incoming RST
            # should be ignored."
            return Drop.TCP_LISTEN_RST
        if flags & ACK:
            # "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An
            # acceptable reset segment should be formed for any arriving ACK-bearing segment. The RST
            # should be formatted as follows: <SEQ=SEG.ACK><CTL=RST>"
            self.reset_for(tpkt, seg)
            return Drop.TCP_LISTEN_ACK
        if not flags & SYN:
            # "Fourth, other data or control: ... Drop the segment and return."
            return Drop.TCP_LISTEN_NO_SYN
        if not listener.has_room():
            return Drop.TCP_ACCEPT_QUEUE_FULL  # Linux: a listen overflow drops the SYN
        if len(listener.half_open) >= self.config.syn_queue_len:
            return Drop.TCP_SYN_QUEUE_FULL
        if not self.has_room():
            return Drop.TCP_TOO_MANY_CONNECTIONS
        route = self.stack.find_route(tpkt.src, src=tpkt.dst)
        if route is None:
            self.count_event("tcp_syn_no_route")
            return Drop.NO_ROUTE
        conn = Connection(self, route, seg.dst_port, seg.src_port, listener.options.copy(), listener=listener)
        listener.hold(conn)
        self.add(conn)
        conn.open_passive(seg, iss)
        return None

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

    def sent(self, family: int, quoted: memoryview) -> bool:
        """A segment of one of our connections, in flight (RFC 5927 4.1's check, icmp.in_flight)."""
        about = icmp.quoted_segment(family, quoted)
        if about is None:
            return False
        conn = self.connections.get(about[0])
        return conn is not None and conn.sender is not None and icmp.in_flight(conn, about[1])

    def handle_error(self, family: int, kind: str, quoted: memoryview, param: int = 0) -> None:
        about = icmp.quoted_segment(family, quoted)
        if about is None:
            return
        key, seg_seq = about
        conn = self.connections.get(key)
        if conn is None or conn.sender is None:
            self.count_event("tcp_icmp_no_connection")
            return
        icmp.handle_error(conn, family, kind, seg_seq, param, quoted)

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
        listener = Listener(ip.version, local, port, backlog, options.copy() if options else SocketOptions())
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
        if ip.is_multicast or ip.is_unspecified or self._is_broadcast(ip.packed):
            # RFC 9293 3.9.1.1: "A TCP implementation MUST reject as an error a local OPEN call for
            # an invalid remote IP address (e.g., a broadcast or multicast address) (MUST-46)";
            # "unreachable" as Linux's connect(2) says it (ENETUNREACH).
            raise TCPError("unreachable", f"{address} is not a unicast address")
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

    def _is_broadcast(self, packed: bytes) -> bool:
        """The limited broadcast or a directed broadcast of one of our IPv4 subnets (RFC 1122 3.2.1.3)."""
        return len(packed) == 4 and any(packed in nic.addresses.ipv4_broadcasts for nic in self.stack.nics.values())

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

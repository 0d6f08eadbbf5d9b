"""A connection driven by random segments, application calls and time (a Hypothesis
RuleBasedStateMachine), checked after every step:

- nothing raises, and every segment in gets exactly one verdict;
- every queue stays bounded and the sequence variables stay ordered (fuzz/tcp_invariants.py);
- the application never reads data out of order or twice: every octet the peer ever sends at
  sequence number ``s`` is ``peer_octet(s)``, so whatever the stack accepts, from whichever
  segment, the stream it delivers must be ``peer_octet`` of consecutive sequence numbers;
- every octet the stack sends is the application's: at stream offset ``k`` it is ``app_octet(k)``.
"""

from __future__ import annotations

import contextlib
import random

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from fuzz.profiles import budget
from fuzz.tcp_invariants import tcp_problems
from stack_under_test import ChannelEndpoint, Stack, StackOptions, VirtualClock
from stack_under_test.transport.tcp import Connection, SocketOptions, State, TCPError, TCPProtocol, seq
from stack_under_test.wire.tcp import ACK, FIN, NO_OPTIONS, PSH, RST, SYN, URG, TCPOptions, TCPSegment

DUT_MAC, PEER_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
DUT, PEER = bytes((198, 51, 100, 1)), bytes((198, 51, 100, 2))
PORT, PEER_PORT, PEER_ISS = 80, 40000, 0xFFFF_F000  # the peer's sequence numbers wrap soon
MASK = 0xFFFF_FFFF


def peer_octet(s: int) -> int:
    return (s * 7 + 3) % 251


def peer_data(start: int, n: int) -> bytes:
    return bytes(peer_octet((start + i) & MASK) for i in range(n))


def app_octet(k: int) -> int:
    return (k * 13 + 5) % 241


def _ip(payload: bytes) -> bytes:
    from stack_under_test.wire.ipv4 import encode_header

    return encode_header(PEER, DUT, 6, len(payload), 1, 64) + payload


class ConnectionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.stack = Stack(StackOptions(clock=self.clock, rng=random.Random(7)))
        self.link = ChannelEndpoint(mac=DUT_MAC)
        stack = self.stack
        stack.create_nic("eth0", self.link)
        stack.set_ipv6_option("eth0", "accept_dad", 0)
        stack.set_ipv6_option("eth0", "router_solicitations", 0)
        stack.enable_nic("eth0")
        stack.add_address("eth0", "198.51.100.1/24")
        stack.add_static_neighbor("eth0", "198.51.100.2", PEER_MAC)
        self.link.drain()
        tcp = stack.transport_protocols[6]
        assert isinstance(tcp, TCPProtocol)
        self.tcp = tcp
        self.conn: Connection | None = None
        self.delivered = 0  # octets the application has read
        self.read_from = (PEER_ISS + 1) & MASK
        self.app_sent = 0  # octets the application handed to send()
        self.dut_iss = 0
        self.peer_nxt = (PEER_ISS + 1) & MASK  # what the peer believes its next sequence number is
        self.dut_max = 0  # the highest sequence number the stack has sent: what the peer acknowledges
        self.dut_fin_seen = False

    # ---- the wire ------------------------------------------------------------------------------------------
    def inject(self, seq_no: int, ack: int, flags: int, payload: bytes, window: int = 65535,
               options: TCPOptions = NO_OPTIONS, urgent: int = 0) -> None:
        segment = TCPSegment(PEER_PORT, PORT, seq_no & MASK, ack & MASK, flags, window, urgent, options, payload)
        frame = DUT_MAC + PEER_MAC + b"\x08\x00" + _ip(segment.encode(PEER, DUT))
        stats = self.stack.nic("eth0").stats
        before = stats.rx_frames
        self.link.inject_inbound(frame)
        assert stats.rx_frames == before + 1
        self.collect()

    def collect(self) -> None:
        """Read what the stack sent: check its data against the application's stream."""
        for raw in self.link.drain():
            if raw[12:14] != b"\x08\x00" or raw[23] != 6:
                continue
            ihl = (raw[14] & 0x0F) * 4
            total = int.from_bytes(raw[16:18], "big")
            seg = TCPSegment.parse(raw[14 + ihl : 14 + total])
            assert isinstance(seg, TCPSegment)
            if seg.flags & SYN:
                self.dut_iss = seg.seq
            if seg.payload:
                offset = (seg.seq - self.dut_iss - 1) & MASK
                assert offset + len(seg.payload) <= self.app_sent, "the stack sent octets never given to it"
                expected = bytes(app_octet(offset + i) for i in range(len(seg.payload)))
                assert seg.payload == expected, "the stack sent octets that differ from the application's"
            end = (seg.seq + len(seg.payload) + (1 if seg.flags & (SYN | FIN) else 0)) & MASK
            if seq.gt(end, self.dut_max) or self.dut_max == 0:
                self.dut_max = end
            if seg.flags & FIN:
                self.dut_fin_seen = True

    # ---- set-up -----------------------------------------------------------------------------------------------
    @initialize(rcvbuf=st.sampled_from([2048, 8192, 65536]), sack=st.booleans(), ts=st.booleans(),
                wscale=st.sampled_from([None, 0, 3]))
    def open(self, rcvbuf: int, sack: bool, ts: bool, wscale: int | None) -> None:
        self.tcp.config.out_of_order_segments = 8
        listener = self.tcp.listen("0.0.0.0", PORT, options=SocketOptions(rcvbuf=rcvbuf))
        syn_options = TCPOptions(mss=536, window_scale=wscale, sack_permitted=sack,
                                 timestamps=(1, 0) if ts else None)
        self.ts = ts
        self.tsval = 1
        self.inject(PEER_ISS, 0, SYN, b"", options=syn_options)
        self.inject(self.peer_nxt, (self.dut_iss + 1) & MASK, ACK, b"", options=self.options())
        self.conn = listener.accept()
        assert self.conn is not None and self.conn.state is State.ESTABLISHED

    def options(self, stale: bool = False) -> TCPOptions:
        if not self.ts:
            return TCPOptions()
        if not stale:
            self.tsval += 1
        return TCPOptions(timestamps=((self.tsval - (50 if stale else 0)) & MASK, 0))

    # ---- rules: the peer ---------------------------------------------------------------------------------
    @rule(offset=st.integers(-3000, 70_000) | st.sampled_from([0, 0, 0, 1, -1]), size=st.integers(0, 1500),
          flags=st.sampled_from([ACK, ACK | PSH, ACK | FIN, ACK | URG, 0, FIN]),
          ack_delta=st.sampled_from([0, 0, 1, -1, 100_000, -100_000]), stale_ts=st.booleans())
    def peer_data(self, offset: int, size: int, flags: int, ack_delta: int, stale_ts: bool) -> None:
        start = (self.peer_nxt + offset) & MASK
        ack = (self.dut_max + ack_delta) & MASK
        self.inject(start, ack, flags, peer_data(start, size), options=self.options(stale_ts), urgent=size // 2)
        if offset == 0 and not flags & FIN:
            self.peer_nxt = (self.peer_nxt + size) & MASK

    @rule(size=st.integers(1, 3000))
    def peer_in_order(self, size: int) -> None:
        """The well-behaved case: the next data in sequence, acknowledging what the stack sent."""
        self.inject(self.peer_nxt, self.dut_max, ACK | PSH, peer_data(self.peer_nxt, size), options=self.options())
        self.peer_nxt = (self.peer_nxt + size) & MASK

    @rule(flags=st.sampled_from([SYN, SYN | ACK, RST, RST | ACK, FIN | ACK, RST | SYN]),
          offset=st.sampled_from([1, -1, 10, 1 << 20, 1 << 31, 1, 10, 0]))
    def peer_control(self, flags: int, offset: int) -> None:
        self.inject((self.peer_nxt + offset) & MASK, self.dut_max, flags, b"", options=self.options())

    @rule(window=st.sampled_from([0, 1, 100, 65535]), ack_delta=st.sampled_from([0, -1, 1]))
    def peer_ack(self, window: int, ack_delta: int) -> None:
        self.inject(self.peer_nxt, (self.dut_max + ack_delta) & MASK, ACK, b"", window=window, options=self.options())

    # ---- rules: the application and time ------------------------------------------------------------------
    @precondition(lambda self: self.conn is not None)
    @rule(n=st.integers(1, 20_000))
    def app_send(self, n: int) -> None:
        assert self.conn is not None
        data = bytes(app_octet(self.app_sent + i) for i in range(n))
        with contextlib.suppress(TCPError):
            self.app_sent += self.conn.send(data)
        self.collect()

    @precondition(lambda self: self.conn is not None)
    @rule(most=st.sampled_from([1, 100, 100_000]))
    def app_read(self, most: int) -> None:
        assert self.conn is not None
        try:
            got = self.conn.recv(most)
        except TCPError:
            return
        if got:
            assert got == peer_data(self.read_from, len(got)), "data delivered out of order, twice or corrupted"
            self.read_from = (self.read_from + len(got)) & MASK
            self.delivered += len(got)
        self.collect()

    @precondition(lambda self: self.conn is not None)
    @rule(how=st.sampled_from(["nodelay", "rcvbuf", "nodelay", "rcvbuf", "shutdown", "close", "abort"]))
    def app_control(self, how: str) -> None:
        assert self.conn is not None
        with contextlib.suppress(TCPError):
            if how == "nodelay":
                self.conn.set_option("nodelay", True)
            elif how == "rcvbuf":
                self.conn.set_option("rcvbuf", 4096)
            else:
                getattr(self.conn, how)()
        self.collect()

    @rule(ms=st.sampled_from([1, 199, 200, 1000, 3000, 60_000, 250_000]))
    def wait(self, ms: int) -> None:
        self.clock.advance(ms)
        self.collect()

    # ---- invariants ---------------------------------------------------------------------------------------
    @invariant()
    def bounded_and_ordered(self) -> None:
        problems = tcp_problems(self.stack)
        assert not problems, problems

    @invariant()
    def closed_connections_leave_the_table(self) -> None:
        conn = self.conn
        if conn is not None and conn.state is State.CLOSED:
            assert self.tcp.connections.get(conn.key) is not conn


ConnectionMachine.TestCase.settings = budget(60, stateful_step_count=40)
TestConnection = ConnectionMachine.TestCase

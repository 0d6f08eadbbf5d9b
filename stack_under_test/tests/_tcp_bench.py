"""A stack on a channel link, and a hand-driven TCP peer on the other end of it.

``TCPBench`` injects segments the test spells out field by field and parses what the stack
sends back. ``Peer`` keeps one connection's sequence numbers on the tester's side so a test reads
as the exchange it checks: ``peer.send(ACK, b"data")``, ``bench.out()``.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Any

from stack_under_test import ChannelEndpoint, Drop, Stack, StackOptions, VirtualClock
from stack_under_test.transport.tcp import Connection, TCPProtocol
from stack_under_test.wire.checksum import checksum
from stack_under_test.wire.tcp import ACK, NO_OPTIONS, SYN, TCPOptions, TCPSegment, verify_checksum

DUT_MAC = bytes.fromhex("020000000001")
PEER_MAC = bytes.fromhex("020000000002")
ADDRESSES = {
    4: (bytes((198, 51, 100, 1)), bytes((198, 51, 100, 2))),
    6: (bytes.fromhex("20010db8000100000000000000000001"), bytes.fromhex("20010db8000100000000000000000002")),
}
TEXT = {4: ("198.51.100.1", "198.51.100.2"), 6: ("2001:db8:1::1", "2001:db8:1::2")}
PEER_OPTIONS = TCPOptions(mss=1460)


def ip_header(family: int, src: bytes, dst: bytes, payload_len: int, proto: int = 6, df: bool = False) -> bytes:
    if family == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 1, 0x4000 if df else 0, 64, proto, 0, src, dst)
        return header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, proto, 64, src, dst)


@dataclass
class Out:
    """One frame the stack sent, dissected: the IP fields a test may check and the segment."""

    family: int
    src: bytes
    dst: bytes
    df: bool
    seg: TCPSegment
    packet: bytes  # the whole IP packet, for quoting in ICMP errors


class TCPBench:
    def __init__(self, family: int = 4, seed: int = 1, **config: Any) -> None:
        self.family = family
        self.clock = VirtualClock()
        self.stack = Stack(StackOptions(clock=self.clock, rng=random.Random(seed)))
        self.link = ChannelEndpoint(mac=DUT_MAC)
        stack = self.stack
        stack.create_nic("eth0", self.link)
        stack.set_ipv6_option("eth0", "accept_dad", 0)
        stack.set_ipv6_option("eth0", "router_solicitations", 0)
        stack.enable_nic("eth0")
        stack.add_address("eth0", "198.51.100.1/24")
        stack.add_address("eth0", "2001:db8:1::1/64", dad=False)
        stack.add_static_neighbor("eth0", "198.51.100.2", PEER_MAC)
        stack.add_static_neighbor("eth0", "2001:db8:1::2", PEER_MAC)
        self.clock.advance(5_000)
        self.link.drain()
        proto = stack.transport_protocols[6]
        assert isinstance(proto, TCPProtocol)
        self.tcp = proto
        for name, value in config.items():
            setattr(proto.config, name, value)
        self.dut, self.peer = ADDRESSES[family]
        self.dut_text, self.peer_text = TEXT[family]
        self.other_frames: list[bytes] = []

    @property
    def stats(self) -> Any:
        return self.stack.nic("eth0").stats

    def frame(self, segment: bytes, src: bytes | None = None, dst: bytes | None = None, dst_mac: bytes = DUT_MAC) -> bytes:
        ip = ip_header(self.family, src or self.peer, dst or self.dut, len(segment))
        ethertype = b"\x08\x00" if self.family == 4 else b"\x86\xdd"
        return dst_mac + PEER_MAC + ethertype + ip + segment

    def inject(
        self, sport: int, dport: int, seq: int, ack: int = 0, flags: int = ACK, window: int = 65535,
        payload: bytes = b"", options: TCPOptions = NO_OPTIONS, urgent: int = 0, **frame: Any,
    ) -> Drop | None:
        seg = TCPSegment(sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, window, urgent, options, payload)
        return self.inject_raw(seg.encode(frame.get("src") or self.peer, frame.get("dst") or self.dut), **frame)

    def inject_raw(self, segment: bytes, **frame: Any) -> Drop | None:
        return self.link.inject_inbound(self.frame(segment, **frame))

    def out_frames(self) -> list[Out]:
        """Every TCP segment the stack sent since the last call (other frames kept aside)."""
        got = []
        for raw in self.link.drain():
            ethertype = raw[12:14]
            if ethertype == b"\x08\x00" and raw[23] == 6:
                ihl = (raw[14] & 0x0F) * 4
                src, dst, df = raw[26:30], raw[30:34], bool(raw[20] & 0x40)
                segment = raw[14 + ihl : 14 + struct.unpack_from("!H", raw, 16)[0]]
                family = 4
            elif ethertype == b"\x86\xdd" and raw[20] == 6:
                src, dst, df = raw[22:38], raw[38:54], True
                segment = raw[54 : 54 + struct.unpack_from("!H", raw, 18)[0]]
                family = 6
            else:
                self.other_frames.append(raw)
                continue
            assert verify_checksum(segment, src, dst), "the stack sent a TCP segment with a bad checksum"
            seg = TCPSegment.parse(segment)
            assert not isinstance(seg, Drop)
            got.append(Out(family, src, dst, df, seg, raw[14:]))
        return got

    def icmp_error(self, icmp_type: int, code: int, param: int, quoted: bytes, src: bytes | None = None) -> Drop | None:
        """An ICMP (IPv4) or ICMPv6 error about ``quoted`` (one of our packets), from ``src``."""
        src = src or self.peer
        if self.family == 4:
            body = struct.pack("!BBHI", icmp_type, code, 0, param) + quoted[:548]
            body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
            return self.link.inject_inbound(self.frame_ip(ip_header(4, src, self.dut, len(body), proto=1) + body))
        body = struct.pack("!BBHI", icmp_type, code, 0, param) + quoted[:1232]
        pseudo = src + self.dut + struct.pack("!IxxxB", len(body), 58)
        body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
        return self.link.inject_inbound(self.frame_ip(ip_header(6, src, self.dut, len(body), proto=58) + body))

    def frame_ip(self, packet: bytes) -> bytes:
        ethertype = b"\x08\x00" if self.family == 4 else b"\x86\xdd"
        return DUT_MAC + PEER_MAC + ethertype + packet

    def out(self) -> list[TCPSegment]:
        return [o.seg for o in self.out_frames()]

    def one(self) -> TCPSegment:
        segs = self.out()
        assert len(segs) == 1, f"expected one segment, got {segs}"
        return segs[0]

    def advance(self, ms: int) -> list[TCPSegment]:
        self.clock.advance(ms)
        return self.out()

    # ---- connections ---------------------------------------------------------------------------------
    def accept_one(self, port: int = 80, peer_options: TCPOptions = PEER_OPTIONS, **listen: Any) -> tuple[Connection, Peer]:
        """Listen, and let a peer complete the three-way handshake: (connection, peer)."""
        listener = self.tcp.listen("0.0.0.0" if self.family == 4 else "::", port, **listen)
        peer = Peer(self, sport=40000, dport=port, seq=1000, options=peer_options)
        assert peer.send(SYN, options=peer_options) is None
        synack = self.one()
        peer.learn_synack(synack)
        assert peer.send(ACK) is None
        conn = listener.accept()
        assert conn is not None
        return conn, peer

    def connect_one(self, port: int = 80, peer_options: TCPOptions = PEER_OPTIONS, **connect: Any) -> tuple[Connection, Peer]:
        """An active open answered by the peer's SYN,ACK: (connection, peer)."""
        conn = self.tcp.connect(self.peer_text, port, **connect)
        syn = self.one()
        peer = Peer(self, sport=port, dport=syn.src_port, seq=5000, options=peer_options)
        peer.ack = (syn.seq + 1) & 0xFFFFFFFF
        peer.their_options = syn.options
        if syn.options.timestamps is not None:
            peer.their_tsval = syn.options.timestamps[0]
        assert peer.send(SYN | ACK, options=peer_options) is None
        final = self.one()
        assert final.flags == ACK and final.ack == peer.seq
        return conn, peer


@dataclass
class Peer:
    """The tester's end of one connection: ``seq`` is its SND.NXT, ``ack`` its RCV.NXT."""

    bench: TCPBench
    sport: int
    dport: int
    seq: int
    options: TCPOptions = PEER_OPTIONS
    ack: int = 0
    window: int = 65535
    iss: int = field(init=False)
    their_options: TCPOptions = field(default_factory=TCPOptions)
    tsval: int = 1000
    their_tsval: int = 0

    def __post_init__(self) -> None:
        self.iss = self.seq

    def learn_synack(self, synack: TCPSegment) -> None:
        assert synack.flags == SYN | ACK, synack
        self.ack = (synack.seq + 1) & 0xFFFFFFFF
        self.their_options = synack.options
        if synack.options.timestamps is not None:
            self.their_tsval = synack.options.timestamps[0]

    @property
    def timestamps(self) -> bool:
        return self.options.timestamps is not None and self.their_options.timestamps is not None

    def send(
        self, flags: int, payload: bytes = b"", *, seq: int | None = None, ack: int | None = None,
        window: int | None = None, options: TCPOptions | None = None, urgent: int = 0,
    ) -> Drop | None:
        """One segment from the peer. Sequence numbers default to the peer's own; SYN and FIN and
        data advance ``seq`` when the default was used."""
        start = self.seq if seq is None else seq
        if options is None:
            options = TCPOptions()
            if self.timestamps:
                self.tsval += 1
                options = TCPOptions(timestamps=(self.tsval, self.their_tsval))
        verdict = self.bench.inject(
            self.sport, self.dport, start, self.ack if ack is None else ack, flags,
            self.window if window is None else window, payload, options, urgent,
        )
        if seq is None:
            self.seq = (start + len(payload) + (1 if flags & SYN else 0) + (1 if flags & 1 else 0)) & 0xFFFFFFFF
        return verdict

    def read(self, segs: list[TCPSegment]) -> bytes:
        """Take the data of ``segs`` in order (advancing ``ack``), as a receiving peer would."""
        data = b""
        for seg in segs:
            if seg.options.timestamps is not None:
                self.their_tsval = seg.options.timestamps[0]
            if seg.seq == self.ack and seg.payload:
                data += seg.payload
                self.ack = (self.ack + len(seg.payload)) & 0xFFFFFFFF
            if seg.flags & 1 and (seg.seq + len(seg.payload)) & 0xFFFFFFFF == self.ack:
                self.ack = (self.ack + 1) & 0xFFFFFFFF
        return data

"""The white-box bench (stack_under_test.testing) with the test link's IPv6 addresses, and frame
builders for it.

Frames are built with the stack's own wire encoders (never the test tool); what the stack sends is
parsed back with them too, so each test reads as "frame in, frames out".
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address

from stack_under_test import ChannelEndpoint, Drop, testing
from stack_under_test.testing import DUT6 as DUT
from stack_under_test.testing import DUT6_LL as DUT_LL
from stack_under_test.testing import DUT_MAC, OTHER_MAC, TESTER_MAC
from stack_under_test.testing import OTHER6 as OTHER
from stack_under_test.testing import TESTER6 as TESTER
from stack_under_test.testing import TESTER6_LL as TESTER_LL
from stack_under_test.wire import icmpv6
from stack_under_test.wire.ipv6 import IPv6Header, build_packet

__all__ = ["DUT", "DUT_LL", "DUT_MAC", "OTHER", "OTHER_MAC", "TESTER", "TESTER_LL", "TESTER_MAC"]

ALL_NODES = IPv6Address("ff02::1").packed
UNSPECIFIED = bytes(16)

ETH_IPV6 = b"\x86\xdd"
UDP = 17
ICMPV6 = 58


@dataclass
class Sent:
    """One frame the stack transmitted, parsed."""

    eth_dst: bytes
    eth_src: bytes
    ip: IPv6Header
    payload: bytes  # the IPv6 payload (Payload Length octets)
    message: icmpv6.ICMPv6Message | Drop | None  # parsed ICMPv6 (checksum verified) when proto 58


def is_mld_report(frame: bytes) -> bool:
    """An MLD report or Done the stack sent on its own (Hop-by-Hop header, then ICMPv6 131/132/143):
    enabling a NIC, adding an address or joining a group sends them (network/ipv6/mld.py,
    tested in test_mld.py); the other benches look past them."""
    return len(frame) > 62 and frame[12:14] == ETH_IPV6 and frame[20] == 0 and frame[54] == ICMPV6 and frame[62] in (131, 132, 143)


def drain(link: ChannelEndpoint) -> list[bytes]:
    """Every frame the link holds, MLD reports left out."""
    return [f for f in link.drain() if not is_mld_report(f)]


def parse_sent(frame: bytes) -> Sent:
    assert frame[12:14] == ETH_IPV6, frame[:14].hex()
    header = IPv6Header.parse(memoryview(frame[14:]))
    assert isinstance(header, IPv6Header), header
    payload = frame[54 : 54 + header.payload_length]
    message = None
    if header.next_header == ICMPV6:
        message = icmpv6.parse(memoryview(payload), header.src.packed, header.dst.packed)
    return Sent(frame[0:6], frame[6:12], header, payload, message)


class Bench:
    """A ``testing.Bench`` with both families (IPv6 usable at once, no Router Solicitations) whose
    ``inject`` takes an IPv6 packet and returns the verdict; ``sent()`` parses what went out."""

    def __init__(self, *, static_tester: bool = True, forwarding: bool = False, settle_ms: int = 0) -> None:
        self.bench = testing.Bench(static_tester=static_tester, forwarding=(6,) if forwarding else (), settle_ms=settle_ms)
        self.stack, self.link, self.clock = self.bench.stack, self.bench.link, self.bench.clock
        self._out: list[bytes] = []

    @property
    def nic_stats(self):  # type: ignore[no-untyped-def]
        return self.bench.stats

    def inject(self, packet: bytes, *, eth_dst: bytes = DUT_MAC, eth_src: bytes = TESTER_MAC) -> Drop | None:
        verdict, out = self.bench.inject(eth_dst + eth_src + ETH_IPV6 + packet)
        self._out += out
        return verdict

    def frames(self) -> list[bytes]:
        """Every frame the stack sent since the last call."""
        out, self._out = self._out + self.link.drain(), []
        return out

    def sent(self) -> list[Sent]:
        return [parse_sent(frame) for frame in self.frames() if not is_mld_report(frame)]

    def only_sent(self) -> Sent:
        frames = self.sent()
        assert len(frames) == 1, frames
        return frames[0]


def icmp_packet(
    src: bytes, dst: bytes, message: icmpv6.ICMPv6Message, *, hop_limit: int = 64, ext: bytes = b"", first: int = ICMPV6
) -> bytes:
    """An IPv6 packet carrying ``message``; ``ext`` (extension headers) starts with Next Header ``first``."""
    return build_packet(src, dst, first if ext else ICMPV6, ext + icmpv6.encode(message, src, dst), hop_limit)


def udp_packet(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    """An IPv6 packet carrying a UDP datagram with a correct checksum (RFC 8200 §8.1)."""
    from stack_under_test.wire.checksum import checksum, pseudo_header_sum

    length = 8 + len(data)
    raw = bytearray(sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + length.to_bytes(2, "big") + b"\0\0" + data)
    csum = checksum(raw, pseudo_header_sum(src, dst, UDP, length)) or 0xFFFF
    raw[6:8] = csum.to_bytes(2, "big")
    return build_packet(src, dst, UDP, bytes(raw))

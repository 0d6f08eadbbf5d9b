"""The white-box bench (stack_under_test.testing) with the test link's IPv4 addresses, and
hand-built frames for it.

Frames are built by hand with struct and the stack's own checksum. Each test reads as
"frame in, verdict and frames out".
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from stack_under_test import Drop
from stack_under_test.testing import DUT4 as DUT
from stack_under_test.testing import DUT_MAC, OTHER_MAC, TESTER_MAC, Bench
from stack_under_test.testing import OTHER4 as OTHER
from stack_under_test.testing import SUBNET_BROADCAST4 as SUBNET_BROADCAST
from stack_under_test.testing import TESTER4 as TESTER
from stack_under_test.wire.checksum import checksum, pseudo_header_sum

__all__ = ["DUT", "DUT_MAC", "OTHER", "OTHER_MAC", "SUBNET_BROADCAST", "TESTER", "TESTER_MAC"]

BROADCAST_MAC = b"\xff" * 6
LIMITED_BROADCAST = b"\xff" * 4


def eth(payload: bytes, ethertype: int = 0x0800, dst: bytes = DUT_MAC, src: bytes = TESTER_MAC) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(
    payload: bytes,
    proto: int = 1,
    src: bytes = TESTER,
    dst: bytes = DUT,
    ttl: int = 64,
    ident: int = 1,
    flags_frag: int = 0,
    options: bytes = b"",
    total_length: int | None = None,
    version_ihl: int | None = None,
    good_checksum: bool = True,
) -> bytes:
    hlen = 20 + len(options)
    vihl = 0x40 | hlen // 4 if version_ihl is None else version_ihl
    total = hlen + len(payload) if total_length is None else total_length
    header = struct.pack("!BBHHHBBH4s4s", vihl, 0, total, ident, flags_frag, ttl, proto, 0, src, dst) + options
    csum = checksum(header) ^ (0 if good_checksum else 0x0101)
    return header[:10] + struct.pack("!H", csum) + header[12:] + payload


def icmp(kind: int, code: int = 0, rest: bytes = b"\0\0\0\0", body: bytes = b"", good_checksum: bool = True) -> bytes:
    raw = struct.pack("!BBH", kind, code, 0) + rest + body
    csum = checksum(raw) ^ (0 if good_checksum else 0x0101)
    return raw[:2] + struct.pack("!H", csum) + raw[4:]


def echo_request(ident: int = 0x1234, seq: int = 1, data: bytes = b"ping-data") -> bytes:
    return icmp(8, 0, struct.pack("!HH", ident, seq), data)


def udp(sport: int, dport: int, data: bytes, src: bytes = TESTER, dst: bytes = DUT, csum: int | None = None) -> bytes:
    length = 8 + len(data)
    raw = struct.pack("!HHHH", sport, dport, length, 0) + data
    if csum is None:
        csum = checksum(raw, pseudo_header_sum(src, dst, 17, length)) or 0xFFFF
    return raw[:6] + struct.pack("!H", csum) + raw[8:]


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


class IPv4Bench:
    """A ``Bench`` (IPv4 only unless ``ipv6``) whose ``inject`` returns the verdict; what the stack
    sent waits for ``sent()`` / ``one()``."""

    def __init__(self, *, static_tester: bool = True, ipv6: bool = False) -> None:
        self.bench = Bench(ipv6=ipv6, static_tester=static_tester)
        self.stack, self.link, self.clock = self.bench.stack, self.bench.link, self.bench.clock
        self._out: list[bytes] = []

    @property
    def nic_stats(self):  # type: ignore[no-untyped-def]
        return self.bench.stats

    def inject(self, frame: bytes) -> Drop | None:
        verdict, out = self.bench.inject(frame)
        self._out += out
        return verdict

    def sent(self) -> list[bytes]:
        out, self._out = self._out + self.link.drain(), []
        return out

    def one(self) -> bytes:
        frames = self.sent()
        assert len(frames) == 1, f"expected one frame, got {len(frames)}"
        return frames[0]


def make_bench(static_tester: bool = True, ipv6: bool = False) -> IPv4Bench:
    return IPv4Bench(static_tester=static_tester, ipv6=ipv6)


# ---- reading what the stack sent ---------------------------------------------------------------
@dataclass
class IPv4Out:
    eth_dst: bytes
    eth_src: bytes
    ethertype: int
    header: bytes
    payload: bytes

    @property
    def src(self) -> bytes:
        return self.header[12:16]

    @property
    def dst(self) -> bytes:
        return self.header[16:20]

    @property
    def ttl(self) -> int:
        return self.header[8]

    @property
    def proto(self) -> int:
        return self.header[9]

    @property
    def ident(self) -> int:
        return int.from_bytes(self.header[4:6], "big")


def parse_out(frame: bytes) -> IPv4Out:
    ethertype = int.from_bytes(frame[12:14], "big")
    ihl = (frame[14] & 0x0F) * 4
    total = int.from_bytes(frame[16:18], "big")
    return IPv4Out(frame[0:6], frame[6:12], ethertype, frame[14 : 14 + ihl], frame[14 + ihl : 14 + total])

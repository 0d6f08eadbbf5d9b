"""IPv6 fixed header (RFC 8200 §3): a zero-copy view and a value record.

Pure format code: no state, clock or stats. Parsing never raises; it returns a Drop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv6Address
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16, Addr, Bits

HEADER_LEN: Final = 40  # RFC 8200 §3: the fixed header is 40 octets
VERSION: Final = 6

_FIXED = struct.Struct("!IHBB")  # version/class/flow, payload length, next header, hop limit

NEXT_HEADER_OFFSET: Final = 6  # octet of the fixed header's Next Header field (Param Problem pointers)

# Well-known addresses, packed (the stack handles addresses as 16-octet bytes).
ALL_NODES: Final = IPv6Address("ff02::1").packed  # RFC 4291 §2.7.1
ALL_ROUTERS: Final = IPv6Address("ff02::2").packed
UNSPECIFIED: Final = bytes(16)
LOOPBACK: Final = IPv6Address("::1").packed
_SOLICITED_NODE_PREFIX: Final = bytes.fromhex("ff0200000000000000000001ff")
_V4MAPPED_PREFIX: Final = bytes(10) + b"\xff\xff"  # RFC 4291 §2.5.5.2: ::ffff:0:0/96


def is_v4mapped(addr: bytes) -> bool:
    return addr[:12] == _V4MAPPED_PREFIX


def solicited_node(addr: bytes) -> bytes:
    """RFC 4291 §2.7.1: "formed by taking the low-order 24 bits of an address (unicast or anycast)
    and appending those bits to the prefix FF02:0:0:0:0:1:FF00::/104"."""
    return _SOLICITED_NODE_PREFIX + addr[13:16]


def is_solicited_node(addr: bytes) -> bool:
    return addr[:13] == _SOLICITED_NODE_PREFIX


def is_multicast(packed: bytes) -> bool:
    return packed[0] == 0xFF  # RFC 4291 §2.7: ff00::/8


def is_link_local(packed: bytes) -> bool:
    """Link-local unicast fe80::/10 (RFC 4291 §2.5.6) or link-local-scope multicast (§2.7)."""
    if packed[0] == 0xFF:
        return packed[1] & 0x0F <= 2
    return packed[0] == 0xFE and packed[1] & 0xC0 == 0x80


def eui64_link_local(mac: bytes) -> IPv6Address:
    """RFC 4291 Appendix A / RFC 2464 §4-5: fe80::/64 with the modified EUI-64 interface identifier
    (FF-FE inserted in the middle of the MAC and the universal/local bit inverted)."""
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return IPv6Address(b"\xfe\x80" + bytes(6) + iid)


class IPv6View:
    """Typed view over an IPv6 packet (fixed header first). Accessors are safe once check() is None."""

    __slots__ = ("buf",)

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf

    version = Bits(0, 1, 4, 4)
    traffic_class = Bits(0, 2, 4, 8)
    flow_label = Bits(1, 3, 0, 20)
    payload_length = U16(4)
    next_header = U8(6)
    hop_limit = U8(7)

    src = Addr(8, 16)  # packed, 16 octets
    dst = Addr(24, 16)

    @property
    def payload(self) -> memoryview:
        """The payload, trimmed to Payload Length (link padding beyond it is not ours)."""
        return self.buf[HEADER_LEN : HEADER_LEN + self.payload_length]

    def check(self) -> Drop | None:
        if len(self.buf) < HEADER_LEN:
            return Drop.IPV6_TRUNCATED
        # RFC 8200 §3: "Version  4-bit Internet Protocol version number = 6."
        if self.version != VERSION:
            return Drop.IPV6_BAD_VERSION
        # RFC 8200 §3: Payload Length is "the rest of the packet following this IPv6 header";
        # a frame that carries less than that lost octets on the way.
        if self.payload_length > len(self.buf) - HEADER_LEN:
            return Drop.IPV6_PAYLOAD_LENGTH_EXCEEDS_FRAME
        return None


@dataclass(frozen=True, slots=True)
class IPv6Header:
    """The fixed header as a value. encode() needs the payload length it will precede."""

    src: IPv6Address
    dst: IPv6Address
    next_header: int
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    payload_length: int = 0

    @classmethod
    def parse(cls, buf: memoryview) -> IPv6Header | Drop:
        view = IPv6View(buf)
        drop = view.check()
        if drop is not None:
            return drop
        return cls(
            src=IPv6Address(view.src),
            dst=IPv6Address(view.dst),
            next_header=view.next_header,
            hop_limit=view.hop_limit,
            traffic_class=view.traffic_class,
            flow_label=view.flow_label,
            payload_length=view.payload_length,
        )

    def encode(self) -> bytes:
        first = (VERSION << 28) | ((self.traffic_class & 0xFF) << 20) | (self.flow_label & 0xFFFFF)
        return (
            _FIXED.pack(first, self.payload_length, self.next_header, self.hop_limit)
            + self.src.packed
            + self.dst.packed
        )


def build_header(
    src: bytes,
    dst: bytes,
    next_header: int,
    payload_length: int,
    hop_limit: int = 64,
    traffic_class: int = 0,
    flow_label: int = 0,
) -> bytes:
    """A fixed header from packed addresses (the send path's form of IPv6Header.encode)."""
    first = (VERSION << 28) | ((traffic_class & 0xFF) << 20) | (flow_label & 0xFFFFF)
    return _FIXED.pack(first, payload_length, next_header, hop_limit) + src + dst


def build_packet(
    src: bytes, dst: bytes, next_header: int, payload: bytes, hop_limit: int = 64, traffic_class: int = 0
) -> bytes:
    """Fixed header + payload, Payload Length filled in (packed addresses)."""
    return build_header(src, dst, next_header, len(payload), hop_limit, traffic_class) + payload

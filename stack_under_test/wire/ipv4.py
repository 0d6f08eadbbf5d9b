"""The IPv4 header (RFC 791 3.1): a view, a validated record, and the receive fast path's parser."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16, Addr, Bits

MIN_HEADER_LEN: Final = 20
MAX_HEADER_LEN: Final = 60
FLAG_DF: Final = 0x4000
FLAG_MF: Final = 0x2000
OFFSET_MASK: Final = 0x1FFF
LIMITED_BROADCAST: Final = b"\xff\xff\xff\xff"
ALL_HOSTS: Final = b"\xe0\x00\x00\x01"  # 224.0.0.1, RFC 1112 4
HEADER: Final = struct.Struct("!BBHHHBBH4s4s")
# Field order of a HEADER tuple, for readers of the fast path.
(F_VER_IHL, F_TOS, F_TOTAL_LEN, F_IDENT, F_FLAGS_FRAG, F_TTL, F_PROTO, F_CHECKSUM, F_SRC, F_DST) = range(10)

HeaderTuple = tuple[int, int, int, int, int, int, int, int, bytes, bytes]


def parse_header(data: bytes, off: int, end: int) -> HeaderTuple | Drop:
    """Validate the IPv4 header at ``data[off:end]`` and return its fields (the HEADER tuple).

    RFC 1122 3.2.1.1: "A datagram whose version number is not 4 MUST be silently discarded";
    RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on every received datagram and
    silently discard every datagram that has a bad checksum." Total length beyond the frame is a
    drop; a shorter one is link padding, which the caller trims to ``off + total_length``.
    """
    if end - off < MIN_HEADER_LEN:
        return Drop.IPV4_TRUNCATED
    fields = HEADER.unpack_from(data, off)
    ver_ihl = fields[0]
    if ver_ihl == 0x45:  # the common case: version 4, no options
        ihl = MIN_HEADER_LEN
    else:
        if ver_ihl >> 4 != 4:
            return Drop.IPV4_BAD_VERSION
        ihl = (ver_ihl & 0x0F) << 2
        if ihl < MIN_HEADER_LEN or off + ihl > end:
            return Drop.IPV4_BAD_IHL
    total = fields[2]
    if total < ihl or off + total > end:
        return Drop.IPV4_BAD_TOTAL_LENGTH
    # Ones'-complement sum of the header (checksum included) must be 0xFFFF: n % 0xFFFF == 0, n != 0.
    if int.from_bytes(data[off : off + ihl], "big") % 0xFFFF:
        return Drop.IPV4_BAD_CHECKSUM
    return fields  # type: ignore[return-value]


def encode_header(
    src: bytes,
    dst: bytes,
    proto: int,
    payload_len: int,
    ident: int,
    ttl: int = 64,
    tos: int = 0,
    flags_frag: int = 0,
    options: bytes = b"",
) -> bytes:
    """A header with its checksum; ``options`` must already be padded to a multiple of 4."""
    hlen = MIN_HEADER_LEN + len(options)
    ver_ihl = 0x40 | hlen >> 2
    total = hlen + payload_len
    # RFC 1071 over the header's 16-bit words, the checksum word taken as zero; 2**16 == 1 mod 0xFFFF
    # lets the addresses and options be summed as one big integer.
    n = (ver_ihl << 8 | tos) + total + ident + flags_frag + (ttl << 8 | proto) + int.from_bytes(src + dst + options, "big")
    csum = ~(n % 0xFFFF or 0xFFFF) & 0xFFFF  # n == 0 is impossible: the version word is non-zero
    return HEADER.pack(ver_ihl, tos, total, ident, flags_frag, ttl, proto, csum, src, dst) + options


_PREFIX = struct.Struct("!BBHHHBBH")  # the header up to the addresses


class HeaderTemplate:
    """Headers for a run of datagrams sharing src, dst, protocol and TTL (no options).

    Only the total length and the ID change, so the addresses' share of the checksum is summed
    once (RFC 1071 3: the sum is commutative and associative) and each header costs one pack.
    ``link_header`` (an Ethernet header) is prepended to every result.
    """

    __slots__ = ("_addresses", "_fixed_sum", "_link", "_proto", "_ttl")

    def __init__(self, src: bytes, dst: bytes, proto: int, ttl: int, link_header: bytes = b"") -> None:
        self._addresses = src + dst
        self._proto, self._ttl, self._link = proto, ttl, link_header
        self._fixed_sum = 0x4500 + (ttl << 8 | proto) + int.from_bytes(self._addresses, "big") % 0xFFFF

    def encode(self, payload_len: int, ident: int) -> bytes:
        total = MIN_HEADER_LEN + payload_len
        csum = ~((self._fixed_sum + total + ident) % 0xFFFF or 0xFFFF) & 0xFFFF
        return self._link + _PREFIX.pack(0x45, 0, total, ident, 0, self._ttl, self._proto, csum) + self._addresses


class IPv4View:
    __slots__ = ("buf",)

    def __init__(self, buf: memoryview | bytes) -> None:
        self.buf = buf

    version, ihl = Bits(0, 1, 4, 4), Bits(0, 1, 0, 4)
    tos, total_length, ident = U8(1), U16(2), U16(4)
    flags, fragment_offset = Bits(6, 2, 13, 3), Bits(6, 2, 0, 13)
    ttl, protocol, checksum = U8(8), U8(9), U16(10)
    src, dst = Addr(12, 4), Addr(16, 4)

    def check(self) -> Drop | None:
        result = parse_header(self.buf, 0, len(self.buf))  # type: ignore[arg-type]
        return result if isinstance(result, Drop) else None

    def header_len(self) -> int:
        return self.ihl * 4

    def options(self) -> memoryview:
        return memoryview(self.buf)[MIN_HEADER_LEN : self.header_len()]

    def payload(self) -> memoryview:
        return memoryview(self.buf)[self.header_len() : self.total_length]


@dataclass(frozen=True, slots=True)
class IPv4Header:
    src: bytes
    dst: bytes
    protocol: int
    total_length: int = MIN_HEADER_LEN
    ident: int = 0
    ttl: int = 64
    tos: int = 0
    flags: int = 0  # the 3 flag bits: 0b010 DF, 0b001 MF
    fragment_offset: int = 0  # in 8-octet units
    options: bytes = b""

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        raw = bytes(buf)
        fields = parse_header(raw, 0, len(raw))
        if isinstance(fields, Drop):
            return fields
        ihl = (fields[F_VER_IHL] & 0x0F) << 2
        ff = fields[F_FLAGS_FRAG]
        return cls(
            fields[F_SRC], fields[F_DST], fields[F_PROTO], fields[F_TOTAL_LEN], fields[F_IDENT], fields[F_TTL],
            fields[F_TOS], ff >> 13, ff & OFFSET_MASK, raw[MIN_HEADER_LEN:ihl],
        )

    @property
    def header_len(self) -> int:
        return MIN_HEADER_LEN + len(self.options)

    def encode(self) -> bytes:
        return encode_header(
            self.src, self.dst, self.protocol, self.total_length - self.header_len, self.ident, self.ttl, self.tos,
            self.flags << 13 | self.fragment_offset, self.options,
        )

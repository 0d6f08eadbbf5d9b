"""The IPv4 header (RFC 791 3.1): the record the receive path parses, and the encoders of the send path."""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from stack_under_test.drops import Drop

MIN_HEADER_LEN: Final = 20
MAX_HEADER_LEN: Final = 60
FLAG_RESERVED: Final = 0x8000  # RFC 791 3.1 Flags "Bit 0: reserved, must be zero"
FLAG_DF: Final = 0x4000
FLAG_MF: Final = 0x2000
OFFSET_MASK: Final = 0x1FFF
FRAGMENT_BITS: Final = FLAG_MF | OFFSET_MASK  # either set in flags_frag: a fragment (RFC 791 3.2)
LIMITED_BROADCAST: Final = b"\xff\xff\xff\xff"
ALL_HOSTS: Final = b"\xe0\x00\x00\x01"  # 224.0.0.1, RFC 1112 4
HEADER: Final = struct.Struct("!BBHHHBBH4s4s")
# Bound once: looking int.from_bytes up on every call costs about half as much as the sum itself.
_from_bytes = int.from_bytes


class IPv4Header(NamedTuple):
    """The fixed 20 octets of an IPv4 header (RFC 791 3.1), one field per wire field, in order.

    A tuple filled by one ``struct`` unpack: named fields for about the cost of a bare tuple (the
    derived values are properties, so the hottest checks read ``flags_frag`` and ``ver_ihl``).
    ``parse`` validates; ``read`` trusts a header already validated or built here. The options, if
    any, follow in the packet: ``options(data, off)``.
    """

    ver_ihl: int  # version (4 bits) and IHL, the header length in 32-bit words (4 bits)
    tos: int
    total_length: int
    ident: int
    flags_frag: int  # flags (3 bits: reserved, DF, MF) and fragment offset (13 bits, 8-octet units)
    ttl: int
    protocol: int
    checksum: int
    src: bytes
    dst: bytes

    @property
    def header_len(self) -> int:
        """Octets of header, options included (IHL counts 32-bit words)."""
        return (self.ver_ihl & 0x0F) << 2

    @property
    def flags(self) -> int:
        """The three flag bits: 0b010 DF, 0b001 MF."""
        return self.flags_frag >> 13

    @property
    def fragment_offset(self) -> int:
        """Where this fragment's data starts in the original datagram, in 8-octet units."""
        return self.flags_frag & OFFSET_MASK

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags_frag & FLAG_MF)

    def options(self, data: bytes | memoryview, off: int = 0) -> memoryview:
        """The option octets of this header, which starts at ``data[off]``."""
        return memoryview(data)[off + MIN_HEADER_LEN : off + self.header_len]

    @classmethod
    def read(cls, data: bytes | memoryview, off: int = 0) -> IPv4Header:
        """The fields of a header that was validated before, or that this stack built."""
        return _new(cls, _unpack(data, off))

    @classmethod
    def parse(cls, data: bytes | memoryview, off: int = 0, end: int | None = None) -> IPv4Header | Drop:
        """Validate the header at ``data[off:end]`` (``end`` defaults to the end of ``data``).

        RFC 1122 3.2.1.1: "A datagram whose version number is not 4 MUST be silently discarded";
        RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on every received datagram and
        silently discard every datagram that has a bad checksum." Total length beyond ``end`` is a
        drop; a shorter one is link padding, which the caller trims to ``off + total_length``.
        """
        if end is None:
            end = len(data)
        if end - off < MIN_HEADER_LEN:
            return Drop.IPV4_TRUNCATED
        ver_ihl = data[off]
        if ver_ihl == 0x45:  # the common case: version 4, no options
            ihl = MIN_HEADER_LEN
        else:
            if ver_ihl >> 4 != 4:
                return Drop.IPV4_BAD_VERSION
            ihl = (ver_ihl & 0x0F) << 2
            if ihl < MIN_HEADER_LEN or off + ihl > end:
                return Drop.IPV4_BAD_IHL
        header = _new(cls, _unpack(data, off))
        total = header.total_length
        if total < ihl or off + total > end:
            return Drop.IPV4_BAD_TOTAL_LENGTH
        # Ones'-complement sum of the header (checksum included) must be 0xFFFF: n % 0xFFFF == 0, n != 0.
        if _from_bytes(data[off : off + ihl], "big") % 0xFFFF:
            return Drop.IPV4_BAD_CHECKSUM
        return header


_new = tuple.__new__  # IPv4Header._make without its length check: the Struct fixes the length
_unpack = HEADER.unpack_from


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
    n = (ver_ihl << 8 | tos) + total + ident + flags_frag + (ttl << 8 | proto) + _from_bytes(src + dst + options, "big")
    csum = ~(n % 0xFFFF or 0xFFFF) & 0xFFFF  # n == 0 is impossible: the version word is non-zero
    return HEADER.pack(ver_ihl, tos, total, ident, flags_frag, ttl, proto, csum, src, dst) + options


class HeaderTemplate:
    """Frames for a run of datagrams sharing src, dst, protocol and TTL (no options).

    Only the total length, the ID and the checksum change. The addresses' share of the checksum
    is summed once (RFC 1071 3: the sum is commutative and associative), and the octets that never
    change are packed once, so each frame's header costs one pack of six fields.
    ``link_header`` (an Ethernet header) starts every result.
    """

    __slots__ = ("_addresses", "_fixed_sum", "_head", "_middle", "_pack")

    def __init__(self, src: bytes, dst: bytes, proto: int, ttl: int, link_header: bytes = b"") -> None:
        self._addresses = src + dst
        self._fixed_sum = 0x4500 + (ttl << 8 | proto) + _from_bytes(self._addresses, "big") % 0xFFFF
        self._head = link_header + b"\x45\x00"  # version 4, IHL 5; TOS 0
        self._middle = bytes((0, 0, ttl, proto))  # no flags, offset 0
        self._pack = struct.Struct(f"!{len(self._head)}sHH4sH8s").pack

    def encode(self, payload_len: int, ident: int) -> bytes:
        total = MIN_HEADER_LEN + payload_len
        csum = ~((self._fixed_sum + total + ident) % 0xFFFF or 0xFFFF) & 0xFFFF
        return self._pack(self._head, total, ident, self._middle, csum, self._addresses)

"""The Internet checksum (RFC 1071), its incremental update (RFC 1624) and pseudo-headers.

Speed trick: 2**16 == 1 (mod 0xFFFF), so the ones'-complement sum of big-endian 16-bit words is
``int.from_bytes(data, "big") % 0xFFFF`` (with 0xFFFF, "negative zero", for a non-zero multiple),
about twice as fast as summing an array('H') of the words.
"""

from __future__ import annotations

import struct

_PSEUDO = struct.Struct("!HH")
# Bound once: looking int.from_bytes up on every call costs about half as much as the sum itself.
_from_bytes = int.from_bytes


def ones_sum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """16-bit ones'-complement sum of ``data`` (odd lengths padded with a zero octet) plus ``initial``."""
    n = _from_bytes(data, "big")
    if len(data) & 1:
        n <<= 8  # RFC 1071 4.1: the odd octet is the high half of a final word
    n += initial
    if n == 0:
        return 0
    s = n % 0xFFFF
    return s or 0xFFFF


def checksum(data: bytes | bytearray | memoryview, initial: int = 0) -> int:
    """The value to store in a checksum field: the complement of the ones'-complement sum."""
    return ~ones_sum(data, initial) & 0xFFFF


def with_checksum(message: bytes, at: int = 2) -> bytes:
    """``message`` (its checksum field zero) with the checksum over all of it stored at octet ``at``."""
    return message[:at] + checksum(message).to_bytes(2, "big") + message[at + 2 :]


def verify(data: bytes | bytearray | memoryview, initial: int = 0) -> bool:
    """True when ``data`` (including its checksum field) sums to 0xFFFF, RFC 1071 1(3)."""
    return ones_sum(data, initial) == 0xFFFF


def incremental_update(old_checksum: int, old_word: int, new_word: int) -> int:
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from m to m'."""
    total = (~old_checksum & 0xFFFF) + (~old_word & 0xFFFF) + new_word
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_header_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Ones'-complement sum of the IPv4 (RFC 768) or IPv6 (RFC 8200 8.1) pseudo-header.

    Both forms sum to the same value: the IPv6 form's 32-bit length and 24 zero bits add only
    zero words for lengths below 65536, and the upper length word otherwise.
    """
    return ones_sum(src + dst + _PSEUDO.pack(proto, length & 0xFFFF), length >> 16)

"""Ethernet II framing (RFC 894), IEEE 802.3 SNAP framing (RFC 1042, received) and the MAC mappings of IP multicast (RFC 1112 6.4, RFC 2464 7)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop

HEADER_LEN: Final = 14
BROADCAST_MAC: Final = b"\xff" * 6
# RFC 1042: IEEE 802.3 frames carry IP behind an 802.2 LLC header (DSAP and SSAP 170, control 3)
# and a SNAP header (organization code 0, then the EtherType).
MAX_802_3_LENGTH: Final = 1500  # a type/length field up to this is an IEEE 802.3 length
LLC_SNAP: Final = b"\xaa\xaa\x03\x00\x00\x00"
SNAP_HEADER_LEN: Final = HEADER_LEN + len(LLC_SNAP) + 2
_HEADER = struct.Struct("!6s6sH")


def parse_mac(text: str) -> bytes | None:
    """'02:00:00:00:00:01' (or with '-') to 6 octets; None when malformed."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        return None
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        return None
    return raw if all(len(p) in (1, 2) for p in parts) else None


def is_group_mac(mac: bytes) -> bool:
    """Broadcast or multicast: the I/G bit, the low bit of the first octet, is set."""
    return bool(mac[0] & 1)


def ipv4_multicast_mac(group: bytes) -> bytes:
    """RFC 1112 6.4: "placing the low-order 23-bits of the IP address into the low-order 23 bits
    of the Ethernet multicast address 01-00-5E-00-00-00"."""
    return b"\x01\x00\x5e" + bytes((group[1] & 0x7F, group[2], group[3]))


def ipv6_multicast_mac(group: bytes) -> bytes:
    """RFC 2464 7: 33-33 followed by the last four octets of the IPv6 multicast address."""
    return b"\x33\x33" + group[12:16]


@dataclass(frozen=True, slots=True)
class EthernetHeader:
    dst: bytes
    src: bytes
    ethertype: int

    @classmethod
    def parse(cls, buf: bytes | memoryview) -> Self | Drop:
        if len(buf) < HEADER_LEN:
            return Drop.ETHERNET_TRUNCATED
        dst, src, ethertype = _HEADER.unpack_from(buf)
        return cls(dst, src, ethertype)

    def encode(self) -> bytes:
        return _HEADER.pack(self.dst, self.src, self.ethertype)

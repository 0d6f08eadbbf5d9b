"""ARP for IPv4 over Ethernet (RFC 826)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16

HTYPE_ETHERNET: Final = 1
PTYPE_IPV4: Final = 0x0800
OP_REQUEST: Final = 1
OP_REPLY: Final = 2
FIXED_LEN: Final = 8  # hrd, pro, hln, pln, op
PACKET_LEN: Final = 28  # fixed part + 6 + 4 + 6 + 4 for Ethernet/IPv4
_PACKET = struct.Struct("!HHBBH6s4s6s4s")


class ARPView:
    """The fixed header, to check before ARPPacket.parse unpacks the addresses."""

    __slots__ = ("buf",)

    def __init__(self, buf: memoryview | bytes) -> None:
        self.buf = buf

    htype, ptype, hlen, plen, opcode = U16(0), U16(2), U8(4), U8(5), U16(6)

    def check(self) -> Drop | None:
        """RFC 826: "?Do I have the hardware type in ar$hrd?" ... "?Do I speak the protocol in ar$pro?"."""
        if len(self.buf) < FIXED_LEN:
            return Drop.ARP_TRUNCATED
        if self.htype != HTYPE_ETHERNET or self.hlen != 6:
            return Drop.ARP_UNSUPPORTED_HARDWARE
        if self.ptype != PTYPE_IPV4 or self.plen != 4:
            return Drop.ARP_UNSUPPORTED_PROTOCOL
        if len(self.buf) < PACKET_LEN:
            return Drop.ARP_TRUNCATED
        if self.opcode not in (OP_REQUEST, OP_REPLY):
            return Drop.ARP_UNKNOWN_OPCODE
        return None


@dataclass(frozen=True, slots=True)
class ARPPacket:
    opcode: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        drop = ARPView(buf).check()
        if drop is not None:
            return drop
        _, _, _, _, op, sha, spa, tha, tpa = _PACKET.unpack_from(buf)
        return cls(op, sha, spa, tha, tpa)

    def encode(self) -> bytes:
        return _PACKET.pack(
            HTYPE_ETHERNET, PTYPE_IPV4, 6, 4, self.opcode, self.sender_mac, self.sender_ip, self.target_mac, self.target_ip
        )

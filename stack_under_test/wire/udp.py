"""UDP (RFC 768): a view and a header record; the checksum covers the pseudo-header of either family."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U16
from stack_under_test.wire.checksum import ones_sum, pseudo_header_sum
from stack_under_test.wire.numbers import PROTO_UDP

HEADER_LEN: Final = 8  # RFC 768
_HEADER = struct.Struct("!HHHH")


class UDPView:
    """Typed view over a UDP datagram. Accessors are safe once check() returns None."""

    __slots__ = ("buf",)

    def __init__(self, buf: memoryview | bytes) -> None:
        self.buf = buf

    src_port, dst_port = U16(0), U16(2)
    length, checksum = U16(4), U16(6)

    def check(self) -> Drop | None:
        if len(self.buf) < HEADER_LEN:
            return Drop.UDP_TRUNCATED
        # RFC 768: "Length is the length in octets of this user datagram including this header
        # and the data"; more octets than the IP payload holds is an error, fewer is trailing junk.
        if not HEADER_LEN <= self.length <= len(self.buf):
            return Drop.UDP_BAD_LENGTH
        return None

    def data(self) -> memoryview:
        return memoryview(self.buf)[HEADER_LEN : self.length]

    def checksum_ok(self, src: bytes, dst: bytes) -> bool:
        """Verify against the pseudo-header of ``src``/``dst`` (4 or 16 octets). A zero field means
        "no checksum" only over IPv4; callers decide that (RFC 768, RFC 8200 8.1)."""
        length = self.length
        return ones_sum(self.buf[:length], pseudo_header_sum(src, dst, PROTO_UDP, length)) == 0xFFFF


def encode_datagram(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    """A whole datagram with its checksum; RFC 768: "If the computed checksum is zero, it is
    transmitted as all ones"."""
    length = HEADER_LEN + len(data)
    raw = _HEADER.pack(sport, dport, length, 0) + data
    csum = ~ones_sum(raw, pseudo_header_sum(src, dst, PROTO_UDP, length)) & 0xFFFF
    return raw[:6] + (csum or 0xFFFF).to_bytes(2, "big") + raw[8:]


@dataclass(frozen=True, slots=True)
class UDPHeader:
    src_port: int
    dst_port: int
    length: int
    checksum: int

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        view = UDPView(buf)
        drop = view.check()
        if drop is not None:
            return drop
        return cls(*_HEADER.unpack_from(buf))

    def encode(self) -> bytes:
        return _HEADER.pack(self.src_port, self.dst_port, self.length, self.checksum)

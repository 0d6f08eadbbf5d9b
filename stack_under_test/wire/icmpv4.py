"""ICMP for IPv4 (RFC 792): the common header, echo messages and error messages."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16, U32
from stack_under_test.wire.checksum import with_checksum

HEADER_LEN: Final = 8
TYPE_ECHO_REPLY: Final = 0
TYPE_ECHO_REQUEST: Final = 8
TYPE_TIMESTAMP_REQUEST: Final = 13
TYPE_TIMESTAMP_REPLY: Final = 14
TIMESTAMP_LEN: Final = 20  # RFC 792: header, identifier, sequence, three 32-bit timestamps
_HEADER = struct.Struct("!BBHHH")
_ERROR = struct.Struct("!BBHI")
_pack_type_code_csum = struct.Struct("!BBH").pack
# Bound once: looking int.from_bytes up on every call costs about half as much as the sum itself.
_from_bytes = int.from_bytes


def valid_checksum(icmp: bytes | memoryview) -> bool:
    """RFC 792: "The checksum is the 16-bit ones's complement of the one's complement sum of the
    ICMP message starting with the ICMP Type"; the message with its checksum sums to 0xFFFF."""
    n = _from_bytes(icmp, "big")
    if len(icmp) & 1:
        n <<= 8
    return n != 0 and n % 0xFFFF == 0


def echo_reply_from_request(icmp: bytes) -> bytes:
    """The Echo Reply to a validated Echo Request: RFC 792 "The data received in the echo message
    must be returned in the echo reply"; identifier and sequence stay as they are. The type
    changes (8 -> 0) and so does a non-zero code, since an Echo Reply has "Code 0" (RFC 792), so
    the checksum is updated incrementally (RFC 1624 eqn. 3): with m - m' = 0x0800 + code,
    HC' = ~(~HC + ~m + m') = HC + 0x0800 + code in ones'-complement arithmetic (end-around carry),
    which never yields 0x0000, the pitfall RFC 1624 3 warns of."""
    csum = (icmp[2] << 8 | icmp[3]) + 0x0800 + icmp[1]
    return _pack_type_code_csum(TYPE_ECHO_REPLY, 0, (csum & 0xFFFF) + (csum >> 16)) + icmp[4:]


def timestamp_reply_from_request(icmp: bytes, receive: int, transmit: int) -> bytes:
    """The Timestamp Reply to a Timestamp Request (RFC 792): identifier, sequence number and the
    Originate Timestamp returned, the Receive and Transmit Timestamps filled in."""
    body = icmp[4:12] + (receive & 0xFFFFFFFF).to_bytes(4, "big") + (transmit & 0xFFFFFFFF).to_bytes(4, "big")
    return with_checksum(_pack_type_code_csum(TYPE_TIMESTAMP_REPLY, 0, 0) + body)


class ICMPv4View:
    __slots__ = ("buf",)

    def __init__(self, buf: memoryview | bytes) -> None:
        self.buf = buf

    type, code, checksum = U8(0), U8(1), U16(2)
    ident, seq, rest = U16(4), U16(6), U32(4)

    def check(self) -> Drop | None:
        if len(self.buf) < HEADER_LEN:
            return Drop.ICMPV4_TRUNCATED
        if not valid_checksum(self.buf):
            return Drop.ICMPV4_BAD_CHECKSUM
        return None

    @classmethod
    def checked(cls, buf: memoryview | bytes) -> ICMPv4View | Drop:
        """A view over ``buf`` once its length and checksum are right; else the Drop saying why."""
        view = cls(buf)
        drop = view.check()
        return view if drop is None else drop

    def body(self) -> memoryview:
        return memoryview(self.buf)[HEADER_LEN:]


@dataclass(frozen=True, slots=True)
class ICMPv4Echo:
    type: int  # 8 request, 0 reply
    ident: int
    seq: int
    data: bytes = b""
    code: int = 0

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        view = ICMPv4View.checked(buf)
        return view if isinstance(view, Drop) else cls(view.type, view.ident, view.seq, bytes(view.body()), view.code)

    def encode(self) -> bytes:
        raw = _HEADER.pack(self.type, self.code, 0, self.ident, self.seq) + self.data
        return with_checksum(raw)


@dataclass(frozen=True, slots=True)
class ICMPv4Error:
    """Destination Unreachable, Time Exceeded, Parameter Problem, ...: RFC 792 errors quote the
    invoking datagram's "Internet Header + 64 bits of Original Data Datagram"."""

    type: int
    code: int
    quoted: bytes  # the invoking datagram from its IP header on
    rest: int = 0  # second word: Parameter Problem pointer << 24, next-hop MTU (RFC 1191), ...

    @classmethod
    def parse(cls, buf: memoryview | bytes) -> Self | Drop:
        view = ICMPv4View.checked(buf)
        return view if isinstance(view, Drop) else cls(view.type, view.code, bytes(view.body()), view.rest)

    def encode(self) -> bytes:
        raw = _ERROR.pack(self.type, self.code, 0, self.rest) + self.quoted
        return with_checksum(raw)

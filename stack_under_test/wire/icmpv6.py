"""ICMPv6 (RFC 4443): the header view, message records, checksum, parse and encode.

parse() checks length and checksum and returns one message record or a Drop; it never raises.
Neighbor Discovery bodies are parsed by wire/ndp.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from stack_under_test.drops import Drop
from stack_under_test.wire._fields import U8, U16
from stack_under_test.wire.checksum import checksum, pseudo_header_sum, verify
from stack_under_test.wire.ndp import (
    NDP_TYPES,
    NeighborAdvert,
    NeighborSolicit,
    Redirect,
    RouterAdvert,
    RouterSolicit,
    parse_message,
)
from stack_under_test.wire.numbers import PROTO_ICMPV6, ICMPv6Type

HEADER_LEN: Final = 4  # RFC 4443 §2.1: Type, Code, Checksum
ECHO_HEADER_LEN: Final = 8  # RFC 4443 §4.1: + Identifier, Sequence Number
ERROR_HEADER_LEN: Final = 8  # RFC 4443 §3: + a 32-bit type-specific field

ERROR_TYPES: Final = frozenset(
    {
        ICMPv6Type.DEST_UNREACHABLE,
        ICMPv6Type.PACKET_TOO_BIG,
        ICMPv6Type.TIME_EXCEEDED,
        ICMPv6Type.PARAMETER_PROBLEM,
    }
)


def is_error_type(icmp_type: int) -> bool:
    """RFC 4443 §2.1: "error messages ... have a zero in the high-order bit of their message Type"."""
    return icmp_type < 128


class ICMPv6View:
    """Typed view over an ICMPv6 message. Accessors are safe once check() returns None."""

    __slots__ = ("buf",)

    def __init__(self, buf: memoryview) -> None:
        self.buf = buf

    type = U8(0)
    code = U8(1)
    checksum = U16(2)

    @property
    def body(self) -> memoryview:
        return self.buf[HEADER_LEN:]

    def check(self) -> Drop | None:
        if len(self.buf) < HEADER_LEN:
            return Drop.ICMPV6_TRUNCATED
        return None


def icmpv6_checksum(src: bytes, dst: bytes, message: bytes | bytearray | memoryview) -> int:
    """RFC 4443 §2.3: the checksum (src and dst packed, 16 octets each) over the RFC 8200 §8.1 pseudo-header and the message
    (whose Checksum field must be zero while computing)."""
    return checksum(message, pseudo_header_sum(src, dst, PROTO_ICMPV6, len(message)))


def checksum_ok(src: bytes, dst: bytes, message: memoryview) -> bool:
    return verify(message, pseudo_header_sum(src, dst, PROTO_ICMPV6, len(message)))


@dataclass(frozen=True, slots=True)
class _Echo:
    """The body both echo messages share (RFC 4443 §4.1, §4.2): Identifier, Sequence Number, Data."""

    ident: int
    seq: int
    data: bytes = b""
    code: int = 0

    @classmethod
    def parse(cls, code: int, body: memoryview) -> Self | Drop:
        if len(body) < ECHO_HEADER_LEN - HEADER_LEN:
            return Drop.ICMPV6_TRUNCATED
        ident, seq = struct.unpack_from("!HH", body)
        return cls(ident, seq, bytes(body[4:]), code)

    def encode(self) -> bytes:
        return struct.pack("!HH", self.ident, self.seq) + self.data


@dataclass(frozen=True, slots=True)
class EchoRequest(_Echo):  # RFC 4443 §4.1
    TYPE: ClassVar[int] = ICMPv6Type.ECHO_REQUEST


@dataclass(frozen=True, slots=True)
class EchoReply(_Echo):  # RFC 4443 §4.2
    TYPE: ClassVar[int] = ICMPv6Type.ECHO_REPLY


@dataclass(frozen=True, slots=True)
class ICMPv6Error:
    """Destination Unreachable, Packet Too Big, Time Exceeded or Parameter Problem (RFC 4443 §3).

    `param` is the 32-bit type-specific field: the MTU (§3.2), the Pointer (§3.4), else unused.
    `invoking` is the quoted part of the packet that caused the error.
    """

    type: int
    code: int
    param: int = 0
    invoking: bytes = b""

    @classmethod
    def parse(cls, icmp_type: int, code: int, body: memoryview) -> ICMPv6Error | Drop:
        if len(body) < ERROR_HEADER_LEN - HEADER_LEN:
            return Drop.ICMPV6_TRUNCATED
        return cls(icmp_type, code, struct.unpack_from("!I", body)[0], bytes(body[4:]))

    @property
    def mtu(self) -> int:
        return self.param

    @property
    def pointer(self) -> int:
        return self.param

    def encode(self) -> bytes:
        return struct.pack("!I", self.param) + self.invoking


@dataclass(frozen=True, slots=True)
class UnknownICMPv6:
    """A type we have no record for (yet): MLD, router discovery, redirect, or truly unknown."""

    type: int
    code: int
    body: bytes = b""

    def encode(self) -> bytes:
        return self.body


ICMPv6Message = (
    EchoRequest
    | EchoReply
    | ICMPv6Error
    | NeighborSolicit
    | NeighborAdvert
    | RouterSolicit
    | RouterAdvert
    | Redirect
    | UnknownICMPv6
)


def parse(buf: memoryview, src: bytes, dst: bytes) -> ICMPv6Message | Drop:
    """One ICMPv6 message (buf = the whole message) to a record, or the reason to drop it."""
    view = ICMPv6View(buf)
    drop = view.check()
    if drop is not None:
        return drop
    # RFC 4443 §2.4: validate the checksum before anything else.
    if not checksum_ok(src, dst, buf):
        return Drop.ICMPV6_BAD_CHECKSUM
    icmp_type, code, body = view.type, view.code, view.body
    if icmp_type == ICMPv6Type.ECHO_REQUEST:
        return EchoRequest.parse(code, body)
    if icmp_type == ICMPv6Type.ECHO_REPLY:
        return EchoReply.parse(code, body)
    if icmp_type in ERROR_TYPES:
        return ICMPv6Error.parse(icmp_type, code, body)
    if icmp_type in NDP_TYPES:
        # RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1: "ICMP Code is 0."
        if code != 0:
            return Drop.NDP_BAD_CODE
        return parse_message(icmp_type, body)
    return UnknownICMPv6(icmp_type, code, bytes(body))


def encode(message: ICMPv6Message, src: bytes, dst: bytes) -> bytes:
    """Type, Code, Checksum and body; the checksum covers the pseudo-header of src and dst."""
    if isinstance(message, (ICMPv6Error, UnknownICMPv6)):
        icmp_type, code = message.type, message.code
    elif isinstance(message, (EchoRequest, EchoReply)):
        icmp_type, code = message.TYPE, message.code
    else:
        icmp_type, code = message.TYPE, 0  # RFC 4861 §4: Neighbor Discovery messages carry Code 0
    raw = bytearray(bytes([icmp_type, code, 0, 0]) + message.encode())
    struct.pack_into("!H", raw, 2, icmpv6_checksum(src, dst, raw))
    return bytes(raw)

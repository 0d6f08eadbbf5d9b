"""IPv6 extension headers (RFC 8200 §4): TLV options, headers, and the chain walker.

The walker is total over bytes: every offset it reads is bounds-checked, each step moves forward
by at least 8 octets, and the number of headers is capped, so any input ends in an ExtChain, a
ParamProblem (the RFC asks for an ICMPv6 error) or a Drop (silent discard).

Offsets and pointers are counted from the first octet of the IPv6 fixed header, which is what
an ICMPv6 Parameter Problem's Pointer means (RFC 4443 §3.4: "the octet offset within the
invoking packet where the error was detected").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from stack_under_test.drops import Drop
from stack_under_test.wire.ipv6 import (
    DEST_OPTS,
    FRAGMENT,
    HEADER_LEN,
    HOP_BY_HOP,
    NEXT_HEADER_OFFSET,
    ROUTING,
)

EXTENSION_HEADERS: Final = frozenset({HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS})

# RFC 8200 leaves the chain length open; each header costs at least 8 octets, so the payload
# length already bounds the walk. The cap keeps a crafted 1500-octet chain of empty headers
# from costing ~180 steps per frame; real chains (RFC 8200 §4.1 recommended order) have < 8.
MAX_EXT_HEADERS: Final = 32

# TLV option types (RFC 8200 §4.2, RFC 2711).
OPT_PAD1: Final = 0
OPT_PADN: Final = 1
OPT_ROUTER_ALERT: Final = 5

FRAGMENT_HEADER_LEN: Final = 8  # RFC 8200 §4.5

# ICMPv6 Parameter Problem codes (RFC 4443 §3.4), kept here because the walker decides them.
PP_ERRONEOUS_HEADER: Final = 0
PP_UNRECOGNIZED_NEXT_HEADER: Final = 1
PP_UNRECOGNIZED_OPTION: Final = 2


@dataclass(frozen=True, slots=True)
class ParamProblem:
    """The packet must be discarded and answered with ICMPv6 Parameter Problem (RFC 4443 §3.4)."""

    code: int
    pointer: int
    reason: Drop
    # RFC 4443 §2.4(e.3) exception (2): Code 2 for an option type whose highest-order two
    # bits are 10 is sent even when the packet's destination was multicast.
    to_multicast: bool = False


@dataclass(frozen=True, slots=True)
class ExtHeader:
    proto: int  # which extension header this is (0, 43, 44, 60)
    offset: int  # first octet, from the start of the IPv6 header
    length: int  # octets


@dataclass(frozen=True, slots=True)
class FragmentHeader:
    """RFC 8200 §4.5. offset is in octets (the field counts 8-octet units)."""

    next_header: int
    offset: int
    more: bool
    ident: int

    @classmethod
    def parse(cls, buf: memoryview) -> FragmentHeader | Drop:
        if len(buf) < FRAGMENT_HEADER_LEN:
            return Drop.IPV6_EXT_HEADER_TRUNCATED
        next_header, _reserved, off_flags, ident = struct.unpack_from("!BBHI", buf)
        return cls(next_header, off_flags & 0xFFF8, bool(off_flags & 1), ident)

    def encode(self) -> bytes:
        return struct.pack("!BBHI", self.next_header, 0, (self.offset & 0xFFF8) | int(self.more), self.ident)


@dataclass(frozen=True, slots=True)
class ExtChain:
    """Where the walk ended: the upper-layer protocol and where its header starts."""

    headers: tuple[ExtHeader, ...]
    upper_proto: int  # first Next Header value that is not an extension header (59 = none)
    upper_offset: int  # first octet of the upper-layer header
    upper_proto_pointer: int  # octet of the Next Header field that named upper_proto
    fragment: FragmentHeader | None = None  # the walk stops at a Fragment header
    router_alert: int | None = None  # RFC 2711 value, when the Hop-by-Hop header carries one


def walk(packet: memoryview, dst_is_multicast: bool = False) -> ExtChain | ParamProblem | Drop:
    """Walk the extension headers of `packet` (fixed header first, trimmed to Payload Length)."""
    if len(packet) < HEADER_LEN:
        return Drop.IPV6_TRUNCATED
    proto = packet[NEXT_HEADER_OFFSET]
    pointer = NEXT_HEADER_OFFSET
    offset = HEADER_LEN
    headers: list[ExtHeader] = []
    router_alert: int | None = None
    end = len(packet)
    while proto in EXTENSION_HEADERS:
        if len(headers) >= MAX_EXT_HEADERS:
            return Drop.IPV6_TOO_MANY_EXT_HEADERS
        # RFC 8200 §4.1: "The Hop-by-Hop Options header ... is restricted to appear
        # immediately after an IPv6 header only." Elsewhere it is an unrecognized Next Header
        # (Linux answers Parameter Problem code 1 pointing at the field that named it).
        if proto == HOP_BY_HOP and offset != HEADER_LEN:
            return ParamProblem(PP_UNRECOGNIZED_NEXT_HEADER, pointer, Drop.IPV6_HOP_BY_HOP_NOT_FIRST)
        if proto == FRAGMENT:
            frag = FragmentHeader.parse(packet[offset:end])
            if isinstance(frag, Drop):
                return frag
            headers.append(ExtHeader(proto, offset, FRAGMENT_HEADER_LEN))
            return ExtChain(
                tuple(headers),
                frag.next_header,
                offset + FRAGMENT_HEADER_LEN,
                offset,
                frag,
                router_alert,
            )
        if end - offset < 2:
            return Drop.IPV6_EXT_HEADER_TRUNCATED
        length = (packet[offset + 1] + 1) * 8  # RFC 8200 §4.3: "in 8-octet units, not including the first 8"
        if offset + length > end:
            return Drop.IPV6_EXT_HEADER_TRUNCATED
        if proto == ROUTING:
            # RFC 8200 §4.4: "If Segments Left is zero, the node must ignore the Routing header
            # and proceed to process the next header". We implement no Routing Type (RFC 5095
            # §3 makes Type 0 unrecognized too), so a non-zero Segments Left is:
            # "discard the packet and send an ICMP Parameter Problem, Code 0, message to the
            # packet's Source Address, pointing to the unrecognized Routing Type."
            if packet[offset + 3] != 0:
                return ParamProblem(PP_ERRONEOUS_HEADER, offset + 2, Drop.IPV6_ROUTING_TYPE_UNRECOGNIZED)
        else:
            verdict = _walk_options(packet, offset, length, proto == HOP_BY_HOP, dst_is_multicast)
            if isinstance(verdict, (ParamProblem, Drop)):
                return verdict
            if verdict is not None:
                router_alert = verdict
        headers.append(ExtHeader(proto, offset, length))
        pointer = offset  # the Next Header field is each extension header's first octet
        proto = packet[offset]
        offset += length
    return ExtChain(tuple(headers), proto, offset, pointer, None, router_alert)


def _walk_options(
    packet: memoryview, start: int, length: int, hop_by_hop: bool, dst_is_multicast: bool
) -> int | ParamProblem | Drop | None:
    """Walk the TLVs of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2).

    Returns the Router Alert value when present, None when the options were all acceptable.
    """
    router_alert: int | None = None
    i = start + 2
    end = start + length
    while i < end:
        opt_type = packet[i]
        if opt_type == OPT_PAD1:
            i += 1
            continue
        if i + 2 > end or i + 2 + packet[i + 1] > end:
            return Drop.IPV6_OPTION_TRUNCATED
        opt_len = packet[i + 1]
        if opt_type == OPT_PADN:
            pass
        elif hop_by_hop and opt_type == OPT_ROUTER_ALERT:
            if opt_len != 2:  # RFC 2711 §2.1: "Opt Data Len = 2"
                return Drop.IPV6_OPTION_TRUNCATED
            router_alert = (packet[i + 2] << 8) | packet[i + 3]
        else:
            # RFC 8200 §4.2: the highest-order two bits of an unrecognized option's type say
            # what to do; 00 = "skip over this option and continue processing the header".
            action = opt_type >> 6
            if action == 1:  # 01: "discard the packet."
                return Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
            if action == 2:  # 10: "... send an ICMP Parameter Problem, Code 2 ... regardless of
                # whether or not the packet's Destination Address was a multicast address"
                return ParamProblem(PP_UNRECOGNIZED_OPTION, i, Drop.IPV6_UNRECOGNIZED_OPTION, to_multicast=True)
            if action == 3:  # 11: "... only if the packet's Destination Address was not a multicast address"
                if dst_is_multicast:
                    return Drop.IPV6_UNRECOGNIZED_OPTION_DISCARD
                return ParamProblem(PP_UNRECOGNIZED_OPTION, i, Drop.IPV6_UNRECOGNIZED_OPTION)
        i += 2 + opt_len
    return router_alert


# ---- encoders (used by the stack's own senders and by tests) --------------------------------


def option(opt_type: int, data: bytes = b"") -> bytes:
    """One TLV option; Pad1 is the single octet 0."""
    if opt_type == OPT_PAD1:
        return b"\x00"
    return bytes([opt_type, len(data)]) + data


def pad(n: int) -> bytes:
    """Padding of exactly n octets: Pad1 for one, PadN otherwise (RFC 8200 §4.2)."""
    if n <= 0:
        return b""
    if n == 1:
        return b"\x00"
    return option(OPT_PADN, bytes(n - 2))


def options_header(next_header: int, options: bytes) -> bytes:
    """A Hop-by-Hop or Destination Options header, padded to a multiple of 8 octets."""
    body_len = 2 + len(options)
    padded = (body_len + 7) // 8 * 8
    return bytes([next_header, padded // 8 - 1]) + options + pad(padded - body_len)


def routing_header(next_header: int, routing_type: int, segments_left: int, data: bytes = bytes(4)) -> bytes:
    """A Routing header; `data` follows Segments Left and is zero-padded to 8-octet units."""
    body = bytes([routing_type, segments_left]) + data
    total = (2 + len(body) + 7) // 8 * 8
    return bytes([next_header, total // 8 - 1]) + body + bytes(total - 2 - len(body))


def upper_layer(packet: memoryview) -> tuple[int, int | None]:
    """The upper-layer protocol of a (possibly truncated, quoted) packet and its header offset.

    A lenient skip like Linux's ipv6_skip_exthdr(): headers are stepped over by their length
    without judging their options. The offset is None when the header lies past the data or in
    a later fragment (RFC 8200 §4.5: only the first fragment carries it).
    """
    if len(packet) < HEADER_LEN:
        return -1, None
    proto = packet[NEXT_HEADER_OFFSET]
    offset = HEADER_LEN
    for _ in range(MAX_EXT_HEADERS):
        if proto not in EXTENSION_HEADERS:
            return proto, offset
        if proto == FRAGMENT:
            frag = FragmentHeader.parse(packet[offset:])
            if isinstance(frag, Drop):
                return proto, None
            if frag.offset != 0:
                return frag.next_header, None
            proto, offset = frag.next_header, offset + FRAGMENT_HEADER_LEN
            continue
        if len(packet) - offset < 2:
            return proto, None
        proto, offset = packet[offset], offset + (packet[offset + 1] + 1) * 8
    return proto, None

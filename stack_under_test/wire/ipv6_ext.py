"""IPv6 extension headers (RFC 8200 §4): headers and the chain walker (options: ipv6_options.py).

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
from stack_under_test.wire.ipv6 import HEADER_LEN, NEXT_HEADER_OFFSET
from stack_under_test.wire.ipv6_options import (
    DEFAULT_LIMITS,
    OPT_PAD1,
    OPT_PADN,
    OPT_ROUTER_ALERT,
    PP_ERRONEOUS_HEADER,
    PP_UNRECOGNIZED_NEXT_HEADER,
    PP_UNRECOGNIZED_OPTION,
    OptionLimits,
    OptionsResult,
    ParamProblem,
    option,
    options_header,
    pad,
    walk_options,
)
from stack_under_test.wire.numbers import (
    PROTO_AH,
    PROTO_DEST_OPTS,
    PROTO_FRAGMENT,
    PROTO_HOP_BY_HOP,
    PROTO_ROUTING,
)

__all__ = [
    "OPT_PAD1",
    "OPT_PADN",
    "OPT_ROUTER_ALERT",
    "PP_ERRONEOUS_HEADER",
    "PP_UNRECOGNIZED_NEXT_HEADER",
    "PP_UNRECOGNIZED_OPTION",
    "ExtChain",
    "ExtHeader",
    "FragmentHeader",
    "OptionLimits",
    "ParamProblem",
    "is_fragment",
    "option",
    "options_header",
    "pad",
    "reassembled",
    "routing_header",
    "skip_headers",
    "upper_layer",
    "walk",
]

EXTENSION_HEADERS: Final = frozenset({PROTO_HOP_BY_HOP, PROTO_ROUTING, PROTO_FRAGMENT, PROTO_DEST_OPTS})

# RFC 8200 leaves the chain length open (RFC 8504 §5.3 lets a host limit it); each header costs
# at least 8 octets, so the payload length already bounds the walk. The caps keep a crafted
# chain (a reassembled 64 KiB one above all) from costing thousands of steps per packet; real
# chains (RFC 8200 §4.1 recommended order) have fewer than 8 headers and a few hundred octets.
MAX_EXT_HEADERS: Final = 32
MAX_EXT_CHAIN_LEN: Final = 2048  # octets of extension headers, the fixed header not counted

FRAGMENT_HEADER_LEN: Final = 8  # RFC 8200 §4.5
PAYLOAD_LENGTH_OFFSET: Final = 4  # RFC 2675 §3 points at its high-order octet


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


def walk(
    packet: memoryview, dst_is_multicast: bool = False, hop_by_hop_only: bool = False,
    hop_by_hop_limits: OptionLimits = DEFAULT_LIMITS, destination_limits: OptionLimits = DEFAULT_LIMITS,
) -> ExtChain | ParamProblem | Drop:
    """Walk the extension headers of `packet` (fixed header first, trimmed to Payload Length).

    A packet whose Payload Length is 0 with a Hop-by-Hop header (a jumbogram candidate,
    RFC 2675) is passed untrimmed: the Jumbo Payload option then decides its length.
    ``hop_by_hop_only``: a forwarder's view (RFC 8200 §4: "extension headers are not processed,
    inserted, or deleted by any node along a packet's delivery path" except Hop-by-Hop).
    """
    if len(packet) < HEADER_LEN:
        return Drop.IPV6_TRUNCATED
    proto = packet[NEXT_HEADER_OFFSET]
    pointer = NEXT_HEADER_OFFSET
    offset = HEADER_LEN
    headers: list[ExtHeader] = []
    router_alert: int | None = None
    jumbo: int | None = None
    end = len(packet)
    zero_length = packet[PAYLOAD_LENGTH_OFFSET] == 0 and packet[PAYLOAD_LENGTH_OFFSET + 1] == 0
    while proto in EXTENSION_HEADERS:
        if hop_by_hop_only and (proto != PROTO_HOP_BY_HOP or headers):
            break
        if len(headers) >= MAX_EXT_HEADERS:
            return Drop.IPV6_TOO_MANY_EXT_HEADERS
        # RFC 8200 §4.1: "The Hop-by-Hop Options header ... is restricted to appear
        # immediately after an IPv6 header only." Elsewhere it is an unrecognized Next Header
        # (Linux answers Parameter Problem code 1 pointing at the field that named it).
        if proto == PROTO_HOP_BY_HOP and offset != HEADER_LEN:
            return ParamProblem(PP_UNRECOGNIZED_NEXT_HEADER, pointer, Drop.IPV6_HOP_BY_HOP_NOT_FIRST)
        if proto == PROTO_FRAGMENT:
            if jumbo is not None:
                # RFC 2675 §3: "error: Jumbo Payload option present and Fragment header present
                # ... Code: 0 Pointer: high-order octet of the Fragment header".
                return ParamProblem(PP_ERRONEOUS_HEADER, offset, Drop.IPV6_JUMBO_WITH_FRAGMENT)
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
        if offset + length - HEADER_LEN > MAX_EXT_CHAIN_LEN:
            return Drop.IPV6_EXT_CHAIN_TOO_LONG
        if proto == PROTO_ROUTING:
            # RFC 8200 §4.4: "If Segments Left is zero, the node must ignore the Routing header
            # and proceed to process the next header". We implement no Routing Type (RFC 5095
            # §3 makes Type 0 unrecognized too), so a non-zero Segments Left is:
            # "discard the packet and send an ICMP Parameter Problem, Code 0, message to the
            # packet's Source Address, pointing to the unrecognized Routing Type."
            if length < 4:
                return Drop.IPV6_EXT_HEADER_TRUNCATED
            if packet[offset + 3] != 0:
                return ParamProblem(PP_ERRONEOUS_HEADER, offset + 2, Drop.IPV6_ROUTING_TYPE_UNRECOGNIZED)
        else:
            hop_by_hop = proto == PROTO_HOP_BY_HOP
            limits = hop_by_hop_limits if hop_by_hop else destination_limits
            verdict = walk_options(packet, offset, length, hop_by_hop, dst_is_multicast, limits)
            if not isinstance(verdict, OptionsResult):
                return verdict
            if verdict.router_alert is not None:
                router_alert = verdict.router_alert
            if verdict.jumbo_offset is not None:
                jumbo = verdict.jumbo_offset
            if proto == PROTO_HOP_BY_HOP and zero_length and jumbo is None:
                # RFC 2675 §3: "error: IPv6 Payload Length = 0 and IPv6 Next Header = Hop-by-Hop
                # Options and Jumbo Payload option not present ... Code: 0 Pointer: high-order
                # octet of the IPv6 Payload Length".
                return ParamProblem(PP_ERRONEOUS_HEADER, PAYLOAD_LENGTH_OFFSET, Drop.IPV6_ZERO_PAYLOAD_LENGTH)
        headers.append(ExtHeader(proto, offset, length))
        pointer = offset  # the Next Header field is each extension header's first octet
        proto = packet[offset]
        offset += length
    if jumbo is not None:
        # A well-formed jumbogram: its Jumbo Payload Length (> 65535) is longer than any frame of
        # the links we run on (RFC 2675 §1: only for links with an MTU above 65,575 octets).
        return Drop.IPV6_JUMBOGRAM_NOT_SUPPORTED
    return ExtChain(tuple(headers), proto, offset, pointer, None, router_alert)


def routing_header(next_header: int, routing_type: int, segments_left: int, data: bytes = bytes(4)) -> bytes:
    """A Routing header; `data` follows Segments Left and is zero-padded to 8-octet units."""
    body = bytes([routing_type, segments_left]) + data
    total = (2 + len(body) + 7) // 8 * 8
    return bytes([next_header, total // 8 - 1]) + body + bytes(total - 2 - len(body))


# A lenient skip steps over these by their length: the extension headers but Fragment, and the
# Authentication Header, whose Payload Len counts 4-octet units less 2 (RFC 4302 2.2).
_SKIPPED: Final = frozenset({PROTO_HOP_BY_HOP, PROTO_ROUTING, PROTO_DEST_OPTS, PROTO_AH})


def skip_headers(packet: memoryview, offset: int, proto: int) -> tuple[int, int | None]:
    """Step over the headers from one of type ``proto`` at ``offset`` by their lengths, without
    judging them, as Linux's ipv6_skip_exthdr(): the first protocol that is not stepped over (a
    Fragment header stops the skip too) and its offset; the offset is None when a header runs
    past the data or there are more than MAX_EXT_HEADERS."""
    end = len(packet)
    for _ in range(MAX_EXT_HEADERS):
        if proto not in _SKIPPED:
            return proto, offset
        if offset + 2 > end:
            return proto, None
        units = packet[offset + 1]
        proto, offset = packet[offset], offset + ((units + 2) * 4 if proto == PROTO_AH else (units + 1) * 8)
    return proto, None


def upper_layer(packet: memoryview) -> tuple[int, int | None]:
    """The upper-layer protocol of a (possibly truncated, quoted) packet and its header offset.

    The offset is None when the header lies past the data or in a later fragment (RFC 8200 §4.5:
    only the first fragment carries it); it may lie past the end of truncated data.
    """
    if len(packet) < HEADER_LEN:
        return -1, None
    proto, offset = skip_headers(packet, HEADER_LEN, packet[NEXT_HEADER_OFFSET])
    if offset is not None and proto == PROTO_FRAGMENT:
        frag = FragmentHeader.parse(packet[offset:])
        if isinstance(frag, Drop):
            return proto, None
        if frag.offset != 0:
            return frag.next_header, None
        proto, offset = skip_headers(packet, offset + FRAGMENT_HEADER_LEN, frag.next_header)
    return proto, offset


def is_fragment(packet: memoryview) -> bool:
    """Whether a (possibly truncated, quoted) packet carries a Fragment header (lenient skip)."""
    if len(packet) < HEADER_LEN:
        return False
    proto, offset = skip_headers(packet, HEADER_LEN, packet[NEXT_HEADER_OFFSET])
    return proto == PROTO_FRAGMENT and offset is not None


def reassembled(unfragmentable: bytes, named_by: int, next_header: int, payload: bytes) -> bytes:
    """RFC 8200 4.5: the packet rebuilt from the first fragment's Unfragmentable Part (its Fragment
    header taken off) and the reassembled ``payload``: "the Next Header field of the last header of
    the Unfragmentable Part is obtained from the Next Header field of the first fragment's Fragment
    header" (at ``named_by``), and the Payload Length covers what follows the fixed header."""
    packet = bytearray(unfragmentable)
    payload_length = len(unfragmentable) - HEADER_LEN + len(payload)
    packet[PAYLOAD_LENGTH_OFFSET : PAYLOAD_LENGTH_OFFSET + 2] = payload_length.to_bytes(2, "big")
    packet[named_by] = next_header
    return bytes(packet) + payload

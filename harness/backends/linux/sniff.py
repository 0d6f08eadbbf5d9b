"""What the tester sent, read back for the linux backend's reset (Scapy, harness side only):
which ICMPv6 message a frame carries (an MLD Query or a Router Advertisement leaves state only a
link flap clears), whether it is an IGMP Query (an IGMPv1/v2 one leaves state not even a flap
clears).
"""

from __future__ import annotations

import socket
from typing import Final

from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

ETHER_HEADER_LEN: Final = 14

# Extension headers that may stand between the IPv6 header and an ICMPv6 message.
_BEFORE_ICMPV6: Final = (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt)


def _after_ipv6_headers(frame: bytes, skip: tuple[type[Packet], ...]) -> tuple[int, Packet] | None:
    """The Next Header value and the layer after an Ethernet/IPv6 frame's leading ``skip``
    extension headers, as Scapy dissects them; None for any other frame."""
    if len(frame) < ETHER_HEADER_LEN:
        return None  # Scapy cannot dissect a truncated Ethernet header at all
    ipv6 = Ether(frame).payload
    if not isinstance(ipv6, IPv6):
        return None
    next_header, layer = int(ipv6.nh), ipv6.payload
    while isinstance(layer, skip):
        next_header, layer = int(layer.nh), layer.payload
    return next_header, layer


def _icmpv6_type(frame: bytes) -> int | None:
    """The ICMPv6 type of an Ethernet/IPv6 frame (after Hop-by-Hop/Destination options), else None."""
    after = _after_ipv6_headers(frame, _BEFORE_ICMPV6)
    if after is None or after[0] != socket.IPPROTO_ICMPV6 or not bytes(after[1]):
        return None
    return bytes(after[1])[0]


_IGMP_QUERY: Final = 0x11


def is_igmp_query(frame: bytes) -> bool:
    """Whether an Ethernet/IPv4 frame carries an IGMP Membership Query (RFC 3376 §4.1, any
    version), read from the octets: cut or damaged frames are simply not queries."""
    if len(frame) < ETHER_HEADER_LEN + 20 or frame[12:14] != b"\x08\x00" or frame[ETHER_HEADER_LEN + 9] != 2:
        return False
    at = ETHER_HEADER_LEN + (frame[ETHER_HEADER_LEN] & 0x0F) * 4
    return len(frame) > at and frame[at] == _IGMP_QUERY

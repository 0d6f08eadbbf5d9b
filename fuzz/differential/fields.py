"""Which field of the invoking packet a Parameter Problem pointer points at.

Two DUTs that both answer a malformed packet with a Parameter Problem agree only if they point
at the same octet (RFC 792: "the pointer identifies the octet of the original datagram's header
where the error was detected"; RFC 4443 3.4: "identifies the octet offset within the invoking
packet where the error was detected"). Written as an offset, the pointer depends on where the
field happens to sit in this stimulus; written as a field name (``ipv4.opt(68).ptr``,
``hbh.opt(0x9e).type``, ``rh.segleft``), it is the same for every stimulus with the same fault,
which is what lets the fuzzer count one behaviour once. Layers and option lists are Scapy's
dissection of the invoking packet.
"""

from __future__ import annotations

from typing import Final

from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.packet import Packet, Raw

IPV4_HEADER: Final = {0: "ver/ihl", 1: "tos", 2: "len", 3: "len", 4: "id", 5: "id", 6: "flags/frag",
                      7: "flags/frag", 8: "ttl", 9: "proto", 10: "chksum", 11: "chksum"}
IPV6_HEADER: Final = {0: "ver/tc", 1: "tc/fl", 2: "fl", 3: "fl", 4: "plen", 5: "plen", 6: "nh", 7: "hlim"}
_EXTENSION: Final[dict[type[Packet], tuple[str, dict[int, str]]]] = {
    IPv6ExtHdrHopByHop: ("hbh", {0: "nh", 1: "len"}),
    IPv6ExtHdrDestOpt: ("dst", {0: "nh", 1: "len"}),
    IPv6ExtHdrRouting: ("rh", {0: "nh", 1: "len", 2: "type", 3: "segleft"}),
    IPv6ExtHdrFragment: ("frag", {0: "nh", 1: "reserved", 2: "offset", 3: "offset/m"}),
}
# IPv4's route and timestamp options carry a pointer as their third octet (RFC 791 3.1).
_OPTION_PART: Final = {0: "type", 1: "len", 2: "ptr"}


def field_at(l3: bytes, offset: int) -> str:
    """The name of the field at ``offset`` octets into the IP packet ``l3``; never raises."""
    if offset < 0 or offset >= len(l3):
        return "beyond-packet"
    version = l3[0] >> 4
    try:
        if version == 4 and len(l3) >= 20:
            return _ipv4_field(l3, offset)
        if version == 6:
            return _ipv6_field(IPv6(l3), offset, len(l3))
    except Exception:  # a packet Scapy cannot dissect still has an offset
        pass
    return f"octet-{offset}"


def _ipv4_field(l3: bytes, offset: int) -> str:
    if offset < 12:
        return f"ipv4.{IPV4_HEADER[offset]}"
    if offset < 20:
        return "ipv4.src" if offset < 16 else "ipv4.dst"
    ihl = (l3[0] & 0x0F) * 4
    if offset >= ihl:
        return "ipv4.payload"
    # RFC 791 3.1: EOL and NOP are one octet, every other option is type, length, data. Walked
    # here rather than read from Scapy, whose option parser gives up on the malformed lists a
    # Parameter Problem is usually about.
    at = 20
    while at < ihl:
        kind = l3[at]
        size = 1 if kind in (0, 1) else (l3[at + 1] if at + 1 < ihl else 1)
        if offset < at + max(size, 2 if kind > 1 else 1):
            part = _OPTION_PART.get(offset - at, "data") if kind > 1 else "type"
            return f"ipv4.opt({kind:#04x}).{part}"
        if kind == 0 or size < 2 and kind > 1:
            return "ipv4.opt-area"
        at += size
    return "ipv4.opt-area"


def _option_part(options: list[Packet], rel: int, *, pointer: bool) -> str:
    at = 0
    for opt in options:
        size = len(bytes(opt))
        if rel < at + size:
            kind = _option_type(opt)
            part = _OPTION_PART.get(rel - at, "data") if size > 1 else "type"
            part = "data" if part == "ptr" and not pointer else part
            return f"opt({kind:#04x}).{part}"
        at += size
    return "opt-area"


def _option_type(opt: Packet) -> int:
    """The Option Type octet: IPv6 TLVs name it ``otype``; Scapy splits IPv4's into three fields."""
    if "otype" in opt.fields or hasattr(opt, "otype"):
        return int(opt.otype)
    return int(opt.copy_flag) << 7 | int(opt.optclass) << 5 | int(opt.option)


def _ipv6_field(ip: Packet, offset: int, total: int) -> str:
    if offset < 8:
        return f"ipv6.{IPV6_HEADER[offset]}"
    if offset < 40:
        return "ipv6.src" if offset < 24 else "ipv6.dst"
    layer = ip.payload
    while isinstance(layer, Packet) and not isinstance(layer, Raw) and len(bytes(layer)):
        start = total - len(bytes(layer))
        size = len(bytes(layer)) - len(bytes(layer.payload))
        if start <= offset < start + size:
            return _layer_field(layer, offset - start)
        layer = layer.payload
    return "upper-layer"


def _layer_field(layer: Packet, rel: int) -> str:
    known = _EXTENSION.get(type(layer))
    if known is None:
        return f"{type(layer).__name__.lower()}+{min(rel, 4)}"
    name, fixed = known
    if rel in fixed:
        return f"{name}.{fixed[rel]}"
    if type(layer) in (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt):
        return f"{name}." + _option_part(list(layer.options), rel - 2, pointer=False)
    return f"{name}.data"

"""Which field of the invoking packet a Parameter Problem pointer points at.

Two DUTs that both answer a malformed packet with a Parameter Problem agree only if they point
at the same octet (RFC 792: "the pointer identifies the octet of the original datagram's header
where the error was detected"; RFC 4443 3.4: "identifies the octet offset within the invoking
packet where the error was detected"). Written as an offset, the pointer depends on where the
field happens to sit in this stimulus; written as a field name (``ipv4.opt(68).ptr``,
``hbh.opt(0x9e).type``, ``rh.segleft``), it is the same for every stimulus with the same fault,
which is what lets the fuzzer count one behaviour once. The header chain and the option lists
are walked here by their length fields, as a receiver walks them, rather than read from Scapy,
whose dissection of the malformed packets a Parameter Problem is about gives up or guesses.
"""

from __future__ import annotations

from typing import Final

IPV4_HEADER: Final = {0: "ver/ihl", 1: "tos", 2: "len", 3: "len", 4: "id", 5: "id", 6: "flags/frag",
                      7: "flags/frag", 8: "ttl", 9: "proto", 10: "chksum", 11: "chksum"}
IPV6_HEADER: Final = {0: "ver/tc", 1: "tc/fl", 2: "fl", 3: "fl", 4: "plen", 5: "plen", 6: "nh", 7: "hlim"}
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
        if version == 6 and len(l3) >= 40:
            return _ipv6_field(l3, offset)
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
        if kind == 0 or (size < 2 and kind > 1):
            return "ipv4.opt-area"
        at += size
    return "ipv4.opt-area"


def _ipv6_field(l3: bytes, offset: int) -> str:
    """RFC 8200 4: the chain read by Next Header and Hdr Ext Len, as a receiver reads it."""
    if offset < 8:
        return f"ipv6.{IPV6_HEADER[offset]}"
    if offset < 40:
        return "ipv6.src" if offset < 24 else "ipv6.dst"
    nh, at = l3[6], 40
    while nh in _EXTENSIONS and at + 2 <= len(l3):
        name, fixed = _EXTENSIONS[nh]
        size = 8 if nh == 44 else (l3[at + 1] + 2) * 4 if nh == 51 else (l3[at + 1] + 1) * 8
        if offset < at + size:
            rel = offset - at
            if rel in fixed:
                return f"{name}.{fixed[rel]}"
            if nh in (0, 60):
                return f"{name}." + _tlv_part(l3[at + 2 : at + size], rel - 2)
            return f"{name}.data"
        nh, at = l3[at], at + size
    upper = _UPPER.get(nh, (f"nh{nh}", {}))
    return f"{upper[0]}.{upper[1].get(offset - at, 'body')}"


# RFC 8200 4.3-4.6 (and RFC 4302 for AH): the fixed fields of each extension header.
_EXTENSIONS: Final[dict[int, tuple[str, dict[int, str]]]] = {
    0: ("hbh", {0: "nh", 1: "len"}),
    60: ("dst", {0: "nh", 1: "len"}),
    43: ("rh", {0: "nh", 1: "len", 2: "type", 3: "segleft"}),
    44: ("frag", {0: "nh", 1: "reserved", 2: "offset", 3: "offset/m"}),
    51: ("ah", {0: "nh", 1: "len"}),
}
_UPPER: Final[dict[int, tuple[str, dict[int, str]]]] = {
    58: ("icmpv6", {0: "type", 1: "code", 2: "cksum", 3: "cksum"}),
    17: ("udp", {0: "sport", 1: "sport", 2: "dport", 3: "dport", 4: "len", 5: "len", 6: "cksum", 7: "cksum"}),
}


def _tlv_part(options: bytes, rel: int) -> str:
    """RFC 8200 4.2: Pad1 is one octet, every other option is type, length, data."""
    at = 0
    while at < len(options):
        kind = options[at]
        size = 1 if kind == 0 else (options[at + 1] + 2 if at + 1 < len(options) else 1)
        if rel < at + size:
            return f"opt({kind:#04x}).{'type' if rel == at else 'len' if rel == at + 1 else 'data'}"
        at += size
    return "opt-area"

"""Scapy frame helpers for conformance tests: fragmenting by plan, IPv4 options spliced in as
given, multicast addresses, ICMP quotes.

The fragmenters work on bytes, not Scapy's ``fragment()``/``fragment6()``, so a test can ask for
any plan, including the overlapping, duplicate, truncated or out-of-order pieces that the
reassembly RFCs are about. Each result is dissected once and keeps its exact bytes
(Scapy's raw cache), so ``dut.send(*frags)`` puts precisely the planned bytes on the wire.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6PacketTooBig,
    ICMPv6ParamProblem,
    ICMPv6TimeExceeded,
    IPv6,
    in6_chksum,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Padding
from scapy.utils import checksum
from scapy.utils6 import in6_mactoifaceid

if TYPE_CHECKING:
    pass

# (offset, length) or (offset, length, more_fragments): octets of the L3 payload.
Piece = tuple[int, int] | tuple[int, int, bool]

DEFAULT_IDENT6: Final = 0x5C0FF1CE
FRAGMENT_HEADER: Final = 44
# RFC 8200 §4.5: the Per-Fragment headers are the IPv6 header "plus any extension headers that
# must be processed by nodes en route to the destination, that is, all headers up to and
# including the Routing header if present, else the Hop-by-Hop Options header if present".
_HOP_BY_HOP, _ROUTING, _DEST_OPTS = 0, 43, 60
_ICMPV4_ERRORS: Final = frozenset({3, 4, 5, 11, 12})
_ICMPV6_ERRORS: Final = (ICMPv6DestUnreach, ICMPv6PacketTooBig, ICMPv6TimeExceeded, ICMPv6ParamProblem)


def fragments4(
    pkt: Packet,
    pieces: Sequence[Piece] | None = None,
    *,
    size: int | None = None,
    ident: int | None = None,
) -> list[Packet]:
    """Split the IPv4 payload of ``pkt`` (``Ether()/IP()/...`` or ``IP()/...``) into fragments.

    ``pieces`` lists (offset, length[, more]) in octets of the IP payload, sent in that order;
    they may overlap, repeat or leave holes. Offsets must be multiples of 8 (the Fragment Offset
    unit). ``more`` (the MF flag) defaults to "this piece ends before the payload does".
    ``size=N`` instead cuts the payload into N-octet pieces in order (N a multiple of 8).
    ``ident`` defaults to the packet's IP id. DF and the other header fields are kept; the
    first fragment (offset 0) carries all options, later ones only those with the copied flag
    (RFC 791 §3.2 "Fragmentation").
    """
    link, l3 = _split(pkt, IP)
    ihl = (l3[0] & 0x0F) * 4
    total = struct.unpack_from("!H", l3, 2)[0]
    header, payload = l3[:ihl], l3[ihl:total]
    if struct.unpack_from("!H", header, 6)[0] & 0x3FFF:
        raise ValueError("fragments4: the packet is already a fragment (MF set or offset non-zero)")
    ident = struct.unpack_from("!H", header, 4)[0] if ident is None else ident
    later_header = header[:20] + _copied_options(header[20:])
    out = []
    for off, length, more in _plan(len(payload), pieces, size):
        hdr = bytearray(header if off == 0 else later_header)
        hdr[0] = 0x40 | (len(hdr) // 4)
        flags_frag = (struct.unpack_from("!H", header, 6)[0] & 0xC000) | (0x2000 if more else 0) | (off // 8)
        struct.pack_into("!HHH", hdr, 2, len(hdr) + length, ident & 0xFFFF, flags_frag)
        struct.pack_into("!H", hdr, 10, 0)
        struct.pack_into("!H", hdr, 10, checksum(bytes(hdr)))
        out.append(_dissect(pkt, link + bytes(hdr) + payload[off : off + length]))
    return out


def fragments6(
    pkt: Packet,
    pieces: Sequence[Piece] | None = None,
    *,
    size: int | None = None,
    ident: int = DEFAULT_IDENT6,
) -> list[Packet]:
    """Split the fragmentable part of ``pkt`` (``Ether()/IPv6()/...``) into fragments.

    The unfragmentable part (IPv6 header plus Hop-by-Hop, and Destination Options + Routing
    headers before a Routing header) is repeated in each fragment with a Fragment header after
    it (RFC 8200 §4.5). ``pieces`` and ``size`` are as for ``fragments4``, counted in octets of
    the fragmentable part (what follows the Fragment header, starting with the upper-layer or
    first fragmentable extension header).
    """
    link, l3 = _split(pkt, IPv6)
    plen = struct.unpack_from("!H", l3, 4)[0]
    l3 = l3[: 40 + plen]
    nh_at, nh, pos = 6, l3[6], 40
    while nh in (_HOP_BY_HOP, _ROUTING, _DEST_OPTS) and pos + 2 <= len(l3):
        if nh == _DEST_OPTS and l3[pos] != _ROUTING:
            break  # Destination Options for the final destination are fragmentable
        nh_at, nh, pos = pos, l3[pos], pos + (l3[pos + 1] + 1) * 8
    unfrag, payload = bytearray(l3[:pos]), l3[pos:]
    unfrag[nh_at] = FRAGMENT_HEADER
    out = []
    for off, length, more in _plan(len(payload), pieces, size):
        struct.pack_into("!H", unfrag, 4, len(unfrag) - 40 + 8 + length)
        frag_header = struct.pack("!BBHI", nh, 0, off | int(more), ident & 0xFFFFFFFF)
        out.append(_dissect(pkt, link + bytes(unfrag) + frag_header + payload[off : off + length]))
    return out


def with_ipv4_options(frame: Packet, options: bytes) -> Packet:
    """``frame`` (``Ether()/IP()/...`` without IP options) with ``options`` in its IP header.

    The options are padded with End of Option List to a 4-octet multiple (RFC 791 §3.1: "The
    internet header padding is used to ensure that the internet header ends on a 32 bit
    boundary"); IHL, Total Length and the header checksum are fixed up and nothing else is
    checked, so malformed options go on the wire exactly as given.
    """
    link, l3 = _split(frame, IP)
    if (l3[0] & 0x0F) != 5:
        raise ValueError("with_ipv4_options: the packet already carries IP options")
    total = struct.unpack_from("!H", l3, 2)[0]
    options += bytes(-len(options) % 4)
    header = bytearray(l3[:20] + options)
    header[0] = 0x40 | (len(header) // 4)
    struct.pack_into("!H", header, 2, total + len(options))
    struct.pack_into("!H", header, 10, 0)
    struct.pack_into("!H", header, 10, checksum(bytes(header)))
    return _dissect(frame, link + bytes(header) + l3[20:total])


def _plan(total: int, pieces: Sequence[Piece] | None, size: int | None) -> list[tuple[int, int, bool]]:
    if (pieces is None) == (size is None):
        raise TypeError("give exactly one of pieces=[(offset, length), ...] or size=N")
    if size is not None:
        if size <= 0 or size % 8:
            raise ValueError(f"size={size}: fragment payload size must be a positive multiple of 8")
        pieces = [(o, min(size, total - o)) for o in range(0, max(total, 1), size)]
    plan = []
    for piece in pieces or ():
        off, length = piece[0], piece[1]
        more = piece[2] if len(piece) == 3 else off + length < total
        if off % 8 or off < 0:
            raise ValueError(f"piece {piece}: offset must be a non-negative multiple of 8 octets")
        if length < 0 or off + length > total:
            raise ValueError(f"piece {piece}: reaches past the {total}-octet payload")
        if off // 8 > 0x1FFF:
            raise ValueError(f"piece {piece}: offset does not fit the 13-bit Fragment Offset")
        plan.append((off, length, bool(more)))
    return plan


def _split(pkt: Packet, l3_cls: type[Packet]) -> tuple[bytes, bytes]:
    """(link-layer header bytes, L3 bytes) of a frame; the link part is b"" for a bare packet."""
    if not pkt.haslayer(l3_cls):
        raise TypeError(f"expected a packet with an {l3_cls.__name__} layer, got {pkt.summary()}")
    full = bytes(pkt)
    l3 = bytes(pkt[l3_cls])
    return full[: len(full) - len(l3)], l3


def _dissect(template: Packet, raw: bytes) -> Packet:
    return type(template)(raw)


def _copied_options(options: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(options):
        kind = options[i]
        if kind == 0:  # End of Option List
            break
        if kind == 1:  # No Operation
            i += 1
            continue
        if i + 1 >= len(options) or options[i + 1] < 2:
            break  # malformed: later fragments get no options
        length = options[i + 1]
        if kind & 0x80:  # RFC 791: "copied flag ... 1 = copied into all fragments"
            out += options[i : i + length]
        i += length
    out += bytes(-len(out) % 4)
    return bytes(out)


# ---- addresses -----------------------------------------------------------------------------


def mac_bytes(text: str) -> bytes:
    """The six octets of a MAC address written "02:00:00:00:00:01"."""
    return bytes.fromhex(text.replace(":", ""))


def solicited_node(addr: str | ipaddress.IPv6Address) -> str:
    """RFC 4291 §2.7.1 solicited-node multicast address: ff02::1:ff00:0/104 + low 24 bits."""
    low = int(ipaddress.IPv6Address(addr)) & 0xFFFFFF
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("ff02::1:ff00:0")) | low))


def eui64_interface_id(mac: str) -> int:
    """The modified EUI-64 interface identifier of ``mac`` (RFC 4291 Appendix A: FFFE in the
    middle, the universal/local bit inverted), by Scapy's in6_mactoifaceid."""
    return int(ipaddress.IPv6Address("::" + in6_mactoifaceid(mac)))


def eui64_address(prefix: ipaddress.IPv6Network, mac: str) -> ipaddress.IPv6Address:
    """The address SLAAC forms in ``prefix`` from ``mac`` with an EUI-64 interface identifier."""
    return ipaddress.IPv6Address(int(prefix.network_address) | eui64_interface_id(mac))


def multicast_mac(group: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Ethernet address of an IP multicast group: RFC 1112 §6.4 (IPv4), RFC 2464 §7 (IPv6)."""
    addr = ipaddress.ip_address(group)
    if not addr.is_multicast:
        raise ValueError(f"{addr} is not a multicast address")
    if addr.version == 4:
        low = int(addr) & 0x7FFFFF
        octets = [0x01, 0x00, 0x5E, low >> 16, (low >> 8) & 0xFF, low & 0xFF]
    else:
        octets = [0x33, 0x33, *addr.packed[12:]]
    return ":".join(f"{o:02x}" for o in octets)


# ---- ICMP errors -----------------------------------------------------------------------------


def l3_bytes(frame: Packet | bytes) -> bytes:
    """The IPv4/IPv6 datagram of a frame as it goes on the wire (no link header, no padding)."""
    pkt = frame if isinstance(frame, Packet) else Ether(frame)
    if pkt.haslayer(IP):
        raw = bytes(pkt[IP])
        return raw[: struct.unpack_from("!H", raw, 2)[0]]
    if pkt.haslayer(IPv6):
        raw = bytes(pkt[IPv6])
        return raw[: 40 + struct.unpack_from("!H", raw, 4)[0]]
    raise TypeError(f"no IP or IPv6 layer in {pkt.summary()}")


def icmp_quote(error: Packet) -> bytes:
    """The invoking-packet bytes an ICMPv4/ICMPv6 error carries after its 8-octet header."""
    layer: Packet | None = None
    if error.haslayer(ICMP) and error[ICMP].type in _ICMPV4_ERRORS:
        layer = error[ICMP]
    for cls in _ICMPV6_ERRORS:
        if layer is None and error.haslayer(cls):
            layer = error[cls]
    if layer is None:
        raise TypeError(f"not an ICMP error: {error.summary()}")
    if isinstance(layer, ICMP) and isinstance(layer.underlayer, IP):
        # From the octets on the wire: Scapy dissects more than 128 quoted octets as RFC 4884
        # extension objects, which would cut the quote short.
        ip = l3_bytes(layer.underlayer)
        return ip[(ip[0] & 0x0F) * 4 + 8 :]
    quote = bytes(layer.payload)
    pad = error.getlayer(Padding)
    if pad is not None and pad.load:
        quote = quote[: -len(pad.load)]
    return quote


def quotes(error: Packet, sent: Packet | bytes) -> bool:
    """True when the ICMP error's quote is a non-empty prefix of the datagram ``sent``."""
    quote = icmp_quote(error)
    return bool(quote) and l3_bytes(sent).startswith(quote)


# ---- shared by the NDP conformance suites (conformance/ndp/) ------------------------------------
# Invalid messages several RFC 4861 test modules forge the same way.


def with_icmpv6_checksum(msg: bytes, src: str, dst: str) -> bytes:
    """``msg``, an ICMPv6 message of any length, with its checksum over the RFC 8200 §8.1
    pseudo-header filled in (by Scapy's in6_chksum); for messages Scapy's layers cannot build,
    such as truncated or padded ones."""
    body = msg[:2] + b"\x00\x00" + msg[4:]
    return body[:2] + struct.pack("!H", in6_chksum(58, IPv6(src=src, dst=dst), body)) + body[4:]


def short_icmpv6(frame: Packet, icmp_len: int) -> bytes:
    """``frame`` (Ether/IPv6/ICMPv6, no extension headers) with the IPv6 Payload Length cut to
    ``icmp_len`` ICMP octets and the checksum computed over those only.

    The rest of the message stays in the frame as Ethernet trailer: a receiver that bounds the
    message by the IP length sees a message too short to be valid (RFC 4861 "ICMP length ... is
    N or more octets"); one that parses past it finds a complete, sensible message there.
    """
    raw = bytes(frame)
    eth, ip, icmp = raw[:14], bytearray(raw[14:54]), bytearray(raw[54:])
    struct.pack_into("!H", ip, 4, icmp_len)
    icmp[2:4] = b"\x00\x00"
    struct.pack_into("!H", icmp, 2, in6_chksum(58, IPv6(bytes(ip)), bytes(icmp[:icmp_len])))
    return eth + bytes(ip) + bytes(icmp)


def bad_checksum(frame: Packet, layer: type[Packet]) -> Packet:
    """A copy of ``frame`` whose ``layer`` checksum is the correct one with bits flipped
    (XOR 0x0F0F), so it is certainly wrong while every other octet stays valid."""
    right = Ether(bytes(frame))[layer].cksum
    bad = frame.copy()
    bad[layer].cksum = right ^ 0x0F0F
    return bad

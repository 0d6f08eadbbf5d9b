"""Structure-aware strategies for the IPv4 side of the wire: Ethernet, ARP, IPv4 with option
lists, ICMPv4, IGMP, UDP (the IPv6 side is in wire6.py; both share the helpers here).

Frames are built with struct (Scapy costs ~700 µs a packet, struct ~10 µs). Every checksum is
Scapy's RFC 1071 sum (``scapy.utils.checksum``), never the stack's, so a wrong checksum in the
stack cannot make both sides agree. Checksums are correct in most examples (``good_checksum``) and
damaged in the rest; byte-level mutation with a checksum fix-up lives in mutate.py.

Each field is drawn with ``mostly(normal, odd values)`` or ``choose``, which shrink towards the
ordinary value, so a failing example shrinks to a plain, readable packet with one odd field.
"""

from __future__ import annotations

import struct

from hypothesis import strategies as st
from scapy.utils import checksum

from fuzz.strategies._draw import ADDR4, BOOL, DATA, U16, U32, choose, index, mostly, odd
from stack_under_test.testing import DUT4, DUT_MAC, OTHER4, OTHER_MAC, TESTER4, TESTER_MAC

BROADCAST_MAC = b"\xff" * 6
IPV4_MCAST_MAC = bytes.fromhex("01005e010203")  # 224.1.2.3
IPV6_MCAST_MAC = bytes.fromhex("333300000001")
SUBNET_BCAST4 = bytes((198, 51, 100, 255))
ALL_HOSTS4 = bytes((224, 0, 0, 1))
GROUP4 = bytes((224, 1, 2, 3))
IGMPV3_ROUTERS4 = bytes((224, 0, 0, 22))


# ---- checksums: Scapy's, never the stack's (stack_under_test/wire/checksum.py) -----------------
def pseudo_header(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    """RFC 768 / RFC 8200 8.1 pseudo-header (the address size says which family)."""
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def inet_checksum(data: bytes, pseudo: bytes = b"") -> int:
    """The RFC 1071 checksum of ``data`` (after ``pseudo``, a pseudo-header), by Scapy; 0 when
    ``data`` carries a correct checksum already."""
    return checksum(pseudo + data)


def put_checksum(raw: bytes, at: int, csum: int) -> bytes:
    return raw[:at] + struct.pack("!H", csum) + raw[at + 2 :]


def good_checksum(draw: st.DrawFn) -> bool:
    """True (fix the checksum up) in most examples: byte mutation alone stalls at checksums."""
    return not odd(draw)


def address(draw: st.DrawFn, usual: bytes, odd_values: tuple[bytes, ...], any_address: st.SearchStrategy[bytes] = ADDR4) -> bytes:
    """``usual`` mostly, else one of ``odd_values`` or any address at all."""
    if not odd(draw):
        return usual
    return draw(any_address) if draw(BOOL) else choose(draw, odd_values)


def ethernet_header(draw: st.DrawFn, ethertype: int, multicast_mac: bytes) -> bytes:
    dst = mostly(draw, DUT_MAC, (BROADCAST_MAC, multicast_mac, OTHER_MAC))
    src = mostly(draw, TESTER_MAC, (OTHER_MAC, BROADCAST_MAC, DUT_MAC))
    return dst + src + struct.pack("!H", ethertype)


# ---- ARP (RFC 826) ---------------------------------------------------------------------------
_ARP_ODD_HEADS = ((6, 0x0800, 6, 4), (1, 0x86DD, 6, 16), (1, 0x0800, 8, 4), (1, 0x0800, 6, 6))


@st.composite
def arp_frames(draw: st.DrawFn) -> bytes:
    htype, ptype, hlen, plen = mostly(draw, (1, 0x0800, 6, 4), _ARP_ODD_HEADS)
    op = mostly(draw, choose(draw, (1, 2)), (0, 3, 0xFFFF))
    sha = mostly(draw, TESTER_MAC, (OTHER_MAC, BROADCAST_MAC, bytes(6)))
    spa = address(draw, TESTER4, (OTHER4, DUT4, bytes(4), b"\xff" * 4))
    tha = choose(draw, (bytes(6), DUT_MAC, BROADCAST_MAC))
    tpa = address(draw, DUT4, (OTHER4, TESTER4))
    body = struct.pack("!HHBBH6s4s6s4s", htype, ptype, hlen, plen, op, sha, spa, tha, tpa)
    body = body[: mostly(draw, len(body), (26, 8, 7))] + mostly(draw, b"", (bytes(18),))
    return ethernet_header(draw, 0x0806, BROADCAST_MAC) + body


# ---- IPv4 options (RFC 791 3.1) --------------------------------------------------------------
_OPTION_KINDS = ("nop", "rr", "ts", "ra", "lsrr", "ssrr", "security", "eol", "unknown")
_ROUTE_TYPES = {"rr": 7, "lsrr": 131, "ssrr": 137}
_HOSTS4 = (TESTER4, OTHER4, DUT4)
_SMALL = st.binary(max_size=6)
_SEC = st.binary(min_size=9, max_size=9)
_RAW_OPT = st.binary(min_size=1, max_size=8)


def ipv4_option(draw: st.DrawFn) -> bytes:
    """One well-formed option: type, length, data."""
    kind = choose(draw, _OPTION_KINDS)
    if kind == "nop":
        return b"\x01"
    if kind == "eol":
        return b"\x00"
    if kind == "ra":  # RFC 2113
        return bytes((148, 4)) + struct.pack("!H", choose(draw, (0, 1)))
    if kind == "security":
        return bytes((130, 11)) + draw(_SEC)
    if kind == "unknown":
        data = draw(_SMALL)
        return bytes((choose(draw, (25, 30, 82, 94, 158, 222, 255)), len(data) + 2)) + data
    slots = 1 + draw(index(4))
    used = draw(index(slots + 1))
    if kind == "ts":  # RFC 791: type 68, length, pointer, overflow/flag
        flag = mostly(draw, choose(draw, (0, 1, 3)), (2, 15))
        width = 4 if flag == 0 else 8
        return bytes((68, 4 + width * slots, 5 + width * used, flag)) + bytes(width * slots)
    addresses = b"".join(choose(draw, _HOSTS4) for _ in range(slots))
    return bytes((_ROUTE_TYPES[kind], 3 + 4 * slots, 4 + 4 * used)) + addresses


def near_valid_option(draw: st.DrawFn) -> bytes:
    """A well-formed option with one field off: length +-1, 0, 1 or past the end; odd pointer."""
    raw = bytearray(ipv4_option(draw))
    if len(raw) < 3:
        return bytes((raw[0], 0))
    field = choose(draw, ("length", "pointer", "truncate"))
    if field == "length":
        raw[1] = choose(draw, (raw[1] + 1, raw[1] - 1, 0, 1, 2, 255)) & 0xFF
    elif field == "pointer":
        raw[2] = choose(draw, (0, 1, 3, 4, raw[1], raw[1] + 1, 255)) & 0xFF
    else:
        raw = raw[: 1 + draw(index(len(raw) - 1))]
    return bytes(raw)


def ipv4_options(draw: st.DrawFn) -> bytes:
    """An option list, at most 40 octets, padded with zeros (EOL) to a multiple of 4."""
    parts = []
    for _ in range(draw(index(4))):
        how = mostly(draw, "valid", ("near", "raw"))
        parts.append(ipv4_option(draw) if how == "valid" else near_valid_option(draw) if how == "near" else draw(_RAW_OPT))
    raw = b"".join(parts)[:40]
    return raw + bytes(-len(raw) % 4)


# ---- UDP, ICMPv4, IGMP -----------------------------------------------------------------------
def udp_datagram(draw: st.DrawFn, src: bytes, dst: bytes) -> bytes:
    """RFC 768; also used over IPv6 (the pseudo-header follows the address size)."""
    sport = mostly(draw, 9, (7, 0, 53, 0xFFFF))
    dport = mostly(draw, choose(draw, (7, 9)), (0, 53, 0xFFFF))  # 9 is closed: Port Unreachable
    data = draw(DATA)
    length = 8 + len(data)
    wire_length = mostly(draw, length, (length + 1, length - 1, 7, 0xFFFF)) & 0xFFFF
    raw = struct.pack("!HHHH", sport, dport, wire_length, 0) + data
    mode = mostly(draw, "good", ("zero", "bad"))
    if mode == "good":
        return put_checksum(raw, 6, inet_checksum(raw, pseudo_header(src, dst, 17, length)) or 0xFFFF)
    return raw if mode == "zero" else put_checksum(raw, 6, draw(U16) or 1)


_ICMP4_TYPES = (8, 0, 3, 11, 12, 4, 5, 13, 14, 17, 18, 9, 10, 255)
_ICMP4_ERRORS = (3, 4, 5, 11, 12)


def icmpv4_message(draw: st.DrawFn) -> bytes:
    """RFC 792: echo, the errors (quoting an inner datagram), the rest by type number."""
    kind = choose(draw, _ICMP4_TYPES)
    code = mostly(draw, 0, (1, 3, 4, 255))
    if kind in _ICMP4_ERRORS:
        rest = mostly(draw, 0, (0x05DC, 0x14000000, 0xFFFFFFFF))
        inner = ipv4_datagram(draw, proto=choose(draw, (17, 1, 2)), options=False, src=DUT4,
                              dst=choose(draw, (TESTER4, OTHER4)))
        body = struct.pack("!I", rest) + inner[: mostly(draw, 28, (len(inner), 20, 8))]
    else:
        body = struct.pack("!HH", draw(U16), draw(U16)) + draw(DATA)
    raw = struct.pack("!BBH", kind, code, 0) + body
    raw = raw[: mostly(draw, len(raw), (8, 4))]
    return put_checksum(raw, 2, inet_checksum(raw) if good_checksum(draw) else draw(U16))


def igmp_message(draw: st.DrawFn) -> bytes:
    """RFC 2236 (v2) and RFC 3376 (v3) queries and reports, v1 reports (RFC 1112), unknown types."""
    kind = mostly(draw, choose(draw, (0x11, 0x16, 0x17, 0x22, 0x12)), (0x13, 0x1E, 0xFF))
    group = address(draw, GROUP4, (bytes(4), ALL_HOSTS4, DUT4))
    raw = struct.pack("!BBH4s", kind, mostly(draw, 100, (0, 10, 255)), 0, group)
    if kind == 0x11 and draw(BOOL):  # IGMPv3 query: S/QRV, QQIC, sources
        sources = [choose(draw, (TESTER4, OTHER4)) for _ in range(draw(index(3)))]
        count = mostly(draw, len(sources), (len(sources) + 1, 0xFFFF))
        raw += struct.pack("!BBH", 2, 125, count) + b"".join(sources)
    elif kind == 0x22:  # v3 report: (record type, aux len, number of sources, group, sources)
        nrec = draw(index(3))
        records = b""
        for _ in range(nrec):
            srcs = [TESTER4] * draw(index(3))
            rtype = mostly(draw, choose(draw, (1, 2, 3, 4, 5, 6)), (0, 7))
            records += struct.pack("!BBH4s", rtype, 0, len(srcs), GROUP4) + b"".join(srcs)
        raw = struct.pack("!BBHHH", 0x22, 0, 0, 0, mostly(draw, nrec, (nrec + 1, 0xFFFF))) + records
    raw = raw[: mostly(draw, len(raw), (8, 4))]
    return put_checksum(raw, 2, inet_checksum(raw) if good_checksum(draw) else draw(U16))


# ---- IPv4 ------------------------------------------------------------------------------------
_SRC4_ODD = (OTHER4, bytes(4), b"\xff" * 4, ALL_HOSTS4, bytes((127, 0, 0, 1)), SUBNET_BCAST4)
_DST4 = (DUT4, DUT4, DUT4, DUT4, SUBNET_BCAST4, b"\xff" * 4, ALL_HOSTS4, GROUP4)
_DST4_ODD = (IGMPV3_ROUTERS4, OTHER4, bytes(4))
_FRAG_ODD = (0x4000, 0x2000, 0x2001, 0x0001, 0x1FFF, 0xFFFF)


def ipv4_datagram(draw: st.DrawFn, proto: int | None = None, options: bool = True,
                  src: bytes | None = None, dst: bytes | None = None) -> bytes:
    """An IPv4 datagram (header and payload), structure-aware down to the payload."""
    src = src if src is not None else address(draw, TESTER4, _SRC4_ODD)
    dst = dst if dst is not None else address(draw, choose(draw, _DST4), _DST4_ODD)
    if proto is None:
        proto = mostly(draw, choose(draw, (1, 17, 2, 6)), (6, 253, 0, 255))
    if proto == 1:
        payload = icmpv4_message(draw)
    elif proto == 17:
        payload = udp_datagram(draw, src, dst)
    elif proto == 2:
        payload = igmp_message(draw)
    elif proto == 6:
        from fuzz.strategies.tcp import tcp_segment  # tcp.py builds on this module's checksums

        payload = tcp_segment(draw, src, dst)
    else:
        payload = draw(DATA)
    opts = ipv4_options(draw) if options and draw(index(4)) == 3 else b""
    if proto == 2 and draw(BOOL):  # RFC 2236 2: IGMP carries Router Alert
        opts = bytes((148, 4, 0, 0))
    ttl = mostly(draw, 1 if proto == 2 else 64, (0, 1, 64, 255))
    flags_frag = mostly(draw, 0, _FRAG_ODD)
    ident = draw(U16)
    tos = mostly(draw, 0, (0xB8, 0xFF))
    hlen = 20 + len(opts)
    total = hlen + len(payload)
    total = mostly(draw, total, (total - 1, total + 1, hlen, 19, 0xFFFF)) & 0xFFFF
    ver_ihl = mostly(draw, 0x40 | hlen // 4, (0x45, 0x44, 0x4F, 0x65, 0x46))
    header = struct.pack("!BBHHHBBH4s4s", ver_ihl, tos, total, ident, flags_frag, ttl, proto, 0, src, dst) + opts
    return put_checksum(header, 10, inet_checksum(header) if good_checksum(draw) else draw(U16)) + payload


@st.composite
def ipv4_frames(draw: st.DrawFn, proto: int | None = None) -> bytes:
    """Ethernet + IPv4 datagram, sometimes with link padding after it."""
    head = ethernet_header(draw, 0x0800, IPV4_MCAST_MAC)
    return head + ipv4_datagram(draw, proto=proto) + mostly(draw, b"", (bytes(6),))


__all__ = ["U32", "arp_frames", "inet_checksum", "ipv4_datagram", "ipv4_frames", "pseudo_header", "put_checksum"]

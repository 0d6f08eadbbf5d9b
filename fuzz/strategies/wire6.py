"""Structure-aware strategies for the IPv6 side: the fixed header, extension-header chains with
TLV options, ICMPv6 with NDP option lists, MLD, and UDP over IPv6 (helpers shared with wire.py)."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from fuzz.strategies._draw import ADDR6, BOOL, DATA, U16, U32, choose, index, mostly, odd
from fuzz.strategies.wire import (
    IPV6_MCAST_MAC,
    address,
    ethernet_header,
    good_checksum,
    inet_checksum,
    pseudo_header,
    put_checksum,
    udp_datagram,
)
from fuzz.target import DUT6, DUT6_LL, OTHER6, TESTER6, TESTER_MAC

# The tester's link-local address: the EUI-64 one of TESTER_MAC (RFC 4291 appendix A), as on the
# harness's test link, where the DUTs hold it as a static neighbour and answer it at once.
TESTER6_LL = bytes.fromhex("fe80000000000000000000fffe000002")
ALL_NODES = bytes.fromhex("ff020000000000000000000000000001")
ALL_ROUTERS = bytes.fromhex("ff020000000000000000000000000002")
MLDV2_ROUTERS = bytes.fromhex("ff020000000000000000000000000016")
DUT6_SOLICITED = bytes.fromhex("ff0200000000000000000001ff000001")
UNSPECIFIED = bytes(16)
PREFIX2 = bytes.fromhex("20010db8000200000000000000000000")
GROUP6 = bytes.fromhex("ff0e0000000000000000000000000123")


def address6(draw: st.DrawFn, usual: bytes, odd_values: tuple[bytes, ...]) -> bytes:
    return address(draw, usual, odd_values, ADDR6)


# ---- extension headers (RFC 8200 4) ----------------------------------------------------------
_TLV_KINDS = ("padn", "pad1", "ra", "skip", "discard", "icmp", "icmp-unicast", "jumbo", "raw")
_UNKNOWN_TLV = {"skip": 0x1E, "discard": 0x5E, "icmp": 0x9E, "icmp-unicast": 0xDE}
_TLV_DATA = st.binary(max_size=4)
_TLV_RAW = st.binary(min_size=1, max_size=6)


def tlv_option(draw: st.DrawFn) -> bytes:
    """One Hop-by-Hop/Destination option: padding, Router Alert, or unknown with each action."""
    kind = choose(draw, _TLV_KINDS)
    if kind == "pad1":
        return b"\x00"
    if kind == "padn":
        n = draw(index(6))
        return bytes((1, n)) + bytes(n)
    if kind == "ra":  # RFC 2711: type 5, length 2
        return bytes((5, mostly(draw, 2, (1, 3)))) + struct.pack("!H", choose(draw, (0, 1)))
    if kind == "jumbo":  # RFC 2675, type 0xC2
        return bytes((0xC2, 4)) + struct.pack("!I", choose(draw, (70000, 0, 1280)))
    if kind == "raw":
        return draw(_TLV_RAW)
    data = draw(_TLV_DATA)
    return bytes((_UNKNOWN_TLV[kind], len(data))) + data


def options_header(draw: st.DrawFn) -> bytes:
    """Hdr Ext Len and the options, padded to a multiple of 8 (Next Header is added by chain())."""
    raw = b"".join(tlv_option(draw) for _ in range(draw(index(4))))
    pad = -(2 + len(raw)) % 8
    raw += b"\x00" if pad == 1 else (bytes((1, pad - 2)) + bytes(pad - 2) if pad else b"")
    return bytes(((2 + len(raw)) // 8 - 1,)) + raw


def ext_header(draw: st.DrawFn) -> tuple[int, bytes]:
    """(protocol number, the header without its Next Header octet)."""
    kind = choose(draw, (60, 0, 43, 44))
    if kind in (0, 60):
        return kind, options_header(draw)
    if kind == 43:
        units = draw(index(3))
        head = bytes((units, mostly(draw, choose(draw, (0, 2, 3, 4)), (253, 255)), choose(draw, (0, 1, 2))))
        return 43, head + bytes(4 + 8 * units)
    offset = mostly(draw, choose(draw, (0, 8, 1280)), (8184 * 8, 65528))
    ident = mostly(draw, 0x1234, (0, 0xFFFFFFFF))
    return 44, struct.pack("!BHI", 0, offset | draw(BOOL), ident)


def chain(headers: list[tuple[int, bytes]], upper_proto: int, upper: bytes) -> tuple[int, bytes]:
    """Link extension headers by Next Header: (first protocol, octets after the fixed header)."""
    out, nxt = upper, upper_proto
    for proto, body in reversed(headers):
        out, nxt = bytes((nxt,)) + body + out, proto
    return nxt, out


# ---- ICMPv6, NDP, MLD ------------------------------------------------------------------------
_NDP_OPT_DATA = st.binary(max_size=14)
_LINK_LOCAL_PREFIX = bytes.fromhex("fe80" + "00" * 14)
# Prefix Information bodies (RFC 4861 4.6.2): prefix length, L/A flags, valid and preferred
# lifetimes, prefix. Valid ones for SLAAC and on-link, and the cases RFC 4862 5.5.3 ignores.
_PREFIX_INFOS = tuple(
    struct.pack("!BBIII16s", plen, flags, valid, preferred, 0, prefix)
    for plen, flags, valid, preferred, prefix in (
        (64, 0xC0, 2592000, 604800, PREFIX2),
        (64, 0xC0, 7200, 10, PREFIX2),
        (64, 0x40, 30, 30, PREFIX2),
        (64, 0x80, 0xFFFFFFFF, 0xFFFFFFFF, PREFIX2),
        (64, 0xC0, 0, 0, PREFIX2),
        (64, 0xC0, 10, 20, PREFIX2),  # preferred > valid
        (64, 0xC0, 2592000, 604800, _LINK_LOCAL_PREFIX),
        (48, 0xC0, 2592000, 604800, PREFIX2),
        (128, 0xC0, 2592000, 604800, DUT6),
        (255, 0x40, 1, 1, ALL_NODES),
    )
)
# Route Information bodies (RFC 4191 2.3): prefix length, preference, lifetime, 0/8/16 octets.
_ROUTE_INFOS = tuple(
    struct.pack("!BBI", plen, prf, life) + PREFIX2[:n]
    for plen, prf, life, n in (
        (64, 0x08, 1800, 8), (0, 0x00, 1800, 0), (48, 0x18, 0, 8), (64, 0x10, 0xFFFFFFFF, 16),
        (64, 0x08, 1800, 0), (129, 0x08, 1800, 16), (200, 0x00, 0, 16),
    )
)
# Router Advertisement heads (RFC 4861 4.2): Cur Hop Limit, M/O/Prf flags, Router Lifetime,
# Reachable Time, Retrans Timer.
_RA_HEADS = tuple(
    struct.pack("!BBHII", *head)
    for head in (
        (64, 0, 1800, 0, 0), (0, 0x08, 0, 30000, 1000), (1, 0x18, 9000, 1, 1),
        (255, 0x10, 65535, 0xFFFFFFFF, 0xFFFFFFFF), (64, 0xC0, 30, 0, 0),
    )
)


def ndp_option(draw: st.DrawFn) -> bytes:
    """RFC 4861 4.6: TLV in 8-octet units; near-valid ones have length 0 or run past the end."""
    kind = mostly(draw, choose(draw, (1, 2, 3, 5, 14, 24)), (4, 25, 0, 255))
    if kind in (1, 2):
        data = mostly(draw, TESTER_MAC, (bytes(6), bytes(14)))
    elif kind == 3:  # Prefix Information, 32 octets (one draw: variants precomputed below)
        data = choose(draw, _PREFIX_INFOS)
    elif kind == 5:
        data = struct.pack("!HI", 0, choose(draw, (1500, 1280, 68, 9000)))
    elif kind == 14:  # RFC 7527 Nonce
        data = choose(draw, (bytes(range(6)), bytes(12), b""))
    elif kind == 24:  # RFC 4191 Route Information
        data = choose(draw, _ROUTE_INFOS)
    else:
        data = draw(_NDP_OPT_DATA)
    data += bytes(-(2 + len(data)) % 8)
    units = (2 + len(data)) // 8
    return bytes((kind, mostly(draw, units, (0, units + 1)))) + data


_MLD_TYPES = (130, 131, 132, 143)
_ICMP6_TYPES = (128, 135, 136, 129, 133, 134, 137, 130, 131, 132, 143, 1, 2, 3, 4, 139, 200, 127, 255)


def icmpv6_message(draw: st.DrawFn, src: bytes) -> tuple[int, int, bytes]:
    """(type, code, body after the 4-octet header) for the messages the stack knows, and others."""
    kind = choose(draw, _ICMP6_TYPES)
    code = mostly(draw, 0, (1, 2, 4, 255))
    opts = b"".join(ndp_option(draw) for _ in range(draw(index(3))))
    target = address6(draw, DUT6, (DUT6_LL, TESTER6, ALL_NODES))
    if kind in (128, 129):
        body = struct.pack("!HH", draw(U16), draw(U16)) + draw(DATA)
    elif kind == 135:
        body = bytes(4) + target + opts
    elif kind == 136:
        body = bytes((choose(draw, (0x60, 0x20, 0xE0, 0x00)), 0, 0, 0)) + target + opts
    elif kind == 133:
        body = bytes(4) + opts
    elif kind == 134:
        body = choose(draw, _RA_HEADS) + opts
    elif kind == 137:
        body = bytes(4) + target + address6(draw, TESTER6, (DUT6,)) + opts
    elif kind in (130, 131, 132):  # MLDv1 (RFC 2710); a longer query is MLDv2 (RFC 3810)
        group = choose(draw, (UNSPECIFIED, ALL_NODES, GROUP6))
        body = struct.pack("!HH16s", choose(draw, (1000, 0)), 0, group)
        if kind == 130 and draw(BOOL):
            sources = [TESTER6] * draw(index(3))
            count = mostly(draw, len(sources), (len(sources) + 1, 0xFFFF))
            body += struct.pack("!BBH", 2, 125, count) + b"".join(sources)
    elif kind == 143:  # MLDv2 report
        nrec = draw(index(3))
        body = struct.pack("!HH", 0, mostly(draw, nrec, (nrec + 1,)))
        for _ in range(nrec):
            body += struct.pack("!BBH16s", choose(draw, (1, 2, 3, 4, 5, 6, 0)), 0, 0, GROUP6)
    elif kind < 128:  # an error quoting a packet we might have sent
        inner = struct.pack("!IHBB", 0x60000000, 16, 17, 64) + DUT6 + src + struct.pack("!HHHH", 7, 9, 16, 0) + bytes(8)
        param = mostly(draw, 0, (1280, 40, 6, 0xFFFFFFFF))
        body = struct.pack("!I", param) + inner[: mostly(draw, len(inner), (48, 8, 0))]
    else:
        body = draw(DATA)
    return kind, code, body[: mostly(draw, len(body), (20, 4, 0))]


# ---- the packet ------------------------------------------------------------------------------
_SRC6_ODD = (OTHER6, TESTER6_LL, UNSPECIFIED, ALL_NODES, DUT6)
_DST6 = (DUT6, DUT6, DUT6_LL, ALL_NODES, DUT6_SOLICITED)
_DST6_ODD = (ALL_ROUTERS, MLDV2_ROUTERS, OTHER6, UNSPECIFIED)
_UPPER = ("icmpv6", "icmpv6", "udp", "tcp", "none", "raw")


def ipv6_packet(draw: st.DrawFn, upper: str | None = None) -> bytes:
    """Fixed header + extension chain + upper layer (ICMPv6, UDP, none or raw)."""
    src = address6(draw, choose(draw, (TESTER6, TESTER6_LL)), _SRC6_ODD)
    dst = address6(draw, choose(draw, _DST6), _DST6_ODD)
    headers = [ext_header(draw) for _ in range(draw(index(4)))] if odd(draw) or odd(draw) else []
    upper = upper or choose(draw, _UPPER)
    hop = None
    if upper == "icmpv6":
        kind, code, body = icmpv6_message(draw, src)
        if kind in _MLD_TYPES and not odd(draw):
            # RFC 3810 5.1.14 / RFC 2710 3: link-local source, Hop Limit 1, Router Alert in a
            # Hop-by-Hop header; only such queries get past validation to the listener.
            src, hop = TESTER6_LL, 1
            headers = [(0, bytes((0, 5, 2, 0, 0, 1, 0))), *headers[1:]]
        msg = struct.pack("!BBH", kind, code, 0) + body
        csum = inet_checksum(msg, pseudo_header(src, dst, 58, len(msg))) if good_checksum(draw) else draw(U16)
        proto, payload = 58, put_checksum(msg, 2, csum)
    elif upper == "udp":
        proto, payload = 17, udp_datagram(draw, src, dst)
    elif upper == "tcp":
        from fuzz.strategies.tcp import tcp_segment  # tcp.py builds on wire.py's checksums

        proto, payload = 6, tcp_segment(draw, src, dst)
    elif upper == "none":
        proto, payload = 59, choose(draw, (b"", b"junk"))
    else:
        proto, payload = choose(draw, (6, 253, 41, 4, 255)), draw(DATA)
    first, rest = chain(headers, proto, payload)
    plen = mostly(draw, len(rest), (len(rest) + 1, max(len(rest) - 1, 0), 0)) & 0xFFFF
    hop = hop or mostly(draw, 255 if upper == "icmpv6" else 64, (64, 1, 0))
    first_word = mostly(draw, 6 << 28, (4 << 28, 0, 6 << 28 | 0xB8 << 20 | 0x12345))
    return struct.pack("!IHBB", first_word, plen, first, hop) + src + dst + rest


@st.composite
def ipv6_frames(draw: st.DrawFn, upper: str | None = None) -> bytes:
    head = ethernet_header(draw, 0x86DD, IPV6_MCAST_MAC)
    return head + ipv6_packet(draw, upper) + mostly(draw, b"", (bytes(4),))


__all__ = ["U32", "chain", "ipv6_frames", "ipv6_packet"]

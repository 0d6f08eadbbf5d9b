"""Structure-aware TCP segments (RFC 9293 3.1) for the totality properties: ports that reach the
fuzz stack's listener or a closed port, the flag combinations that choose the code paths,
options valid, near-valid (wrong lengths) or raw, and a checksum that is usually right.

Checksums are Scapy's RFC 1071 sum through fuzz/strategies/wire.py, never the stack's."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from fuzz.strategies._draw import DATA, U8, U16, U32, choose, index, mostly, odd
from fuzz.strategies.wire import good_checksum, inet_checksum, pseudo_header, put_checksum
from fuzz.target import TCP_PORT

_FLAGS = (0x02, 0x10, 0x12, 0x18, 0x11, 0x04, 0x14, 0x19, 0x30, 0x00, 0x03, 0x06, 0x01)
_RAW_OPTION = st.binary(min_size=1, max_size=12)


def tcp_option(draw: st.DrawFn) -> bytes:
    """One option: the ones we implement with sane values, or a damaged one."""
    kind = choose(draw, (2, 3, 4, 8, 5, 1, 0, 30))
    if odd(draw):  # a known kind with a wrong length, a zero length, or a length past the end
        return bytes((kind, choose(draw, (0, 1, 2, 3, 40)))) + draw(st.binary(max_size=4))
    if kind == 2:
        return struct.pack("!BBH", 2, 4, mostly(draw, 1460, (0, 1, 536, 0xFFFF)))
    if kind == 3:
        return bytes((3, 3, mostly(draw, 7, (0, 14, 15, 255))))
    if kind == 4:
        return b"\x04\x02"
    if kind == 8:
        return struct.pack("!BBII", 8, 10, draw(U32), draw(U32))
    if kind == 5:
        blocks = [draw(U32) for _ in range(2 * (1 + draw(index(3))))]
        return struct.pack(f"!BB{len(blocks)}I", 5, 2 + 4 * len(blocks), *blocks)
    if kind in (0, 1):
        return bytes((kind,))
    return draw(_RAW_OPTION)


def tcp_segment(draw: st.DrawFn, src: bytes, dst: bytes) -> bytes:
    """A TCP segment from ``src`` to ``dst`` (addresses set the pseudo-header's size)."""
    sport = mostly(draw, 40000, (0, TCP_PORT, 0xFFFF))
    dport = mostly(draw, choose(draw, (TCP_PORT, TCP_PORT, 81)), (0, 0xFFFF))
    flags = mostly(draw, choose(draw, _FLAGS), (0xFF, 0x22, 0x07))
    seq, ack = draw(U32), mostly(draw, 0, (draw(U32),))
    options = b"".join(tcp_option(draw) for _ in range(draw(index(5)))) if not odd(draw) or odd(draw) else b""
    options = (options + bytes(-len(options) % 4))[:40]
    words = (20 + len(options)) // 4
    # words + 1 is 16 when the options fill all 40 octets: the field has four bits.
    offset = mostly(draw, words, (0, 4, 15, (words + 1) & 0x0F)) << 4 | mostly(draw, 0, (draw(U8) & 0x0F,))
    payload = draw(DATA)
    raw = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset, flags, mostly(draw, 65535, (0, 1)), 0,
                      mostly(draw, 0, (1, 0xFFFF))) + options + payload
    raw = raw[: mostly(draw, len(raw), (19, 12, 0))]
    if good_checksum(draw):
        return put_checksum(raw, 16, inet_checksum(raw, pseudo_header(src, dst, 6, len(raw))))
    return put_checksum(raw, 16, draw(U16)) if len(raw) >= 18 else raw


@st.composite
def tcp_option_lists(draw: st.DrawFn) -> bytes:
    """Raw option octets for the option parser's totality property."""
    raw = b"".join(tcp_option(draw) for _ in range(draw(index(6))))
    return raw[:40]

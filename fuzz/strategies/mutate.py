"""Byte damage on top of structure-aware frames: overwrite, flip, truncate, extend — with an
optional checksum fix-up afterwards, so mutated frames get past the checksum checks and reach
the code behind them (byte-level mutation alone stalls at the first checksum)."""

from __future__ import annotations

import struct

from hypothesis import strategies as st

from fuzz.strategies._draw import BOOL, U8, choose, index, mostly
from fuzz.strategies.wire import inet_checksum, pseudo_header, put_checksum

_TAIL = st.binary(min_size=1, max_size=16)


def fix_checksums(frame: bytes) -> bytes:
    """Recompute the IPv4 header checksum and the ICMPv4/UDP/ICMPv6/IGMP checksum of an Ethernet
    frame in place, as far as its (possibly damaged) structure allows. Never raises."""
    if len(frame) < 14:
        return frame
    ethertype = frame[12] << 8 | frame[13]
    if ethertype == 0x0800 and len(frame) >= 34 and frame[14] >> 4 == 4:
        ihl = (frame[14] & 0x0F) * 4
        if ihl < 20 or 14 + ihl > len(frame):
            return frame
        header = put_checksum(frame[14 : 14 + ihl], 10, 0)
        frame = frame[:14] + put_checksum(header, 10, inet_checksum(header)) + frame[14 + ihl :]
        total = struct.unpack_from("!H", frame, 16)[0]
        proto, off, end = frame[23], 14 + ihl, min(len(frame), 14 + max(total, ihl))
        if frame[20] & 0x1F or frame[21]:  # a non-first fragment carries no transport header
            return frame
        return _fix_transport(frame, proto, off, end, frame[26:30], frame[30:34])
    if ethertype == 0x86DD and len(frame) >= 54:
        plen = struct.unpack_from("!H", frame, 18)[0]
        end = min(len(frame), 54 + plen)
        proto, off = frame[20], 54
        for _ in range(8):  # walk extension headers leniently
            if proto in (0, 43, 60) and off + 2 <= end:
                proto, off = frame[off], off + (frame[off + 1] + 1) * 8
            elif proto == 44 and off + 8 <= end:
                if struct.unpack_from("!H", frame, off + 2)[0] & 0xFFF8:
                    return frame
                proto, off = frame[off], off + 8
            else:
                break
        return _fix_transport(frame, proto, off, end, frame[22:38], frame[38:54])
    return frame


def _fix_transport(frame: bytes, proto: int, off: int, end: int, src: bytes, dst: bytes) -> bytes:
    seg = frame[off:end]
    if proto in (1, 2) and len(seg) >= 4:
        seg = put_checksum(seg, 2, 0)
        return frame[:off] + put_checksum(seg, 2, inet_checksum(seg)) + frame[end:]
    if proto == 58 and len(seg) >= 4:
        seg = put_checksum(seg, 2, 0)
        return frame[:off] + put_checksum(seg, 2, inet_checksum(seg, pseudo_header(src, dst, 58, len(seg)))) + frame[end:]
    if proto == 17 and len(seg) >= 8:
        length = struct.unpack_from("!H", seg, 4)[0]
        if 8 <= length <= len(seg):
            body = put_checksum(seg[:length], 6, 0)
            csum = inet_checksum(body, pseudo_header(src, dst, 17, length)) or 0xFFFF
            return frame[:off] + put_checksum(seg, 6, csum) + frame[end:]
    return frame


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[bytes], fixup: bool | None = None) -> bytes:
    """A frame with a few bytes overwritten or bit-flipped, then maybe truncated or extended, then
    (usually) its checksums fixed up: the parsers' hard cases."""
    raw = bytearray(draw(frames))
    if raw:
        for _ in range(draw(index(5))):
            i = draw(index(len(raw)))
            if draw(BOOL):
                raw[i] = draw(U8)
            else:
                raw[i] ^= 1 << draw(index(8))
    cut = choose(draw, ("keep", "truncate", "extend"))
    if cut == "truncate":
        raw = raw[: draw(index(len(raw) + 1))]
    elif cut == "extend":
        raw += draw(_TAIL)
    out = bytes(raw)
    if fixup if fixup is not None else mostly(draw, True, (False,)):
        out = fix_checksums(out)
    return out

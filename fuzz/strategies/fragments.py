"""Fragment plans: one datagram (an echo request, so a whole one earns exactly one reply) cut at
8-octet boundaries, then shuffled, duplicated, with gaps, overlaps, tiny pieces, a mismatched
ID, and virtual time passing in between. The plan knows what a correct stack must do with it:
``clean`` plans (every octet once, one ID, all within the reassembly timeout) are delivered
exactly once; for plans whose only fault is an overlap, ``replay`` predicts the outcome (an
overlap before completion discards the datagram, RFC 5722 for IPv6 and Linux for IPv4; pieces
that complete it before the overlapping one arrives deliver it); anything else at most once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hypothesis import strategies as st

from fuzz.strategies._draw import U16, choose, index, mostly, odd
from fuzz.strategies.wire import inet_checksum, pseudo_header, put_checksum
from fuzz.target import DUT4, DUT6, DUT_MAC, TESTER4, TESTER6, TESTER_MAC

IPV4_TIMEOUT_MS, IPV6_TIMEOUT_MS = 30_000, 60_000  # the stack's defaults (RFC 1122 3.3.2 / RFC 8200 4.5)


@dataclass(frozen=True)
class Piece:
    offset: int  # octets into the fragmentable part
    data: bytes
    more: bool
    ident: int
    wait_ms: int  # virtual time that passes before this piece is sent


@dataclass(frozen=True)
class FragmentPlan:
    family: int
    ident: int
    pieces: tuple[Piece, ...]
    clean: bool  # every octet once, one ID, in time: delivered exactly once
    overlap_only: bool  # its only fault is an overlap
    expected: int | None  # replies a correct stack sends (None: at most one, not predicted)

    def frames(self) -> list[tuple[int, bytes]]:
        """(wait before, Ethernet frame) for each piece."""
        return [(p.wait_ms, self.frame(p)) for p in self.pieces]

    def frame(self, p: Piece) -> bytes:
        ff = (0x2000 if p.more else 0) | p.offset >> 3
        if self.family == 4:
            header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(p.data), p.ident, ff, 64, 1, 0, TESTER4, DUT4)
            return DUT_MAC + TESTER_MAC + b"\x08\x00" + put_checksum(header, 10, inet_checksum(header)) + p.data
        frag = struct.pack("!BBHI", 58, 0, p.offset | int(p.more), p.ident)
        fixed = struct.pack("!IHBB", 6 << 28, 8 + len(p.data), 44, 64) + TESTER6 + DUT6
        return DUT_MAC + TESTER_MAC + b"\x86\xdd" + fixed + frag + p.data


def echo_request(family: int, ident: int, data: bytes) -> bytes:
    if family == 4:
        raw = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + data
        return put_checksum(raw, 2, inet_checksum(raw))
    raw = struct.pack("!BBHHH", 128, 0, 0, ident, 1) + data
    return put_checksum(raw, 2, inet_checksum(raw, pseudo_header(TESTER6, DUT6, 58, len(raw))))


@st.composite
def fragment_plans(draw: st.DrawFn, family: int | None = None) -> FragmentPlan:
    family = family or choose(draw, (4, 6))
    timeout = IPV4_TIMEOUT_MS if family == 4 else IPV6_TIMEOUT_MS
    ident = draw(U16)
    size = 16 + 8 * draw(index(60)) + draw(index(8))  # 16..503 octets, not always a multiple of 8
    payload = echo_request(family, ident, bytes(i % 251 for i in range(size - 8)))
    units = (len(payload) + 7) // 8
    # Cut points: 8-octet boundaries; "tiny" cuts at every one of them.
    if odd(draw):
        cuts = list(range(1, units))
    else:
        cuts = sorted({1 + draw(index(units - 1)) for _ in range(1 + draw(index(4)))})
    bounds = [0, *[c * 8 for c in cuts], len(payload)]
    pieces = [[bounds[i], bounds[i + 1], bounds[i + 1] < len(payload)] for i in range(len(bounds) - 1)]
    faults = set()
    if len(pieces) > 1 and odd(draw):  # an overlap: a piece starts 8 octets inside the one before
        # (moving a start keeps every non-last piece a multiple of 8 long; a longer one would be
        # trimmed to a multiple of 8 by the receiver, as Linux does, and might not overlap at all)
        # An offset-0 piece with MF clear is no fragment but a whole datagram (RFC 6946 for
        # IPv6's atomic fragments), so the last piece never moves to offset 0.
        i = 1 + draw(index(len(pieces) - 1))
        if pieces[i][0] > 8 or pieces[i][2]:
            pieces[i][0] -= 8
            faults.add("overlap")
    if len(pieces) > 2 and odd(draw):  # a gap: a piece never sent
        del pieces[1 + draw(index(len(pieces) - 2))]
        faults.add("gap")
    order = list(range(len(pieces)))
    order = draw(st.permutations(order)) if draw(index(2)) else order  # shuffled half the time
    if odd(draw):  # a duplicate, sent again later
        order.append(order[draw(index(len(order)))])
    sent: list[Piece] = []
    mismatched = draw(index(len(order))) if odd(draw) else -1
    elapsed = 0
    for n, i in enumerate(order):
        start, end, more = pieces[i]
        wait = 0 if n == 0 else mostly(draw, 0, (1, 10, timeout - 1, timeout, timeout + 1))
        elapsed += wait
        pid = ident if n != mismatched else ident ^ 0x8000
        sent.append(Piece(start, payload[start:end], bool(more), pid, wait))
    if mismatched >= 0:
        faults.add("ident")
    if elapsed >= timeout:
        faults.add("late")
    single = len(pieces) == 1
    predictable = not faults - {"overlap"}
    return FragmentPlan(family, ident, tuple(sent), clean=not faults and not single,
                        overlap_only=faults == {"overlap"},
                        expected=replay(tuple(sent), len(payload)) if predictable else None)


def replay(pieces: tuple[Piece, ...], total: int) -> int:
    """How many times a correct reassembler delivers these pieces (one ID, no time passing):
    exact duplicates are ignored, an overlap discards the datagram and every later piece of it,
    a completed datagram is delivered and later pieces start a new one."""
    held: list[tuple[int, int]] = []
    delivered, poisoned = 0, False
    for p in pieces:
        if poisoned:
            continue
        start, end = p.offset, p.offset + len(p.data)
        if start == 0 and not p.more:  # a whole datagram, not a fragment
            delivered += 1
            continue
        if (start, end) in held:
            continue
        if any(s < end and start < e for s, e in held):
            poisoned = True
            continue
        held.append((start, end))
        if sum(e - s for s, e in held) == total and any(e == total for _, e in held):
            delivered += 1
            held = []
    return delivered

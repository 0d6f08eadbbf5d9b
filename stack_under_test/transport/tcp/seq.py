"""Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4).

RFC 9293 3.4: "all arithmetic dealing with sequence numbers must be performed modulo 2^32. This
unsigned arithmetic preserves the relationship of sequence numbers as they cycle from 2^32 - 1 to
0 again." A number is "less than" another when it lies within the 2^31 numbers before it (the
same rule RFC 7323 5.2 gives timestamps: "s < t if 0 < (t - s) < 2^31").
"""

from __future__ import annotations

from typing import Final

MASK: Final = 0xFFFF_FFFF
HALF: Final = 1 << 31


def lt(a: int, b: int) -> bool:
    """a < b (mod 2^32)."""
    return 0 < ((b - a) & MASK) < HALF


def le(a: int, b: int) -> bool:
    """a =< b (mod 2^32)."""
    return ((b - a) & MASK) < HALF


def gt(a: int, b: int) -> bool:
    return 0 < ((a - b) & MASK) < HALF


def ge(a: int, b: int) -> bool:
    return ((a - b) & MASK) < HALF


def add(a: int, n: int) -> int:
    return (a + n) & MASK


def sub(a: int, b: int) -> int:
    """How far ``a`` is ahead of ``b``, as an unsigned distance (a - b mod 2^32)."""
    return (a - b) & MASK


def in_window(s: int, left: int, size: int) -> bool:
    """left =< s < left + size (mod 2^32); empty when size is 0."""
    return ((s - left) & MASK) < size


def seq_max(a: int, b: int) -> int:
    return b if lt(a, b) else a

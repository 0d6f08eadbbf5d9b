"""Cheap drawing helpers. Building a strategy costs far more than drawing from one (validation),
so composites never build strategies per draw: they index into plain lists with cached integer
strategies. Choices shrink towards the first element, the ordinary value."""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from hypothesis import strategies as st

T = TypeVar("T")

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
BOOL = st.booleans()
_ODDS = st.integers(0, 7)
ADDR4 = st.binary(min_size=4, max_size=4)
ADDR6 = st.binary(min_size=16, max_size=16)
DATA = st.binary(max_size=64)


@cache
def index(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def choose(draw: st.DrawFn, options: list[T] | tuple[T, ...]) -> T:
    """One of ``options`` (shrinks towards the first)."""
    return options[draw(index(len(options)))]


def odd(draw: st.DrawFn) -> bool:
    """True in about one draw in eight: whether to make this field abnormal."""
    return draw(_ODDS) == 7


def mostly(draw: st.DrawFn, normal: T, odd_values: list[T] | tuple[T, ...]) -> T:
    """``normal`` in about 7 of 8 draws, else one of ``odd_values``."""
    return choose(draw, odd_values) if odd(draw) else normal

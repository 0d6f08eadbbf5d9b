"""Every kind of frame in one strategy: structure-aware per protocol, mutated, and raw bytes."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzz.strategies.mutate import mutated
from fuzz.strategies.wire import arp_frames, ipv4_frames
from fuzz.strategies.wire6 import ipv6_frames


def structured_frames() -> st.SearchStrategy[bytes]:
    return st.one_of(ipv4_frames(), ipv6_frames(), arp_frames())


def any_frames() -> st.SearchStrategy[bytes]:
    """What the totality property feeds the stack: mostly structure-aware, some damage, some noise."""
    structured = structured_frames()
    return st.one_of(structured, mutated(structured), st.binary(max_size=1600))

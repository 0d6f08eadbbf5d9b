"""What the differential fuzzer sends: a stimulus is one or more Ethernet frames sent back to back
to a DUT that starts from the common baseline (the test link of ``harness.backends.base``).

Stimuli are drawn with Hypothesis from the fuzz strategies the in-process properties already use
(``fuzz.strategies``): IPv4 datagrams with option lists, ICMPv4, IGMP and UDP; IPv6 packets with
extension-header chains, ICMPv6 errors, NDP and MLD; ARP; and fragment plans (pieces in any order,
with overlaps, gaps and duplicates) for both families. The frames carry the addresses of the test
link, so the same bytes go to every DUT that uses it.

``KINDS`` is the extension point: a protocol whose strategies arrive later (TCP) registers one
more ``StimulusKind`` with its weight, and the fuzzer draws it like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from hypothesis import strategies as st

from fuzz.strategies.fragments import FragmentPlan, fragment_plans
from fuzz.strategies.wire import arp_frames, ipv4_frames
from fuzz.strategies.wire6 import ipv6_frames


@dataclass(frozen=True)
class Stimulus:
    """Frames sent to the DUT in order, with nothing else in between. ``kind`` names the strategy."""

    kind: str
    frames: tuple[bytes, ...]

    def hex(self) -> list[str]:
        return [f.hex() for f in self.frames]

    @classmethod
    def from_hex(cls, kind: str, frames: list[str]) -> Stimulus:
        return cls(kind, tuple(bytes.fromhex(f) for f in frames))


@dataclass(frozen=True)
class StimulusKind:
    name: str
    weight: int  # relative share of draws
    strategy: Callable[[], st.SearchStrategy[Stimulus]]


def _single(kind: str, frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[Stimulus]:
    return frames.map(lambda frame: Stimulus(kind, (frame,)))


def _fragments(plan: FragmentPlan) -> Stimulus:
    # The plan's waits are left out: pieces go back to back, so no piece outlives the reassembly
    # timer before the last one is sent, and a stimulus never costs more than one window.
    return Stimulus(f"fragments{plan.family}", tuple(plan.frame(p) for p in plan.pieces))


KINDS: Final[list[StimulusKind]] = [
    StimulusKind("ipv4", 4, lambda: _single("ipv4", ipv4_frames())),
    StimulusKind("ipv6", 5, lambda: _single("ipv6", ipv6_frames())),
    StimulusKind("arp", 1, lambda: _single("arp", arp_frames())),
    StimulusKind("fragments", 2, lambda: fragment_plans().map(_fragments)),
]


def register(kind: StimulusKind) -> None:
    """Add a kind of stimulus (or replace the one of the same name), e.g. TCP segments."""
    KINDS[:] = [k for k in KINDS if k.name != kind.name] + [kind]


def stimuli(kinds: list[str] | None = None) -> st.SearchStrategy[Stimulus]:
    """Every registered kind (or only ``kinds``), each repeated by its weight in a ``one_of``, so a
    failing example shrinks towards the first kind, the plain IPv4 datagram."""
    chosen = [k for k in KINDS if kinds is None or k.name in kinds]
    if not chosen:
        raise ValueError(f"no stimulus kind among {kinds} (known: {', '.join(k.name for k in KINDS)})")
    return st.one_of([k.strategy() for k in chosen for _ in range(k.weight)])

"""Counters for white-box tests. Each NIC counts its own frames; the stack's totals are the sums
over its NICs, computed when read (so the per-frame path bumps one set of counters, not two)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stack_under_test.drops import Drop


@dataclass(slots=True)
class Stats:
    """One NIC's counters."""

    rx_frames: int = 0
    rx_accepted: int = 0
    tx_frames: int = 0
    drops: Counter[Drop] = field(default_factory=Counter)  # one entry per dropped inbound frame
    tx_drops: Counter[Drop] = field(default_factory=Counter)  # outbound packets we gave up on
    # Free-form event counts ("arp_reply_sent", ...) for white-box assertions.
    events: Counter[str] = field(default_factory=Counter)

    def count_rx(self, verdict: Drop | None) -> None:
        self.rx_frames += 1
        if verdict is None:
            self.rx_accepted += 1
        else:
            self.drops[verdict] += 1

    def count_tx_drop(self, reason: Drop) -> None:
        self.tx_drops[reason] += 1

    def count_event(self, name: str) -> None:
        self.events[name] += 1


class StackStats:
    """The stack's totals: the same fields as ``Stats``, summed over every NIC when read."""

    def __init__(self, nic_stats: Callable[[], Iterable[Stats]]) -> None:
        self._nic_stats = nic_stats

    @property
    def rx_frames(self) -> int:
        return sum(s.rx_frames for s in self._nic_stats())

    @property
    def rx_accepted(self) -> int:
        return sum(s.rx_accepted for s in self._nic_stats())

    @property
    def tx_frames(self) -> int:
        return sum(s.tx_frames for s in self._nic_stats())

    @property
    def drops(self) -> Counter[Drop]:
        return sum((s.drops for s in self._nic_stats()), Counter())

    @property
    def tx_drops(self) -> Counter[Drop]:
        return sum((s.tx_drops for s in self._nic_stats()), Counter())

    @property
    def events(self) -> Counter[str]:
        return sum((s.events for s in self._nic_stats()), Counter())

    def __repr__(self) -> str:
        return (
            f"StackStats(rx_frames={self.rx_frames}, rx_accepted={self.rx_accepted}, tx_frames={self.tx_frames}, "
            f"drops={dict(self.drops)}, tx_drops={dict(self.tx_drops)})"
        )

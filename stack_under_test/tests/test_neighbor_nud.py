"""Neighbor Unreachability Detection in the shared table (RFC 4861 §7.3.3, §7.2.5, Appendix C),
driven by a virtual clock and a config read at use time."""

from __future__ import annotations

import random
from dataclasses import dataclass

from stack_under_test import params
from stack_under_test.clock import VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborState, NeighborTable

A = bytes(15) + b"\x0a"
MAC_A, MAC_B = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")


@dataclass
class Config:
    mcast_solicit: int = 3
    ucast_solicit: int = 3
    retrans_time_ms: int = 1000
    delay_first_probe_time_ms: int = 5000
    base_reachable_time_ms: int = 30000


class Rig:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.cfg = Config()
        self.written: list[tuple[bytes, bytes]] = []
        self.solicits: list[tuple[bytes | None, int]] = []
        self.drops: list[Drop] = []
        self.cleared: list[bytes] = []
        self.table = NeighborTable(
            self.clock,
            lambda mac, _et, p: self.written.append((mac, p)),
            lambda _t, mac, _first: self.solicits.append((mac, self.clock.now_ms)),
            self.drops.append,
            config=lambda: self.cfg,
            rng=random.Random(3),
        )
        self.table.on_router_cleared = self.cleared.append

    def state(self) -> NeighborState | None:
        entry = self.table.get(A)
        return None if entry is None else entry.state

    def reachable(self) -> None:
        self.table.send(A, 0x86DD, b"first")
        assert self.table.on_advert(A, MAC_A, solicited=True, override=True, router=False) is None
        assert self.state() is NeighborState.REACHABLE
        self.solicits.clear()
        self.written.clear()


def test_reachable_stale_delay_probe_then_deleted() -> None:
    rig = Rig()
    rig.reachable()
    rig.clock.advance(rig.table.reachable_ms)
    assert rig.state() is NeighborState.STALE
    t0 = rig.clock.now_ms
    rig.table.send(A, 0x86DD, b"p")  # §7.3.3: sent at once, with the cached address
    assert rig.written == [(MAC_A, b"p")] and rig.state() is NeighborState.DELAY
    rig.clock.advance(4999)
    assert rig.solicits == [] and rig.state() is NeighborState.DELAY
    rig.clock.advance(1)
    assert rig.state() is NeighborState.PROBE
    assert rig.solicits == [(MAC_A, t0 + 5000)]  # unicast to the cached address
    rig.clock.advance(3000)
    assert rig.solicits == [(MAC_A, t0 + 5000), (MAC_A, t0 + 6000), (MAC_A, t0 + 7000)]
    assert rig.state() is None  # MAX_UNICAST_SOLICIT unanswered: deleted
    assert rig.clock.next_deadline_ms() is None


def test_probe_answered_returns_to_reachable() -> None:
    rig = Rig()
    rig.reachable()
    rig.clock.advance(rig.table.reachable_ms)
    rig.table.send(A, 0x86DD, b"p")
    rig.clock.advance(5000)
    assert rig.state() is NeighborState.PROBE
    rig.table.on_advert(A, MAC_A, solicited=True, override=False, router=False)
    assert rig.state() is NeighborState.REACHABLE
    rig.clock.advance(10_000)
    assert len(rig.solicits) == 1  # the probe timer is gone


def test_timers_and_limits_are_read_from_the_config_at_use() -> None:
    rig = Rig()
    rig.cfg.mcast_solicit = 5
    rig.cfg.retrans_time_ms = 200
    rig.table.send(A, 0x86DD, b"p")
    rig.clock.advance(10_000)
    assert [t for _, t in rig.solicits] == [0, 200, 400, 600, 800]
    assert rig.drops == [Drop.NEIGHBOR_RESOLUTION_FAILED]


def test_reachable_time_is_randomized_and_redrawn_when_the_base_changes() -> None:
    rig = Rig()
    values = set()
    for base in (30_000, 10_000, 30_000, 1_000):
        rig.cfg.base_reachable_time_ms = base
        value = rig.table.reachable_time_ms()
        assert base // 2 <= value <= base * 3 // 2
        values.add(value)
    assert len(values) == 4
    rig.cfg.base_reachable_time_ms = 2_000
    assert 1_000 <= rig.table.reachable_time_ms() <= 3_000


def test_advert_table_of_7_2_5() -> None:
    rig = Rig()
    rig.reachable()
    table = rig.table
    # I.a: O=0, different address, REACHABLE -> STALE, address kept
    table.on_advert(A, MAC_B, solicited=True, override=False, router=False)
    assert rig.state() is NeighborState.STALE and table.lookup(A) == MAC_A
    # I.b: O=0, different address, not REACHABLE -> ignored
    table.on_advert(A, MAC_B, solicited=True, override=False, router=True)
    assert rig.state() is NeighborState.STALE and table.lookup(A) == MAC_A
    assert table.get(A).is_router is False  # type: ignore[union-attr]
    # II: same address, S=0 -> state unchanged; IsRouter from R
    table.on_advert(A, MAC_A, solicited=False, override=False, router=True)
    assert rig.state() is NeighborState.STALE and table.get(A).is_router  # type: ignore[union-attr]
    # II: O=1, different, S=0 -> new address, STALE
    table.on_advert(A, MAC_B, solicited=False, override=True, router=True)
    assert table.lookup(A) == MAC_B and rig.state() is NeighborState.STALE
    # II: no TLLA, S=1 -> REACHABLE
    table.on_advert(A, None, solicited=True, override=False, router=True)
    assert rig.state() is NeighborState.REACHABLE
    # IsRouter true -> false: the router discovery hook hears it
    assert rig.cleared == []
    table.on_advert(A, None, solicited=False, override=False, router=False)
    assert rig.cleared == [A]


def test_advert_without_entry_or_without_address_for_incomplete() -> None:
    rig = Rig()
    assert rig.table.on_advert(A, MAC_A, solicited=True, override=True, router=False) is Drop.NDP_ADVERT_NO_ENTRY
    rig.table.send(A, 0x86DD, b"p")
    assert rig.table.on_advert(A, None, solicited=True, override=True, router=False) is Drop.NDP_ADVERT_WITHOUT_TARGET_LINK_ADDRESS
    assert rig.table.on_advert(A, MAC_A, solicited=False, override=True, router=True) is None
    # unsolicited -> STALE, then the queued packet goes out: DELAY
    assert rig.written == [(MAC_A, b"p")] and rig.state() is NeighborState.DELAY
    assert rig.table.get(A).is_router  # type: ignore[union-attr]


def test_pending_queue_is_bounded_in_octets_and_keeps_the_newest() -> None:
    rig = Rig()
    for i in range(60):  # 60 fragments of 1280 octets: all kept
        rig.table.send(A, 0x86DD, bytes([i]) * 1280)
    big = params.NEIGHBOR_PENDING_QUEUE_BYTES // 2
    rig.table.send(A, 0x86DD, b"x" * big)
    rig.table.send(A, 0x86DD, b"y" * big)
    assert rig.drops and set(rig.drops) == {Drop.NEIGHBOR_QUEUE_FULL}
    rig.table.on_advert(A, MAC_A, solicited=True, override=True, router=False)
    assert [p[:1] for _, p in rig.written] == [b"x", b"y"]
    assert rig.table.pending_bytes == 0
    rig.table.send(b"\x01" * 16, 0x86DD, b"z" * (params.NEIGHBOR_PENDING_QUEUE_BYTES + 1))
    assert rig.drops[-1] is Drop.NEIGHBOR_QUEUE_FULL and rig.table.pending_bytes == 0

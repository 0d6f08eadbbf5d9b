"""The neighbor table shared by ARP (RFC 826) and NDP (RFC 4861 7.3): IP address -> MAC.

Foundation behaviour: static entries; dynamic entries learned from the wire; resolution that
queues a bounded number of packets per address while it retransmits solicitations on the clock,
then gives up; a bounded table. States carry RFC 4861 names so Neighbor Unreachability Detection
(DELAY/PROBE) can be added by arming timers in ``_enter()`` without changing callers.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from stack_under_test import params
from stack_under_test.clock import Clock, Timer
from stack_under_test.drops import Drop


class NeighborState(enum.Enum):  # RFC 4861 7.3.2
    INCOMPLETE = "incomplete"  # resolution in progress, solicitation sent, no answer yet
    REACHABLE = "reachable"  # positive confirmation within ReachableTime
    STALE = "stale"  # more than ReachableTime since confirmation, or learned unsolicited
    DELAY = "delay"
    PROBE = "probe"
    STATIC = "static"  # configured; never changed by the wire


# (ethertype, network-layer packet) waiting for the neighbor's MAC.
Pending = tuple[int, bytes]
# solicit(target, unicast MAC or None for multicast/broadcast, the first pending packet or None)
SolicitFn = Callable[[bytes, "bytes | None", "bytes | None"], None]
WriteFn = Callable[[bytes, int, bytes], object]  # nic.write_packet(dst_mac, ethertype, payload)
FailedFn = Callable[[bytes, list[Pending]], None]
CountFn = Callable[[Drop], None]


@dataclass(slots=True, eq=False)
class NeighborEntry:
    addr: bytes
    mac: bytes | None
    state: NeighborState
    pending: deque[Pending] = field(default_factory=deque)
    solicits_sent: int = 0
    timer: Timer | None = None
    reachable_until_ms: int = 0
    is_router: bool = False  # RFC 4861 IsRouter flag; unused by ARP


class NeighborTable:
    def __init__(
        self,
        clock: Clock,
        write: WriteFn,
        solicit: SolicitFn,
        count_tx_drop: CountFn,
        on_failed: FailedFn | None = None,
        *,
        max_solicit: int = params.MAX_MULTICAST_SOLICIT,
        retrans_ms: int = params.RETRANS_TIMER_MS,
        reachable_ms: int = params.REACHABLE_TIME_MS,
        queue_len: int = params.NEIGHBOR_PENDING_QUEUE_LEN,
        size: int = params.NEIGHBOR_CACHE_SIZE,
    ) -> None:
        self.clock = clock
        self._write = write
        self._solicit = solicit
        self._count_tx_drop = count_tx_drop
        self._on_failed = on_failed
        self.max_solicit = max_solicit
        self.retrans_ms = retrans_ms
        self.reachable_ms = reachable_ms
        self.queue_len = queue_len
        self.size = size
        self.entries: dict[bytes, NeighborEntry] = {}
        self.version = 0  # bumped on every entry change, so senders may cache a resolved MAC

    # ---- queries ------------------------------------------------------------------------
    def get(self, addr: bytes) -> NeighborEntry | None:
        return self.entries.get(addr)

    def lookup(self, addr: bytes) -> bytes | None:
        """The MAC for ``addr`` if known (any state but INCOMPLETE)."""
        entry = self.entries.get(addr)
        if entry is None:
            return None
        if entry.state is NeighborState.REACHABLE and self.clock.now_ms >= entry.reachable_until_ms:
            # RFC 4861 7.3.3: "When ReachableTime milliseconds have passed since receipt of the last
            # reachability confirmation ... the entry's state changes from REACHABLE to STALE."
            self._enter(entry, NeighborState.STALE)
        return entry.mac

    # ---- configuration ------------------------------------------------------------------
    def add_static(self, addr: bytes, mac: bytes) -> None:
        entry = self.entries.get(addr)
        if entry is None:
            if not self._make_room():
                self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
                return
            entry = self.entries[addr] = NeighborEntry(addr, mac, NeighborState.STATIC)
        entry.mac = mac
        self._enter(entry, NeighborState.STATIC)
        self._flush(entry)

    def remove(self, addr: bytes) -> None:
        entry = self.entries.pop(addr, None)
        self.version += 1
        if entry is not None and entry.timer is not None:
            entry.timer.cancel()

    # ---- learning from the wire -----------------------------------------------------------
    def learn(
        self, addr: bytes, mac: bytes, *, solicited: bool = False, override: bool = True, create: bool = True
    ) -> bool:
        """Record that ``addr`` is at ``mac``; returns True when an entry exists afterwards.

        ``solicited``: a confirmation of reachability (ARP reply to us, NA with S=1) -> REACHABLE;
        otherwise the entry is STALE when new or when its MAC changed (RFC 4861 7.2.5, 7.3.3).
        ``override=False`` keeps a known MAC (NA with O=0). ``create=False`` only updates an
        existing entry (RFC 826's merge flag; RFC 4861 7.2.5's unsolicited-NA rule).
        """
        entry = self.entries.get(addr)
        if entry is None:
            if not create or not self._make_room():
                return False
            entry = self.entries[addr] = NeighborEntry(addr, mac, NeighborState.STALE)
            self._enter(entry, NeighborState.REACHABLE if solicited else NeighborState.STALE)
            return True
        if entry.state is NeighborState.STATIC:
            return True
        if entry.state is NeighborState.INCOMPLETE:
            entry.mac = mac
            self._enter(entry, NeighborState.REACHABLE if solicited else NeighborState.STALE)
            self._flush(entry)
            return True
        changed = mac != entry.mac
        if changed and not override:
            if entry.state is NeighborState.REACHABLE:
                self._enter(entry, NeighborState.STALE)
            return True
        entry.mac = mac
        self.version += 1
        if solicited:
            self._enter(entry, NeighborState.REACHABLE)
        elif changed:
            self._enter(entry, NeighborState.STALE)
        return True

    # ---- sending ----------------------------------------------------------------------------
    def send(self, addr: bytes, ethertype: int, payload: bytes) -> None:
        """Transmit ``payload`` to ``addr``, resolving it first when needed."""
        entry = self.entries.get(addr)
        if entry is not None and entry.mac is not None:
            self._write(entry.mac, ethertype, payload)
            return
        if entry is None:
            if not self._make_room():
                self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
                return
            entry = self.entries[addr] = NeighborEntry(addr, None, NeighborState.INCOMPLETE)
            entry.pending.append((ethertype, payload))
            self._enter(entry, NeighborState.INCOMPLETE)
            return
        # RFC 1122 2.3.2.2: "SHOULD save (rather than discard) at least one (the latest) packet";
        # the oldest queued packet gives way.
        if len(entry.pending) >= self.queue_len:
            entry.pending.popleft()
            self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
        entry.pending.append((ethertype, payload))

    # ---- state machine --------------------------------------------------------------------
    def _enter(self, entry: NeighborEntry, state: NeighborState) -> None:
        """Change state and arm exactly the timer the new state needs."""
        self.version += 1
        if entry.timer is not None:
            entry.timer.cancel()
            entry.timer = None
        entry.state = state
        if state is NeighborState.INCOMPLETE:
            entry.solicits_sent = 0
            self._send_solicit(entry)
        elif state is NeighborState.REACHABLE:
            entry.reachable_until_ms = self.clock.now_ms + self.reachable_ms

    def _send_solicit(self, entry: NeighborEntry) -> None:
        entry.solicits_sent += 1
        first = entry.pending[0][1] if entry.pending else None
        entry.timer = self.clock.schedule(self.retrans_ms, lambda: self._on_retransmit_expired(entry))
        self._solicit(entry.addr, None, first)

    def _on_retransmit_expired(self, entry: NeighborEntry) -> None:
        if self.entries.get(entry.addr) is not entry or entry.state is not NeighborState.INCOMPLETE:
            return
        if entry.solicits_sent < self.max_solicit:
            self._send_solicit(entry)
            return
        # RFC 4861 7.3.3: after MAX_MULTICAST_SOLICIT solicitations "address resolution has failed"
        # and queued packets are discarded (IPv4 and IPv6 may send an ICMP error per packet).
        del self.entries[entry.addr]
        self.version += 1
        entry.timer = None
        pending = list(entry.pending)
        entry.pending.clear()
        for _ in pending:
            self._count_tx_drop(Drop.NEIGHBOR_RESOLUTION_FAILED)
        if self._on_failed is not None:
            self._on_failed(entry.addr, pending)

    def _flush(self, entry: NeighborEntry) -> None:
        mac = entry.mac
        if mac is None:
            return
        while entry.pending:
            ethertype, payload = entry.pending.popleft()
            self._write(mac, ethertype, payload)

    def _make_room(self) -> bool:
        """Bound the table: evict the oldest dynamic entry, resolved ones first. False if all static."""
        if len(self.entries) < self.size:
            return True
        victim = next((e for e in self.entries.values() if e.state not in (NeighborState.STATIC, NeighborState.INCOMPLETE)), None)
        if victim is None:
            victim = next((e for e in self.entries.values() if e.state is NeighborState.INCOMPLETE), None)
        if victim is None:
            return False
        for _ in victim.pending:
            self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
        self.remove(victim.addr)
        return True

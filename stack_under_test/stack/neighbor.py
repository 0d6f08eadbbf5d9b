"""The neighbor table shared by ARP (RFC 826) and NDP (RFC 4861 §7.3, Appendix C): IP -> MAC.

Both families: static entries; dynamic entries learned from the wire; resolution (INCOMPLETE)
that queues packets bounded in octets while it retransmits solicitations on the clock, then gives
up; a bounded table.

With a ``config`` (IPv6: ``lambda: nic.ipv6_config``) the table also runs Neighbor
Unreachability Detection (RFC 4861 §7.3.3): REACHABLE -> STALE after the randomized
ReachableTime, STALE -> DELAY on the first send, DELAY -> PROBE after DELAY_FIRST_PROBE_TIME with
unicast solicitations every RetransTimer, and the entry deleted after MAX_UNICAST_SOLICIT
unanswered probes. Confirmations come from solicited Neighbor Advertisements and, as upper-layer
hints (§7.3.1, ``confirm``), from TCP acknowledging new data; UDP gives none. The knobs are read from the config
at each use, so a Router Advertisement or set_ipv6_option takes effect on the next timer.
Without a config (ARP) a STALE entry stays usable as before, with the constructor's timers.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from stack_under_test import params
from stack_under_test.clock import Clock, Timer
from stack_under_test.drops import Drop


class NeighborState(enum.Enum):  # RFC 4861 7.3.2
    INCOMPLETE = "incomplete"  # resolution in progress, solicitation sent, no answer yet
    REACHABLE = "reachable"  # positive confirmation within ReachableTime
    STALE = "stale"  # more than ReachableTime since confirmation, or learned unsolicited
    DELAY = "delay"  # STALE and a packet was sent: wait DELAY_FIRST_PROBE_TIME for a hint
    PROBE = "probe"  # unicast solicitations every RetransTimer until confirmed or given up
    STATIC = "static"  # configured; never changed by the wire


class NUDConfig(Protocol):
    """What NUD reads at use time: stack/ipv6_config.IPv6Config for NDP (RFC 4861 §10),
    network/arp.ARPCacheConfig for ARP."""

    @property
    def mcast_solicit(self) -> int: ...

    @property
    def ucast_solicit(self) -> int: ...

    @property
    def retrans_time_ms(self) -> int: ...

    @property
    def delay_first_probe_time_ms(self) -> int: ...

    @property
    def base_reachable_time_ms(self) -> int: ...


# (ethertype, network-layer packet) waiting for the neighbor's MAC.
Pending = tuple[int, bytes]
# solicit(target, unicast MAC or None for multicast/broadcast, the first pending packet or None)
SolicitFn = Callable[[bytes, "bytes | None", "bytes | None"], None]
WriteFn = Callable[[bytes, int, bytes], object]  # nic.write_packet(dst_mac, ethertype, payload)
FailedFn = Callable[[bytes, list[Pending]], None]
CountFn = Callable[[Drop], None]
RouterClearedFn = Callable[[bytes], None]


@dataclass(slots=True, eq=False)
class NeighborEntry:
    addr: bytes
    mac: bytes | None
    state: NeighborState
    pending: deque[Pending] = field(default_factory=deque)
    pending_bytes: int = 0
    solicits_sent: int = 0
    timer: Timer | None = None
    reachable_until_ms: int = 0
    is_router: bool = False  # RFC 4861 IsRouter flag; unused by ARP
    solicit_limit: int | None = None  # a reachability probe's (``probe``) one solicitation


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
        queue_len: int | None = None,
        queue_bytes: int = params.NEIGHBOR_PENDING_QUEUE_BYTES,
        size: int = params.NEIGHBOR_CACHE_SIZE,
        config: Callable[[], NUDConfig] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self._write = write
        self._solicit = solicit
        self._count_tx_drop = count_tx_drop
        self._on_failed = on_failed
        self._config = config
        self._rng = rng if rng is not None else random.Random(0)
        self.max_solicit = max_solicit
        self.retrans_ms = retrans_ms
        self.reachable_ms = reachable_ms
        self.queue_len = queue_len  # optional cap in packets on top of the octet cap
        self.queue_bytes = queue_bytes
        self.size = size
        self.entries: dict[bytes, NeighborEntry] = {}
        # Neighbours whose resolution or re-validation failed, and until when that counts
        # (RFC 1122 3.3.1.4: "Failure to ARP or to re-validate ARP mappings may be used as negative
        # advice for the corresponding IP address"; Linux keeps them as FAILED entries).
        self.failed_until_ms: dict[bytes, int] = {}
        self.pending_bytes = 0  # over the whole table, capped by NEIGHBOR_PENDING_TOTAL_BYTES
        self.version = 0  # bumped on every entry change, so senders may cache a resolved MAC
        # Registered by router discovery: called when an entry's IsRouter goes from true to
        # false (RFC 4861 §7.2.5: "the node MUST remove that router from the Default Router List").
        self.on_router_cleared: RouterClearedFn | None = None
        self._reachable_base = -1
        self._reachable_at_ms = 0

    # ---- timers and limits, from the config when NUD runs ----------------------------------------
    def _retrans_ms(self) -> int:
        return self._config().retrans_time_ms if self._config is not None else self.retrans_ms

    def _max_multicast(self) -> int:
        return self._config().mcast_solicit if self._config is not None else self.max_solicit

    def reachable_time_ms(self) -> int:
        """ReachableTime (RFC 4861 §6.3.2): "a uniformly distributed random value between
        MIN_RANDOM_FACTOR and MAX_RANDOM_FACTOR times BaseReachableTime milliseconds. A new
        random value should be calculated when BaseReachableTime changes ... or at least every
        few hours"; like Linux we draw again every REACHABLE_TIME_RECOMPUTE_MS."""
        if self._config is None:
            return self.reachable_ms
        base = self._config().base_reachable_time_ms
        now = self.clock.now_ms
        if base != self._reachable_base or now - self._reachable_at_ms >= params.REACHABLE_TIME_RECOMPUTE_MS:
            self._reachable_base = base
            self._reachable_at_ms = now
            low = base * params.MIN_RANDOM_FACTOR_PERCENT // 100
            high = base * params.MAX_RANDOM_FACTOR_PERCENT // 100
            self.reachable_ms = self._rng.randint(low, max(low, high))
        return self.reachable_ms

    # ---- queries ------------------------------------------------------------------------
    def get(self, addr: bytes) -> NeighborEntry | None:
        entry = self.entries.get(addr)
        if entry is not None:
            self._age(entry)
        return entry

    def has_failed(self, addr: bytes) -> bool:
        """Whether resolving or re-validating ``addr`` failed lately (negative advice on it)."""
        until = self.failed_until_ms.get(addr)
        if until is None:
            return False
        if self.clock.now_ms >= until:
            del self.failed_until_ms[addr]
            return False
        return True

    def _mark_failed(self, addr: bytes) -> None:
        if len(self.failed_until_ms) >= self.size:
            self.failed_until_ms.clear()  # bounded, like the table itself
        self.failed_until_ms[addr] = self.clock.now_ms + params.FAILED_NEIGHBOR_MEMORY_MS

    def lookup(self, addr: bytes) -> bytes | None:
        """The MAC for ``addr`` if known (any state but INCOMPLETE)."""
        entry = self.get(addr)
        return None if entry is None else entry.mac

    def _age(self, entry: NeighborEntry) -> None:
        if entry.state is NeighborState.REACHABLE and self.clock.now_ms >= entry.reachable_until_ms:
            # RFC 4861 7.3.3: "When ReachableTime milliseconds have passed since receipt of the last
            # reachability confirmation ... the entry's state changes from REACHABLE to STALE."
            # A deadline, not a timer: nothing happens until someone looks.
            self._enter(entry, NeighborState.STALE)

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
        if entry is not None:
            if entry.timer is not None:
                entry.timer.cancel()
            self._drop_pending(entry, count=None)

    def clear(self) -> None:
        """Forget every dynamic entry (the NIC went down)."""
        for addr, entry in list(self.entries.items()):
            if entry.state is not NeighborState.STATIC:
                self.remove(addr)

    # ---- learning from the wire -----------------------------------------------------------
    def learn(self, addr: bytes, mac: bytes, *, solicited: bool = False, create: bool = True) -> bool:
        """Record that ``addr`` is at ``mac``; returns True when an entry exists afterwards.

        ``solicited``: a confirmation of reachability (ARP reply to us) -> REACHABLE; otherwise the
        entry is STALE when new or when its MAC changed (RFC 4861 §7.2.3, §6.3.4, §8.3, §7.3.3).
        ``create=False`` only updates an existing entry (RFC 826's merge flag). Neighbor
        Advertisements, with their Override and Router flags, go through ``on_advert``.
        """
        entry = self.get(addr)
        if entry is None:
            if not create or not self._make_room():
                return False
            entry = self.entries[addr] = NeighborEntry(addr, mac, NeighborState.STALE)
            self._enter(entry, NeighborState.REACHABLE if solicited else NeighborState.STALE)
            return True
        if entry.state is NeighborState.INCOMPLETE:
            self._resolved(entry, mac, solicited)
        elif entry.state is not NeighborState.STATIC:
            self._updated(entry, mac, solicited)
        return True

    def confirm(self, addr: bytes) -> None:
        """An upper layer saw forward progress through ``addr`` (RFC 4861 7.3.1): a resolved
        entry becomes REACHABLE for another ReachableTime."""
        entry = self.get(addr)
        if entry is not None and entry.mac is not None and entry.state not in (NeighborState.STATIC,
                                                                               NeighborState.INCOMPLETE):
            self._enter(entry, NeighborState.REACHABLE)

    def on_advert(self, addr: bytes, mac: bytes | None, *, solicited: bool, override: bool, router: bool) -> Drop | None:
        """A Neighbor Advertisement for ``addr`` (RFC 4861 §7.2.5 and Appendix C)."""
        entry = self.get(addr)
        # §7.2.5: "If no entry exists, the advertisement SHOULD be silently discarded."
        if entry is None:
            return Drop.NDP_ADVERT_NO_ENTRY
        if entry.state is NeighborState.STATIC:
            return None
        if entry.state is NeighborState.INCOMPLETE:
            # §7.2.5: "If the link layer has addresses and no Target Link-Layer Address option is
            # included, the receiving node SHOULD silently discard the received advertisement."
            if mac is None:
                return Drop.NDP_ADVERT_WITHOUT_TARGET_LINK_ADDRESS
            # "... sets the IsRouter flag ... based on the Router flag".
            entry.is_router = router
            self._resolved(entry, mac, solicited)
            return None
        different = mac is not None and mac != entry.mac
        # §7.2.5: "I. If the Override flag is clear and the supplied link-layer address differs
        # from that in the cache, then one of two actions takes place: a. If the state of the
        # entry is REACHABLE, set it to STALE, but do not update the entry in any other way.
        # b. Otherwise, the received advertisement should be ignored and MUST NOT update the cache."
        if not override and different:
            if entry.state is NeighborState.REACHABLE:
                self._enter(entry, NeighborState.STALE)
            return None
        # "II. If the Override flag is set, or the supplied link-layer address is the same as that
        # in the cache, or no Target Link-Layer Address option was supplied, the received
        # advertisement MUST update the Neighbor Cache entry as follows" (_updated).
        self._updated(entry, mac, solicited)
        # "- The IsRouter flag in the cache entry MUST be set based on the Router flag in the
        # received advertisement. In those cases where the IsRouter flag changes from TRUE to
        # FALSE as a result of this update, the node MUST remove that router from the Default
        # Router List and update the Destination Cache entries for all destinations using that
        # neighbor as a router as specified in Section 7.3.3."
        was_router = entry.is_router
        entry.is_router = router
        if was_router and not router and self.on_router_cleared is not None:
            self.on_router_cleared(addr)
        return None

    def _confirmed(self, addr: bytes) -> None:
        self.failed_until_ms.pop(addr, None)

    def _resolved(self, entry: NeighborEntry, mac: bytes, solicited: bool) -> None:
        """An INCOMPLETE entry learnt its MAC. RFC 4861 §7.2.5: "record the link-layer address in
        the Neighbor Cache entry ... If the advertisement's Solicited flag is set, the state of the
        entry is set to REACHABLE; otherwise, it is set to STALE", and "sends any packets queued
        for the neighbor" (an ARP reply to us counts as solicited)."""
        entry.mac = mac
        self._confirmed(entry.addr)
        self._enter(entry, NeighborState.REACHABLE if solicited else NeighborState.STALE)
        self._flush(entry)

    def _updated(self, entry: NeighborEntry, mac: bytes | None, solicited: bool) -> None:
        """News of a resolved entry. RFC 4861 §7.2.5 II: "The link-layer address ... MUST be
        inserted in the cache (if one is supplied and differs from the already recorded address).
        - If the Solicited flag is set, the state of the entry MUST be set to REACHABLE. If the
        Solicited flag is zero and the link-layer address was updated with a different address,
        the state MUST be set to STALE. Otherwise, the entry's state remains unchanged." (Learning
        from other messages follows the same table, §7.2.3, §6.3.4, §8.3.)"""
        changed = mac is not None and mac != entry.mac
        if changed:
            entry.mac = mac
            self.version += 1
        if solicited:
            self._confirmed(entry.addr)
            self._enter(entry, NeighborState.REACHABLE)
        elif changed:
            self._enter(entry, NeighborState.STALE)

    # ---- sending ----------------------------------------------------------------------------
    def send(self, addr: bytes, ethertype: int, payload: bytes) -> None:
        """Transmit ``payload`` to ``addr``, resolving it first when needed."""
        entry = self.entries.get(addr)
        if entry is not None and entry.mac is not None:
            if self._config is not None and entry.state is not NeighborState.STATIC:
                self._age(entry)
                if entry.state is NeighborState.STALE:
                    # RFC 4861 §7.3.3: "The first time a node sends a packet to a neighbor whose
                    # entry is STALE, the sender changes the state to DELAY and sets a timer to
                    # expire in DELAY_FIRST_PROBE_TIME seconds."
                    self._enter(entry, NeighborState.DELAY)
            self._write(entry.mac, ethertype, payload)
            return
        if entry is None:
            if not self._make_room():
                self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
                return
            entry = self.entries[addr] = NeighborEntry(addr, None, NeighborState.INCOMPLETE)
            self._queue(entry, ethertype, payload)
            self._enter(entry, NeighborState.INCOMPLETE)
            return
        self._queue(entry, ethertype, payload)

    def probe(self, addr: bytes) -> bool:
        """Solicit ``addr`` once, with no packet waiting (RFC 4191 3.5: "sending a single Neighbor
        Solicitation to that router's address"): an answer makes an entry as resolution would,
        silence leaves none. False when an entry exists already (nothing is sent)."""
        if addr in self.entries or not self._make_room():
            return False
        entry = self.entries[addr] = NeighborEntry(addr, None, NeighborState.INCOMPLETE, solicit_limit=1)
        self._enter(entry, NeighborState.INCOMPLETE)
        return True

    def _queue(self, entry: NeighborEntry, ethertype: int, payload: bytes) -> None:
        """RFC 4861 §7.2.2: "While waiting for address resolution to complete, the sender MUST,
        for each neighbor, retain a small queue of packets waiting for address resolution to
        complete. The queue MUST hold at least one packet ... When a queue overflows, the new
        arrival SHOULD replace the oldest entry." The bound is in octets, as Linux's
        unres_qlen_bytes, so every fragment of one large datagram fits."""
        size = len(payload)
        if size > self.queue_bytes or self.pending_bytes + size > params.NEIGHBOR_PENDING_TOTAL_BYTES:
            self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
            return
        while entry.pending and (
            entry.pending_bytes + size > self.queue_bytes
            or (self.queue_len is not None and len(entry.pending) >= self.queue_len)
        ):
            _, old = entry.pending.popleft()
            entry.pending_bytes -= len(old)
            self.pending_bytes -= len(old)
            self._count_tx_drop(Drop.NEIGHBOR_QUEUE_FULL)
        entry.pending.append((ethertype, payload))
        entry.pending_bytes += size
        self.pending_bytes += size

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
            self._send_solicit(entry, None)
        elif state is NeighborState.REACHABLE:
            entry.reachable_until_ms = self.clock.now_ms + self.reachable_time_ms()
        elif state is NeighborState.DELAY and self._config is not None:
            delay = self._config().delay_first_probe_time_ms
            entry.timer = self.clock.schedule(delay, lambda: self._on_delay_expired(entry))
        elif state is NeighborState.PROBE:
            # RFC 4861 §7.3.3: "Upon entering the PROBE state, a node sends a unicast Neighbor
            # Solicitation message to the neighbor using the cached link-layer address."
            entry.solicits_sent = 0
            self._send_solicit(entry, entry.mac)

    def _send_solicit(self, entry: NeighborEntry, unicast_mac: bytes | None) -> None:
        entry.solicits_sent += 1
        first = entry.pending[0][1] if entry.pending else None
        entry.timer = self.clock.schedule(self._retrans_ms(), lambda: self._on_retransmit_expired(entry))
        self._solicit(entry.addr, unicast_mac, first)

    def _on_delay_expired(self, entry: NeighborEntry) -> None:
        if self.entries.get(entry.addr) is entry and entry.state is NeighborState.DELAY:
            # RFC 4861 §7.3.3: "If the entry is still in the DELAY state when the timer expires,
            # the entry's state changes to PROBE."
            self._enter(entry, NeighborState.PROBE)

    def _on_retransmit_expired(self, entry: NeighborEntry) -> None:
        if self.entries.get(entry.addr) is not entry:
            return
        if entry.state is NeighborState.PROBE:
            # RFC 4861 §7.3.3: "If no response is received after waiting RetransTimer milliseconds
            # after sending the MAX_UNICAST_SOLICIT solicitations, retransmissions cease and the
            # entry SHOULD be deleted."
            limit = self._config().ucast_solicit if self._config is not None else self.max_solicit
            if entry.solicits_sent < limit:
                self._send_solicit(entry, entry.mac)
                return
            entry.timer = None
            self.remove(entry.addr)
            self._mark_failed(entry.addr)
            return
        if entry.state is not NeighborState.INCOMPLETE:
            return
        limit = self._max_multicast() if entry.solicit_limit is None or entry.pending else entry.solicit_limit
        if entry.solicits_sent < limit:
            self._send_solicit(entry, None)
            return
        # RFC 4861 7.3.3: after MAX_MULTICAST_SOLICIT solicitations "address resolution has failed"
        # and queued packets are discarded (IPv4 and IPv6 may send an ICMP error per packet).
        del self.entries[entry.addr]
        self.version += 1
        entry.timer = None
        self._mark_failed(entry.addr)
        pending = list(entry.pending)
        self._drop_pending(entry, count=Drop.NEIGHBOR_RESOLUTION_FAILED)
        if self._on_failed is not None:
            self._on_failed(entry.addr, pending)

    def _drop_pending(self, entry: NeighborEntry, count: Drop | None) -> None:
        for _ in entry.pending:
            if count is not None:
                self._count_tx_drop(count)
        self.pending_bytes -= entry.pending_bytes
        entry.pending.clear()
        entry.pending_bytes = 0

    def _flush(self, entry: NeighborEntry) -> None:
        mac = entry.mac
        if mac is None or not entry.pending:
            return
        self.pending_bytes -= entry.pending_bytes
        entry.pending_bytes = 0
        while entry.pending:
            ethertype, payload = entry.pending.popleft()
            self._write(mac, ethertype, payload)
        if self._config is not None and entry.state is NeighborState.STALE:
            # The queued packets were just sent to a STALE neighbor: §7.3.3's STALE -> DELAY.
            self._enter(entry, NeighborState.DELAY)

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

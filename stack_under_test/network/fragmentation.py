"""Fragment reassembly and fragmentation, shared by IPv4 (RFC 791) and IPv6 (RFC 8200 4.5).

``Reassembler`` holds the fragments of many datagrams, each under an opaque key (IPv4: source,
destination, protocol, ID; IPv6: source, destination, identification). Both families count
fragment offsets in 8-octet units, so per datagram a bitmap of 8-octet blocks says which octets
are held: a fragment's overlap check scans only its own blocks (in C), so a datagram costs time
linear in its size however its fragments arrive. Completion is O(1) to detect: the pieces never
overlap, so the datagram is whole exactly when the octets held equal the length the last
fragment announced (RFC 815's hole list, kept as one number); the pieces are sorted once then.
Memory is bounded by a high and a low threshold over every octet queued (overheads included),
oldest datagrams evicted first (Linux ipfrag_high_thresh / ipfrag_low_thresh). Timeouts use one
clock timer for the earliest deadline and a heap of deadlines, never polling.

The fragmenters cut a datagram into packets that fit an MTU: IPv4 with the copied-flag rule for
options (RFC 791 3.1), IPv6 with a Fragment header (RFC 8200 4.5).

Nothing here sends ICMP or counts NIC statistics: the IP endpoints (``ipv4/reassembly.py``,
``ipv6/reassembly.py``) turn the verdicts into errors and counts.
"""

from __future__ import annotations

import heapq
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Final

from stack_under_test import params
from stack_under_test.clock import Clock, Timer
from stack_under_test.drops import Drop
from stack_under_test.wire.ipv4 import FLAG_MF, FLAG_RESERVED, MIN_HEADER_LEN, OFFSET_MASK, encode_header
from stack_under_test.wire.ipv4_options import copied_options
from stack_under_test.wire.ipv6_ext import FRAGMENT_HEADER_LEN, FragmentHeader

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

# What one queued piece and one datagram in progress cost beyond their payload octets, measured
# with tracemalloc on CPython 3.11 (piece: bytes object, dict slot, offset; datagram: the record,
# its dict and bitmap, its key with the addresses, the first fragment's header, its heap entry and its
# table slot). Charging them, as Linux charges skb truesize, keeps a flood of tiny fragments of
# distinct datagrams inside the thresholds too (bench/bench_reassembly.py checks the sum).
FRAGMENT_OVERHEAD: Final = 104
REASSEMBLY_OVERHEAD: Final = 920
_ONES: Final = b"\x01" * 8192  # a run of set blocks; 8,192 blocks cover 65,536 octets

# Timeout callback: (key, first, first_payload). ``first`` is what the caller passed with the
# fragment at offset zero (None when it never arrived); ``first_payload`` is that fragment's data.
TimeoutCallback = Callable[[Hashable, Any, "bytes | None"], None]


# ECN codepoints (RFC 3168 5): the two low bits of the IPv4 TOS octet / IPv6 Traffic Class.
NOT_ECT: Final = 0
ECN_CE: Final = 3


class Reassembled:
    """A whole datagram: its payload (the fragmentable part), the first fragment's context, and
    the set of ECN codepoints its fragments carried (bit ``1 << codepoint``)."""

    __slots__ = ("ecn_seen", "first", "payload")

    def __init__(self, payload: bytes, first: Any, ecn_seen: int = 0) -> None:
        self.payload = payload
        self.first = first
        self.ecn_seen = ecn_seen


def reassembled_ecn(ecn_seen: int, first: int) -> int | None:
    """The ECN codepoint of a datagram whose fragments carried the codepoints in ``ecn_seen``
    (bit ``1 << codepoint``), the first fragment ``first``; None: it must be dropped.

    RFC 3168 5.3: "Reassembly of a fragmented packet MUST NOT lose indications of congestion. In
    other words, if any fragment of an IP packet to be reassembled has the CE codepoint set, then
    one of two actions MUST be taken: * Set the CE codepoint on the reassembled packet. However,
    this MUST NOT occur if any of the other fragments contributing to this reassembly carries the
    Not-ECT codepoint. * The packet is dropped, instead of being reassembled, for any other
    reason." and "Reassembly of a fragmented packet MUST NOT change the ECN codepoint when all of
    the fragments carry the same codepoint." Not-ECT mixed with ECT, on which the RFC places no
    requirement, is dropped too, and a mix of ECT(0) and ECT(1) keeps the first fragment's, as
    Linux's ip_frag_ecn_table does.
    """
    if ecn_seen & (1 << NOT_ECT) and ecn_seen != 1 << NOT_ECT:
        return None
    return ECN_CE if ecn_seen & (1 << ECN_CE) else first


class _Datagram:
    """One datagram in reassembly. ``total`` is None until the last fragment (M=0) arrived."""

    __slots__ = ("blocks", "cost", "deadline_ms", "ecn_seen", "filled", "first", "key", "max_end", "pieces", "poisoned",
                 "seq", "total")

    def __init__(self, key: Hashable, deadline_ms: int, seq: int) -> None:
        self.key = key
        self.pieces: dict[int, bytes] = {}  # offset -> data
        self.blocks = bytearray()  # one octet per 8-octet block: 1 = held
        self.filled = 0  # octets held; pieces never overlap, so this is their union's size
        self.max_end = 0  # furthest octet any piece reaches
        self.total: int | None = None
        self.first: Any = None
        self.cost = REASSEMBLY_OVERHEAD
        self.deadline_ms = deadline_ms
        self.seq = seq
        self.poisoned = False
        self.ecn_seen = 0  # bit 1 << codepoint for each ECN codepoint a fragment carried (RFC 3168 5.3)


class Reassembler:
    """Fragments in, whole datagrams out; see the module docstring for the guarantees.

    ``timeout_ms`` (a number, or a callable returning one) is read whenever a datagram starts, so
    a changed timer (``stack.set_timer``) applies to the next one.
    """

    def __init__(
        self,
        clock: Clock,
        timeout_ms: int | Callable[[], int],
        *,
        high_thresh: int = params.REASSEMBLY_HIGH_THRESH,
        low_thresh: int = params.REASSEMBLY_LOW_THRESH,
        max_fragments: int = params.MAX_FRAGMENTS_PER_DATAGRAM,
        max_payload: int = 0xFFFF,
        on_timeout: TimeoutCallback | None = None,
    ) -> None:
        self.clock = clock
        self.timeout_ms: Callable[[], int] = timeout_ms if callable(timeout_ms) else (lambda: int(timeout_ms))
        self.high_thresh = high_thresh
        self.low_thresh = min(low_thresh, high_thresh)
        self.max_fragments = max_fragments
        self.max_payload = max_payload
        self.on_timeout = on_timeout
        self.datagrams: OrderedDict[Hashable, _Datagram] = OrderedDict()  # oldest first
        self.queued_bytes = 0  # payload octets plus overheads of everything held
        self.peak_queued_bytes = 0
        self.counters: Counter[str] = Counter()  # completed, timed_out, evicted, overlap, ...
        self._deadlines: list[tuple[int, int, Hashable]] = []  # (deadline, seq, key) heap; stale entries skipped
        self._seq = 0
        self._timer: Timer | None = None

    @classmethod
    def for_stack(
        cls, stack: Stack, timer: str, max_payload: int, on_timeout: TimeoutCallback
    ) -> Reassembler:
        """The reassembler an IP protocol keeps: the stack's clock, memory and fragment limits,
        and its timer ``timer`` (``stack.set_timer`` may change it between datagrams)."""
        opts = stack.options
        return cls(
            stack.clock,
            lambda: stack.timers_ms[timer],
            high_thresh=opts.reassembly_high_thresh,
            low_thresh=opts.reassembly_low_thresh,
            max_fragments=opts.max_fragments_per_datagram,
            max_payload=max_payload,
            on_timeout=on_timeout,
        )

    # ---- queries ---------------------------------------------------------------------------
    def pending_keys(self) -> set[Hashable]:
        """Keys of the datagrams in reassembly (discarded, poisoned ones excluded)."""
        return {k for k, d in self.datagrams.items() if not d.poisoned}

    def __len__(self) -> int:
        return len(self.datagrams)

    # ---- the one entry point ---------------------------------------------------------------
    def add(
        self, key: Hashable, offset: int, payload: bytes | memoryview, more: bool, first: Any = None, ecn: int = 0
    ) -> Reassembled | Drop | None:
        """Queue one fragment: its data starts at octet ``offset`` of the fragmentable part.

        Returns the whole datagram when this fragment completes it, None when it is held, or the
        Drop that says why it (and sometimes its whole datagram) was discarded. ``first`` is kept
        when ``offset`` is 0 and handed back on completion or timeout; ``ecn`` is the fragment's
        ECN codepoint, gathered into the result's ``ecn_seen``.
        """
        size = len(payload)
        end = offset + size
        # RFC 8200 4.5 and RFC 791: a fragment always carries data; an empty one is dropped alone.
        if size == 0:
            return Drop.FRAGMENT_EMPTY
        if offset & 7:
            return Drop.FRAGMENT_INCONSISTENT_LENGTH  # offsets are in 8-octet units on the wire
        # RFC 791 3.1: "Total Length ... allows the length of a datagram to be up to 65,535 octets";
        # a fragment reaching further can never be part of a valid datagram ("ping of death").
        if end > self.max_payload:
            return Drop.FRAGMENT_DATAGRAM_TOO_LONG
        datagram = self.datagrams.get(key)
        if datagram is None:
            datagram = self._start(key)
        elif datagram.poisoned:
            # RFC 5722 4: "the entire datagram (and any constituent fragments, including those
            # not yet received) MUST be silently discarded."
            return Drop.FRAGMENT_OF_DISCARDED_DATAGRAM
        pieces, blocks = datagram.pieces, datagram.blocks
        held = pieces.get(offset)
        if held is not None and len(held) == size:
            # An exact duplicate (a retransmission, or a copy the network made): the octets are
            # already held. Linux counts it and keeps the queue (IPFRAG_DUP).
            return Drop.FRAGMENT_DUPLICATE
        # Starts are 8-octet aligned, so two fragments overlap exactly when their blocks do.
        first_block, end_block = offset >> 3, (end + 7) >> 3
        if held is not None or blocks.find(1, first_block, end_block) != -1:
            return self._poison(datagram, Drop.FRAGMENT_OVERLAP)
        # The last fragment fixes the length; anything past it, or a second different end, means
        # the fragments do not describe one datagram (Linux: "the segment is corrupted").
        total = datagram.total
        if not more:
            if end < datagram.max_end or (total is not None and total != end):
                return self._poison(datagram, Drop.FRAGMENT_INCONSISTENT_LENGTH)
            datagram.total = total = end
        elif total is not None and end > total:
            return self._poison(datagram, Drop.FRAGMENT_INCONSISTENT_LENGTH)
        if len(pieces) >= self.max_fragments:
            self._remove(datagram)
            self.counters["too_many_fragments"] += 1
            return Drop.FRAGMENT_TOO_MANY
        cost = size + FRAGMENT_OVERHEAD
        grow = end_block - len(blocks)
        if grow > 0:
            blocks.extend(bytes(grow))  # the bitmap is memory too: charged like the data
            cost += grow
        blocks[first_block:end_block] = _ONES[: end_block - first_block]
        pieces[offset] = bytes(payload)
        if offset == 0:
            datagram.first = first
        datagram.ecn_seen |= 1 << (ecn & 3)
        datagram.filled += size
        if end > datagram.max_end:
            datagram.max_end = end
        datagram.cost += cost
        self.queued_bytes += cost
        if total is not None and datagram.filled == total:
            self._remove(datagram)
            self.counters["completed"] += 1
            data = b"".join([pieces[o] for o in sorted(pieces)]) if len(pieces) > 1 else pieces[offset]
            return Reassembled(data, datagram.first, datagram.ecn_seen)
        if self.queued_bytes > self.peak_queued_bytes:
            self.peak_queued_bytes = self.queued_bytes
        if self.queued_bytes > self.high_thresh:
            self._evict()
            if key not in self.datagrams:
                return Drop.FRAGMENT_MEMORY_EXCEEDED
        return None

    # ---- bookkeeping -----------------------------------------------------------------------
    def _start(self, key: Hashable) -> _Datagram:
        self._seq += 1
        deadline = self.clock.now_ms + max(1, int(self.timeout_ms()))
        datagram = self.datagrams[key] = _Datagram(key, deadline, self._seq)
        self.queued_bytes += datagram.cost
        heap = self._deadlines
        heapq.heappush(heap, (deadline, self._seq, key))
        # Stale heap entries (datagrams completed or discarded) are dropped when they reach the top;
        # rebuild when they outnumber the live ones so the heap stays bounded by the table.
        if len(heap) > 2 * len(self.datagrams) + 64:
            self._deadlines = heap = [(d.deadline_ms, d.seq, d.key) for d in self.datagrams.values()]
            heapq.heapify(heap)
        timer = self._timer
        if timer is None or not timer.pending or deadline < timer.deadline_ms:
            self._arm()
        return datagram

    def _arm(self) -> None:
        """One clock timer, for the earliest live deadline."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        heap, table = self._deadlines, self.datagrams
        while heap:
            deadline, seq, key = heap[0]
            datagram = table.get(key)
            if datagram is not None and datagram.seq == seq:
                self._timer = self.clock.schedule(deadline - self.clock.now_ms, self._on_timeout_expired)
                return
            heapq.heappop(heap)

    def _on_timeout_expired(self) -> None:
        self._timer = None
        now, heap, table = self.clock.now_ms, self._deadlines, self.datagrams
        while heap and heap[0][0] <= now:
            _, seq, key = heapq.heappop(heap)
            datagram = table.get(key)
            if datagram is None or datagram.seq != seq:
                continue
            self._remove(datagram)
            if datagram.poisoned:
                continue  # its memory of the overlap ends with its lifetime
            self.counters["timed_out"] += 1
            if self.on_timeout is not None:
                head = datagram.pieces.get(0)
                self.on_timeout(key, datagram.first if head is not None else None, head)
        self._arm()

    def _remove(self, datagram: _Datagram) -> None:
        del self.datagrams[datagram.key]
        self.queued_bytes -= datagram.cost

    def _poison(self, datagram: _Datagram, reason: Drop) -> Drop:
        """RFC 5722 4: drop every fragment held and remember the key until the datagram's timeout
        so later fragments of it are dropped too. The record keeps only its fixed overhead."""
        self.queued_bytes -= datagram.cost - REASSEMBLY_OVERHEAD
        datagram.cost = REASSEMBLY_OVERHEAD
        datagram.pieces, datagram.blocks = {}, bytearray()
        datagram.first = None
        datagram.poisoned = True
        self.counters["overlap" if reason is Drop.FRAGMENT_OVERLAP else "inconsistent"] += 1
        return reason

    def _evict(self) -> None:
        """Above the high threshold: drop the oldest datagrams until under the low threshold."""
        table, heap = self.datagrams, self._deadlines
        while self.queued_bytes > self.low_thresh and table:
            _, datagram = table.popitem(last=False)
            self.queued_bytes -= datagram.cost
            self.counters["evicted"] += 1
        # The oldest are usually the earliest deadlines: drop their heap entries now, so a flood
        # does not keep evicted keys alive until the next rebuild.
        while heap:
            live = table.get(heap[0][2])
            if live is not None and live.seq == heap[0][1]:
                break
            heapq.heappop(heap)


# ---- fragmentation -------------------------------------------------------------------------


def fragment_ipv4(
    src: bytes,
    dst: bytes,
    proto: int,
    payload: bytes,
    ident: int,
    ttl: int,
    mtu: int,
    *,
    tos: int = 0,
    options: bytes = b"",
    flags_frag: int = 0,
) -> list[bytes]:
    """The fragments (whole IPv4 packets, headers included) of a datagram too big for ``mtu``.

    The callers decide whether to cut at all: they call this only for a datagram that does not
    fit and may be fragmented (DF clear; at most 65,535 octets, as every datagram they hold is),
    and ``mtu`` is at least 68 (RFC 791 3.2), so even behind 40 octets of options a piece holds
    8 octets. RFC 791 3.2: every fragment but the last carries a multiple of 8 octets, MF set on
    all but the last, offsets in 8-octet units; the first keeps every option, later ones only
    the copied ones. ``options`` must be padded to 4 octets. ``flags_frag`` is the datagram's
    own: a fragment being forwarded (RFC 1812 5.2.6) is cut further, its pieces counting offsets
    from its own and the last keeping its MF; and RFC 1812 5.2.5: "If a router fragments a
    packet, it MUST copy these bits into each fragment" -- the reserved flag bit.
    """
    later = copied_options(options)
    base = (flags_frag & OFFSET_MASK) << 3
    more_after = flags_frag & FLAG_MF
    reserved = flags_frag & FLAG_RESERVED
    packets: list[bytes] = []
    offset, size = 0, len(payload)
    while offset < size:
        opts = options if offset == 0 else later
        chunk = payload[offset : offset + ((mtu - MIN_HEADER_LEN - len(opts)) & ~7)]
        last = offset + len(chunk) >= size
        flags = reserved | (more_after if last else FLAG_MF)
        packets.append(encode_header(src, dst, proto, len(chunk), ident, ttl, tos, flags | (base + offset) >> 3, opts) + chunk)
        offset += len(chunk)
    return packets


def fragment_ipv6(fixed: bytes, unfragmentable: bytes, next_header: int, payload: bytes, ident: int, mtu: int) -> list[bytes]:
    """IPv6 fragment packets of at most ``mtu`` octets (RFC 8200 4.5).

    ``fixed`` is the 40-octet header (its Payload Length and, without ``unfragmentable``, its
    Next Header are rewritten); ``unfragmentable`` the headers that every fragment repeats, the
    last of which must name 44; ``next_header`` is what follows the Fragment header. Call it only
    when the packet does not fit: RFC 8021 says to never generate atomic fragments.
    """
    room = (mtu - 40 - len(unfragmentable) - FRAGMENT_HEADER_LEN) & ~7
    if room <= 0:
        return []
    head = fixed[:6] + (bytes(fixed[6:7]) if unfragmentable else b"\x2c") + fixed[7:40]
    packets: list[bytes] = []
    offset, size = 0, len(payload)
    while offset < size:
        chunk = payload[offset : offset + room]
        more = offset + len(chunk) < size
        frag = FragmentHeader(next_header, offset, more, ident).encode()
        plen = len(unfragmentable) + FRAGMENT_HEADER_LEN + len(chunk)
        packets.append(head[:4] + plen.to_bytes(2, "big") + head[6:] + unfragmentable + frag + chunk)
        offset += len(chunk)
    return packets

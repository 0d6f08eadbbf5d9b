"""The receiving half of a connection (gVisor's rcv.go): RCV.NXT, the receive buffer, segments
held out of order, the window we offer, and the urgent pointer.

Memory is bounded twice: data is accepted only inside the window we offered, which never
exceeds the free buffer space, and the out-of-order queue holds a bounded number of ranges.
"""

from __future__ import annotations

from stack_under_test.drops import Drop
from stack_under_test.transport.tcp import seq
from stack_under_test.transport.tcp.sack import Block, ReportOrder


class Receiver:
    def __init__(self, irs: int, rcvbuf: int, max_ranges: int) -> None:
        self.irs = irs
        self.rcv_nxt = seq.add(irs, 1)  # RFC 9293 3.10.7.2: "Set RCV.NXT to SEG.SEQ+1"
        self.rcvbuf = rcvbuf
        self.largest_rcvbuf = rcvbuf  # what the offered window may still cover after a shrink
        self.max_ranges = max_ranges
        self.ready = bytearray()  # in order, acknowledged, not yet read by the application
        self.head = 0
        # Out-of-order ranges [start, end) with their octets, in sequence order.
        self.ranges: list[tuple[int, int, bytes]] = []
        self.ooo_bytes = 0
        self.fin_seq: int | None = None  # where the peer's FIN sits, once seen
        self.fin_received = False  # RCV.NXT has passed the FIN
        # The right edge we have offered: RFC 9293 3.8.6: "A TCP receiver SHOULD NOT shrink the
        # window, i.e., move the right window edge to the left (SHLD-14)."
        self.edge = seq.add(self.rcv_nxt, 0)
        self.rcv_up: int | None = None  # RCV.UP: the octet after the urgent data
        self.sack_order = ReportOrder()
        self.mss = 536  # our receive MSS, the unit of receiver silly-window avoidance
        self.update_edge(force=True)

    # ---- the window --------------------------------------------------------------------------------
    @property
    def unread(self) -> int:
        return len(self.ready) - self.head

    @property
    def window(self) -> int:
        """RCV.WND: what the offered right edge leaves above RCV.NXT."""
        return seq.sub(self.edge, self.rcv_nxt) if seq.lt(self.rcv_nxt, self.edge) else 0

    def update_edge(self, force: bool = False) -> bool:
        """Move the offered right edge as RFC 9293 3.8.6.2.2 allows; True when it moved.

        "The suggested SWS avoidance algorithm for the receiver is to keep RCV.NXT+RCV.WND fixed
        until the reduction satisfies: RCV.BUFF - RCV.USER - RCV.WND >= min( Fr * RCV.BUFF,
        Eff.snd.MSS ) where Fr is a fraction whose recommended value is 1/2".
        """
        candidate = seq.add(self.rcv_nxt, max(0, self.rcvbuf - self.unread))
        if not seq.gt(candidate, self.edge):
            return False
        if force or seq.sub(candidate, self.edge) >= min(self.rcvbuf // 2, self.mss):
            self.edge = candidate
            return True
        return False

    # ---- segment text -----------------------------------------------------------------------------
    def accept(self, seg_seq: int, payload: bytes, fin: bool) -> tuple[int, Drop | None]:
        """Take what of ``payload`` (starting at ``seg_seq``, after any SYN) lies in the window.

        Returns (octets RCV.NXT advanced, drop). RFC 9293 3.10.7.4: "One could tailor actual
        segments to fit this assumption by trimming off any portions that lie outside the window
        (including SYN and FIN)", and "Segments with higher beginning sequence numbers SHOULD be
        held for later processing (SHLD-31)."
        """
        rcv_nxt, edge = self.rcv_nxt, self.edge
        end = seq.add(seg_seq, len(payload))
        if fin and (self.fin_seq is None) and seq.le(end, edge):
            self.fin_seq = end
        if payload:
            start = seg_seq
            if seq.lt(start, rcv_nxt):  # already received: keep only the new part
                cut = seq.sub(rcv_nxt, start)
                payload, start = payload[cut:], rcv_nxt
            if seq.gt(end, edge):  # beyond the window we offered
                payload = payload[: max(0, len(payload) - seq.sub(end, edge))]
                end = seq.add(start, len(payload))
            if self.fin_seq is not None and seq.gt(end, self.fin_seq):
                payload = payload[: max(0, len(payload) - seq.sub(end, self.fin_seq))]
                end = seq.add(start, len(payload))
            if payload:
                if start == rcv_nxt:
                    self.ready += payload
                    self.rcv_nxt = end
                    if self.ranges:
                        self._pull_in_order()
                else:
                    drop = self._hold(start, payload)
                    if drop is not None:
                        return 0, drop
        if self.fin_seq is not None and self.rcv_nxt == self.fin_seq and not self.fin_received:
            self.fin_received = True
            self.rcv_nxt = seq.add(self.rcv_nxt, 1)
            # The FIN takes a sequence number but no buffer space: keep the edge where it was.
            self.edge = seq.add(self.edge, 1) if seq.lt(self.edge, self.rcv_nxt) else self.edge
        return seq.sub(self.rcv_nxt, rcv_nxt), None

    def _hold(self, start: int, payload: bytes) -> Drop | None:
        """Queue an out-of-order piece, merging it with the ranges it overlaps or touches."""
        end = seq.add(start, len(payload))
        base = self.rcv_nxt
        keep: list[tuple[int, int, bytes]] = []
        touching: list[tuple[int, int, bytes]] = []
        for rng in self.ranges:
            if seq.lt(rng[1], start) or seq.lt(end, rng[0]):
                keep.append(rng)
            else:
                touching.append(rng)
        if not touching and len(self.ranges) >= self.max_ranges:
            return Drop.TCP_OUT_OF_ORDER_QUEUE_FULL
        self.sack_order.arrived(start)
        if touching:
            lo = min([start, *(r[0] for r in touching)], key=lambda s: seq.sub(s, base))
            hi = max([end, *(r[1] for r in touching)], key=lambda s: seq.sub(s, base))
            merged = bytearray(seq.sub(hi, lo))
            merged[seq.sub(start, lo) : seq.sub(end, lo)] = payload
            for a, b, data in touching:  # what arrived first stays (the same octets, if all is well)
                merged[seq.sub(a, lo) : seq.sub(b, lo)] = data
                self.ooo_bytes -= len(data)
            start, end, payload = lo, hi, bytes(merged)
        keep.append((start, end, payload))
        keep.sort(key=lambda r: seq.sub(r[0], base))
        self.ranges = keep
        self.ooo_bytes += len(payload)
        return None

    def _pull_in_order(self) -> None:
        """Move the held ranges that RCV.NXT has reached into the in-order buffer."""
        while self.ranges:
            start, end, data = self.ranges[0]
            nxt = self.rcv_nxt
            if seq.gt(start, nxt):
                break
            self.ranges.pop(0)
            self.ooo_bytes -= len(data)
            if seq.gt(end, nxt):
                self.ready += data[seq.sub(nxt, start) :]
                self.rcv_nxt = end

    def sack_blocks(self, limit: int) -> list[Block]:
        """RFC 2018 4: the ranges held above RCV.NXT, the one just changed first."""
        if not self.ranges or limit <= 0:
            return []
        return self.sack_order.choose([(a, b) for a, b, _ in self.ranges], limit)

    # ---- the application --------------------------------------------------------------------------
    def read(self, most: int) -> bytes:
        n = min(most, self.unread)
        data = bytes(self.ready[self.head : self.head + n])
        self.head += n
        if self.head >= 65_536 and self.head * 2 >= len(self.ready):
            del self.ready[: self.head]
            self.head = 0
        elif self.head == len(self.ready):
            self.ready.clear()
            self.head = 0
        return data

    def note_urgent(self, seg_seq: int, pointer: int) -> None:
        """RFC 9293 3.10.7.4 sixth: "RCV.UP <- max(RCV.UP,SEG.UP)"; with RFC 6093 4, "the urgent
        pointer points to the sequence number of the octet following the urgent data"."""
        up = seq.add(seg_seq, pointer)
        if self.rcv_up is None or seq.gt(up, self.rcv_up):
            self.rcv_up = up

    def urgent_unread(self) -> int:
        """Octets up to the urgent point still to be read (RFC 9293 3.8.5 MUST-33: the application
        can "learn how much urgent data remains to be read"); 0 outside urgent mode."""
        if self.rcv_up is None:
            return 0
        read_up_to = seq.add(self.rcv_nxt, -self.unread - (1 if self.fin_received else 0))
        return seq.sub(self.rcv_up, read_up_to) if seq.gt(self.rcv_up, read_up_to) else 0

    def flush(self) -> None:
        """RFC 9293 3.10.7.4: on a reset "All segment queues should be flushed"."""
        self.ready = bytearray()
        self.head = 0
        self.ranges = []
        self.ooo_bytes = 0

"""Selective acknowledgments (RFC 2018): the sender's scoreboard of SACKed ranges and the
receiver's choice of which blocks to report. Both are bounded; sequence numbers mod 2^32."""

from __future__ import annotations

from typing import Final

from stack_under_test.transport.tcp import seq

MAX_SCOREBOARD_BLOCKS: Final = 32
Block = tuple[int, int]


class Scoreboard:
    """RFC 2018 5: "When receiving an ACK containing a SACK option, the data sender SHOULD record
    the selective acknowledgment for future reference." Disjoint ranges above SND.UNA, in order."""

    __slots__ = ("blocks",)

    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def update(self, sack_blocks: tuple[Block, ...], snd_una: int, snd_max: int) -> bool:
        """Record the blocks that lie within (SND.UNA, SND.MAX]; True when one told us something new."""
        news = False
        for left, right in sack_blocks:
            # A block is believable only if it covers data we sent and the peer has not yet
            # acknowledged cumulatively (bogus blocks are ignored, not trusted).
            if not (seq.lt(left, right) and seq.le(snd_una, left) and seq.le(right, snd_max)):
                continue
            if not self._covered(left, right):
                news = True
                self._add(left, right, snd_una)
        return news

    def _covered(self, left: int, right: int) -> bool:
        return any(seq.le(a, left) and seq.le(right, b) for a, b in self.blocks)

    def _add(self, left: int, right: int, base: int) -> None:
        merged: list[Block] = []
        for a, b in self.blocks:
            if seq.lt(b, left) or seq.lt(right, a):
                merged.append((a, b))
            else:  # overlapping or touching: absorb it
                left = a if seq.lt(a, left) else left
                right = b if seq.gt(b, right) else right
        merged.append((left, right))
        merged.sort(key=lambda blk: seq.sub(blk[0], base))  # every block lies above SND.UNA
        self.blocks = merged[:MAX_SCOREBOARD_BLOCKS]

    def acknowledged(self, snd_una: int) -> None:
        """SND.UNA moved: forget what the cumulative ACK now covers."""
        self.blocks = [(a if seq.gt(a, snd_una) else snd_una, b) for a, b in self.blocks if seq.gt(b, snd_una)]

    def first_sacked_after(self, start: int) -> int | None:
        """The left edge of the first SACKed range at or beyond ``start``: where a retransmission
        of the hole at ``start`` should stop."""
        best: int | None = None
        for a, _ in self.blocks:
            if seq.ge(a, start) and (best is None or seq.lt(a, best)):
                best = a
        return best

    def clear(self) -> None:
        """RFC 2018 5: "After a retransmit timeout the data sender SHOULD turn off all of the SACKed
        bits, since the timeout might indicate that the data receiver has reneged.\""""
        self.blocks = []


class ReportOrder:
    """The receiver's side (RFC 2018 4): which out-of-order blocks an ACK reports, most recent first.

    "The first SACK block ... MUST specify the contiguous block of data containing the segment
    which triggered this ACK, unless that segment advanced the Acknowledgment Number field"; the
    rest repeat "the most recently reported SACK blocks". We remember the sequence numbers of the
    last few out-of-order arrivals and report the blocks that hold them, in that order.
    """

    __slots__ = ("recent",)

    def __init__(self) -> None:
        self.recent: list[int] = []

    def arrived(self, seg_seq: int) -> None:
        self.recent = [seg_seq, *(s for s in self.recent if s != seg_seq)][:4]

    def choose(self, blocks: list[Block], limit: int) -> list[Block]:
        """Up to ``limit`` of ``blocks`` (the out-of-order queue's ranges), most recent first."""
        chosen: list[Block] = []
        for s in self.recent:
            for blk in blocks:
                if seq.in_window(s, blk[0], seq.sub(blk[1], blk[0])) and blk not in chosen:
                    chosen.append(blk)
                    break
        chosen += [blk for blk in blocks if blk not in chosen]
        return chosen[:limit]

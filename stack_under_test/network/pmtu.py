"""A path-MTU cache: what Datagram Too Big (RFC 1191) or Packet Too Big (RFC 8201) messages
taught us, per destination. IPv4 and IPv6 each keep one for the whole stack.

Entries carry an absolute expiry deadline that lookups compare with the clock (no timers to
cancel, smoltcp-style). The table is bounded: when full, the entry expiring first is evicted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

# Bounded memory: a flood of Too Big messages for distinct destinations evicts old entries.
MAX_ENTRIES: Final = 1024


class PathMTUCache:
    """``timer``: the stack timer (``Stack.timers_ms``) an estimate lives for; ``floor``: the
    family's minimum MTU, below which no estimate goes."""

    def __init__(self, stack: Stack, timer: str, floor: int) -> None:
        self.stack = stack
        self.timer = timer
        self.floor = floor
        self._entries: dict[bytes, tuple[int, int]] = {}  # dst -> (mtu, expires at ms)

    def get(self, dst: bytes) -> int | None:
        """The learned path MTU towards ``dst``, or None when none is known or it expired."""
        entry = self._entries.get(dst)
        if entry is None:
            return None
        mtu, expires = entry
        # RFC 1191 3 / RFC 8201 4: "An attempt to detect an increase (by sending a datagram larger
        # than the current estimate) MUST NOT be done less than 5 minutes after a Datagram Too Big
        # message has been received for the given destination". We forget the estimate when it
        # expires (10 minutes by default) and use the route's MTU again.
        if self.stack.clock.now_ms >= expires:
            del self._entries[dst]
            return None
        return mtu

    def update(self, dst: bytes, reported_mtu: int, current_mtu: int) -> bool:
        """Apply a Too Big message for ``dst``; True when the estimate went down."""
        # RFC 1191 3: "A host MUST never reduce its estimate of the Path MTU below 68 octets";
        # RFC 8201 4: not "below the IPv6 minimum link MTU".
        mtu = max(reported_mtu, self.floor)
        # RFC 1191 3: "A host MUST not increase its estimate of the Path MTU in response to the
        # contents of a Datagram Too Big message" (RFC 8201 4 likewise).
        if mtu >= current_mtu:
            return False
        if dst not in self._entries and len(self._entries) >= MAX_ENTRIES:
            del self._entries[min(self._entries, key=lambda k: self._entries[k][1])]
        # RFC 1191 6.3 and RFC 8201 4: "The recommended setting for this timer is twice its minimum
        # value (10 minutes)"; stack.set_timer changes it.
        self._entries[dst] = (mtu, self.stack.clock.now_ms + self.stack.timers_ms[self.timer])
        return True

    def __len__(self) -> int:
        return len(self._entries)

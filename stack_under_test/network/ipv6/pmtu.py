"""The IPv6 path-MTU cache (RFC 8201): what Packet Too Big messages taught us, per destination.

Entries carry an absolute expiry deadline that lookups compare with the clock (no timers to
cancel, smoltcp-style). The table is bounded: when full, the entry expiring first is evicted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from stack_under_test import params

if TYPE_CHECKING:
    from stack_under_test.stack.stack import Stack

# Bounded memory: a flood of Packet Too Big messages for distinct destinations evicts old entries.
MAX_ENTRIES: Final = 1024
TIMER_NAME: Final = "ipv6_pmtu_expiry"


class PathMTUCache:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._entries: dict[bytes, tuple[int, int]] = {}  # dst -> (mtu, expires at ms)

    def get(self, dst: bytes) -> int | None:
        """The learned path MTU towards ``dst``, or None when none is known or it expired."""
        entry = self._entries.get(dst)
        if entry is None:
            return None
        mtu, expires = entry
        # RFC 8201 §4: "Nodes MAY detect increases in PMTU"; "An attempt to detect an increase ...
        # MUST NOT be done less than 5 minutes after a Packet Too Big message has been received
        # for the given path." We forget the estimate when it expires and use the link MTU again.
        if self.stack.clock.now_ms >= expires:
            del self._entries[dst]
            return None
        return mtu

    def update(self, dst: bytes, reported_mtu: int, current_mtu: int) -> bool:
        """Apply a Packet Too Big for ``dst``; True when the estimate went down."""
        # RFC 8201 §4: "A node MUST NOT reduce its estimate of the Path MTU below the IPv6 minimum
        # link MTU."
        mtu = max(reported_mtu, params.IPV6_MIN_MTU)
        # RFC 8201 §4: "A node MUST NOT increase its estimate of the Path MTU in response to the
        # contents of a Packet Too Big message."
        if mtu >= current_mtu:
            return False
        if dst not in self._entries and len(self._entries) >= MAX_ENTRIES:
            del self._entries[min(self._entries, key=lambda k: self._entries[k][1])]
        # RFC 8201 §4: "The recommended setting for this timer is twice its minimum value
        # (10 minutes)"; set_timer("ipv6_pmtu_expiry", ms) changes it.
        self._entries[dst] = (mtu, self.stack.clock.now_ms + self.stack.timers_ms[TIMER_NAME])
        return True

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

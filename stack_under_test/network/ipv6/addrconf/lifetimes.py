"""Preferred and valid lifetimes of one NIC's IPv6 addresses (RFC 4862 5.5.4).

Every address with a finite lifetime -- autoconfigured (SLAAC, RFC 8981 temporary) or added by
hand with ``Stack.add_address(..., valid_lifetime_s=, preferred_lifetime_s=)`` -- gets one timer
at its next deadline: the end of the preferred lifetime makes it DEPRECATED, the end of the valid
lifetime removes it. The deadlines live on the AddressEntry (``preferred_until_ms`` /
``valid_until_ms``), so whoever changes them (an RA refreshing a prefix) calls ``track`` again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stack_under_test import params
from stack_under_test.clock import Clock, Timer
from stack_under_test.stack.addresses import AddressEntry, AddressState

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface


def lifetime_deadline(now_ms: int, seconds: int) -> int | None:
    """An absolute deadline for a lifetime in seconds; None for infinity (RFC 4861 4.6.2: "A
    value of all one bits (0xffffffff) represents infinity")."""
    return None if seconds == params.INFINITE_LIFETIME_S else now_ms + seconds * 1000


class AddressLifetimes:
    """``remove`` takes away an address whose valid lifetime ended (configuration.py knows how)."""

    def __init__(self, clock: Clock, nic: NetworkInterface, remove: Callable[[AddressEntry], None]) -> None:
        self.clock = clock
        self.nic = nic
        self._remove = remove
        self._timers: dict[bytes, Timer] = {}

    def track(self, entry: AddressEntry) -> None:
        """(Re)arm the timer of ``entry`` from its deadlines; apply a deadline already passed."""
        self.untrack(entry.packed)
        now = self.clock.now_ms
        if entry.valid_until_ms is not None and entry.valid_until_ms <= now:
            # RFC 4862 5.5.4: "An address (and its association with an interface) becomes invalid
            # when its valid lifetime expires. An invalid address MUST NOT be used as a source
            # address in outgoing communications and MUST NOT be recognized as a destination on a
            # receiving interface."
            self._remove(entry)
            return
        preferred_end = entry.preferred_until_ms
        if preferred_end is not None and preferred_end <= now:
            # RFC 4862 5.5.4: "A preferred address becomes deprecated when its preferred lifetime
            # expires." A tentative address stays tentative; DAD's end makes it deprecated.
            if entry.state is AddressState.PREFERRED:
                entry.state = AddressState.DEPRECATED
                self.nic.stats.count_event("ipv6_address_deprecated")
            preferred_end = None
        elif entry.state is AddressState.DEPRECATED:
            # A refreshed preferred lifetime (RFC 4862 5.5.3 e) makes the address preferred again.
            entry.state = AddressState.PREFERRED
        deadlines = [d for d in (preferred_end, entry.valid_until_ms) if d is not None]
        if not deadlines:
            return
        packed = entry.packed
        self._timers[packed] = self.clock.schedule(min(deadlines) - now, lambda: self._fire(packed))

    def untrack(self, packed: bytes) -> None:
        timer = self._timers.pop(packed, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, packed: bytes) -> None:
        self._timers.pop(packed, None)
        entry = self.nic.addresses.get(packed)
        if entry is not None:
            self.track(entry)

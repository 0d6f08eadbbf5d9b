"""Addresses assigned to a NIC, their states (RFC 4862 5.5.4) and simple source selection."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface

from stack_under_test.wire.ipv4 import LIMITED_BROADCAST


class AddressState(enum.Enum):
    # RFC 4862 2: "a tentative address is not considered assigned to an interface in the usual
    # sense": it receives only DAD's NS/NA, and is never a source.
    TENTATIVE = "tentative"
    PREFERRED = "preferred"
    DEPRECATED = "deprecated"  # usable, but not chosen as a source for new communication


@dataclass(slots=True, eq=False)
class AddressEntry:
    interface: IPv4Interface | IPv6Interface
    state: AddressState = AddressState.PREFERRED
    # False for addresses the stack made itself (link-local, SLAAC); those go when the NIC goes.
    static: bool = True
    # Lifetimes (RFC 4862 5.5.3) as absolute clock deadlines; None = infinite.
    valid_until_ms: int | None = None
    preferred_until_ms: int | None = None
    # RFC 4862 5.4: subject to Duplicate Address Detection (False: Linux's "nodad").
    dad: bool = True
    # RFC 8981 temporary address (random interface identifier, short lifetimes).
    temporary: bool = False

    @property
    def packed(self) -> bytes:
        return self.interface.ip.packed

    @property
    def family(self) -> int:
        return self.interface.version

    @property
    def usable(self) -> bool:
        return self.state is not AddressState.TENTATIVE


class AddressTable:
    """One NIC's addresses keyed by packed address, plus its IPv4 broadcast addresses."""

    def __init__(self) -> None:
        self.entries: dict[bytes, AddressEntry] = {}
        # RFC 1122 3.2.1.3: the limited broadcast {-1, -1} and each subnet's directed broadcast.
        self.ipv4_broadcasts: set[bytes] = {LIMITED_BROADCAST}
        # RFC 1122 3.3.6: the non-standard forms "substituting 0 for -1", {0, 0} and each subnet's
        # {<Network-number>, 0}: accepted as broadcast destinations, never taken for a source.
        self.ipv4_zero_broadcasts: set[bytes] = {bytes(4)}

    def add(self, entry: AddressEntry) -> None:
        self.entries[entry.packed] = entry
        self._refresh_broadcasts()

    def remove(self, packed: bytes) -> AddressEntry | None:
        entry = self.entries.pop(packed, None)
        self._refresh_broadcasts()
        return entry

    def get(self, packed: bytes) -> AddressEntry | None:
        return self.entries.get(packed)

    def is_local(self, packed: bytes) -> bool:
        """An assigned address that may receive traffic (not tentative)."""
        entry = self.entries.get(packed)
        return entry is not None and entry.state is not AddressState.TENTATIVE

    def of_family(self, family: int) -> list[AddressEntry]:
        return [e for e in self.entries.values() if e.family == family]

    def select_source(self, family: int, dst: bytes) -> bytes | None:
        """A usable address on ``dst``'s subnet if any, else the first usable preferred one.

        IPv6 does its own RFC 6724 selection; this is the IPv4 rule (Linux picks the primary
        address of the matching subnet).
        """
        fallback: bytes | None = None
        dst_int = int.from_bytes(dst, "big")
        for entry in self.entries.values():
            if entry.family != family or entry.state is not AddressState.PREFERRED:
                continue
            net = entry.interface.network
            if dst_int & int(net.netmask) == int(net.network_address):
                return entry.packed
            if fallback is None:
                fallback = entry.packed
        return fallback

    def _refresh_broadcasts(self) -> None:
        # RFC 1122 3.2.1.3: (b) {-1, -1}, the limited broadcast, and (c) {<Network-number>, -1},
        # the directed broadcast of each subnet; /31 and /32 have none (RFC 3021).
        subnets = [e.interface.network for e in self.entries.values() if e.family == 4 and e.interface.network.prefixlen < 31]
        self.ipv4_broadcasts = {LIMITED_BROADCAST} | {net.broadcast_address.packed for net in subnets}
        self.ipv4_zero_broadcasts = {bytes(4)} | {net.network_address.packed for net in subnets}

"""The route table: longest-prefix match over IPv4 and IPv6 routes (RFC 1812 5.2.4.3)."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network


@dataclass(frozen=True, slots=True)
class RouteEntry:
    network: IPv4Network | IPv6Network
    nic: str
    gateway: bytes | None = None  # packed next hop; None = on-link
    mtu: int | None = None  # route MTU (path MTU for the prefix); None = the link MTU

    @property
    def family(self) -> int:
        return self.network.version


def _same_route(a: RouteEntry, b: RouteEntry) -> bool:
    """Same prefix, NIC and gateway: the MTU is an attribute of a route, not part of its identity."""
    return a.network == b.network and a.nic == b.nic and a.gateway == b.gateway


class RouteTable:
    def __init__(self) -> None:
        # Per family: (netmask int, network int, entry), longest prefix first, then insertion order.
        self._tables: dict[int, list[tuple[int, int, RouteEntry]]] = {4: [], 6: []}
        # Lookup results by (dst, nic); cleared whenever the table changes.
        self._cache: dict[tuple[bytes, str | None], RouteEntry | None] = {}
        self.version = 0  # bumped on every change, so callers may cache what they derived

    def add(self, entry: RouteEntry) -> None:
        table = self._tables[entry.family]
        if any(e == entry for _, _, e in table):
            return
        # The same route with another MTU replaces the old one.
        table[:] = [row for row in table if not _same_route(row[2], entry)]
        table.append((int(entry.network.netmask), int(entry.network.network_address), entry))
        table.sort(key=lambda row: -row[2].network.prefixlen)  # stable: keeps insertion order
        self._cache.clear()
        self.version += 1

    def remove(self, entry: RouteEntry) -> bool:
        table = self._tables[entry.family]
        before = len(table)
        table[:] = [row for row in table if not _same_route(row[2], entry)]
        self._cache.clear()
        self.version += 1
        return len(table) != before

    def lookup(self, dst: bytes, nic: str | None = None) -> RouteEntry | None:
        """The longest-prefix route to ``dst`` (4 or 16 packed octets), optionally via ``nic`` only."""
        key = (dst, nic)
        try:
            return self._cache[key]
        except KeyError:
            pass
        if len(self._cache) >= 4096:  # bounded memory under a flood of distinct destinations
            self._cache.clear()
        self.version += 1
        found = self._cache[key] = self._lookup(dst, nic)
        return found

    def _lookup(self, dst: bytes, nic: str | None) -> RouteEntry | None:
        table = self._tables[4 if len(dst) == 4 else 6]
        x = int.from_bytes(dst, "big")
        for mask, net, entry in table:
            if x & mask == net and (nic is None or entry.nic == nic):
                return entry
        return None

    def alike(self, entry: RouteEntry) -> list[RouteEntry]:
        """Every route to ``entry``'s prefix, ``entry`` among them, in the order they were added:
        several default routes are the host's list of default gateways (RFC 1122 3.3.1.2)."""
        return [row[2] for row in self._tables[entry.family] if row[2].network == entry.network]

    def entries(self) -> list[RouteEntry]:
        return [row[2] for table in self._tables.values() for row in table]

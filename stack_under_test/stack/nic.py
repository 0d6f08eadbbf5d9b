"""NIC: attaches a link, demultiplexes frames by EtherType, counts one verdict per frame."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from stack_under_test.buffer import PacketBuffer
from stack_under_test.drops import Drop
from stack_under_test.link.endpoint import LinkEndpoint
from stack_under_test.stack.addresses import AddressEntry, AddressTable
from stack_under_test.stack.ipv6_config import IPv6Config
from stack_under_test.stats import Stats
from stack_under_test.wire.ethernet import HEADER_LEN, LLC_SNAP, MAX_802_3_LENGTH, SNAP_HEADER_LEN

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import IPEndpoint, NetworkEndpoint
    from stack_under_test.stack.neighbor import NeighborTable

_ETHERTYPE = struct.Struct("!H")


class NIC:
    def __init__(self, name: str, link: LinkEndpoint) -> None:
        self.name = name
        self.link = link
        self._link_write = link.write_frame
        self.mac: bytes = link.mac
        self.enabled = False
        self.stats = Stats()  # the stack's totals sum these
        self.addresses = AddressTable()
        self.groups: dict[bytes, int] = {}  # joined multicast groups (packed) -> join count
        # Groups joined in INCLUDE mode (RFC 3376 3.1) -> the sources datagrams may come from.
        self.source_filters: dict[bytes, frozenset[bytes]] = {}
        self.endpoints: dict[int, NetworkEndpoint] = {}  # by EtherType
        self.ip: dict[int, IPEndpoint] = {}  # by family, 4 / 6
        self.neighbors: dict[int, NeighborTable] = {}  # by family; ARP makes 4, NDP makes 6
        self.mtu_override: int | None = None  # set by stack.set_link_mtu
        self.ipv6_config = IPv6Config()  # RFC 4861/4862/3810 knobs; stack.set_ipv6_option

    @property
    def mtu(self) -> int:
        """The IP MTU: ``stack.set_link_mtu`` overrides the link's own (never above it)."""
        override = self.mtu_override
        return self.link.mtu if override is None else override

    # ---- receive -----------------------------------------------------------------------------
    def deliver(self, frame: bytes) -> Drop | None:
        """NetworkDispatcher: the link's entry point. Exactly one count per frame."""
        verdict: Drop | None
        if not self.enabled:
            verdict = Drop.NIC_DISABLED
        elif len(frame) < HEADER_LEN:
            verdict = Drop.ETHERNET_TRUNCATED
        # Ours, or a group address (broadcast/multicast); the network layer filters groups.
        elif not frame[0] & 1 and not frame.startswith(self.mac):
            verdict = Drop.ETHERNET_NOT_FOR_US
        else:
            kind, offset = frame[12] << 8 | frame[13], HEADER_LEN
            if kind <= MAX_802_3_LENGTH and len(frame) >= SNAP_HEADER_LEN and frame[HEADER_LEN : HEADER_LEN + 6] == LLC_SNAP:
                # RFC 1122 2.3.3: every host "SHOULD be able to receive RFC-1042 packets, intermixed
                # with RFC-894 packets": the EtherType follows the LLC/SNAP header (we send RFC 894).
                kind, offset = frame[SNAP_HEADER_LEN - 2] << 8 | frame[SNAP_HEADER_LEN - 1], SNAP_HEADER_LEN
            endpoint = self.endpoints.get(kind)
            if endpoint is None:
                verdict = Drop.ETHERNET_UNKNOWN_ETHERTYPE
            else:
                verdict = endpoint.handle_packet(PacketBuffer(frame, offset, self))
        stats = self.stats
        if verdict is None:  # Stats.count_rx inlined for the common case: this runs for every frame
            stats.rx_frames += 1
            stats.rx_accepted += 1
        else:
            stats.count_rx(verdict)
        return verdict

    # ---- transmit ----------------------------------------------------------------------------
    def write_packet(self, dst_mac: bytes, ethertype: int, payload: bytes) -> bool:
        """Frame ``payload`` for ``dst_mac`` and transmit it. False when the link dropped it."""
        return self.write_frame(dst_mac + self.mac + _ETHERTYPE.pack(ethertype) + payload)

    def write_frame(self, frame: bytes) -> bool:
        if not self.enabled:
            return False
        if not self._link_write(frame):
            self.stats.count_tx_drop(Drop.OUTBOUND_QUEUE_FULL)
            return False
        self.stats.tx_frames += 1
        return True

    # ---- addresses and groups ----------------------------------------------------------------
    def is_local(self, packed: bytes) -> bool:
        return self.addresses.is_local(packed)

    def add_address(self, entry: AddressEntry) -> None:
        self.addresses.add(entry)
        endpoint = self.ip.get(entry.family)
        if endpoint is not None:
            endpoint.on_address_added(entry)

    def remove_address(self, packed: bytes) -> AddressEntry | None:
        entry = self.addresses.remove(packed)
        if entry is not None:
            endpoint = self.ip.get(entry.family)
            if endpoint is not None:
                endpoint.on_address_removed(entry)
        return entry

    def in_group(self, group: bytes) -> bool:
        return group in self.groups

    def join_group(self, group: bytes) -> None:
        count = self.groups.get(group, 0)
        self.groups[group] = count + 1
        if count == 0:
            endpoint = self.ip.get(4 if len(group) == 4 else 6)
            if endpoint is not None:
                endpoint.on_group_joined(group)

    def join_source_group(self, group: bytes, sources: frozenset[bytes]) -> None:
        """Join ``group`` in INCLUDE mode for ``sources`` (the caller checked that the group is not
        joined already); IGMP reads the filter from ``source_filters`` when told of the join."""
        self.source_filters[group] = sources
        self.join_group(group)

    def leave_group(self, group: bytes) -> bool:
        count = self.groups.get(group, 0)
        if count == 0:
            return False
        if count > 1:
            self.groups[group] = count - 1
            return True
        del self.groups[group]
        endpoint = self.ip.get(4 if len(group) == 4 else 6)
        if endpoint is not None:
            endpoint.on_group_left(group)
        self.source_filters.pop(group, None)
        return True

"""PacketBuffer: one received frame and where each layer's header starts. No refcounts, no copies."""

from __future__ import annotations

from typing import Any


class PacketBuffer:
    """A frame plus offsets, filled in as the packet climbs the layers.

    ``data`` is the whole frame (bytes). ``end`` is where the network layer says the packet ends:
    IPv4/IPv6 set it from their length fields, which trims Ethernet padding. ``nic`` is the NIC the
    frame arrived on (typed loosely here because root modules sit left of ``stack``).
    """

    __slots__ = ("data", "end", "network_offset", "nic", "transport_offset")

    def __init__(self, data: bytes, network_offset: int, nic: Any = None) -> None:
        self.data = data
        self.network_offset = network_offset
        self.transport_offset = network_offset
        self.end = len(data)
        self.nic = nic

    def network(self) -> memoryview:
        """The network-layer packet, from its header to ``end``."""
        return memoryview(self.data)[self.network_offset : self.end]

    def transport(self) -> memoryview:
        """The transport-layer payload, from its header to ``end``."""
        return memoryview(self.data)[self.transport_offset : self.end]


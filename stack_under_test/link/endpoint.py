"""The contract between a link and the NIC above it."""

from __future__ import annotations

from typing import Protocol

from stack_under_test.drops import Drop


class NetworkDispatcher(Protocol):
    """What a link hands received frames to (the NIC)."""

    def deliver(self, frame: bytes) -> Drop | None:
        """Process one whole Ethernet frame; return its verdict (None = accepted)."""
        ...


class LinkEndpoint(Protocol):
    mac: bytes  # our 6-octet hardware address
    mtu: int  # the largest network-layer packet (Ethernet payload), 1500 on Ethernet

    def attach(self, dispatcher: NetworkDispatcher | None) -> None:
        """Start (or, with None, stop) handing received frames to ``dispatcher``."""
        ...

    def write_frame(self, frame: bytes) -> bool:
        """Transmit one whole Ethernet frame; False when the link had to drop it."""
        ...

"""A lossy link: wraps any link endpoint and loses a fixed share of the frames, both ways.

For tests of recovery from loss on a real link (``python -m stack_under_test --link-loss P``)
where the kernel offers no netem: each frame the NIC sends and each frame the link delivers is
dropped with probability ``loss``, independently, from a seeded random source, as a wire that
corrupts frames would. Neither the NIC above nor the peer can tell such a drop from one on the
wire: the NIC is told the frame went out, and a frame lost inbound never reaches it.
"""

from __future__ import annotations

import random

from stack_under_test.drops import Drop
from stack_under_test.link.endpoint import LinkEndpoint, NetworkDispatcher


class LossyEndpoint:
    def __init__(self, inner: LinkEndpoint, loss: float, rng: random.Random) -> None:
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss must be at least 0 and below 1, got {loss}")
        self.inner = inner
        self.mac = inner.mac
        self.mtu = inner.mtu
        self.loss = loss
        self._rng = rng
        self._dispatcher: NetworkDispatcher | None = None
        self.lost_inbound = 0
        self.lost_outbound = 0

    def attach(self, dispatcher: NetworkDispatcher | None) -> None:
        self._dispatcher = dispatcher
        self.inner.attach(None if dispatcher is None else self)

    def deliver(self, frame: bytes) -> Drop | None:
        """The inner link's frames pass through here on their way to the NIC."""
        if self._rng.random() < self.loss:
            self.lost_inbound += 1
            return None  # lost on the wire: the NIC never sees it, so it has no verdict to give
        return self._dispatcher.deliver(frame) if self._dispatcher is not None else None

    def write_frame(self, frame: bytes) -> bool:
        if self._rng.random() < self.loss:
            self.lost_outbound += 1
            return True  # sent, as far as the NIC can tell; the wire lost it
        return self.inner.write_frame(frame)

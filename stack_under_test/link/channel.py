"""ChannelEndpoint: a link made of two queues, for in-process tests and benches (gVisor link/channel).

``inject_inbound(frame)`` delivers synchronously: by the time it returns, every frame the stack
sent in response sits on the outbound queue. Nothing here keeps time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from stack_under_test.drops import Drop
from stack_under_test.link.endpoint import NetworkDispatcher
from stack_under_test.params import CHANNEL_OUTBOUND_LIMIT, ETHERNET_MTU


class ChannelEndpoint:
    def __init__(self, mac: bytes, mtu: int = ETHERNET_MTU, outbound_limit: int = CHANNEL_OUTBOUND_LIMIT) -> None:
        if len(mac) != 6:
            raise ValueError("mac must be 6 octets")
        self.mac = bytes(mac)
        self.mtu = mtu
        self.outbound: deque[bytes] = deque()
        self.outbound_limit = outbound_limit
        self.outbound_dropped = 0
        self._deliver: Callable[[bytes], Drop | None] | None = None

    def attach(self, dispatcher: NetworkDispatcher | None) -> None:
        self._deliver = None if dispatcher is None else dispatcher.deliver

    # ---- towards the stack ------------------------------------------------------------
    def inject_inbound(self, frame: bytes) -> Drop | None:
        """Deliver one frame to the stack and return its verdict (None = accepted)."""
        deliver = self._deliver
        if deliver is None:
            return Drop.LINK_NOT_ATTACHED
        return deliver(frame if type(frame) is bytes else bytes(frame))

    # ---- from the stack ---------------------------------------------------------------
    def write_frame(self, frame: bytes) -> bool:
        outbound = self.outbound
        if len(outbound) >= self.outbound_limit:
            self.outbound_dropped += 1
            return False
        outbound.append(frame)
        return True

    def read_outbound(self) -> bytes | None:
        """Next frame the stack transmitted (FIFO), or None."""
        return self.outbound.popleft() if self.outbound else None

    def drain(self) -> list[bytes]:
        """Every queued outbound frame, oldest first; empties the queue."""
        frames = list(self.outbound)
        self.outbound.clear()
        return frames

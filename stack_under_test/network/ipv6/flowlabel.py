"""Flow labels for the packets we originate (RFC 6437 §3).

RFC 6437 §3 recommends "setting the flow label field for all packets of a given flow to the same
value chosen from an approximation to a discrete uniform distribution", and suggests a hash of
the 5-tuple keyed with a secret so labels are hard to predict (§6). Linux does the same
(net.ipv6.auto_flowlabels=1: a keyed flow hash).
"""

from __future__ import annotations

import hashlib
import random
from typing import Final

FLOW_LABEL_MASK: Final = 0xFFFFF  # RFC 8200 §3: "Flow Label  20-bit flow label"
_PORTS_PROTOCOLS: Final = frozenset({6, 17, 132})  # TCP, UDP, SCTP: ports lead the header


class FlowLabeler:
    """A keyed hash of (source, destination, protocol, ports) to a non-zero 20-bit label."""

    __slots__ = ("_cache", "_key")

    def __init__(self, rng: random.Random) -> None:
        # The per-stack secret comes from the injected rng (no random.* in the stack).
        self._key = rng.getrandbits(128).to_bytes(16, "big")
        self._cache: dict[bytes, int] = {}

    def label(self, src: bytes, dst: bytes, proto: int, payload: bytes) -> int:
        ports = payload[:4] if proto in _PORTS_PROTOCOLS else b""
        flow = src + dst + bytes([proto]) + ports
        label = self._cache.get(flow)
        if label is None:
            digest = hashlib.blake2s(flow, key=self._key, digest_size=4).digest()
            # RFC 6437 §2: zero marks a packet that is not labeled, so a labeled flow never uses it.
            label = (int.from_bytes(digest, "big") & FLOW_LABEL_MASK) or 1
            if len(self._cache) >= 4096:  # bounded memory over many flows
                self._cache.clear()
            self._cache[flow] = label
        return label

"""Initial sequence numbers (RFC 6528, RFC 9293 3.4.1) and per-connection timestamp offsets
(RFC 7323 5.4), from secrets drawn once from the stack's injected rng.

RFC 6528 3: "ISN = M + F(localip, localport, remoteip, remoteport, secretkey) where M is the 4
microsecond timer, and F() is a pseudorandom function (PRF) of the connection-id. F() MUST NOT
be computable from the outside". F is keyed BLAKE2s (Linux uses keyed SipHash); "Key lengths of
128 bits should be adequate."
"""

from __future__ import annotations

import hashlib
import random

from stack_under_test import params
from stack_under_test.clock import Clock
from stack_under_test.transport.tcp.seq import MASK


class SequenceSecrets:
    """The keys are drawn from the rng when first needed, so a stack that never speaks TCP draws
    the same random numbers as one without TCP."""

    def __init__(self, rng: random.Random, clock: Clock) -> None:
        self._rng = rng
        self._clock = clock
        self._keys: tuple[bytes, bytes] | None = None

    def _key(self, which: int) -> bytes:
        if self._keys is None:
            # RFC 7323 5.4: "The same function with a different secret key can be used to generate
            # the per-connection timestamp offset."
            self._keys = (self._rng.getrandbits(128).to_bytes(16, "big"), self._rng.getrandbits(128).to_bytes(16, "big"))
        return self._keys[which]

    def isn(self, local: bytes, local_port: int, remote: bytes, remote_port: int) -> int:
        ident = local + local_port.to_bytes(2, "big") + remote + remote_port.to_bytes(2, "big")
        f = int.from_bytes(hashlib.blake2s(ident, digest_size=4, key=self._key(0)).digest(), "big")
        return (self._clock.now_ms * params.TCP_ISN_TICKS_PER_MS + f) & MASK

    def timestamp_offset(self, local: bytes, local_port: int, remote: bytes, remote_port: int) -> int:
        """RFC 7323 7: "It is therefore RECOMMENDED to generate a random, per-connection offset to be
        used with the clock source when generating the Timestamps option value"; 5.4: "The same
        function with a different secret key can be used to generate the per-connection timestamp
        offset." Keyed on the connection-id like the ISN, so a new incarnation of the same
        connection (reopened from TIME-WAIT) still sees its timestamps grow (RFC 6191). Linux
        (tcp_ts_off()) keys on the address pair only."""
        ident = local + local_port.to_bytes(2, "big") + remote + remote_port.to_bytes(2, "big")
        return int.from_bytes(hashlib.blake2s(ident, digest_size=4, key=self._key(1)).digest(), "big")

"""IPv4 Identification values (RFC 6864), in the manner of Linux ip_idents.

RFC 6864 4.1: "The IPv4 ID field MUST NOT be used for purposes other than fragmentation and
reassembly", and for non-atomic datagrams "the ID MUST be unique within the maximum datagram
lifetime for all datagrams with a given source address/destination address/protocol tuple".
RFC 6864 4.2 warns against a single global counter (predictable, and it couples unrelated flows).

So, like Linux __ip_select_ident(): IDs come from one of IPV4_IDENT_BUCKETS 16-bit counters picked
by a keyed hash of (source, destination, protocol). A given tuple always uses the same counter, so
its IDs are sequential and repeat only after 65,536 datagrams hashed to that counter; counters start
at random values and the key is secret, so the ID of one flow says little about another. The key
and starts come from the stack's rng (one draw), never from ``random`` itself.

Every datagram this stack originates leaves with DF clear, i.e. non-atomic (RFC 6864 4), so every
one gets an ID from here. (Linux gives atomic datagrams of unconnected sockets ID 0.)
"""

from __future__ import annotations

import hashlib
import random
import struct

from stack_under_test.params import IPV4_IDENT_BUCKETS


class IdentAllocator:
    __slots__ = ("_key", "counters")

    def __init__(self, rng: random.Random) -> None:
        seed = rng.getrandbits(32).to_bytes(4, "big")  # one 32-bit draw, as the single counter took
        self._key = hashlib.blake2b(b"ipv4-ident-key" + seed, digest_size=16).digest()
        starts = hashlib.shake_128(b"ipv4-ident-start" + seed).digest(2 * IPV4_IDENT_BUCKETS)
        self.counters: list[int] = list(struct.unpack(f"!{IPV4_IDENT_BUCKETS}H", starts))

    def bucket(self, src: bytes, dst: bytes, proto: int) -> int:
        """The counter a (source, destination, protocol) tuple uses; stable for the stack's life."""
        digest = hashlib.blake2b(src + dst + bytes((proto & 0xFF,)), digest_size=4, key=self._key).digest()
        return int.from_bytes(digest, "big") % IPV4_IDENT_BUCKETS

    def next(self, src: bytes, dst: bytes, proto: int) -> int:
        counters = self.counters
        b = self.bucket(src, dst, proto)
        ident = counters[b]
        counters[b] = (ident + 1) & 0xFFFF
        return ident

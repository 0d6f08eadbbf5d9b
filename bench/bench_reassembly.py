"""Fragment reassembly through the whole stack (channel link): time growth and memory under a flood.

1. A UDP datagram cut into 8-octet fragments, injected in random order, for IPv4 and IPv6:
   1k, 4k and 8k fragments (8,000, 32,000 and 65,000 octets). Prints µs per fragment and the
   growth of the per-fragment cost from 1k to 8k; n log n allows log(8k)/log(1k) = 1.30, and we
   allow a 1.5x noise margin on top of that (the machines are shared).
2. 100,000 first fragments (256 octets each) of distinct datagrams that never complete: the
   tracemalloc peak and the reassembler's own queued-byte peak must stay under the high
   threshold (4 MiB) plus a fixed overhead (1 MiB: the stack, its counters, one frame in flight).

    .venv/bin/python bench/bench_reassembly.py [--quick]

Exit status 1 when a bound is broken. A run takes about 35 s on two idle cores (tracemalloc
makes the flood ~9x slower; the two floods run in parallel processes).
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack_under_test.testing import (
    DUT4,
    DUT6,
    DUT_MAC,
    OTHER4,
    TESTER4,
    TESTER6,
    TESTER_MAC,
    Bench,
    reassemblers,
)
from stack_under_test.wire.checksum import checksum, pseudo_header_sum

PORT = 7
SIZES = (1_000, 4_000, 8_125)  # fragments; 8,125 x 8 = 65,000 octets
FLOOD = 100_000
FLOOD_PAYLOAD = 256
FIXED_OVERHEAD = 1024 * 1024
NOISE_MARGIN = 1.5


def udp_datagram(src: bytes, dst: bytes, size: int) -> bytes:
    """A UDP datagram of ``size`` octets in all (header included) with a correct checksum."""
    data = random.Random(size).randbytes(size - 8)
    raw = struct.pack("!HHHH", 1234, PORT, size, 0) + data
    csum = checksum(raw, pseudo_header_sum(src, dst, 17, size)) or 0xFFFF
    return raw[:6] + struct.pack("!H", csum) + raw[8:]


def ipv4_fragment(body: bytes, offset: int, length: int, more: bool, ident: int) -> bytes:
    chunk = body[offset : offset + length]
    flags = (0x2000 if more else 0) | offset >> 3
    src = TESTER4 if ident <= 0xFFFF else OTHER4  # IPv4 IDs are 16 bits: a second source for more keys
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(chunk), ident & 0xFFFF, flags, 64, 17, 0, src, DUT4)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return DUT_MAC + TESTER_MAC + b"\x08\x00" + header + chunk


def ipv6_fragment(body: bytes, offset: int, length: int, more: bool, ident: int) -> bytes:
    chunk = body[offset : offset + length]
    fixed = struct.pack("!IHBB16s16s", 0x60000000, 8 + len(chunk), 44, 64, TESTER6, DUT6)
    return DUT_MAC + TESTER_MAC + b"\x86\xdd" + fixed + struct.pack("!BBHI", 17, 0, offset | more, ident) + chunk


def fragments(family: int, count: int, seed: int) -> list[bytes]:
    size = count * 8
    src, dst = (TESTER4, DUT4) if family == 4 else (TESTER6, DUT6)
    body = udp_datagram(src, dst, size)
    build = ipv4_fragment if family == 4 else ipv6_fragment
    frames = [build(body, o, 8, o + 8 < size, 0x4242) for o in range(0, size, 8)]
    random.Random(seed).shuffle(frames)
    return frames


def time_reassembly(family: int, count: int, seed: int) -> float:
    """CPU seconds to inject ``count`` shuffled 8-octet fragments and receive the datagram.

    Process time, not wall time: the machines are shared and a preempted run would look slow.
    """
    frames = fragments(family, count, seed)
    bench = Bench(max_fragments_per_datagram=8_192)
    stack, link = bench.stack, bench.link
    sock = stack.udp_bind("0.0.0.0" if family == 4 else "::", PORT)
    inject = link.inject_inbound
    t0 = time.process_time()
    for frame in frames:
        inject(frame)
    elapsed = time.process_time() - t0
    got = sock.recv()
    assert got is not None and len(got[0]) == count * 8 - 8, f"IPv{family} {count}: not reassembled"
    return elapsed


def flood(family: int) -> tuple[int, int, int, int, float]:
    """(tracemalloc peak, reassembler peak, evicted, held at the end, seconds) for FLOOD first fragments."""
    build = ipv4_fragment if family == 4 else ipv6_fragment
    body = bytes(FLOOD_PAYLOAD * 2)
    frames = [build(body, 0, FLOOD_PAYLOAD, True, ident) for ident in range(FLOOD)]  # distinct datagrams
    bench = Bench()
    reassembler, link = reassemblers(bench.stack)[family], bench.link
    inject = link.inject_inbound
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.process_time()
    for frame in frames:
        inject(frame)
    elapsed = time.process_time() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    bench.check_invariants()  # the reassembly accounting held through the flood
    return peak, reassembler.peak_queued_bytes, reassembler.counters["evicted"], len(reassembler), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round per size instead of three")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    ok = True
    bound = math.log(SIZES[-1]) / math.log(SIZES[0])
    print(f"Reassembly of one UDP datagram from 8-octet fragments in random order (best of {rounds}, CPU time)")
    print(f"{'family':<7}{'fragments':>10}{'octets':>9}{'total ms':>10}{'µs/frag':>9}")
    for family in (4, 6):
        best = dict.fromkeys(SIZES, math.inf)
        for r in range(rounds):  # sizes interleaved, so each sees the same machine load
            for count in SIZES:
                best[count] = min(best[count], time_reassembly(family, count, seed=r))
        per_fragment = {count: seconds / count for count, seconds in best.items()}
        for count, seconds in best.items():
            print(f"IPv{family:<3}{count:>10,}{count * 8:>9,}{seconds * 1e3:>10.1f}{seconds / count * 1e6:>9.2f}")
        growth = per_fragment[SIZES[-1]] / per_fragment[SIZES[0]]
        verdict = "ok" if growth <= bound * NOISE_MARGIN else "WORSE THAN n log n"
        ok &= growth <= bound * NOISE_MARGIN
        print(f"IPv{family} growth of µs/fragment 1k->8k: {growth:.2f} (n log n: {bound:.2f}, x{NOISE_MARGIN} noise) {verdict}")
    high = 4 * 1024 * 1024
    print()
    print(f"Flood: {FLOOD:,} first fragments of {FLOOD_PAYLOAD} octets, distinct datagrams, thresholds 4 MiB / 3 MiB")
    print(f"{'family':<7}{'traced peak':>13}{'queued peak':>13}{'evicted':>9}{'held':>7}{'cpu s':>9}  bound {high + FIXED_OVERHEAD:,}")
    # One process per family: tracemalloc makes the flood slow, and CI has two cores.
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(flood, (4, 6)))
    for family, (peak, queued, evicted, held, seconds) in zip((4, 6), results, strict=True):
        good = peak <= high + FIXED_OVERHEAD and queued <= high + FIXED_OVERHEAD
        ok &= good
        print(f"IPv{family:<3}{peak:>13,}{queued:>13,}{evicted:>9,}{held:>7,}{seconds:>9.2f}  {'ok' if good else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""A flood of 100,000 SYNs at one listening port, from 100,000 distinct (address, port) pairs.

Prints SYNs per CPU second and the tracemalloc peak over the flood, which must stay under
MEMORY_BOUND: the listener keeps at most ``syn_queue_len`` (256) half-open connections and drops
the rest with a counted TCP_SYN_QUEUE_FULL (no SYN cookies), so the peak does not grow with the
flood. The SYN,ACKs the stack answers with are taken off the link every 1,000 SYNs, as a wire
would. Then virtual time runs past the SYN,ACK retransmissions (about 63 s) and every half-open
connection must be gone.

    .venv/bin/python bench/bench_tcp_syn_flood.py [--syns N]

Exit status 1 when a bound is broken.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack_under_test import ChannelEndpoint, Drop, Stack, StackOptions, VirtualClock
from stack_under_test.transport.tcp import TCPProtocol
from stack_under_test.wire.checksum import checksum

DUT_MAC, TESTER_MAC = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
DUT = bytes((198, 51, 100, 1))
SOURCES = [bytes((198, 51, 100, host)) for host in (2, 3)]
PORT = 80
MEMORY_BOUND = 8 * 1024 * 1024


def syn_frames(count: int) -> list[bytes]:
    """``count`` SYN frames, each from its own (source address, port), built with struct."""
    frames = []
    rng = random.Random(1)
    for i in range(count):
        src = SOURCES[i // 60_000]
        sport = 1024 + i % 60_000
        tcp = struct.pack("!HHIIBBHHH", sport, PORT, rng.getrandbits(32), 0, 6 << 4, 0x02, 65535, 0, 0)
        tcp += struct.pack("!BBH", 2, 4, 1460) + bytes(4)  # MSS option, padded
        pseudo = src + DUT + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xFFFF, 0, 64, 6, 0, src, DUT)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        frames.append(DUT_MAC + TESTER_MAC + b"\x08\x00" + ip + tcp)
    return frames


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--syns", type=int, default=100_000)
    args = parser.parse_args()
    clock = VirtualClock()
    stack = Stack(StackOptions(clock=clock, rng=random.Random(1)))
    link = ChannelEndpoint(mac=DUT_MAC)
    stack.create_nic("eth0", link)
    stack.set_ipv6_option("eth0", "accept_dad", 0)
    stack.set_ipv6_option("eth0", "router_solicitations", 0)
    stack.enable_nic("eth0")
    stack.add_address("eth0", "198.51.100.1/24")
    for src in SOURCES:
        stack.add_static_neighbor("eth0", ".".join(map(str, src)), TESTER_MAC)
    tcp = stack.transport_protocols[6]
    assert isinstance(tcp, TCPProtocol)
    listener = tcp.listen("0.0.0.0", PORT)
    link.drain()
    frames = syn_frames(args.syns)

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    inject = link.inject_inbound
    for i, frame in enumerate(frames):
        inject(frame)
        if i % 1000 == 999:
            link.outbound.clear()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    link.outbound.clear()

    drops = stack.nic("eth0").stats.drops
    held = len(listener.half_open)
    print(f"{args.syns:,} SYNs: {args.syns / cpu:,.0f} SYNs per CPU second ({args.syns / wall:,.0f}/s wall; "
          f"tracemalloc slows it), {held} half-open held, {drops[Drop.TCP_SYN_QUEUE_FULL]:,} dropped "
          f"(TCP_SYN_QUEUE_FULL)")
    print(f"peak memory over the flood: {peak / 1024 / 1024:.2f} MiB (bound {MEMORY_BOUND / 1024 / 1024:.0f} MiB)")
    clock.advance(64_000)
    link.outbound.clear()
    print(f"after 64 s of virtual time: {len(listener.half_open)} half-open, {len(tcp.connections)} connections")
    ok = peak <= MEMORY_BOUND and held <= tcp.config.syn_queue_len and not tcp.connections
    print(f"bounds: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""TCP bulk transfer between two in-process stacks over channel links, both directions.

Two stacks (198.51.100.1 and .2, or 2001:db8:1::1 and ::2) share one virtual clock; a pump moves
every frame one stack emits into the other. One connection carries 10 MiB from the connecting
side to the listening side, then 10 MiB back; each direction's data is checked (SHA-256) and its
rate printed in MB/s of application data, per second of CPU time of this process (both stacks'
work counted; the machines are shared, and CPU time is what a loaded machine distorts least)
and per second of wall time. When the link falls quiet the clock jumps to the next timer (a
delayed ACK), which costs no wall time. Target: >= 10 MB/s per CPU second each way over IPv4.

    .venv/bin/python bench/bench_tcp_bulk.py [--mib N] [--family 4|6]

Exit status 1 when a transfer is corrupted or below target.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stack_under_test import ChannelEndpoint, Stack, StackOptions, VirtualClock
from stack_under_test.transport.tcp import Connection, TCPProtocol

A_MAC, B_MAC = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
ADDRESSES = {4: ("198.51.100.1", "198.51.100.2", 24), 6: ("2001:db8:1::1", "2001:db8:1::2", 64)}
TARGET_MB_S = 10.0
CHUNK = 256 * 1024


class Pair:
    """Two stacks on one virtual clock, wired back to back."""

    def __init__(self, family: int) -> None:
        self.clock = VirtualClock()
        a_addr, b_addr, plen = ADDRESSES[family]
        self.a, self.a_link = self._stack(A_MAC, a_addr, plen, b_addr, B_MAC, 1)
        self.b, self.b_link = self._stack(B_MAC, b_addr, plen, a_addr, A_MAC, 2)
        self.b_addr = b_addr

    def _stack(self, mac: bytes, addr: str, plen: int, peer: str, peer_mac: bytes, seed: int) -> tuple[Stack, ChannelEndpoint]:
        stack = Stack(StackOptions(clock=self.clock, rng=random.Random(seed)))
        link = ChannelEndpoint(mac=mac)
        stack.create_nic("eth0", link)
        stack.set_ipv6_option("eth0", "accept_dad", 0)
        stack.set_ipv6_option("eth0", "router_solicitations", 0)
        stack.enable_nic("eth0")
        stack.add_address("eth0", f"{addr}/{plen}", dad=False)
        stack.add_static_neighbor("eth0", peer, peer_mac)
        link.drain()
        return stack, link

    def tcp(self, stack: Stack) -> TCPProtocol:
        proto = stack.transport_protocols[6]
        assert isinstance(proto, TCPProtocol)
        return proto

    def pump(self) -> int:
        """Carry frames both ways until the link is quiet; how many moved."""
        moved = 0
        a_out, b_out = self.a_link.outbound, self.b_link.outbound
        a_in, b_in = self.a_link.inject_inbound, self.b_link.inject_inbound
        while a_out or b_out:
            while a_out:
                b_in(a_out.popleft())
                moved += 1
            while b_out:
                a_in(b_out.popleft())
                moved += 1
        return moved


def transfer(pair: Pair, sender: Connection, receiver: Connection, data: bytes) -> tuple[float, float]:
    """Send ``data`` from ``sender`` to ``receiver``; (CPU seconds, wall seconds). Checks the octets."""
    digest = hashlib.sha256()
    got = 0
    sent = 0
    start, cpu = time.perf_counter(), time.process_time()
    while got < len(data):
        if sent < len(data):
            sent += sender.send(data[sent : sent + CHUNK])
        moved = pair.pump()
        while chunk := receiver.recv(1 << 20):
            digest.update(chunk)
            got += len(chunk)
            moved += 1
        if not moved:
            pair.clock.advance_to_next()  # nothing in flight: let the delayed ACK (or a timer) fire
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if digest.digest() != hashlib.sha256(data).digest():
        raise SystemExit("bench_tcp_bulk: the data arrived corrupted")
    return cpu, elapsed


def run(family: int, mib: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((CPU MB/s, wall MB/s) there, (CPU MB/s, wall MB/s) back)."""
    pair = Pair(family)
    listener = pair.tcp(pair.b).listen("0.0.0.0" if family == 4 else "::", 5001)
    client = pair.tcp(pair.a).connect(pair.b_addr, 5001)
    pair.pump()
    server = listener.accept()
    assert server is not None
    size = mib * 1024 * 1024
    data = random.Random(7).randbytes(size)
    there = transfer(pair, client, server, data)
    back = transfer(pair, server, client, data[::-1])
    return (size / there[0] / 1e6, size / there[1] / 1e6), (size / back[0] / 1e6, size / back[1] / 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=10)
    parser.add_argument("--family", type=int, choices=(4, 6), default=None)
    args = parser.parse_args()
    ok = True
    for family in (args.family,) if args.family else (4, 6):
        there, back = run(family, args.mib)
        print(f"IPv{family}: {args.mib} MiB each way: {there[0]:.1f} MB/s there, {back[0]:.1f} MB/s back "
              f"per CPU second ({there[1]:.1f} and {back[1]:.1f} MB/s of wall time)")
        if family == 4:
            ok = min(there[0], back[0]) >= TARGET_MB_S
    print(f"target: >= {TARGET_MB_S} MB/s per CPU second each way over IPv4 -> {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The neighbor table shared by ARP and NDP: static entries, learning, resolution with a bounded
queue of pending packets, solicitation retransmits on the clock, and a bounded size."""

from __future__ import annotations

from stack_under_test.clock import VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborState, NeighborTable

A, B, C = b"\x0a\0\0\x01", b"\x0a\0\0\x02", b"\x0a\0\0\x03"
MAC_A, MAC_B = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")


class Recorder:
    def __init__(self) -> None:
        self.written: list[tuple[bytes, int, bytes]] = []
        self.solicits: list[tuple[bytes, bytes | None, bytes | None, int]] = []
        self.tx_drops: list[Drop] = []
        self.failed: list[tuple[bytes, list[tuple[int, bytes]]]] = []


def make(size: int = 8, queue_len: int = 3) -> tuple[NeighborTable, Recorder, VirtualClock]:
    clock, rec = VirtualClock(), Recorder()
    table = NeighborTable(
        clock,
        lambda mac, et, p: rec.written.append((mac, et, p)),
        lambda t, m, first: rec.solicits.append((t, m, first, clock.now_ms)),
        rec.tx_drops.append,
        lambda addr, pending: rec.failed.append((addr, pending)),
        max_solicit=3,
        retrans_ms=1000,
        queue_len=queue_len,
        size=size,
    )
    return table, rec, clock


def test_static_entry_sends_at_once() -> None:
    table, rec, _ = make()
    table.add_static(A, MAC_A)
    table.send(A, 0x0800, b"p1")
    assert rec.written == [(MAC_A, 0x0800, b"p1")] and rec.solicits == []


def test_unresolved_send_queues_and_solicits_then_answer_flushes_in_order() -> None:
    table, rec, _ = make()
    table.send(A, 0x0800, b"p1")
    table.send(A, 0x0800, b"p2")
    assert rec.written == [] and [s[:3] for s in rec.solicits] == [(A, None, b"p1")]
    assert table.get(A).state is NeighborState.INCOMPLETE  # type: ignore[union-attr]
    table.learn(A, MAC_A, solicited=True)
    assert rec.written == [(MAC_A, 0x0800, b"p1"), (MAC_A, 0x0800, b"p2")]
    assert table.get(A).state is NeighborState.REACHABLE  # type: ignore[union-attr]


def test_pending_queue_is_bounded_and_keeps_the_latest() -> None:
    table, rec, _ = make(queue_len=2)
    for i in range(5):
        table.send(A, 0x0800, b"p%d" % i)
    assert rec.tx_drops == [Drop.NEIGHBOR_QUEUE_FULL] * 3
    table.learn(A, MAC_A, solicited=True)
    assert [p for _, _, p in rec.written] == [b"p3", b"p4"]


def test_solicitations_are_retransmitted_then_resolution_fails() -> None:
    table, rec, clock = make()
    table.send(A, 0x0800, b"p1")
    clock.advance(999)
    assert len(rec.solicits) == 1
    clock.advance(1)
    assert [s[3] for s in rec.solicits] == [0, 1000]
    clock.advance(1000)
    assert [s[3] for s in rec.solicits] == [0, 1000, 2000]
    clock.advance(999)
    assert table.get(A) is not None and rec.failed == []
    clock.advance(1)
    assert table.get(A) is None
    assert rec.failed == [(A, [(0x0800, b"p1")])]
    assert rec.tx_drops == [Drop.NEIGHBOR_RESOLUTION_FAILED]
    assert clock.next_deadline_ms() is None


def test_learning_creates_stale_entries_unless_solicited_and_create_false_only_updates() -> None:
    table, _, _ = make()
    assert table.learn(A, MAC_A)
    assert table.get(A).state is NeighborState.STALE  # type: ignore[union-attr]
    assert not table.learn(B, MAC_B, create=False)
    assert table.get(B) is None
    assert table.learn(A, MAC_B, create=False)
    assert table.lookup(A) == MAC_B


def test_override_false_keeps_the_known_mac() -> None:
    table, _, _ = make()
    table.learn(A, MAC_A, solicited=True)
    assert table.on_advert(A, MAC_B, solicited=False, override=False, router=False) is None
    assert table.lookup(A) == MAC_A
    assert table.get(A).state is NeighborState.STALE  # type: ignore[union-attr]


def test_reachable_becomes_stale_after_reachable_time() -> None:
    table, _, clock = make()
    table.learn(A, MAC_A, solicited=True)
    clock.advance(table.reachable_ms - 1)
    table.lookup(A)
    assert table.get(A).state is NeighborState.REACHABLE  # type: ignore[union-attr]
    clock.advance(1)
    table.lookup(A)
    assert table.get(A).state is NeighborState.STALE  # type: ignore[union-attr]


def test_static_entries_ignore_learning() -> None:
    table, _, _ = make()
    table.add_static(A, MAC_A)
    table.learn(A, MAC_B, solicited=True)
    assert table.lookup(A) == MAC_A and table.get(A).state is NeighborState.STATIC  # type: ignore[union-attr]


def test_table_is_bounded_evicting_the_oldest_dynamic_entry() -> None:
    table, _, _ = make(size=3)
    table.add_static(A, MAC_A)
    table.learn(B, MAC_B)
    table.learn(C, MAC_B)
    table.learn(b"\x0a\0\0\x04", MAC_B)
    assert len(table.entries) == 3
    assert table.get(A) is not None and table.get(B) is None


def test_full_table_of_static_entries_refuses_new_ones() -> None:
    table, rec, _ = make(size=1)
    table.add_static(A, MAC_A)
    table.send(B, 0x0800, b"x")
    assert table.get(B) is None and rec.tx_drops == [Drop.NEIGHBOR_QUEUE_FULL]


def test_resolution_failure_through_the_stack_counts_a_tx_drop() -> None:
    from stack_under_test.tests._ipv4_bench import make_bench

    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"x", "198.51.100.3", 9)
    bench.clock.advance(10_000)
    requests = bench.sent()
    assert len(requests) == 3 and all(f[12:14] == b"\x08\x06" for f in requests)
    assert bench.stack.stats.tx_drops[Drop.NEIGHBOR_RESOLUTION_FAILED] == 1
    assert sum(bench.stack.stats.drops.values()) == 0  # never counted as a frame verdict


def test_every_fragment_of_an_ipv4_datagram_waits_for_arp() -> None:
    # The pending queue is bounded in octets (params.NEIGHBOR_PENDING_QUEUE_BYTES), not 3 packets.
    from stack_under_test.tests._ipv4_bench import OTHER, OTHER_MAC, arp, eth, make_bench

    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 7)
    sock.sendto(b"q" * 8000, "198.51.100.3", 9)  # 6 fragments at MTU 1500
    (request,) = bench.sent()
    assert request[12:14] == b"\x08\x06"
    bench.link.inject_inbound(eth(arp(2, OTHER_MAC, OTHER, bytes.fromhex("020000000001"), bytes((198, 51, 100, 1))), 0x0806))
    frags = bench.sent()
    assert len(frags) == 6 and all(f[:6] == OTHER_MAC for f in frags)

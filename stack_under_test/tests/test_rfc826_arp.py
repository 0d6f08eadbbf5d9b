"""ARP (RFC 826): replies to requests for our addresses; the merge algorithm's cache updates."""

from __future__ import annotations

from stack_under_test.drops import Drop
from stack_under_test.stack.neighbor import NeighborState
from stack_under_test.tests._ipv4_bench import (
    BROADCAST_MAC,
    DUT,
    DUT_MAC,
    OTHER,
    OTHER_MAC,
    TESTER,
    TESTER_MAC,
    arp,
    eth,
    make_bench,
)
from stack_under_test.wire.arp import ARPPacket


def _arp_frame(op: int, sha: bytes, spa: bytes, tpa: bytes, dst: bytes = BROADCAST_MAC) -> bytes:
    return eth(arp(op, sha, spa, bytes(6) if op == 1 else DUT_MAC, tpa), 0x0806, dst=dst, src=sha)


def test_request_for_our_address_is_answered_to_the_requester() -> None:
    bench = make_bench(static_tester=False)
    assert bench.inject(_arp_frame(1, OTHER_MAC, OTHER, DUT)) is None
    frame = bench.one()
    assert frame[:6] == OTHER_MAC and frame[6:12] == DUT_MAC and frame[12:14] == b"\x08\x06"
    # RFC 826: swap, put the local addresses in the sender fields, opcode REPLY.
    assert ARPPacket.parse(frame[14:]) == ARPPacket(2, DUT_MAC, DUT, OTHER_MAC, OTHER)


def test_requester_is_added_to_the_table_when_we_are_the_target() -> None:
    bench = make_bench(static_tester=False)
    bench.inject(_arp_frame(1, OTHER_MAC, OTHER, DUT))
    table = bench.stack.nic("eth0").neighbors[4]
    assert table.lookup(OTHER) == OTHER_MAC


def test_request_for_another_address_is_not_answered_and_not_learned() -> None:
    bench = make_bench(static_tester=False)
    assert bench.inject(_arp_frame(1, OTHER_MAC, OTHER, bytes((198, 51, 100, 77)))) is Drop.ARP_NOT_FOR_US
    assert bench.sent() == []
    assert bench.stack.nic("eth0").neighbors[4].get(OTHER) is None
    assert bench.nic_stats.drops[Drop.ARP_NOT_FOR_US] == 1


def test_known_sender_is_updated_even_when_we_are_not_the_target() -> None:
    # RFC 826: "If the pair ... is already in my translation table, update the sender hardware
    # address field" -- before asking "Am I the target protocol address?".
    bench = make_bench(static_tester=False)
    bench.inject(_arp_frame(1, OTHER_MAC, OTHER, DUT))
    bench.sent()
    new_mac = bytes.fromhex("02000000aaaa")
    bench.inject(_arp_frame(1, new_mac, OTHER, bytes((198, 51, 100, 77))))
    assert bench.stack.nic("eth0").neighbors[4].lookup(OTHER) == new_mac


def test_static_entries_are_not_changed_by_the_wire() -> None:
    bench = make_bench()
    bench.inject(_arp_frame(2, OTHER_MAC, TESTER, DUT, dst=DUT_MAC))
    entry = bench.stack.nic("eth0").neighbors[4].get(TESTER)
    assert entry is not None and entry.mac == TESTER_MAC and entry.state is NeighborState.STATIC


def test_multicast_sender_hardware_address_is_dropped() -> None:
    bench = make_bench(static_tester=False)
    assert bench.inject(_arp_frame(1, BROADCAST_MAC, OTHER, DUT)) is Drop.ARP_BAD_SENDER
    assert bench.sent() == []


def test_probe_with_unspecified_sender_is_answered_but_not_learned() -> None:
    bench = make_bench(static_tester=False)
    assert bench.inject(_arp_frame(1, OTHER_MAC, bytes(4), DUT)) is None
    reply = ARPPacket.parse(bench.one()[14:])
    assert isinstance(reply, ARPPacket) and reply.target_ip == bytes(4)
    assert bench.stack.nic("eth0").neighbors[4].get(bytes(4)) is None


def test_truncated_arp_frames_are_counted_drops() -> None:
    bench = make_bench()
    raw = arp(1, OTHER_MAC, OTHER, bytes(6), DUT)
    for n in range(len(raw)):
        assert isinstance(bench.inject(eth(raw[:n], 0x0806)), Drop)
    assert sum(bench.nic_stats.drops.values()) == len(raw)


def test_resolution_sends_a_broadcast_request_and_a_reply_releases_the_queue() -> None:
    bench = make_bench()
    sock = bench.stack.udp_bind("0.0.0.0", 5000)
    sock.sendto(b"hi", "198.51.100.3", 9)
    request = bench.one()
    assert request[:6] == BROADCAST_MAC
    assert ARPPacket.parse(request[14:]) == ARPPacket(1, DUT_MAC, DUT, bytes(6), OTHER)
    assert bench.inject(_arp_frame(2, OTHER_MAC, OTHER, DUT, dst=DUT_MAC)) is None
    (datagram,) = bench.sent()
    assert datagram[:6] == OTHER_MAC and datagram[12:14] == b"\x08\x00"
    assert bench.stack.nic("eth0").neighbors[4].get(OTHER).state is NeighborState.REACHABLE  # type: ignore[union-attr]
